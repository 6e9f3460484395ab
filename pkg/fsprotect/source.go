package fsprotect

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// PackPath packs src, a directory or a tar file (optionally gzip-compressed),
// like Pack. A directory is read with TarDir. Without WithSaltSource it
// reads src twice: first to derive the salt source from the tree (the one
// TreeSaltSource gives for the same entries), then to pack, streaming both
// times.
func PackPath(ctx context.Context, dst io.Writer, src string, key Key, opts ...Option) (*Summary, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.version >= 2 && !o.saltSet {
		var ss []byte
		err := withPathStream(ctx, src, func(r io.Reader) error {
			var err error
			ss, err = tarSaltSource(ctx, r)
			return err
		})
		if err != nil {
			return nil, err
		}
		opts = append(opts[:len(opts):len(opts)], WithSaltSource(ss))
	}
	var sum *Summary
	err = withPathStream(ctx, src, func(r io.Reader) error {
		var err error
		sum, err = Pack(ctx, dst, r, key, opts...)
		return err
	})
	return sum, err
}

// withPathStream calls f with the tar stream of src: TarDir of a directory,
// or the content of a (gzip-compressed) tar file.
func withPathStream(ctx context.Context, src string, f func(io.Reader) error) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("pack %q: %w", src, err)
	}
	if fi.IsDir() {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(TarDir(ctx, pw, src)) }()
		err := f(pr)
		pr.CloseWithError(io.ErrClosedPipe) // stop TarDir if f returned early
		return err
	}
	fl, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("pack %q: %w", src, err)
	}
	defer fl.Close()
	br := bufio.NewReaderSize(fl, 1<<20)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("read gzip stream %q: %w: %w", src, ErrInvalidInput, err)
		}
		defer zr.Close()
		r = zr
	}
	return f(r)
}

// TarDir writes a tar stream (PAX) of the tree under dir to w, in lexical
// order, with owners, modes, nanosecond mtimes, symlinks, hard links (files
// with several links become TypeLink entries to the first path), devices and
// fifos. Sockets are left out. Xattrs are not read.
func TarDir(ctx context.Context, w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	type devIno struct{ dev, ino uint64 }
	seen := map[devIno]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("archive %q: %w", p, err)
		}
		hdr.Name = rel
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Format = tar.FormatPAX
		hdr.Uname, hdr.Gname = "", ""
		hdr.AccessTime, hdr.ChangeTime = time0, time0
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
			k := devIno{uint64(st.Dev), uint64(st.Ino)}
			if first, ok := seen[k]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				seen[k] = rel
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("archive %q: %w", p, err)
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.CopyN(tw, f, hdr.Size)
			f.Close()
			if err != nil {
				return fmt.Errorf("archive %q: %w", p, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
