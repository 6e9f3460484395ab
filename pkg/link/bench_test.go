package link

import (
	"context"
	"os"
	"testing"
)

// BenchmarkAnalyzeUsr analyses every ELF file under the host's /usr, used
// as an image root, with the default worker pool. Run with
//
//	go test ./pkg/link -run XXX -bench AnalyzeUsr -benchtime 1x
func BenchmarkAnalyzeUsr(b *testing.B) {
	if _, err := os.Stat("/usr/bin/ls"); err != nil {
		b.Skip("no /usr/bin/ls on this host")
	}
	h, err := OpenDir("/usr")
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	var files, bytes int64
	b.ResetTimer()
	for b.Loop() {
		r, err := Analyze(context.Background(), h, Entry{Argv: []string{"/bin/ls"}})
		if err != nil {
			b.Fatal(err)
		}
		files, bytes = 0, 0
		for _, bin := range r.Binaries {
			files++
			bytes += bin.Size
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(files), "elf-files")
	b.ReportMetric(float64(files)/sec, "files/s")
	b.ReportMetric(float64(bytes)/1e6/sec, "MB/s")
}

// BenchmarkAnalyzeFileLibc measures AnalyzeFile alone on the host libc.
func BenchmarkAnalyzeFileLibc(b *testing.B) {
	const p = "/lib/x86_64-linux-gnu/libc.so.6"
	f, err := os.Open(p)
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	b.SetBytes(st.Size())
	for b.Loop() {
		if _, err := AnalyzeFile(f, st.Size()); err != nil {
			b.Fatal(err)
		}
	}
}
