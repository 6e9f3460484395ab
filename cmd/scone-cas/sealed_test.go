package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/cas"
)

// fakeEnclave stands in for scone-run's /dev/attestation in simulation
// mode: simulation quotes of body signed by key, and a sealing key.
type fakeEnclave struct {
	key       *ecdsa.PrivateKey
	body      attest.ReportBody
	seal      []byte
	available bool
}

func newFakeEnclave(t *testing.T, mrenclave byte) *fakeEnclave {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := &fakeEnclave{key: k, seal: bytes.Repeat([]byte{mrenclave}, 16), available: true}
	e.body.MRENCLAVE = [32]byte{mrenclave}
	e.body.Attributes.Flags = attest.FlagInit | attest.FlagMode64Bit
	return e
}

func (e *fakeEnclave) Available() bool { return e.available }
func (e *fakeEnclave) Quote(rd [64]byte) ([]byte, error) {
	return attest.NewSimulationQuote(e.body, rd[:], e.key)
}
func (e *fakeEnclave) SealKey() ([]byte, error) { return bytes.Clone(e.seal), nil }

func runIn(p enclavePlatform, args ...string) (int, string) {
	var out, errb buffer
	code := (&app{stdout: &out, stderr: &errb, platform: p}).run(context.Background(), args)
	return code, errb.String()
}

// identify connects to r and verifies its quote with e's simulation key.
func identify(t *testing.T, r *running, e *fakeEnclave) (cas.ID, *cas.IDResponse) {
	t.Helper()
	c, err := cas.NewClient(r.addr)
	if err != nil {
		t.Fatal(err)
	}
	id, info, err := c.Identify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res, err := cas.VerifySelfQuote(info.Quote, id, func(q *attest.Quote) (*attest.Result, error) { return attest.VerifySimulation(q, &e.key.PublicKey) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Enclave.MRENCLAVE != e.body.MRENCLAVE || info.MRENCLAVE != hex.EncodeToString(e.body.MRENCLAVE[:]) {
		t.Fatalf("MRENCLAVE %x, the CAS says %s; want %x", res.Enclave.MRENCLAVE, info.MRENCLAVE, e.body.MRENCLAVE)
	}
	return id, info
}

// TestSealedState: --store-key sealed derives the store key from the
// enclave's sealing key and seals the identity key to it: the state
// directory holds no plain key, a restart in the same enclave keeps the
// CAS ID and the policies, and another enclave (another sealing key), a
// store key file, or no enclave at all cannot open it. GET /v1/id serves a
// quote that binds the CAS ID.
func TestSealedState(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	e := newFakeEnclave(t, 0xa1)
	r := serveIn(t, e, "--state", state, "--store-key", "sealed")
	id, _ := identify(t, r, e)
	c, _ := cas.NewClient(r.addr, cas.WithPin(id))
	owner, doc := ownerPolicy(t, "web")
	res, err := c.Apply(context.Background(), "web", doc, owner)
	if err != nil {
		t.Fatal(err)
	}
	r.stop(t)
	logs := r.stderr.String()
	for _, want := range []string{"made a new identity key", "sealed=true", "SIMULATION mode", "mrenclave=" + hex.EncodeToString(e.body.MRENCLAVE[:])} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if _, err := os.Stat(filepath.Join(state, identityFile)); err == nil {
		t.Error("a sealed CAS wrote a plain identity.pem")
	}
	sealed, err := os.ReadFile(filepath.Join(state, sealedIdentityFile))
	if err != nil || !bytes.Contains(sealed, []byte("SCONE-CAS SEALED PRIVATE KEY")) {
		t.Fatalf("identity.sealed: %v %q", err, sealed)
	}

	r = serveIn(t, e, "--state", state, "--store-key", "sealed")
	again, _ := identify(t, r, e)
	c, _ = cas.NewClient(r.addr, cas.WithPin(id))
	rd, err := c.Read(context.Background(), "web", owner)
	r.stop(t)
	if again != id || err != nil || rd.Hash != res.Hash {
		t.Fatalf("after a restart: CAS ID %s (was %s), read %v %+v", again, id, err, rd)
	}

	keyFile := writeFile(t, dir, "store.key", bytes.Repeat([]byte{1}, 32))
	plainState := filepath.Join(dir, "plain")
	if code, errs := runIn(nil, "serve", "--state", plainState, "--store-key-file", keyFile, "--listen", "256.0.0.1:1"); code != 7 {
		t.Fatalf("making a plain state: exit %d %s", code, errs)
	}
	// The store of the sealed state, next to a new identity: another enclave
	// makes its own identity key there but cannot open the store.
	movedState := filepath.Join(dir, "moved")
	os.MkdirAll(movedState, 0o700)
	db, _ := os.ReadFile(filepath.Join(state, storeFile))
	writeFile(t, movedState, storeFile, db)
	other := newFakeEnclave(t, 0xb2)
	outside := newFakeEnclave(t, 0xa1)
	outside.available = false
	for _, tc := range []struct {
		name string
		p    enclavePlatform
		args []string
		code int
		want string
	}{
		{"another enclave", other, []string{"--state", state, "--store-key", "sealed"}, 5, "does not open with this enclave's sealing key"},
		{"another enclave's store", other, []string{"--state", movedState, "--store-key", "sealed"}, 5, "made by another CAS enclave"},
		{"outside an enclave", outside, []string{"--state", state, "--store-key", "sealed"}, 5, "not in an enclave"},
		{"a store key file for a sealed state", e, []string{"--state", state, "--store-key-file", keyFile}, 5, "sealed to an enclave"},
		{"sealed on a plain state", e, []string{"--state", plainState, "--store-key", "sealed"}, 5, "plain identity key"},
		{"both", e, []string{"--state", state, "--store-key", "sealed", "--store-key-file", keyFile}, 2, "exclude each other"},
		{"another value", e, []string{"--state", state, "--store-key", "tpm"}, 2, "the only value is sealed"},
		{"no store key", e, []string{"--state", state}, 2, "a store key is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, errs := runIn(tc.p, append([]string{"serve", "--listen", "127.0.0.1:0"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d with %q", code, errs, tc.code, tc.want)
			}
		})
	}
	t.Run("id on a sealed state", func(t *testing.T) {
		code, _, errs := runCmd("id", "--state", state)
		if code != 5 || !strings.Contains(errs, "sealed to the CAS's enclave") {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
}

// TestKeyFileInEnclave: a converted CAS with a store key file still
// serves a quote of its enclave in GET /v1/id.
func TestKeyFileInEnclave(t *testing.T) {
	dir := t.TempDir()
	key := writeFile(t, dir, "store.key", bytes.Repeat([]byte{1}, 32))
	e := newFakeEnclave(t, 0xc3)
	r := serveIn(t, e, "--state", filepath.Join(dir, "state"), "--store-key-file", key)
	defer r.stop(t)
	identify(t, r, e)
}

// ownerPolicy is a new owner key and a first policy NAME it owns.
func ownerPolicy(t *testing.T, name string) (ed25519.PrivateKey, []byte) {
	t.Helper()
	_, owner, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(owner.Public())
	pub := strings.ReplaceAll(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))), "\n", "\n  ")
	return owner, []byte(fmt.Sprintf("version: 1\nname: %s\nowner: |\n  %s\nenclaves:\n  - mrenclave: [%s]\n", name, pub, strings.Repeat("ab", 32)))
}
