package volume

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultCheckpointSize is the log size above which a commit is followed by
// a checkpoint.
const DefaultCheckpointSize = 64 << 20

// Option configures Create and Open.
type Option func(*options)

type options struct {
	readOnly   bool
	volID      *[16]byte
	path       string
	uid, gid   uint32
	now        func() time.Time
	checkpoint int64
	crashAfter int
}

// ReadOnly opens a volume without changing anything on the host: an
// interrupted commit is skipped in memory, not cut off, and no checkpoint
// runs. Changes fail with ErrReadOnly.
func ReadOnly() Option { return func(o *options) { o.readOnly = true } }

// WithVolumeID makes Create use this volume id instead of a random one
// (test vectors).
func WithVolumeID(id [16]byte) Option { return func(o *options) { o.volID = &id } }

// WithMountPath records the path the volume is mounted at (Create; the
// header keeps it for the tools). Default "/data".
func WithMountPath(p string) Option { return func(o *options) { o.path = p } }

// WithOwner makes Create give the root directory this owner (default 0:0).
func WithOwner(uid, gid uint32) Option { return func(o *options) { o.uid, o.gid = uid, gid } }

// WithClock sets the clock of inode times (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithCheckpointSize sets the log size above which commits checkpoint.
func WithCheckpointSize(n int64) Option { return func(o *options) { o.checkpoint = n } }

func withCrashAfter(n int) Option { return func(o *options) { o.crashAfter = n } }

func buildOptions(opts []Option) *options {
	o := &options{path: "/data", now: time.Now, checkpoint: DefaultCheckpointSize}
	for _, f := range opts {
		f(o)
	}
	return o
}

type nodeKey struct {
	file  uint64
	level uint32
	index uint64
}

type tagPage struct {
	e     [fanout][tagSize]byte
	dirty bool
}

// ftree is the in-memory part of one file's tag tree: loaded tag pages and
// dirty data pages.
type ftree struct {
	tags  map[[2]uint64]*tagPage // (level, index)
	dirty map[uint64][]byte      // data page -> plaintext
}

// Volume is an open protected volume. It is not safe for concurrent use.
type Volume struct {
	h    *host
	k    *keys
	hdr  *header
	o    *options
	ro   bool
	dead error // set when a change failed half-way: the volume must be reopened

	gen     uint64
	version uint64
	root    [16]byte
	st      *state // current
	cst     *state // last committed

	logMap   map[nodeKey]int64 // where the latest log copy of a page is (PAGE record offset)
	logEnd   int64
	pending  map[nodeKey]pageRef // PAGE records since the last commit
	trees    map[uint64]*ftree
	ops      []delta         // LINK/UNLINK since the last commit, in order
	touched  map[uint64]bool // inodes changed since the last commit
	inPlace  map[uint64]bool // host files written in place since the last commit
	toDelete []uint64        // host files to remove after the next durable commit
}

// Create makes a new, empty volume in dir (created if missing; it must be
// empty, or hold only the leftovers of an interrupted creation) and opens
// it for writing.
func Create(dir string, key Key, opts ...Option) (*Volume, error) {
	o := buildOptions(opts)
	if o.readOnly {
		return nil, fmt.Errorf("create volume %q: %w", dir, ErrReadOnly)
	}
	if err := checkMountPath(o.path); err != nil {
		return nil, fmt.Errorf("create volume %q: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create volume %q: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("create volume %q: %w", dir, err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "meta.") && !strings.HasPrefix(e.Name(), tmpPrefix) {
			return nil, fmt.Errorf("create volume %q: %w", dir, ErrNotVolume)
		}
	}
	k, err := newKeys(key)
	if err != nil {
		return nil, err
	}
	h := &host{dir: dir, crashAfter: o.crashAfter}
	hdr := &header{check: k.check, path: o.path}
	if o.volID != nil {
		hdr.volID = *o.volID
	} else if _, err := rand.Read(hdr.volID[:]); err != nil {
		return nil, fmt.Errorf("create volume %q: %w", dir, err)
	}
	st := newState()
	now := timeOf(o.now())
	st.inodes[rootID] = &inode{id: rootID, mode: sIFDIR | 0o755, uid: o.uid, gid: o.gid, nlink: 2, atime: now, mtime: now, ctm: now}
	v := &Volume{h: h, k: k, hdr: hdr}
	for _, e := range ents {
		if err := h.remove(e.Name()); err != nil {
			return nil, fmt.Errorf("create volume %q: %w", dir, err)
		}
	}
	if err := h.writeFileAtomic(metaName(0), v.sealSnapshot(0, 0, [16]byte{}, st)); err != nil {
		return nil, fmt.Errorf("create volume %q: %w", dir, err)
	}
	if err := h.writeFileAtomic(headerFile, hdr.marshal(k)); err != nil {
		return nil, fmt.Errorf("create volume %q: %w", dir, err)
	}
	return Open(dir, key, opts...)
}

func timeOf(t time.Time) Time { return Time{Sec: t.Unix(), Nsec: uint32(t.Nanosecond())} }

func (v *Volume) sealSnapshot(gen, version uint64, root [16]byte, st *state) []byte {
	m := st.encode(root)
	b := make([]byte, snapHdrSize+len(m))
	copy(b, snapMagic)
	le.PutUint32(b[8:], Version)
	le.PutUint64(b[16:], gen)
	le.PutUint64(b[24:], version)
	le.PutUint64(b[32:], uint64(len(m)))
	s := v.k.seal(&position{kind: kindSnapshot, vol: v.hdr.volID, file: gen, index: version, aux: uint64(len(m))}, m, b[snapHdrSize:])
	copy(b[40:56], s[:])
	return b
}

// Open opens the volume in dir with its key. Unless ReadOnly, an
// interrupted commit is cut off, leftovers of an interrupted checkpoint and
// host files of removed files are deleted, and a non-empty log is
// checkpointed.
func Open(dir string, key Key, opts ...Option) (*Volume, error) {
	o := buildOptions(opts)
	k, err := newKeys(key)
	if err != nil {
		return nil, err
	}
	v := &Volume{h: &host{dir: dir, crashAfter: o.crashAfter}, k: k, o: o, ro: o.readOnly}
	if err := v.load(); err != nil {
		return nil, fmt.Errorf("open volume %q: %w", dir, err)
	}
	if !v.ro {
		if err := v.cleanup(); err != nil {
			return nil, fmt.Errorf("open volume %q: %w", dir, err)
		}
	}
	return v, nil
}

func (v *Volume) load() error {
	hb, err := v.h.readFile(headerFile)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotVolume
	}
	if err != nil {
		return err
	}
	if v.hdr, err = parseHeader(hb, v.k); err != nil {
		return err
	}
	ents, err := os.ReadDir(v.h.dir)
	if err != nil {
		return err
	}
	found := false
	for _, e := range ents {
		if g, ok := genOf(e.Name(), "meta."); ok && (!found || g > v.gen) {
			v.gen, found = g, true
		}
	}
	if !found {
		return &AuthError{Part: PartSnapshot, Msg: "no snapshot in the volume directory"}
	}
	if err := v.loadSnapshot(); err != nil {
		return err
	}
	v.cst = v.st.clone()
	v.logMap = map[nodeKey]int64{}
	v.resetPending()
	return v.replay()
}

func (v *Volume) resetPending() {
	v.pending = map[nodeKey]pageRef{}
	v.trees = map[uint64]*ftree{}
	v.ops = nil
	v.touched = map[uint64]bool{}
	v.inPlace = map[uint64]bool{}
}

func genOf(name, prefix string) (uint64, bool) {
	s, ok := strings.CutPrefix(name, prefix)
	if !ok || len(s) != 16 {
		return 0, false
	}
	g, err := strconv.ParseUint(s, 16, 64)
	return g, err == nil && fmt.Sprintf("%016x", g) == s
}

func (v *Volume) loadSnapshot() error {
	name := metaName(v.gen)
	b, err := v.h.readFile(name)
	if err != nil {
		return err
	}
	if len(b) < snapHdrSize || string(b[:8]) != snapMagic {
		return formatErr(name, "not a snapshot (bad magic)")
	}
	if ver := le.Uint32(b[8:]); ver != Version {
		return &UnknownVersionError{Version: ver}
	}
	m := le.Uint64(b[32:])
	if le.Uint32(b[12:]) != 0 || le.Uint64(b[56:]) != 0 || le.Uint64(b[16:]) != v.gen || m != uint64(len(b)-snapHdrSize) {
		return &AuthError{Part: PartSnapshot, Msg: "header fields do not match the file"}
	}
	v.version = le.Uint64(b[24:])
	var s [16]byte
	copy(s[:], b[40:56])
	plain := make([]byte, m)
	if !v.k.open(&position{kind: kindSnapshot, vol: v.hdr.volID, file: v.gen, index: v.version, aux: m}, b[snapHdrSize:], plain, s) {
		return &AuthError{Part: PartSnapshot}
	}
	v.st, v.root, err = decodeState(plain, name)
	return err
}

// replay applies the commits of the log; the first record that is not a
// valid continuation ends it (docs/volume.md, "Reading the log").
func (v *Volume) replay() error {
	name := logName(v.gen)
	b, err := v.h.readFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return v.replayBytes(b)
}

func (v *Volume) replayBytes(b []byte) error {
	window := map[int64]bool{}
	off := int64(0)
	for {
		rest := b[off:]
		if int64(len(rest)) < recHdrSize || allZero(rest[:recHdrSize]) {
			return nil // the end, or the torn tail of an interrupted append
		}
		typ, n := le.Uint32(rest[4:]), le.Uint64(rest[8:])
		if string(rest[:4]) != recMagic || typ != recPage && typ != recCommit ||
			typ == recPage && n != PageSize || typ == recCommit && n < commitHdrSize {
			return &AuthError{Part: PartLog, Index: v.version + 1, Msg: fmt.Sprintf("bad record at offset %d", off)}
		}
		if n > uint64(len(rest)-recHdrSize) {
			return nil // torn tail
		}
		next := off + recHdrSize + int64(n)
		if typ == recPage {
			window[off] = true
		} else {
			if err := v.replayCommit(rest[recHdrSize:recHdrSize+n], window); err != nil {
				return err
			}
			window = map[int64]bool{}
			v.logEnd = next
		}
		off = next
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (v *Volume) replayCommit(p []byte, window map[int64]bool) error {
	ver, m := le.Uint64(p[0:]), le.Uint64(p[8:])
	bad := &AuthError{Part: PartLog, Index: v.version + 1}
	if ver != v.version+1 || m != uint64(len(p)-commitHdrSize) || !allZero(p[32:64]) {
		bad.Msg = "commit out of sequence"
		return bad
	}
	var s [16]byte
	copy(s[:], p[16:32])
	plain := make([]byte, m)
	if !v.k.open(&position{kind: kindCommit, vol: v.hdr.volID, file: v.gen, index: ver, link: v.root, aux: m}, p[commitHdrSize:], plain, s) {
		return bad
	}
	name := logName(v.gen)
	pages, deltas, err := decodeCommit(plain)
	if err != nil {
		return formatErr(name, "commit %d: %v", ver, err)
	}
	st := v.st.clone()
	for _, d := range deltas {
		if err := st.apply(d); err != nil {
			return formatErr(name, "commit %d: %v", ver, err)
		}
	}
	if err := st.validate(); err != nil {
		return formatErr(name, "commit %d: %v", ver, err)
	}
	for _, pr := range pages {
		if !window[pr.off] {
			return formatErr(name, "commit %d: page reference %d is not a page record of the commit", ver, pr.off)
		}
	}
	for _, pr := range pages {
		v.logMap[nodeKey{pr.file, pr.level, pr.index}] = pr.off
	}
	v.st, v.cst = st, st.clone()
	v.version, v.root = ver, s
	return nil
}

// cleanup runs when a volume is opened for writing.
func (v *Volume) cleanup() error {
	ents, err := os.ReadDir(v.h.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		g, isMeta := genOf(n, "meta.")
		gl, isLog := genOf(n, "log.")
		if strings.HasPrefix(n, tmpPrefix) || isMeta && g != v.gen || isLog && gl != v.gen {
			if err := v.h.remove(n); err != nil {
				return err
			}
		}
	}
	pents, err := os.ReadDir(v.h.path(pagesDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range pents {
		id, err := strconv.ParseUint(e.Name(), 16, 64)
		if n := v.st.inodes[id]; err == nil && n != nil && n.isReg() {
			continue
		}
		if err := v.h.remove(pagesDir + "/" + e.Name()); err != nil {
			return err
		}
	}
	if fi, err := os.Stat(v.h.path(logName(v.gen))); err == nil {
		if fi.Size() > v.logEnd {
			if err := v.h.truncate(logName(v.gen), v.logEnd); err != nil {
				return err
			}
		}
		if v.logEnd > 0 {
			return v.Checkpoint()
		}
	}
	return nil
}

// Root returns the volume's version and root R_V (docs/volume.md): what a
// CAS records to detect rollback.
func (v *Volume) Root() (uint64, [16]byte) { return v.version, v.root }

// ID returns the volume id.
func (v *Volume) ID() [16]byte { return v.hdr.volID }

// MountPath returns the path recorded in the header.
func (v *Volume) MountPath() string { return v.hdr.path }

// HeaderPath reads the mount path from the header of the volume in dir
// without a key (the tools derive the key from it).
func HeaderPath(dir string) (string, error) {
	b, err := os.ReadFile(dir + "/" + headerFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read volume header in %q: %w", dir, ErrNotVolume)
	}
	if err != nil {
		return "", fmt.Errorf("read volume header in %q: %w", dir, err)
	}
	h, err := parseHeader(b, nil)
	if err != nil {
		return "", fmt.Errorf("read volume header in %q: %w", dir, err)
	}
	return h.path, nil
}

func sortedKeys[K interface{ ~uint64 }, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
