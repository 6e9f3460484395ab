package tlstest

import (
	"crypto/x509"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/tls (the C unit tests' fixtures)")

const fixtures = "../../testdata/tls"

// TestFixtures checks the committed fixtures of runtime/tests/test_tlsconn.c
// (testdata/tls, test-only keys) and, with -update, makes new ones.
func TestFixtures(t *testing.T) {
	if *update {
		writeFixtures(t)
	}
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(fixtures, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("ca.pem holds no certificate")
	}
	for _, c := range []struct {
		name  string
		usage x509.ExtKeyUsage
		ok    bool
	}{
		{"server-ec", x509.ExtKeyUsageServerAuth, true},
		{"server-rsa", x509.ExtKeyUsageServerAuth, true},
		{"server-sec1", x509.ExtKeyUsageServerAuth, true},
		{"client", x509.ExtKeyUsageClientAuth, true},
		{"client-other", x509.ExtKeyUsageClientAuth, false},
	} {
		b, err := os.ReadFile(filepath.Join(fixtures, c.name+".pem"))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s.pem: no PEM block", c.name)
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{c.usage}, CurrentTime: NotBefore.AddDate(50, 0, 0)})
		if (err == nil) != c.ok {
			t.Errorf("%s: verify against ca.pem: %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func writeFixtures(t *testing.T) {
	ca, err := NewCA("scone-build test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCA("another test CA")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(fixtures, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", ca.CertPEM)
	write("other-ca.pem", other.CertPEM)
	for _, l := range []struct {
		name string
		ca   *CA
		kind KeyKind
		srv  bool
	}{
		{"server-ec", ca, EC, true},
		{"server-rsa", ca, RSA, true},
		{"server-sec1", ca, ECSEC1, true},
		{"client", ca, EC, false},
		{"client-other", other, EC, false},
	} {
		var leaf *Leaf
		if l.srv {
			leaf, err = l.ca.Server(l.kind, "localhost", "server.test", "127.0.0.1")
		} else {
			leaf, err = l.ca.Client(l.kind, l.name+".test")
		}
		if err != nil {
			t.Fatal(err)
		}
		write(l.name+".pem", leaf.ChainPEM)
		write(l.name+".key", leaf.KeyPEM)
	}
}
