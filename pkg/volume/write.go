package volume

import (
	"errors"
	"io/fs"
	"slices"
	"syscall"
	"time"
)

var errFileTooBig = syscall.EFBIG

func (v *Volume) writable() error {
	if v.ro {
		return ErrReadOnly
	}
	return v.dead
}

func (v *Volume) now() Time { return timeOf(v.o.now()) }

func (v *Volume) touch(n *inode, mtime bool) {
	t := v.now()
	n.ctm = t
	if mtime {
		n.mtime = t
	}
	v.touched[n.id] = true
}

// mutate runs a change; an error of the host leaves the volume unusable
// (it must be reopened, which recovers its last commit).
func (v *Volume) mutate(op, name string, f func() error) error {
	if err := v.writable(); err != nil {
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	err := f()
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) && !isErrno(err) {
		v.dead = err
	}
	if errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

func isErrno(err error) bool {
	var e syscall.Errno
	return errors.As(err, &e)
}

func (v *Volume) newInode(mode uint32) *inode {
	t := v.now()
	n := &inode{id: v.st.nextID, mode: mode, uid: v.o.uid, gid: v.o.gid, nlink: 1, atime: t, mtime: t, ctm: t}
	v.st.nextID++
	v.st.inodes[n.id] = n
	v.touched[n.id] = true
	return n
}

func (v *Volume) link(dir *inode, name string, n *inode) {
	m := v.st.dirs[dir.id]
	if m == nil {
		m = map[string]uint64{}
		v.st.dirs[dir.id] = m
	}
	m[name] = n.id
	v.ops = append(v.ops, delta{typ: deltaLink, dir: dir.id, child: n.id, name: name})
	if n.isDir() {
		dir.nlink++
	}
	v.touch(dir, true)
}

func (v *Volume) unlink(dir *inode, name string, n *inode) {
	delete(v.st.dirs[dir.id], name)
	v.ops = append(v.ops, delta{typ: deltaUnlink, dir: dir.id, name: name})
	if n.isDir() {
		dir.nlink--
	}
	v.touch(dir, true)
}

// release drops one link of n (already unlinked): the inode goes when none
// is left.
func (v *Volume) release(n *inode) {
	if n.isDir() {
		n.nlink = 0
	} else {
		n.nlink--
		v.touch(n, false)
	}
	if n.nlink > 0 {
		return
	}
	delete(v.st.inodes, n.id)
	delete(v.st.dirs, n.id)
	delete(v.trees, n.id)
	delete(v.touched, n.id)
	if n.isReg() {
		v.toDelete = append(v.toDelete, n.id)
	}
}

// create makes a new inode at name (which must not exist).
func (v *Volume) create(op, name string, mode uint32, setup func(*inode)) error {
	return v.mutate(op, name, func() error {
		dir, base, n, err := v.walk(name, false)
		if err != nil {
			return err
		}
		if n != nil {
			return syscall.EEXIST
		}
		n = v.newInode(mode)
		if setup != nil {
			setup(n)
		}
		v.link(dir, base, n)
		return nil
	})
}

// Mkdir creates a directory.
func (v *Volume) Mkdir(name string, perm fs.FileMode) error {
	return v.create("mkdir", name, sIFDIR|uint32(perm.Perm()), func(n *inode) { n.nlink = 2 })
}

// Symlink creates name as a symbolic link to target.
func (v *Volume) Symlink(target, name string) error {
	if target == "" || len(target) > maxTargetLen || containsNUL(target) {
		return &fs.PathError{Op: "symlink", Path: name, Err: syscall.EINVAL}
	}
	return v.create("symlink", name, sIFLNK|0o777, func(n *inode) { n.size, n.target = uint64(len(target)), target })
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// regular returns the regular file at name.
func (v *Volume) regular(name string) (*inode, error) {
	_, _, n, err := v.walk(name, true)
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, syscall.ENOENT
	}
	if n.isDir() {
		return nil, syscall.EISDIR
	}
	if !n.isReg() {
		return nil, syscall.EINVAL
	}
	return n, nil
}

// WriteFile creates (or truncates) name and writes data into it.
func (v *Volume) WriteFile(name string, data []byte, perm fs.FileMode) error {
	return v.mutate("write", name, func() error {
		dir, base, n, err := v.walk(name, true)
		if err != nil {
			return err
		}
		if n == nil {
			n = v.newInode(sIFREG | uint32(perm.Perm()))
			v.link(dir, base, n)
		} else if !n.isReg() {
			return syscall.EISDIR
		} else if err := v.resize(n, name, 0); err != nil {
			return err
		}
		v.touch(n, true)
		return v.writeAt(n, name, data, 0)
	})
}

// WriteAt writes b at off into the existing regular file name.
func (v *Volume) WriteAt(name string, b []byte, off int64) error {
	return v.mutate("write", name, func() error {
		if off < 0 {
			return syscall.EINVAL
		}
		n, err := v.regular(name)
		if err != nil {
			return err
		}
		v.touch(n, true)
		return v.writeAt(n, name, b, uint64(off))
	})
}

// Truncate changes the size of the regular file name.
func (v *Volume) Truncate(name string, size int64) error {
	return v.mutate("truncate", name, func() error {
		if size < 0 {
			return syscall.EINVAL
		}
		n, err := v.regular(name)
		if err != nil {
			return err
		}
		v.touch(n, true)
		return v.resize(n, name, uint64(size))
	})
}

// Link makes newname another name of the non-directory oldname.
func (v *Volume) Link(oldname, newname string) error {
	return v.mutate("link", newname, func() error {
		_, _, n, err := v.walk(oldname, false)
		if err != nil {
			return err
		}
		if n == nil {
			return syscall.ENOENT
		}
		if n.isDir() {
			return syscall.EPERM
		}
		dir, base, m, err := v.walk(newname, false)
		if err != nil {
			return err
		}
		if m != nil {
			return syscall.EEXIST
		}
		n.nlink++
		v.touch(n, false)
		v.link(dir, base, n)
		return nil
	})
}

// Remove removes a file, a symlink or an empty directory.
func (v *Volume) Remove(name string) error {
	return v.mutate("remove", name, func() error {
		dir, base, n, err := v.walk(name, false)
		if err != nil {
			return err
		}
		if n == nil {
			return syscall.ENOENT
		}
		if n.id == rootID {
			return syscall.EBUSY
		}
		if n.isDir() && len(v.st.dirs[n.id]) > 0 {
			return syscall.ENOTEMPTY
		}
		v.unlink(dir, base, n)
		v.release(n)
		return nil
	})
}

// Rename moves oldname to newname, replacing what newname names (a file by
// a non-directory, an empty directory by a directory), atomically.
func (v *Volume) Rename(oldname, newname string) error {
	return v.mutate("rename", oldname, func() error {
		od, ob, n, err := v.walk(oldname, false)
		if err != nil {
			return err
		}
		if n == nil {
			return syscall.ENOENT
		}
		nd, nb, m, err := v.walk(newname, false)
		if err != nil {
			return err
		}
		if n.id == rootID || m != nil && m.id == rootID {
			return syscall.EBUSY
		}
		if m == n {
			return nil
		}
		if n.isDir() {
			for p := nd; ; p = v.parentOf(p) {
				if p == n {
					return syscall.EINVAL
				}
				if p.id == rootID {
					break
				}
			}
		}
		if m != nil {
			switch {
			case n.isDir() && !m.isDir():
				return syscall.ENOTDIR
			case !n.isDir() && m.isDir():
				return syscall.EISDIR
			case m.isDir() && len(v.st.dirs[m.id]) > 0:
				return syscall.ENOTEMPTY
			}
			v.unlink(nd, nb, m)
			v.release(m)
		}
		v.unlink(od, ob, n)
		v.link(nd, nb, n)
		v.touch(n, false)
		return nil
	})
}

func (v *Volume) parentOf(d *inode) *inode {
	for pid, m := range v.st.dirs {
		for _, c := range m {
			if c == d.id {
				return v.st.inodes[pid]
			}
		}
	}
	return v.st.inodes[rootID]
}

// Chmod sets the permission bits of name.
func (v *Volume) Chmod(name string, mode fs.FileMode) error {
	return v.mutate("chmod", name, func() error {
		n, err := v.existing(name)
		if err != nil {
			return err
		}
		n.mode = n.mode&sIFMT | uint32(mode.Perm())
		if mode&fs.ModeSetuid != 0 {
			n.mode |= 0o4000
		}
		if mode&fs.ModeSetgid != 0 {
			n.mode |= 0o2000
		}
		if mode&fs.ModeSticky != 0 {
			n.mode |= 0o1000
		}
		v.touch(n, false)
		return nil
	})
}

// Chown sets the owner of name (symlinks are not followed).
func (v *Volume) Chown(name string, uid, gid uint32) error {
	return v.mutate("chown", name, func() error {
		_, _, n, err := v.walk(name, false)
		if err != nil {
			return err
		}
		if n == nil {
			return syscall.ENOENT
		}
		n.uid, n.gid = uid, gid
		v.touch(n, false)
		return nil
	})
}

// Chtimes sets the access and modification times of name.
func (v *Volume) Chtimes(name string, atime, mtime time.Time) error {
	return v.mutate("chtimes", name, func() error {
		n, err := v.existing(name)
		if err != nil {
			return err
		}
		v.touch(n, false)
		n.atime, n.mtime = timeOf(atime), timeOf(mtime)
		return nil
	})
}

func (v *Volume) existing(name string) (*inode, error) {
	_, _, n, err := v.walk(name, true)
	if err == nil && n == nil {
		err = syscall.ENOENT
	}
	return n, err
}

// Commit makes every change since the last commit part of the volume's
// state; with sync it is durable (fsync of what was written) when Commit
// returns. A volume whose host failed half-way must be reopened.
func (v *Volume) Commit(sync bool) error {
	if err := v.writable(); err != nil {
		return err
	}
	if err := v.commit(sync); err != nil {
		v.dead = err
		return err
	}
	return nil
}

func (v *Volume) commit(sync bool) error {
	for _, id := range sortedKeys(v.trees) {
		n := v.st.inodes[id]
		if n == nil {
			delete(v.trees, id)
			continue
		}
		old := n.root
		if err := v.flush(n, v.pathOf(id)); err != nil {
			return err
		}
		if n.root != old {
			v.touched[id] = true
		}
	}
	var deltas []delta
	if v.st.nextID != v.cst.nextID {
		deltas = append(deltas, delta{typ: deltaNextID, id: v.st.nextID})
	}
	for _, id := range sortedKeys(v.touched) {
		if n := v.st.inodes[id]; n != nil {
			cp := *n
			deltas = append(deltas, delta{typ: deltaInode, ino: &cp})
		}
	}
	deltas = append(deltas, v.ops...)
	for _, id := range sortedKeys(v.cst.inodes) {
		if v.st.inodes[id] == nil {
			deltas = append(deltas, delta{typ: deltaDrop, id: id})
		}
	}
	if len(deltas) == 0 && len(v.pending) == 0 {
		return nil
	}
	pages := make([]pageRef, 0, len(v.pending))
	for _, p := range v.pending {
		pages = append(pages, p)
	}
	slices.SortFunc(pages, func(a, b pageRef) int { return int(a.off - b.off) })
	meta := encodeCommit(pages, deltas)
	ver := v.version + 1
	rec := make([]byte, recHdrSize+commitHdrSize+len(meta))
	copy(rec, recMagic)
	le.PutUint32(rec[4:], recCommit)
	le.PutUint64(rec[8:], uint64(commitHdrSize+len(meta)))
	le.PutUint64(rec[16:], ver)
	le.PutUint64(rec[24:], uint64(len(meta)))
	s := v.k.seal(&position{kind: kindCommit, vol: v.hdr.volID, file: v.gen, index: ver, link: v.root, aux: uint64(len(meta))},
		meta, rec[recHdrSize+commitHdrSize:])
	copy(rec[32:48], s[:])
	if sync {
		for _, id := range sortedKeys(v.inPlace) {
			if err := v.h.sync(pageName(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	if err := v.h.writeAt(logName(v.gen), rec, v.logEnd); err != nil {
		return err
	}
	v.logEnd += int64(len(rec))
	if sync {
		if err := v.h.sync(logName(v.gen)); err != nil {
			return err
		}
	}
	v.version, v.root = ver, s
	v.cst = v.st.clone()
	v.pending = map[nodeKey]pageRef{}
	v.ops = nil
	v.touched = map[uint64]bool{}
	v.inPlace = map[uint64]bool{}
	if sync {
		for _, id := range v.toDelete {
			if err := v.h.remove(pageName(id)); err != nil {
				return err
			}
		}
		v.toDelete = nil
	}
	if v.logEnd > v.o.checkpoint {
		return v.checkpoint()
	}
	return nil
}

// Checkpoint commits, writes every page whose latest version is in the log
// in place, writes a new snapshot and starts an empty log.
func (v *Volume) Checkpoint() error {
	if err := v.writable(); err != nil {
		return err
	}
	err := v.commit(true)
	if err == nil && v.logEnd > 0 {
		err = v.checkpoint()
	}
	if err != nil {
		v.dead = err
	}
	return err
}

func (v *Volume) checkpoint() error {
	files := map[uint64]bool{}
	buf := make([]byte, PageSize)
	keys := make([]nodeKey, 0, len(v.logMap))
	for k := range v.logMap {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b nodeKey) int { return int(v.logMap[a] - v.logMap[b]) })
	for _, k := range keys {
		if n := v.st.inodes[k.file]; n == nil || !n.isReg() {
			continue
		}
		if err := v.h.readAt(logName(v.gen), buf, v.logMap[k]+recHdrSize); err != nil {
			return err
		}
		if err := v.h.writeAt(pageName(k.file), buf, int64(nodePos(int(k.level), k.index))*PageSize); err != nil {
			return err
		}
		files[k.file] = true
	}
	for _, id := range sortedKeys(files) {
		if err := v.h.sync(pageName(id)); err != nil {
			return err
		}
	}
	if err := v.h.writeFileAtomic(metaName(v.gen+1), v.sealSnapshot(v.gen+1, v.version, v.root, v.st)); err != nil {
		return err
	}
	if err := v.h.remove(logName(v.gen)); err != nil {
		return err
	}
	if err := v.h.remove(metaName(v.gen)); err != nil {
		return err
	}
	v.gen++
	v.logMap = map[nodeKey]int64{}
	v.logEnd = 0
	for _, id := range v.toDelete {
		if err := v.h.remove(pageName(id)); err != nil {
			return err
		}
	}
	v.toDelete = nil
	return nil
}

// Close commits (durably) what changed and releases the volume.
func (v *Volume) Close() error {
	if v.ro || v.dead != nil {
		return nil
	}
	return v.Commit(true)
}
