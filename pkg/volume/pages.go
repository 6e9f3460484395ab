package volume

import (
	"errors"
	"io"
	"io/fs"
	"slices"
)

var zeroTag [tagSize]byte

func (v *Volume) tree(id uint64) *ftree {
	t := v.trees[id]
	if t == nil {
		t = &ftree{tags: map[[2]uint64]*tagPage{}, dirty: map[uint64][]byte{}}
		v.trees[id] = t
	}
	return t
}

// entryOf returns the seal of node (l, j) of file n (l = 0: data page).
func (v *Volume) entryOf(n *inode, path string, l int, j uint64) ([tagSize]byte, error) {
	np := npages(n.size)
	if j >= count(np, l) {
		return zeroTag, nil
	}
	d := depthOf(np)
	if l == d {
		return n.root, nil
	}
	tp, err := v.loadTag(n, path, l+1, j>>fanLog2)
	if err != nil {
		return zeroTag, err
	}
	return tp.e[j&(fanout-1)], nil
}

// readNode reads the ciphertext of node (l, j) of file id: the log's copy
// when there is one, else the host file's.
func (v *Volume) readNode(id uint64, path string, l int, j uint64, buf []byte) error {
	var err error
	if off, ok := v.logMap[nodeKey{id, uint32(l), j}]; ok {
		err = v.h.readAt(logName(v.gen), buf, off+recHdrSize)
	} else {
		err = v.h.readAt(pageName(id), buf, int64(nodePos(l, j))*PageSize)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, io.ErrUnexpectedEOF) {
			return &AuthError{Part: PartMissing, Path: path, Index: j, Level: l}
		}
		return err
	}
	return nil
}

func (v *Volume) pos(id uint64, l int, j uint64) *position {
	if l == 0 {
		return &position{kind: kindData, vol: v.hdr.volID, file: id, index: j}
	}
	return &position{kind: kindTag, level: uint32(l), vol: v.hdr.volID, file: id, index: j}
}

// loadTag returns tag page (l, j) of file n, authenticated.
func (v *Volume) loadTag(n *inode, path string, l int, j uint64) (*tagPage, error) {
	t := v.tree(n.id)
	if tp := t.tags[[2]uint64{uint64(l), j}]; tp != nil {
		return tp, nil
	}
	s, err := v.entryOf(n, path, l, j)
	if err != nil {
		return nil, err
	}
	tp := new(tagPage)
	if s != zeroTag {
		buf := make([]byte, PageSize)
		if err := v.readNode(n.id, path, l, j, buf); err != nil {
			return nil, err
		}
		if !v.k.open(v.pos(n.id, l, j), buf, buf, s) {
			return nil, &AuthError{Part: PartTag, Path: path, Level: l, Index: j}
		}
		for i := range tp.e {
			copy(tp.e[i][:], buf[i*tagSize:])
		}
	}
	t.tags[[2]uint64{uint64(l), j}] = tp
	return tp, nil
}

// readPage returns the plaintext of data page i (a fresh copy).
func (v *Volume) readPage(n *inode, path string, i uint64) ([]byte, error) {
	buf := make([]byte, PageSize)
	if p, ok := v.tree(n.id).dirty[i]; ok {
		copy(buf, p)
		return buf, nil
	}
	s, err := v.entryOf(n, path, 0, i)
	if err != nil || s == zeroTag {
		return buf, err
	}
	if err := v.readNode(n.id, path, 0, i, buf); err != nil {
		return nil, err
	}
	if !v.k.open(v.pos(n.id, 0, i), buf, buf, s) {
		return nil, &AuthError{Part: PartPage, Path: path, Index: i}
	}
	return buf, nil
}

// readAt reads file content at off (a short count at end of file).
func (v *Volume) readAt(n *inode, path string, b []byte, off int64) (int, error) {
	if off < 0 || uint64(off) >= n.size {
		return 0, nil
	}
	if uint64(len(b)) > n.size-uint64(off) {
		b = b[:n.size-uint64(off)]
	}
	done := 0
	for done < len(b) {
		at := uint64(off) + uint64(done)
		p, err := v.readPage(n, path, at/PageSize)
		if err != nil {
			return done, err
		}
		done += copy(b[done:], p[at%PageSize:])
	}
	return done, nil
}

// committedPlace tells whether node (l, j) of file id is referenced by the
// last committed state (or has a copy in the log): then it must not be
// overwritten in place before a checkpoint.
func (v *Volume) committedPlace(id uint64, l int, j uint64) bool {
	if _, ok := v.logMap[nodeKey{id, uint32(l), j}]; ok {
		return true
	}
	c := v.cst.inodes[id]
	if c == nil || !c.isReg() {
		return false
	}
	cn := npages(c.size)
	if l > depthOf(cn) {
		return false
	}
	return j<<uint(fanLog2*l) < cn
}

// writeNode stores a sealed node: in place when no committed state
// references its place, else as a PAGE record of the log.
func (v *Volume) writeNode(id uint64, l int, j uint64, ct []byte, s [tagSize]byte) error {
	k := nodeKey{id, uint32(l), j}
	if !v.committedPlace(id, l, j) {
		if err := v.h.writeAt(pageName(id), ct, int64(nodePos(l, j))*PageSize); err != nil {
			return err
		}
		v.inPlace[id] = true
		return nil
	}
	rec := make([]byte, recHdrSize+PageSize)
	copy(rec, recMagic)
	le.PutUint32(rec[4:], recPage)
	le.PutUint64(rec[8:], PageSize)
	copy(rec[recHdrSize:], ct)
	off := v.logEnd
	if err := v.h.writeAt(logName(v.gen), rec, off); err != nil {
		return err
	}
	v.logEnd += int64(len(rec))
	v.logMap[k] = off
	v.pending[k] = pageRef{off: off, file: id, level: uint32(l), index: j, s: s}
	return nil
}

// writeAt writes b at off into file n, growing it as needed.
func (v *Volume) writeAt(n *inode, path string, b []byte, off uint64) error {
	end := off + uint64(len(b))
	if end < off || end > MaxFileSize {
		return errFileTooBig
	}
	if end > n.size {
		if err := v.resize(n, path, end); err != nil {
			return err
		}
	}
	t := v.tree(n.id)
	for done := 0; done < len(b); {
		at := off + uint64(done)
		i, po := at/PageSize, int(at%PageSize)
		var p []byte
		if po == 0 && len(b)-done >= PageSize {
			p = make([]byte, PageSize)
		} else {
			var err error
			if p, err = v.readPage(n, path, i); err != nil {
				return err
			}
		}
		done += copy(p[po:], b[done:])
		t.dirty[i] = p
	}
	return nil
}

// resize changes the size of file n, reshaping its tag tree.
func (v *Volume) resize(n *inode, path string, s1 uint64) error {
	if s1 > MaxFileSize {
		return errFileTooBig
	}
	t := v.tree(n.id)
	np0, np1 := npages(n.size), npages(s1)
	d0, d1 := depthOf(np0), depthOf(np1)
	if s1 >= n.size {
		for l := d0 + 1; l <= d1; l++ {
			tp := &tagPage{dirty: true}
			if l == d0+1 {
				tp.e[0] = n.root
			}
			t.tags[[2]uint64{uint64(l), 0}] = tp
		}
		n.size = s1
		return nil
	}
	if np1 == 0 {
		clear(t.tags)
		clear(t.dirty)
		n.root = zeroTag
		n.size = 0
		return nil
	}
	if s1%PageSize != 0 {
		p, err := v.readPage(n, path, np1-1)
		if err != nil {
			return err
		}
		clear(p[s1%PageSize:])
		t.dirty[np1-1] = p
	}
	for i := range t.dirty {
		if i >= np1 {
			delete(t.dirty, i)
		}
	}
	root := n.root
	if d1 < d0 {
		r, err := v.entryOf(n, path, d1, 0)
		if err != nil {
			return err
		}
		root = r
	}
	// The last tag page of each remaining level loses its entries past the end.
	type cut struct {
		tp   *tagPage
		from uint64
	}
	var cuts []cut
	for l := 1; l <= d1; l++ {
		c := count(np1, l-1)
		tp, err := v.loadTag(n, path, l, (c-1)>>fanLog2)
		if err != nil {
			return err
		}
		cuts = append(cuts, cut{tp, c & (fanout - 1)})
	}
	n.root = root
	for k := range t.tags {
		if l := int(k[0]); l > d1 || k[1] >= count(np1, l) {
			delete(t.tags, k)
		}
	}
	for _, c := range cuts {
		if c.from == 0 {
			continue
		}
		for i := c.from; i < fanout; i++ {
			if c.tp.e[i] != zeroTag {
				c.tp.e[i] = zeroTag
				c.tp.dirty = true
			}
		}
	}
	n.size = s1
	return nil
}

// flush seals the dirty pages of file n bottom-up and sets its root.
func (v *Volume) flush(n *inode, path string) error {
	t := v.trees[n.id]
	if t == nil {
		return nil
	}
	np := npages(n.size)
	d := depthOf(np)
	ct := make([]byte, PageSize)
	idx := make([]uint64, 0, len(t.dirty))
	for i := range t.dirty {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		s := v.k.seal(v.pos(n.id, 0, i), t.dirty[i], ct)
		if err := v.writeNode(n.id, 0, i, ct, s); err != nil {
			return err
		}
		delete(t.dirty, i)
		if err := v.setEntry(n, path, d, 0, i, s); err != nil {
			return err
		}
	}
	plain := make([]byte, PageSize)
	for l := 1; l <= d; l++ {
		var js []uint64
		for k, tp := range t.tags {
			if int(k[0]) == l && tp.dirty {
				js = append(js, k[1])
			}
		}
		slices.Sort(js)
		for _, j := range js {
			tp := t.tags[[2]uint64{uint64(l), j}]
			for i := range tp.e {
				copy(plain[i*tagSize:], tp.e[i][:])
			}
			s := v.k.seal(v.pos(n.id, l, j), plain, ct)
			if err := v.writeNode(n.id, l, j, ct, s); err != nil {
				return err
			}
			tp.dirty = false
			if err := v.setEntry(n, path, d, l, j, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// setEntry records the seal s of node (l, j) in its parent, or as the root.
func (v *Volume) setEntry(n *inode, path string, d, l int, j uint64, s [tagSize]byte) error {
	if l == d {
		n.root = s
		return nil
	}
	tp, err := v.loadTag(n, path, l+1, j>>fanLog2)
	if err != nil {
		return err
	}
	tp.e[j&(fanout-1)] = s
	tp.dirty = true
	return nil
}
