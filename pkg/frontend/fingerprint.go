package frontend

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
)

// fingerprintInfo is the HKDF info string that derives the FS key ID. It is
// used for nothing else, so the ID is independent of every key the formats
// derive from the FS key.
const fingerprintInfo = "scone-build frontend fs-key id v1"

// ErrBadKey is returned when a key file cannot be parsed.
var ErrBadKey = errors.New("malformed key")

// Fingerprint returns a non-secret identifier of the key pair, written into
// the conversion step's LLB so that BuildKit's cache key changes when a key
// changes (secret contents are not part of BuildKit cache keys):
//
//	v1 mrsigner=<hex> fs-key-id=<hex>
//
// mrsigner is the SGX MRSIGNER of the signer key (SHA-256 of the RSA modulus,
// little-endian, 384 bytes), which is public: it is also an image label.
// fs-key-id is HKDF-SHA-256(FS key, info fingerprintInfo), 32 bytes: a PRF
// output that reveals nothing about the FS key and is not a plain hash of it.
func Fingerprint(signerPEM, fsKey []byte) (string, error) {
	mrsigner, err := mrSigner(signerPEM)
	if err != nil {
		return "", err
	}
	key, err := parseFSKey(fsKey)
	if err != nil {
		return "", err
	}
	id, err := hkdf.Key(sha256.New, key, nil, fingerprintInfo, 32)
	if err != nil {
		return "", fmt.Errorf("deriving the fs key id: %w", err)
	}
	return fmt.Sprintf("v1 mrsigner=%x fs-key-id=%x", mrsigner, id), nil
}

// FingerprintFiles reads the two key files and returns their Fingerprint.
func FingerprintFiles(signerPath, fsKeyPath string) (string, error) {
	s, err := os.ReadFile(signerPath)
	if err != nil {
		return "", fmt.Errorf("reading signer key %q: %w", signerPath, err)
	}
	k, err := os.ReadFile(fsKeyPath)
	if err != nil {
		return "", fmt.Errorf("reading fs key %q: %w", fsKeyPath, err)
	}
	fp, err := Fingerprint(s, k)
	if err != nil {
		return "", fmt.Errorf("fingerprinting keys %q and %q: %w", signerPath, fsKeyPath, err)
	}
	return fp, nil
}

func mrSigner(signerPEM []byte) ([]byte, error) {
	k, err := enclave.ParsePrivateKeyPEM(signerPEM)
	if err != nil {
		return nil, fmt.Errorf("parsing signer key: %w: %w", ErrBadKey, err)
	}
	m, err := enclave.MRSIGNER(&k.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("computing MRSIGNER: %w: %w", ErrBadKey, err)
	}
	return m[:], nil
}

// parseFSKey accepts the key file formats of docs/keys.md (fskey.Parse).
// The fingerprint depends on the key only: the identity a key file records
// does not change the converted image.
func parseFSKey(b []byte) ([]byte, error) {
	f, err := fskey.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("parsing fs key: %w: %w", ErrBadKey, err)
	}
	return f.Key[:], nil
}
