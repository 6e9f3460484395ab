package volume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"
)

// Verify authenticates the whole volume: every page and tag page of every
// file (the header, the snapshot and the log were checked by Open), and
// that no file holds bytes past its end.
func (v *Volume) Verify() error {
	return fs.WalkDir(v, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		n, err := v.lookup("verify", p, false)
		if err != nil {
			return err
		}
		buf := make([]byte, 1<<20)
		for off := uint64(0); off < n.size; off += uint64(len(buf)) {
			if _, err := v.readAt(n, p, buf, int64(off)); err != nil {
				return fmt.Errorf("verify %q: %w", p, err)
			}
		}
		if r := n.size % PageSize; r != 0 {
			pg, err := v.readPage(n, p, n.size/PageSize)
			if err != nil {
				return fmt.Errorf("verify %q: %w", p, err)
			}
			for _, c := range pg[r:] {
				if c != 0 {
					return fmt.Errorf("verify %q: %w", p, formatErr(pageName(n.id), "bytes past the end of the file"))
				}
			}
		}
		return nil
	})
}

// List writes an ls -l like line per entry, depth first in name order.
func (v *Volume) List(w io.Writer) error {
	return fs.WalkDir(v, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*Stat)
		line := fmt.Sprintf("%s %3d %5d %5d %12d %s %s", fi.Mode(), st.Nlink, st.UID, st.GID, st.Size,
			fi.ModTime().UTC().Format(time.RFC3339), p)
		if fi.Mode()&fs.ModeSymlink != 0 {
			t, _ := v.ReadLink(p)
			line += " -> " + t
		}
		_, err = fmt.Fprintln(w, line)
		return err
	})
}

// Export copies the volume's tree into dir (created; must not exist or be
// empty): contents, modes and modification times; owners are not set.
func (v *Volume) Export(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export to %q: %w", dir, err)
	}
	type dirTime struct {
		path string
		t    time.Time
	}
	var dirs []dirTime
	err := fs.WalkDir(v, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		switch {
		case d.IsDir():
			if p != "." {
				if err := os.Mkdir(dst, 0o700); err != nil {
					return err
				}
			}
			dirs = append(dirs, dirTime{dst, fi.ModTime()})
			return nil
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := v.ReadLink(p)
			if err != nil {
				return err
			}
			return os.Symlink(t, dst)
		}
		f, err := v.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, f.(io.Reader)); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		if err := os.Chmod(dst, fi.Mode().Perm()); err != nil {
			return err
		}
		return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
	})
	if err != nil {
		return fmt.Errorf("export to %q: %w", dir, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		fi, _ := v.Stat(path.Clean(filepath.ToSlash(mustRel(dir, dirs[i].path))))
		if fi != nil {
			if err := os.Chmod(dirs[i].path, fi.Mode().Perm()); err != nil {
				return fmt.Errorf("export to %q: %w", dir, err)
			}
		}
		if err := os.Chtimes(dirs[i].path, dirs[i].t, dirs[i].t); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("export to %q: %w", dir, err)
		}
	}
	return nil
}

func mustRel(base, p string) string {
	r, err := filepath.Rel(base, p)
	if err != nil {
		return "."
	}
	return r
}
