package fsprotect

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readAllFiles reads every regular file of the image through the
// authenticated path (not the data hash) and returns the first error.
func readAllFiles(rd *Reader) error {
	return fs.WalkDir(rd, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			_, err = rd.ReadFile(p)
		}
		return err
	})
}

// detected reports whether a modified image is refused at open or fails a
// read of the modified data, and that the keyless root check notices it.
func detected(t *testing.T, img []byte, origRoot [32]byte) (atOpen bool) {
	t.Helper()
	rd, err := Open(bytes.NewReader(img), int64(len(img)), testKey)
	if err == nil {
		err = readAllFiles(rd)
		if err == nil {
			t.Fatalf("modification not detected")
		}
		var ae *AuthError
		if !errors.As(err, &ae) {
			t.Fatalf("read failed with %v, want an *AuthError", err)
		}
	}
	if root, rerr := RootOf(bytes.NewReader(img), int64(len(img))); rerr == nil && root == origRoot {
		t.Fatalf("RootOf did not notice the modification")
	}
	return err != nil && rd == nil
}

// versions are the format versions the tamper campaigns run on.
var versions = []uint32{1, 2}

func tamperImage(t *testing.T, v uint32) ([]byte, *Summary) {
	tree := fullTree()
	tree = append(tree, tentry{name: "big", typ: tar.TypeReg, mode: 0o644, body: pseudoRandom(11, 5*MinChunkSize)})
	return packBytes(t, makeTar(t, tree), testKey, WithChunkSize(MinChunkSize), withVersion(v))
}

// forVersions runs f as one subtest per format version.
func forVersions(t *testing.T, f func(t *testing.T, v uint32)) {
	for _, v := range versions {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) { f(t, v) })
	}
}

func TestTamperBitFlips(t *testing.T) {
	forVersions(t, func(t *testing.T, v uint32) {
		img, sum := tamperImage(t, v)
		r := rand.New(rand.NewPCG(1, 2))
		deadline := time.Now().Add(time.Second)
		var n, atOpen int
		// Every bit of the header, then random bits anywhere until the deadline.
		for bit := (len(img) - headerSize(v)) * 8; bit < len(img)*8 || time.Now().Before(deadline); bit++ {
			b := bit
			if bit >= len(img)*8 {
				b = r.IntN(len(img) * 8)
			}
			img[b/8] ^= 1 << (b % 8)
			if detected(t, img, sum.Root) {
				atOpen++
			}
			img[b/8] ^= 1 << (b % 8)
			n++
		}
		t.Logf("%d flips: %d refused at open, %d failed at read", n, atOpen, n-atOpen)
	})
}

func TestTamperTruncateAppend(t *testing.T) {
	forVersions(t, func(t *testing.T, v uint32) {
		img, _ := tamperImage(t, v)
		hs := headerSize(v)
		for _, cut := range []int{1, 15, 16, 64, hs, hs + 1, len(img) / 2, len(img) - PreambleSize, len(img) - 1, len(img)} {
			_, err := Open(bytes.NewReader(img[:len(img)-cut]), int64(len(img)-cut), testKey)
			if !errors.Is(err, ErrTruncated) {
				t.Errorf("truncated by %d: %v, want ErrTruncated", cut, err)
			}
		}
		for _, extra := range [][]byte{{0}, make([]byte, hs), img[len(img)-hs:], img[len(img)-headerSizeV1:]} {
			long := append(bytes.Clone(img), extra...)
			_, err := Open(bytes.NewReader(long), int64(len(long)), testKey)
			if err == nil {
				t.Errorf("appended %d bytes: accepted", len(extra))
			}
			if _, err := RootOf(bytes.NewReader(long), int64(len(long))); err == nil {
				t.Errorf("appended %d bytes: RootOf accepted", len(extra))
			}
		}
	})
}

// TestTamperVersionDowngrade: an image cannot be read as the other
// version: rewriting the version fields (the MAC key depends on the
// version) is refused at open.
func TestTamperVersionDowngrade(t *testing.T) {
	forVersions(t, func(t *testing.T, v uint32) {
		img, sum := tamperImage(t, v)
		other := 3 - v
		m := bytes.Clone(img)
		le.PutUint32(m[8:], other)
		le.PutUint32(m[len(m)-headerSize(v)+8:], other)
		detected(t, m, sum.Root)
		if _, err := Open(bytes.NewReader(m), int64(len(m)), testKey); err == nil {
			t.Fatal("version rewritten: accepted")
		}
	})
}

// chunkSpan returns the image offset and length of chunk i of a file.
func chunkSpan(t *testing.T, rd *Reader, name string, i uint64) (int, int) {
	in := rd.x.inode(mustIno(t, rd, name))
	start := i * uint64(rd.cs)
	return int(in.dataOff + start), int(min(uint64(rd.cs), in.size-start))
}

func TestTamperSwapChunks(t *testing.T) {
	forVersions(t, testTamperSwapChunks)
}

func testTamperSwapChunks(t *testing.T, v uint32) {
	img, sum := tamperImage(t, v)
	rd := openBytes(t, img, testKey)
	swap := func(a, b [2]int) []byte {
		m := bytes.Clone(img)
		if a[1] != b[1] {
			t.Fatalf("chunks of different sizes")
		}
		copy(m[a[0]:], img[b[0]:b[0]+b[1]])
		copy(m[b[0]:], img[a[0]:a[0]+a[1]])
		return m
	}
	span := func(name string, i uint64) [2]int { o, n := chunkSpan(t, rd, name, i); return [2]int{o, n} }
	tests := []struct {
		name string
		a, b [2]int
	}{
		{"within a file", span("big", 0), span("big", 3)},
		{"within a file, adjacent", span("bin/sh", 1), span("bin/sh", 2)},
		{"between files", span("big", 1), span("etc/exact", 0)},
		{"between files, first chunks", span("bin/sh", 0), span("etc/exact2", 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			detected(t, swap(tc.a, tc.b), sum.Root)
		})
	}
}

func TestTamperOtherImageSameKey(t *testing.T) {
	forVersions(t, testTamperOtherImageSameKey)
}

func testTamperOtherImageSameKey(t *testing.T, v uint32) {
	imgA, sumA := tamperImage(t, v)
	tree := fullTree()
	tree[2].body = pseudoRandom(99, len(tree[2].body)) // bin/sh changed
	tree = append(tree, tentry{name: "big", typ: tar.TypeReg, mode: 0o644, body: pseudoRandom(12, 5*MinChunkSize)})
	imgB, sumB := packBytes(t, makeTar(t, tree), testKey, WithChunkSize(MinChunkSize), withVersion(v))
	if sumA.Root == sumB.Root {
		t.Fatal("different trees, same root")
	}
	t.Run("whole image", func(t *testing.T) {
		_, err := Open(bytes.NewReader(imgB), int64(len(imgB)), testKey, WithExpectedRoot(sumA.Root))
		var ae *AuthError
		if !errors.As(err, &ae) || ae.Part != PartRoot {
			t.Fatalf("got %v, want a root mismatch", err)
		}
	})
	t.Run("chunk transplant", func(t *testing.T) {
		rdA, rdB := openBytes(t, imgA, testKey), openBytes(t, imgB, testKey)
		oa, n := chunkSpan(t, rdA, "big", 2)
		ob, _ := chunkSpan(t, rdB, "big", 2)
		m := bytes.Clone(imgA)
		copy(m[oa:oa+n], imgB[ob:ob+n])
		detected(t, m, sumA.Root)
	})
	t.Run("index transplant", func(t *testing.T) {
		rdA, rdB := openBytes(t, imgA, testKey), openBytes(t, imgB, testKey)
		if rdA.hdr.indexLen != rdB.hdr.indexLen {
			t.Skip("index sizes differ")
		}
		m := bytes.Clone(imgA)
		copy(m[rdA.hdr.indexOff:], imgB[rdB.hdr.indexOff:rdB.hdr.indexOff+rdB.hdr.indexLen])
		detected(t, m, sumA.Root)
	})
	t.Run("header transplant", func(t *testing.T) {
		if len(imgA) != len(imgB) {
			t.Skip("sizes differ")
		}
		m := bytes.Clone(imgA)
		copy(m[len(m)-headerSize(v):], imgB[len(imgB)-headerSize(v):])
		detected(t, m, sumA.Root)
	})
}

// TestDeterminism: the same input, key and options give the same bytes,
// whatever the concurrency and whichever way the input is given (a tar
// stream into Pack, entries into PackTree, a tar file into PackTarFile, the
// salt source derived from the tree or given); another key,
// salt source or chunk size gives another image.
func TestDeterminism(t *testing.T) {
	tarData := makeTar(t, fullTree())
	forVersions(t, func(t *testing.T, v uint32) {
		opts := []Option{WithChunkSize(MinChunkSize), withVersion(v)}
		ref, _ := packBytes(t, tarData, testKey, append(opts, WithConcurrency(1))...)
		for _, c := range []int{2, 3, 8} {
			got, _ := packBytes(t, tarData, testKey, append(opts, WithConcurrency(c))...)
			if !bytes.Equal(got, ref) {
				t.Errorf("concurrency %d: output differs", c)
			}
		}
		for i := range 3 {
			if got, _ := packBytes(t, tarData, testKey, opts...); !bytes.Equal(got, ref) {
				t.Errorf("run %d: output differs", i)
			}
		}
		if got, _ := packTree(t, treeEntries(fullTree()), opts...); !bytes.Equal(got, ref) {
			t.Error("PackTree differs from Pack")
		}
		// PackTarFile derives the salt source while streaming the file;
		// packBytes from the entries read into memory: the same.
		tarFile := filepath.Join(t.TempDir(), "tree.tar")
		if err := os.WriteFile(tarFile, tarData, 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := PackTarFile(context.Background(), &out, tarFile, testKey, opts...); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), ref) {
			t.Error("PackTarFile of the tar file differs from Pack")
		}
		other, _ := packBytes(t, tarData, Key{9}, opts...)
		if bytes.Equal(other, ref) {
			t.Error("another key gives the same image")
		}
		cs, _ := packBytes(t, tarData, testKey, WithChunkSize(2*MinChunkSize), withVersion(v))
		if bytes.Equal(cs, ref) {
			t.Error("another chunk size gives the same image")
		}
		if v < 2 {
			return
		}
		s1, _ := packBytes(t, tarData, testKey, append(opts, WithSaltSource([]byte("one")))...)
		s1b, _ := packBytes(t, tarData, testKey, append(opts, WithSaltSource([]byte("one")), WithConcurrency(3))...)
		s2, _ := packBytes(t, tarData, testKey, append(opts, WithSaltSource([]byte("two")))...)
		if !bytes.Equal(s1, s1b) || bytes.Equal(s1, s2) || bytes.Equal(s1, ref) {
			t.Error("the salt source does not determine the image")
		}
	})
}

// chunkUse is one chunk as stored: its ciphertext and its record.
type chunkUse struct {
	path     string
	chunk    uint64
	ct       string
	nonce    string
	tag      string
	plainKey string // content hash, chunk number and file size
}

// chunksOf lists every chunk of every regular file of an image (read with
// the key only to find them; what is compared is what anyone sees).
func chunksOf(t *testing.T, img []byte) []chunkUse {
	t.Helper()
	rd := openBytes(t, img, testKey)
	var out []chunkUse
	for i := range rd.x.inodes {
		in := &rd.x.inodes[i]
		if in.typ != typeFile {
			continue
		}
		body := make([]byte, in.size)
		if _, err := rd.readAt(uint32(i+1), body, 0); err != nil {
			t.Fatal(err)
		}
		for c := range chunkCount(in.size, rd.hdr.chunkLog2) {
			rec := rd.x.chunks[(in.chunkFirst+c)*chunkRecSize:][:chunkRecSize]
			start := c * uint64(rd.cs)
			n := min(uint64(rd.cs), in.size-start)
			out = append(out, chunkUse{
				path: rd.inoPath(uint32(i + 1)), chunk: c,
				ct:    string(img[in.dataOff+start : in.dataOff+start+n]),
				nonce: string(rec[:nonceSize]), tag: string(rec[nonceSize:]),
				plainKey: fmt.Sprintf("%x/%d/%d", sha256.Sum256(body[start:start+n]), c, in.size),
			})
		}
	}
	return out
}

// TestNonceUniqueness rebuilds a changed tree with the same key and checks
// that every nonce shared by the builds protects the same chunk (same
// associated data and plaintext, hence the same ciphertext and tag). In
// version 2 builds share nonces only with the same salt source.
func TestNonceUniqueness(t *testing.T) {
	forVersions(t, func(t *testing.T, v uint32) {
		tree := fullTree()
		opts := []Option{WithChunkSize(MinChunkSize), withVersion(v), WithSaltSource([]byte("same source"))}
		imgA, _ := packBytes(t, makeTar(t, tree), testKey, opts...)
		body := bytes.Clone(tree[2].body)
		body[MinChunkSize+5] ^= 1 // chunk 1 of bin/sh changes
		tree[2].body = body
		tree[8].body = append(bytes.Clone(tree[8].body), 'x') // etc/exact grows: its size (AAD) changes
		imgB, _ := packBytes(t, makeTar(t, tree), testKey, opts...)
		imgC, _ := packBytes(t, makeTar(t, tree), testKey, WithChunkSize(MinChunkSize), withVersion(v)) // salt from the tree
		seen := map[string]chunkUse{}
		shared := map[string]int{}
		for _, img := range []struct {
			name string
			b    []byte
		}{{"A", imgA}, {"B", imgB}, {"C", imgC}} {
			for _, u := range chunksOf(t, img.b) {
				if prev, ok := seen[u.nonce]; ok {
					shared[img.name]++
					if prev.ct != u.ct || prev.tag != u.tag || prev.plainKey != u.plainKey {
						t.Fatalf("nonce of %s chunk %d reused for %s chunk %d, another chunk", prev.path, prev.chunk, u.path, u.chunk)
					}
				}
				seen[u.nonce] = u
			}
		}
		if shared["B"] == 0 {
			t.Error("no unchanged chunk shared its nonce across builds: determinism broken?")
		}
		if v >= 2 && shared["C"] != 0 {
			t.Errorf("%d chunks of an image with another salt share a nonce with the others", shared["C"])
		}
	})
}

// TestEqualContentDifferentPaths reproduces security finding 6 at the
// chunk level: N files with the same content at different paths, and a
// "secret" file equal to one of them. Version 2 gives every chunk its own
// ciphertext and nonce (the test fails if the path or the salt stops
// entering the nonce); version 1 shows the leak the finding describes.
func TestEqualContentDifferentPaths(t *testing.T) {
	const n = 16
	body := pseudoRandom(41, 3*MinChunkSize+100)
	var tree []tentry
	for i := range n {
		tree = append(tree, tentry{name: fmt.Sprintf("etc/app%02d.conf", i), typ: tar.TypeReg, mode: 0o644, body: body})
	}
	tree = append(tree, tentry{name: "run/secrets/db", typ: tar.TypeReg, mode: 0o600, body: body})
	forVersions(t, func(t *testing.T, v uint32) {
		img, _ := packBytes(t, makeTar(t, tree), testKey, withVersion(v))
		chunks := chunksOf(t, img)
		if len(chunks) != (n+1)*4 {
			t.Fatalf("%d chunks, want %d", len(chunks), (n+1)*4)
		}
		byCT, byNonce := map[string]chunkUse{}, map[string]bool{}
		var equal []string
		for _, c := range chunks {
			if prev, ok := byCT[c.ct]; ok {
				equal = append(equal, fmt.Sprintf("%s#%d = %s#%d", prev.path, prev.chunk, c.path, c.chunk))
			}
			byCT[c.ct] = c
			byNonce[c.nonce] = true
		}
		switch v {
		case 1:
			// The leak: every copy of each chunk repeats the first, the
			// secret's included.
			if len(equal) != n*4 || len(byNonce) != 4 {
				t.Fatalf("version 1: %d equal chunk pairs, %d nonces; want %d and 4 (the leak)", len(equal), len(byNonce), n*4)
			}
		default:
			if len(equal) != 0 {
				t.Fatalf("%d equal ciphertexts for equal content at different paths, e.g. %v", len(equal), equal[:min(3, len(equal))])
			}
			if len(byNonce) != len(chunks) {
				t.Fatalf("%d nonces for %d chunks", len(byNonce), len(chunks))
			}
		}
	})
}

// TestDictionaryAttack reproduces the attack of security finding 6 from
// the image bytes alone, without the key: an image holds 10,000 files
// "db_password_pin=NNNN" (every candidate, in a known order) and a secret
// file with one of them. In version 1 the secret's ciphertext equals its
// candidate's, which gives the PIN away; in version 2 nothing matches.
func TestDictionaryAttack(t *testing.T) {
	const secretPIN = 4711
	var tree []tentry
	for i := range 10000 {
		tree = append(tree, tentry{name: fmt.Sprintf("dict/%04d", i), typ: tar.TypeReg, mode: 0o644, body: fmt.Appendf(nil, "db_password_pin=%04d", i)})
	}
	tree = append(tree, tentry{name: "secret/pin", typ: tar.TypeReg, mode: 0o600, body: fmt.Appendf(nil, "db_password_pin=%04d", secretPIN)})
	tarData := makeTar(t, tree)
	forVersions(t, func(t *testing.T, v uint32) {
		img, _ := packBytes(t, tarData, testKey, withVersion(v))
		pin, found := guessPIN(img)
		switch {
		case v == 1 && (!found || pin != secretPIN):
			t.Fatalf("version 1: attack gave %d, %v; the test no longer reproduces the finding", pin, found)
		case v >= 2 && found:
			t.Fatalf("version 2: the attack recovered PIN %04d from the image without the key", pin)
		}
	})
}

// guessPIN is the attacker: it knows the layout of the tree (20-byte
// files, the candidates in order, then the secret) but not the key. It
// finds the data region through the header.
func guessPIN(img []byte) (int, bool) {
	v := le.Uint32(img[8:])
	hb := img[len(img)-headerSize(v):]
	off, n := le.Uint64(hb[24:]), le.Uint64(hb[32:])
	data := img[off : off+n]
	const size = len("db_password_pin=0000")
	secret := data[len(data)-size:]
	for i := 0; i+size <= len(data)-size; i += size {
		if bytes.Equal(data[i:i+size], secret) {
			return i / size, true
		}
	}
	return 0, false
}

// TestSameFileAcrossImages: one file at one path in two images made with
// the same key: version 2 encrypts it differently unless the salt source
// is the same (the documented remaining equality: the same input).
func TestSameFileAcrossImages(t *testing.T) {
	shared := tentry{name: "etc/shadow", typ: tar.TypeReg, mode: 0o600, body: pseudoRandom(51, 2*MinChunkSize+3)}
	treeA := []tentry{shared, {name: "a", typ: tar.TypeReg, body: []byte("image A")}}
	treeB := []tentry{shared, {name: "b", typ: tar.TypeReg, body: []byte("image B")}}
	ctOf := func(img []byte) string {
		for _, c := range chunksOf(t, img) {
			if c.path == "/etc/shadow" && c.chunk == 0 {
				return c.ct
			}
		}
		t.Fatal("etc/shadow not found")
		return ""
	}
	forVersions(t, func(t *testing.T, v uint32) {
		a, _ := packBytes(t, makeTar(t, treeA), testKey, withVersion(v))
		b, _ := packBytes(t, makeTar(t, treeB), testKey, withVersion(v))
		if same := ctOf(a) == ctOf(b); same != (v == 1) {
			t.Fatalf("version %d: same ciphertext in both images: %v", v, same)
		}
		if v < 2 {
			return
		}
		src := WithSaltSource([]byte("one source"))
		a, _ = packBytes(t, makeTar(t, treeA), testKey, src)
		b, _ = packBytes(t, makeTar(t, treeB), testKey, src)
		if ctOf(a) != ctOf(b) {
			t.Fatal("the same salt source, path and content encrypt differently: not deterministic")
		}
	})
}

// TestSaltIsKeyed: the salt in the header is a keyed function of the salt
// source: the same tree with another key has an unrelated salt, and it is
// not a keyless hash of the source.
func TestSaltIsKeyed(t *testing.T) {
	tarData := makeTar(t, fullTree())
	a, _ := packBytes(t, tarData, testKey, WithSaltSource([]byte("src")))
	b, _ := packBytes(t, tarData, Key{7}, WithSaltSource([]byte("src")))
	ra, rb := openBytes(t, a, testKey), openBytes(t, b, Key{7})
	if ra.hdr.salt == rb.hdr.salt || ra.hdr.salt == [saltSize]byte{} {
		t.Fatal("the salt does not depend on the key")
	}
	if ra.hdr.salt == sha256.Sum256([]byte("src")) {
		t.Fatal("the salt is a keyless hash of its source")
	}
}

func TestPackErrors(t *testing.T) {
	salt := WithSaltSource([]byte("errors"))
	tests := []struct {
		name string
		ents []tentry
	}{
		{"dotdot", []tentry{{name: "a/../../etc/passwd", typ: tar.TypeReg}}},
		{"dangling hardlink", []tentry{{name: "a", typ: tar.TypeLink, link: "missing"}}},
		{"hardlink to dir", []tentry{{name: "d/", typ: tar.TypeDir}, {name: "l", typ: tar.TypeLink, link: "d"}}},
		{"file as parent", []tentry{{name: "f", typ: tar.TypeReg}, {name: "f/x", typ: tar.TypeReg}}},
		{"root not a dir", []tentry{{name: ".", typ: tar.TypeReg}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := Pack(context.Background(), &out, bytes.NewReader(makeTar(t, tc.ents)), testKey, salt)
			if !errors.Is(err, ErrInvalidInput) {
				t.Errorf("got %v, want ErrInvalidInput", err)
			}
		})
	}
	t.Run("truncated tar", func(t *testing.T) {
		data := makeTar(t, []tentry{{name: "f", typ: tar.TypeReg, body: make([]byte, 10000)}})
		_, err := Pack(context.Background(), &bytes.Buffer{}, bytes.NewReader(data[:3000]), testKey, salt)
		if !errors.Is(err, ErrInvalidInput) {
			t.Errorf("got %v, want ErrInvalidInput", err)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		for _, o := range []Option{WithChunkSize(1000), WithChunkSize(1 << 21), WithConcurrency(0), WithSaltSource([]byte{}), withVersion(3)} {
			if _, err := Pack(context.Background(), &bytes.Buffer{}, bytes.NewReader(nil), testKey, salt, o); err == nil {
				t.Error("bad option accepted")
			}
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		data := makeTar(t, fullTree())
		if _, err := Pack(ctx, &bytes.Buffer{}, bytes.NewReader(data), testKey, salt); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("write error", func(t *testing.T) {
		data := makeTar(t, []tentry{{name: "f", typ: tar.TypeReg, body: make([]byte, 4<<20)}})
		_, err := Pack(context.Background(), failWriter{}, bytes.NewReader(data), testKey, salt)
		if !errors.Is(err, errWriteFailed) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("no salt source", func(t *testing.T) {
		data := makeTar(t, fullTree())
		_, err := Pack(context.Background(), &bytes.Buffer{}, bytes.NewReader(data), testKey)
		if !errors.Is(err, ErrNoSaltSource) || !strings.Contains(err.Error(), "WithSaltSource") {
			t.Errorf("got %v, want ErrNoSaltSource naming the fix", err)
		}
		if _, err := Pack(context.Background(), &bytes.Buffer{}, bytes.NewReader(data), testKey, withVersion(1)); err != nil {
			t.Errorf("version 1 needs no salt source: %v", err)
		}
	})
	t.Run("skipped and replaced", func(t *testing.T) {
		ents := []tentry{{name: "a", typ: tar.TypeReg, body: []byte("old")}, {name: "a", typ: tar.TypeReg, body: []byte("new")},
			{name: "vol", typ: tar.TypeCont}}
		img, sum := packBytes(t, makeTar(t, ents), testKey)
		if len(sum.Skipped) != 2 {
			t.Errorf("Skipped = %q", sum.Skipped)
		}
		if b, err := openBytes(t, img, testKey).ReadFile("a"); err != nil || string(b) != "new" {
			t.Errorf("a = %q, %v", b, err)
		}
		if err := Verify(bytes.NewReader(img), int64(len(img)), testKey); err != nil {
			t.Error(err)
		}
	})
	t.Run("empty stream", func(t *testing.T) {
		img, sum := packBytes(t, nil, testKey)
		if sum.Dirs != 1 || sum.Files != 0 {
			t.Errorf("summary %+v", sum)
		}
		if ents, err := openBytes(t, img, testKey).ReadDir("."); err != nil || len(ents) != 0 {
			t.Errorf("ReadDir = %v, %v", ents, err)
		}
	})
}

var errWriteFailed = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errWriteFailed }
