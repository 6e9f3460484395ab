package volume

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"
)

var testKey = Key{0: 1, 31: 2}

func fixedClock() func() time.Time {
	t := time.Unix(1700000000, 0)
	return func() time.Time { t = t.Add(time.Second); return t }
}

// model is what a volume should hold: path -> content (files), "dir" marks
// directories, symlinks as "->target".
type model map[string]string

func (m model) clone() model { return maps.Clone(m) }

// snapshotOf reads the whole volume into a model.
func snapshotOf(t testing.TB, v *Volume) model {
	t.Helper()
	m := model{}
	err := fs.WalkDir(v, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		switch {
		case d.IsDir():
			m[p] = "dir"
		case d.Type()&fs.ModeSymlink != 0:
			tg, err := v.ReadLink(p)
			if err != nil {
				return err
			}
			m[p] = "->" + tg
		default:
			b, err := v.ReadFile(p)
			if err != nil {
				return err
			}
			m[p] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read volume: %v", err)
	}
	return m
}

func diffModels(got, want model) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[k]
		if !ok {
			out = append(out, "missing "+k)
		} else if g != want[k] {
			out = append(out, fmt.Sprintf("%s: got %d bytes, want %d (first difference at %d)", k, len(g), len(want[k]), firstDiff(g, want[k])))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			out = append(out, "extra "+k)
		}
	}
	if len(out) > 10 {
		out = append(out[:10], "...")
	}
	return fmt.Sprint(out)
}

func firstDiff(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// workload applies random operations to a volume and a model alike.
type workload struct {
	r     *rand.Rand
	names []string
}

func newWorkload(seed uint64) *workload {
	return &workload{r: rand.New(rand.NewPCG(seed, 7)), names: []string{"a", "b", "c", "d/x", "d/y", "d/e/z", "big", "log"}}
}

func pattern(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*31 + i*7 + i/4096)
	}
	return b
}

func setBytes(s string, off int, b []byte) string {
	buf := []byte(s)
	if need := off + len(b); need > len(buf) {
		buf = append(buf, make([]byte, need-len(buf))...)
	}
	copy(buf[off:], b)
	return string(buf)
}

// step does one random operation; the model follows only when the volume
// accepted it.
func (w *workload) step(t testing.TB, v *Volume, m model) error {
	name := w.names[w.r.IntN(len(w.names))]
	switch op := w.r.IntN(11); op {
	case 0, 1, 2: // write somewhere, sometimes far (depth 2) or unaligned
		off := w.r.IntN(3 * PageSize)
		if w.r.IntN(4) == 0 {
			off = w.r.IntN(300 * PageSize)
		}
		b := pattern(w.r.IntN(1000), 1+w.r.IntN(2*PageSize+100))
		if _, ok := m[name]; !ok {
			if err := w.ensureDirs(v, m, name); err != nil {
				return err
			}
			if err := v.WriteFile(name, nil, 0o644); err != nil {
				return err
			}
			m[name] = ""
		} else if m[name] == "dir" || m[name][:min(2, len(m[name]))] == "->" {
			return nil
		}
		if err := v.WriteAt(name, b, int64(off)); err != nil {
			return err
		}
		m[name] = setBytes(m[name], off, b)
	case 3: // truncate
		c, ok := m[name]
		if !ok || c == "dir" || len(c) >= 2 && c[:2] == "->" {
			return nil
		}
		size := w.r.IntN(len(c) + 2*PageSize + 1)
		if w.r.IntN(3) == 0 {
			size = w.r.IntN(len(c) + 1)
		}
		if err := v.Truncate(name, int64(size)); err != nil {
			return err
		}
		if size <= len(c) {
			m[name] = c[:size]
		} else {
			m[name] = c + string(make([]byte, size-len(c)))
		}
	case 4: // remove
		c, ok := m[name]
		if !ok || c == "dir" {
			return nil
		}
		if err := v.Remove(name); err != nil {
			return err
		}
		delete(m, name)
	case 5: // rename over another file
		to := w.names[w.r.IntN(len(w.names))]
		c, ok := m[name]
		if !ok || c == "dir" || to == name {
			return nil
		}
		if tc, ok := m[to]; ok && tc == "dir" {
			return nil
		}
		if err := w.ensureDirs(v, m, to); err != nil {
			return err
		}
		if err := v.Rename(name, to); err != nil {
			return err
		}
		m[to] = c
		delete(m, name)
	case 6: // symlink
		if _, ok := m[name]; ok {
			return nil
		}
		if err := w.ensureDirs(v, m, name); err != nil {
			return err
		}
		tg := fmt.Sprintf("target-%d", w.r.IntN(100))
		if err := v.Symlink(tg, name); err != nil {
			return err
		}
		m[name] = "->" + tg
	case 7: // whole-file rewrite, sometimes exactly page sized
		n := w.r.IntN(3 * PageSize)
		if w.r.IntN(3) == 0 {
			n = PageSize * (1 + w.r.IntN(3))
		}
		if c, ok := m[name]; ok && (c == "dir" || len(c) >= 2 && c[:2] == "->") {
			return nil
		}
		if err := w.ensureDirs(v, m, name); err != nil {
			return err
		}
		b := pattern(w.r.IntN(1000), n)
		if err := v.WriteFile(name, b, 0o600); err != nil {
			return err
		}
		m[name] = string(b)
	case 8: // hard link: both names see later writes, keep it simple: link then drop the old name
		return nil
	default: // small append (an AOF)
		c, ok := m["log"]
		if !ok {
			if err := v.WriteFile("log", nil, 0o644); err != nil {
				return err
			}
			c = ""
		} else if c == "dir" || len(c) >= 2 && c[:2] == "->" {
			return nil
		}
		b := pattern(len(c), 1+w.r.IntN(200))
		if err := v.WriteAt("log", b, int64(len(c))); err != nil {
			return err
		}
		m["log"] = c + string(b)
	}
	return nil
}

func (w *workload) ensureDirs(v *Volume, m model, name string) error {
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		d := name[:i]
		if c, ok := m[d]; ok {
			if c != "dir" {
				return fmt.Errorf("%s is not a directory in the model", d)
			}
			continue
		}
		if err := v.Mkdir(d, 0o755); err != nil {
			return err
		}
		m[d] = "dir"
	}
	return nil
}

func mustEqual(t testing.TB, what string, got, want model) {
	t.Helper()
	if len(got) != len(want) || diffModels(got, want) != "[]" {
		t.Fatalf("%s: %s", what, diffModels(got, want))
	}
}

var _ = bytes.Equal

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}
