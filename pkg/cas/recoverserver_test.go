package cas

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/attest"
)

// TestRecoveryServer: a recovering CAS takes shares only from owners who
// verified its quote; it tells how many it has, ignores a share twice,
// refuses a stranger, and returns the state at the threshold. A quote that
// binds another TLS key or CAS ID, or a CAS that is not recovering, is
// refused by the owner's client before any share leaves it.
func TestRecoveryServer(t *testing.T) {
	st := testState(t)
	var pubs []*RecoveryPublicKey
	var privs []*RecoveryPrivateKey
	for _, kind := range []string{"p256", "x25519", "p256"} {
		pp, sp := ownerKey(t, kind)
		pub, _ := ParseRecoveryPublicKey(pp)
		priv, _ := ParseRecoveryPrivateKey(sp)
		pubs, privs = append(pubs, pub), append(privs, priv)
	}
	f, err := NewRecoveryFile(st, pubs, 2)
	if err != nil {
		t.Fatal(err)
	}
	plat := &simPlatform{key: genP256(t), seal: bytes.Repeat([]byte{0x77}, 16)}
	plat.body.MRENCLAVE = [32]byte{0x42}
	verify := func(q *attest.Quote) (*attest.Result, error) { return attest.VerifySimulation(q, &plat.key.PublicKey) }
	rs, err := NewRecoveryServer(f, plat, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		st  *RecoveredState
		err error
	}
	done := make(chan result, 1)
	go func() { s, err := rs.Serve(context.Background(), ln); done <- result{s, err} }()
	c, _ := NewClient(ln.Addr().String())
	ctx := context.Background()

	status, res, err := c.Recover(ctx, privs[0], f.CASID, verify)
	if err != nil || status.Shares != 1 || status.Recovered || res.Enclave.MRENCLAVE != plat.body.MRENCLAVE {
		t.Fatalf("first owner: %+v %v", status, err)
	}
	if status, _, err = c.Recover(ctx, privs[0], "", verify); err != nil || status.Shares != 1 {
		t.Fatalf("the same owner again: %+v %v", status, err)
	}
	if _, _, err := c.Recover(ctx, mustPriv(t, "p256"), "", verify); !errors.Is(err, ErrRecovery) {
		t.Fatalf("a stranger: %v", err)
	}
	if _, _, err := c.Recover(ctx, privs[1], strings.Repeat("ab", 32), verify); !errors.Is(err, ErrNotRecovering) {
		t.Fatalf("another CAS ID expected: %v", err)
	}
	other := &simPlatform{key: genP256(t)}
	if _, _, err := c.Recover(ctx, privs[1], "", func(q *attest.Quote) (*attest.Result, error) { return attest.VerifySimulation(q, &other.key.PublicKey) }); !errors.Is(err, ErrSelfAttestation) {
		t.Fatalf("a quote of another simulation key: %v", err)
	}
	status, _, err = c.Recover(ctx, privs[2], "", verify)
	if err != nil || !status.Recovered || status.Shares != 2 {
		t.Fatalf("second owner: %+v %v", status, err)
	}
	r := <-done
	if r.err != nil || !bytes.Equal(r.st.StoreKey, st.StoreKey) || !r.st.Identity.Equal(st.Identity) {
		t.Fatalf("recovered %v: another state", r.err)
	}

	// a quote that binds another key (relayed), and a server that does not recover
	q, _ := plat.Quote(RecoveryReportData(ID{1}, f.CASID))
	if _, err := VerifyRecoveryQuote(q, rs.ID(), f.CASID, verify); !errors.Is(err, ErrSelfAttestation) {
		t.Errorf("a quote of another TLS key: %v", err)
	}
	tc := newTestCAS(t)
	nc, _ := NewClient(tc.addr())
	if _, _, err := nc.Recover(ctx, privs[0], "", verify); !errors.Is(err, ErrNotRecovering) {
		t.Errorf("a CAS that is not recovering: %v", err)
	}
}
