package rootfs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/scone-build/scone-build/pkg/fsprotect"
)

var packKey = fsprotect.Key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

// TestDirRoundTrip reads a directory (FromDir), packs its entries into a
// protected FS image (fsprotect.PackTree), extracts the image (Extract) and
// compares the trees; it also checks what Lstat reports, and that packing
// the same directory again gives the same image.
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
	mk("a/b/file", bytes.Repeat([]byte("0123456789abcdef"), 70000/16), 0o640)
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
	pack := func() ([]byte, *fsprotect.Summary) {
		tree, err := FromDir(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		var img bytes.Buffer
		sum, err := fsprotect.PackTree(context.Background(), &img, tree.Entries(nil), packKey, fsprotect.WithChunkSize(fsprotect.MinChunkSize))
		if err != nil {
			t.Fatal(err)
		}
		return img.Bytes(), sum
	}
	img, sum := pack()
	if sum.Files != 3 || sum.Hardlinks != 1 || sum.Symlinks != 1 || sum.Fifos != 1 {
		t.Errorf("summary %+v", sum)
	}
	rd, err := fsprotect.Open(bytes.NewReader(img), int64(len(img)), packKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path   string
		mode   uint32
		nlink  uint32
		target string
	}{
		{"a/sym", syscall.S_IFLNK | 0o777, 1, "b/file"},
		{"a/b/file", syscall.S_IFREG | 0o640, 2, ""},
		{"a/hard", syscall.S_IFREG | 0o640, 2, ""},
		{"ünï/x", syscall.S_IFREG | 0o755, 1, ""},
		{"fifo", syscall.S_IFIFO | 0o600, 1, ""},
		{"a", syscall.S_IFDIR | 0o755, 0, ""},
	} {
		fi, err := rd.Lstat(tc.path)
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		st := fi.Sys().(*fsprotect.Stat)
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
		// FromDir reads mtimes to the second, as the converter does.
		if sa.Mode() != sb.Mode() || !sa.ModTime().Truncate(time.Second).Equal(sb.ModTime()) {
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
	if again, _ := pack(); !bytes.Equal(again, img) {
		t.Error("repacking differs")
	}
}
