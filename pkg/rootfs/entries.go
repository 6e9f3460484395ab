package rootfs

import (
	"archive/tar"
	"time"

	"github.com/scone-build/scone-build/pkg/fsprotect"
)

// Entries presents the tree to fsprotect (PackTree, PackTreeParts,
// TreeSaltSource) exactly as WriteTar writes it and fsprotect.Pack reads
// that tar stream back: same order, hard links, mtime rounding, so that the
// protected FS image is the one Pack would make of WriteTar's stream.
// progress, when not nil, is called with the content bytes yielded so far
// (every 4 MiB, and once at the end with the total).
func (t *Tree) Entries(progress func(done, total int64)) fsprotect.EntrySource {
	return &entrySource{tree: t, total: t.TotalSize(), progress: progress}
}

type entrySource struct {
	tree     *Tree
	total    int64
	progress func(done, total int64)
}

func (s *entrySource) Entries(yield func(*fsprotect.TreeEntry) error) error {
	var done, last int64
	var te fsprotect.TreeEntry
	err := s.tree.Walk(func(name string, e *Entry, linkTo string) error {
		te = fsprotect.TreeEntry{
			Path: name, Type: e.Type, Mode: e.Mode, UID: e.UID, GID: e.GID, ModTime: e.ModTime,
			Linkname: e.Linkname, Xattrs: e.Xattrs, Devmajor: e.Devmajor, Devminor: e.Devminor,
		}
		if len(e.Xattrs) == 0 {
			// WriteTar leaves the tar format to archive/tar, which then
			// rounds mtimes to seconds; with xattrs it writes PAX, exact.
			te.ModTime = e.ModTime.Round(time.Second)
		}
		switch {
		case linkTo != "":
			te.Type, te.Linkname = tar.TypeLink, linkTo
		case e.Type == tar.TypeReg:
			te.Content = e.Data()
			done += int64(len(te.Content))
		}
		if done-last >= 4<<20 && s.progress != nil {
			last = done
			s.progress(done, s.total)
		}
		return yield(&te)
	})
	if err == nil && s.progress != nil {
		s.progress(s.total, s.total)
	}
	return err
}
