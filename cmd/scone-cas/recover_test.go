package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/cas"
)

// recoveryOwner writes an owner's recovery key pair (P-256 or X25519) into
// dir and returns the public key file and the parsed private key.
func recoveryOwner(t *testing.T, dir, name string, x25519 bool) (string, *cas.RecoveryPrivateKey) {
	t.Helper()
	var pub, priv any
	if x25519 {
		k, _ := ecdh.X25519().GenerateKey(rand.Reader)
		pub, priv = k.PublicKey(), k
	} else {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pub, priv = &k.PublicKey, k
	}
	pd, _ := x509.MarshalPKIXPublicKey(pub)
	sd, _ := x509.MarshalPKCS8PrivateKey(priv)
	p := writeFile(t, dir, name+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pd}))
	k, err := cas.ParseRecoveryPrivateKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: sd}))
	if err != nil {
		t.Fatal(err)
	}
	return p, k
}

// TestRecoverSealedState: a sealed CAS started with three owners' recovery
// keys (threshold 2) writes recovery data; another CAS enclave (another
// MRENCLAVE and sealing key) cannot open the state and starts in recovery
// mode; two owners, each attesting that enclave, hand it their shares; it
// then serves the state with the same CAS ID and policies, sealed to
// itself, also after a restart. The first enclave now finds a state it
// cannot open and waits for a recovery itself.
func TestRecoverSealedState(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	a, b := newFakeEnclave(t, 0xa1), newFakeEnclave(t, 0xb2)
	var pubs []string
	var privs []*cas.RecoveryPrivateKey
	for i, x := range []bool{false, true, false} {
		p, k := recoveryOwner(t, dir, "owner"+string(rune('1'+i)), x)
		pubs, privs = append(pubs, p), append(privs, k)
	}
	recArgs := []string{"--state", state, "--store-key", "sealed", "--recovery-key", pubs[0], "--recovery-key", pubs[1], "--recovery-key", pubs[2], "--recovery-threshold", "2"}

	r := serveIn(t, a, recArgs...)
	id, _ := identify(t, r, a)
	c, _ := cas.NewClient(r.addr, cas.WithPin(id))
	owner, doc := ownerPolicy(t, "web")
	res, err := c.Apply(context.Background(), "web", doc, owner)
	if err != nil {
		t.Fatal(err)
	}
	r.stop(t)
	if !strings.Contains(r.stderr.String(), "wrote recovery data") {
		t.Fatalf("no recovery data written:\n%s", r.stderr)
	}
	rec, err := os.ReadFile(filepath.Join(state, cas.RecoveryFileName))
	if err != nil {
		t.Fatal(err)
	}
	if r = serveIn(t, a, recArgs...); strings.Contains(r.stop2(t), "wrote recovery data") {
		t.Error("a restart with the same owners rewrote the recovery data")
	}

	// another enclave: recovery mode
	r = serveIn(t, b, "--state", state, "--store-key", "sealed")
	rc, _ := cas.NewClient(r.addr)
	verifyB := func(q *attest.Quote) (*attest.Result, error) { return attest.VerifySimulation(q, &b.key.PublicKey) }
	verifyA := func(q *attest.Quote) (*attest.Result, error) { return attest.VerifySimulation(q, &a.key.PublicKey) }
	if _, _, err := rc.Recover(context.Background(), privs[0], id.String(), verifyA); err == nil {
		t.Fatal("an owner handed a share to an enclave whose quote another simulation key signed")
	}
	st, _, err := rc.Recover(context.Background(), privs[0], id.String(), verifyB)
	if err != nil || st.Recovered || st.Shares != 1 {
		t.Fatalf("first owner: %+v %v\n%s", st, err, r.stderr)
	}
	if st, _, err = rc.Recover(context.Background(), privs[2], id.String(), verifyB); err != nil || !st.Recovered {
		t.Fatalf("second owner: %+v %v\n%s", st, err, r.stderr)
	}
	readPolicy := func(r *running, e *fakeEnclave) {
		t.Helper()
		again, _ := identifyEventually(t, r, e)
		c, _ := cas.NewClient(r.addr, cas.WithPin(id))
		rd, err := c.Read(context.Background(), "web", owner)
		if again != id || err != nil || rd.Hash != res.Hash {
			t.Fatalf("CAS ID %s (was %s), read %v %+v\n%s", again, id, err, rd, r.stderr)
		}
	}
	readPolicy(r, b)
	r.stop(t)
	logs := r.stderr.String()
	for _, want := range []string{"RECOVERY MODE", "recovery: share accepted", "recovered: the state is sealed to this enclave now"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if _, err := os.Stat(filepath.Join(state, sealedStoreKeyFile)); err != nil {
		t.Errorf("no sealed store key after the recovery: %v", err)
	}
	if now, _ := os.ReadFile(filepath.Join(state, cas.RecoveryFileName)); !bytes.Equal(now, rec) {
		t.Error("the recovery changed the recovery data")
	}
	// a restart in the new enclave opens the state directly
	r = serveIn(t, b, "--state", state, "--store-key", "sealed")
	readPolicy(r, b)
	if logs := r.stop2(t); strings.Contains(logs, "RECOVERY MODE") {
		t.Errorf("the recovered enclave started in recovery mode again:\n%s", logs)
	}
	// the former enclave cannot open what is sealed to the new one
	r = serveIn(t, a, "--state", state, "--store-key", "sealed")
	if logs := r.stop2(t); !strings.Contains(logs, "RECOVERY MODE") || !strings.Contains(logs, "stopped in recovery mode") {
		t.Errorf("the former enclave did not wait for a recovery:\n%s", logs)
	}
}

// stop2 stops r and returns its log.
func (r *running) stop2(t *testing.T) string {
	t.Helper()
	r.stop(t)
	return r.stderr.String()
}

// identifyEventually is identify, retried while the CAS moves from the
// recovery to serving on the same address.
func identifyEventually(t *testing.T, r *running, e *fakeEnclave) (cas.ID, *cas.IDResponse) {
	t.Helper()
	var last error
	for i := 0; i < 100; i++ {
		c, _ := cas.NewClient(r.addr)
		_, info, err := c.Identify(context.Background())
		if err == nil && info.Recovering == "" {
			return identify(t, r, e)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the CAS does not serve after the recovery: %v\n%s", last, r.stderr)
	return cas.ID{}, nil
}

// TestRecoveryFlags: recovery keys only protect a sealed state, the
// threshold fits the owners, and a recovery key file must be one.
func TestRecoveryFlags(t *testing.T) {
	dir := t.TempDir()
	p, _ := recoveryOwner(t, dir, "o", false)
	key := writeFile(t, dir, "store.key", bytes.Repeat([]byte{1}, 32))
	notKey := writeFile(t, dir, "nokey.pem", []byte("not a key"))
	e := newFakeEnclave(t, 0xc3)
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"with a store key file", []string{"--store-key-file", key, "--recovery-key", p}, 2, "protect a sealed state"},
		{"threshold above the owners", []string{"--store-key", "sealed", "--recovery-key", p, "--recovery-threshold", "2"}, 2, "want 1 to 1"},
		{"threshold without keys", []string{"--store-key", "sealed", "--recovery-threshold", "1"}, 2, "without --recovery-key"},
		{"not a key", []string{"--store-key", "sealed", "--recovery-key", notKey}, 5, "recovery key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stderr := runIn(e, append([]string{"serve", "--listen", "127.0.0.1:0", "--state", filepath.Join(dir, "s-"+strings.ReplaceAll(c.name, " ", "-"))}, c.args...)...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, c.code, c.want, stderr)
			}
		})
	}
}
