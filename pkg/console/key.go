package console

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/scone-build/scone-build/pkg/fskey"
)

// KeySize is the size of a console key in bytes.
const KeySize = 32

// Key is a console key: it authenticates and decrypts console logs of the
// images converted with the FS key it was derived from, and nothing else.
// It is a one-way function of the FS key, so it does not open the
// protected file system, and a log reader can be given it instead of the FS
// key.
type Key [KeySize]byte

// DeriveKey returns the console key of an FS key:
// HKDF-SHA256(IKM = FS key, no salt, info = LabelKey, 32 bytes).
func DeriveKey(fs fskey.Key) (Key, error) {
	b, err := hkdf.Key(sha256.New, fs[:], nil, LabelKey, KeySize)
	if err != nil {
		return Key{}, fmt.Errorf("derive console key: %w", err)
	}
	return Key(b), nil
}

// Console key files (docs/console.md).
const (
	// KeyFileMagic is the first line of a version 1 console key file.
	KeyFileMagic = "scone-console-key v1"
	// MaxKeyFileSize bounds a console key file.
	MaxKeyFileSize = 1024
)

const keyFileComment = "# scone-build console key (docs/console.md): it decrypts console logs, not the file system.\n"

// ErrKeyFile is wrapped by every *KeyFileError.
var ErrKeyFile = errors.New("not a console key file")

// KeyFileError says why bytes are not a console key file; Line is 1-based,
// 0 when the problem is not one line.
type KeyFileError struct {
	Line   int
	Reason string
}

func (e *KeyFileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("not a console key file: line %d: %s", e.Line, e.Reason)
	}
	return "not a console key file: " + e.Reason
}

func (e *KeyFileError) Is(target error) bool { return target == ErrKeyFile }

// MarshalFile returns k as a version 1 console key file.
func (k Key) MarshalFile() []byte {
	return []byte(keyFileComment + KeyFileMagic + "\nkey " + hex.EncodeToString(k[:]) + "\n")
}

// ParseKeyFile reads a version 1 console key file: lines ending in "\n"
// ("\r\n" accepted), blank lines and "#" comments ignored, then exactly the
// magic line and one "key" line of 64 hex digits. Anything else is refused,
// FS key files included.
func ParseKeyFile(b []byte) (Key, error) {
	fail := func(line int, format string, a ...any) (Key, error) {
		return Key{}, &KeyFileError{line, fmt.Sprintf(format, a...)}
	}
	if len(b) > MaxKeyFileSize {
		return fail(0, "%d bytes, more than %d", len(b), MaxKeyFileSize)
	}
	if _, err := fskey.Parse(b); err == nil {
		return fail(0, "this is an FS key file (docs/keys.md), which decrypts the image's files too: pass it "+
			"with --fs-key, or derive the console key from it with 'scone-build console key'")
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return fail(0, "contains a NUL byte")
	}
	if len(b) == 0 {
		return fail(0, "empty file")
	}
	if b[len(b)-1] != '\n' {
		return fail(0, "the last line does not end in a newline (truncated?)")
	}
	var k Key
	seenMagic, seenKey := false, false
	for i, raw := range strings.Split(string(b[:len(b)-1]), "\n") {
		n := i + 1
		line := strings.TrimSuffix(raw, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if !seenMagic {
			if line != KeyFileMagic {
				if v, ok := strings.CutPrefix(line, "scone-console-key "); ok {
					return fail(n, "version %q is not supported (this scone-build reads %q)", v, KeyFileMagic)
				}
				return fail(n, "want %q", KeyFileMagic)
			}
			seenMagic = true
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok || name != "key" {
			return fail(n, "want \"key\" and 64 hex digits, nothing else")
		}
		if seenKey {
			return fail(n, "key given twice")
		}
		kb, err := hex.DecodeString(val)
		if err != nil || len(kb) != KeySize {
			return fail(n, "key: want 64 hex digits")
		}
		copy(k[:], kb)
		seenKey = true
	}
	if !seenMagic {
		return fail(0, "want %q", KeyFileMagic)
	}
	if !seenKey {
		return fail(0, "no key line")
	}
	return k, nil
}

// LoadKey reads and parses a console key file.
func LoadKey(path string) (Key, error) {
	fh, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("read console key file %q: %w", path, err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, MaxKeyFileSize+1))
	if err != nil {
		return Key{}, fmt.Errorf("read console key file %q: %w", path, err)
	}
	k, err := ParseKeyFile(b)
	if err != nil {
		return Key{}, fmt.Errorf("read console key file %q: %w", path, err)
	}
	return k, nil
}

// WriteFile writes k as a console key file to path with mode 0600,
// atomically; without overwrite an existing path is refused (the error
// wraps fs.ErrExist).
func (k Key) WriteFile(path string, overwrite bool) error {
	return fskey.WriteSecret(path, k.MarshalFile(), overwrite)
}
