package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func init() {
	recipes["volbench-static"] = recipe{"volbench.c", cc("gcc", "-O2", "-static")}
}

// BenchmarkVolumeIO: sequential write (1 MiB writes, then fsync) and read
// of a file, and the latency of a 4 KiB pwrite + fdatasync, natively on a
// plain directory and converted on a protected volume (encrypted,
// authenticated, committed at fsync), in one run. Metrics: write MB/s,
// read MB/s, fsync us. SCONE_VOLBENCH_MIB sets the file size (default
// 1024: the 1 GiB).
//
//	go test ./runtime/e2e -run '^$' -bench VolumeIO -benchtime 3x
func BenchmarkVolumeIO(b *testing.B) {
	rt := runtimeBin(b)
	bin := prog(b, "volbench-static")
	mib := "1024"
	if v := os.Getenv("SCONE_VOLBENCH_MIB"); v != "" {
		mib = v
	}
	dir := b.TempDir()
	vol := filepath.Join(dir, "vol")
	plain := filepath.Join(dir, "plain")
	if err := os.Mkdir(plain, 0o700); err != nil {
		b.Fatal(err)
	}
	e := makeEnclave(b, rt, bin, withVolume(vol))
	for _, c := range []struct {
		name string
		argv []string
		env  []string
	}{
		{"native", []string{bin, plain, mib}, baseEnv()},
		{"volume", []string{rt, vol, mib}, e.env()},
	} {
		b.Run(c.name, func(b *testing.B) {
			sums := map[string]float64{}
			n := 0
			for b.Loop() {
				argv := c.argv
				if w := os.Getenv("SCONE_VOLBENCH_WRAP"); w != "" {
					argv = append([]string{w}, argv...)
				}
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Env = c.env
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
				for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
					k, v, _ := strings.Cut(l, " ")
					f, err := strconv.ParseFloat(v, 64)
					if err != nil {
						b.Fatalf("volbench printed %q", l)
					}
					sums[k] += f
				}
				n++
			}
			for _, k := range []string{"write_mbps", "read_mbps", "fsync_us"} {
				b.ReportMetric(sums[k]/float64(n), strings.Replace(k, "_", "-", 1))
			}
		})
	}
}
