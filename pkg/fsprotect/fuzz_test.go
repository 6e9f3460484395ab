package fsprotect

import (
	"archive/tar"
	"bytes"
	"context"
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
func indexSeed(t testing.TB) (plain []byte, data []byte) { return indexSeedOf(t, "ok.img") }

// indexSeedOf returns the decrypted index and the data region of a vector.
func indexSeedOf(t testing.TB, name string) (plain []byte, data []byte) {
	img, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	rd := openBytes(t, img, vectorKey)
	return rd.x.marshal(), img[PreambleSize:rd.hdr.indexOff]
}

// FuzzParseIndex feeds arbitrary index plaintexts to the index parser, with
// chunk records of both sizes (log2 >= 128: records with stored forms, as
// in images with compression; and bit 64 then: an image dictionary after
// the strings, codec 2).
func FuzzParseIndex(f *testing.F) {
	plain, data := indexSeed(f)
	zplain, zdata := indexSeedOf(f, "v2z-ok.img")
	f.Add(plain, uint8(12))
	dplain, ddata := indexSeedOf(f, "v2d-ok.img")
	f.Add(zplain, uint8(128+12))
	f.Add(dplain, uint8(128+64+12))
	data = append(data, zdata...) // room for the seeds' chunks
	data = append(data, ddata...)
	f.Fuzz(func(t *testing.T, b []byte, log2 uint8) {
		rs, dict := chunkRecSize, false
		if log2 >= 128 {
			rs, dict = chunkRecSizeZ, log2&64 != 0
		}
		x, err := parseIndex(b, uint32(log2%64%9)+minChunkLog2, PreambleSize, PreambleSize+uint64(len(data)), rs, dict)
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
// MACed images of either format version (version >= 128: version 2 with
// compression, around the data region of v2z-ok.img), so that the Reader's
// lookups, reads and decompression run on every index the parser accepts.
// The chunks stay authentic only where the index keeps their records: the
// decompressor only ever sees authenticated stored bytes.
func FuzzReaderIndex(f *testing.F) {
	plain, data := indexSeed(f)
	zplain, zdata := indexSeedOf(f, "v2z-ok.img")
	zimg, err := os.ReadFile(filepath.Join(vectorDir, "v2z-ok.img"))
	if err != nil {
		f.Fatal(err)
	}
	zsalt := openBytes(f, zimg, vectorKey).hdr.salt
	f.Add(plain, uint8(1))
	f.Add(plain, uint8(2))
	f.Add(zplain, uint8(128))
	sks := map[uint32]*subkeys{}
	for v := uint32(MinVersion); v <= Version; v++ {
		sk, err := deriveKeys(vectorKey, v)
		if err != nil {
			f.Fatal(err)
		}
		sks[v] = sk
	}
	f.Fuzz(func(t *testing.T, b []byte, version uint8) {
		v := uint32(version)%Version + 1
		img := buildImage(t, sks[v], MinChunkSize, [saltSize]byte{version}, data, b)
		if version >= 128 {
			img = buildImageFlags(t, sks[2], MinChunkSize, zsalt, zdata, b, flagChunkCompression)
		}
		rd, err := Open(bytes.NewReader(img), int64(len(img)), vectorKey)
		if err != nil {
			return
		}
		exercise(rd)
	})
}

// buildImage assembles an image of sk's format version around a given data
// region and index plaintext, with a valid header (salt: version 2).
func buildImage(t testing.TB, sk *subkeys, cs int, salt [saltSize]byte, data, plain []byte) []byte {
	return buildImageFlags(t, sk, cs, salt, data, plain, 0)
}

// buildImageFlags is buildImage with header flags (flagChunkCompression:
// codec LZ4, chunk records with stored forms).
func buildImageFlags(t testing.TB, sk *subkeys, cs int, salt [saltSize]byte, data, plain []byte, flags uint64) []byte {
	return buildImageCodec(t, sk, cs, salt, data, plain, flags, codecLZ4)
}

// buildImageCodec is buildImageFlags with the codec byte to write when
// flags has compression.
func buildImageCodec(t testing.TB, sk *subkeys, cs int, salt [saltSize]byte, data, plain []byte, flags uint64, codec byte) []byte {
	pre := make([]byte, PreambleSize)
	copy(pre, Magic)
	le.PutUint32(pre[8:], sk.version)
	h := &header{version: sk.version, chunkLog2: log2(cs), dataOff: PreambleSize, dataLen: uint64(len(data)),
		indexOff: PreambleSize + uint64(len(data)), indexLen: uint64(len(plain)) + tagSize}
	if sk.version >= 2 {
		h.salt = salt
	}
	if h.flags = flags; flags&flagChunkCompression != 0 {
		h.reserved2[0] = codec
	}
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
	for _, name := range []string{"ok.img", "v2-ok.img"} {
		img, err := os.ReadFile(filepath.Join(vectorDir, name))
		if err != nil {
			t.Fatal(err)
		}
		rd := openBytes(t, img, vectorKey)
		sk, _ := deriveKeys(vectorKey, rd.hdr.version)
		if !bytes.Equal(buildImage(t, sk, MinChunkSize, rd.hdr.salt, img[PreambleSize:rd.hdr.indexOff], rd.x.marshal()), img) {
			t.Fatalf("%s: buildImage differs from Pack output", name)
		}
	}
}

// FuzzPackTar feeds arbitrary tar streams to the two derivations of the
// tree salt source: streaming (PackTarFile's first pass) and from the entries
// in memory (PackTree's): both must accept the same streams and agree.
// Pack with that salt source and PackTree of the entries must then write
// the same image, which must verify. Nothing may panic.
func FuzzPackTar(f *testing.F) {
	f.Add(makeTar(f, fullTree()))
	f.Add(makeTar(f, smallTree()))
	f.Add(makeTar(f, dupTree()))
	f.Fuzz(func(t *testing.T, data []byte) {
		if declaredContent(data) > 4<<20 {
			return // sparse files and huge sizes: time, not coverage
		}
		ctx := context.Background()
		streamed, serr := tarSaltSource(ctx, bytes.NewReader(data), nil)
		ents, rerr := readTarEntries(ctx, bytes.NewReader(data))
		if rerr != nil {
			if serr == nil {
				t.Fatalf("the streaming salt source accepts a stream Pack cannot read: %v", rerr)
			}
			return
		}
		buffered, err := treeSaltSource(ctx, ents, 2)
		if (err == nil) != (serr == nil) || err == nil && !bytes.Equal(buffered, streamed) {
			t.Fatalf("salt sources differ: %x (%v) vs %x (%v)", buffered, err, streamed, serr)
		}
		if err != nil {
			return
		}
		var out, tree bytes.Buffer
		_, perr := Pack(ctx, &out, bytes.NewReader(data), vectorKey, WithSaltSource(streamed), WithConcurrency(2))
		_, terr := PackTree(ctx, &tree, ents, vectorKey, WithConcurrency(1))
		if (perr == nil) != (terr == nil) {
			t.Fatalf("Pack: %v; PackTree: %v", perr, terr)
		}
		if perr != nil {
			return
		}
		img := out.Bytes()
		if !bytes.Equal(img, tree.Bytes()) {
			t.Fatal("Pack and PackTree of the same entries differ")
		}
		if err := Verify(bytes.NewReader(img), int64(len(img)), vectorKey); err != nil {
			t.Fatalf("packed image does not verify: %v", err)
		}
	})
}

// declaredContent sums the content sizes the headers of a tar stream
// declare (as far as it parses).
func declaredContent(data []byte) int64 {
	tr := tar.NewReader(bytes.NewReader(data))
	var n int64
	for {
		h, err := tr.Next()
		if err != nil {
			return n
		}
		if h.Size > 0 {
			n += h.Size
		}
	}
}
