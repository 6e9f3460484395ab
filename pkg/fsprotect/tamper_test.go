package fsprotect

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
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

func tamperImage(t *testing.T) ([]byte, *Summary) {
	tree := fullTree()
	tree = append(tree, tentry{name: "big", typ: tar.TypeReg, mode: 0o644, body: pseudoRandom(11, 5*MinChunkSize)})
	return packBytes(t, makeTar(t, tree), testKey, WithChunkSize(MinChunkSize))
}

func TestTamperBitFlips(t *testing.T) {
	img, sum := tamperImage(t)
	r := rand.New(rand.NewPCG(1, 2))
	deadline := time.Now().Add(2 * time.Second)
	var n, atOpen int
	// Every bit of the header, then random bits anywhere until the deadline.
	for bit := (len(img) - HeaderSize) * 8; bit < len(img)*8 || time.Now().Before(deadline); bit++ {
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
}

func TestTamperTruncateAppend(t *testing.T) {
	img, sum := tamperImage(t)
	for _, cut := range []int{1, 15, 16, HeaderSize, HeaderSize + 1, len(img) / 2, len(img) - PreambleSize, len(img) - 1, len(img)} {
		_, err := Open(bytes.NewReader(img[:len(img)-cut]), int64(len(img)-cut), testKey)
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("truncated by %d: %v, want ErrTruncated", cut, err)
		}
	}
	for _, extra := range [][]byte{{0}, make([]byte, HeaderSize), img[len(img)-HeaderSize:]} {
		long := append(bytes.Clone(img), extra...)
		_, err := Open(bytes.NewReader(long), int64(len(long)), testKey)
		if err == nil {
			t.Errorf("appended %d bytes: accepted", len(extra))
		}
		if _, err := RootOf(bytes.NewReader(long), int64(len(long))); err == nil {
			t.Errorf("appended %d bytes: RootOf accepted", len(extra))
		}
	}
	_ = sum
}

// chunkSpan returns the image offset and length of chunk i of a file.
func chunkSpan(t *testing.T, rd *Reader, name string, i uint64) (int, int) {
	in := rd.x.inode(mustIno(t, rd, name))
	start := i * uint64(rd.cs)
	return int(in.dataOff + start), int(min(uint64(rd.cs), in.size-start))
}

func TestTamperSwapChunks(t *testing.T) {
	img, sum := tamperImage(t)
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
	imgA, sumA := tamperImage(t)
	tree := fullTree()
	tree[2].body = pseudoRandom(99, len(tree[2].body)) // bin/sh changed
	tree = append(tree, tentry{name: "big", typ: tar.TypeReg, mode: 0o644, body: pseudoRandom(12, 5*MinChunkSize)})
	imgB, sumB := packBytes(t, makeTar(t, tree), testKey, WithChunkSize(MinChunkSize))
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
		copy(m[len(m)-HeaderSize:], imgB[len(imgB)-HeaderSize:])
		detected(t, m, sumA.Root)
	})
}

func TestDeterminism(t *testing.T) {
	tarData := makeTar(t, fullTree())
	ref, _ := packBytes(t, tarData, testKey, WithChunkSize(MinChunkSize), WithConcurrency(1))
	for _, c := range []int{2, 3, 8} {
		got, _ := packBytes(t, tarData, testKey, WithChunkSize(MinChunkSize), WithConcurrency(c))
		if !bytes.Equal(got, ref) {
			t.Errorf("concurrency %d: output differs", c)
		}
	}
	other, _ := packBytes(t, tarData, Key{9}, WithChunkSize(MinChunkSize))
	if bytes.Equal(other, ref) {
		t.Error("another key gives the same image")
	}
}

// TestNonceUniqueness rebuilds a changed tree with the same key and checks
// that every nonce shared by the two builds protects the same chunk (same
// associated data and plaintext, hence the same ciphertext and tag).
func TestNonceUniqueness(t *testing.T) {
	tree := fullTree()
	imgA, _ := packBytes(t, makeTar(t, tree), testKey, WithChunkSize(MinChunkSize))
	body := bytes.Clone(tree[2].body)
	body[MinChunkSize+5] ^= 1 // chunk 1 of bin/sh changes
	tree[2].body = body
	tree[8].body = append(bytes.Clone(tree[8].body), 'x') // etc/exact grows: its size (AAD) changes
	imgB, _ := packBytes(t, makeTar(t, tree), testKey, WithChunkSize(MinChunkSize))
	type use struct {
		ct  string
		tag string
	}
	seen := map[string]use{}
	shared := 0
	for _, img := range [][]byte{imgA, imgB} {
		rd := openBytes(t, img, testKey)
		for i := range rd.x.inodes {
			in := &rd.x.inodes[i]
			if in.typ != typeFile {
				continue
			}
			for c := range chunkCount(in.size, rd.hdr.chunkLog2) {
				rec := rd.x.chunks[(in.chunkFirst+c)*chunkRecSize:][:chunkRecSize]
				start := in.dataOff + c*uint64(rd.cs)
				ct := string(img[start : start+min(uint64(rd.cs), in.size-c*uint64(rd.cs))])
				u := use{ct, string(rec[nonceSize:])}
				if prev, ok := seen[string(rec[:nonceSize])]; ok {
					shared++
					if prev != u {
						t.Fatalf("nonce reused for a different chunk")
					}
				}
				seen[string(rec[:nonceSize])] = u
			}
		}
	}
	if shared == 0 {
		t.Error("no unchanged chunk shared its nonce: determinism broken?")
	}
}

func TestPackErrors(t *testing.T) {
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
			_, err := Pack(context.Background(), &out, bytes.NewReader(makeTar(t, tc.ents)), testKey)
			if !errors.Is(err, ErrInvalidInput) {
				t.Errorf("got %v, want ErrInvalidInput", err)
			}
		})
	}
	t.Run("truncated tar", func(t *testing.T) {
		data := makeTar(t, []tentry{{name: "f", typ: tar.TypeReg, body: make([]byte, 10000)}})
		_, err := Pack(context.Background(), &bytes.Buffer{}, bytes.NewReader(data[:3000]), testKey)
		if !errors.Is(err, ErrInvalidInput) {
			t.Errorf("got %v, want ErrInvalidInput", err)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		for _, o := range []Option{WithChunkSize(1000), WithChunkSize(1 << 21), WithConcurrency(0)} {
			if _, err := Pack(context.Background(), &bytes.Buffer{}, bytes.NewReader(nil), testKey, o); err == nil {
				t.Error("bad option accepted")
			}
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		data := makeTar(t, fullTree())
		if _, err := Pack(ctx, &bytes.Buffer{}, bytes.NewReader(data), testKey); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("write error", func(t *testing.T) {
		data := makeTar(t, []tentry{{name: "f", typ: tar.TypeReg, body: make([]byte, 4<<20)}})
		_, err := Pack(context.Background(), failWriter{}, bytes.NewReader(data), testKey)
		if !errors.Is(err, errWriteFailed) {
			t.Errorf("got %v", err)
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
