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

// FromDir reads a root file system from a host directory (as the BuildKit
// frontend mounts it). Symlinks are kept, never followed; hardlinks are found
// by inode; xattrs are read where the file system has them.
func FromDir(ctx context.Context, root string) (*Tree, error) {
	st, err := os.Lstat(root)
	if err != nil {
		return nil, fmt.Errorf("reading root file system %q: %w", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("reading root file system %q: not a directory", root)
	}
	t := newTree()
	type inode struct{ dev, ino uint64 }
	links := map[inode]*Entry{}
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
		name := clean(filepath.ToSlash(rel))
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		sys, _ := fi.Sys().(*syscall.Stat_t)
		e := &Entry{Name: name, Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime().UTC().Truncate(time.Second)}
		if fi.Mode()&fs.ModeSetuid != 0 {
			e.Mode |= 0o4000
		}
		if fi.Mode()&fs.ModeSetgid != 0 {
			e.Mode |= 0o2000
		}
		if fi.Mode()&fs.ModeSticky != 0 {
			e.Mode |= 0o1000
		}
		if sys != nil {
			e.UID, e.GID = int(sys.Uid), int(sys.Gid)
		}
		var key *inode
		switch m := fi.Mode(); {
		case m.IsRegular():
			if sys != nil && sys.Nlink > 1 {
				k := inode{uint64(sys.Dev), sys.Ino}
				if first, ok := links[k]; ok {
					cp := *first // a hardlink is the same inode: content and metadata
					cp.Name = name
					t.entries[name] = &cp
					return nil
				}
				key = &k
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.Type = tar.TypeReg
			e.data = &content{b: b}
			if sys != nil && sys.Nlink > 1 {
				t.groups++
				e.data.group = t.groups
			}
		case m.IsDir():
			e.Type = tar.TypeDir
		case m&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			e.Type = tar.TypeSymlink
			e.Linkname = target
		case m&fs.ModeNamedPipe != 0:
			e.Type = tar.TypeFifo
			t.note(0, name, "fifo kept as metadata only")
		case m&fs.ModeDevice != 0:
			e.Type = tar.TypeBlock
			if m&fs.ModeCharDevice != 0 {
				e.Type = tar.TypeChar
			}
			if sys != nil {
				e.Devmajor = int64((sys.Rdev >> 8) & 0xfff)
				e.Devminor = int64((sys.Rdev & 0xff) | ((sys.Rdev >> 12) & 0xfff00))
			}
			t.note(0, name, "device node kept as metadata only; served by the host's /dev at run time")
		default:
			t.note(0, name, "socket or unknown file type; skipped")
			return nil
		}
		if e.Type != tar.TypeSymlink {
			e.Xattrs = readXattrs(p)
		}
		t.entries[name] = e
		if key != nil {
			links[*key] = e
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading root file system %q: %w", root, err)
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
