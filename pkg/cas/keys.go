package cas

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// ErrKey: a simulation or store key is unusable.
var ErrKey = errors.New("unusable key")

// ParseSimulationKey reads a simulation public key: PEM "PUBLIC KEY"
// (PKIX) of an ECDSA P-256 key.
func ParseSimulationKey(b []byte) (*ecdsa.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: not a PEM PUBLIC KEY (a simulation key is an ECDSA P-256 public key)", ErrKey)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: a %T, want an ECDSA P-256 public key", ErrKey, pub)
	}
	return k, nil
}

// ParseStoreKey reads a store key file: 32 bytes, or 64 hex digits (a
// trailing newline allowed).
func ParseStoreKey(b []byte) ([]byte, error) {
	if len(b) == StoreKeySize {
		return bytes.Clone(b), nil
	}
	t := bytes.TrimSpace(b)
	if len(t) == 2*StoreKeySize {
		if k, err := hex.DecodeString(string(t)); err == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: a store key is 32 bytes or 64 hex digits, this is %d bytes", ErrKey, len(b))
}
