package cas

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/scone-build/scone-build/pkg/casproto"
	"github.com/scone-build/scone-build/pkg/policy"
)

func wantAPI(t *testing.T, err error, status int, substr string) {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != status || !strings.Contains(ae.Message, substr) {
		t.Fatalf("error %v, want HTTP %d with %q", err, status, substr)
	}
	if ae.Fix == "" && status < 500 {
		t.Errorf("no fix for %v", err)
	}
}

// TestOwnerAPI: apply, replace, read, list, export, delete, each refused
// without the owner's signature or for another version.
func TestOwnerAPI(t *testing.T) {
	ctx := context.Background()
	tc := newTestCAS(t)
	alice, bob := genEd25519(t), genP256(t)
	c := tc.owner
	v1 := policyDoc(t, alice, "app", "", "accept: {simulation: true}\nsecrets:\n  k: {kind: random, size: 32, export: true}\n  hidden: {kind: random, size: 32}\n  tls: {kind: x509, x509: {common_name: app}, export: true}\n  pw: {kind: value, value: pw-value}\ngrants: {fs_key: k}\n")
	h1 := tc.apply(t, alice, v1)

	t.Run("create signed by another key", func(t *testing.T) {
		doc := policyDoc(t, alice, "other", "", "")
		_, err := c.Apply(ctx, "other", doc, bob)
		wantAPI(t, err, 403, "a new policy must be signed by the owner it names")
	})
	t.Run("create twice", func(t *testing.T) {
		doc := policyDoc(t, alice, "app", "", "accept: {debug: true}\n")
		_, err := c.Apply(ctx, "app", doc, alice)
		wantAPI(t, err, 409, "exists")
	})
	t.Run("name differs from the URL", func(t *testing.T) {
		_, err := c.Apply(ctx, "zzz", v1, alice)
		wantAPI(t, err, 400, `names policy "app"`)
	})
	t.Run("invalid policy", func(t *testing.T) {
		doc := []byte("version: 1\nname: bad\nbogus: 1\n")
		_, err := c.Apply(ctx, "bad", doc, alice)
		wantAPI(t, err, 400, "bogus")
	})
	t.Run("read by another key", func(t *testing.T) {
		_, err := c.Read(ctx, "app", bob)
		wantAPI(t, err, 403, "not signed by the policy's owner key")
	})
	t.Run("read unknown", func(t *testing.T) {
		_, err := c.Read(ctx, "nope", alice)
		wantAPI(t, err, 404, "not found")
	})
	t.Run("export only export: true", func(t *testing.T) {
		ex, err := c.Export(ctx, "app", h1, alice)
		if err != nil {
			t.Fatal(err)
		}
		if len(ex.Secrets) != 2 || len(ex.Secrets["k"]) != 32 || ex.Secrets["hidden"] != nil || ex.Secrets["pw"] != nil {
			t.Fatalf("exported %v", keys(ex.Secrets))
		}
		blk, rest := pem.Decode(ex.Secrets["tls"])
		cert, _ := pem.Decode(rest)
		if blk == nil || blk.Type != "PRIVATE KEY" || cert == nil || cert.Type != "CERTIFICATE" {
			t.Fatalf("x509 export: %q", ex.Secrets["tls"])
		}
		_, m := tc.attest(t, tc.enclave(), "app")
		if !bytes.Equal(m.FSKey, ex.Secrets["k"]) {
			t.Error("the exported secret is not the one enclaves receive")
		}
	})
	t.Run("export another version", func(t *testing.T) {
		_, err := c.Export(ctx, "app", strings.Repeat("0", 64), alice)
		wantAPI(t, err, 409, "the current version")
	})
	t.Run("export by another key", func(t *testing.T) {
		_, err := c.Export(ctx, "app", h1, bob)
		wantAPI(t, err, 403, "not signed")
	})

	// A replacement, then a rollback attempt.
	v2 := policyDoc(t, alice, "app", h1, "accept: {simulation: true}\nsecrets:\n  k: {kind: random, size: 32, export: true}\ngrants: {fs_key: k}\n")
	t.Run("replace signed by the new owner only", func(t *testing.T) {
		doc := policyDoc(t, bob, "app", h1, "")
		_, err := c.Apply(ctx, "app", doc, bob)
		wantAPI(t, err, 403, "current version's owner")
	})
	t.Run("replace without previous", func(t *testing.T) {
		_, err := c.Apply(ctx, "app", policyDoc(t, alice, "app", "", "accept: {debug: true}\n"), alice)
		wantAPI(t, err, 409, "a replacement names it in previous")
	})
	h2 := tc.apply(t, alice, v2)
	t.Run("generated secret kept across versions", func(t *testing.T) {
		ex, err := c.Export(ctx, "app", h2, alice)
		if err != nil {
			t.Fatal(err)
		}
		_, m := tc.attest(t, tc.enclave(), "app")
		if !bytes.Equal(m.FSKey, ex.Secrets["k"]) {
			t.Error("FS key changed")
		}
	})
	t.Run("rollback to v1 (replay)", func(t *testing.T) {
		_, err := c.Apply(ctx, "app", v1, alice)
		wantAPI(t, err, 409, "applied before")
	})
	t.Run("stale previous", func(t *testing.T) {
		doc := policyDoc(t, alice, "app", h1, "accept: {debug: true}\n")
		_, err := c.Apply(ctx, "app", doc, alice)
		wantAPI(t, err, 409, "the current version of \"app\" is "+h2)
	})
	t.Run("read", func(t *testing.T) {
		rd, err := c.Read(ctx, "app", alice)
		if err != nil || rd.Hash != h2 || !bytes.Equal(rd.Policy, v2) || rd.Activations != 1 {
			t.Fatalf("%+v %v", rd, err)
		}
	})
	t.Run("list only own", func(t *testing.T) {
		tc.apply(t, bob, policyDoc(t, bob, "bobs", "", ""))
		la, err := c.List(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		lb, err := c.List(ctx, bob)
		if err != nil {
			t.Fatal(err)
		}
		if len(la.Policies) != 1 || la.Policies[0].Name != "app" || la.Policies[0].Hash != h2 || len(lb.Policies) != 1 || lb.Policies[0].Name != "bobs" {
			t.Fatalf("alice %+v, bob %+v", la, lb)
		}
	})
	t.Run("key rotation", func(t *testing.T) {
		h := tc.apply(t, bob, policyDoc(t, bob, "rot", "", ""))
		h = tc.apply(t, bob, policyDoc(t, alice, "rot", h, "")) // bob hands it to alice
		if _, err := c.Apply(ctx, "rot", policyDoc(t, bob, "rot", h, "accept: {debug: true}\n"), bob); err == nil {
			t.Fatal("the old owner still applies")
		}
		tc.apply(t, alice, policyDoc(t, alice, "rot", h, "accept: {debug: true}\n"))
	})
	t.Run("delete", func(t *testing.T) {
		err := c.Delete(ctx, "app", h1, alice)
		wantAPI(t, err, 409, "the current version")
		err = c.Delete(ctx, "app", h2, bob)
		wantAPI(t, err, 403, "not signed")
		if err := c.Delete(ctx, "app", h2, alice); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(ctx, "app", alice); !errors.Is(err, ErrNotFound) {
			t.Fatalf("read after delete: %v", err)
		}
		if r, _ := tc.attest(t, tc.enclave(), "app"); r.Status != casproto.StatusRefused {
			t.Fatal("a deleted policy released")
		}
		// No version ever comes back, even after a delete.
		_, err = c.Apply(ctx, "app", v1, alice)
		wantAPI(t, err, 409, "applied before")
		tc.apply(t, alice, policyDoc(t, alice, "app", "", "accept: {simulation: true}\n"))
	})
	t.Run("reused nonce", func(t *testing.T) {
		n, _ := c.Nonce(ctx)
		sig, _ := policy.Sign(alice, policy.PurposeRead, ReadData("app", n), nil)
		var rr ReadResponse
		if err := c.do(ctx, http.MethodPost, "/v1/policies/app/read", ReadRequest{Nonce: n, Signature: sig}, &rr); err != nil {
			t.Fatal(err)
		}
		err := c.do(ctx, http.MethodPost, "/v1/policies/app/read", ReadRequest{Nonce: n, Signature: sig}, &rr)
		wantAPI(t, err, 403, "nonce unknown, expired or used")
	})
	t.Run("malformed JSON", func(t *testing.T) {
		var rr ReadResponse
		err := c.do(ctx, http.MethodPost, "/v1/policies/app/read", map[string]any{"nonce": "x", "extra": 1}, &rr)
		wantAPI(t, err, 400, "unknown field")
	})
	t.Run("list with a signature for another key", func(t *testing.T) {
		n, _ := c.Nonce(ctx)
		oid, _ := OwnerID(alice.Public())
		sig, _ := policy.Sign(bob, policy.PurposeList, ListData(oid, n), nil)
		var lr ListResponse
		err := c.do(ctx, http.MethodPost, "/v1/policies/list", ListRequest{Owner: ownerPEM(t, alice), Nonce: n, Signature: sig}, &lr)
		wantAPI(t, err, 403, "not signed")
	})
	audit := tc.audit.String()
	for _, want := range []string{`"event":"apply"`, `"event":"delete"`, `"event":"export"`, `"secrets":["k","tls"]`, `"outcome":"denied"`, `"event":"list"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit log has no %s", want)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestRacingUpdates: of concurrent replacements of one version, exactly
// one wins; the others are told the current version changed.
func TestRacingUpdates(t *testing.T) {
	for _, store := range storeKinds {
		t.Run(store.name, func(t *testing.T) {
			tc := newTestCAS(t, WithStore(store.open(t)))
			owner := genP256(t)
			h1 := tc.apply(t, owner, policyDoc(t, owner, "race", "", ""))
			const n = 8
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					doc := policyDoc(t, owner, "race", h1, fmt.Sprintf("accept: {max_activations: %d}\n", i+1))
					_, errs[i] = tc.owner.Apply(context.Background(), "race", doc, owner)
				}()
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, ErrConflict):
					t.Errorf("a loser got %v, want a conflict", err)
				}
			}
			if wins != 1 {
				t.Fatalf("%d replacements won", wins)
			}
		})
	}
}

// TestOwnerKeys: ParseOwnerKey reads PKCS #8 Ed25519 and ECDSA keys and
// refuses public keys and other curves.
func TestOwnerKeys(t *testing.T) {
	ed := genEd25519(t)
	ec := genP256(t)
	for _, k := range []crypto.Signer{ed, ec} {
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		got, err := ParseOwnerKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		if err != nil || !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
			t.Errorf("%T: %v", k, err)
		}
	}
	for _, b := range [][]byte{[]byte("nope"), []byte(ownerPEM(t, ed))} {
		if _, err := ParseOwnerKey(b); !errors.Is(err, ErrOwnerKey) {
			t.Errorf("%q: %v", b[:10], err)
		}
	}
}

// TestOddNames: names that are not policy names reach the owner API as
// one path segment and are answered as unknown policies.
func TestOddNames(t *testing.T) {
	tc := newTestCAS(t)
	owner := genEd25519(t)
	for _, name := range []string{"a/b", "../x", "A", "x?y=1", "%2f"} {
		_, err := tc.owner.Read(context.Background(), name, owner)
		wantAPI(t, err, 404, "not found")
	}
}
