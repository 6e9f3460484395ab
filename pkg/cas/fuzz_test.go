package cas

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/scone-build/scone-build/pkg/casproto"
)

// FuzzAttestHandler: no body makes the enclave protocol panic or answer
// 5xx; a 200 carries an attest response that decodes.
func FuzzAttestHandler(f *testing.F) {
	tc := newTestCAS(f)
	owner := genEd25519(f)
	tc.apply(f, owner, policyDoc(f, owner, "web", "", "accept: {simulation: true}\n"))
	req, _ := tc.enclave().request(f, "web", tc.challenge(f))
	good, _ := req.MarshalBinary()
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte("SCAS\x01\x00\x01\x00"))
	h := tc.srv.Handler()
	f.Fuzz(func(t *testing.T, b []byte) {
		r := httptest.NewRequest(http.MethodPost, casproto.PathAttest, bytes.NewReader(b))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200:
			if _, err := casproto.ParseAttestResponse(w.Body.Bytes()); err != nil {
				t.Fatalf("200 with a bad response: %v", err)
			}
		case 400, 413:
		default:
			t.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
	})
}

// FuzzApply: no policy document makes Apply panic; one that is refused
// is refused as invalid, unsigned or conflicting, never as a server error.
func FuzzApply(f *testing.F) {
	owner := genEd25519(f)
	f.Add(policyDoc(f, owner, "web", "", fullGrants))
	f.Add(policyDoc(f, owner, "web", "", "accept: {simulation: true}\n"))
	f.Add([]byte("version: 1\nname: x\n"))
	f.Add([]byte("{{{"))
	srv, err := New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		name := docName(doc)
		_, _, err := srv.Apply(context.Background(), name, doc, sign(t, owner, doc))
		if err != nil {
			w := httptest.NewRecorder()
			srv.ownerError(w, name, err)
			if w.Code >= 500 {
				t.Fatalf("HTTP %d for %v", w.Code, err)
			}
		}
	})
}

// FuzzRecoveryFile: recovery data and recovery keys from the state
// directory or an owner never panic the parsers, and what parses either
// opens with the owner's key or fails with ErrRecovery.
func FuzzRecoveryFile(f *testing.F) {
	dir := filepath.Join("..", "..", "testdata", "cas", "recovery")
	b, err := os.ReadFile(filepath.Join(dir, RecoveryFileName))
	if err != nil {
		f.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(dir, "owner1.pem"))
	if err != nil {
		f.Fatal(err)
	}
	priv, err := ParseRecoveryPrivateKey(key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(key)
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseRecoveryPublicKey(data)
		ParseRecoveryPrivateKey(data)
		rf, err := ParseRecoveryFile(data)
		if err != nil {
			if !errors.Is(err, ErrRecovery) {
				t.Fatalf("not ErrRecovery: %v", err)
			}
			return
		}
		if share, err := rf.OpenShare(priv); err == nil {
			rf.Recover([][]byte{share})
		} else if !errors.Is(err, ErrRecovery) {
			t.Fatalf("OpenShare: not ErrRecovery: %v", err)
		}
	})
}
