// Package tlstest makes throw-away X.509 material for the network shield's
// tests: a CA, server certificates (ECDSA P-256 or RSA-2048) and client
// certificates it signs, as PEM. Nothing made here protects anything: keys
// are fresh for every test run (the committed fixtures in testdata/tls are
// test-only too, see its README).
package tlstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// KeyKind selects a key type.
type KeyKind int

const (
	// EC is ECDSA on P-256 (PKCS#8 PEM, "PRIVATE KEY").
	EC KeyKind = iota
	// RSA is RSA-2048 (PKCS#1 PEM, "RSA PRIVATE KEY").
	RSA
	// ECSEC1 is ECDSA on P-256 in SEC 1 form ("EC PRIVATE KEY").
	ECSEC1
)

// Validity of every certificate: long enough for any test run.
var (
	NotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	NotAfter  = time.Date(2120, 1, 1, 0, 0, 0, 0, time.UTC)
)

// CA is a certificate authority that signs leaf certificates.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	serial  int64
}

// Leaf is a certificate with its private key, as PEM.
type Leaf struct {
	CertPEM  []byte // the leaf only
	ChainPEM []byte // the leaf followed by its CA's certificate
	KeyPEM   []byte
	Cert     *x509.Certificate
}

func newKey(kind KeyKind) (crypto.Signer, []byte, error) {
	switch kind {
	case RSA:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, fmt.Errorf("generating RSA key: %w", err)
		}
		return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
	case EC, ECSEC1:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("generating EC key: %w", err)
		}
		if kind == ECSEC1 {
			der, err := x509.MarshalECPrivateKey(k)
			if err != nil {
				return nil, nil, fmt.Errorf("encoding EC key: %w", err)
			}
			return k, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding EC key: %w", err)
		}
		return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	return nil, nil, fmt.Errorf("unknown key kind %d", kind)
}

// NewCA makes a self-signed CA with an ECDSA P-256 key.
func NewCA(name string) (*CA, error) {
	k, _, err := newKey(EC)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"scone-build tests"}},
		NotBefore:             NotBefore,
		NotAfter:              NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate %q: %w", name, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate %q: %w", name, err)
	}
	return &CA{Cert: c, Key: k, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), serial: 1}, nil
}

// Server makes a server certificate for the DNS names and IP addresses in
// hosts (serverAuth).
func (ca *CA) Server(kind KeyKind, hosts ...string) (*Leaf, error) {
	return ca.leaf(kind, x509.ExtKeyUsageServerAuth, hosts)
}

// Client makes a client certificate (clientAuth) with common name cn.
func (ca *CA) Client(kind KeyKind, cn string) (*Leaf, error) {
	return ca.leaf(kind, x509.ExtKeyUsageClientAuth, []string{cn})
}

func (ca *CA) leaf(kind KeyKind, usage x509.ExtKeyUsage, hosts []string) (*Leaf, error) {
	k, keyPEM, err := newKey(kind)
	if err != nil {
		return nil, err
	}
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		NotBefore:    NotBefore,
		NotAfter:     NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if len(hosts) > 0 {
		tmpl.Subject.CommonName = hosts[0]
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if usage == x509.ExtKeyUsageServerAuth {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, k.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("creating certificate %v: %w", hosts, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate %v: %w", hosts, err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return &Leaf{CertPEM: certPEM, ChainPEM: append(append([]byte{}, certPEM...), ca.CertPEM...), KeyPEM: keyPEM, Cert: c}, nil
}

// WriteFiles writes the leaf as dir/name.pem (the chain) and dir/name.key.
func (l *Leaf) WriteFiles(dir, name string) (cert, key string, err error) {
	cert, key = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(cert, l.ChainPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("writing certificate %q: %w", cert, err)
	}
	if err := os.WriteFile(key, l.KeyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("writing key %q: %w", key, err)
	}
	return cert, key, nil
}
