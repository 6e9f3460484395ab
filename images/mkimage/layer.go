package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/scone-build/scone-build/pkg/rootfs"
)

// entry is one tar entry of a layer: an object of the new tree, or a
// whiteout for a path deleted from the tree below.
type entry struct {
	file     *rootfs.HostFile // nil for a whiteout
	whiteout string           // the deleted path; the tar entry is dir/.wh.name
}

// name is the entry's path in the tar stream.
func (e entry) name() string {
	if e.file == nil {
		return path.Join(path.Dir(e.whiteout), ".wh."+path.Base(e.whiteout))
	}
	return e.file.Entry.Name
}

// readTree lists every object under root (root itself excluded) in path
// order, as rootfs reads host directories.
func readTree(root string) ([]*rootfs.HostFile, error) {
	var out []*rootfs.HostFile
	err := rootfs.WalkDir(context.Background(), root, func(f *rootfs.HostFile) error {
		if f.Entry.Type == 0 {
			return fmt.Errorf("%q is a socket or another file type an image cannot hold: remove it from the tree (or have the recipe clean it up) and build again", f.Path)
		}
		out = append(out, f)
		return nil
	})
	return out, err
}

// treeEntries lists every object under root as layer entries.
func treeEntries(root string) ([]entry, error) {
	files, err := readTree(root)
	if err != nil {
		return nil, err
	}
	out := make([]entry, len(files))
	for i, f := range files {
		out[i] = entry{file: f}
	}
	return out, nil
}

// diffEntries lists what a layer on top of base needs to turn it into tree
// next: new and changed objects, their parent directories, and whiteouts for
// objects of base that next lacks (one for a whole deleted directory).
func diffEntries(base, next string) ([]entry, error) {
	baseFiles, err := readTree(base)
	if err != nil {
		return nil, err
	}
	nextFiles, err := readTree(next)
	if err != nil {
		return nil, err
	}
	old := make(map[string]*rootfs.HostFile, len(baseFiles))
	for _, f := range baseFiles {
		old[f.Entry.Name] = f
	}
	now := make(map[string]*rootfs.HostFile, len(nextFiles))
	for _, f := range nextFiles {
		now[f.Entry.Name] = f
	}
	want := map[string]bool{}
	var out []entry
	add := func(name string) {
		for n := name; n != "." && !want[n]; n = path.Dir(n) {
			want[n] = true
			out = append(out, entry{file: now[n]})
		}
	}
	for _, f := range nextFiles {
		same, err := sameFile(old[f.Entry.Name], f)
		if err != nil {
			return nil, fmt.Errorf("comparing %q with %q: %w", next, base, err)
		}
		if !same {
			add(f.Entry.Name)
		}
	}
	for _, f := range baseFiles {
		n := f.Entry.Name
		if now[n] != nil {
			continue
		}
		// One whiteout for the topmost deleted path; what is below a
		// deleted directory, or below one replaced by a non-directory,
		// goes with it.
		dir := path.Dir(n)
		if dir != "." {
			if d := now[dir]; d == nil || d.Entry.Type != tar.TypeDir {
				continue
			}
			add(dir)
		}
		out = append(out, entry{whiteout: n})
	}
	return out, nil
}

// sameFile reports whether b is a whiteout-free copy of a (nil: absent):
// same type, permissions, owner, device numbers, symlink target and content.
func sameFile(a, b *rootfs.HostFile) (bool, error) {
	if a == nil {
		return false, nil
	}
	ea, eb := &a.Entry, &b.Entry
	if ea.Type != eb.Type || ea.Mode != eb.Mode || ea.UID != eb.UID || ea.GID != eb.GID ||
		ea.Devmajor != eb.Devmajor || ea.Devminor != eb.Devminor || ea.Linkname != eb.Linkname {
		return false, nil
	}
	if ea.Type != tar.TypeReg {
		return true, nil
	}
	if a.Size != b.Size {
		return false, nil
	}
	return sameContents(a.Path, b.Path)
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

// writeTar writes the entries as a tar stream in path order with times
// clamped to epoch. A hard link becomes a link entry when the name it links
// to is in the same layer, else a copy.
func writeTar(w io.Writer, entries []entry, epoch time.Time) error {
	sort.Slice(entries, func(i, j int) bool { return lessPath(entries[i].name(), entries[j].name()) })
	tw := tar.NewWriter(w)
	written := map[string]string{} // first name of a hard-link group -> its name in this layer
	for _, e := range entries {
		name := e.name()
		if e.file == nil {
			if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: epoch}); err != nil {
				return fmt.Errorf("writing whiteout %q: %w", name, err)
			}
			continue
		}
		if err := writeFile(tw, e.file, epoch, written); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing layer tar: %w", err)
	}
	return nil
}

func writeFile(tw *tar.Writer, f *rootfs.HostFile, epoch time.Time, written map[string]string) error {
	e := &f.Entry
	hdr := &tar.Header{
		Name:     e.Name,
		Typeflag: e.Type,
		Mode:     e.Mode,
		Uid:      e.UID,
		Gid:      e.GID,
		ModTime:  e.ModTime,
		Linkname: e.Linkname,
		Devmajor: e.Devmajor,
		Devminor: e.Devminor,
	}
	if hdr.ModTime.After(epoch) {
		hdr.ModTime = epoch
	}
	switch e.Type {
	case tar.TypeDir:
		hdr.Name += "/"
	case tar.TypeReg:
		hdr.Size = f.Size
		group := e.Name
		if f.LinkTo != "" {
			group = f.LinkTo
		}
		if first, ok := written[group]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else if f.Nlink > 1 {
			written[group] = e.Name
		}
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing tar header for %q: %w", e.Name, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	fl, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("opening %q: %w", f.Path, err)
	}
	defer fl.Close()
	if n, err := io.Copy(tw, fl); err != nil {
		return fmt.Errorf("copying %q into layer: %w", f.Path, err)
	} else if n != hdr.Size {
		return fmt.Errorf("copying %q into layer: %d bytes, want %d (file changed)", f.Path, n, hdr.Size)
	}
	return nil
}
