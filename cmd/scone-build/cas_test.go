package main

import (
	"bytes"
	"context"
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
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/cas"
)

// casForCase starts a CAS (memory store, TLS on 127.0.0.1) for a CLI case
// whose args use {{CAS}}.
func casForCase(t *testing.T, args string) (addr, id string) {
	if !strings.Contains(args, "{{CAS}}") {
		return "", ""
	}
	return startCAS(t)
}

// casEnclaveForCase starts, for a case whose args use {{CASENCLAVE}}, a
// CAS that runs in a simulated enclave (MRENCLAVE 5c..5c, DEBUG): GET
// /v1/id serves a simulation quote signed by {{SIMKEY}}'s key that binds
// its CAS ID.
func casEnclaveForCase(t *testing.T, args string) string {
	if !strings.Contains(args, "{{CASENCLAVE}}") {
		return ""
	}
	key, err := cas.GenerateIdentityKey()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := cas.KeyID(&key.PublicKey)
	body := attest.ReportBody{ISVProdID: 1, ISVSVN: 2, Attributes: attest.Attributes{Flags: attest.FlagInit | attest.FlagMode64Bit | attest.FlagDebug, XFRM: 3}}
	copy(body.MRENCLAVE[:], bytes.Repeat([]byte{0x5c}, 32))
	copy(body.MRSIGNER[:], bytes.Repeat([]byte{0x0e}, 32))
	rd := cas.IDReportData(id)
	q, err := attest.NewSimulationQuote(body, rd[:], simSigner)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := startCAS(t, cas.WithIdentityKey(key), cas.WithSelfQuote(q))
	return addr
}

// simPlatform makes the simulation quotes {{CASENCLAVE}} serves.
type simPlatform struct{ body attest.ReportBody }

func (p simPlatform) Quote(rd [64]byte) ([]byte, error) {
	return attest.NewSimulationQuote(p.body, rd[:], simSigner)
}
func (p simPlatform) SealKey() ([]byte, error) { return bytes.Repeat([]byte{0x5e}, 16), nil }

// recoveryDir holds the recovery test vector: recovery.json of 3 owners
// (owner1-3.pem), threshold 2.
const recoveryDir = "../../testdata/cas/recovery"

// casRecoverForCase starts a CAS in recovery mode for the recovery test
// vector, in an enclave of MRENCLAVE 5c.. whose quotes {{SIMKEY}} verifies.
func casRecoverForCase(t *testing.T, args string) string {
	if !strings.Contains(args, "{{CASRECOVER}}") {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(recoveryDir, cas.RecoveryFileName))
	if err != nil {
		t.Fatal(err)
	}
	f, err := cas.ParseRecoveryFile(b)
	if err != nil {
		t.Fatal(err)
	}
	body := attest.ReportBody{Attributes: attest.Attributes{Flags: attest.FlagInit | attest.FlagMode64Bit}}
	copy(body.MRENCLAVE[:], bytes.Repeat([]byte{0x5c}, 32))
	rs, err := cas.NewRecoveryServer(f, simPlatform{body}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); rs.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func startCAS(t *testing.T, opts ...cas.Option) (addr, id string) {
	srv, err := cas.New(opts...)
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
