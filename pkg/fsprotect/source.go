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
// like Pack. A directory is read with TarDir.
func PackPath(ctx context.Context, dst io.Writer, src string, key Key, opts ...Option) (*Summary, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("pack %q: %w", src, err)
	}
	if fi.IsDir() {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(TarDir(ctx, pw, src)) }()
		sum, err := Pack(ctx, dst, pr, key, opts...)
		pr.CloseWithError(io.ErrClosedPipe) // stop TarDir if Pack failed early
		return sum, err
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("pack %q: %w", src, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read gzip stream %q: %w: %w", src, ErrInvalidInput, err)
		}
		defer zr.Close()
		r = zr
	}
	return Pack(ctx, dst, r, key, opts...)
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
