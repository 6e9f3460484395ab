package cas

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"
)

// ID is a CAS ID: SHA-256 of the DER SubjectPublicKeyInfo of the CAS's
// identity key (docs/cas.md). Clients pin it.
type ID [32]byte

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID reads a CAS ID: 64 hex digits.
func ParseID(s string) (ID, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return ID{}, fmt.Errorf("CAS ID %q: want 64 hex digits (scone-build cas id shows it)", s)
	}
	return ID(b), nil
}

// KeyID is the CAS ID of a public key: SHA-256 of its DER
// SubjectPublicKeyInfo (the same as `openssl pkey -pubin -outform DER |
// sha256sum`). Simulation keys are named the same way.
func KeyID(pub any) (ID, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ID{}, fmt.Errorf("computing key ID: %w", err)
	}
	return sha256.Sum256(der), nil
}

// certID is the CAS ID of a certificate's key.
func certID(c *x509.Certificate) ID { return sha256.Sum256(c.RawSubjectPublicKeyInfo) }

// GenerateIdentityKey makes a new identity key (ECDSA P-256).
func GenerateIdentityKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// ErrIdentityKey: the identity key file is unusable.
var ErrIdentityKey = errors.New("unusable CAS identity key")

// LoadOrCreateIdentityKey reads the identity key at path (PEM "PRIVATE
// KEY", PKCS #8, ECDSA P-256) or, when the file does not exist, makes one
// and writes it (mode 0600). created says which.
func LoadOrCreateIdentityKey(path string) (key *ecdsa.PrivateKey, created bool, err error) {
	return loadOrCreateKey(path, keyCodec{
		encode: func(der []byte) ([]byte, error) {
			return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
		},
		decode: ParseIdentityKey,
	})
}

// keyCodec turns an identity key (PKCS #8 DER) into the bytes of its file
// and back.
type keyCodec struct {
	encode func(der []byte) ([]byte, error)
	decode func(file []byte) (*ecdsa.PrivateKey, error)
}

// loadOrCreateKey reads the identity key file at path with c or, when it
// does not exist, makes a key and writes it with c (mode 0600, never over
// an existing file). created says which.
func loadOrCreateKey(path string, c keyCodec) (*ecdsa.PrivateKey, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := GenerateIdentityKey()
		if err != nil {
			return nil, false, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, false, err
		}
		file, err := c.encode(der)
		clear(der)
		if err == nil {
			err = writeNew(path, file)
		}
		if err != nil {
			return nil, false, fmt.Errorf("writing identity key %q: %w", path, err)
		}
		return k, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading identity key %q: %w", path, err)
	}
	k, err := c.decode(b)
	if err != nil {
		return nil, false, fmt.Errorf("reading identity key %q: %w", path, err)
	}
	return k, false, nil
}

// writeNew writes a new file (mode 0600; an existing one is an error) and
// removes it when the write fails.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
	}
	return werr
}

// ParseIdentityKey reads a PEM ECDSA P-256 private key ("PRIVATE KEY" or
// "EC PRIVATE KEY").
func ParseIdentityKey(b []byte) (*ecdsa.PrivateKey, error) {
	k, err := pemPrivateKey(b, "", "")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIdentityKey, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: a %T, want ECDSA P-256", ErrIdentityKey, k)
	}
	return ek, nil
}

// selfSignedCert makes the TLS certificate of the identity key. No client
// checks a chain: they pin the key (the CAS ID).
func selfSignedCert(key *ecdsa.PrivateKey, now time.Time) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "scone-cas"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"scone-cas"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("making the CAS certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// pemPrivateKey decodes a PEM "PRIVATE KEY" (PKCS #8) or "EC PRIVATE KEY"
// (SEC 1). notPEM and badType are added to the two errors of the PEM layer
// (a hint for the key's user); the callers wrap the error in their sentinel.
func pemPrivateKey(b []byte, notPEM, badType string) (any, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("not PEM%s", notPEM)
	}
	switch blk.Type {
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(blk.Bytes)
	}
	return nil, fmt.Errorf("PEM block %q, want PRIVATE KEY%s", blk.Type, badType)
}
