package enclave

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary act as an external signing command for the
// CommandSigner tests (SCONE_TEST_SIGNER=mode, key in SCONE_TEST_SIGNER_KEY).
func TestMain(m *testing.M) {
	if mode := os.Getenv("SCONE_TEST_SIGNER"); mode != "" {
		os.Exit(fakeSigner(mode))
	}
	os.Exit(m.Run())
}

func fakeSigner(mode string) int {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		return 2
	}
	k, err := LoadPrivateKey(os.Getenv("SCONE_TEST_SIGNER_KEY"))
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 2
	}
	d := sha256.Sum256(data)
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
	if err != nil {
		return 2
	}
	switch mode {
	case "raw":
		os.Stdout.Write(sig)
	case "base64":
		os.Stdout.WriteString(base64.StdEncoding.EncodeToString(sig) + "\n")
	case "wrong":
		sig[0] ^= 1
		os.Stdout.Write(sig)
	case "short":
		os.Stdout.Write(sig[:100])
	case "fail":
		os.Stderr.WriteString("hsm unreachable")
		return 1
	}
	return 0
}

var (
	genOnce sync.Once
	genKey  *rsa.PrivateKey
	genErr  error
	genTime time.Duration
)

// testKey generates one RSA-3072 e=3 key per test binary run.
func testKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	genOnce.Do(func() {
		start := time.Now()
		genKey, genErr = GenerateKey(nil)
		genTime = time.Since(start)
	})
	if genErr != nil {
		t.Fatalf("GenerateKey: %v", genErr)
	}
	return genKey
}

func testSigner(t testing.TB) *KeySigner {
	s, err := NewKeySigner(testKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGenerateKey(t *testing.T) {
	k := testKey(t)
	t.Logf("GenerateKey took %v", genTime)
	if k.E != 3 || k.N.BitLen() != 3072 {
		t.Fatalf("e=%d bits=%d", k.E, k.N.BitLen())
	}
	if err := k.Validate(); err != nil {
		t.Fatal(err)
	}
	// PKCS#8 round trip
	pemb, err := MarshalPrivateKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParsePrivateKeyPEM(pemb)
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Equal(k) {
		t.Fatal("PKCS#8 round trip changed the key")
	}
	// PKCS#1
	p1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	if k3, err := ParsePrivateKeyPEM(p1); err != nil || !k3.Equal(k) {
		t.Fatalf("PKCS#1: %v", err)
	}
	pub, err := MarshalPublicKeyPEM(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"pkix": pub, "private": pemb, "pkcs1 public": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)})} {
		if p, err := ParsePublicKeyPEM(b); err != nil || !p.Equal(&k.PublicKey) {
			t.Fatalf("ParsePublicKeyPEM(%s): %v", name, err)
		}
	}
}

func TestKeyRefusals(t *testing.T) {
	k2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k65537, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	tests := []struct {
		name string
		pem  []byte
	}{
		{"not pem", []byte("hello")},
		{"2048 bit", pkcs8(k2048)},
		{"e=65537", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k65537)})},
		{"certificate block", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}})},
		{"encrypted", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2}})},
		{"garbage pkcs8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivateKeyPEM(tt.pem)
			var ke *KeyError
			if !errors.Is(err, ErrKey) || !errors.As(err, &ke) {
				t.Fatalf("err = %v, want a KeyError", err)
			}
		})
	}
	if _, err := NewCommandSigner(&k65537.PublicKey, "true"); !errors.Is(err, ErrKey) {
		t.Fatalf("NewCommandSigner with e=65537: %v", err)
	}
}

func TestCommandSigner(t *testing.T) {
	k := testKey(t)
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "k.pem")
	pemb, _ := MarshalPrivateKeyPEM(k)
	if err := os.WriteFile(keyPath, pemb, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SCONE_TEST_SIGNER_KEY", keyPath)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{0xab}, SigningDataSize)
	want, _ := testSigner(t).Sign(context.Background(), data)
	tests := []struct {
		mode string
		want error
	}{
		{"raw", nil},
		{"base64", nil},
		{"wrong", ErrSignature},
		{"short", ErrSignCommand},
		{"fail", ErrSignCommand},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Setenv("SCONE_TEST_SIGNER", tt.mode)
			s, err := NewCommandSigner(&k.PublicKey, self)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := s.Sign(context.Background(), data)
			if tt.want == nil {
				if err != nil || !bytes.Equal(sig, want) {
					t.Fatalf("Sign: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestCommandSignerOpenSSL signs through the real openssl CLI, the way
// --sign-cmd is documented, and attaches the result.
func TestCommandSignerOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("skipping: openssl not installed")
	}
	k := testKey(t)
	keyPath := filepath.Join(t.TempDir(), "signer.pem")
	pemb, _ := MarshalPrivateKeyPEM(k)
	if err := os.WriteFile(keyPath, pemb, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewCommandSigner(&k.PublicKey, openssl, "dgst", "-sha256", "-sign", keyPath)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := NewSigStruct([32]byte{9}, WithDate(time.Unix(0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	viaCmd, err := ss.Sign(context.Background(), s)
	if err != nil {
		t.Fatalf("signing through openssl: %v", err)
	}
	ks, _ := NewKeySigner(k)
	ss2, _ := NewSigStruct([32]byte{9}, WithDate(time.Unix(0, 0)))
	direct, err := ss2.Sign(context.Background(), ks)
	if err != nil || !bytes.Equal(viaCmd, direct) {
		t.Fatalf("openssl signature differs from the in-process one (err %v)", err)
	}
}
