package fsprotect

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// zTestTree is fullTree plus files that compress: whole compressible
// chunks, a file whose chunks alternate between compressible and random
// (both stored forms in one file), and a big text file.
func zTestTree() []tentry {
	cs := MinChunkSize
	var mixed []byte
	for i := range 6 {
		if i%2 == 0 {
			mixed = append(mixed, bytes.Repeat([]byte{byte('a' + i)}, cs)...)
		} else {
			mixed = append(mixed, pseudoRandom(uint64(40+i), cs)...)
		}
	}
	var text []byte
	r := rand.New(rand.NewPCG(5, 6))
	words := strings.Fields("enclave shield chunk nonce salt root header index tweak codec block")
	for len(text) < 9*cs+123 {
		text = append(text, words[r.IntN(len(words))]...)
		text = append(text, ' ')
	}
	return append(fullTree(),
		tentry{name: "z/mixed", typ: tar.TypeReg, mode: 0o644, body: mixed},
		tentry{name: "z/text", typ: tar.TypeReg, mode: 0o644, body: text},
		tentry{name: "z/zeros", typ: tar.TypeReg, mode: 0o644, body: make([]byte, 2*cs+1)},
		tentry{name: "z/text-link", typ: tar.TypeLink, link: "z/text"},
	)
}

var zOpts = []Option{WithChunkSize(MinChunkSize), WithCompression(CompressionLZ4)}

func TestCompressionRoundTrip(t *testing.T) {
	tree := zTestTree()
	for _, c := range []Compression{CompressionLZ4, CompressionLZ4HC} {
		for _, cs := range []int{MinChunkSize, 1 << 14} {
			t.Run(c.String()+"/"+fmtSize(cs), func(t *testing.T) {
				img, sum := packBytes(t, makeTar(t, tree), testKey, WithChunkSize(cs), WithCompression(c))
				plainImg, psum := packBytes(t, makeTar(t, tree), testKey, WithChunkSize(cs))
				if sum.Compression != c || sum.BytesIn != psum.BytesIn || sum.BytesStored >= psum.BytesStored || len(img) >= len(plainImg) {
					t.Errorf("compressed image %d bytes (content %d stored of %d), uncompressed %d", len(img), sum.BytesStored, sum.BytesIn, len(plainImg))
				}
				if psum.BytesStored != psum.BytesIn {
					t.Errorf("uncompressed image stores %d of %d bytes", psum.BytesStored, psum.BytesIn)
				}
				rd := openBytes(t, img, testKey, WithExpectedRoot(sum.Root))
				if !rd.Compressed() || openBytes(t, plainImg, testKey).Compressed() {
					t.Error("Compressed() does not tell the images apart")
				}
				for _, e := range tree {
					if e.typ == tar.TypeReg {
						checkRanges(t, rd, strings.TrimPrefix(e.name, "./"), e.body)
					}
				}
				if err := Verify(bytes.NewReader(img), int64(len(img)), testKey); err != nil {
					t.Errorf("Verify: %v", err)
				}
				if root, err := RootOf(bytes.NewReader(img), int64(len(img))); err != nil || root != sum.Root {
					t.Errorf("RootOf = %x, %v", root, err)
				}
			})
		}
	}
}

func TestCompressionDeterminism(t *testing.T) {
	tree := zTestTree()
	tarData := makeTar(t, tree)
	ref, _ := packBytes(t, tarData, testKey, append(zOpts, WithConcurrency(1))...)
	for _, c := range []int{2, 3, 8} {
		if got, _ := packBytes(t, tarData, testKey, append(zOpts, WithConcurrency(c))...); !bytes.Equal(got, ref) {
			t.Errorf("concurrency %d: output differs", c)
		}
	}
	if got, _ := packTree(t, treeEntries(tree), zOpts...); !bytes.Equal(got, ref) {
		t.Error("PackTree differs from Pack")
	}
	tarFile := filepath.Join(t.TempDir(), "tree.tar")
	if err := os.WriteFile(tarFile, tarData, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := PackTarFile(context.Background(), &out, tarFile, testKey, zOpts...); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), ref) {
		t.Error("PackTarFile differs from Pack")
	}
	// PackTreeParts with a content cache (the converter's path): the cached
	// stored chunks are placed by the writer; the same image.
	src := treeEntries(tree)
	salt := WithSaltSource([]byte("layers"))
	want, _ := packBytes(t, tarData, testKey, append(zOpts, salt)...)
	cache, err := NewContentCache(testKey, append(zOpts, salt)...)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range src {
		if i%2 == 0 && e.Type == tar.TypeReg {
			if err := cache.Encrypt(e.Path, e.Content); err != nil {
				t.Fatal(err)
			}
		}
	}
	parts, sum, err := PackTreeParts(context.Background(), src, testKey, append(zOpts, salt, WithContentCache(cache))...)
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Join(parts, nil); !bytes.Equal(got, want) || sum.BytesCached == 0 {
		t.Errorf("PackTreeParts with a cache differs from Pack (cached %d bytes)", sum.BytesCached)
	}
	// A cache made without compression is not used for a compressed image.
	plainCache, err := NewContentCache(testKey, WithChunkSize(MinChunkSize), salt)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range src {
		if err := plainCache.Encrypt(e.Path, e.Content); err != nil {
			t.Fatal(err)
		}
	}
	got, sum := packTree(t, src, append(zOpts, salt, WithContentCache(plainCache))...)
	if !bytes.Equal(got, want) || sum.BytesCached != 0 {
		t.Errorf("a cache without compression was used (%d bytes)", sum.BytesCached)
	}
	hc, _ := packBytes(t, tarData, testKey, WithChunkSize(MinChunkSize), WithCompression(CompressionLZ4HC))
	none, _ := packBytes(t, tarData, testKey, WithChunkSize(MinChunkSize))
	if bytes.Equal(hc, ref) || bytes.Equal(none, ref) {
		t.Error("the compression does not change the image")
	}
}

// TestCompressionNonces: a chunk's nonce is a PRF of what GCM encrypts (the
// stored bytes and the stored word), so two images of one tree, one
// compressed and one not, share no nonce, and within the compressed image
// no nonce repeats.
func TestCompressionNonces(t *testing.T) {
	tarData := makeTar(t, zTestTree())
	salt := WithSaltSource([]byte("same"))
	z, _ := packBytes(t, tarData, testKey, append(zOpts, salt)...)
	p, _ := packBytes(t, tarData, testKey, WithChunkSize(MinChunkSize), salt)
	seen := map[string]bool{}
	for _, img := range [][]byte{z, p} {
		rd := openBytes(t, img, testKey)
		for k := range uint64(len(rd.x.chunks) / rd.x.recSize) {
			n := string(rd.x.rec(k)[:nonceSize])
			if seen[n] {
				t.Fatalf("nonce %x used twice", n)
			}
			seen[n] = true
		}
	}
}

func zTamperImage(t *testing.T) ([]byte, *Summary, *Reader) {
	img, sum := packBytes(t, makeTar(t, zTestTree()), testKey, zOpts...)
	return img, sum, openBytes(t, img, testKey)
}

// zSpan returns the image offset and stored length of chunk i of a file.
func zSpan(t *testing.T, rd *Reader, name string, i uint64) [2]int {
	in := rd.x.inode(mustIno(t, rd, name))
	st, off := recStored(rd.x.rec(in.chunkFirst + i))
	return [2]int{int(off), int(st & storedLenMask)}
}

// TestTamperCompressedBitFlips: every header bit, every bit of one
// compressed chunk, then random bits anywhere. A modified chunk must fail
// with an *AuthError (detected checks it): GCM refuses it before the
// decompressor runs, which would report a format error (or succeed).
func TestTamperCompressedBitFlips(t *testing.T) {
	img, sum, rd := zTamperImage(t)
	c := zSpan(t, rd, "z/text", 3)
	var bits []int
	for b := (len(img) - HeaderSize) * 8; b < len(img)*8; b++ {
		bits = append(bits, b)
	}
	for b := c[0] * 8; b < (c[0]+c[1])*8; b++ {
		bits = append(bits, b)
	}
	r := rand.New(rand.NewPCG(3, 4))
	deadline := time.Now().Add(time.Second)
	var n, atOpen int
	for k := 0; k < len(bits) || time.Now().Before(deadline); k++ {
		b := r.IntN(len(img) * 8)
		if k < len(bits) {
			b = bits[k]
		}
		img[b/8] ^= 1 << (b % 8)
		if detected(t, img, sum.Root) {
			atOpen++
		}
		img[b/8] ^= 1 << (b % 8)
		n++
	}
	t.Logf("%d flips: %d refused at open, %d failed at read", n, atOpen, n-atOpen)
}

// TestTamperCompressedSwaps moves stored chunks of equal stored length
// (compressed or not) within and between files: refused at the read.
func TestTamperCompressedSwaps(t *testing.T) {
	img, sum, rd := zTamperImage(t)
	swap := func(a, b [2]int) []byte {
		if a[1] != b[1] {
			t.Fatalf("stored chunks of different lengths: %v %v", a, b)
		}
		m := bytes.Clone(img)
		copy(m[a[0]:], img[b[0]:b[0]+b[1]])
		copy(m[b[0]:], img[a[0]:a[0]+a[1]])
		return m
	}
	// Chunks 0, 2 and 4 of z/mixed are runs of one byte: they compress to
	// equally long blocks; chunks 1 and 3 are stored as they are, like
	// chunk 0 of etc/exact.
	tests := []struct {
		name string
		a, b [2]int
	}{
		{"compressed, within a file", zSpan(t, rd, "z/mixed", 0), zSpan(t, rd, "z/mixed", 2)},
		{"raw, within a file", zSpan(t, rd, "z/mixed", 1), zSpan(t, rd, "z/mixed", 3)},
		{"raw, between files", zSpan(t, rd, "z/mixed", 1), zSpan(t, rd, "etc/exact", 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { detected(t, swap(tc.a, tc.b), sum.Root) })
	}
	// A chunk of another image made with the same key, same path, same
	// stored length: its tag and nonce are not in this image's index.
	tree := zTestTree()
	for i := range tree {
		if tree[i].name == "z/mixed" {
			b := bytes.Clone(tree[i].body)
			b[0] = 'q' // chunk 0: another run
			for k := 1; k < MinChunkSize; k++ {
				b[k] = 'q'
			}
			tree[i].body = b
		}
	}
	other, _ := packBytes(t, makeTar(t, tree), testKey, zOpts...)
	ord := openBytes(t, other, testKey)
	a, b := zSpan(t, rd, "z/mixed", 0), zSpan(t, ord, "z/mixed", 0)
	if a[1] != b[1] {
		t.Fatalf("stored lengths differ: %d, %d", a[1], b[1])
	}
	m := bytes.Clone(img)
	copy(m[a[0]:], other[b[0]:b[0]+b[1]])
	detected(t, m, sum.Root)
}

func TestCompressionOptions(t *testing.T) {
	for _, s := range CompressionNames() {
		c, err := ParseCompression(s)
		if err != nil || c.String() != s {
			t.Errorf("ParseCompression(%q) = %v, %v", s, c, err)
		}
	}
	if _, err := ParseCompression("zstd"); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("ParseCompression(zstd): %v", err)
	}
	if _, err := buildOptions([]Option{WithCompression(CompressionLZ4), withVersion(1)}); err == nil {
		t.Error("compression in a version 1 image accepted")
	}
	if _, err := buildOptions([]Option{WithCompression(Compression(9))}); err == nil {
		t.Error("unknown compression accepted")
	}
}

// zDict is a dictionary for zTestTree: the first 8 KiB of z/text, whose
// first two chunks then copy from it.
func zDict() []byte {
	for _, e := range zTestTree() {
		if e.name == "z/text" {
			return e.body[:8<<10]
		}
	}
	panic("zTestTree has no z/text")
}

// TestDictionaryImages: images compressed against an image dictionary
// (codec 2) read back through every path, are smaller than without it,
// are deterministic across workers, Pack, PackTree and the content cache
// (a cache made with another dictionary is not used), and every tampered
// bit fails as an authentication error.
func TestDictionaryImages(t *testing.T) {
	tree := zTestTree()
	tarData := makeTar(t, tree)
	for _, c := range []Compression{CompressionLZ4, CompressionLZ4HC} {
		t.Run(c.String(), func(t *testing.T) {
			opts := []Option{WithChunkSize(MinChunkSize), WithCompression(c), WithDictionary(zDict())}
			img, sum := packBytes(t, tarData, testKey, opts...)
			if sum.Dictionary != len(zDict()) {
				t.Errorf("Summary.Dictionary = %d, want %d", sum.Dictionary, len(zDict()))
			}
			rd := openBytes(t, img, testKey, WithExpectedRoot(sum.Root))
			if !rd.hdr.hasDict() || !bytes.Equal(rd.x.dict, zDict()) || rd.DictionarySize() != len(zDict()) {
				t.Fatal("the image does not carry the dictionary")
			}
			// The chunks that the dictionary holds are one match each
			// for the chain search (lz4hc); lz4's one candidate per
			// position is the last one with its hash, rarely the start
			// of a long copy.
			for i := range uint64(2) {
				if c != CompressionLZ4HC {
					break
				}
				if n := zSpan(t, rd, "z/text", i)[1]; n > 64 {
					t.Errorf("chunk %d of z/text, which the dictionary holds, stored in %d bytes", i, n)
				}
			}
			for _, e := range tree {
				if e.typ == tar.TypeReg {
					checkRanges(t, rd, strings.TrimPrefix(e.name, "./"), e.body)
				}
			}
			if err := Verify(bytes.NewReader(img), int64(len(img)), testKey); err != nil {
				t.Errorf("Verify: %v", err)
			}
			for _, w := range []int{1, 3} {
				if got, _ := packBytes(t, tarData, testKey, append(opts, WithConcurrency(w))...); !bytes.Equal(got, img) {
					t.Errorf("concurrency %d: output differs", w)
				}
			}
			if got, _ := packTree(t, treeEntries(tree), opts...); !bytes.Equal(got, img) {
				t.Error("PackTree differs from Pack")
			}
		})
	}
	opts := []Option{WithChunkSize(MinChunkSize), WithCompression(CompressionLZ4), WithDictionary(zDict()), WithSaltSource([]byte("layers"))}
	want, _ := packBytes(t, tarData, testKey, opts...)
	src := treeEntries(tree)
	for _, tc := range []struct {
		name   string
		dict   []byte
		cached bool
	}{{"same dictionary", zDict(), true}, {"another dictionary", []byte("another dictionary"), false}, {"no dictionary", nil, false}} {
		t.Run("cache/"+tc.name, func(t *testing.T) {
			cache, err := NewContentCache(testKey, WithChunkSize(MinChunkSize), WithCompression(CompressionLZ4), WithDictionary(tc.dict), WithSaltSource([]byte("layers")))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range src {
				if e.Type == tar.TypeReg {
					if err := cache.Encrypt(e.Path, e.Content); err != nil {
						t.Fatal(err)
					}
				}
			}
			got, sum := packTree(t, src, append(opts, WithContentCache(cache))...)
			if !bytes.Equal(got, want) || (sum.BytesCached > 0) != tc.cached {
				t.Errorf("image equal %v, %d bytes from the cache (want cached %v)", bytes.Equal(got, want), sum.BytesCached, tc.cached)
			}
		})
	}
	t.Run("tamper", func(t *testing.T) {
		img, sum := packBytes(t, tarData, testKey, WithChunkSize(MinChunkSize), WithCompression(CompressionLZ4), WithDictionary(zDict()))
		rd := openBytes(t, img, testKey)
		c := zSpan(t, rd, "z/text", 3)
		r := rand.New(rand.NewPCG(11, 12))
		deadline := time.Now().Add(time.Second)
		for k := 0; k < (c[1]+HeaderSize)*8 || time.Now().Before(deadline); k++ {
			b := r.IntN(len(img) * 8)
			switch {
			case k < c[1]*8:
				b = c[0]*8 + k
			case k < (c[1]+HeaderSize)*8:
				b = (len(img)-HeaderSize)*8 + k - c[1]*8
			}
			img[b/8] ^= 1 << (b % 8)
			detected(t, img, sum.Root)
			img[b/8] ^= 1 << (b % 8)
		}
	})
	t.Run("options", func(t *testing.T) {
		if _, err := buildOptions([]Option{WithDictionary([]byte("d"))}); err == nil {
			t.Error("a dictionary without compression accepted")
		}
		if _, err := buildOptions([]Option{WithCompression(CompressionLZ4), WithDictionary(make([]byte, MaxDictionarySize+1))}); err == nil {
			t.Error("an oversize dictionary accepted")
		}
	})
}

// TestTrainedDictionary: WithTrainedDictionary trains the same dictionary
// from a tar file (while deriving the salt) as from the same entries in
// memory, so PackTarFile and PackTree write the same image; Pack, which
// streams, ignores it; too little content gives an image without one.
func TestTrainedDictionary(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	words := strings.Fields("enclave shield chunk nonce salt root header index tweak codec block")
	var text []byte
	for len(text) < 1<<20 {
		text = append(text, words[r.IntN(len(words))]...)
		text = append(text, ' ')
	}
	tree := append(zTestTree(), tentry{name: "z/big", typ: tar.TypeReg, mode: 0o644, body: text})
	tarData := makeTar(t, tree)
	tarFile := filepath.Join(t.TempDir(), "tree.tar")
	if err := os.WriteFile(tarFile, tarData, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := []Option{WithChunkSize(MinChunkSize), WithCompression(CompressionLZ4), WithTrainedDictionary()}
	var fromTar bytes.Buffer
	sum, err := PackTarFile(context.Background(), &fromTar, tarFile, testKey, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Dictionary == 0 {
		t.Fatal("no dictionary trained from 1 MiB of text")
	}
	fromTree, _ := packTree(t, treeEntries(tree), opts...)
	if !bytes.Equal(fromTar.Bytes(), fromTree) {
		t.Error("PackTarFile and PackTree trained different dictionaries")
	}
	rd := openBytes(t, fromTree, testKey)
	checkRanges(t, rd, "z/big", text)
	_, psum := packBytes(t, tarData, testKey, append(opts, WithSaltSource([]byte("s")))...)
	if psum.Dictionary != 0 {
		t.Error("Pack trained a dictionary from a stream it reads once")
	}
	_, small := packBytes(t, makeTar(t, smallTree()), testKey, append(opts, WithSaltSource([]byte("s")))...)
	if small.Dictionary != 0 {
		t.Error("a dictionary from a few bytes")
	}
	if _, err := buildOptions([]Option{WithCompression(CompressionLZ4), WithDictionary([]byte("d")), WithTrainedDictionary()}); err == nil {
		t.Error("WithDictionary and WithTrainedDictionary accepted together")
	}
}

// TestDictSampler: one pass over 20 MiB keeps evenly spaced pieces within
// the budget, and a stream cut into arbitrary writes is sampled as the
// same content in memory.
func TestDictSampler(t *testing.T) {
	piece := make([]byte, dictSampleChunk)
	var s dictSampler
	const pieces = 5 << 10 // 20 MiB
	for range pieces {
		s.add(piece)
	}
	if s.bytes > dictSampleBytes || s.bytes < dictSampleBytes/2 {
		t.Errorf("kept %d bytes, budget %d", s.bytes, dictSampleBytes)
	}
	for k, p := range s.kept {
		if p.i != k*s.stride {
			t.Fatalf("piece %d has index %d, stride %d", k, p.i, s.stride)
		}
	}
	r := rand.New(rand.NewPCG(15, 16))
	content := make([]byte, 3<<20+123)
	for i := range content {
		content[i] = byte(r.Uint32())
	}
	var mem dictSampler
	for off := 0; off < len(content); off += dictSampleChunk {
		mem.add(content[off:min(off+dictSampleChunk, len(content))])
	}
	var st dictSampler
	w := &sampleWriter{s: &st}
	for rest := content; len(rest) > 0; {
		n := min(1+r.IntN(10000), len(rest))
		w.Write(rest[:n])
		rest = rest[n:]
	}
	w.flush()
	a, b := mem.samples(), st.samples()
	if len(a) != len(b) {
		t.Fatalf("%d pieces from memory, %d from the stream", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("piece %d differs", i)
		}
	}
}
