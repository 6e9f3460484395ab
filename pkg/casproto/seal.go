package casproto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Labels of the derivations (docs/cas.md).
const (
	ReportDataLabel = "scone-cas attest v1"  // then 0x00, nonce, session key
	SecretsInfo     = "scone-cas secrets v1" // HKDF info of the sealing key
)

// ErrOpen: the sealed secrets do not open with the session key, nonce and
// policy hash given (modified, or sealed for another session).
var ErrOpen = errors.New("sealed secrets do not open")

// ReportData is the REPORTDATA of the quote an enclave presents:
// SHA-256("scone-cas attest v1" || 0x00 || nonce || sessionKey) followed by
// 32 zero bytes. sessionKey is the 65-byte uncompressed point.
func ReportData(nonce [NonceSize]byte, sessionKey [PointSize]byte) [ReportDataSize]byte {
	h := sha256.New()
	h.Write([]byte(ReportDataLabel))
	h.Write([]byte{0})
	h.Write(nonce[:])
	h.Write(sessionKey[:])
	var out [ReportDataSize]byte
	h.Sum(out[:0])
	return out
}

// SecretsKey derives the sealing key K = HKDF-SHA256(IKM = x-coordinate
// of ECDH(own, peer), salt = nonce, info = SecretsInfo), 32 bytes. Both
// sides compute it: the CAS with its ephemeral key and the session public
// key, the enclave with its session key and the CAS's ephemeral public key.
func SecretsKey(own *ecdh.PrivateKey, peer *ecdh.PublicKey, nonce [NonceSize]byte) ([]byte, error) {
	if own == nil || peer == nil || own.Curve() != ecdh.P256() || peer.Curve() != ecdh.P256() {
		return nil, errors.New("deriving secrets key: want P-256 keys")
	}
	x, err := own.ECDH(peer)
	if err != nil {
		return nil, fmt.Errorf("deriving secrets key: %w", err)
	}
	return hkdf.Key(sha256.New, x, nonce[:], SecretsInfo, 32)
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Seal encrypts a secrets message to the session key: AES-256-GCM under
// SecretsKey(ephemeral, session, nonce), a zero nonce, the policy hash as
// additional data. ephemeral must be a fresh key used for this one
// sealing (the zero GCM nonce is safe only because K is used once); its
// public key goes into the response (AttestResponse.Ephemeral).
func Seal(ephemeral *ecdh.PrivateKey, session *ecdh.PublicKey, nonce [NonceSize]byte, policyHash [HashSize]byte, plaintext []byte) ([]byte, error) {
	k, err := SecretsKey(ephemeral, session, nonce)
	if err != nil {
		return nil, fmt.Errorf("sealing secrets: %w", err)
	}
	a, err := gcm(k)
	if err != nil {
		return nil, fmt.Errorf("sealing secrets: %w", err)
	}
	var zero [12]byte
	return a.Seal(nil, zero[:], plaintext, policyHash[:]), nil
}

// Open decrypts sealed secrets with the session key; it fails with ErrOpen
// when they were modified or sealed for another key, nonce or policy hash.
func Open(session *ecdh.PrivateKey, ephemeral *ecdh.PublicKey, nonce [NonceSize]byte, policyHash [HashSize]byte, sealed []byte) ([]byte, error) {
	k, err := SecretsKey(session, ephemeral, nonce)
	if err != nil {
		return nil, fmt.Errorf("opening secrets: %w", err)
	}
	a, err := gcm(k)
	if err != nil {
		return nil, fmt.Errorf("opening secrets: %w", err)
	}
	if len(sealed) < GCMTagSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the GCM tag", ErrOpen, len(sealed))
	}
	var zero [12]byte
	pt, err := a.Open(nil, zero[:], sealed, policyHash[:])
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (modified, or sealed for another session key, nonce or policy)", ErrOpen)
	}
	return pt, nil
}
