package fsprotect

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
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
// tar stream of the same entries, with the salt source derived from the
// tree or given, with or without pre-encrypted contents (including
// contents of files that are not in the tree, and caches made for another
// chunk size or salt source, which must be ignored).
func TestPackTreeEqualsPack(t *testing.T) {
	ents := packTreeTestEntries()
	src := treeEntries(ents)
	salt := WithSaltSource([]byte("layers of the test tree"))
	for _, cs := range []int{MinChunkSize, 16 << 10} {
		for _, workers := range []int{1, 3} {
			name := fmt.Sprintf("cs %d workers %d", cs, workers)
			opts := []Option{WithChunkSize(cs), WithConcurrency(workers)}
			// Salt source derived from the tree: packBytes from the
			// stream read into memory, PackTree by reading the tree twice.
			want, wsum := packBytes(t, makeTar(t, ents), testKey, opts...)
			got, gsum := packTree(t, src, opts...)
			if !bytes.Equal(got, want) || gsum.Root != wsum.Root {
				t.Fatalf("%s: PackTree differs from Pack", name)
			}
			if gsum.Files != wsum.Files || gsum.Hardlinks != wsum.Hardlinks || gsum.BytesIn != wsum.BytesIn || len(gsum.Skipped) != len(wsum.Skipped) {
				t.Fatalf("summaries differ: %+v vs %+v", gsum, wsum)
			}
			ts, err := TreeSaltSource(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			if explicit, _ := packTree(t, src, append(opts, WithSaltSource(ts))...); !bytes.Equal(explicit, want) {
				t.Fatalf("%s: PackTree with TreeSaltSource differs from the default", name)
			}

			// Salt source given.
			opts = append(opts, salt)
			want, wsum = packBytes(t, makeTar(t, ents), testKey, opts...)
			if bytes.Equal(want, got) {
				t.Fatalf("%s: another salt source gives the same image", name)
			}
			got, _ = packTree(t, src, opts...)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: PackTree differs from Pack with a salt source", name)
			}
			cache, err := NewContentCache(testKey, WithChunkSize(cs), salt)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range src {
				if i%3 != 2 { // some contents left to the packer
					if err := cache.Encrypt(e.Path, e.Content); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := cache.Encrypt("deleted", pseudoRandom(99, 9000)); err != nil { // a deleted file
				t.Fatal(err)
			}
			if cache.Len() == 0 {
				t.Fatal("cache empty")
			}
			got, csum := packTree(t, src, append(opts, WithContentCache(cache))...)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: PackTree with cache differs from Pack", name)
			}
			var cached int64
			for i, e := range src {
				if i%3 != 2 && e.Type == tar.TypeReg {
					cached += int64(len(e.Content))
				}
			}
			if csum.BytesCached != cached || wsum.BytesCached != 0 {
				t.Fatalf("%s: %d bytes from the cache, want %d", name, csum.BytesCached, cached)
			}
			for _, c := range []*ContentCache{nil, cache} {
				parts, psum, err := PackTreeParts(context.Background(), src, testKey, append(opts, WithContentCache(c))...)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(bytes.Join(parts, nil), want) || psum.Root != wsum.Root {
					t.Fatalf("%s cache %v: PackTreeParts differs from Pack", name, c != nil)
				}
			}
			for _, foreign := range [][]Option{
				{WithChunkSize(2 * cs), salt},
				{WithChunkSize(cs), WithSaltSource([]byte("another tree"))},
			} {
				other, err := NewContentCache(testKey, foreign...)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range src {
					other.Encrypt(e.Path, e.Content)
				}
				got, _ = packTree(t, src, append(opts, WithContentCache(other))...)
				if !bytes.Equal(got, want) {
					t.Fatalf("%s: PackTree with a foreign cache differs from Pack", name)
				}
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

// TestContentCachePaths: cached ciphertext is used only for the path it
// was encrypted for; content cached under another path (a hard link whose
// first name in the tree differs, a file moved) is encrypted again, and the
// image is the one Pack makes.
func TestContentCachePaths(t *testing.T) {
	body := pseudoRandom(31, 3*MinChunkSize+5)
	ents := []tentry{
		{name: "z/first", typ: tar.TypeReg, mode: 0o644, body: body},
		{name: "a", typ: tar.TypeLink, link: "z/first"},
		{name: "other", typ: tar.TypeReg, mode: 0o644, body: []byte("other content")},
	}
	src := treeEntries(ents)
	salt := WithSaltSource([]byte("paths"))
	want, _ := packBytes(t, makeTar(t, ents), testKey, salt)
	cache, err := NewContentCache(testKey, salt)
	if err != nil {
		t.Fatal(err)
	}
	// The content under its other name and under a canonical spelling of
	// its own; "other" under another path only.
	for _, c := range []struct {
		path string
		body []byte
	}{{"a", src[0].Content}, {"./z//first/", src[0].Content}, {"elsewhere", src[2].Content}} {
		if err := cache.Encrypt(c.path, c.body); err != nil {
			t.Fatal(err)
		}
	}
	got, sum := packTree(t, src, salt, WithContentCache(cache))
	if !bytes.Equal(got, want) {
		t.Fatal("PackTree with a cache under other paths differs from Pack")
	}
	if sum.BytesCached != int64(len(body)) {
		t.Fatalf("%d bytes from the cache, want %d (z/first, under its canonical path)", sum.BytesCached, len(body))
	}
	for _, bad := range []string{"", ".", "x/../y", "a\x00b"} {
		if err := cache.Encrypt(bad, body); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Encrypt(%q): %v, want ErrInvalidInput", bad, err)
		}
	}
	if _, err := NewContentCache(testKey); err == nil || !strings.Contains(err.Error(), "WithSaltSource") {
		t.Errorf("NewContentCache without a salt source: %v", err)
	}
	if _, err := NewContentCache(testKey, WithSaltSource(nil)); err == nil {
		t.Error("NewContentCache with an empty salt source accepted")
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
