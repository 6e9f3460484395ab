package console

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Format constants (docs/console.md, version 1).
const (
	Magic        = "SCNC"
	Version      = 1
	HeaderLen    = 24
	NonceLen     = 16
	RecHeaderLen = 13
	TagLen       = 16
	// MaxRecord is the largest plaintext a decoder accepts in one record; the
	// runtime writes at most 64 KiB.
	MaxRecord = 1 << 20
	// FlagFinal marks the last record of a cleanly ended session.
	FlagFinal = 0x01
	// Label is the HKDF info string of the session key.
	Label = "scone console v1"
)

// Stream ids in the header.
const (
	StreamStdout = 1
	StreamStderr = 2
)

// Sentinel errors; a *StreamError wraps one of them.
var (
	// ErrFormat: the input is not a console stream (bad magic, reserved bits,
	// oversized record).
	ErrFormat = errors.New("not a console record stream")
	// ErrVersion: the stream uses an unknown format version.
	ErrVersion = errors.New("unsupported console stream version")
	// ErrTampered: a record failed authentication (modified data, or the wrong key).
	ErrTampered = errors.New("console record failed authentication (tampered, or wrong key)")
	// ErrReordered: an authentic record arrived out of sequence (records were
	// dropped, duplicated or reordered).
	ErrReordered = errors.New("console records dropped or reordered")
	// ErrTruncated: the stream ended before a session's final record.
	ErrTruncated = errors.New("console stream truncated")
)

// StreamError locates a decoding failure.
type StreamError struct {
	Offset  int64  // byte offset of the failing header or record in the input
	Session int    // 0-based session index
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

// Session describes one decoded session header.
type Session struct {
	Stream byte
	Nonce  [NonceLen]byte
}

// Decrypt authenticates and decrypts every session in src and writes the
// plaintext to dst, record by record (only authenticated data is written).
// It returns nil only if every session ended with its final record.
func Decrypt(dst io.Writer, src io.Reader, key [32]byte) error {
	_, err := DecryptSessions(dst, src, key)
	return err
}

// DecryptSessions is Decrypt that also returns the session headers it saw.
//
// Sessions may be interleaved at record boundaries: a process forked inside
// the enclave starts its own session on the same stream, and the records of
// parent and child reach the log in the order they were written. A header
// opens a session; every record must authenticate under one open session and
// carry that session's next sequence number; a FINAL record closes its
// session. Plaintext is written in stream order.
func DecryptSessions(dst io.Writer, src io.Reader, key [32]byte) ([]Session, error) {
	d := decoder{r: bufio.NewReaderSize(src, 64<<10), key: key}
	var open []*session
	for {
		off := d.off
		head, err := d.r.Peek(4)
		if len(head) == 0 && err == io.EOF {
			if len(d.sessions) == 0 {
				return d.sessions, &StreamError{Offset: off, Err: ErrTruncated, Detail: "incomplete or missing session header"}
			}
			if len(open) > 0 {
				return d.sessions, &StreamError{Offset: off, Session: open[0].idx, Seq: open[0].want, Err: ErrTruncated, Detail: "stream ends before the final record"}
			}
			return d.sessions, nil
		}
		if len(open) == 0 || string(head) == Magic {
			hdr, err := d.readHeader()
			if err != nil {
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					return d.sessions, &StreamError{Offset: off, Session: len(d.sessions), Err: ErrTruncated, Detail: "incomplete or missing session header"}
				}
				return d.sessions, err
			}
			s, err := newSession(d.key, hdr, len(d.sessions)-1)
			if err != nil {
				return d.sessions, err
			}
			open = append(open, s)
			continue
		}
		s, err := d.record(dst, open)
		if err != nil {
			return d.sessions, err
		}
		if s.done {
			for i := range open {
				if open[i] == s {
					open = append(open[:i], open[i+1:]...)
					break
				}
			}
		}
	}
}

type decoder struct {
	r        *bufio.Reader
	key      [32]byte
	off      int64
	sessions []Session
	buf, pt  []byte
}

func (d *decoder) read(p []byte) error {
	n, err := io.ReadFull(d.r, p)
	d.off += int64(n)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("read console stream: %w", err)
	}
	return err
}

func (d *decoder) readHeader() ([]byte, error) {
	hdr := make([]byte, HeaderLen)
	off := d.off
	if err := d.read(hdr); err != nil {
		return nil, err
	}
	fail := func(e error, detail string) error {
		return &StreamError{Offset: off, Session: len(d.sessions), Err: e, Detail: detail}
	}
	if string(hdr[:4]) != Magic {
		return nil, fail(ErrFormat, fmt.Sprintf("bad magic %q", hdr[:4]))
	}
	if hdr[4] != Version {
		return nil, fail(ErrVersion, fmt.Sprintf("version %d", hdr[4]))
	}
	if hdr[5] != StreamStdout && hdr[5] != StreamStderr {
		return nil, fail(ErrFormat, fmt.Sprintf("stream id %d", hdr[5]))
	}
	if hdr[6] != 0 || hdr[7] != 0 {
		return nil, fail(ErrFormat, "reserved header bytes are not zero")
	}
	var s Session
	s.Stream = hdr[5]
	copy(s.Nonce[:], hdr[8:])
	d.sessions = append(d.sessions, s)
	return hdr, nil
}

// sessionKey derives the AES-256 key of the session with this header.
func sessionKey(fsKey [32]byte, hdr []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, fsKey[:], hdr, Label, 32)
}

type session struct {
	idx  int
	gcm  cipher.AEAD
	want uint64
	done bool
}

func newSession(fsKey [32]byte, hdr []byte, idx int) (*session, error) {
	k, err := sessionKey(fsKey, hdr)
	if err != nil {
		return nil, fmt.Errorf("derive console session key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("create console cipher: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("create console cipher: %w", err)
	}
	return &session{idx: idx, gcm: gcm}, nil
}

// record reads one record and authenticates it under one of the open
// sessions (the ones expecting its sequence number first).
func (d *decoder) record(dst io.Writer, open []*session) (*session, error) {
	off := d.off
	first := open[0]
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
		for _, s := range open {
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
	return owner, nil
}
