package volume

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// Format constants (docs/volume.md).
const (
	// Version is the format version this package writes and reads.
	Version = 1

	headerMagic   = "SCONEVOL"
	headerFixed   = 64
	snapMagic     = "SCONEVMS"
	snapHdrSize   = 64
	stateMagic    = "VOLSTATE"
	stateHdrSize  = 64
	recMagic      = "SVLR"
	recHdrSize    = 16
	commitHdrSize = 64
	pageRefSize   = 48
	inodeSize     = 96
	direntSize    = 24
	maxPathLen    = 4095
	maxNameLen    = 255
	maxTargetLen  = 4095
	rootID        = 1

	recPage   = 1
	recCommit = 2

	deltaInode  = 1
	deltaDrop   = 2
	deltaLink   = 3
	deltaUnlink = 4
	deltaNextID = 5

	// Host file names.
	headerFile = "volume"
	pagesDir   = "f"
	tmpPrefix  = ".tmp-"
)

// Unix S_IFMT bits.
const (
	sIFMT  = 0o170000
	sIFREG = 0o100000
	sIFDIR = 0o040000
	sIFLNK = 0o120000
)

func metaName(gen uint64) string { return fmt.Sprintf("meta.%016x", gen) }
func logName(gen uint64) string  { return fmt.Sprintf("log.%016x", gen) }
func pageName(id uint64) string  { return fmt.Sprintf("%s/%016x", pagesDir, id) }

// header is the parsed volume header.
type header struct {
	volID [16]byte
	check [16]byte
	path  string
}

func (h *header) marshal(k *keys) []byte {
	b := make([]byte, headerFixed+len(h.path)+tagSize)
	copy(b, headerMagic)
	le.PutUint32(b[8:], Version)
	le.PutUint32(b[12:], pageLog2)
	copy(b[16:32], h.volID[:])
	copy(b[32:48], h.check[:])
	le.PutUint32(b[48:], uint32(len(h.path)))
	copy(b[headerFixed:], h.path)
	n := headerFixed + len(h.path)
	s := k.mac(&position{kind: kindHeader, vol: h.volID, aux: uint64(n)}, b[:n])
	copy(b[n:], s[:])
	return b
}

// parseHeader checks a header in the order of docs/volume.md; k may be nil
// (then neither key check nor MAC is checked).
func parseHeader(b []byte, k *keys) (*header, error) {
	if len(b) < 12 || string(b[:8]) != headerMagic {
		return nil, formatErr(headerFile, "not a volume header (bad magic)")
	}
	if v := le.Uint32(b[8:]); v != Version {
		return nil, &UnknownVersionError{Version: v}
	}
	if len(b) < headerFixed+1+tagSize {
		return nil, formatErr(headerFile, "header too short (%d bytes)", len(b))
	}
	if l := le.Uint32(b[12:]); l != pageLog2 {
		return nil, formatErr(headerFile, "page size 2^%d (want 2^%d)", l, pageLog2)
	}
	pl := le.Uint32(b[48:])
	if pl == 0 || pl > maxPathLen || len(b) != headerFixed+int(pl)+tagSize {
		return nil, formatErr(headerFile, "path length %d does not match a header of %d bytes", pl, len(b))
	}
	if le.Uint32(b[52:]) != 0 || le.Uint64(b[56:]) != 0 {
		return nil, formatErr(headerFile, "reserved fields not zero")
	}
	h := &header{path: string(b[headerFixed : headerFixed+pl])}
	copy(h.volID[:], b[16:32])
	copy(h.check[:], b[32:48])
	if k == nil {
		return h, nil
	}
	if h.check != k.check {
		return nil, ErrWrongKey
	}
	n := headerFixed + int(pl)
	s := k.mac(&position{kind: kindHeader, vol: h.volID, aux: uint64(n)}, b[:n])
	if !bytes.Equal(s[:], b[n:]) {
		return nil, &AuthError{Part: PartHeader}
	}
	return h, nil
}

// Time is a time stamp of an inode.
type Time struct {
	Sec  int64
	Nsec uint32
}

// inode is one inode of the metadata.
type inode struct {
	id                uint64
	mode              uint32
	uid, gid, nlink   uint32
	size              uint64
	atime, mtime, ctm Time
	root              [16]byte
	target            string
}

func (n *inode) isDir() bool  { return n.mode&sIFMT == sIFDIR }
func (n *inode) isReg() bool  { return n.mode&sIFMT == sIFREG }
func (n *inode) isLink() bool { return n.mode&sIFMT == sIFLNK }

func (n *inode) put(b []byte, targetOff uint64) {
	le.PutUint64(b[0:], n.id)
	le.PutUint32(b[8:], n.mode)
	le.PutUint32(b[12:], n.uid)
	le.PutUint32(b[16:], n.gid)
	le.PutUint32(b[20:], n.nlink)
	le.PutUint64(b[24:], n.size)
	le.PutUint64(b[32:], uint64(n.atime.Sec))
	le.PutUint64(b[40:], uint64(n.mtime.Sec))
	le.PutUint64(b[48:], uint64(n.ctm.Sec))
	le.PutUint32(b[56:], n.atime.Nsec)
	le.PutUint32(b[60:], n.mtime.Nsec)
	le.PutUint32(b[64:], n.ctm.Nsec)
	le.PutUint32(b[68:], 0)
	copy(b[72:88], n.root[:])
	le.PutUint64(b[88:], targetOff)
}

// getInode parses an inode record (without its target) and checks the
// rules that concern it alone.
func getInode(b []byte) (*inode, uint64, error) {
	n := &inode{
		id: le.Uint64(b[0:]), mode: le.Uint32(b[8:]), uid: le.Uint32(b[12:]), gid: le.Uint32(b[16:]),
		nlink: le.Uint32(b[20:]), size: le.Uint64(b[24:]),
		atime: Time{int64(le.Uint64(b[32:])), le.Uint32(b[56:])},
		mtime: Time{int64(le.Uint64(b[40:])), le.Uint32(b[60:])},
		ctm:   Time{int64(le.Uint64(b[48:])), le.Uint32(b[64:])},
	}
	copy(n.root[:], b[72:88])
	toff := le.Uint64(b[88:])
	switch {
	case n.id == 0:
		return nil, 0, fmt.Errorf("inode id 0")
	case n.mode&^uint32(sIFMT|0o7777) != 0:
		return nil, 0, fmt.Errorf("inode %d: mode %#o has unknown bits", n.id, n.mode)
	case n.atime.Nsec >= 1e9 || n.mtime.Nsec >= 1e9 || n.ctm.Nsec >= 1e9:
		return nil, 0, fmt.Errorf("inode %d: nanoseconds out of range", n.id)
	case le.Uint32(b[68:]) != 0:
		return nil, 0, fmt.Errorf("inode %d: reserved field not zero", n.id)
	}
	switch n.mode & sIFMT {
	case sIFREG:
		if n.size > MaxFileSize {
			return nil, 0, fmt.Errorf("inode %d: size %d over the limit", n.id, n.size)
		}
		if toff != 0 {
			return nil, 0, fmt.Errorf("inode %d: file with a target", n.id)
		}
	case sIFDIR:
		if n.size != 0 || n.root != ([16]byte{}) || toff != 0 {
			return nil, 0, fmt.Errorf("inode %d: directory with size, root or target", n.id)
		}
	case sIFLNK:
		if n.size == 0 || n.size > maxTargetLen || n.root != ([16]byte{}) {
			return nil, 0, fmt.Errorf("inode %d: symlink target length %d or root", n.id, n.size)
		}
	default:
		return nil, 0, fmt.Errorf("inode %d: type %#o is not a file, directory or symlink", n.id, n.mode&sIFMT)
	}
	return n, toff, nil
}

// state is the metadata: inodes and directory entries.
type state struct {
	nextID uint64
	inodes map[uint64]*inode
	dirs   map[uint64]map[string]uint64 // directory id -> name -> child id
}

func newState() *state {
	return &state{nextID: rootID + 1, inodes: map[uint64]*inode{}, dirs: map[uint64]map[string]uint64{}}
}

func (s *state) clone() *state {
	c := &state{nextID: s.nextID, inodes: make(map[uint64]*inode, len(s.inodes)), dirs: make(map[uint64]map[string]uint64, len(s.dirs))}
	for id, n := range s.inodes {
		cp := *n
		c.inodes[id] = &cp
	}
	for d, m := range s.dirs {
		cm := make(map[string]uint64, len(m))
		for k, v := range m {
			cm[k] = v
		}
		c.dirs[d] = cm
	}
	return c
}

func validName(name string) bool {
	return name != "" && len(name) <= maxNameLen && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// validate checks the metadata rules of docs/volume.md on the whole state.
func (s *state) validate() error {
	r, ok := s.inodes[rootID]
	if !ok || !r.isDir() {
		return fmt.Errorf("no root directory")
	}
	refs := map[uint64]uint32{}
	parent := map[uint64]uint64{}
	subdirs := map[uint64]uint32{}
	for d, m := range s.dirs {
		dn, ok := s.inodes[d]
		if !ok || !dn.isDir() {
			if len(m) == 0 {
				continue
			}
			return fmt.Errorf("entries in %d, which is not a directory", d)
		}
		for name, c := range m {
			if !validName(name) {
				return fmt.Errorf("invalid name %q in directory %d", name, d)
			}
			cn, ok := s.inodes[c]
			if !ok {
				return fmt.Errorf("entry %q in directory %d names missing inode %d", name, d, c)
			}
			if c == rootID {
				return fmt.Errorf("entry %q names the root", name)
			}
			refs[c]++
			if cn.isDir() {
				if _, dup := parent[c]; dup {
					return fmt.Errorf("directory %d has two entries", c)
				}
				parent[c] = d
				subdirs[d]++
			}
		}
	}
	for id, n := range s.inodes {
		if id >= s.nextID {
			return fmt.Errorf("inode %d not below next id %d", id, s.nextID)
		}
		if n.isDir() {
			if id != rootID && refs[id] != 1 {
				return fmt.Errorf("directory %d has %d entries", id, refs[id])
			}
			if n.nlink != 2+subdirs[id] {
				return fmt.Errorf("directory %d: nlink %d, want %d", id, n.nlink, 2+subdirs[id])
			}
		} else if refs[id] == 0 || n.nlink != refs[id] {
			return fmt.Errorf("inode %d: nlink %d, entries %d", id, n.nlink, refs[id])
		}
	}
	for id := range parent { // every directory reaches the root
		seen := 0
		for p := id; p != rootID; p = parent[p] {
			if seen++; seen > len(parent) {
				return fmt.Errorf("directory %d is in a cycle", id)
			}
		}
	}
	return nil
}

// encode returns the state's plaintext (snapshot), deterministic.
func (s *state) encode(root [16]byte) []byte {
	ids := make([]uint64, 0, len(s.inodes))
	for id := range s.inodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	type ent struct {
		dir, child uint64
		name       string
	}
	var ents []ent
	dirIDs := make([]uint64, 0, len(s.dirs))
	for d := range s.dirs {
		dirIDs = append(dirIDs, d)
	}
	slices.Sort(dirIDs)
	for _, d := range dirIDs {
		names := make([]string, 0, len(s.dirs[d]))
		for n := range s.dirs[d] {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			ents = append(ents, ent{d, s.dirs[d][n], n})
		}
	}
	var strs []byte
	b := make([]byte, stateHdrSize+len(ids)*inodeSize+len(ents)*direntSize)
	copy(b, stateMagic)
	le.PutUint64(b[8:], s.nextID)
	le.PutUint64(b[16:], uint64(len(ids)))
	le.PutUint64(b[24:], uint64(len(ents)))
	copy(b[40:56], root[:])
	off := stateHdrSize
	dOff := off + len(ids)*inodeSize
	for _, e := range ents {
		r := b[dOff:]
		le.PutUint64(r[0:], e.dir)
		le.PutUint64(r[8:], e.child)
		le.PutUint32(r[16:], uint32(len(strs)))
		le.PutUint32(r[20:], uint32(len(e.name)))
		strs = append(strs, e.name...)
		dOff += direntSize
	}
	for _, id := range ids {
		n := s.inodes[id]
		var toff uint64
		if n.isLink() {
			toff = uint64(len(strs))
			strs = append(strs, n.target...)
		}
		n.put(b[off:], toff)
		off += inodeSize
	}
	le.PutUint64(b[32:], uint64(len(strs)))
	return append(b, strs...)
}

// decodeState parses a snapshot's plaintext and checks every rule.
func decodeState(b []byte, file string) (*state, [16]byte, error) {
	var root [16]byte
	bad := func(format string, a ...any) (*state, [16]byte, error) {
		return nil, root, formatErr(file, "state: "+format, a...)
	}
	if len(b) < stateHdrSize || string(b[:8]) != stateMagic {
		return bad("bad magic")
	}
	s := newState()
	s.nextID = le.Uint64(b[8:])
	ni, nd, sl := le.Uint64(b[16:]), le.Uint64(b[24:]), le.Uint64(b[32:])
	copy(root[:], b[40:56])
	if le.Uint64(b[56:]) != 0 {
		return bad("reserved field not zero")
	}
	rest := uint64(len(b) - stateHdrSize)
	if ni > rest/inodeSize || nd > rest/direntSize || ni*inodeSize+nd*direntSize+sl != rest {
		return bad("counts do not match the length")
	}
	strs := b[uint64(len(b))-sl:]
	off := uint64(stateHdrSize)
	var last uint64
	for i := uint64(0); i < ni; i++ {
		n, toff, err := getInode(b[off : off+inodeSize])
		if err != nil {
			return bad("%v", err)
		}
		if n.id <= last {
			return bad("inodes not in ascending order")
		}
		last = n.id
		if n.isLink() {
			if toff > sl || n.size > sl-toff {
				return bad("inode %d: target out of range", n.id)
			}
			n.target = string(strs[toff : toff+n.size])
			if strings.IndexByte(n.target, 0) >= 0 {
				return bad("inode %d: NUL in target", n.id)
			}
		} else if toff != 0 {
			return bad("inode %d: target offset", n.id)
		}
		s.inodes[n.id] = n
		off += inodeSize
	}
	var pd uint64
	var pn string
	for i := uint64(0); i < nd; i++ {
		r := b[off : off+direntSize]
		d, c := le.Uint64(r[0:]), le.Uint64(r[8:])
		no, nl := uint64(le.Uint32(r[16:])), uint64(le.Uint32(r[20:]))
		if no > sl || nl > sl-no {
			return bad("entry name out of range")
		}
		name := string(strs[no : no+nl])
		if i > 0 && (d < pd || d == pd && name <= pn) {
			return bad("entries not in ascending order")
		}
		pd, pn = d, name
		if s.dirs[d] == nil {
			s.dirs[d] = map[string]uint64{}
		}
		s.dirs[d][name] = c
		off += direntSize
	}
	if err := s.validate(); err != nil {
		return bad("%v", err)
	}
	return s, root, nil
}

// delta is one change of a commit.
type delta struct {
	typ        uint32
	ino        *inode // deltaInode (a copy)
	id         uint64 // deltaDrop, deltaNextID
	dir, child uint64 // deltaLink, deltaUnlink
	name       string
}

// pageRef lists a PAGE record of a commit.
type pageRef struct {
	off   int64
	file  uint64
	level uint32
	index uint64
	s     [16]byte
}

func encodeCommit(pages []pageRef, deltas []delta) []byte {
	b := make([]byte, 8+len(pages)*pageRefSize)
	le.PutUint32(b[0:], uint32(len(pages)))
	le.PutUint32(b[4:], uint32(len(deltas)))
	for i, p := range pages {
		r := b[8+i*pageRefSize:]
		le.PutUint64(r[0:], uint64(p.off))
		le.PutUint64(r[8:], p.file)
		le.PutUint32(r[16:], p.level)
		le.PutUint64(r[24:], p.index)
		copy(r[32:48], p.s[:])
	}
	for _, d := range deltas {
		var body []byte
		switch d.typ {
		case deltaInode:
			body = make([]byte, inodeSize, inodeSize+len(d.ino.target))
			d.ino.put(body, 0)
			body = append(body, d.ino.target...)
		case deltaDrop, deltaNextID:
			body = le.AppendUint64(nil, d.id)
		case deltaLink:
			body = le.AppendUint64(le.AppendUint64(nil, d.dir), d.child)
			body = append(body, d.name...)
		case deltaUnlink:
			body = append(le.AppendUint64(nil, d.dir), d.name...)
		}
		b = le.AppendUint32(b, d.typ)
		b = le.AppendUint32(b, uint32(len(body)))
		b = append(b, body...)
	}
	return b
}

func decodeCommit(b []byte) ([]pageRef, []delta, error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("commit metadata too short")
	}
	np, nd := uint64(le.Uint32(b[0:])), uint64(le.Uint32(b[4:]))
	if np > uint64(len(b)-8)/pageRefSize {
		return nil, nil, fmt.Errorf("page count %d too large", np)
	}
	pages := make([]pageRef, np)
	for i := range pages {
		r := b[8+i*pageRefSize:]
		p := pageRef{off: int64(le.Uint64(r[0:])), file: le.Uint64(r[8:]), level: le.Uint32(r[16:]), index: le.Uint64(r[24:])}
		copy(p.s[:], r[32:48])
		if le.Uint32(r[20:]) != 0 || p.level > maxDepth || p.off < 0 || p.file == 0 {
			return nil, nil, fmt.Errorf("bad page reference %d", i)
		}
		pages[i] = p
	}
	rest := b[8+np*pageRefSize:]
	var deltas []delta
	for i := uint64(0); i < nd; i++ {
		if len(rest) < 8 {
			return nil, nil, fmt.Errorf("delta %d truncated", i)
		}
		t, l := le.Uint32(rest[0:]), uint64(le.Uint32(rest[4:]))
		if l > uint64(len(rest)-8) {
			return nil, nil, fmt.Errorf("delta %d truncated", i)
		}
		body := rest[8 : 8+l]
		rest = rest[8+l:]
		d := delta{typ: t}
		switch t {
		case deltaInode:
			if l < inodeSize {
				return nil, nil, fmt.Errorf("delta %d: short inode", i)
			}
			n, toff, err := getInode(body)
			if err != nil {
				return nil, nil, fmt.Errorf("delta %d: %v", i, err)
			}
			tgt := body[inodeSize:]
			if toff != 0 || (n.isLink() && uint64(len(tgt)) != n.size) || (!n.isLink() && len(tgt) != 0) ||
				bytes.IndexByte(tgt, 0) >= 0 {
				return nil, nil, fmt.Errorf("delta %d: bad symlink target", i)
			}
			n.target = string(tgt)
			d.ino = n
		case deltaDrop, deltaNextID:
			if l != 8 {
				return nil, nil, fmt.Errorf("delta %d: bad length", i)
			}
			d.id = le.Uint64(body)
		case deltaLink:
			if l < 17 {
				return nil, nil, fmt.Errorf("delta %d: bad length", i)
			}
			d.dir, d.child, d.name = le.Uint64(body), le.Uint64(body[8:]), string(body[16:])
		case deltaUnlink:
			if l < 9 {
				return nil, nil, fmt.Errorf("delta %d: bad length", i)
			}
			d.dir, d.name = le.Uint64(body), string(body[8:])
		default:
			return nil, nil, fmt.Errorf("delta %d: unknown type %d", i, t)
		}
		deltas = append(deltas, d)
	}
	if len(rest) != 0 {
		return nil, nil, fmt.Errorf("%d bytes after the last delta", len(rest))
	}
	return pages, deltas, nil
}

// apply applies one delta; the rules are checked on the state after a
// whole commit (validate).
func (s *state) apply(d delta) error {
	switch d.typ {
	case deltaInode:
		if d.ino.id >= s.nextID {
			return fmt.Errorf("inode %d not below next id", d.ino.id)
		}
		cp := *d.ino
		s.inodes[cp.id] = &cp
	case deltaDrop:
		if _, ok := s.inodes[d.id]; !ok || d.id == rootID {
			return fmt.Errorf("drop of missing inode %d", d.id)
		}
		delete(s.inodes, d.id)
		delete(s.dirs, d.id)
	case deltaNextID:
		if d.id < s.nextID {
			return fmt.Errorf("next id goes back")
		}
		s.nextID = d.id
	case deltaLink:
		if !validName(d.name) {
			return fmt.Errorf("invalid name %q", d.name)
		}
		m := s.dirs[d.dir]
		if m == nil {
			m = map[string]uint64{}
			s.dirs[d.dir] = m
		}
		if _, ok := m[d.name]; ok {
			return fmt.Errorf("link over existing entry %q", d.name)
		}
		m[d.name] = d.child
	case deltaUnlink:
		if _, ok := s.dirs[d.dir][d.name]; !ok {
			return fmt.Errorf("unlink of missing entry %q", d.name)
		}
		delete(s.dirs[d.dir], d.name)
	}
	return nil
}
