package fsprotect

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// KeySize is the size of an FS key in bytes.
const KeySize = 32

// Key is a 32-byte FS key. It is never stored in an image.
type Key [KeySize]byte

// ParseKey parses a key file's contents: 64 hex digits, optionally followed by
// one newline ("\n" or "\r\n"), or exactly 32 raw bytes.
func ParseKey(b []byte) (Key, error) {
	var k Key
	s := b
	if bytes.HasSuffix(s, []byte("\r\n")) {
		s = s[:len(s)-2]
	} else if bytes.HasSuffix(s, []byte("\n")) {
		s = s[:len(s)-1]
	}
	if len(s) == 2*KeySize {
		if _, err := hex.Decode(k[:], s); err == nil {
			return k, nil
		}
	}
	if len(b) == KeySize {
		copy(k[:], b)
		return k, nil
	}
	return Key{}, ErrInvalidKey
}

// LoadKeyFile reads and parses a key file (see ParseKey).
func LoadKeyFile(path string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("read key file %q: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4*KeySize))
	if err != nil {
		return Key{}, fmt.Errorf("read key file %q: %w", path, err)
	}
	k, err := ParseKey(b)
	if err != nil {
		return Key{}, fmt.Errorf("parse key file %q: %w", path, err)
	}
	return k, nil
}

// GenerateKey reads a new key from rand (crypto/rand.Reader in production).
func GenerateKey(rand io.Reader) (Key, error) {
	var k Key
	if _, err := io.ReadFull(rand, k[:]); err != nil {
		return Key{}, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// MarshalText returns the key as 64 lowercase hex digits (the key file format
// without the newline).
func (k Key) MarshalText() ([]byte, error) {
	return []byte(hex.EncodeToString(k[:])), nil
}

// HKDF-SHA-256 labels (info strings); the salt is empty. See docs/fsprotect.md.
const (
	labelKeyCheck   = "scone-fsp v1 key check"
	labelHeaderMAC  = "scone-fsp v1 header mac"
	labelIndexKey   = "scone-fsp v1 index key"
	labelIndexNonce = "scone-fsp v1 index nonce"
	labelContentKey = "scone-fsp v1 content key"
	labelSIVHash    = "scone-fsp v1 content siv hash"
	labelSIVPRP     = "scone-fsp v1 content siv prp"
)

// subkeys are the keys derived from one FS key.
type subkeys struct {
	keyCheck   [16]byte
	headerMAC  [32]byte
	indexKey   [32]byte
	indexNonce [32]byte
	contentKey [32]byte
	sivHash    [32]byte // GCM key whose GHASH hashes chunks for their nonce
	sivPRP     [32]byte // AES key that turns that hash into the nonce
}

func deriveKeys(k Key) (*subkeys, error) {
	s := new(subkeys)
	for _, d := range []struct {
		label string
		out   []byte
	}{
		{labelKeyCheck, s.keyCheck[:]},
		{labelHeaderMAC, s.headerMAC[:]},
		{labelIndexKey, s.indexKey[:]},
		{labelIndexNonce, s.indexNonce[:]},
		{labelContentKey, s.contentKey[:]},
		{labelSIVHash, s.sivHash[:]},
		{labelSIVPRP, s.sivPRP[:]},
	} {
		b, err := hkdf.Key(sha256.New, k[:], nil, d.label, len(d.out))
		if err != nil {
			return nil, fmt.Errorf("derive key %q: %w", d.label, err)
		}
		copy(d.out, b)
	}
	return s, nil
}
