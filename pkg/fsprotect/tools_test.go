package fsprotect

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

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

// TestPackTarFileTarFiles: a .tar and a .tar.gz of the same stream pack to the
// same image as Pack on the stream.
func TestPackTarFileTarFiles(t *testing.T) {
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
		if _, err := PackTarFile(context.Background(), &out, p, testKey); err != nil || !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%s: image differs (%v)", name, err)
		}
	}
	if _, err := PackTarFile(context.Background(), &bytes.Buffer{}, filepath.Join(dir, "missing"), testKey); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing source: %v", err)
	}
	if _, err := PackTarFile(context.Background(), &bytes.Buffer{}, dir, testKey); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("a directory: %v, want ErrInvalidInput (directories are trees: pkg/rootfs)", err)
	}
}
