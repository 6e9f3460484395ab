package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// Entry is one file system object of the flattened tree.
type Entry struct {
	// Name is the clean path relative to the root, without a leading slash.
	Name     string
	Type     byte // tar.TypeReg, TypeDir, TypeSymlink, TypeChar, TypeBlock, TypeFifo
	Mode     int64
	UID, GID int
	Uname    string
	Gname    string
	ModTime  time.Time
	Linkname string // symlink target
	Xattrs   map[string]string
	Devmajor int64
	Devminor int64

	// data is shared by the members of a hardlink group.
	data *content
}

type content struct {
	b []byte
	// group identifies a hardlink group (0: none).
	group int
}

// Size is the content size of a regular file.
func (e *Entry) Size() int64 {
	if e.data == nil {
		return 0
	}
	return int64(len(e.data.b))
}

// Data returns the content of a regular file. It must not be modified.
func (e *Entry) Data() []byte {
	if e.data == nil {
		return nil
	}
	return e.data.b
}

// Note reports something unusual met while flattening, which was handled.
type Note struct {
	Layer int    `json:"layer"`
	Path  string `json:"path"`
	Msg   string `json:"message"`
}

// Tree is a flattened root file system.
type Tree struct {
	entries  map[string]*Entry
	children map[string][]string // built by freeze
	notes    []Note
	groups   int
}

func newTree() *Tree {
	t := &Tree{entries: map[string]*Entry{}}
	return t
}

// Notes lists what was unusual in the input.
func (t *Tree) Notes() []Note { return t.notes }

// Len is the number of entries.
func (t *Tree) Len() int { return len(t.entries) }

// Entry returns the entry at name (no symlinks followed).
func (t *Tree) Entry(name string) (*Entry, bool) {
	e, ok := t.entries[clean(name)]
	return e, ok
}

// Names returns every path in sorted order (parents before children).
func (t *Tree) Names() []string {
	names := make([]string, 0, len(t.entries))
	for n := range t.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TotalSize is the sum of regular file sizes (hardlinked content counted once).
func (t *Tree) TotalSize() int64 {
	var n int64
	seen := map[*content]bool{}
	for _, e := range t.entries {
		if e.data != nil && !seen[e.data] {
			seen[e.data] = true
			n += int64(len(e.data.b))
		}
	}
	return n
}

// clean turns a tar or user path into the tree's key form.
func clean(p string) string {
	p = path.Clean("/" + p)
	return strings.TrimPrefix(p, "/")
}

// freeze builds the directory index; the tree is read-only afterwards.
func (t *Tree) freeze() {
	t.children = map[string][]string{}
	for n := range t.entries {
		if n == "" {
			continue
		}
		dir := path.Dir(n)
		if dir == "." {
			dir = ""
		}
		t.children[dir] = append(t.children[dir], path.Base(n))
	}
	for _, c := range t.children {
		sort.Strings(c)
	}
}

const maxLinks = 40

// ErrLoop is returned when resolving a path meets too many symlinks.
var ErrLoop = errors.New("too many levels of symbolic links")

// Resolve follows symlinks in name inside the tree (never escaping the
// root) and returns the clean path of the final object. With follow false,
// a final symlink is not followed.
func (t *Tree) Resolve(name string, follow bool) (string, error) {
	return t.resolve(clean(name), follow, 0)
}

func (t *Tree) resolve(p string, follow bool, depth int) (string, error) {
	if p == "" {
		return "", nil
	}
	parts := strings.Split(p, "/")
	cur := ""
	for i, part := range parts {
		next := part
		if cur != "" {
			next = cur + "/" + part
		}
		e, ok := t.entries[next]
		if !ok {
			return "", &fs.PathError{Op: "resolve", Path: "/" + p, Err: fs.ErrNotExist}
		}
		last := i == len(parts)-1
		if e.Type == tar.TypeSymlink && (!last || follow) {
			if depth >= maxLinks {
				return "", &fs.PathError{Op: "resolve", Path: "/" + p, Err: ErrLoop}
			}
			target := e.Linkname
			var base string
			if strings.HasPrefix(target, "/") {
				base = clean(target)
			} else {
				base = clean(path.Join(cur, target))
			}
			rest := strings.Join(parts[i+1:], "/")
			if rest != "" {
				base = clean(base + "/" + rest)
			}
			return t.resolve(base, follow, depth+1)
		}
		if !last && e.Type != tar.TypeDir {
			return "", &fs.PathError{Op: "resolve", Path: "/" + p, Err: fmt.Errorf("%s is not a directory", "/"+next)}
		}
		cur = next
	}
	return cur, nil
}

// ReadFile implements fs.ReadFileFS: name is a valid fs path, symlinks are
// followed, and the result is a copy the caller owns.
func (t *Tree) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	b, err := t.Contents(name)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// Contents returns the content of the regular file at name (absolute or
// relative; symlinks followed) without copying. It must not be modified.
func (t *Tree) Contents(name string) ([]byte, error) {
	p, err := t.Resolve(name, true)
	if err != nil {
		return nil, err
	}
	e := t.lookup(p)
	switch e.Type {
	case tar.TypeReg:
		return e.data.b, nil
	case tar.TypeDir:
		return nil, &fs.PathError{Op: "read", Path: "/" + p, Err: errors.New("is a directory")}
	}
	return []byte{}, nil // devices and fifos have no content in an image
}

// SetData replaces the content of a regular file (of every member of its
// hardlink group). The converter uses it to rewrite programs before the
// tree is packed.
func (e *Entry) SetData(b []byte) error {
	if e.Type != tar.TypeReg || e.data == nil {
		return fmt.Errorf("%s: not a regular file", e.Name)
	}
	e.data.b = b
	return nil
}
