package fskey

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Size is the size of an FS key in bytes.
const Size = 32

// MaxFileSize bounds a key file (the runtime reads at most this much).
const MaxFileSize = 4096

// MaxMRENCLAVEs bounds the mrenclave lines of a key file.
const MaxMRENCLAVEs = 16

// Magic is the first line of a version 1 key file.
const Magic = "scone-fs-key v1"

// Key is an FS key. It is never stored in an image.
type Key [Size]byte

// Generate reads a new key from random (crypto/rand.Reader when nil).
func Generate(random io.Reader) (Key, error) {
	if random == nil {
		random = rand.Reader
	}
	var k Key
	if _, err := io.ReadFull(random, k[:]); err != nil {
		return Key{}, fmt.Errorf("generating FS key: %w", err)
	}
	return k, nil
}

// String returns the key as 64 lowercase hex digits (a bare key file without
// the newline).
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// Identity is what a key's owner expects of the enclave that uses the key.
// The zero Identity expects nothing (a bare key).
type Identity struct {
	MRSIGNER  *[32]byte  // the signer; nil: any
	MRENCLAVE [][32]byte // allowed MRENCLAVE values; empty: any
	ISVProdID *uint16    // nil: any (only with MRSIGNER)
	MinISVSVN *uint16    // nil: any (only with MRSIGNER)
}

// IsZero reports whether id names no identity.
func (id Identity) IsZero() bool { return id.MRSIGNER == nil && len(id.MRENCLAVE) == 0 }

// Enclave is the identity of one enclave, as SIGSTRUCT and the measurement give it.
type Enclave struct {
	MRENCLAVE [32]byte
	MRSIGNER  [32]byte
	ISVProdID uint16
	ISVSVN    uint16
}

// ErrIdentity is wrapped by every *IdentityError.
var ErrIdentity = errors.New("enclave identity is not the one the FS key expects")

// ErrNoIdentity means a key names no enclave identity where one is required.
var ErrNoIdentity = errors.New("FS key names no enclave identity")

// IdentityError says which expectation an enclave does not meet.
type IdentityError struct {
	Field string // "mrsigner", "mrenclave", "isvprodid" or "isvsvn"
	Want  string
	Got   string
}

func (e *IdentityError) Error() string {
	name := map[string]string{"mrsigner": "MRSIGNER", "mrenclave": "MRENCLAVE", "isvprodid": "ISVPRODID", "isvsvn": "ISVSVN"}[e.Field]
	return fmt.Sprintf("enclave %s is %s, expected %s", name, e.Got, e.Want)
}

func (e *IdentityError) Is(target error) bool { return target == ErrIdentity }

// Check returns nil when e is an enclave that id accepts, else an
// *IdentityError for the first expectation e does not meet. A zero id
// returns ErrNoIdentity: no enclave is expected.
func (id Identity) Check(e Enclave) error {
	if id.IsZero() {
		return ErrNoIdentity
	}
	if id.MRSIGNER != nil && *id.MRSIGNER != e.MRSIGNER {
		return &IdentityError{"mrsigner", hex.EncodeToString(id.MRSIGNER[:]), hex.EncodeToString(e.MRSIGNER[:])}
	}
	if len(id.MRENCLAVE) > 0 {
		ok := false
		for _, m := range id.MRENCLAVE {
			ok = ok || m == e.MRENCLAVE
		}
		if !ok {
			want := make([]string, len(id.MRENCLAVE))
			for i, m := range id.MRENCLAVE {
				want[i] = hex.EncodeToString(m[:])
			}
			return &IdentityError{"mrenclave", "one of " + strings.Join(want, ", "), hex.EncodeToString(e.MRENCLAVE[:])}
		}
	}
	if id.ISVProdID != nil && *id.ISVProdID != e.ISVProdID {
		return &IdentityError{"isvprodid", strconv.Itoa(int(*id.ISVProdID)), strconv.Itoa(int(e.ISVProdID))}
	}
	if id.MinISVSVN != nil && e.ISVSVN < *id.MinISVSVN {
		return &IdentityError{"isvsvn", "at least " + strconv.Itoa(int(*id.MinISVSVN)), strconv.Itoa(int(e.ISVSVN))}
	}
	return nil
}

// validate checks the rules of docs/keys.md that do not depend on syntax.
func (id Identity) validate() error {
	if id.IsZero() {
		return errors.New("a version 1 key file needs mrsigner or mrenclave")
	}
	if (id.ISVProdID != nil || id.MinISVSVN != nil) && id.MRSIGNER == nil {
		return errors.New("isvprodid and min-isvsvn need mrsigner")
	}
	if len(id.MRENCLAVE) > MaxMRENCLAVEs {
		return fmt.Errorf("more than %d mrenclave lines", MaxMRENCLAVEs)
	}
	return nil
}

// File is the content of a key file.
type File struct {
	Key      Key
	Identity Identity // zero for a bare key
}

// Bare reports whether f is a bare key (no identity).
func (f *File) Bare() bool { return f.Identity.IsZero() }

// ErrFormat is wrapped by every *ParseError.
var ErrFormat = errors.New("not an FS key file")

// ParseError says why bytes are not a key file; Line is 1-based, 0 when the
// problem is not one line.
type ParseError struct {
	Line   int
	Reason string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("not an FS key file: line %d: %s", e.Line, e.Reason)
	}
	return "not an FS key file: " + e.Reason
}

func (e *ParseError) Is(target error) bool { return target == ErrFormat }

// Parse reads a key file: a version 1 file (docs/keys.md) or a bare key of
// 64 hex digits and an optional newline.
func Parse(b []byte) (*File, error) {
	if len(b) > MaxFileSize {
		return nil, &ParseError{0, fmt.Sprintf("%d bytes, more than %d", len(b), MaxFileSize)}
	}
	if k, ok := parseBare(b); ok {
		return &File{Key: k}, nil
	}
	if len(b) == Size && !bytes.HasPrefix(b, []byte("#")) && !bytes.HasPrefix(b, []byte(Magic)) {
		return nil, &ParseError{0, "32 bytes that are not a key file: raw binary keys are not accepted " +
			"(a passphrase would be taken for one); write the key as 64 hex digits or make a new one with keygen"}
	}
	return parseV1(b)
}

func parseBare(b []byte) (Key, bool) {
	s := b
	if bytes.HasSuffix(s, []byte("\r\n")) {
		s = s[:len(s)-2]
	} else if bytes.HasSuffix(s, []byte("\n")) {
		s = s[:len(s)-1]
	}
	var k Key
	if len(s) != 2*Size {
		return Key{}, false
	}
	if _, err := hex.Decode(k[:], s); err != nil {
		return Key{}, false
	}
	return k, true
}

func parseHex32(v string) ([32]byte, bool) {
	var out [32]byte
	if len(v) != 64 {
		return out, false
	}
	_, err := hex.Decode(out[:], []byte(v))
	return out, err == nil
}

func parseU16(v string) (uint16, bool) {
	if v == "" || len(v) > 5 || (len(v) > 1 && v[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 16)
	return uint16(n), err == nil
}

func parseV1(b []byte) (*File, error) {
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, &ParseError{0, "contains a NUL byte"}
	}
	if len(b) == 0 {
		return nil, &ParseError{0, "empty file"}
	}
	if b[len(b)-1] != '\n' {
		return nil, &ParseError{0, "the last line does not end in a newline (truncated?)"}
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	f := &File{}
	seenMagic, seenKey := false, false
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimSuffix(raw, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if !seenMagic {
			if line != Magic {
				if strings.HasPrefix(line, "scone-fs-key ") {
					return nil, &ParseError{n, fmt.Sprintf("version %q is not supported (this scone-build reads %q)",
						strings.TrimPrefix(line, "scone-fs-key "), Magic)}
				}
				return nil, &ParseError{n, fmt.Sprintf("want %q or 64 hex digits", Magic)}
			}
			seenMagic = true
			continue
		}
		name, val, ok := splitField(line)
		if !ok {
			return nil, &ParseError{n, "want a field name, blanks and a value"}
		}
		switch name {
		case "key":
			k, ok := parseHex32(val)
			if !ok {
				return nil, &ParseError{n, "key: want 64 hex digits"}
			}
			if seenKey {
				return nil, &ParseError{n, "key given twice"}
			}
			f.Key, seenKey = k, true
		case "mrsigner":
			v, ok := parseHex32(val)
			if !ok {
				return nil, &ParseError{n, "mrsigner: want 64 hex digits"}
			}
			if f.Identity.MRSIGNER != nil {
				return nil, &ParseError{n, "mrsigner given twice"}
			}
			f.Identity.MRSIGNER = &v
		case "mrenclave":
			v, ok := parseHex32(val)
			if !ok {
				return nil, &ParseError{n, "mrenclave: want 64 hex digits"}
			}
			f.Identity.MRENCLAVE = append(f.Identity.MRENCLAVE, v)
		case "isvprodid", "min-isvsvn":
			v, ok := parseU16(val)
			if !ok {
				return nil, &ParseError{n, name + ": want a decimal number from 0 to 65535"}
			}
			p := &f.Identity.ISVProdID
			if name == "min-isvsvn" {
				p = &f.Identity.MinISVSVN
			}
			if *p != nil {
				return nil, &ParseError{n, name + " given twice"}
			}
			*p = &v
		default:
			return nil, &ParseError{n, fmt.Sprintf("unknown field %q", name)}
		}
	}
	if !seenMagic {
		return nil, &ParseError{0, fmt.Sprintf("want %q or 64 hex digits", Magic)}
	}
	if !seenKey {
		return nil, &ParseError{0, "no key line"}
	}
	if err := f.Identity.validate(); err != nil {
		return nil, &ParseError{0, err.Error()}
	}
	return f, nil
}

// splitField splits "name<blanks>value" (value without blanks).
func splitField(line string) (name, val string, ok bool) {
	i := strings.IndexAny(line, " \t")
	if i <= 0 {
		return "", "", false
	}
	name = line[:i]
	val = strings.TrimLeft(line[i:], " \t")
	if val == "" || strings.ContainsAny(val, " \t") {
		return "", "", false
	}
	return name, val, true
}

// Marshal returns f as key file bytes: version 1 when f has an identity,
// else a bare key (64 hex digits and a newline).
func (f *File) Marshal() ([]byte, error) {
	if f.Bare() {
		return []byte(f.Key.String() + "\n"), nil
	}
	if err := f.Identity.validate(); err != nil {
		return nil, fmt.Errorf("encoding FS key file: %w", err)
	}
	var b strings.Builder
	b.WriteString("# scone-build FS key file (docs/keys.md). Keep it secret: it decrypts the image's files.\n")
	b.WriteString(Magic + "\n")
	b.WriteString("key        " + f.Key.String() + "\n")
	if m := f.Identity.MRSIGNER; m != nil {
		b.WriteString("mrsigner   " + hex.EncodeToString(m[:]) + "\n")
	}
	for _, m := range f.Identity.MRENCLAVE {
		b.WriteString("mrenclave  " + hex.EncodeToString(m[:]) + "\n")
	}
	if p := f.Identity.ISVProdID; p != nil {
		fmt.Fprintf(&b, "isvprodid  %d\n", *p)
	}
	if p := f.Identity.MinISVSVN; p != nil {
		fmt.Fprintf(&b, "min-isvsvn %d\n", *p)
	}
	return []byte(b.String()), nil
}

// Load reads and parses a key file.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading FS key file %q: %w", path, err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading FS key file %q: %w", path, err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("reading FS key file %q: %w", path, err)
	}
	return f, nil
}

// Write writes f to path with mode 0600, atomically (a temporary file in the
// same directory, then a rename). Without overwrite it refuses an existing
// path (the error wraps fs.ErrExist).
func (f *File) Write(path string, overwrite bool) error {
	data, err := f.Marshal()
	if err != nil {
		return err
	}
	return WriteSecret(path, data, overwrite)
}

// WriteSecret writes data to path with mode 0600 atomically; without
// overwrite an existing path is refused (the error wraps fs.ErrExist).
func WriteSecret(path string, data []byte, overwrite bool) error {
	if !overwrite {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("writing key file %q: %w", path, os.ErrExist)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing key file %q: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing key file %q: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing key file %q: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing key file %q: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing key file %q: %w", path, err)
	}
	if !overwrite {
		// Link fails if path appeared meanwhile: no silent replacement.
		if err := os.Link(tmp.Name(), path); err != nil {
			return fmt.Errorf("writing key file %q: %w", path, err)
		}
		return nil
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing key file %q: %w", path, err)
	}
	return nil
}

// MarshalText returns the key as 64 lowercase hex digits (a bare key file
// without the newline).
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }
