package link

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"
)

// Run with: go test ./pkg/link -fuzz FuzzAnalyzeFile -fuzztime 60s
func FuzzAnalyzeFile(f *testing.F) {
	for _, data := range corpus() {
		f.Add(data)
	}
	for _, s := range []elfSpec{
		{interp: "/lib64/ld-linux-x86-64.so.2", needed: []string{"libc.so.6"}, sections: true},
		{needed: []string{"a", "b"}, runpath: "$ORIGIN", hashNchain: 3},
		{verneedNum: 2, needed: []string{"libc.so.6"}},
		{typ: elf.ET_EXEC, noStack: true},
		{machine: elf.EM_AARCH64},
	} {
		d, _ := genELF(s)
		f.Add(d)
	}
	// A real dynamic executable, with and without section headers (the
	// latter reaches the DT_GNU_HASH symbol count).
	fixOnce.Do(buildFixtures)
	if fixErr["hello-dyn"] == nil {
		if d, err := os.ReadFile(filepath.Join(fixDir, "hello-dyn")); err == nil && len(d) < 64<<10 {
			f.Add(d)
			d = bytes.Clone(d)
			le.PutUint64(d[40:], 0)
			le.PutUint16(d[60:], 0)
			le.PutUint16(d[62:], 0)
			f.Add(d)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := AnalyzeFile(bytes.NewReader(data), int64(len(data)))
		var fe *FormatError
		var ue *UnsupportedError
		switch {
		case err == nil:
			if b == nil || b.Verdict == "" {
				t.Fatalf("nil binary or empty verdict without error")
			}
			if _, err := json.Marshal(b); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		case errors.As(err, &ue):
			if b == nil || b.Verdict != Unsupported {
				t.Fatalf("unsupported without a binary")
			}
		case errors.As(err, &fe), errors.Is(err, ErrNotELF):
			if b != nil {
				t.Fatalf("binary with error %v", err)
			}
		default:
			t.Fatalf("untyped error %v (%T)", err, err)
		}
	})
}

// FuzzAnalyzeImage fuzzes the closure and entrypoint logic: the fuzzed
// bytes are the entrypoint and a library of a tiny image.
func FuzzAnalyzeImage(f *testing.F) {
	d, _ := genELF(elfSpec{interp: "/lib64/ld.so", needed: []string{"libx.so"}, flags1: uint64(elf.DF_1_PIE)})
	f.Add(d, []byte("#!/app\n"))
	lib, _ := genELF(elfSpec{soname: "libx.so", needed: []string{"libx.so", "liby.so"}, runpath: "$ORIGIN/../lib:$LIB"})
	f.Add(d, lib)
	f.Fuzz(func(t *testing.T, app, libx []byte) {
		ld, _ := genELF(elfSpec{soname: "ld.so"})
		m := fstest.MapFS{
			"app":             {Data: app, Mode: 0o755},
			"lib64/ld.so":     {Data: ld, Mode: 0o755},
			"usr/lib/libx.so": {Data: libx, Mode: 0o755},
			"lib/liby.so":     {Data: []byte("/usr/lib/libx.so"), Mode: 0o777 | fs.ModeSymlink},
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := Analyze(ctx, m, Entry{Argv: []string{"/app"}})
		if err == nil && (r == nil || r.Entrypoint == nil || r.Verdict == "") {
			t.Fatal("no report without error")
		}
	})
}

// Run with: go test ./pkg/link -fuzz FuzzParseLDCache -fuzztime 60s
func FuzzParseLDCache(f *testing.F) {
	ents := []LDCacheEntry{
		{Name: "libc.so.6", Path: "/lib/x86_64-linux-gnu/libc.so.6", Flags: ldCacheX8664},
		{Name: "libz.so.1", Path: "/usr/lib/libz.so.1", Flags: 0x0003, HWCap: 1},
	}
	f.Add(makeLDCache(ents, false))
	f.Add(makeLDCache(ents, true))
	f.Add([]byte(ldCacheOldMagic + "\x00\xff\xff\xff\xff"))
	if host, err := os.ReadFile(filepath.Clean(ldCachePath)); err == nil && len(host) < 256<<10 {
		f.Add(host)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseLDCache(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var ce *CacheFormatError
			if !errors.As(err, &ce) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, e := range c.Entries {
			if e.Flags == ldCacheX8664 && e.HWCap == 0 {
				if _, ok := c.Lookup(e.Name); !ok {
					t.Fatalf("x86-64 entry %s not found by Lookup", e.Name)
				}
			}
		}
	})
}
