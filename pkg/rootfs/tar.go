package rootfs

import (
	"archive/tar"
	"fmt"
	"io"
	"sort"
)

// WriteTar writes the tree as one uncompressed tar stream in sorted order,
// parents before children. Hardlink groups are written as one regular file
// (the member that sorts first) and TypeLink entries pointing at it. The
// output is a pure function of the tree.
func (t *Tree) WriteTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	err := t.Walk(func(n string, e *Entry, linkTo string) error {
		h := &tar.Header{
			Name:     n,
			Mode:     e.Mode,
			Uid:      e.UID,
			Gid:      e.GID,
			Uname:    e.Uname,
			Gname:    e.Gname,
			ModTime:  e.ModTime,
			Typeflag: e.Type,
			Linkname: e.Linkname,
			Devmajor: e.Devmajor,
			Devminor: e.Devminor,
		}
		if e.Type == tar.TypeDir {
			h.Name += "/"
		}
		if len(e.Xattrs) > 0 {
			h.PAXRecords = map[string]string{}
			keys := make([]string, 0, len(e.Xattrs))
			for k := range e.Xattrs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				h.PAXRecords["SCHILY.xattr."+k] = e.Xattrs[k]
			}
			h.Format = tar.FormatPAX
		}
		var body []byte
		if linkTo != "" {
			h.Typeflag = tar.TypeLink
			h.Linkname = linkTo
		} else if e.Type == tar.TypeReg {
			body = e.data.b
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("writing tar header %q: %w", n, err)
		}
		if len(body) > 0 {
			if _, err := tw.Write(body); err != nil {
				return fmt.Errorf("writing tar entry %q: %w", n, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// Walk calls f for every entry in the order WriteTar writes them (sorted,
// parents before children). For the members of a hardlink group after the
// first, linkTo is the path of the first member (WriteTar writes them as
// TypeLink entries); else it is "". Walk stops at the first error of f and
// returns it.
func (t *Tree) Walk(f func(name string, e *Entry, linkTo string) error) error {
	first := map[*content]string{}
	for _, n := range t.Names() {
		e := t.entries[n]
		linkTo := ""
		if e.Type == tar.TypeReg {
			if fn, ok := first[e.data]; ok && e.data.group != 0 {
				linkTo = fn
			} else {
				first[e.data] = n
			}
		}
		if err := f(n, e, linkTo); err != nil {
			return err
		}
	}
	return nil
}
