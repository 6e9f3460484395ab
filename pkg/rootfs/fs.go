package rootfs

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"time"
)

// Open implements fs.FS; symlinks are followed inside the tree. Regular
// files implement io.ReaderAt and io.Seeker; directories fs.ReadDirFile.
func (t *Tree) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	p, err := t.Resolve(name, true)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPath(err)}
	}
	e := t.lookup(p)
	f := &file{t: t, e: e, name: p}
	if e.Type == tar.TypeReg {
		f.r = bytes.NewReader(e.data.b)
	}
	return f, nil
}

// Lstat returns the entry's info without following a final symlink.
func (t *Tree) Lstat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrInvalid}
	}
	p, err := t.Resolve(name, false)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: unwrapPath(err)}
	}
	return info{t.lookup(p)}, nil
}

// Stat implements fs.StatFS (symlinks followed).
func (t *Tree) Stat(name string) (fs.FileInfo, error) {
	f, err := t.Open(name)
	if err != nil {
		return nil, err
	}
	return f.Stat()
}

// ReadLink returns a symlink's target as stored.
func (t *Tree) ReadLink(name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	p, err := t.Resolve(name, false)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: unwrapPath(err)}
	}
	e := t.lookup(p)
	if e.Type != tar.TypeSymlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return e.Linkname, nil
}

// ReadDir implements fs.ReadDirFS.
func (t *Tree) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := t.Open(name)
	if err != nil {
		return nil, err
	}
	d, ok := f.(fs.ReadDirFile)
	if !ok || !f.(*file).isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return d.ReadDir(-1)
}

var rootEntry = &Entry{Name: "", Type: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0).UTC()}

func (t *Tree) lookup(p string) *Entry {
	if p == "" {
		if e, ok := t.entries[""]; ok {
			return e
		}
		return rootEntry
	}
	return t.entries[p]
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type file struct {
	t    *Tree
	e    *Entry
	name string
	r    *bytes.Reader
	pos  int
}

func (f *file) isDir() bool                { return f.e.Type == tar.TypeDir }
func (f *file) Stat() (fs.FileInfo, error) { return info{f.e}, nil }
func (f *file) Close() error               { return nil }
func (f *file) Size() int64                { return f.e.Size() }
func (f *file) Read(p []byte) (int, error) { return f.reader().Read(p) }
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	return f.reader().ReadAt(p, off)
}
func (f *file) Seek(off int64, whence int) (int64, error) { return f.reader().Seek(off, whence) }

func (f *file) reader() *bytes.Reader {
	if f.r == nil {
		f.r = bytes.NewReader(nil)
	}
	return f.r
}

func (f *file) ReadDir(n int) ([]fs.DirEntry, error) {
	if !f.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: f.name, Err: errors.New("not a directory")}
	}
	names := f.t.children[f.name]
	rest := names[f.pos:]
	if n > 0 && len(rest) > n {
		rest = rest[:n]
	}
	out := make([]fs.DirEntry, 0, len(rest))
	for _, c := range rest {
		full := c
		if f.name != "" {
			full = f.name + "/" + c
		}
		out = append(out, fs.FileInfoToDirEntry(info{f.t.entries[full]}))
	}
	f.pos += len(rest)
	if n > 0 && len(out) == 0 {
		return nil, io.EOF
	}
	return out, nil
}

type info struct{ e *Entry }

func (i info) Name() string {
	if i.e.Name == "" {
		return "."
	}
	return path.Base(i.e.Name)
}
func (i info) Size() int64        { return i.e.Size() }
func (i info) ModTime() time.Time { return i.e.ModTime }
func (i info) IsDir() bool        { return i.e.Type == tar.TypeDir }
func (i info) Sys() any           { return i.e }

// ContentKey implements link.ContentKeyer: the names of a hard-link group
// share their content, and so the key; nil for a file with one name.
func (e *Entry) ContentKey() any {
	if e.data == nil || e.data.group == 0 {
		return nil
	}
	return e.data
}
func (i info) Mode() fs.FileMode {
	m := fs.FileMode(i.e.Mode & 0o777)
	if i.e.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if i.e.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if i.e.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch i.e.Type {
	case tar.TypeDir:
		m |= fs.ModeDir
	case tar.TypeSymlink:
		m |= fs.ModeSymlink
	case tar.TypeChar:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case tar.TypeBlock:
		m |= fs.ModeDevice
	case tar.TypeFifo:
		m |= fs.ModeNamedPipe
	}
	return m
}
