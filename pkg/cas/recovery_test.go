package cas

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateRecovery = flag.Bool("update-recovery", false, "rewrite testdata/cas/recovery")

// ownerKey makes a recovery key pair of kind "p256" or "x25519" as PEM.
func ownerKey(t *testing.T, kind string) (pubPEM, privPEM []byte) {
	t.Helper()
	var pub, priv any
	switch kind {
	case "p256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, priv = &k.PublicKey, k
	case "x25519":
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, priv = k.PublicKey(), k
	}
	pd, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pd}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: sd})
}

func testState(t *testing.T) *RecoveredState {
	t.Helper()
	id, err := GenerateIdentityKey()
	if err != nil {
		t.Fatal(err)
	}
	sk := make([]byte, 32)
	rand.Read(sk)
	return &RecoveredState{StoreKey: sk, Identity: id}
}

// TestRecovery: threshold 2 of 3 owners (P-256 and X25519 keys): each
// owner opens only its own share; every 2 shares recover the state, one
// does not; a wrong or modified share is told apart; modified recovery
// data does not open.
func TestRecovery(t *testing.T) {
	st := testState(t)
	var pubs []*RecoveryPublicKey
	var privs []*RecoveryPrivateKey
	for _, kind := range []string{"p256", "x25519", "p256"} {
		pp, sp := ownerKey(t, kind)
		pub, err := ParseRecoveryPublicKey(pp)
		if err != nil {
			t.Fatal(err)
		}
		priv, err := ParseRecoveryPrivateKey(sp)
		if err != nil {
			t.Fatal(err)
		}
		if pub.ID != priv.ID {
			t.Fatalf("%s: public and private key IDs differ", kind)
		}
		pubs, privs = append(pubs, pub), append(privs, priv)
	}
	f, err := NewRecoveryFile(st, pubs, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, st.StoreKey) || bytes.Contains(b, []byte(hex.EncodeToString(st.StoreKey))) {
		t.Fatal("the recovery file holds the store key in clear")
	}
	f, err = ParseRecoveryFile(b)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := KeyID(&st.Identity.PublicKey)
	if !f.For(pubs, 2, id) || f.For(pubs[:2], 2, id) || f.For(pubs, 1, id) {
		t.Error("For does not tell the recipients and threshold")
	}
	shares := make([][]byte, 3)
	for i, p := range privs {
		if shares[i], err = f.OpenShare(p); err != nil {
			t.Fatalf("owner %d: %v", i, err)
		}
	}
	for _, pick := range [][]int{{0, 1}, {1, 2}, {0, 2}, {0, 1, 2}} {
		var sh [][]byte
		for _, i := range pick {
			sh = append(sh, shares[i])
		}
		got, err := f.Recover(sh)
		if err != nil {
			t.Fatalf("shares %v: %v", pick, err)
		}
		if !bytes.Equal(got.StoreKey, st.StoreKey) || !got.Identity.Equal(st.Identity) {
			t.Fatalf("shares %v: another state", pick)
		}
	}
	if _, err := f.Recover(shares[:1]); !errors.Is(err, ErrRecovery) {
		t.Errorf("one share of 2: %v", err)
	}
	bad := bytes.Clone(shares[1])
	bad[5] ^= 1
	if err := f.CheckShare(bad); !errors.Is(err, ErrRecovery) {
		t.Errorf("a modified share passes the check: %v", err)
	}
	if _, err := f.OpenShare(mustPriv(t, "x25519")); !errors.Is(err, ErrRecovery) || !strings.Contains(err.Error(), "no share") {
		t.Errorf("a stranger's key: %v", err)
	}
	// someone swaps two owners' encrypted shares: they do not decrypt
	g := *f
	g.Shares = append([]RecoveryShare{}, f.Shares...)
	g.Shares[0].Encrypted, g.Shares[2].Encrypted = f.Shares[2].Encrypted, f.Shares[0].Encrypted
	if _, err := g.OpenShare(privs[0]); !errors.Is(err, ErrRecovery) {
		t.Errorf("a share encrypted to another owner opens: %v", err)
	}
	// modified sealed state
	g = *f
	g.Sealed = bytes.Clone(f.Sealed)
	g.Sealed[3] ^= 1
	if _, err := g.Recover(shares[:2]); !errors.Is(err, ErrRecovery) {
		t.Errorf("modified sealed state: %v", err)
	}
	// another CAS ID in the file: the shares' HPKE info and the AAD differ
	g = *f
	g.CASID = strings.Repeat("ab", 32)
	if _, err := g.OpenShare(privs[0]); !errors.Is(err, ErrRecovery) {
		t.Errorf("a share under another CAS ID opens: %v", err)
	}
}

func mustPriv(t *testing.T, kind string) *RecoveryPrivateKey {
	_, sp := ownerKey(t, kind)
	p, err := ParseRecoveryPrivateKey(sp)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRecoveryRefusals(t *testing.T) {
	st := testState(t)
	pp, _ := ownerKey(t, "p256")
	pub, _ := ParseRecoveryPublicKey(pp)
	if _, err := NewRecoveryFile(st, []*RecoveryPublicKey{pub}, 2); !errors.Is(err, ErrRecovery) {
		t.Errorf("threshold 2 of 1: %v", err)
	}
	if _, err := NewRecoveryFile(st, []*RecoveryPublicKey{pub, pub}, 1); !errors.Is(err, ErrRecovery) {
		t.Errorf("one key twice: %v", err)
	}
	ed := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustHex("302a300506032b6570032100d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")})
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	d384, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	for name, b := range map[string][]byte{
		"not PEM":      []byte("hello"),
		"private type": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}),
		"ed25519":      ed,
		"P-384":        pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: d384}),
	} {
		if _, err := ParseRecoveryPublicKey(b); !errors.Is(err, ErrRecovery) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, b := range map[string]string{
		"not JSON":        "{",
		"unknown field":   `{"version":1,"extra":1}`,
		"version 2":       `{"version":2}`,
		"bad cas_id":      `{"version":1,"cas_id":"xy","threshold":1,"sealed":"","shares":[]}`,
		"no shares":       `{"version":1,"cas_id":"` + strings.Repeat("ab", 32) + `","threshold":1,"sealed":"` + strings.Repeat("A", 64) + `","shares":[]}`,
		"threshold above": `{"version":1,"cas_id":"` + strings.Repeat("ab", 32) + `","threshold":2,"sealed":"` + strings.Repeat("A", 64) + `","shares":[{"key":"` + strings.Repeat("cd", 32) + `","encrypted":"","check":"` + strings.Repeat("ef", 32) + `"}]}`,
	} {
		if _, err := ParseRecoveryFile([]byte(b)); !errors.Is(err, ErrRecovery) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestRecoveryVector: a recovery file written once (testdata/cas/recovery,
// -update-recovery makes a new one) still opens with its owners' keys to
// the recorded store key and CAS ID: the format does not drift.
func TestRecoveryVector(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "cas", "recovery")
	if *updateRecovery {
		st := testState(t)
		os.MkdirAll(dir, 0o755)
		var pubs []*RecoveryPublicKey
		for i, kind := range []string{"p256", "x25519", "p256"} {
			pp, sp := ownerKey(t, kind)
			os.WriteFile(filepath.Join(dir, "owner"+string(rune('1'+i))+".pem"), sp, 0o644)
			p, _ := ParseRecoveryPublicKey(pp)
			pubs = append(pubs, p)
		}
		f, err := NewRecoveryFile(st, pubs, 2)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := f.Marshal()
		os.WriteFile(filepath.Join(dir, RecoveryFileName), b, 0o644)
		os.WriteFile(filepath.Join(dir, "expected.txt"), []byte("store_key: "+hex.EncodeToString(st.StoreKey)+"\ncas_id: "+f.CASID+"\n"), 0o644)
	}
	b, err := os.ReadFile(filepath.Join(dir, RecoveryFileName))
	if err != nil {
		t.Fatalf("%v (go test ./pkg/cas -run TestRecoveryVector -update-recovery writes it)", err)
	}
	f, err := ParseRecoveryFile(b)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "expected.txt"))
	var shares [][]byte
	for _, o := range []string{"owner1.pem", "owner2.pem"} {
		sp, err := os.ReadFile(filepath.Join(dir, o))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseRecoveryPrivateKey(sp)
		if err != nil {
			t.Fatal(err)
		}
		s, err := f.OpenShare(p)
		if err != nil {
			t.Fatalf("%s: %v", o, err)
		}
		shares = append(shares, s)
	}
	st, err := f.Recover(shares)
	if err != nil {
		t.Fatal(err)
	}
	got := "store_key: " + hex.EncodeToString(st.StoreKey) + "\ncas_id: " + f.CASID + "\n"
	if got != string(want) {
		t.Fatalf("recovered\n%s\nthe vector says\n%s", got, want)
	}
}
