package convert

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// TestConvertTLS: --tls-port and friends go into the measured config
// (ports sorted, duplicates dropped), change MRENCLAVE, and name files that
// must be in the image (or, with a CAS, may be placed by the policy).
func TestConvertTLS(t *testing.T) {
	fixtures(t)
	ctx := context.Background()
	src := busyboxImage(t, file{name: "etc/tls/cert.pem", body: []byte("chain")}, file{name: "etc/tls/key.pem", body: []byte("key"), mode: 0o600},
		file{name: "etc/tls/current.pem", link: "cert.pem"})
	_, base, err := convertImage(ctx, src, opts()...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := FromImage(src, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(ctx, s, opts(WithTLS([]uint16{8443, 443, 8443}, "/etc/tls/current.pem", "/etc/tls/key.pem"))...)
	if err != nil {
		t.Fatal(err)
	}
	ec := res.Enclave
	if !slices.Equal(ec.TLSPorts, []uint16{443, 8443}) || ec.TLSCert != "/etc/tls/current.pem" || ec.TLSKey != "/etc/tls/key.pem" {
		t.Fatalf("config: ports %v cert %q key %q", ec.TLSPorts, ec.TLSCert, ec.TLSKey)
	}
	if res.Report.MRENCLAVE == base.MRENCLAVE {
		t.Fatal("MRENCLAVE unchanged by the TLS ports")
	}
	for _, tc := range []struct{ cert, key string }{
		{"/etc/tls/missing.pem", "/etc/tls/key.pem"},
		{"/etc/tls/cert.pem", "/etc/tls"}, // a directory
	} {
		_, _, err := convertImage(ctx, src, opts(WithTLS([]uint16{443}, tc.cert, tc.key))...)
		if !errors.Is(err, ErrTLSFile) {
			t.Errorf("cert %s key %s: %v, want ErrTLSFile", tc.cert, tc.key, err)
		}
	}
	// With a CAS, the policy may place what the image lacks; a path of the
	// image that is not a file is still refused.
	cas := WithCAS("cas.example:8443", [32]byte{1}, "web")
	if _, _, err := convertImage(ctx, src, opts(cas, WithTLS([]uint16{443}, "/run/tls/cert.pem", "/run/tls/key.pem"))...); err != nil {
		t.Errorf("with a CAS, files the policy places: %v", err)
	}
	if _, _, err := convertImage(ctx, src, opts(cas, WithTLS([]uint16{443}, "/etc/tls", "/run/tls/key.pem"))...); !errors.Is(err, ErrTLSFile) {
		t.Errorf("with a CAS, a directory as the certificate: %v, want ErrTLSFile", err)
	}
}

// TestConvertTLSClient: --tls-client-ca, --tls-connect and --tls-ca go into
// the measured config (destinations sorted, duplicates dropped) and name
// files of the image.
func TestConvertTLSClient(t *testing.T) {
	fixtures(t)
	ctx := context.Background()
	src := busyboxImage(t, file{name: "etc/tls/cert.pem", body: []byte("chain")}, file{name: "etc/tls/key.pem", body: []byte("key")},
		file{name: "etc/tls/clients.pem", body: []byte("CAs")}, file{name: "etc/ssl/ca.pem", body: []byte("CAs")})
	s, err := FromImage(src, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(ctx, s, opts(WithTLS([]uint16{443}, "/etc/tls/cert.pem", "/etc/tls/key.pem"), WithTLSClientCA("/etc/tls/clients.pem"),
		WithTLSConnect([]string{"redis:6379", "db:5432", "redis:6379"}, "/etc/ssl/ca.pem"))...)
	if err != nil {
		t.Fatal(err)
	}
	ec := res.Enclave
	if ec.TLSClientCA != "/etc/tls/clients.pem" || !slices.Equal(ec.TLSConnect, []string{"db:5432", "redis:6379"}) || ec.TLSCA != "/etc/ssl/ca.pem" {
		t.Fatalf("config: client CA %q connect %v CA %q", ec.TLSClientCA, ec.TLSConnect, ec.TLSCA)
	}
	_, _, err = convertImage(ctx, src, opts(WithTLSConnect([]string{"db:5432"}, "/etc/ssl/missing.pem"))...)
	if !errors.Is(err, ErrTLSFile) {
		t.Fatalf("missing CA bundle: %v, want ErrTLSFile", err)
	}
}
