package link

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
)

// FS is the flattened image root file system that Analyze reads. Names are
// slash-separated and relative to the image root ("usr/bin/ls"), as in io/fs.
//
// Analyze resolves symbolic links itself, with the image root as "/": an
// absolute link target is resolved from the image root, ".." stops at the
// root. It therefore only needs Lstat and ReadLink for links, and Open for
// paths that contain no links. Files opened should implement io.ReaderAt
// (*os.File does); other files are read into memory.
//
// fs.ReadLinkFS is exactly this interface: os.DirFS, (*os.Root).FS and
// testing/fstest.MapFS implement it. See OpenDir for a rooted adapter over a
// host directory.
type FS interface {
	fs.FS
	// ReadLink returns the target of the symbolic link name.
	ReadLink(name string) (string, error)
	// Lstat returns information about name without following a final
	// symbolic link.
	Lstat(name string) (fs.FileInfo, error)
}

// HostDir is an FS over a host directory that never leaves it: it is backed
// by os.Root, so no path (or symbolic link, even one created concurrently)
// escapes the directory. It is safe for concurrent use.
type HostDir struct {
	root *os.Root
	fsys fs.FS

	// A few recently used sub-directories are kept open (as os.Root
	// too), so that opening the files of one directory costs one openat
	// each instead of one per path component.
	mu    sync.Mutex
	dirs  map[string]*os.Root
	order []string
}

const hostDirCache = 32

// OpenDir returns an FS rooted at the host directory dir. Close it when done.
func OpenDir(dir string) (*HostDir, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open image root %q: %w", dir, err)
	}
	return &HostDir{root: r, fsys: r.FS(), dirs: map[string]*os.Root{}}, nil
}

// Open opens name (slash-separated, relative to the root).
func (h *HostDir) Open(name string) (fs.File, error) {
	dir, base := path.Split(name)
	if !fs.ValidPath(name) || dir == "" {
		return h.fsys.Open(name)
	}
	sub, err := h.subRoot(strings.TrimSuffix(dir, "/"))
	if err != nil {
		return h.fsys.Open(name)
	}
	f, err := sub.Open(base)
	if err != nil {
		// A link leaving the sub-directory, or a real error: let the
		// whole root decide.
		return h.fsys.Open(name)
	}
	return f, nil
}

func (h *HostDir) subRoot(dir string) (*os.Root, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r, ok := h.dirs[dir]; ok {
		return r, nil
	}
	r, err := h.root.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	if len(h.order) >= hostDirCache {
		old := h.order[0]
		h.order = h.order[1:]
		h.dirs[old].Close() // os.Root defers the close until ongoing calls end
		delete(h.dirs, old)
	}
	h.dirs[dir] = r
	h.order = append(h.order, dir)
	return r, nil
}

func (h *HostDir) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(h.fsys, name) }

func (h *HostDir) ReadLink(name string) (string, error) { return fs.ReadLink(h.fsys, name) }

func (h *HostDir) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(h.fsys, name) }

// Close releases the directory.
func (h *HostDir) Close() error {
	h.mu.Lock()
	for _, r := range h.dirs {
		r.Close()
	}
	h.dirs = map[string]*os.Root{}
	h.order = nil
	h.mu.Unlock()
	return h.root.Close()
}

// maxSymlinks is the kernel's limit on links followed in one lookup.
const maxSymlinks = 40

var errLoop = errors.New("too many levels of symbolic links")

// toFSPath converts an image path ("/usr/bin/ls", "usr/bin/ls") to an fs.FS
// name, cleaning ".." at the root.
func toFSPath(p string) string {
	p = path.Clean("/" + p)
	if p == "/" {
		return "."
	}
	return p[1:]
}

// toImagePath converts an fs.FS name to an absolute image path.
func toImagePath(name string) string {
	if name == "." {
		return "/"
	}
	return "/" + name
}

// resolvePath follows symbolic links in p (an image path, absolute or
// relative to the root) inside the image and returns the fs.FS name of the
// file it designates, which contains no links. The final component must
// exist.
func resolvePath(fsys FS, p string) (string, error) {
	todo := strings.Split(toFSPath(p), "/")
	if len(todo) == 1 && todo[0] == "." {
		return ".", nil
	}
	var done []string // resolved components
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cand := strings.Join(append(done[:len(done):len(done)], c), "/")
		fi, err := fsys.Lstat(cand)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			links++
			if links > maxSymlinks {
				return "", &fs.PathError{Op: "resolve", Path: toImagePath(cand), Err: errLoop}
			}
			target, err := fsys.ReadLink(cand)
			if err != nil {
				return "", err
			}
			if target == "" {
				return "", &fs.PathError{Op: "resolve", Path: toImagePath(cand), Err: fs.ErrNotExist}
			}
			if strings.HasPrefix(target, "/") {
				done = done[:0]
			}
			todo = append(strings.Split(target, "/"), todo...)
			continue
		}
		if len(todo) > 0 && !fi.IsDir() {
			// A later component needs a directory; let only "" and "."
			// components follow a file.
			rest := false
			for _, t := range todo {
				if t != "" && t != "." {
					rest = true
				}
			}
			if rest {
				return "", &fs.PathError{Op: "resolve", Path: toImagePath(cand), Err: syscall.ENOTDIR}
			}
		}
		done = append(done, c)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return strings.Join(done, "/"), nil
}

// openedFile is a file opened for analysis.
type openedFile struct {
	r    io.ReaderAt
	size int64
	mode fs.FileMode
	c    io.Closer
	key  any // contentKey: the file's other names share the analysis
}

func (o *openedFile) Close() error {
	if o.c != nil {
		return o.c.Close()
	}
	return nil
}

// openResolved opens name (an fs.FS name with no links, from resolvePath).
// Regular files only; files that are not io.ReaderAt are read into memory
// up to maxSize bytes.
// ContentKeyer is what a file system's FileInfo.Sys may implement to say
// which names share their content (hard links): ContentKey is comparable,
// equal for the names of one file and different for distinct files, or
// nil when the file has no other name. pkg/rootfs's entries implement it;
// for host directories the device and inode number serve.
type ContentKeyer interface {
	ContentKey() any
}

// contentKey names the content of a file opened from the image (nil: no
// identity known, or no other name).
func contentKey(st fs.FileInfo) any {
	switch s := st.Sys().(type) {
	case ContentKeyer:
		return s.ContentKey()
	case *syscall.Stat_t:
		if s.Nlink > 1 {
			return [2]uint64{uint64(s.Dev), s.Ino}
		}
	}
	return nil
}

func openResolved(fsys FS, name string, maxSize int64) (*openedFile, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: toImagePath(name), Err: errors.New("not a regular file")}
	}
	if ra, ok := f.(io.ReaderAt); ok {
		return &openedFile{r: ra, size: st.Size(), mode: st.Mode(), c: f, key: contentKey(st)}, nil
	}
	defer f.Close()
	if st.Size() > maxSize {
		return nil, &fs.PathError{Op: "open", Path: toImagePath(name), Err: fmt.Errorf("file of %d bytes is larger than the %d-byte limit", st.Size(), maxSize)}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxSize {
		return nil, &fs.PathError{Op: "open", Path: toImagePath(name), Err: fmt.Errorf("file is larger than the %d-byte limit", maxSize)}
	}
	return &openedFile{r: strings.NewReader(string(data)), size: int64(len(data)), mode: st.Mode(), key: contentKey(st)}, nil
}

// readSmallFile reads the regular file name (an fs name without links) if
// it is at most limit bytes.
func readSmallFile(fsys FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > limit {
		return nil, &fs.PathError{Op: "read", Path: toImagePath(name), Err: fmt.Errorf("not a regular file of at most %d bytes", limit)}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &fs.PathError{Op: "read", Path: toImagePath(name), Err: fmt.Errorf("larger than %d bytes", limit)}
	}
	return data, nil
}
