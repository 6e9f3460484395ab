package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/volume"
)

// volumeOptions are the key flags of the volume commands.
type volumeOptions struct {
	fs        fsOptions
	volumeKey string
	path      string
}

func (o *volumeOptions) add(c *cobra.Command) {
	c.Flags().StringVar(&o.fs.keyFile, "fs-key", "", "FS key file of the image: the volume key is derived from it and the volume's path")
	c.Flags().StringVar(&o.volumeKey, "volume-key", "", "the volume key itself (64 hex digits, or a file holding them): what a CAS policy grants")
	c.Flags().StringVar(&o.path, "path", "", "the path the volume is mounted at in the container (default: the one in its header)")
}

// open opens the volume in dir read-only: the tools never change it.
func (o *volumeOptions) open(dir string) (*volume.Volume, error) {
	var key volume.Key
	switch {
	case o.volumeKey != "" && o.fs.keyFile != "":
		return nil, usagef("give --fs-key or --volume-key, not both")
	case o.volumeKey != "":
		s := strings.TrimSpace(o.volumeKey)
		if b, err := os.ReadFile(o.volumeKey); err == nil {
			s = strings.TrimSpace(string(b))
		}
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != volume.KeySize {
			return nil, fsKeyError{fmt.Errorf("--volume-key: want 64 hex digits (or a file holding them)")}
		}
		key = volume.Key(b)
	case o.fs.keyFile != "":
		fk, err := o.fs.key()
		if err != nil {
			return nil, err
		}
		p := o.path
		if p == "" {
			if p, err = volume.HeaderPath(dir); err != nil {
				return nil, fmt.Errorf("open volume %q: %w", dir, err)
			}
		}
		if key, err = volume.DeriveKey(fk, p); err != nil {
			return nil, usagef("--path: %v", err)
		}
	default:
		return nil, usagef("--fs-key or --volume-key is required")
	}
	v, err := volume.Open(dir, key, volume.ReadOnly())
	if err != nil {
		return nil, err
	}
	return v, nil
}

func newVolumeCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume",
		Short: "List, read, verify and export protected volumes offline (docs/volume.md)",
		Long: `Reads the host directory of a protected volume (convert --protected-volume)
with its key: the FS key of the image (the volume key is derived from it and
the volume's path) or the key a CAS policy grants (--volume-key). Nothing in
the directory is changed: an interrupted commit is skipped in memory.`,
	}

	lo := &volumeOptions{}
	ls := &cobra.Command{
		Use:   "ls DIR (--fs-key FILE | --volume-key KEY)",
		Short: "List every entry of a volume (like ls -l)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := lo.open(args[0])
			if err != nil {
				return err
			}
			ver, root := v.Root()
			fmt.Fprintf(a.stdout, "# volume %s, version %d, root %x\n", v.MountPath(), ver, root)
			return v.List(a.stdout)
		},
	}
	lo.add(ls)

	co := &volumeOptions{}
	cat := &cobra.Command{
		Use:   "cat DIR PATH (--fs-key FILE | --volume-key KEY)",
		Short: "Write one file of a volume to stdout (PATH inside the volume; symlinks followed)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := co.open(args[0])
			if err != nil {
				return err
			}
			name := filepath.ToSlash(filepath.Clean("/" + args[1]))
			if mp := v.MountPath(); strings.HasPrefix(name, mp+"/") {
				name = name[len(mp):]
			}
			in, err := v.Open(name)
			if errors.Is(err, fs.ErrNotExist) {
				return usagef("read %q from volume %q: no such file", args[1], args[0])
			}
			if err != nil {
				return fmt.Errorf("read %q from volume %q: %w", args[1], args[0], err)
			}
			if _, err := io.Copy(a.stdout, in); err != nil {
				return fmt.Errorf("read %q from volume %q: %w", args[1], args[0], err)
			}
			return nil
		},
	}
	co.add(cat)

	vo := &volumeOptions{}
	verify := &cobra.Command{
		Use:   "verify DIR (--fs-key FILE | --volume-key KEY)",
		Short: "Authenticate a whole volume: header, metadata, log and every page of every file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := vo.open(args[0])
			if err == nil {
				err = v.Verify()
			}
			if err != nil {
				return fmt.Errorf("verify volume %q: %w", args[0], err)
			}
			ver, root := v.Root()
			fmt.Fprintf(a.stdout, "version %d root %x\n", ver, root)
			fmt.Fprintln(a.stdout, "ok: every page authenticated (rollback to an older state is only detected with a CAS)")
			return nil
		},
	}
	vo.add(verify)

	eo := &volumeOptions{}
	export := &cobra.Command{
		Use:   "export DIR OUT (--fs-key FILE | --volume-key KEY)",
		Short: "Copy the plaintext tree of a volume into the directory OUT (modes and mtimes kept; owners not)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := eo.open(args[0])
			if err != nil {
				return err
			}
			if ents, err := os.ReadDir(args[1]); err == nil && len(ents) > 0 {
				return usagef("export to %q: the directory is not empty", args[1])
			}
			if err := v.Export(cmd.Context(), args[1]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "exported %s to %s\n", v.MountPath(), args[1])
			return nil
		},
	}
	eo.add(export)

	cmd.AddCommand(cat, export, ls, verify)
	return cmd
}

func volumeHints(err error) (int, string, bool) {
	var ae *volume.AuthError
	var ve *volume.UnknownVersionError
	var fe *volume.FormatError
	switch {
	case errors.Is(err, volume.ErrWrongKey):
		return exitKey, "the volume was made with another key, or for another path: pass the image's FS key (--fs-key) with the volume's path (--path), or the CAS-granted key (--volume-key)", true
	case errors.Is(err, volume.ErrNotVolume):
		return exitBadInput, "the directory is not a protected volume (no 'volume' header file)", true
	case errors.As(err, &ae):
		return exitVerification, "the volume's host directory was modified: restore it from a backup", true
	case errors.As(err, &ve):
		return exitBadInput, "the volume was made by a newer (or older) scone-build: use a matching version", true
	case errors.As(err, &fe):
		return exitBadInput, "the volume directory is corrupt", true
	}
	return 0, "", false
}
