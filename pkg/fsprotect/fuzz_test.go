package fsprotect

import (
	"bytes"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen feeds arbitrary images to Open, RootOf and the reads: they must
// fail cleanly, never panic. Seeds: the test vectors.
func FuzzOpen(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(vectorDir, "*.img"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, img []byte) {
		_, _ = RootOf(bytes.NewReader(img), int64(len(img)))
		rd, err := Open(bytes.NewReader(img), int64(len(img)), vectorKey)
		if err != nil {
			return
		}
		exercise(rd)
	})
}

// exercise walks and reads a whole image through every Reader method.
func exercise(rd *Reader) {
	_ = fs.WalkDir(rd, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		_, _ = rd.Stat(p)
		_, _ = rd.ReadLink(p)
		if d.Type().IsRegular() {
			if fl, err := rd.Open(p); err == nil {
				buf := make([]byte, 777)
				for {
					if _, err := fl.Read(buf); err != nil {
						break
					}
				}
				_, _ = fl.(io.ReaderAt).ReadAt(buf, 4000)
				fl.Close()
			}
		}
		return nil
	})
	_ = rd.Verify()
}

// indexSeed returns the decrypted index and the data region of ok.img.
func indexSeed(t testing.TB) (plain []byte, data []byte) {
	img, err := os.ReadFile(filepath.Join(vectorDir, "ok.img"))
	if err != nil {
		t.Fatal(err)
	}
	rd := openBytes(t, img, vectorKey)
	return rd.x.marshal(), img[PreambleSize:rd.hdr.indexOff]
}

// FuzzParseIndex feeds arbitrary index plaintexts to the index parser.
func FuzzParseIndex(f *testing.F) {
	plain, data := indexSeed(f)
	f.Add(plain, uint8(12))
	f.Fuzz(func(t *testing.T, b []byte, log2 uint8) {
		x, err := parseIndex(b, uint32(log2%9)+minChunkLog2, PreambleSize, PreambleSize+uint64(len(data)))
		if err != nil {
			return
		}
		// A valid index re-encodes to the same bytes (canonical form).
		if !bytes.Equal(x.marshal(), b) {
			t.Fatalf("index does not round-trip")
		}
	})
}

// FuzzReaderIndex wraps arbitrary index plaintexts into correctly keyed and
// MACed images, so that the Reader's lookups and reads run on every index
// the parser accepts.
func FuzzReaderIndex(f *testing.F) {
	plain, data := indexSeed(f)
	f.Add(plain)
	sk, err := deriveKeys(vectorKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		img := buildImage(t, sk, MinChunkSize, data, b)
		rd, err := Open(bytes.NewReader(img), int64(len(img)), vectorKey)
		if err != nil {
			return
		}
		exercise(rd)
	})
}

// buildImage assembles an image around a given data region and index
// plaintext, with a valid header.
func buildImage(t testing.TB, sk *subkeys, cs int, data, plain []byte) []byte {
	pre := make([]byte, PreambleSize)
	copy(pre, Magic)
	le.PutUint32(pre[8:], Version)
	h := &header{version: Version, chunkLog2: log2(cs), dataOff: PreambleSize, dataLen: uint64(len(data)),
		indexOff: PreambleSize + uint64(len(data)), indexLen: uint64(len(plain)) + tagSize}
	h.dataHash = sha256.Sum256(append(bytes.Clone(pre), data...))
	ct, hb, err := sealIndex(sk, h, plain)
	if err != nil {
		t.Fatal(err)
	}
	img := append(pre, data...)
	img = append(img, ct...)
	return append(img, hb...)
}

func TestBuildImageMatchesPack(t *testing.T) {
	img, err := os.ReadFile(filepath.Join(vectorDir, "ok.img"))
	if err != nil {
		t.Fatal(err)
	}
	plain, data := indexSeed(t)
	sk, _ := deriveKeys(vectorKey)
	if !bytes.Equal(buildImage(t, sk, MinChunkSize, data, plain), img) {
		t.Fatal("buildImage differs from Pack output")
	}
}
