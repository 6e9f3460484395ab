package fsprotect

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestDirRoundTrip packs a directory (PackPath/TarDir), extracts the image
// (Extract) and compares the trees; it also checks what Lstat reports.
func TestDirRoundTrip(t *testing.T) {
	src := t.TempDir()
	mk := func(p string, body []byte, mode os.FileMode) {
		full := filepath.Join(src, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, body, mode); err != nil {
			t.Fatal(err)
		}
	}
	mk("a/b/file", pseudoRandom(3, 70000), 0o640)
	mk("a/empty", nil, 0o600)
	mk("ünï/x", []byte("x"), 0o755)
	if err := os.Link(filepath.Join(src, "a/b/file"), filepath.Join(src, "a/hard")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("b/file", filepath.Join(src, "a/sym")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(src, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	mt := time.Unix(1600000000, 5)
	if err := os.Chtimes(filepath.Join(src, "a/empty"), mt, mt); err != nil {
		t.Fatal(err)
	}
	var img bytes.Buffer
	sum, err := PackPath(context.Background(), &img, src, testKey, WithChunkSize(MinChunkSize))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files != 3 || sum.Hardlinks != 1 || sum.Symlinks != 1 || sum.Fifos != 1 {
		t.Errorf("summary %+v", sum)
	}
	rd := openBytes(t, img.Bytes(), testKey)
	for _, tc := range []struct {
		path   string
		mode   uint32
		nlink  uint32
		target string
	}{
		{"a/sym", sIFLNK | 0o777, 1, "b/file"},
		{"a/b/file", sIFREG | 0o640, 2, ""},
		{"a/hard", sIFREG | 0o640, 2, ""},
		{"ünï/x", sIFREG | 0o755, 1, ""},
		{"fifo", sIFIFO | 0o600, 1, ""},
		{"a", sIFDIR | 0o755, 0, ""},
	} {
		fi, err := rd.Lstat(tc.path)
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		st := fi.Sys().(*Stat)
		if st.Mode != tc.mode || (tc.nlink != 0 && st.Nlink != tc.nlink) || st.Target != tc.target {
			t.Errorf("%s: mode %o nlink %d target %q, want %o %d %q", tc.path, st.Mode, st.Nlink, st.Target, tc.mode, tc.nlink, tc.target)
		}
	}
	dst := filepath.Join(t.TempDir(), "out")
	rep, err := rd.Extract(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files != 3 || rep.Hardlinks != 1 || len(rep.Skipped) != 1 {
		t.Errorf("report %+v", rep)
	}
	for _, p := range []string{"a/b/file", "a/empty", "ünï/x"} {
		a, _ := os.ReadFile(filepath.Join(src, p))
		b, err := os.ReadFile(filepath.Join(dst, p))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs: %v", p, err)
		}
		sa, _ := os.Stat(filepath.Join(src, p))
		sb, _ := os.Stat(filepath.Join(dst, p))
		if sa.Mode() != sb.Mode() || !sa.ModTime().Equal(sb.ModTime()) {
			t.Errorf("%s: mode/mtime %v %v, want %v %v", p, sb.Mode(), sb.ModTime(), sa.Mode(), sa.ModTime())
		}
	}
	if tg, err := os.Readlink(filepath.Join(dst, "a/sym")); err != nil || tg != "b/file" {
		t.Errorf("symlink %q, %v", tg, err)
	}
	s1, _ := os.Stat(filepath.Join(dst, "a/hard"))
	s2, _ := os.Stat(filepath.Join(dst, "a/b/file"))
	if !os.SameFile(s1, s2) {
		t.Error("hard link not restored")
	}
	// Extracting again into the same directory refuses to overwrite.
	if _, err := rd.Extract(context.Background(), dst); err == nil {
		t.Error("second extraction into the same dir succeeded")
	}
	// The same directory packs to the same image.
	var again bytes.Buffer
	if _, err := PackPath(context.Background(), &again, src, testKey, WithChunkSize(MinChunkSize)); err != nil || !bytes.Equal(again.Bytes(), img.Bytes()) {
		t.Errorf("repacking differs (%v)", err)
	}
}

// TestExtractStaysInside: a symlink pointing out of the tree followed by
// a file under that name's directory cannot make Extract write outside.
func TestExtractStaysInside(t *testing.T) {
	outside := t.TempDir()
	ents := []tentry{
		{name: "esc", typ: '2', link: outside},
		{name: "d/", typ: '5', mode: 0o755},
		{name: "d/f", typ: '0', mode: 0o644, body: []byte("data")},
	}
	img, _ := packBytes(t, makeTar(t, ents), testKey)
	rd := openBytes(t, img, testKey)
	if _, err := rd.Extract(context.Background(), filepath.Join(t.TempDir(), "x")); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("wrote outside: %v", ents)
	}
}

// TestPackPathTarFiles: a .tar and a .tar.gz of the same stream pack to the
// same image as Pack on the stream.
func TestPackPathTarFiles(t *testing.T) {
	data := makeTar(t, fullTree())
	want, _ := packBytes(t, data, testKey)
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	for name, content := range map[string][]byte{"a.tar": data, "a.tar.gz": gz.Bytes()} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := PackPath(context.Background(), &out, p, testKey); err != nil || !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%s: image differs (%v)", name, err)
		}
	}
	if _, err := PackPath(context.Background(), &bytes.Buffer{}, filepath.Join(dir, "missing"), testKey); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing source: %v", err)
	}
}
