package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type tf struct {
	name, body, link string
	typ              byte
	mode             int64
	xattr            map[string]string
}

func layerTar(t *testing.T, files []tf) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Typeflag: f.typ, Linkname: f.link, Mode: f.mode, ModTime: time.Unix(1700000000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(f.body))
		}
		for k, v := range f.xattr {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(f.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func image(t *testing.T, layers ...[]tf) v1.Image {
	t.Helper()
	img := empty.Image
	for _, files := range layers {
		b := layerTar(t, files)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.AppendLayers(img, l)
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

func TestFlatten(t *testing.T) {
	base := []tf{
		{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"},
		{name: "etc/old", body: "old"},
		{name: "var/lib/app/", typ: tar.TypeDir, mode: 0o755},
		{name: "var/lib/app/a", body: "a"},
		{name: "var/lib/app/b", body: "b"},
		{name: "bin/busybox", body: "BB", mode: 0o755},
		{name: "bin/sh", typ: tar.TypeLink, link: "bin/busybox"},
		{name: "usr/bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "lib", typ: tar.TypeSymlink, link: "usr/lib"},
		{name: "usr/lib/libc.so", body: "libc"},
		{name: "dev/null", typ: tar.TypeChar},
		{name: "../escape", body: "x"},
	}
	top := []tf{
		{name: "etc/.wh.old"},
		{name: "var/lib/app/.wh..wh..opq"},
		{name: "var/lib/app/c", body: "c"},
		{name: "./etc/passwd", body: "root:x:0:0::/root:/bin/sh\nredis:x:999:999::/:/bin/false\n"},
		{name: "data", body: "file", xattr: map[string]string{"user.k": "v"}},
	}
	tree, err := Flatten(context.Background(), image(t, base, top))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		present bool
		body    string
	}{
		{"etc/old", false, ""},
		{"var/lib/app/a", false, ""},
		{"var/lib/app/c", true, "c"},
		{"etc/passwd", true, "root:x:0:0::/root:/bin/sh\nredis:x:999:999::/:/bin/false\n"},
		{"bin/sh", true, "BB"},
		{"lib/libc.so", true, "libc"},
		{"escape", false, ""},
		{"data", true, "file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tree.Contents(tc.name)
			if !tc.present {
				if err == nil {
					t.Fatalf("%s present, want removed", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.body {
				t.Fatalf("got %q want %q", b, tc.body)
			}
		})
	}
	if e, _ := tree.Entry("data"); e.Xattrs["user.k"] != "v" {
		t.Errorf("xattr lost: %v", e.Xattrs)
	}
	if len(tree.Notes()) != 2 {
		t.Errorf("want 2 notes (device, escape), got %v", tree.Notes())
	}
	if err := fstest.TestFS(tree, "etc/passwd", "var/lib/app/c", "bin/sh", "data"); err != nil {
		t.Error(err)
	}
	// Hardlinks are written as one file + a link to it.
	var buf bytes.Buffer
	if err := tree.WriteTar(&buf); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	links := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeLink {
			links++
			if h.Name != "bin/sh" || h.Linkname != "bin/busybox" {
				t.Errorf("hardlink %s -> %s", h.Name, h.Linkname)
			}
		}
	}
	if links != 1 {
		t.Errorf("want 1 hardlink, got %d", links)
	}
	// Round trip through FromTar gives the same tree.
	buf.Reset()
	tree.WriteTar(&buf)
	first := sha256.Sum256(buf.Bytes())
	again, err := FromTar(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	again.WriteTar(&buf)
	if sha256.Sum256(buf.Bytes()) != first {
		t.Error("WriteTar(FromTar(WriteTar(t))) differs: output is not canonical")
	}
}

func TestDeterministic(t *testing.T) {
	files := []tf{{name: "b", body: "2"}, {name: "a/x", body: "1"}, {name: "c", typ: tar.TypeSymlink, link: "a/x"}}
	var sums [2][32]byte
	for i := range sums {
		tree, err := Flatten(context.Background(), image(t, files))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		tree.WriteTar(&buf)
		sums[i] = sha256.Sum256(buf.Bytes())
	}
	if sums[0] != sums[1] {
		t.Fatal("two flattens of the same image differ")
	}
}

func TestResolve(t *testing.T) {
	tree, err := Flatten(context.Background(), image(t, []tf{
		{name: "usr/bin/python3.11", body: "py"},
		{name: "usr/bin/python3", typ: tar.TypeSymlink, link: "python3.11"},
		{name: "bin", typ: tar.TypeSymlink, link: "/usr/bin"},
		{name: "loop1", typ: tar.TypeSymlink, link: "loop2"},
		{name: "loop2", typ: tar.TypeSymlink, link: "loop1"},
		{name: "up", typ: tar.TypeSymlink, link: "../../../usr"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want, err string }{
		{"bin/python3", "usr/bin/python3.11", ""},
		{"/up/bin/python3", "usr/bin/python3.11", ""},
		{"loop1", "", "too many levels"},
		{"nope/x", "", "not exist"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := tree.Resolve(tc.in, true)
			if tc.err != "" {
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.err)) {
					t.Fatalf("got %q, %v; want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestCorruptLayer(t *testing.T) {
	for name, b := range map[string][]byte{
		"truncated gzip": {0x1f, 0x8b, 8, 0, 0, 0},
		"not a tar":      bytes.Repeat([]byte("garbage!"), 200),
	} {
		t.Run(name, func(t *testing.T) {
			l, _ := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
			img, err := mutate.AppendLayers(empty.Image, l)
			if err != nil {
				t.Skip("ggcr refused the layer itself:", err)
			}
			_, err = Flatten(context.Background(), img)
			var le *LayerError
			if !errors.As(err, &le) {
				t.Fatalf("want *LayerError, got %v", err)
			}
		})
	}
}

func TestFromDir(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/hosts"), []byte("127.0.0.1 localhost\n"), 0o644)
	os.Link(filepath.Join(dir, "etc/hosts"), filepath.Join(dir, "hosts2"))
	os.Symlink("etc/hosts", filepath.Join(dir, "hl"))
	tree, err := FromDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(tree, "hl")
	if err != nil || string(b) != "127.0.0.1 localhost\n" {
		t.Fatalf("read via symlink: %q %v", b, err)
	}
	got := tree.Names()
	want := []string{"etc", "etc/hosts", "hl", "hosts2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("names %v want %v", got, want)
	}
	e1, _ := tree.Entry("etc/hosts")
	e2, _ := tree.Entry("hosts2")
	if e1.data != e2.data {
		t.Error("hardlinked files do not share content")
	}
	if _, err := FromDir(context.Background(), filepath.Join(dir, "missing")); err == nil {
		t.Error("missing dir accepted")
	}
}

// TestWalkDir checks what the one host-directory walker reports: path order
// component by component, hard links to the first name met, a socket as
// type 0, and the first error of fn stopping the walk.
func TestWalkDir(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a", "a/b", "a.b"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "a/b/f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Chmod(filepath.Join(dir, "a/b/f"), 0o4755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "a/b/f"), filepath.Join(dir, "a.b/g")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a/b/f", filepath.Join(dir, "z")); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s")
	if err := syscall.Mknod(sock, syscall.S_IFSOCK|0o600, 0); err != nil {
		t.Fatal(err)
	}
	type seen struct {
		Name   string
		Type   byte
		Mode   int64
		Size   int64
		Nlink  uint64
		LinkTo string
		Target string
	}
	var got []seen
	err := WalkDir(context.Background(), dir, func(f *HostFile) error {
		got = append(got, seen{f.Entry.Name, f.Entry.Type, f.Entry.Mode, f.Size, f.Nlink, f.LinkTo, f.Entry.Linkname})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []seen{
		{"a", tar.TypeDir, 0o750, 0, 0, "", ""},
		{"a/b", tar.TypeDir, 0o750, 0, 0, "", ""},
		{"a/b/f", tar.TypeReg, 0o4755, 1, 2, "", ""},
		{"a.b", tar.TypeDir, 0o750, 0, 0, "", ""},
		{"a.b/g", tar.TypeReg, 0o4755, 1, 2, "a/b/f", ""},
		{"s", 0, 0o600, 0, 0, "", ""},
		{"z", tar.TypeSymlink, 0o777, 0, 0, "", "a/b/f"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("walk\n got %v\nwant %v", got, want)
	}
	stop := errors.New("stop")
	n := 0
	err = WalkDir(context.Background(), dir, func(*HostFile) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("fn's error: got %v after %d calls, want %v after 1", err, n, stop)
	}
	if err := WalkDir(context.Background(), filepath.Join(dir, "z"), func(*HostFile) error { return nil }); err == nil {
		t.Fatal("a symlink as root accepted")
	}
}
