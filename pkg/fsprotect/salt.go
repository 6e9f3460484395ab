package fsprotect

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// treeSaltDomain starts the tree salt source (docs/fsprotect.md).
const treeSaltDomain = "scone-fsp v2 tree\n"

// TreeSaltSource returns the salt source PackTree uses for src when not
// given one (WithSaltSource): a SHA-256 over every entry's metadata, as
// the packer reads it, and the SHA-256 of every regular file's content
// (docs/fsprotect.md). It reads every content once, on WithConcurrency
// goroutines. Paths that cannot be packed fail with ErrInvalidInput.
//
// Give it to NewContentCache (and then to PackTree) to encrypt a tree's
// contents ahead of packing when nothing better identifies the tree.
func TreeSaltSource(ctx context.Context, src EntrySource, opts ...Option) ([]byte, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	return treeSaltSource(ctx, src, o.concurrency)
}

func treeSaltSource(ctx context.Context, src EntrySource, workers int) ([]byte, error) {
	var recs [][]byte
	var contents [][]byte // regular files' contents
	var isFile []bool
	err := src.Entries(func(e *TreeEntry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := entryRecord(e, int64(len(e.Content)))
		if err != nil {
			return err
		}
		recs = append(recs, r)
		contents = append(contents, e.Content)
		isFile = append(isFile, e.Type == tar.TypeReg)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Content hashes in parallel, one file per goroutine at a time.
	sums := make([][32]byte, len(contents))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(contents) || ctx.Err() != nil {
					return
				}
				if isFile[i] { // empty files too: SHA-256 of nothing
					sums[i] = sha256.Sum256(contents[i])
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h := sha256.New()
	io.WriteString(h, treeSaltDomain)
	for i, r := range recs {
		h.Write(r)
		h.Write(sums[i][:])
	}
	return h.Sum(nil), nil
}

// tarSaltSource is treeSaltSource of the entries of a tar stream (what
// Pack reads from it), computed while streaming.
func tarSaltSource(ctx context.Context, r io.Reader, s *dictSampler) ([]byte, error) {
	tr := tar.NewReader(r)
	h := sha256.New()
	io.WriteString(h, treeSaltDomain)
	ch := sha256.New()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return h.Sum(nil), nil
		}
		if err != nil {
			return nil, fmt.Errorf("read tar stream: %w: %w", ErrInvalidInput, err)
		}
		e := tarEntry(hdr)
		size := int64(0)
		if e.Type == tar.TypeReg {
			size = hdr.Size
		}
		rec, err := entryRecord(&e, size)
		if err != nil {
			return nil, err
		}
		h.Write(rec)
		var sum [32]byte
		if e.Type == tar.TypeReg {
			ch.Reset()
			var dst io.Writer = ch
			var sw *sampleWriter
			if s != nil {
				sw = &sampleWriter{s: s}
				dst = io.MultiWriter(ch, sw)
			}
			if err := copyContent(dst, tr, hdr); err != nil {
				return nil, err
			}
			if sw != nil {
				sw.flush()
			}
			ch.Sum(sum[:0])
		}
		h.Write(sum[:])
	}
}

func copyContent(dst io.Writer, tr *tar.Reader, hdr *tar.Header) error {
	n, err := io.Copy(dst, tr)
	if err == nil && n != hdr.Size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("read tar entry %q: %w: %w", hdr.Name, ErrInvalidInput, err)
	}
	return nil
}

// entryRecord encodes what the packer takes from an entry (docs/fsprotect.md,
// "Salt source of a tree"), normalized as add normalizes it; size is a
// regular file's content length. The content's hash follows it in the salt
// source.
func entryRecord(e *TreeEntry, size int64) ([]byte, error) {
	parts, err := splitPath(e.Path)
	if err != nil {
		return nil, err
	}
	typ := e.Type
	var link string
	switch typ {
	case tar.TypeSymlink:
		link = e.Linkname
	case tar.TypeLink:
		lp, err := splitPath(e.Linkname)
		if err != nil {
			return nil, err
		}
		link = strings.Join(lp, "/")
	}
	if typ != tar.TypeReg {
		size = 0
	}
	if size < 0 {
		return nil, invalid("pack file %q: negative size", e.Path)
	}
	var b []byte
	u32 := func(v uint32) { b = le.AppendUint32(b, v) }
	str := func(s string) { u32(uint32(len(s))); b = append(b, s...) }
	b = append(b, typ)
	str(strings.Join(parts, "/"))
	u32(uint32(e.Mode) & 0o7777)
	u32(uint32(e.UID))
	u32(uint32(e.GID))
	var sec int64
	var nsec uint32
	if !e.ModTime.IsZero() {
		sec, nsec = e.ModTime.Unix(), uint32(e.ModTime.Nanosecond())
	}
	b = le.AppendUint64(b, uint64(sec))
	u32(nsec)
	str(link)
	var major, minor uint32
	if typ == tar.TypeChar || typ == tar.TypeBlock {
		major, minor = uint32(e.Devmajor), uint32(e.Devminor)
	}
	u32(major)
	u32(minor)
	var names []string
	for k := range e.Xattrs {
		if keptXattr(k) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	u32(uint32(len(names)))
	for _, k := range names {
		str(k)
		str(e.Xattrs[k])
	}
	b = le.AppendUint64(b, uint64(size))
	return b, nil
}

// keptXattr reports whether the packer keeps an xattr of this name.
func keptXattr(name string) bool {
	return name != "" && len(name) <= maxNameLen && !strings.ContainsRune(name, 0)
}
