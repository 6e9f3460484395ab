package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
)

func TestFingerprintCommand(t *testing.T) {
	dir := t.TempDir()
	k, err := enclave.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, _ := enclave.MarshalPrivateKeyPEM(k)
	fk, _ := fskey.Generate(rand.Reader)
	mrs, _ := enclave.MRSIGNER(&k.PublicKey)
	txt, _ := (&fskey.File{Key: fk, Identity: fskey.Identity{MRSIGNER: &mrs}}).Marshal()
	signer, fsKey, out := filepath.Join(dir, "scone-signer"), filepath.Join(dir, "scone-fs-key"), filepath.Join(dir, "fp")
	os.WriteFile(signer, pemKey, 0o600)
	os.WriteFile(fsKey, txt, 0o600)

	var stdout, stderr bytes.Buffer
	if code := run([]string{"fingerprint", "--key", signer, "--fs-key", fsKey, "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.HasPrefix(string(b), "v1 mrsigner=") {
		t.Fatalf("fingerprint file %q, %v", b, err)
	}
	if strings.Contains(string(b), fk.String()) {
		t.Fatal("the fingerprint contains the FS key")
	}

	stderr.Reset()
	if code := run([]string{"fingerprint", "--key", filepath.Join(dir, "absent"), "--fs-key", fsKey}, &stdout, &stderr); code != 5 ||
		!strings.Contains(stderr.String(), "--secret id=scone-signer,src=") {
		t.Fatalf("missing secret: exit %d, stderr %q", code, stderr.String())
	}
	if code := run([]string{"fingerprint"}, &stdout, &stderr); code != 2 {
		t.Fatalf("no flags: exit %d, want 2", code)
	}
	if code := run([]string{"bogus"}, &stdout, &stderr); code != 2 {
		t.Fatalf("unknown command: exit %d, want 2", code)
	}
}

func TestNotUnderBuildKit(t *testing.T) {
	t.Setenv("BUILDKIT_SESSION_ID", "")
	var stdout, stderr bytes.Buffer
	if code := run(nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "not started by BuildKit") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}
