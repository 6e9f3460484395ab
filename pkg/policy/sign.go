package policy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
)

// What an owner's signature is for (docs/cas.md): the signed message is
// "scone-cas v1 " + purpose + "\n" + SHA-256(data), so that a signature
// for one purpose never passes for another.
const (
	PurposeApply  = "apply policy"  // data: the policy document
	PurposeDelete = "delete policy" // data: name + "\n" + hex hash of the current version
	PurposeExport = "export policy" // data: name + "\n" + hex hash + "\n" + a fresh nonce
	PurposeRead   = "read policy"   // data: name + "\n" + a fresh nonce
	PurposeList   = "list policies" // data: hex SHA-256 of the owner's DER public key + "\n" + a fresh nonce
)

func message(purpose string, data []byte) []byte {
	h := sha256.Sum256(data)
	return append([]byte("scone-cas v1 "+purpose+"\n"), h[:]...)
}

// Sign signs data for purpose with an owner's private key
// (*ecdsa.PrivateKey on P-256, or ed25519.PrivateKey). random defaults to
// crypto/rand.Reader.
func Sign(key crypto.Signer, purpose string, data []byte, random io.Reader) ([]byte, error) {
	if random == nil {
		random = rand.Reader
	}
	msg := message(purpose, data)
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		d := sha256.Sum256(msg)
		return ecdsa.SignASN1(random, k, d[:])
	case ed25519.PrivateKey:
		return ed25519.Sign(k, msg), nil
	}
	return nil, fmt.Errorf("signing %s: key %T is not ECDSA P-256 or Ed25519", purpose, key)
}

// VerifySignature checks an owner's signature of data for purpose.
func VerifySignature(pub any, purpose string, data, sig []byte) error {
	msg := message(purpose, data)
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		d := sha256.Sum256(msg)
		ok = ecdsa.VerifyASN1(k, d[:], sig)
	case ed25519.PublicKey:
		ok = len(sig) == ed25519.SignatureSize && ed25519.Verify(k, msg, sig)
	default:
		return fmt.Errorf("%w: owner key %T is not ECDSA P-256 or Ed25519", ErrSignature, pub)
	}
	if !ok {
		return fmt.Errorf("%w (%s): not signed by the policy's owner key", ErrSignature, purpose)
	}
	return nil
}
