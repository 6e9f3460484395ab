package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// entry is one tar entry of a layer: a path in the new tree, or a whiteout.
type entry struct {
	rel      string // slash-separated, relative, no leading "./"
	whiteout bool   // rel is the deleted path; the tar entry is dir/.wh.name
}

// treeEntries lists every path under root (root itself excluded).
func treeEntries(root string) ([]entry, error) {
	var out []entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out = append(out, entry{rel: filepath.ToSlash(rel)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking tree %q: %w", root, err)
	}
	return out, nil
}

// diffEntries lists what a layer on top of base needs to turn it into tree
// next: new and changed entries, their parent directories, and whiteouts for
// entries of base that next lacks (one for a whole deleted directory).
func diffEntries(base, next string) ([]entry, error) {
	want := map[string]bool{}
	var out []entry
	add := func(rel string) {
		for r := rel; r != "." && !want[r]; r = path.Dir(r) {
			want[r] = true
			out = append(out, entry{rel: r})
		}
	}
	err := filepath.WalkDir(next, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == next {
			return nil
		}
		rel, err := filepath.Rel(next, p)
		if err != nil {
			return err
		}
		same, err := sameEntry(filepath.Join(base, rel), p)
		if err != nil {
			return err
		}
		if !same {
			add(filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("comparing %q with %q: %w", next, base, err)
	}
	err = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == base {
			return nil
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		nfi, err := os.Lstat(filepath.Join(next, rel))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			r := filepath.ToSlash(rel)
			if dir := path.Dir(r); dir != "." {
				add(dir)
			}
			out = append(out, entry{rel: r, whiteout: true})
			if d.IsDir() {
				return filepath.SkipDir
			}
		case err != nil:
			return err
		case d.IsDir() && !nfi.IsDir():
			return filepath.SkipDir // replaced by a non-directory: the new entry replaces it all
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finding deletions from %q in %q: %w", base, next, err)
	}
	return out, nil
}

// sameEntry reports whether the entries at a and b have the same type,
// permissions, owner and contents (directories: type, permissions, owner).
func sameEntry(a, b string) (bool, error) {
	afi, err := os.Lstat(a)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	bfi, err := os.Lstat(b)
	if err != nil {
		return false, err
	}
	if afi.Mode() != bfi.Mode() {
		return false, nil
	}
	as, aok := afi.Sys().(*syscall.Stat_t)
	bs, bok := bfi.Sys().(*syscall.Stat_t)
	if aok && bok && (as.Uid != bs.Uid || as.Gid != bs.Gid || as.Rdev != bs.Rdev) {
		return false, nil
	}
	switch {
	case afi.Mode().IsDir():
		return true, nil
	case afi.Mode()&fs.ModeSymlink != 0:
		at, err := os.Readlink(a)
		if err != nil {
			return false, err
		}
		bt, err := os.Readlink(b)
		if err != nil {
			return false, err
		}
		return at == bt, nil
	case afi.Mode().IsRegular():
		if afi.Size() != bfi.Size() {
			return false, nil
		}
		return sameContents(a, b)
	}
	return true, nil
}

func sameContents(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<16), make([]byte, 1<<16)
	for {
		na, erra := io.ReadFull(fa, ba)
		nb, errb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if erra == io.EOF || erra == io.ErrUnexpectedEOF {
			return errb == io.EOF || errb == io.ErrUnexpectedEOF, nil
		}
		if erra != nil {
			return false, erra
		}
		if errb != nil {
			return false, errb
		}
	}
}

// lessPath orders paths component by component, so a directory comes right
// before its contents ("a", "a/b", "a.b"), as in the tar files of real images.
func lessPath(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] != bs[i] {
			return as[i] < bs[i]
		}
	}
	return len(as) < len(bs)
}

// writeTar writes the entries of tree root (whiteouts need no tree) as a tar
// stream in path order with times clamped to epoch.
func writeTar(w io.Writer, root string, entries []entry, epoch time.Time) error {
	key := func(e entry) string {
		if e.whiteout {
			return path.Join(path.Dir(e.rel), ".wh."+path.Base(e.rel))
		}
		return e.rel
	}
	sort.Slice(entries, func(i, j int) bool { return lessPath(key(entries[i]), key(entries[j])) })
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{} // (dev, inode) -> first name written
	for _, e := range entries {
		name := key(e)
		if e.whiteout {
			if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: epoch}); err != nil {
				return fmt.Errorf("writing whiteout %q: %w", name, err)
			}
			continue
		}
		if err := writeFile(tw, root, name, epoch, links); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing layer tar: %w", err)
	}
	return nil
}

func writeFile(tw *tar.Writer, root, name string, epoch time.Time, links map[[2]uint64]string) error {
	p := filepath.Join(root, filepath.FromSlash(name))
	fi, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("reading %q: %w", p, err)
	}
	target := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if target, err = os.Readlink(p); err != nil {
			return fmt.Errorf("reading link %q: %w", p, err)
		}
	}
	hdr, err := tar.FileInfoHeader(fi, target)
	if err != nil {
		return fmt.Errorf("making tar header for %q: %w", p, err)
	}
	hdr.Name = name
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname = "", ""
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	hdr.ModTime = fi.ModTime().Truncate(time.Second)
	if hdr.ModTime.After(epoch) {
		hdr.ModTime = epoch
	}
	hdr.PAXRecords = nil
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			id := [2]uint64{uint64(st.Dev), st.Ino}
			if first, ok := links[id]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				links[id] = name
			}
		}
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing tar header for %q: %w", name, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("opening %q: %w", p, err)
	}
	defer f.Close()
	if n, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("copying %q into layer: %w", p, err)
	} else if n != hdr.Size {
		return fmt.Errorf("copying %q into layer: %d bytes, want %d (file changed)", p, n, hdr.Size)
	}
	return nil
}
