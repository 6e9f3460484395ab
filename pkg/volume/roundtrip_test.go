package volume

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		ckpt int64
		seed uint64
	}{
		{"log-only", 1 << 40, 1},
		{"checkpoint-often", 64 << 10, 2},
		{"checkpoint-every-commit", 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := []Option{WithClock(fixedClock()), WithCheckpointSize(tc.ckpt)}
			v, err := Create(dir, testKey, opts...)
			if err != nil {
				t.Fatal(err)
			}
			w := newWorkload(tc.seed)
			m := model{}
			for i := 0; i < 400; i++ {
				if err := w.step(t, v, m); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if i%7 == 0 {
					mustEqual(t, "before commit", snapshotOf(t, v), m)
				}
				if i%13 == 0 {
					if err := v.Commit(i%2 == 0); err != nil {
						t.Fatal(err)
					}
				}
				if i%50 == 49 {
					if err := v.Close(); err != nil {
						t.Fatal(err)
					}
					if v, err = Open(dir, testKey, opts...); err != nil {
						t.Fatalf("reopen: %v", err)
					}
					mustEqual(t, "after reopen", snapshotOf(t, v), m)
					if err := v.Verify(); err != nil {
						t.Fatalf("verify: %v", err)
					}
				}
			}
			if err := v.Close(); err != nil {
				t.Fatal(err)
			}
			ro, err := Open(dir, testKey, ReadOnly())
			if err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "read-only", snapshotOf(t, ro), m)
			if err := ro.Verify(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSparseDeep writes a few pages of files so large that their tag trees
// have depths 2, 3 and 4 (sparse: only the written pages exist).
func TestSparseDeep(t *testing.T) {
	dir := t.TempDir()
	v, err := Create(dir, testKey, WithClock(fixedClock()))
	if err != nil {
		t.Fatal(err)
	}
	offs := map[string][]int64{
		"d2": {0, 300 * PageSize},
		"d3": {5 << 20, 5<<30 + 17},    // over 4 GiB
		"d4": {70 << 30, 1<<40 + 4095}, // over 64 GiB
	}
	for name, os := range offs {
		if err := v.WriteFile(name, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		for i, o := range os {
			if err := v.WriteAt(name, pattern(i+len(name), 5000), o); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(v *Volume) {
		for name, os := range offs {
			fi, err := v.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			if want := os[len(os)-1] + 5000; fi.Size() != want {
				t.Fatalf("%s: size %d, want %d", name, fi.Size(), want)
			}
			f, _ := v.Open(name)
			for i, o := range os {
				got := make([]byte, 5000)
				if _, err := f.(*File).ReadAt(got, o); err != nil {
					t.Fatalf("%s at %d: %v", name, o, err)
				}
				if !bytes.Equal(got, pattern(i+len(name), 5000)) {
					t.Fatalf("%s at %d: wrong content", name, o)
				}
				hole := make([]byte, 100)
				if _, err := f.(*File).ReadAt(hole, o-100); o >= 100 && err != nil {
					t.Fatal(err)
				}
				if o >= 100 && !bytes.Equal(hole, make([]byte, 100)) {
					t.Fatalf("%s: hole before %d not zero", name, o)
				}
			}
		}
	}
	check(v)
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	v, err = Open(dir, testKey)
	if err != nil {
		t.Fatal(err)
	}
	check(v)
	// Shrink d4 to depth 1 and back.
	if err := v.Truncate("d4", 3*PageSize); err != nil {
		t.Fatal(err)
	}
	if err := v.Truncate("d4", 1<<30); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	v, err = Open(dir, testKey)
	if err != nil {
		t.Fatal(err)
	}
	check2 := func(name string, size int64) {
		fi, err := v.Stat(name)
		if err != nil || fi.Size() != size {
			t.Fatalf("%s: %v, size want %d", name, err, size)
		}
	}
	check2("d3", 5<<30+17+5000)
	check2("d4", 1<<30)
	f, _ := v.Open("d4")
	got := make([]byte, 3*PageSize)
	if _, err := f.(*File).ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, make([]byte, 3*PageSize)) {
		t.Fatal("d4 after shrink and grow: not zeros")
	}
	if err := v.Truncate("d3", 5<<20+100); err != nil {
		t.Fatal(err)
	}
	b, err := v.ReadFile("d3")
	if err != nil || !bytes.Equal(b[5<<20:], pattern(2, 100)) {
		t.Fatalf("d3 after shrink: %v", err)
	}
	if err := v.Verify(); err != nil {
		t.Fatal(err)
	}
}

func TestCreateRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "app.txt"), []byte("x"), 0o644)
	if _, err := Create(dir, testKey); !errors.Is(err, ErrNotVolume) {
		t.Fatalf("Create: %v, want ErrNotVolume", err)
	}
	if _, err := Open(dir, testKey); !errors.Is(err, ErrNotVolume) {
		t.Fatalf("Open: %v, want ErrNotVolume", err)
	}
}

func TestWrongKey(t *testing.T) {
	dir := t.TempDir()
	v, err := Create(dir, testKey)
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	if _, err := Open(dir, Key{9}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open with another key: %v", err)
	}
	var pe *fs.PathError
	_ = pe
}
