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
	"time"
)

var time0 time.Time

// List writes an "ls -l"-like listing of every entry to w, one line per path
// in walk order: mode, links, uid, gid, size, mtime (UTC), path, and
// "-> target" for symlinks. Hard links show the same inode's data.
func (rd *Reader) List(w io.Writer) error {
	return fs.WalkDir(rd, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*Stat)
		name := "/"
		if p != "." {
			name = "/" + p
		}
		size := fmt.Sprint(st.Size)
		if st.Mode&sIFMT == sIFCHR || st.Mode&sIFMT == sIFBLK {
			size = fmt.Sprintf("%d, %d", st.DevMajor, st.DevMinor)
		}
		line := fmt.Sprintf("%s %3d %5d %5d %10s %s %s", modeString(st.Mode), st.Nlink, st.UID, st.GID, size,
			st.Mtime.Format("2006-01-02 15:04:05"), name)
		if st.Target != "" {
			line += " -> " + st.Target
		}
		_, err = fmt.Fprintln(w, line)
		return err
	})
}

// modeString formats a st_mode like ls -l: type letter and permissions with
// s/S/t/T for setuid, setgid and sticky.
func modeString(m uint32) string {
	b := []byte("?rwxrwxrwx")
	switch m & sIFMT {
	case sIFREG:
		b[0] = '-'
	case sIFDIR:
		b[0] = 'd'
	case sIFLNK:
		b[0] = 'l'
	case sIFCHR:
		b[0] = 'c'
	case sIFBLK:
		b[0] = 'b'
	case sIFIFO:
		b[0] = 'p'
	}
	for i := range 9 {
		if m&(1<<(8-i)) == 0 {
			b[1+i] = '-'
		}
	}
	special := func(bit uint32, pos int, set, unset byte) {
		if m&bit != 0 {
			if b[pos] == '-' {
				b[pos] = unset
			} else {
				b[pos] = set
			}
		}
	}
	special(0o4000, 3, 's', 'S')
	special(0o2000, 6, 's', 'S')
	special(0o1000, 9, 't', 'T')
	return string(b)
}

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
