package enclave

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
)

// ErrKey is wrapped by every error about an unusable signing key: not PEM,
// not RSA, not 3072 bits, exponent not 3.
var ErrKey = errors.New("unusable enclave signing key")

// KeyError describes why a key is unusable; it matches ErrKey with errors.Is.
type KeyError struct {
	Reason string
}

func (e *KeyError) Error() string        { return "unusable enclave signing key: " + e.Reason }
func (e *KeyError) Is(target error) bool { return target == ErrKey }

func keyErr(format string, a ...any) error { return &KeyError{Reason: fmt.Sprintf(format, a...)} }

// CheckPublicKey refuses keys SGX cannot use: the modulus must be exactly
// 3072 bits and the public exponent 3.
func CheckPublicKey(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil {
		return keyErr("no public key")
	}
	if pub.N.BitLen() != KeyBits {
		return keyErr("RSA modulus has %d bits, SGX needs %d", pub.N.BitLen(), KeyBits)
	}
	if pub.E != KeyExponent {
		return keyErr("RSA public exponent is %d, SGX needs %d", pub.E, KeyExponent)
	}
	return nil
}

// GenerateKey generates an RSA-3072 key with public exponent 3, as SGX
// requires (crypto/rsa.GenerateKey only makes e = 65537). random defaults to
// crypto/rand.Reader.
func GenerateKey(random io.Reader) (*rsa.PrivateKey, error) {
	if random == nil {
		random = rand.Reader
	}
	e := big.NewInt(KeyExponent)
	one := big.NewInt(1)
	prime := func() (*big.Int, error) {
		for {
			p, err := rand.Prime(random, KeyBits/2)
			if err != nil {
				return nil, fmt.Errorf("generating RSA prime: %w", err)
			}
			pm1 := new(big.Int).Sub(p, one)
			if new(big.Int).GCD(nil, nil, e, pm1).Cmp(one) == 0 {
				return p, nil
			}
		}
	}
	for {
		p, err := prime()
		if err != nil {
			return nil, err
		}
		q, err := prime()
		if err != nil {
			return nil, err
		}
		if p.Cmp(q) == 0 {
			continue
		}
		n := new(big.Int).Mul(p, q)
		if n.BitLen() != KeyBits {
			continue
		}
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d := new(big.Int).ModInverse(e, phi)
		if d == nil {
			continue
		}
		k := &rsa.PrivateKey{
			PublicKey: rsa.PublicKey{N: n, E: KeyExponent},
			D:         d,
			Primes:    []*big.Int{p, q},
		}
		k.Precompute()
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("generating RSA key: %w", err)
		}
		return k, nil
	}
}

// ParsePrivateKeyPEM parses a PEM private key (PKCS#1 "RSA PRIVATE KEY" or
// PKCS#8 "PRIVATE KEY") and checks that SGX can use it (CheckPublicKey).
// Encrypted PEM is not supported.
func ParsePrivateKeyPEM(b []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, keyErr("no PEM block found")
	}
	var k *rsa.PrivateKey
	switch blk.Type {
	case "RSA PRIVATE KEY":
		var err error
		if k, err = x509.ParsePKCS1PrivateKey(blk.Bytes); err != nil {
			return nil, keyErr("parsing PKCS#1 key: %v", err)
		}
	case "PRIVATE KEY":
		any, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, keyErr("parsing PKCS#8 key: %v", err)
		}
		var ok bool
		if k, ok = any.(*rsa.PrivateKey); !ok {
			return nil, keyErr("PKCS#8 key is %T, not RSA", any)
		}
	case "ENCRYPTED PRIVATE KEY":
		return nil, keyErr("encrypted PEM keys are not supported; decrypt it first (openssl pkey)")
	default:
		return nil, keyErr("PEM block %q is not a private key", blk.Type)
	}
	if err := CheckPublicKey(&k.PublicKey); err != nil {
		return nil, err
	}
	return k, nil
}

// ParsePublicKeyPEM parses a PEM public key ("PUBLIC KEY" PKIX, "RSA PUBLIC
// KEY" PKCS#1, a "CERTIFICATE", or a private key, whose public half is
// used) and checks that SGX can use it.
func ParsePublicKeyPEM(b []byte) (*rsa.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, keyErr("no PEM block found")
	}
	var pub any
	var err error
	switch blk.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(blk.Bytes); err == nil {
			pub = c.PublicKey
		}
	case "RSA PRIVATE KEY", "PRIVATE KEY":
		k, err := ParsePrivateKeyPEM(b)
		if err != nil {
			return nil, err
		}
		return &k.PublicKey, nil
	default:
		return nil, keyErr("PEM block %q is not a public key", blk.Type)
	}
	if err != nil {
		return nil, keyErr("parsing %s: %v", blk.Type, err)
	}
	rp, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, keyErr("public key is %T, not RSA", pub)
	}
	if err := CheckPublicKey(rp); err != nil {
		return nil, err
	}
	return rp, nil
}

// MarshalPrivateKeyPEM encodes k as PEM PKCS#8 ("PRIVATE KEY").
func MarshalPrivateKeyPEM(k *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKeyPEM encodes pub as PEM PKIX ("PUBLIC KEY").
func MarshalPublicKeyPEM(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// LoadPrivateKey reads and checks a PEM signing key file.
func LoadPrivateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key %q: %w", path, err)
	}
	k, err := ParsePrivateKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("reading signing key %q: %w", path, err)
	}
	return k, nil
}

// LoadPublicKey reads and checks a PEM public key file.
func LoadPublicKey(path string) (*rsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading public key %q: %w", path, err)
	}
	k, err := ParsePublicKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("reading public key %q: %w", path, err)
	}
	return k, nil
}
