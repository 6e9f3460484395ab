package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/fskey"
	"github.com/scone-build/scone-build/pkg/fsprotect"
	"github.com/scone-build/scone-build/pkg/rootfs"
)

// fsKeyError marks a problem with the --fs-key of the fs commands.
type fsKeyError struct{ err error }

func (e fsKeyError) Error() string { return e.err.Error() }
func (e fsKeyError) Unwrap() error { return e.err }

type fsOptions struct {
	keyFile    string
	chunkSize  int
	compress   string
	dictionary string
	expectRoot string
}

func (o *fsOptions) key() (fsprotect.Key, error) {
	if o.keyFile == "" {
		return fsprotect.Key{}, usagef("--fs-key is required")
	}
	kf, err := fskey.Load(o.keyFile)
	if err != nil {
		return fsprotect.Key{}, fsKeyError{err}
	}
	return kf.Key, nil
}

func (o *fsOptions) readOpts() ([]fsprotect.Option, error) {
	if o.expectRoot == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(o.expectRoot)
	if err != nil || len(b) != 32 {
		return nil, usagef("--expect-root: want 64 hex digits")
	}
	return []fsprotect.Option{fsprotect.WithExpectedRoot([32]byte(b))}, nil
}

// openImage opens IMAGE with the key; the caller closes the file.
func (o *fsOptions) openImage(name string) (*fsprotect.Reader, *os.File, error) {
	k, err := o.key()
	if err != nil {
		return nil, nil, err
	}
	opts, err := o.readOpts()
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("open FS image %q: %w", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open FS image %q: %w", name, err)
	}
	rd, err := fsprotect.Open(f, fi.Size(), k, opts...)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open FS image %q: %w", name, err)
	}
	return rd, f, nil
}

// writeAtomic writes OUT through a temporary file in the same directory and
// renames it into place only when write succeeded.
func writeAtomic(out string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create %q: %w", out, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %q: %w", out, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %q: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %q: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("write %q: %w", out, err)
	}
	return nil
}

func newFSCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fs",
		Short: "Create, list, read and verify protected FS images (docs/fsprotect.md; versions 1 and 2)",
	}
	addKey := func(c *cobra.Command, o *fsOptions, required bool) {
		help := "FS key file (64 hex digits or 32 raw bytes)"
		if !required {
			help += "; without it only the keyless root check runs"
		}
		c.Flags().StringVar(&o.keyFile, "fs-key", "", help)
	}
	addRoot := func(c *cobra.Command, o *fsOptions) {
		c.Flags().StringVar(&o.expectRoot, "expect-root", "", "refuse the image unless its root hash is this (64 hex digits)")
	}

	po := &fsOptions{}
	pack := &cobra.Command{
		Use:   "pack DIR|TAR OUT --fs-key FILE",
		Short: "Pack a directory or a tar file (.tar or .tar.gz) into a protected FS image",
		Long: `Packs a directory tree or a tar file (optionally gzip-compressed) into a
protected FS image written to OUT (through a temporary file, so OUT is never
left half-written), format version 2. A directory is read as 'convert dir:'
reads it (modification times to the second, xattrs kept). Prints the root
hash and a summary. The output is the same for the same input, key, chunk
size, compression and dictionary. The input is read twice: once to derive the image salt
from the tree and sample the dictionary, once to encrypt it (docs/fsprotect.md).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := po.key()
			if err != nil {
				return err
			}
			comp, err := fsprotect.ParseCompression(po.compress)
			if err != nil {
				return usagef("--compression %q: want one of %s", po.compress, strings.Join(fsprotect.CompressionNames(), ", "))
			}
			opts := []fsprotect.Option{fsprotect.WithChunkSize(po.chunkSize), fsprotect.WithCompression(comp)}
			switch po.dictionary {
			case "image":
				if comp != fsprotect.CompressionNone {
					opts = append(opts, fsprotect.WithTrainedDictionary())
				}
			case "none":
			default:
				return usagef("--dictionary %q: want image or none", po.dictionary)
			}
			var sum *fsprotect.Summary
			err = writeAtomic(args[1], func(w io.Writer) error {
				var err error
				sum, err = packPath(cmd.Context(), w, args[0], k, opts...)
				return err
			})
			if err != nil {
				return err
			}
			for _, s := range sum.Skipped {
				a.log.Warn("skipped", "entry", s)
			}
			fmt.Fprintf(a.stdout, "root %x\n", sum.Root)
			fmt.Fprintf(a.stdout, "files %d, dirs %d, symlinks %d, hardlinks %d, devices %d, fifos %d, skipped %d\n",
				sum.Files, sum.Dirs, sum.Symlinks, sum.Hardlinks, sum.Devices, sum.Fifos, len(sum.Skipped))
			fmt.Fprintf(a.stdout, "bytes in %d, image %d, chunk size %d, format version %d, compression %s, dictionary %d bytes\n", sum.BytesIn, sum.BytesOut, sum.ChunkSize, sum.Version, sum.Compression, sum.Dictionary)
			return nil
		},
	}
	addKey(pack, po, true)
	pack.Flags().IntVar(&po.chunkSize, "chunk-size", fsprotect.DefaultChunkSize, "content chunk size in bytes (power of two, 4096..1048576)")
	pack.Flags().StringVar(&po.compress, "compression", "lz4", "chunk compression: lz4, lz4hc or none (docs/fsprotect.md)")
	pack.Flags().StringVar(&po.dictionary, "dictionary", "image", "with compression, what chunks are compressed against: image (a dictionary trained from the input, carried encrypted in the image) or none (docs/fsprotect.md)")

	lo := &fsOptions{}
	ls := &cobra.Command{
		Use:   "ls IMAGE --fs-key FILE",
		Short: "List every entry of an image (like ls -l)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rd, f, err := lo.openImage(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			return listFS(a.stdout, rd)
		},
	}
	addKey(ls, lo, true)
	addRoot(ls, lo)

	co := &fsOptions{}
	cat := &cobra.Command{
		Use:   "cat IMAGE PATH --fs-key FILE",
		Short: "Write the content of one file of an image to stdout (symlinks followed)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rd, f, err := co.openImage(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			name := filepath.ToSlash(filepath.Clean("/" + args[1]))[1:]
			if name == "" {
				name = "."
			}
			in, err := rd.Open(name)
			if errors.Is(err, fs.ErrNotExist) {
				return usagef("read %q from %q: no such file in the image", args[1], args[0])
			}
			if err != nil {
				return fmt.Errorf("read %q from %q: %w", args[1], args[0], err)
			}
			defer in.Close()
			if _, err := io.Copy(a.stdout, in); err != nil {
				return fmt.Errorf("read %q from %q: %w", args[1], args[0], err)
			}
			return nil
		},
	}
	addKey(cat, co, true)
	addRoot(cat, co)

	eo := &fsOptions{}
	extract := &cobra.Command{
		Use:   "extract IMAGE DIR --fs-key FILE",
		Short: "Extract an image into a directory (modes and mtimes kept; owners, xattrs and devices not)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rd, f, err := eo.openImage(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			rep, err := rd.Extract(cmd.Context(), args[1])
			if err != nil {
				return err
			}
			for _, s := range rep.Skipped {
				a.log.Warn("not extracted", "entry", s)
			}
			fmt.Fprintf(a.stdout, "extracted %d files, %d dirs, %d symlinks, %d hardlinks; skipped %d\n",
				rep.Files, rep.Dirs, rep.Symlinks, rep.Hardlinks, len(rep.Skipped))
			return nil
		},
	}
	addKey(extract, eo, true)
	addRoot(extract, eo)

	vo := &fsOptions{}
	verify := &cobra.Command{
		Use:   "verify IMAGE [--fs-key FILE] [--expect-root HEX]",
		Short: "Check a whole image: with the key, authenticate every byte; without, check the root hash",
		Long: `With --fs-key, authenticates the header, the index and every chunk of every
file. Without it, recomputes the root hash and checks that the image hashes
to it (any modified byte changes the root). --expect-root compares the root
with the one from the measured enclave config. Prints the root hash.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := vo.readOpts()
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("verify FS image %q: %w", args[0], err)
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return fmt.Errorf("verify FS image %q: %w", args[0], err)
			}
			var root [32]byte
			version, storage := 0, ""
			if vo.keyFile != "" {
				k, err := vo.key()
				if err != nil {
					return err
				}
				rd, err := fsprotect.Open(f, fi.Size(), k, opts...)
				if err == nil {
					err = rd.Verify()
				}
				if err != nil {
					return fmt.Errorf("verify FS image %q: %w", args[0], err)
				}
				root, version = rd.Root(), rd.Version()
				switch {
				case rd.DictionarySize() > 0:
					storage = fmt.Sprintf(", chunks LZ4-compressed against a %d-byte dictionary", rd.DictionarySize())
				case rd.Compressed():
					storage = ", chunks LZ4-compressed"
				}
			} else {
				if root, err = fsprotect.RootOf(f, fi.Size()); err != nil {
					return fmt.Errorf("verify FS image %q: %w", args[0], err)
				}
				if vo.expectRoot != "" && hex.EncodeToString(root[:]) != vo.expectRoot {
					return fmt.Errorf("verify FS image %q: %w", args[0], &fsprotect.AuthError{Part: fsprotect.PartRoot,
						Msg: fmt.Sprintf("image root %x, expected %s", root, vo.expectRoot)})
				}
			}
			fmt.Fprintf(a.stdout, "root %x\n", root)
			if vo.keyFile != "" {
				fmt.Fprintf(a.stdout, "ok: every chunk authenticated with the key (format version %d%s)\n", version, storage)
			} else {
				fmt.Fprintln(a.stdout, "ok: the image hashes to its root (no key given: contents not authenticated)")
			}
			return nil
		},
	}
	addKey(verify, vo, false)
	addRoot(verify, vo)

	cmd.AddCommand(cat, extract, ls, pack, verify)
	return cmd
}

func fsHints(err error) (int, string, bool) {
	var ke fsKeyError
	var ae *fsprotect.AuthError
	var ve *fsprotect.UnknownVersionError
	var fe *fsprotect.FormatError
	switch {
	case errors.As(err, &ke):
		return exitKey, "pass a readable FS key file (--fs-key): what 'scone-build keygen' wrote (docs/keys.md), or 64 hex digits", true
	case errors.Is(err, fsprotect.ErrWrongKey):
		return exitKey, "the image was made with another FS key: pass the key it was packed with (--fs-key)", true
	case errors.As(err, &ae) && ae.Part == fsprotect.PartRoot:
		return exitVerification, "this is not the image the enclave config was built for: use the fs.img of the same conversion", true
	case errors.As(err, &ae):
		return exitVerification, "the image was modified after it was built: rebuild it or restore an intact copy", true
	case errors.Is(err, fsprotect.ErrTruncated):
		return exitBadInput, "the image is incomplete (truncated) or has bytes appended: copy it again", true
	case errors.As(err, &ve):
		return exitBadInput, "the image was made by a newer (or older) scone-build: use a matching version", true
	case errors.As(err, &fe):
		return exitBadInput, "the file is not a protected FS image (or is corrupt)", true
	case errors.Is(err, fsprotect.ErrInvalidInput):
		return exitBadInput, "the input tree cannot be packed: fix the entry named in the error", true
	}
	return 0, "", false
}

// packPath packs a directory (a tree, read by pkg/rootfs) or a tar file.
func packPath(ctx context.Context, w io.Writer, src string, k fsprotect.Key, opts ...fsprotect.Option) (*fsprotect.Summary, error) {
	if fi, err := os.Stat(src); err == nil && fi.IsDir() {
		tree, err := rootfs.FromDir(ctx, src)
		if err != nil {
			return nil, err
		}
		return fsprotect.PackTree(ctx, w, tree.Entries(nil), k, opts...)
	}
	return fsprotect.PackTarFile(ctx, w, src, k, opts...)
}
