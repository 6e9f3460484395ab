package fsprotect

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"

	"github.com/scone-build/scone-build/pkg/fskey"
)

// KeySize is the size of an FS key in bytes.
const KeySize = fskey.Size

// Key is a 32-byte FS key (package fskey owns it and its key file).
type Key = fskey.Key

// HKDF-SHA-256 labels (info strings) are "scone-fsp v<version> <name>";
// the salt is empty. See docs/fsprotect.md.
const (
	labelKeyCheck   = "key check"
	labelHeaderMAC  = "header mac"
	labelIndexKey   = "index key"
	labelIndexNonce = "index nonce"
	labelContentKey = "content key"
	labelSIVHash    = "content siv hash"
	labelSIVPRP     = "content siv prp"
	labelImageSalt  = "image salt" // version 2
	labelFileTweak  = "file tweak" // version 2
)

// hkdfLabel is the HKDF info string of sub-key name in format version v.
func hkdfLabel(v uint32, name string) string { return fmt.Sprintf("scone-fsp v%d %s", v, name) }

// subkeys are the keys derived from one FS key for one format version.
type subkeys struct {
	version    uint32
	keyCheck   [16]byte
	headerMAC  [32]byte
	indexKey   [32]byte
	indexNonce [32]byte
	contentKey [32]byte
	sivHash    [32]byte // GCM key whose GHASH hashes chunks for their nonce
	sivPRP     [32]byte // AES key that turns that hash into the nonce
	imageSalt  [32]byte // version 2: HMAC key: salt source -> image salt
	fileTweak  [32]byte // version 2: HMAC key: salt, path -> file tweak
}

// deriveKeys derives the sub-keys of format version v (1 or 2) from k.
func deriveKeys(k Key, v uint32) (*subkeys, error) {
	s := &subkeys{version: v}
	type derivation struct {
		name string
		out  []byte
	}
	ds := []derivation{
		{labelKeyCheck, s.keyCheck[:]},
		{labelHeaderMAC, s.headerMAC[:]},
		{labelIndexKey, s.indexKey[:]},
		{labelIndexNonce, s.indexNonce[:]},
		{labelContentKey, s.contentKey[:]},
		{labelSIVHash, s.sivHash[:]},
		{labelSIVPRP, s.sivPRP[:]},
	}
	if v >= 2 {
		ds = append(ds, derivation{labelImageSalt, s.imageSalt[:]}, derivation{labelFileTweak, s.fileTweak[:]})
	}
	for _, d := range ds {
		label := hkdfLabel(v, d.name)
		b, err := hkdf.Key(sha256.New, k[:], nil, label, len(d.out))
		if err != nil {
			return nil, fmt.Errorf("derive key %q: %w", label, err)
		}
		copy(d.out, b)
	}
	return s, nil
}

// salt derives the image salt of format version 2 from a salt source:
// HMAC-SHA-256(K_salt, source). Without the key it reveals nothing about the
// source (which may be a hash of the whole tree: a keyless hash in the
// header would let anyone test guesses of the tree).
func (s *subkeys) salt(source []byte) [saltSize]byte {
	m := hmac.New(sha256.New, s.imageSalt[:])
	m.Write(source)
	return [saltSize]byte(m.Sum(nil))
}

// tweaker computes file tweaks (format version 2): the 32-byte value that
// binds a file's chunk nonces to the image salt and the file's bound path,
// T = HMAC-SHA-256(K_tweak, salt || path). Not safe for concurrent use.
type tweaker struct {
	m    hash.Hash
	salt [saltSize]byte
}

func newTweaker(sk *subkeys, salt [saltSize]byte) *tweaker {
	return &tweaker{m: hmac.New(sha256.New, sk.fileTweak[:]), salt: salt}
}

// tweak returns the tweak of the file whose bound (canonical) path is p.
func (t *tweaker) tweak(p string) [tweakSize]byte {
	t.m.Reset()
	t.m.Write(t.salt[:])
	io.WriteString(t.m, p)
	var out [tweakSize]byte
	t.m.Sum(out[:0])
	return out
}
