package fsprotect

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// tentry describes one tar entry of a test tree.
type tentry struct {
	name     string
	typ      byte
	mode     int64
	body     []byte
	link     string
	uid, gid int
	xattrs   map[string]string
	major    int64
	minor    int64
	mtime    time.Time
}

func makeTar(t testing.TB, ents []tentry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			Linkname: e.link, Devmajor: e.major, Devminor: e.minor, ModTime: e.mtime, Format: tar.FormatPAX}
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1700000000, 123456789)
		}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if len(e.xattrs) > 0 {
			h.PAXRecords = map[string]string{}
			for k, v := range e.xattrs {
				h.PAXRecords["SCHILY.xattr."+k] = v
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write(e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pseudoRandom(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

var testKey = Key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

// fullTree has every entry type, empty files, sizes around chunk
// boundaries (chunk size 4 KiB), unicode names and xattrs.
func fullTree() []tentry {
	cs := MinChunkSize
	return []tentry{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "bin/sh", typ: tar.TypeReg, mode: 0o4755, body: pseudoRandom(1, 3*cs+17), xattrs: map[string]string{"security.capability": "\x01\x00\x00\x02", "user.a": "b"}},
		{name: "bin/ash", typ: tar.TypeLink, link: "bin/sh"},
		{name: "bin/busybox", typ: tar.TypeSymlink, link: "sh", mode: 0o777},
		{name: "etc/", typ: tar.TypeDir, mode: 0o755, uid: 0, gid: 0},
		{name: "etc/empty", typ: tar.TypeReg, mode: 0o644},
		{name: "etc/one", typ: tar.TypeReg, mode: 0o600, uid: 1000, gid: 1001, body: []byte("x")},
		{name: "etc/exact", typ: tar.TypeReg, mode: 0o644, body: pseudoRandom(2, cs)},
		{name: "etc/exact2", typ: tar.TypeReg, mode: 0o644, body: pseudoRandom(3, 2*cs)},
		{name: "etc/minus1", typ: tar.TypeReg, mode: 0o644, body: pseudoRandom(4, cs-1)},
		{name: "etc/plus1", typ: tar.TypeReg, mode: 0o644, body: pseudoRandom(5, cs+1)},
		{name: "etc/same", typ: tar.TypeReg, mode: 0o644, body: pseudoRandom(4, cs-1)},
		{name: "usr/share/ünïcødé/日本語.txt", typ: tar.TypeReg, mode: 0o644, body: []byte("こんにちは\n")},
		{name: "usr/lib/abs", typ: tar.TypeSymlink, link: "/bin/sh"},
		{name: "usr/lib/dir/", typ: tar.TypeDir, mode: 0o700, uid: 5, gid: 6, xattrs: map[string]string{"user.dir": ""}},
		{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660, major: 8, minor: 0},
		{name: "run/fifo", typ: tar.TypeFifo, mode: 0o644},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
	}
}

// packBytes packs a tar stream; without WithSaltSource, with the salt
// source PackTree and PackTarFile would derive from its entries.
func packBytes(t testing.TB, tarData []byte, key Key, opts ...Option) ([]byte, *Summary) {
	t.Helper()
	if o, err := buildOptions(opts); err == nil && o.version >= 2 && !o.saltSet {
		ents, err := readTarEntries(context.Background(), bytes.NewReader(tarData))
		if err != nil {
			t.Fatal(err)
		}
		ss, err := TreeSaltSource(context.Background(), ents)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts[:len(opts):len(opts)], WithSaltSource(ss))
	}
	var out bytes.Buffer
	sum, err := Pack(context.Background(), &out, bytes.NewReader(tarData), key, opts...)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return out.Bytes(), sum
}

func openBytes(t testing.TB, img []byte, key Key, opts ...Option) *Reader {
	t.Helper()
	rd, err := Open(bytes.NewReader(img), int64(len(img)), key, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return rd
}

// readTarEntries reads a whole tar stream into memory, as PackTree entries
// (what Pack reads from it).
func readTarEntries(ctx context.Context, r io.Reader) (sliceEntries, error) {
	tr := tar.NewReader(r)
	var out sliceEntries
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read tar stream: %w: %w", ErrInvalidInput, err)
		}
		e := tarEntry(hdr)
		if e.Type == tar.TypeReg {
			// Grow with the data actually read: the header's size is
			// not trusted for an allocation.
			var buf bytes.Buffer
			if hdr.Size > 0 && hdr.Size <= 64<<20 {
				buf.Grow(int(hdr.Size))
			}
			n, err := io.Copy(&buf, tr)
			if err == nil && n != hdr.Size {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				return nil, fmt.Errorf("read tar entry %q: %w: %w", hdr.Name, ErrInvalidInput, err)
			}
			e.Content = buf.Bytes()
		}
		out = append(out, e)
	}
}

// sliceEntries is an EntrySource over entries held in memory.
type sliceEntries []TreeEntry

func (s sliceEntries) Entries(yield func(*TreeEntry) error) error {
	for i := range s {
		if err := yield(&s[i]); err != nil {
			return err
		}
	}
	return nil
}
