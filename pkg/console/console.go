package console

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Format constants (docs/console.md, version 2).
const (
	Magic   = "SCNC"
	Version = 2
	// HeaderLen is the size of a session header; its first HeaderMACed
	// bytes are authenticated by the header MAC that follows them.
	HeaderLen    = 128
	HeaderMACed  = 96
	NonceLen     = 16
	RecHeaderLen = 13
	TagLen       = 16
	// MaxRecord is the largest plaintext a decoder accepts in one record; the
	// runtime writes at most 64 KiB.
	MaxRecord = 1 << 20
	// FlagFinal marks the last record of a cleanly ended session.
	FlagFinal = 0x01
)

// HKDF-SHA256 info strings (docs/console.md).
const (
	// LabelKey derives the console key from the FS key (no salt).
	LabelKey = "scone console v2 key"
	// LabelHeaderMAC derives the header MAC key from the console key (no salt).
	LabelHeaderMAC = "scone console v2 header mac"
	// LabelSession derives a session's AES-256-GCM key from the console key,
	// salted with the session's first HeaderMACed header bytes.
	LabelSession = "scone console v2 session"
)

// Header field offsets (docs/console.md).
const (
	offStream    = 5
	offMRENCLAVE = 8
	offRun       = 40
	offNonce     = 56
	offParent    = 72
	offFork      = 88
)

// Stream is the stream id of a session: which output of the program it carries.
type Stream uint8

// Stream ids in the header.
const (
	Stdout Stream = 1
	Stderr Stream = 2
)

func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return fmt.Sprintf("stream %d", uint8(s))
}

// ParseStream reads "stdout" or "stderr".
func ParseStream(s string) (Stream, error) {
	switch s {
	case "stdout":
		return Stdout, nil
	case "stderr":
		return Stderr, nil
	}
	return 0, fmt.Errorf("parse console stream %q: want stdout or stderr", s)
}

// Sentinel errors; a *StreamError wraps one of them.
var (
	// ErrFormat: the input is not a console stream (bad magic, reserved bits,
	// oversized record, a malformed header).
	ErrFormat = errors.New("not a console record stream")
	// ErrVersion: the stream uses another format version (version 1 is
	// refused: its sessions can be spliced).
	ErrVersion = errors.New("unsupported console stream version")
	// ErrTampered: a header or record failed authentication (modified data,
	// or the wrong key).
	ErrTampered = errors.New("console record failed authentication (tampered, or wrong key)")
	// ErrReordered: an authentic record arrived out of sequence (records were
	// dropped, duplicated or reordered).
	ErrReordered = errors.New("console records dropped or reordered")
	// ErrTruncated: the stream ended before a session's final record, or it
	// does not begin with its run's root session.
	ErrTruncated = errors.New("console stream truncated")
	// ErrSpliced: an authentic session that does not belong in this log: one
	// of another run, or a session that appears twice.
	ErrSpliced = errors.New("console sessions spliced from another run or replayed")
	// ErrWrongStream: a session of the other stream (stderr in a stdout log,
	// or the other way round).
	ErrWrongStream = errors.New("console session of another stream")
	// ErrWrongEnclave: a session written by another enclave than the
	// expected one (WithMRENCLAVE) or than the log's first session.
	ErrWrongEnclave = errors.New("console session written by another enclave")
)

// StreamError locates a decoding failure.
type StreamError struct {
	Offset  int64  // byte offset of the failing header or record in the input
	Session int    // 0-based session index (in the order of their headers)
	Seq     uint64 // expected sequence number
	Err     error  // one of the sentinel errors
	Detail  string
}

func (e *StreamError) Error() string {
	s := fmt.Sprintf("decode console stream at offset %d (session %d, record %d): %v", e.Offset, e.Session, e.Seq, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *StreamError) Unwrap() error { return e.Err }

// Session is one authenticated session header of a log, and what its
// records showed.
type Session struct {
	Offset      int64 // of its header in the input
	Stream      Stream
	MRENCLAVE   [32]byte
	Run         [NonceLen]byte // the run nonce
	Nonce       [NonceLen]byte // the writing process's nonce (the root's is Run)
	Parent      [NonceLen]byte // the parent process's nonce; zero for the root
	ForkCounter uint64         // 0 for the root; n: the parent's n-th fork
	// ParentIndex is the index of the parent's session in Log.Sessions, or
	// -1 for the root and for a process whose parent wrote nothing to this
	// stream.
	ParentIndex int
	Records     uint64 // authenticated records, the final one included
	Final       bool   // the session ended with its final record
}

// Root reports whether s is the session of the run's first process.
func (s *Session) Root() bool { return s.ForkCounter == 0 }

// Log is what a decoded log is: the sessions of one run of one enclave on
// one stream.
type Log struct {
	Stream    Stream
	MRENCLAVE [32]byte
	Run       [NonceLen]byte
	Sessions  []Session
}

// Option configures Decrypt.
type Option func(*options)

type options struct {
	mrenclave *[32]byte
}

// WithMRENCLAVE makes Decrypt require that every session was written by the
// enclave with this MRENCLAVE. Without it, every session must have been
// written by the enclave of the log's first session (Log.MRENCLAVE).
func WithMRENCLAVE(mr [32]byte) Option {
	return func(o *options) { o.mrenclave = &mr }
}

// Decrypt authenticates and decrypts one console log: the sessions of one
// run of one enclave on stream, and writes the plaintext to dst, record by
// record (only authenticated data is written, in the order the records
// reached the log). It returns the log's sessions; the error is nil only if
// the log begins with the run's root session, every session belongs to
// that run, enclave and stream and appears once, and every session ended
// with its final record. On an error the *Log holds the sessions seen so
// far.
//
// Sessions may be interleaved at record boundaries: a process forked inside
// the enclave writes its own session to the same stream, and the records of
// parent and child reach the log in the order they were written. A header
// opens a session; every record must authenticate under one open session and
// carry that session's next sequence number; a FINAL record closes its
// session.
func Decrypt(dst io.Writer, src io.Reader, key Key, stream Stream, opts ...Option) (*Log, error) {
	if stream != Stdout && stream != Stderr {
		return nil, fmt.Errorf("decode console stream: expected stream %d is neither stdout (1) nor stderr (2)", stream)
	}
	d := decoder{r: bufio.NewReaderSize(src, 64<<10), key: key, stream: stream, log: &Log{Stream: stream},
		nonces: map[[NonceLen]byte]int{}, forks: map[forkPos]int{}}
	for _, o := range opts {
		o(&d.opt)
	}
	var err error
	d.macKey, err = hkdf.Key(sha256.New, key[:], nil, LabelHeaderMAC, 32)
	if err != nil {
		return nil, fmt.Errorf("derive console header key: %w", err)
	}
	err = d.run(dst)
	d.link()
	return d.log, err
}

type decoder struct {
	r      *bufio.Reader
	key    Key
	macKey []byte
	stream Stream
	opt    options
	off    int64
	log    *Log
	open   []*session
	nonces map[[NonceLen]byte]int // process nonce -> session index
	forks  map[forkPos]int        // (parent, fork counter) -> session index
	buf    []byte
	pt     []byte
}

type forkPos struct {
	parent [NonceLen]byte
	n      uint64
}

type session struct {
	idx  int
	gcm  cipher.AEAD
	want uint64
	done bool
}

func (d *decoder) run(dst io.Writer) error {
	for {
		off := d.off
		head, _ := d.r.Peek(4)
		if len(head) == 0 {
			if len(d.log.Sessions) == 0 {
				return &StreamError{Offset: off, Err: ErrTruncated, Detail: "incomplete or missing session header"}
			}
			if len(d.open) > 0 {
				s := d.open[0]
				return &StreamError{Offset: off, Session: s.idx, Seq: s.want, Err: ErrTruncated, Detail: "stream ends before the final record"}
			}
			return nil
		}
		if len(d.open) == 0 || string(head) == Magic {
			if err := d.header(); err != nil {
				return err
			}
			continue
		}
		s, err := d.record(dst)
		if err != nil {
			return err
		}
		if s.done {
			for i := range d.open {
				if d.open[i] == s {
					d.open = append(d.open[:i], d.open[i+1:]...)
					break
				}
			}
		}
	}
}

func (d *decoder) read(p []byte) error {
	n, err := io.ReadFull(d.r, p)
	d.off += int64(n)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("read console stream: %w", err)
	}
	return err
}

var zeroNonce [NonceLen]byte

// header reads, authenticates and checks one session header and opens its
// session.
func (d *decoder) header() error {
	off := d.off
	idx := len(d.log.Sessions)
	fail := func(e error, format string, a ...any) error {
		return &StreamError{Offset: off, Session: idx, Err: e, Detail: fmt.Sprintf(format, a...)}
	}
	hdr := make([]byte, HeaderLen)
	readPart := func(p []byte) error {
		if err := d.read(p); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return fail(ErrTruncated, "incomplete or missing session header")
			}
			return err
		}
		return nil
	}
	// The fixed part first: a version 1 header is shorter than this one.
	if err := readPart(hdr[:8]); err != nil {
		return err
	}
	if string(hdr[:4]) != Magic {
		return fail(ErrFormat, "bad magic %q", hdr[:4])
	}
	switch hdr[4] {
	case Version:
	case 1:
		return fail(ErrVersion, "version 1 logs are refused: their sessions are not bound to one run, "+
			"enclave or stream, so sessions of other logs could be spliced into them undetected "+
			"(this scone-build reads version %d, docs/console.md)", Version)
	default:
		return fail(ErrVersion, "version %d (this scone-build reads version %d)", hdr[4], Version)
	}
	if err := readPart(hdr[8:]); err != nil {
		return err
	}
	m := hmac.New(sha256.New, d.macKey)
	m.Write(hdr[:HeaderMACed])
	if !hmac.Equal(m.Sum(nil), hdr[HeaderMACed:]) {
		return fail(ErrTampered, "session header")
	}
	s := Session{Offset: off, Stream: Stream(hdr[offStream]), ForkCounter: binary.BigEndian.Uint64(hdr[offFork:]), ParentIndex: -1}
	copy(s.MRENCLAVE[:], hdr[offMRENCLAVE:])
	copy(s.Run[:], hdr[offRun:])
	copy(s.Nonce[:], hdr[offNonce:])
	copy(s.Parent[:], hdr[offParent:])
	// Authentic, so written by a runtime with the key: what follows only
	// fails for a writer that breaks the format.
	if s.Stream != Stdout && s.Stream != Stderr {
		return fail(ErrFormat, "stream id %d", hdr[offStream])
	}
	if hdr[6] != 0 || hdr[7] != 0 {
		return fail(ErrFormat, "reserved header bytes are not zero")
	}
	if s.Run == zeroNonce || s.Nonce == zeroNonce {
		return fail(ErrFormat, "zero nonce")
	}
	if s.Root() {
		if s.Nonce != s.Run || s.Parent != zeroNonce {
			return fail(ErrFormat, "a root session's nonce must be the run nonce and it has no parent")
		}
	} else if s.Nonce == s.Run || s.Parent == zeroNonce || s.Parent == s.Nonce {
		return fail(ErrFormat, "a child session needs its own nonce and its parent's")
	}

	// Binding: this log is one run of one enclave on one stream.
	if s.Stream != d.stream {
		return fail(ErrWrongStream, "a %s session in a log expected to hold %s", s.Stream, d.stream)
	}
	if d.opt.mrenclave != nil && s.MRENCLAVE != *d.opt.mrenclave {
		return fail(ErrWrongEnclave, "written by MRENCLAVE %x, expected %x", s.MRENCLAVE, *d.opt.mrenclave)
	}
	if idx == 0 {
		if !s.Root() {
			return fail(ErrTruncated, "the log does not begin with its run's root session (its beginning is missing): "+
				"the first session is fork %d of process %x", s.ForkCounter, s.Parent)
		}
		d.log.MRENCLAVE, d.log.Run = s.MRENCLAVE, s.Run
	} else {
		if s.MRENCLAVE != d.log.MRENCLAVE {
			return fail(ErrWrongEnclave, "written by MRENCLAVE %x, the log's first session by %x", s.MRENCLAVE, d.log.MRENCLAVE)
		}
		if s.Run != d.log.Run {
			return fail(ErrSpliced, "a session of another run (run nonce %x, the log's run is %x)", s.Run, d.log.Run)
		}
		if i, ok := d.nonces[s.Nonce]; ok {
			return fail(ErrSpliced, "process %x already wrote session %d: a session appears twice", s.Nonce, i)
		}
		if i, ok := d.forks[forkPos{s.Parent, s.ForkCounter}]; ok {
			return fail(ErrSpliced, "session %d is already fork %d of process %x", i, s.ForkCounter, s.Parent)
		}
	}

	k, err := hkdf.Key(sha256.New, d.key[:], hdr[:HeaderMACed], LabelSession, 32)
	if err != nil {
		return fmt.Errorf("derive console session key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return fmt.Errorf("create console cipher: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("create console cipher: %w", err)
	}
	d.nonces[s.Nonce] = idx
	if !s.Root() {
		d.forks[forkPos{s.Parent, s.ForkCounter}] = idx
	}
	d.log.Sessions = append(d.log.Sessions, s)
	d.open = append(d.open, &session{idx: idx, gcm: gcm})
	return nil
}

// link sets each session's ParentIndex.
func (d *decoder) link() {
	for i := range d.log.Sessions {
		s := &d.log.Sessions[i]
		if s.Root() {
			continue
		}
		if p, ok := d.nonces[s.Parent]; ok {
			s.ParentIndex = p
		}
	}
}

// record reads one record and authenticates it under one of the open
// sessions (the ones expecting its sequence number first).
func (d *decoder) record(dst io.Writer) (*session, error) {
	off := d.off
	first := d.open[0]
	fail := func(s *session, e error, detail string) error {
		return &StreamError{Offset: off, Session: s.idx, Seq: s.want, Err: e, Detail: detail}
	}
	rh := make([]byte, RecHeaderLen)
	if err := d.read(rh); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fail(first, ErrTruncated, "stream ends before the final record")
		}
		return nil, err
	}
	seq := binary.BigEndian.Uint64(rh)
	flags := rh[8]
	n := binary.BigEndian.Uint32(rh[9:])
	if flags&^FlagFinal != 0 {
		// Unknown flags: authenticated like the rest, so this is either a
		// newer writer or tampering; both are format errors here.
		return nil, fail(first, ErrFormat, fmt.Sprintf("unknown record flags %#x", flags))
	}
	if n > MaxRecord {
		return nil, fail(first, ErrFormat, fmt.Sprintf("record length %d exceeds %d", n, MaxRecord))
	}
	need := int(n) + TagLen
	if cap(d.buf) < need {
		d.buf = make([]byte, need)
	}
	body := d.buf[:need]
	if err := d.read(body); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fail(first, ErrTruncated, "record cut off")
		}
		return nil, err
	}
	nonce := make([]byte, 12)
	binary.BigEndian.PutUint64(nonce[4:], seq)
	if cap(d.pt) < int(n) {
		d.pt = make([]byte, n)
	}
	var owner *session
	var pt []byte
	for pass := 0; pass < 2 && owner == nil; pass++ {
		for _, s := range d.open {
			if (s.want == seq) != (pass == 0) {
				continue
			}
			if p, err := s.gcm.Open(d.pt[:0], nonce, body, rh); err == nil {
				owner, pt = s, p
				break
			}
		}
	}
	if owner == nil {
		return nil, fail(first, ErrTampered, "")
	}
	if seq != owner.want {
		return nil, fail(owner, ErrReordered, fmt.Sprintf("authentic record %d where %d was expected", seq, owner.want))
	}
	if len(pt) > 0 {
		if _, err := dst.Write(pt); err != nil {
			return nil, fmt.Errorf("write console plaintext: %w", err)
		}
	}
	owner.want++
	owner.done = flags&FlagFinal != 0
	ls := &d.log.Sessions[owner.idx]
	ls.Records++
	ls.Final = owner.done
	return owner, nil
}
