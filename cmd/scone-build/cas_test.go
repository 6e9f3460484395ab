package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/scone-build/scone-build/pkg/cas"
)

// casForCase starts a CAS (memory store, TLS on 127.0.0.1) for a CLI case
// whose args use {{CAS}}; it accepts simulation quotes of {{SIMKEY}}'s key.
func casForCase(t *testing.T, args string) (addr, id string) {
	if !strings.Contains(args, "{{CAS}}") {
		return "", ""
	}
	srv, err := cas.New()
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = srv.TLSConfig()
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return strings.TrimPrefix(ts.URL, "https://"), srv.ID().String()
}

var (
	ownerOnce     sync.Once
	ownerKeyFiles [2]string
	ownerPubs     [2]string
	ownerErr      error
)

// casOwnerKeys writes two fixed owner keys (Ed25519, ECDSA P-256; PKCS #8
// PEM) next to the other test keys.
func casOwnerKeys(t *testing.T, k keyFiles) (string, string) {
	ownerOnce.Do(func() {
		// Fixed keys, so that the policies (and their hashes) are the same in every run.
		seed := sha256.Sum256([]byte("scone-build CLI test owner"))
		ed := ed25519.NewKeyFromSeed(seed[:])
		scalar := sha256.Sum256([]byte("scone-build CLI test other owner"))
		ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar[:])
		if err != nil {
			ownerErr = err
			return
		}
		for i, key := range []crypto.Signer{ed, ec} {
			der, _ := x509.MarshalPKCS8PrivateKey(key)
			ownerKeyFiles[i] = filepath.Join(filepath.Dir(k.key), []string{"owner.pem", "other-owner.pem"}[i])
			if ownerErr = os.WriteFile(ownerKeyFiles[i], pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); ownerErr != nil {
				return
			}
			pub, _ := x509.MarshalPKIXPublicKey(key.Public())
			ownerPubs[i] = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
		}
	})
	if ownerErr != nil {
		t.Fatal(ownerErr)
	}
	return ownerKeyFiles[0], ownerKeyFiles[1]
}

// writePolicy runs `!policy TEMPLATE OUT [PREVIOUS]`: the case's file
// TEMPLATE with {{OWNERPUB}} and {{OTHEROWNERPUB}} replaced by the owner
// keys' PEM public keys (indented for a YAML block scalar) and {{PREVIOUS}}
// by the hash (SHA-256) of the file PREVIOUS.
func writePolicy(t *testing.T, dir string, args []string) {
	t.Helper()
	if len(args) != 3 && len(args) != 4 {
		t.Fatalf("bad line %q: want !policy TEMPLATE OUT [PREVIOUS]", strings.Join(args, " "))
	}
	b, err := os.ReadFile(filepath.Join(dir, args[1]))
	if err != nil {
		t.Fatal(err)
	}
	indent := func(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ") }
	prev := ""
	if len(args) == 4 {
		pb, err := os.ReadFile(args[3])
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(pb)
		prev = hex.EncodeToString(h[:])
	}
	doc := strings.NewReplacer("{{OWNERPUB}}", indent(ownerPubs[0]), "{{OTHEROWNERPUB}}", indent(ownerPubs[1]), "{{PREVIOUS}}", prev).Replace(string(b))
	if err := os.WriteFile(args[2], []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}
