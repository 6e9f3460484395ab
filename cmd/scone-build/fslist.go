package main

import (
	"fmt"
	"io"
	"io/fs"
	"syscall"

	"github.com/scone-build/scone-build/pkg/fsprotect"
)

// listFS writes an "ls -l"-like listing of every entry of a protected FS
// image to w, one line per path in walk order: mode, links, uid, gid, size,
// mtime (UTC), path, and "-> target" for symlinks. Hard links show the same
// inode's data.
func listFS(w io.Writer, rd *fsprotect.Reader) error {
	return fs.WalkDir(rd, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*fsprotect.Stat)
		name := "/"
		if p != "." {
			name = "/" + p
		}
		size := fmt.Sprint(st.Size)
		if t := st.Mode & syscall.S_IFMT; t == syscall.S_IFCHR || t == syscall.S_IFBLK {
			size = fmt.Sprintf("%d, %d", st.DevMajor, st.DevMinor)
		}
		line := fmt.Sprintf("%s %3d %5d %5d %10s %s %s", modeString(st.Mode), st.Nlink, st.UID, st.GID, size,
			st.Mtime.Format("2006-01-02 15:04:05"), name)
		if st.Target != "" {
			line += " -> " + st.Target
		}
		_, err = fmt.Fprintln(w, line)
		return err
	})
}

// modeString formats a st_mode like ls -l: type letter and permissions with
// s/S/t/T for setuid, setgid and sticky.
func modeString(m uint32) string {
	b := []byte("?rwxrwxrwx")
	switch m & syscall.S_IFMT {
	case syscall.S_IFREG:
		b[0] = '-'
	case syscall.S_IFDIR:
		b[0] = 'd'
	case syscall.S_IFLNK:
		b[0] = 'l'
	case syscall.S_IFCHR:
		b[0] = 'c'
	case syscall.S_IFBLK:
		b[0] = 'b'
	case syscall.S_IFIFO:
		b[0] = 'p'
	}
	for i := range 9 {
		if m&(1<<(8-i)) == 0 {
			b[1+i] = '-'
		}
	}
	special := func(bit uint32, pos int, set, unset byte) {
		if m&bit != 0 {
			if b[pos] == '-' {
				b[pos] = unset
			} else {
				b[pos] = set
			}
		}
	}
	special(0o4000, 3, 's', 'S')
	special(0o2000, 6, 's', 'S')
	special(0o1000, 9, 't', 'T')
	return string(b)
}
