package volume

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// tamperBase builds a volume whose files have pages in place and in the
// log: db (300 pages: a tag tree of depth 2), small (one page), dir/two
// (two pages), a symlink. It returns the directory and the file ids.
func tamperBase(t *testing.T, volID byte) (string, map[string]uint64) {
	t.Helper()
	dir := t.TempDir()
	v, err := Create(dir, testKey, WithClock(fixedClock()), WithVolumeID([16]byte{volID}))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(v.WriteFile("db", pattern(1, 300*PageSize), 0o600))
	must(v.WriteFile("small", []byte("the marker SECRET-PLAINTEXT-MARKER lives here"), 0o644))
	must(v.Mkdir("dir", 0o755))
	must(v.WriteFile("dir/two", pattern(2, PageSize+10), 0o644))
	must(v.Symlink("dir/two", "link"))
	must(v.Checkpoint())
	must(v.WriteAt("db", pattern(3, 100), 5*PageSize))
	must(v.WriteAt("db", pattern(4, 100), 10*PageSize))
	must(v.Commit(true))
	must(v.WriteAt("small", []byte("X"), 0))
	must(v.Commit(true))
	ids := map[string]uint64{}
	for _, n := range []string{"db", "small", "dir/two"} {
		nd, err := v.lookup("x", n, false)
		must(err)
		ids[n] = nd.id
	}
	must(v.Close())
	return dir, ids
}

type logRec struct {
	off int64
	typ uint32
	n   int64
}

func logRecords(t *testing.T, dir string) []logRec {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "log.*"))
	if len(names) != 1 {
		t.Fatalf("log files: %v", names)
	}
	b, err := os.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	var recs []logRec
	for off := int64(0); off+recHdrSize <= int64(len(b)); {
		n := int64(le.Uint64(b[off+8:]))
		recs = append(recs, logRec{off, le.Uint32(b[off+4:]), n})
		off += recHdrSize + n
	}
	return recs
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func one(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(pattern)
	if len(m) != 1 {
		t.Fatalf("%s: %v", pattern, m)
	}
	return m[0]
}

// TestTamper is the tamper matrix: every change of the host directory is
// refused at open or at the read of what it touched, naming the file; only
// cutting the log (a rollback) opens, at an older version (docs/volume.md,
// Freshness).
func TestTamper(t *testing.T) {
	other, _ := tamperBase(t, 2) // same key, same content, another volume id
	pf := func(dir string, ids map[string]uint64, name string) string {
		return filepath.Join(dir, pageName(ids[name]))
	}
	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string, ids map[string]uint64)
		part   string   // AuthError part expected (at open when bad is empty)
		bad    []string // files whose read must fail; the others must read
		atOpen bool
	}{
		{"data page in place", func(t *testing.T, d string, ids map[string]uint64) {
			flipByte(t, pf(d, ids, "dir/two"), int64(dataPos(1))*PageSize+3)
		}, PartPage, []string{"dir/two"}, false},
		{"data page in the log", func(t *testing.T, d string, ids map[string]uint64) {
			flipByte(t, one(t, filepath.Join(d, "log.*")), logRecords(t, d)[0].off+recHdrSize+100)
		}, PartPage, []string{"db"}, false},
		{"tag page", func(t *testing.T, d string, ids map[string]uint64) {
			flipByte(t, pf(d, ids, "dir/two"), int64(nodePos(1, 0))*PageSize+7)
		}, PartTag, []string{"dir/two"}, false},
		{"truncated file", func(t *testing.T, d string, ids map[string]uint64) {
			os.Truncate(pf(d, ids, "dir/two"), int64(dataPos(1))*PageSize+100)
		}, PartMissing, []string{"dir/two"}, false},
		{"deleted file", func(t *testing.T, d string, ids map[string]uint64) {
			os.Remove(pf(d, ids, "dir/two"))
		}, PartMissing, []string{"dir/two"}, false},
		{"swapped files", func(t *testing.T, d string, ids map[string]uint64) {
			a, b := pf(d, ids, "dir/two"), pf(d, ids, "db")
			os.Rename(a, a+".x")
			os.Rename(b, a)
			os.Rename(a+".x", b)
		}, "", []string{"dir/two", "db"}, false},
		{"file of another volume with the same key", func(t *testing.T, d string, ids map[string]uint64) {
			b, _ := os.ReadFile(pf(other, ids, "dir/two"))
			os.WriteFile(pf(d, ids, "dir/two"), b, 0o600)
		}, PartTag, []string{"dir/two"}, false},
		{"snapshot", func(t *testing.T, d string, _ map[string]uint64) {
			flipByte(t, one(t, filepath.Join(d, "meta.*")), snapHdrSize+70)
		}, PartSnapshot, nil, true},
		{"snapshot renamed to another generation", func(t *testing.T, d string, _ map[string]uint64) {
			m := one(t, filepath.Join(d, "meta.*"))
			os.Rename(m, filepath.Join(d, metaName(7)))
			os.Rename(one(t, filepath.Join(d, "log.*")), filepath.Join(d, logName(7)))
		}, PartSnapshot, nil, true},
		{"header path", func(t *testing.T, d string, _ map[string]uint64) {
			flipByte(t, filepath.Join(d, headerFile), headerFixed+1)
		}, PartHeader, nil, true},
		{"first commit", func(t *testing.T, d string, _ map[string]uint64) {
			for _, r := range logRecords(t, d) {
				if r.typ == recCommit {
					flipByte(t, one(t, filepath.Join(d, "log.*")), r.off+recHdrSize+commitHdrSize+5)
					return
				}
			}
		}, PartLog, nil, true},
		{"last commit", func(t *testing.T, d string, _ map[string]uint64) {
			r := logRecords(t, d)
			flipByte(t, one(t, filepath.Join(d, "log.*")), r[len(r)-1].off+recHdrSize+commitHdrSize+5)
		}, PartLog, nil, true},
		{"commit version", func(t *testing.T, d string, _ map[string]uint64) {
			r := logRecords(t, d)
			flipByte(t, one(t, filepath.Join(d, "log.*")), r[len(r)-1].off+recHdrSize)
		}, PartLog, nil, true},
		{"page records swapped in the log", func(t *testing.T, d string, _ map[string]uint64) {
			lf := one(t, filepath.Join(d, "log.*"))
			b, _ := os.ReadFile(lf)
			r := logRecords(t, d)
			p0, p1 := b[r[0].off+recHdrSize:r[0].off+recHdrSize+PageSize], b[r[1].off+recHdrSize:r[1].off+recHdrSize+PageSize]
			tmp := append([]byte(nil), p0...)
			copy(p0, p1)
			copy(p1, tmp)
			os.WriteFile(lf, b, 0o600)
		}, PartPage, []string{"db"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base, ids := tamperBase(t, 1)
			tc.tamper(t, base, ids)
			v, err := Open(base, testKey, ReadOnly())
			if tc.atOpen {
				var ae *AuthError
				if !errors.As(err, &ae) || ae.Part != tc.part {
					t.Fatalf("open: %v, want an authentication error of the %s", err, tc.part)
				}
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			bad := map[string]bool{}
			for _, b := range tc.bad {
				bad[b] = true
			}
			for _, n := range []string{"db", "small", "dir/two", "link"} {
				_, err := v.ReadFile(n)
				target := n
				if n == "link" {
					target = "dir/two"
				}
				if !bad[target] {
					if err != nil {
						t.Errorf("read %s: %v", n, err)
					}
					continue
				}
				var ae *AuthError
				if !errors.As(err, &ae) || tc.part != "" && ae.Part != tc.part || ae.Path != target {
					t.Errorf("read %s: %v, want an authentication error (%s) naming %s", n, err, tc.part, target)
				}
			}
			if err := v.Verify(); err == nil {
				t.Error("verify passed")
			}
		})
	}
	t.Run("older version of a file", func(t *testing.T) {
		dir := t.TempDir()
		v, err := Create(dir, testKey, WithClock(fixedClock()))
		if err != nil {
			t.Fatal(err)
		}
		v.WriteFile("db", pattern(1, 3*PageSize), 0o600)
		v.Checkpoint()
		nd, _ := v.lookup("x", "db", false)
		old, _ := os.ReadFile(filepath.Join(dir, pageName(nd.id)))
		v.WriteAt("db", pattern(2, 10), PageSize)
		if err := v.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		v.Close()
		os.WriteFile(filepath.Join(dir, pageName(nd.id)), old, 0o600)
		v, err = Open(dir, testKey, ReadOnly())
		if err != nil {
			t.Fatal(err)
		}
		var ae *AuthError
		if _, err := v.ReadFile("db"); !errors.As(err, &ae) || ae.Path != "db" {
			t.Fatalf("read an older db: %v", err)
		}
	})
	t.Run("log cut at a record boundary is a rollback", func(t *testing.T) {
		base, _ := tamperBase(t, 1)
		v, _ := Open(base, testKey, ReadOnly())
		ver, _ := v.Root()
		r := logRecords(t, base)
		os.Truncate(one(t, filepath.Join(base, "log.*")), r[len(r)-1].off)
		v, err := Open(base, testKey, ReadOnly())
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := v.Root(); got != ver-1 {
			t.Fatalf("version %d after cutting the last commit, want %d", got, ver-1)
		}
	})
	t.Run("no plaintext on the host", func(t *testing.T) {
		base, _ := tamperBase(t, 1)
		filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			b, _ := os.ReadFile(p)
			for _, m := range []string{"SECRET-PLAINTEXT-MARKER", "lives here"} {
				if bytes.Contains(b, []byte(m)) {
					t.Errorf("%s holds %q", p, m)
				}
			}
			return nil
		})
	})
}
