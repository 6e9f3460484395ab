package convert

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// TestStoredLayerMatchesGzip: the enclave layer generated from pieces is
// byte for byte the gzip stream compress/gzip writes at enclaveCompression,
// with the same digests, for sizes around the stored block size.
func TestStoredLayerMatchesGzip(t *testing.T) {
	for _, sizes := range [][]int{
		{}, {1}, {storedBlock}, {storedBlock + 1}, {3 * storedBlock}, {100, 200 << 10, 7, storedBlock - 3, 1 << 20},
	} {
		var files []File
		for i, n := range sizes {
			files = append(files, File{Path: "/scone/enclave/f" + string(rune('a'+i)), Mode: 0o444, Data: rnd(uint64(i+5), n)})
		}
		mt := time.Unix(1234, 0)
		tarBytes, err := layerTar(files, mt)
		if err != nil {
			t.Fatal(err)
		}
		want, err := newMemLayer(tarBytes, enclaveCompression)
		if err != nil {
			t.Fatal(err)
		}
		var pw pieceWriter
		if err := writeLayerTar(&pw, files, mt, nil); err != nil {
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

// TestLayerTarFSParts: the FS image given as parts makes the same tar as
// the FS image given as one slice.
func TestLayerTarFSParts(t *testing.T) {
	img := rnd(7, 300<<10+11)
	parts := [][]byte{img[:16], img[16 : 100<<10], img[100<<10 : 100<<10+5], img[100<<10+5:]}
	mt := time.Unix(99, 0)
	whole := []File{{Path: ConfigPath, Mode: 0o444, Data: []byte("cfg")}, {Path: FSImagePath, Mode: 0o444, Data: img}, {Path: SigStructPath, Mode: 0o444, Data: rnd(8, 1808)}}
	want, err := layerTar(whole, mt)
	if err != nil {
		t.Fatal(err)
	}
	split := append([]File(nil), whole...)
	split[1].Data = nil
	var pw pieceWriter
	if err := writeLayerTar(&pw, split, mt, parts); err != nil {
		t.Fatal(err)
	}
	if got := bytes.Join(pw.parts, nil); !bytes.Equal(got, want) {
		t.Fatal("tar with FS image parts differs")
	}
}
