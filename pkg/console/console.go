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
func DecryptSessions(dst io.Writer, src io.Reader, key [32]byte) ([]Session, error) {
	d := decoder{r: bufio.NewReaderSize(src, 64<<10), key: key}
	for {
		hdrOff := d.off
		hdr, err := d.readHeader()
		if err == io.EOF && len(d.sessions) > 0 {
			return d.sessions, nil
		}
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return d.sessions, &StreamError{Offset: hdrOff, Session: len(d.sessions), Err: ErrTruncated, Detail: "incomplete or missing session header"}
			}
			return d.sessions, err
		}
		if err := d.session(dst, hdr); err != nil {
			return d.sessions, err
		}
	}
}

type decoder struct {
	r        *bufio.Reader
	key      [32]byte
	off      int64
	sessions []Session
	buf      []byte
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

func (d *decoder) session(dst io.Writer, hdr []byte) error {
	idx := len(d.sessions) - 1
	k, err := sessionKey(d.key, hdr)
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
	var want uint64
	rh := make([]byte, RecHeaderLen)
	nonce := make([]byte, 12)
	for {
		off := d.off
		fail := func(e error, detail string) error {
			return &StreamError{Offset: off, Session: idx, Seq: want, Err: e, Detail: detail}
		}
		if err := d.read(rh); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return fail(ErrTruncated, "stream ends before the final record")
			}
			return err
		}
		seq := binary.BigEndian.Uint64(rh)
		flags := rh[8]
		n := binary.BigEndian.Uint32(rh[9:])
		if flags&^FlagFinal != 0 {
			// Unknown flags: authenticated like the rest, so this is either a
			// newer writer or tampering; both are format errors here.
			return fail(ErrFormat, fmt.Sprintf("unknown record flags %#x", flags))
		}
		if n > MaxRecord {
			return fail(ErrFormat, fmt.Sprintf("record length %d exceeds %d", n, MaxRecord))
		}
		need := int(n) + TagLen
		if cap(d.buf) < need {
			d.buf = make([]byte, need)
		}
		body := d.buf[:need]
		if err := d.read(body); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return fail(ErrTruncated, "record cut off")
			}
			return err
		}
		binary.BigEndian.PutUint64(nonce[4:], seq)
		clear(nonce[:4])
		pt, err := gcm.Open(body[:0], nonce, body, rh)
		if err != nil {
			return fail(ErrTampered, "")
		}
		if seq != want {
			return fail(ErrReordered, fmt.Sprintf("authentic record %d where %d was expected", seq, want))
		}
		if len(pt) > 0 {
			if _, err := dst.Write(pt); err != nil {
				return fmt.Errorf("write console plaintext: %w", err)
			}
		}
		want++
		if flags&FlagFinal != 0 {
			return nil
		}
	}
}
