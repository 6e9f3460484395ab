package fsprotect

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
)

// PackTarFile packs the tar file src (optionally gzip-compressed), like
// Pack. Without WithSaltSource it reads src twice: first to derive the salt
// source from the tree (the one TreeSaltSource gives for the same entries),
// then to pack, streaming both times. (A host directory is a tree: read it
// with pkg/rootfs and pack its Entries with PackTree.)
func PackTarFile(ctx context.Context, dst io.Writer, src string, key Key, opts ...Option) (*Summary, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	needSalt := o.version >= 2 && !o.saltSet
	if needSalt || o.trainDict {
		// One pass for both: the salt source and the dictionary's samples.
		var ss []byte
		var smp *dictSampler
		if o.trainDict {
			smp = &dictSampler{}
		}
		err := withPathStream(ctx, src, func(r io.Reader) error {
			var err error
			ss, err = tarSaltSource(ctx, r, smp)
			return err
		})
		if err != nil {
			return nil, err
		}
		opts = opts[:len(opts):len(opts)]
		if needSalt {
			opts = append(opts, WithSaltSource(ss))
		}
		if smp != nil {
			d, err := TrainDictionaryFromSamples(smp.samples())
			if err != nil {
				return nil, err
			}
			opts = append(opts, withTrained(d))
		}
	}
	var sum *Summary
	err = withPathStream(ctx, src, func(r io.Reader) error {
		var err error
		sum, err = Pack(ctx, dst, r, key, opts...)
		return err
	})
	return sum, err
}

// withPathStream calls f with the content of the (gzip-compressed) tar
// file src.
func withPathStream(ctx context.Context, src string, f func(io.Reader) error) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("pack %q: %w", src, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("pack %q: %w: a directory, not a tar file (read directories with pkg/rootfs and pack their entries with PackTree)", src, ErrInvalidInput)
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
	if err := ctx.Err(); err != nil {
		return err
	}
	return f(r)
}
