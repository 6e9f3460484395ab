package fsprotect

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

type sliceSource []TreeEntry

func (s sliceSource) Entries(yield func(*TreeEntry) error) error {
	for i := range s {
		if err := yield(&s[i]); err != nil {
			return err
		}
	}
	return nil
}

// treeEntries is what Pack reads from makeTar(ents), as TreeEntries.
func treeEntries(ents []tentry) sliceSource {
	var out sliceSource
	for _, e := range ents {
		mt := e.mtime
		if mt.IsZero() {
			mt = time.Unix(1700000000, 123456789)
		}
		te := TreeEntry{Path: e.name, Type: e.typ, Mode: e.mode, UID: e.uid, GID: e.gid, ModTime: mt,
			Linkname: e.link, Xattrs: e.xattrs, Devmajor: e.major, Devminor: e.minor}
		if e.typ == tar.TypeReg {
			te.Content = e.body
		}
		out = append(out, te)
	}
	return out
}

// packTreeTestEntries: fullTree plus a file replaced by a later entry,
// files spanning several pipeline jobs and a hard link to a big file.
func packTreeTestEntries() []tentry {
	ents := fullTree()
	return append(ents,
		tentry{name: "big/a", typ: tar.TypeReg, mode: 0o644, body: pseudoRandom(10, 600<<10+5)},
		tentry{name: "big/b", typ: tar.TypeLink, link: "big/a"},
		tentry{name: "big/c", typ: tar.TypeReg, mode: 0o644, body: pseudoRandom(11, 256<<10)},
		tentry{name: "etc/one", typ: tar.TypeReg, mode: 0o640, body: []byte("replaced")},
		tentry{name: "etc/zero", typ: tar.TypeReg, mode: 0o640, body: []byte{}},
	)
}

func packTree(t *testing.T, src EntrySource, opts ...Option) ([]byte, *Summary) {
	t.Helper()
	var out bytes.Buffer
	sum, err := PackTree(context.Background(), &out, src, testKey, opts...)
	if err != nil {
		t.Fatalf("PackTree: %v", err)
	}
	return out.Bytes(), sum
}

// TestPackTreeEqualsPack: PackTree writes the bytes Pack writes for the
// tar stream of the same entries, with or without pre-encrypted contents
// (including contents of files that are not in the tree, and a cache made
// for another chunk size, which must be ignored).
func TestPackTreeEqualsPack(t *testing.T) {
	ents := packTreeTestEntries()
	src := treeEntries(ents)
	for _, cs := range []int{MinChunkSize, 16 << 10} {
		for _, workers := range []int{1, 3} {
			opts := []Option{WithChunkSize(cs), WithConcurrency(workers)}
			want, wsum := packBytes(t, makeTar(t, ents), testKey, opts...)
			got, gsum := packTree(t, src, opts...)
			if !bytes.Equal(got, want) || gsum.Root != wsum.Root {
				t.Fatalf("cs %d workers %d: PackTree differs from Pack", cs, workers)
			}
			if gsum.Files != wsum.Files || gsum.Hardlinks != wsum.Hardlinks || gsum.BytesIn != wsum.BytesIn || len(gsum.Skipped) != len(wsum.Skipped) {
				t.Fatalf("summaries differ: %+v vs %+v", gsum, wsum)
			}

			cache, err := NewContentCache(testKey, WithChunkSize(cs))
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range src {
				if i%3 != 2 { // some contents left to the packer
					if err := cache.Encrypt(e.Content); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := cache.Encrypt(pseudoRandom(99, 9000)); err != nil { // a deleted file
				t.Fatal(err)
			}
			if cache.Len() == 0 {
				t.Fatal("cache empty")
			}
			got, _ = packTree(t, src, append(opts, WithContentCache(cache))...)
			if !bytes.Equal(got, want) {
				t.Fatalf("cs %d workers %d: PackTree with cache differs from Pack", cs, workers)
			}
			for _, c := range []*ContentCache{nil, cache} {
				parts, psum, err := PackTreeParts(context.Background(), src, testKey, append(opts, WithContentCache(c))...)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(bytes.Join(parts, nil), want) || psum.Root != wsum.Root {
					t.Fatalf("cs %d workers %d cache %v: PackTreeParts differs from Pack", cs, workers, c != nil)
				}
			}
			other, err := NewContentCache(testKey, WithChunkSize(2*cs))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range src {
				other.Encrypt(e.Content)
			}
			got, _ = packTree(t, src, append(opts, WithContentCache(other))...)
			if !bytes.Equal(got, want) {
				t.Fatalf("cs %d workers %d: PackTree with a foreign cache differs from Pack", cs, workers)
			}
			cache.Reset()
			if cache.Len() != 0 || cache.Bytes() != 0 {
				t.Fatal("Reset left entries")
			}
		}
	}
	// The image reads back.
	img, _ := packTree(t, src)
	rd := openBytes(t, img, testKey)
	b, err := rd.ReadFile("big/b")
	if err != nil || !bytes.Equal(b, ents[len(ents)-5].body) {
		t.Fatalf("read back big/b: %v", err)
	}
}

func TestPackTreeErrors(t *testing.T) {
	bad := sliceSource{{Path: "a/../b", Type: tar.TypeReg, Content: []byte("x")}}
	if _, err := PackTree(context.Background(), &bytes.Buffer{}, bad, testKey); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("got %v, want ErrInvalidInput", err)
	}
	dangling := sliceSource{{Path: "b", Type: tar.TypeLink, Linkname: "nope"}}
	if _, err := PackTree(context.Background(), &bytes.Buffer{}, dangling, testKey); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("got %v, want ErrInvalidInput", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := PackTree(ctx, &bytes.Buffer{}, treeEntries(fullTree()), testKey); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if _, err := PackTree(context.Background(), failWriter{}, treeEntries(packTreeTestEntries()), testKey); !errors.Is(err, errWriteFailed) {
		t.Fatalf("got %v, want the write error", err)
	}
}
