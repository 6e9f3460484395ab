package fsprotect

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"github.com/scone-build/scone-build/pkg/fskey"
)

// KeySize is the size of an FS key in bytes.
const KeySize = fskey.Size

// Key is a 32-byte FS key (package fskey owns it and its key file).
type Key = fskey.Key

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
