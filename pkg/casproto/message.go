package casproto

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Framing of a message (docs/cas.md).
const (
	// Magic begins every message.
	Magic = "SCAS"
	// Version is the protocol version this package speaks.
	Version = 1
	// MaxMessageSize bounds a message, header included.
	MaxMessageSize = 1 << 20
	// HeaderSize is the size of magic, version and type.
	HeaderSize = 8
	// RecordHeaderSize is the size of a record's tag and length.
	RecordHeaderSize = 6
)

// Message types.
const (
	TypeAttestRequest  uint16 = 1
	TypeAttestResponse uint16 = 2
	TypeSecrets        uint16 = 3
)

// HTTP paths and content type of the enclave protocol.
const (
	PathChallenge = "/v1/enclave/challenge"
	PathAttest    = "/v1/enclave/attest"
	ContentType   = "application/octet-stream"
)

// ErrFormat is wrapped by every *FormatError.
var ErrFormat = errors.New("malformed SCAS message")

// FormatError says why bytes are not a message of the expected type.
type FormatError struct {
	// Message is what was expected: "attest request", "attest response"
	// or "secrets message".
	Message string
	// Offset is the byte offset of the problem: of the header field, of
	// the record's header, or of the place inside a record's value; the
	// message's length for a missing record.
	Offset int
	// Tag is the record's tag, 0 when the problem is not in a record.
	Tag uint16
	// Field names the record ("nonce"), or the header field.
	Field  string
	Reason string
}

func (e *FormatError) Error() string {
	where := fmt.Sprintf("offset %d", e.Offset)
	switch {
	case e.Tag != 0 && e.Field != "":
		where += fmt.Sprintf(" (record %d, %s)", e.Tag, e.Field)
	case e.Tag != 0:
		where += fmt.Sprintf(" (record %d)", e.Tag)
	case e.Field != "":
		where += " (" + e.Field + ")"
	}
	return fmt.Sprintf("not a SCAS %s: %s: %s", e.Message, where, e.Reason)
}

func (e *FormatError) Is(target error) bool { return target == ErrFormat }

// field describes one record of a message type.
type field struct {
	tag      uint16
	name     string
	required bool
	repeat   bool
	min, max int // bounds of the value's length
}

// schema is a message type's records, in ascending tag order.
type schema struct {
	typ    uint16
	what   string
	fields []field
}

// record is a decoded record: its value aliases the message.
type record struct {
	tag uint16
	off int // offset of the record header
	val []byte
}

// valOff is the offset of the record's value.
func (r record) valOff() int { return r.off + RecordHeaderSize }

func (s *schema) field(tag uint16) *field {
	for i := range s.fields {
		if s.fields[i].tag == tag {
			return &s.fields[i]
		}
	}
	return nil
}

func (s *schema) errf(off int, tag uint16, format string, a ...any) error {
	name := ""
	if f := s.field(tag); f != nil {
		name = f.name
	}
	return &FormatError{Message: s.what, Offset: off, Tag: tag, Field: name, Reason: fmt.Sprintf(format, a...)}
}

func (s *schema) headerErr(off int, fieldName, format string, a ...any) error {
	return &FormatError{Message: s.what, Offset: off, Field: fieldName, Reason: fmt.Sprintf(format, a...)}
}

// decode checks the framing and returns the records (values alias b).
// Checked: size, header, every record within the message, tags known and
// ascending, no duplicates of a non-repeatable tag, value sizes, required
// records present.
func (s *schema) decode(b []byte) ([]record, error) {
	if len(b) > MaxMessageSize {
		return nil, s.headerErr(MaxMessageSize, "", "%d bytes, more than %d", len(b), MaxMessageSize)
	}
	if len(b) < HeaderSize {
		return nil, s.headerErr(len(b), "header", "truncated: %d bytes, a header has %d", len(b), HeaderSize)
	}
	if string(b[:4]) != Magic {
		return nil, s.headerErr(0, "magic", "want %q, got %q", Magic, b[:4])
	}
	if v := binary.LittleEndian.Uint16(b[4:]); v != Version {
		return nil, s.headerErr(4, "version", "version %d is not supported (want %d)", v, Version)
	}
	if t := binary.LittleEndian.Uint16(b[6:]); t != s.typ {
		return nil, s.headerErr(6, "type", "type %d, want %d (%s)", t, s.typ, s.what)
	}
	var recs []record
	var prev *field
	for off := HeaderSize; off < len(b); {
		if len(b)-off < RecordHeaderSize {
			return nil, s.headerErr(off, "record header", "%d trailing bytes, a record header has %d", len(b)-off, RecordHeaderSize)
		}
		tag := binary.LittleEndian.Uint16(b[off:])
		n := binary.LittleEndian.Uint32(b[off+2:])
		f := s.field(tag)
		if f == nil {
			return nil, s.errf(off, tag, "unknown tag %d", tag)
		}
		if prev != nil {
			if tag < prev.tag {
				return nil, s.errf(off, tag, "tag %d after tag %d: records are in ascending tag order", tag, prev.tag)
			}
			if tag == prev.tag && !f.repeat {
				return nil, s.errf(off, tag, "duplicate record")
			}
		}
		if uint64(n) > uint64(len(b)-off-RecordHeaderSize) {
			return nil, s.errf(off, tag, "length %d overruns the message (%d bytes left)", n, len(b)-off-RecordHeaderSize)
		}
		if int(n) < f.min || int(n) > f.max {
			if f.min == f.max {
				return nil, s.errf(off, tag, "%d bytes, want %d", n, f.min)
			}
			return nil, s.errf(off, tag, "%d bytes, want %d to %d", n, f.min, f.max)
		}
		recs = append(recs, record{tag: tag, off: off, val: b[off+RecordHeaderSize : off+RecordHeaderSize+int(n)]})
		prev = f
		off += RecordHeaderSize + int(n)
	}
	for i := range s.fields {
		f := &s.fields[i]
		if f.required && !has(recs, f.tag) {
			return nil, s.errf(len(b), f.tag, "missing required record")
		}
	}
	return recs, nil
}

func has(recs []record, tag uint16) bool {
	for _, r := range recs {
		if r.tag == tag {
			return true
		}
	}
	return false
}

// writer appends a message.
type writer struct{ b []byte }

func newWriter(typ uint16, sizeHint int) *writer {
	w := &writer{b: make([]byte, 0, HeaderSize+sizeHint)}
	w.b = append(w.b, Magic...)
	w.b = binary.LittleEndian.AppendUint16(w.b, Version)
	w.b = binary.LittleEndian.AppendUint16(w.b, typ)
	return w
}

// record appends a record whose value is the concatenation of parts.
func (w *writer) record(tag uint16, parts ...[]byte) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	w.b = binary.LittleEndian.AppendUint16(w.b, tag)
	w.b = binary.LittleEndian.AppendUint32(w.b, uint32(min(n, 1<<32-1)))
	for _, p := range parts {
		w.b = append(w.b, p...)
	}
}

func (w *writer) u32(tag uint16, v uint32) {
	w.record(tag, binary.LittleEndian.AppendUint32(nil, v))
}

// finish checks what was written with the decoder, so that nothing is
// sent that a peer must refuse.
func (w *writer) finish(s *schema, check func([]byte) error) ([]byte, error) {
	if len(w.b) > MaxMessageSize {
		return nil, fmt.Errorf("encoding %s: %d bytes, more than %d", s.what, len(w.b), MaxMessageSize)
	}
	if err := check(w.b); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", s.what, err)
	}
	return w.b, nil
}
