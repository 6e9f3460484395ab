package volume

import (
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"
)

const maxSymlinks = 40

// splitName turns a volume path ("a/b", "/a/b", "." or "" for the root)
// into components.
func splitName(name string) ([]string, error) {
	name = strings.TrimPrefix(name, "/")
	if name == "" || name == "." {
		return nil, nil
	}
	if !fs.ValidPath(name) {
		return nil, syscall.EINVAL
	}
	parts := strings.Split(name, "/")
	for _, p := range parts {
		if len(p) > maxNameLen {
			return nil, syscall.ENAMETOOLONG
		}
	}
	return parts, nil
}

// walk resolves name: the directory holding the last component, its name
// and its inode (nil when missing). Symlinks in the middle are followed,
// the last one only with follow. Relative targets are resolved in their
// directory, absolute ones under the mount path.
func (v *Volume) walk(name string, follow bool) (dir *inode, base string, n *inode, err error) {
	parts, err := splitName(name)
	if err != nil {
		return nil, "", nil, err
	}
	root := v.st.inodes[rootID]
	if len(parts) == 0 {
		return root, ".", root, nil
	}
	stack := []*inode{root} // directories walked, for ".."
	links := 0
	for len(parts) > 0 {
		p := parts[0]
		parts = parts[1:]
		cur := stack[len(stack)-1]
		switch p {
		case ".":
			continue
		case "..":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if !cur.isDir() {
			return nil, "", nil, syscall.ENOTDIR
		}
		id, ok := v.st.dirs[cur.id][p]
		if !ok {
			if len(parts) == 0 {
				return cur, p, nil, nil
			}
			return nil, "", nil, syscall.ENOENT
		}
		c := v.st.inodes[id]
		if c.isLink() && (len(parts) > 0 || follow) {
			if links++; links > maxSymlinks {
				return nil, "", nil, syscall.ELOOP
			}
			t := c.target
			if strings.HasPrefix(t, "/") {
				rel, ok := strings.CutPrefix(t, v.hdr.path)
				if !ok || rel != "" && rel[0] != '/' {
					return nil, "", nil, syscall.EXDEV // outside the volume
				}
				t, stack = rel, stack[:1]
			}
			more := strings.FieldsFunc(t, func(r rune) bool { return r == '/' })
			parts = append(more, parts...)
			if len(parts) == 0 {
				top := stack[len(stack)-1]
				return v.parentOf(top), ".", top, nil
			}
			continue
		}
		if len(parts) == 0 {
			return cur, p, c, nil
		}
		stack = append(stack, c)
	}
	top := stack[len(stack)-1]
	return v.parentOf(top), ".", top, nil
}

// pathOf returns a path of inode id ("" when it is in no directory).
func (v *Volume) pathOf(id uint64) string {
	if id == rootID {
		return "."
	}
	for pid, m := range v.st.dirs {
		for name, c := range m {
			if c == id {
				if pid == rootID {
					return name
				}
				return path.Join(v.pathOf(pid), name)
			}
		}
	}
	return ""
}

// Stat is FileInfo.Sys() of the files of a volume.
type Stat struct {
	ID                  uint64
	Mode                uint32 // st_mode: type and permission bits
	UID, GID, Nlink     uint32
	Size                uint64
	Atime, Mtime, Ctime Time
}

type fileInfo struct {
	name string
	st   Stat
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return int64(fi.st.Size) }
func (fi *fileInfo) ModTime() time.Time { return time.Unix(fi.st.Mtime.Sec, int64(fi.st.Mtime.Nsec)) }
func (fi *fileInfo) IsDir() bool        { return fi.st.Mode&sIFMT == sIFDIR }
func (fi *fileInfo) Sys() any           { return &fi.st }
func (fi *fileInfo) Mode() fs.FileMode {
	m := fs.FileMode(fi.st.Mode & 0o777)
	switch fi.st.Mode & sIFMT {
	case sIFDIR:
		m |= fs.ModeDir
	case sIFLNK:
		m |= fs.ModeSymlink
	}
	if fi.st.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if fi.st.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if fi.st.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func infoOf(name string, n *inode) *fileInfo {
	return &fileInfo{name: path.Base(name), st: Stat{ID: n.id, Mode: n.mode, UID: n.uid, GID: n.gid, Nlink: n.nlink,
		Size: n.size, Atime: n.atime, Mtime: n.mtime, Ctime: n.ctm}}
}

func (v *Volume) lookup(op, name string, follow bool) (*inode, error) {
	_, _, n, err := v.walk(name, follow)
	if err == nil && n == nil {
		err = syscall.ENOENT
	}
	if err != nil {
		if err == syscall.ENOENT {
			err = fs.ErrNotExist
		}
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return n, nil
}

// Stat returns the FileInfo of name, following symlinks.
func (v *Volume) Stat(name string) (fs.FileInfo, error) {
	n, err := v.lookup("stat", name, true)
	if err != nil {
		return nil, err
	}
	return infoOf(name, n), nil
}

// Lstat returns the FileInfo of name without following a final symlink.
func (v *Volume) Lstat(name string) (fs.FileInfo, error) {
	n, err := v.lookup("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return infoOf(name, n), nil
}

// ReadLink returns the target of the symlink name.
func (v *Volume) ReadLink(name string) (string, error) {
	n, err := v.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if !n.isLink() {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: syscall.EINVAL}
	}
	return n.target, nil
}

type dirEntry struct{ fi *fileInfo }

func (d dirEntry) Name() string               { return d.fi.name }
func (d dirEntry) IsDir() bool                { return d.fi.IsDir() }
func (d dirEntry) Type() fs.FileMode          { return d.fi.Mode().Type() }
func (d dirEntry) Info() (fs.FileInfo, error) { return d.fi, nil }

// ReadDir lists the directory name, sorted by name.
func (v *Volume) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := v.lookup("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: syscall.ENOTDIR}
	}
	m := v.st.dirs[n.id]
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make([]fs.DirEntry, len(names))
	for i, nm := range names {
		out[i] = dirEntry{infoOf(nm, v.st.inodes[m[nm]])}
	}
	return out, nil
}

// ReadFile returns the whole content of name, authenticated.
func (v *Volume) ReadFile(name string) ([]byte, error) {
	n, err := v.lookup("read", name, true)
	if err != nil {
		return nil, err
	}
	if !n.isReg() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: syscall.EISDIR}
	}
	b := make([]byte, n.size)
	if _, err := v.readAt(n, v.canon(name, n), b, 0); err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return b, nil
}

func (v *Volume) canon(name string, n *inode) string {
	if p := v.pathOf(n.id); p != "" {
		return p
	}
	return name
}

// Open opens name for reading (fs.FS); symlinks are followed.
func (v *Volume) Open(name string) (fs.File, error) {
	n, err := v.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	return &File{v: v, n: n, name: name, path: v.canon(name, n)}, nil
}

// File is an open file of a volume (read only).
type File struct {
	v          *Volume
	n          *inode
	name, path string
	off        int64
	dir        []fs.DirEntry
	dirRead    bool
}

// Stat returns the file's FileInfo.
func (f *File) Stat() (fs.FileInfo, error) { return infoOf(f.name, f.n), nil }

// Read reads at the file offset.
func (f *File) Read(b []byte) (int, error) {
	n, err := f.ReadAt(b, f.off)
	f.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt reads len(b) bytes at off (io.EOF at the end).
func (f *File) ReadAt(b []byte, off int64) (int, error) {
	if !f.n.isReg() {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: syscall.EISDIR}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: syscall.EINVAL}
	}
	n, err := f.v.readAt(f.n, f.path, b, off)
	if err != nil {
		return n, &fs.PathError{Op: "read", Path: f.name, Err: err}
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// Seek sets the file offset.
func (f *File) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += f.off
	case io.SeekEnd:
		off += int64(f.n.size)
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: syscall.EINVAL}
	}
	f.off = off
	return off, nil
}

// ReadDir lists a directory (fs.ReadDirFile).
func (f *File) ReadDir(count int) ([]fs.DirEntry, error) {
	if !f.dirRead {
		d, err := f.v.ReadDir(f.path)
		if err != nil {
			return nil, err
		}
		f.dir, f.dirRead = d, true
	}
	if count <= 0 {
		d := f.dir
		f.dir = nil
		return d, nil
	}
	if len(f.dir) == 0 {
		return nil, io.EOF
	}
	k := min(count, len(f.dir))
	d := f.dir[:k]
	f.dir = f.dir[k:]
	return d, nil
}

// Close releases the file.
func (f *File) Close() error { return nil }
