package fsprotect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
)

// ExtractReport summarizes an extraction.
type ExtractReport struct {
	Files, Dirs, Symlinks, Hardlinks int
	// Skipped lists entries not created: devices and fifos (creating them
	// needs privileges), as "path: reason".
	Skipped []string
}

// Extract writes the image's tree into dir (created if missing; it must not
// contain the paths already), authenticating every byte. Modes (with
// setuid/setgid/sticky) and mtimes are restored; owners and xattrs are not.
// Nothing is written outside dir: symlinks are created but never followed.
func (rd *Reader) Extract(ctx context.Context, dir string) (*ExtractReport, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("extract to %q: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("extract to %q: %w", dir, err)
	}
	defer root.Close()
	rep := &ExtractReport{}
	first := map[uint32]string{}
	var dirs []string
	err = fs.WalkDir(rd, ".", func(p string, d fs.DirEntry, err error) error {
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
		st := fi.Sys().(*Stat)
		switch st.Mode & sIFMT {
		case sIFDIR:
			if p != "." {
				if err := root.Mkdir(p, 0o700); err != nil {
					return err
				}
			}
			dirs = append(dirs, p)
			rep.Dirs++
			return nil
		case sIFLNK:
			rep.Symlinks++
			return root.Symlink(st.Target, p)
		case sIFREG:
			if f, ok := first[st.Ino]; ok {
				rep.Hardlinks++
				return root.Link(f, p)
			}
			first[st.Ino] = p
			rep.Files++
			if err := rd.extractFile(root, p, st.Ino); err != nil {
				return err
			}
			return rd.setMeta(root, p, fi)
		default:
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("/%s: %v not created", p, fi.Mode().Type()))
			return nil
		}
	})
	if err != nil {
		return rep, fmt.Errorf("extract to %q: %w", dir, err)
	}
	// Directory modes and times last, deepest first.
	for _, p := range slices.Backward(dirs) {
		fi, err := rd.Lstat(p)
		if err == nil {
			err = rd.setMeta(root, p, fi)
		}
		if err != nil {
			return rep, fmt.Errorf("extract to %q: %w", dir, err)
		}
	}
	return rep, nil
}

func (rd *Reader) extractFile(root *os.Root, p string, ino uint32) (err error) {
	out, err := root.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	f := &File{rd: rd, ino: ino, name: p}
	if _, err := io.Copy(out, struct{ io.Reader }{f}); err != nil {
		return fmt.Errorf("copy %q: %w", path.Join("/", p), err)
	}
	return nil
}

func (rd *Reader) setMeta(root *os.Root, p string, fi fs.FileInfo) error {
	m := fi.Mode()
	perm := m.Perm() | m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
	if err := root.Chmod(p, perm); err != nil {
		return err
	}
	if err := root.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil && !errors.Is(err, fs.ErrPermission) {
		return err
	}
	return nil
}
