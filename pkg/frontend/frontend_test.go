package frontend

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
	"github.com/scone-build/scone-build/pkg/sconeimage"
)

func TestConvertArgs(t *testing.T) {
	got, err := ConvertArgs(map[string]string{
		"scone-heap":               "64M",
		"build-arg:SCONE_HEAP":     "32M", // the frontend option wins
		"build-arg:SCONE_THREADS":  "4",
		"build-arg:SCONE_HOST_ENV": "PORT",
		"scone-force":              "true",
		"build-arg:OTHER":          "x",
		"filename":                 "Dockerfile",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--force=true", "--heap=64M", "--host-env=PORT", "--threads=4"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ConvertArgs = %q, want %q", got, want)
	}
	for _, bad := range []map[string]string{
		{"scone-key": "/etc/passwd"},
		{"build-arg:SCONE_FS_KEY": "x"},
		{"scone-json": "false"},
		{"scone-Heap": "1"},
		{"scone--x": "1"},
		{"scone-": "1"},
	} {
		if _, err := ConvertArgs(bad); err == nil {
			t.Errorf("ConvertArgs(%v) succeeded, want an error", bad)
		}
	}
	if _, err := ConvertArgs(map[string]string{"scone-source-config": "x"}); !errors.Is(err, ErrReservedOption) {
		t.Errorf("reserved option: err = %v, want ErrReservedOption", err)
	}
}

func TestDelegateOpts(t *testing.T) {
	in := map[string]string{
		"source": "scone-frontend", "cmdline": "scone-frontend", "scone-heap": "1M",
		"build-arg:SCONE_HEAP": "1M", "context:base": "oci-layout://base@sha256:00", "filename": "Dockerfile",
	}
	got := DelegateOpts(in)
	want := map[string]string{
		"cmdline": "scone-frontend", "build-arg:SCONE_HEAP": "1M",
		"context:base": "oci-layout://base@sha256:00", "filename": "Dockerfile",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DelegateOpts = %v, want %v", got, want)
	}
	if _, ok := in["cmdline"]; !ok || in["source"] == "" {
		t.Fatal("DelegateOpts modified its input")
	}
	// Called as --frontend gateway.v0 --opt source=...: no cmdline yet, and one
	// must be set or the Dockerfile frontend follows `# syntax=` back to us.
	if got := DelegateOpts(map[string]string{"source": "x"}); got["cmdline"] == "" || got["source"] != "" {
		t.Fatalf("DelegateOpts without cmdline = %v", got)
	}
}

var (
	signerOnce sync.Once
	signerPEM  []byte
	signerErr  error
)

// testSigner returns one RSA-3072, e=3 key per test binary (generating one
// takes about a second).
func testSigner(t *testing.T) []byte {
	t.Helper()
	signerOnce.Do(func() { signerPEM, signerErr = newSigner() })
	if signerErr != nil {
		t.Fatal(signerErr)
	}
	return signerPEM
}

func newSigner() ([]byte, error) {
	k, err := enclave.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return enclave.MarshalPrivateKeyPEM(k)
}

func TestFingerprint(t *testing.T) {
	signer := testSigner(t)
	key := bytes.Repeat([]byte{7}, 32)
	hexKey := []byte(hex.EncodeToString(key) + "\n")
	mrs := [32]byte{1, 2, 3}
	v1Key, err := (&fskey.File{Key: fskey.Key(key), Identity: fskey.Identity{MRSIGNER: &mrs}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}

	fp1, err := Fingerprint(signer, v1Key)
	if err != nil {
		t.Fatal(err)
	}
	fp2, err := Fingerprint(signer, hexKey)
	if err != nil {
		t.Fatal(err)
	}
	if fp1 != fp2 {
		t.Fatalf("a key file and the bare key give different fingerprints:\n%s\n%s", fp1, fp2)
	}
	if _, err := Fingerprint(signer, key); err == nil {
		t.Fatal("32 raw bytes accepted as an FS key")
	}
	if !strings.HasPrefix(fp1, "v1 mrsigner=") || !strings.Contains(fp1, " fs-key-id=") {
		t.Fatalf("fingerprint format: %q", fp1)
	}
	// Neither the key nor its plain SHA-256 appears.
	plain := sha256.Sum256(key)
	if strings.Contains(fp1, hex.EncodeToString(key)) || strings.Contains(fp1, hex.EncodeToString(plain[:])) {
		t.Fatalf("fingerprint reveals the key or its plain hash: %q", fp1)
	}
	// Another FS key or another signer changes it.
	key2 := []byte(hex.EncodeToString(bytes.Repeat([]byte{8}, 32)))
	if fp, err := Fingerprint(signer, key2); err != nil || fp == fp1 {
		t.Fatalf("a different FS key gives the same fingerprint (or %v)", err)
	}
	other, err := newSigner()
	if err != nil {
		t.Fatal(err)
	}
	if fp, err := Fingerprint(other, hexKey); err != nil || fp == fp1 {
		t.Fatalf("a different signer gives the same fingerprint (or %v)", err)
	}
	// PKCS#8 gives the same MRSIGNER.
	pk, err := enclave.ParsePrivateKeyPEM(signer)
	if err != nil {
		t.Fatal(err)
	}
	p8, _ := x509.MarshalPKCS8PrivateKey(pk)
	if fp, err := Fingerprint(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), hexKey); err != nil || fp != fp1 {
		t.Fatalf("PKCS#8: %q, %v; want %q", fp, err, fp1)
	}
	for name, tc := range map[string]struct{ s, k []byte }{
		"no pem":    {[]byte("nope"), hexKey},
		"short key": {signer, key[:31]},
		"bad hex":   {signer, []byte(strings.Repeat("zz", 32))},
	} {
		if _, err := Fingerprint(tc.s, tc.k); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: err = %v, want ErrBadKey", name, err)
		}
	}
}

func TestMRSignerLittleEndian(t *testing.T) {
	p := testSigner(t)
	k, err := enclave.ParsePrivateKeyPEM(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := mrSigner(p)
	if err != nil {
		t.Fatal(err)
	}
	be := k.N.FillBytes(make([]byte, 384))
	le := make([]byte, 384)
	for i := range be {
		le[i] = be[383-i]
	}
	want := sha256.Sum256(le)
	if !bytes.Equal(got, want[:]) {
		t.Fatalf("mrsigner = %x, want %x", got, want)
	}
}

func TestImageDeterministic(t *testing.T) {
	files := []sconeimage.File{
		{Path: "/bin/scone-frontend", Mode: 0o755, Data: []byte("frontend")},
		{Path: "/bin/scone-build", Mode: 0o755, Data: []byte("build")},
	}
	at := time.Unix(1700000000, 0).UTC()
	a, err := Image(files, at, DefaultPlatform())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Image([]sconeimage.File{files[1], files[0]}, at, DefaultPlatform())
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("same files give digests %s and %s", da, db)
	}
	cf, err := a.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.Config.Entrypoint, []string{FrontendPath}) || !cf.Created.Time.Equal(at) {
		t.Fatalf("config: entrypoint %q created %v", cf.Config.Entrypoint, cf.Created)
	}
	var names []string
	tr := tar.NewReader(mutate.Extract(a))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || !h.ModTime.Equal(at) {
			t.Errorf("%s: uid %d mtime %v", h.Name, h.Uid, h.ModTime)
		}
		names = append(names, h.Name) // mutate.Extract cleans names: "bin/" reads as "bin"
	}
	if want := []string{"bin", "bin/scone-build", "bin/scone-frontend"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("layer entries %q, want %q", names, want)
	}
	if _, err := Image([]sconeimage.File{{Path: "bin/x"}}, at, DefaultPlatform()); err == nil {
		t.Fatal("relative path accepted")
	}
}

func TestFinishConfig(t *testing.T) {
	in := `{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",
	"config":{"Entrypoint":["/scone/bin/scone-run"],"Labels":{"io.scone.mrenclave":"ab"}},
	"rootfs":{"type":"layers","diff_ids":["sha256:00","sha256:11","sha256:22"]},
	"history":[{"created_by":"a"},{"created_by":"b"},{"created_by":"c"}]}`
	out, err := finishConfig([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if ids := m["rootfs"].(map[string]any)["diff_ids"]; ids != nil {
		t.Errorf("diff_ids kept: %v", ids)
	}
	if h := m["history"].([]any); len(h) != 2 {
		t.Errorf("history has %d entries, want 2 (one per layer)", len(h))
	}
	cfg := m["config"].(map[string]any)
	if cfg["Labels"].(map[string]any)["io.scone.mrenclave"] != "ab" || cfg["Entrypoint"].([]any)[0] != "/scone/bin/scone-run" {
		t.Errorf("config lost: %v", cfg)
	}
	if _, err := finishConfig([]byte("{")); err == nil {
		t.Error("bad JSON accepted")
	}
}
