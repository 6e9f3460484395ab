package sconeimage

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

func rnd(seed uint64, n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	b := make([]byte, n)
	r.Read(b)
	return b
}

func tarOf(t *testing.T, files []File, mt time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteTar(&buf, files, TarOptions{ModTime: mt}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestStoredLayerMatchesGzip: the enclave layer generated from pieces is
// byte for byte the gzip stream compress/gzip writes at enclaveCompression,
// with the same digests, for sizes around the stored block size.
func TestStoredLayerMatchesGzip(t *testing.T) {
	for _, sizes := range [][]int{
		{}, {1}, {storedBlock}, {storedBlock + 1}, {3 * storedBlock}, {100, 200 << 10, 7, storedBlock - 3, 1 << 20},
	} {
		var files []File
		var tfs []tarFile
		for i, n := range sizes {
			f := File{Path: "/scone/enclave/f" + string(rune('a'+i)), Mode: 0o444, Data: rnd(uint64(i+5), n)}
			files = append(files, f)
			tfs = append(tfs, tarFile{path: f.Path, mode: f.Mode, content: NewBlob(f.Data)})
		}
		mt := time.Unix(1234, 0)
		tarBytes := tarOf(t, files, mt)
		want, err := newMemLayer(tarBytes, enclaveCompression)
		if err != nil {
			t.Fatal(err)
		}
		var pw pieceWriter
		if err := writeTar(&pw, tfs, TarOptions{ModTime: mt}); err != nil {
			t.Fatal(err)
		}
		got := newStoredLayer(pw.parts)
		rc, _ := got.Compressed()
		gb, _ := io.ReadAll(rc)
		if !bytes.Equal(gb, want.compressed) {
			t.Fatalf("sizes %v: compressed stream differs (%d vs %d bytes)", sizes, len(gb), len(want.compressed))
		}
		var buf bytes.Buffer
		rc, _ = got.Compressed()
		io.Copy(&buf, rc) // WriteTo path
		if !bytes.Equal(buf.Bytes(), want.compressed) {
			t.Fatalf("sizes %v: WriteTo differs", sizes)
		}
		rc, _ = got.Uncompressed()
		ub, _ := io.ReadAll(rc)
		if !bytes.Equal(ub, tarBytes) {
			t.Fatalf("sizes %v: uncompressed differs", sizes)
		}
		if got.digest != want.digest || got.diffID != want.diffID || got.size != int64(len(want.compressed)) {
			t.Fatalf("sizes %v: digests or size differ", sizes)
		}
	}
}

// TestTarBlobParts: a file given as a multi-part blob makes the same tar
// as the same file given as one slice.
func TestTarBlobParts(t *testing.T) {
	img := rnd(7, 300<<10+11)
	mt := time.Unix(99, 0)
	cfg, ss := []byte("cfg"), rnd(8, 1808)
	want := tarOf(t, []File{{Path: ConfigPath, Mode: 0o444, Data: cfg}, {Path: FSImagePath, Mode: 0o444, Data: img}, {Path: SigStructPath, Mode: 0o444, Data: ss}}, mt)
	blob := NewBlob(img[:16], img[16:100<<10], img[100<<10:100<<10+5], nil, img[100<<10+5:])
	var pw pieceWriter
	if err := writeTar(&pw, []tarFile{
		{path: FSImagePath, mode: 0o444, content: blob},
		{path: ConfigPath, mode: 0o444, content: NewBlob(cfg)},
		{path: SigStructPath, mode: 0o444, content: NewBlob(ss)},
	}, TarOptions{ModTime: mt}); err != nil {
		t.Fatal(err)
	}
	if got := bytes.Join(pw.parts, nil); !bytes.Equal(got, want) {
		t.Fatal("tar with FS image parts differs")
	}
}

func TestWriteTarRefusesBadPaths(t *testing.T) {
	for _, p := range []string{"", "/", "rel/x", "/a/../b", "/a//b", "/a/"} {
		t.Run(p, func(t *testing.T) {
			if err := WriteTar(io.Discard, []File{{Path: p, Mode: 0o644}}, TarOptions{}); err == nil {
				t.Fatalf("path %q accepted", p)
			}
		})
	}
}

func TestBlob(t *testing.T) {
	whole := rnd(3, 1000)
	for _, parts := range [][][]byte{
		{whole},
		{whole[:1], whole[1:500], nil, whole[500:]},
		{nil, whole[:999], whole[999:]},
	} {
		b := NewBlob(parts...)
		if b.Size() != int64(len(whole)) || !bytes.Equal(b.Bytes(), whole) {
			t.Fatalf("%d parts: size or bytes differ", len(parts))
		}
		got, _ := io.ReadAll(b.Reader())
		if !bytes.Equal(got, whole) {
			t.Fatalf("%d parts: Reader differs", len(parts))
		}
		for _, off := range []int64{0, 1, 499, 500, 998, 999} {
			p := make([]byte, 7)
			n, err := b.ReadAt(p, off)
			want := whole[off:min(off+7, int64(len(whole)))]
			if n != len(want) || !bytes.Equal(p[:n], want) || (n < 7 && err != io.EOF) || (n == 7 && err != nil) {
				t.Fatalf("%d parts: ReadAt(%d) = %d, %v", len(parts), off, n, err)
			}
		}
		if _, err := b.ReadAt(make([]byte, 1), 1000); err != io.EOF {
			t.Fatalf("ReadAt past the end: %v", err)
		}
		if _, err := b.ReadAt(make([]byte, 1), -1); err == nil {
			t.Fatal("ReadAt(-1) succeeded")
		}
	}
}
