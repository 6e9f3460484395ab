package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// HostFile is one object of a host directory, as WalkDir meets it.
type HostFile struct {
	// Path is the object's path on the host.
	Path string
	// Entry is what an image keeps of the object: its name (relative to
	// the walked root, slash-separated), type, permissions, owner, time
	// (whole seconds, UTC), symlink target, xattrs and device numbers. Its
	// Type is 0 for a socket or another type no image can hold.
	Entry Entry
	// Size is the size of a regular file.
	Size int64
	// Nlink is the number of hard links to a regular file (on the host,
	// inside the walked directory or not).
	Nlink uint64
	// LinkTo is, for a regular file that is a hard link to one met earlier
	// in the walk, the name of that one; else "".
	LinkTo string
}

// WalkDir calls fn for every object under the host directory root (root
// itself excluded) in path order, component by component, so that a
// directory comes right before its contents. Symbolic links are kept, never
// followed; hard links are found by inode; the xattrs an image keeps (user.*
// and security.capability) are read where the file system has them. It
// stops at the first error, of fn or of the walk, and returns it. It is the
// one place that reads host directories: FromDir and the image builder
// (images/mkimage) both walk with it.
func WalkDir(ctx context.Context, root string, fn func(*HostFile) error) error {
	st, err := os.Lstat(root)
	if err != nil {
		return fmt.Errorf("reading directory %q: %w", root, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("reading directory %q: not a directory", root)
	}
	type inode struct{ dev, ino uint64 }
	links := map[inode]string{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		f := &HostFile{Path: p}
		if err := hostEntry(&f.Entry, p, fi); err != nil {
			return err
		}
		f.Entry.Name = clean(filepath.ToSlash(rel))
		if f.Entry.Type == tar.TypeReg {
			f.Size = fi.Size()
			f.Nlink = 1
			if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
				f.Nlink = sys.Nlink
			}
			if sys, ok := fi.Sys().(*syscall.Stat_t); ok && sys.Nlink > 1 {
				k := inode{uint64(sys.Dev), sys.Ino}
				if first, ok := links[k]; ok {
					f.LinkTo = first
				} else {
					links[k] = f.Entry.Name
				}
			}
		}
		return fn(f)
	})
	if err != nil {
		return fmt.Errorf("reading directory %q: %w", root, err)
	}
	return nil
}

// hostEntry fills e with what an image keeps of the host object p.
func hostEntry(e *Entry, p string, fi fs.FileInfo) error {
	m := fi.Mode()
	e.Mode = int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		e.Mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		e.Mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		e.Mode |= 0o1000
	}
	e.ModTime = fi.ModTime().UTC().Truncate(time.Second)
	sys, _ := fi.Sys().(*syscall.Stat_t)
	if sys != nil {
		e.UID, e.GID = int(sys.Uid), int(sys.Gid)
	}
	switch {
	case m.IsRegular():
		e.Type = tar.TypeReg
	case m.IsDir():
		e.Type = tar.TypeDir
	case m&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		e.Type = tar.TypeSymlink
		e.Linkname = target
		return nil // xattrs of a link are not an image's to keep
	case m&fs.ModeNamedPipe != 0:
		e.Type = tar.TypeFifo
	case m&fs.ModeDevice != 0:
		e.Type = tar.TypeBlock
		if m&fs.ModeCharDevice != 0 {
			e.Type = tar.TypeChar
		}
		if sys != nil {
			// As glibc's major() and minor() split a 64-bit dev_t.
			dev := sys.Rdev
			e.Devmajor = int64((dev>>8)&0xfff | (dev>>32)&^0xfff)
			e.Devminor = int64(dev&0xff | (dev>>12)&^0xff)
		}
	default:
		return nil // a socket: Type 0
	}
	e.Xattrs = readXattrs(p)
	return nil
}

// FromDir reads a root file system from a host directory (as the BuildKit
// frontend mounts it), walking it with WalkDir.
func FromDir(ctx context.Context, root string) (*Tree, error) {
	t := newTree()
	err := WalkDir(ctx, root, func(f *HostFile) error {
		name := f.Entry.Name
		if f.LinkTo != "" {
			cp := *t.entries[f.LinkTo] // a hardlink is the same inode: content and metadata
			cp.Name = name
			t.entries[name] = &cp
			return nil
		}
		e := f.Entry
		switch e.Type {
		case tar.TypeReg:
			b, err := os.ReadFile(f.Path)
			if err != nil {
				return err
			}
			e.data = &content{b: b}
			if f.Nlink > 1 {
				t.groups++
				e.data.group = t.groups
			}
		case tar.TypeFifo:
			t.note(0, name, "fifo kept as metadata only")
		case tar.TypeChar, tar.TypeBlock:
			t.note(0, name, "device node kept as metadata only; served by the host's /dev at run time")
		case 0:
			t.note(0, name, "socket or unknown file type; skipped")
			return nil
		}
		t.entries[name] = &e
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading root file system: %w", err)
	}
	t.freeze()
	return t, nil
}
func readXattrs(p string) map[string]string {
	sz, err := syscall.Listxattr(p, nil)
	if err != nil || sz <= 0 {
		return nil
	}
	buf := make([]byte, sz)
	sz, err = syscall.Listxattr(p, buf)
	if err != nil {
		return nil
	}
	var out map[string]string
	for _, k := range strings.Split(string(bytes.TrimRight(buf[:sz], "\x00")), "\x00") {
		if k == "" || !(strings.HasPrefix(k, "user.") || strings.HasPrefix(k, "security.capability")) {
			continue
		}
		vs, err := syscall.Getxattr(p, k, nil)
		if err != nil || vs < 0 {
			continue
		}
		v := make([]byte, vs)
		if vs, err = syscall.Getxattr(p, k, v); err != nil {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = string(v[:vs])
	}
	return out
}
