package cas

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/casproto"
	"github.com/scone-build/scone-build/pkg/policy"
)

// syncBuffer is an audit log the test reads while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testCAS is a CAS behind a real TLS listener (httptest), with an owner
// client pinned to it and an HTTP client for the enclave protocol.
type testCAS struct {
	srv    *Server
	ts     *httptest.Server
	owner  *Client
	http   *http.Client
	audit  *syncBuffer
	logs   *syncBuffer
	simKey *ecdsa.PrivateKey
}

func genP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newTestCAS starts a CAS that accepts simulation quotes of its simKey.
func newTestCAS(t testing.TB, opts ...Option) *testCAS {
	t.Helper()
	tc := &testCAS{audit: &syncBuffer{}, logs: &syncBuffer{}, simKey: genP256(t)}
	base := []Option{WithSimulationKeys(&tc.simKey.PublicKey), WithAuditLog(tc.audit), WithLogger(newTestLogger(tc.logs))}
	srv, err := New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	tc.srv = srv
	tc.ts = httptest.NewUnstartedServer(srv.Handler())
	tc.ts.TLS = srv.TLSConfig()
	tc.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	tc.ts.StartTLS()
	t.Cleanup(tc.ts.Close)
	addr := strings.TrimPrefix(tc.ts.URL, "https://")
	if tc.owner, err = NewClient(addr, WithPin(srv.ID())); err != nil {
		t.Fatal(err)
	}
	tc.http = tc.owner.hc // pinned to the CAS ID, as the runtime is
	return tc
}

func (tc *testCAS) addr() string { return strings.TrimPrefix(tc.ts.URL, "https://") }

// enclave is a simulated enclave: a report body and the simulation key
// that signs its quotes.
type enclave struct {
	body   attest.ReportBody
	simKey *ecdsa.PrivateKey
	// reportData, when set, replaces the REPORTDATA the protocol wants.
	reportData []byte
}

var (
	testMRENCLAVE = [32]byte{0x33, 0xd8, 0x73, 0x6d}
	testMRSIGNER  = [32]byte{0x81, 0x5f, 0x42}
)

func (tc *testCAS) enclave() *enclave {
	e := &enclave{simKey: tc.simKey}
	e.body.MRENCLAVE = testMRENCLAVE
	e.body.MRSIGNER = testMRSIGNER
	e.body.ISVProdID, e.body.ISVSVN = 7, 2
	e.body.Attributes.Flags = attest.FlagInit | attest.FlagMode64Bit
	return e
}

func (tc *testCAS) post(t testing.TB, path string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := tc.http.Post(tc.ts.URL+path, casproto.ContentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (tc *testCAS) challenge(t testing.TB) [32]byte {
	t.Helper()
	st, b := tc.post(t, casproto.PathChallenge, nil)
	if st != 200 || len(b) != 32 {
		t.Fatalf("challenge: %d %q", st, b)
	}
	return [32]byte(b)
}

// request makes an attest request for policy with a fresh session key.
func (e *enclave) request(t testing.TB, policyName string, nonce [32]byte) (*casproto.AttestRequest, *ecdh.PrivateKey) {
	t.Helper()
	session, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sk := [65]byte(session.PublicKey().Bytes())
	rd := casproto.ReportData(nonce, sk)
	data := rd[:]
	if e.reportData != nil {
		data = e.reportData
	}
	q, err := attest.NewSimulationQuote(e.body, data, e.simKey)
	if err != nil {
		t.Fatal(err)
	}
	return &casproto.AttestRequest{Policy: policyName, Nonce: nonce, SessionKey: sk, Quote: q, Client: "test enclave"}, session
}

// send posts an attest request and decodes the response.
func (tc *testCAS) send(t testing.TB, req *casproto.AttestRequest) *casproto.AttestResponse {
	t.Helper()
	b, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	st, body := tc.post(t, casproto.PathAttest, b)
	if st != 200 {
		t.Fatalf("attest: HTTP %d: %s", st, body)
	}
	resp, err := casproto.ParseAttestResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// attest runs challenge and attest; on release it opens the secrets.
func (tc *testCAS) attest(t testing.TB, e *enclave, policyName string) (*casproto.AttestResponse, *casproto.Secrets) {
	t.Helper()
	req, session := e.request(t, policyName, tc.challenge(t))
	resp := tc.send(t, req)
	if resp.Status != casproto.StatusReleased {
		return resp, nil
	}
	eph, err := resp.EphemeralKey()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := casproto.Open(session, eph, req.Nonce, resp.PolicyHash, resp.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	m, err := casproto.ParseSecrets(plain)
	if err != nil {
		t.Fatal(err)
	}
	return resp, m
}

func ownerPEM(t testing.TB, k crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func genEd25519(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// policyDoc is a policy of owner: name, previous, and the rest of the
// YAML (accept, secrets, grants; enclaves default to the test enclave).
func policyDoc(t testing.TB, owner crypto.Signer, name, previous, rest string) []byte {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nname: %s\nowner: |\n", name)
	for _, l := range strings.Split(strings.TrimSpace(ownerPEM(t, owner)), "\n") {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	if previous != "" {
		fmt.Fprintf(&b, "previous: %s\n", previous)
	}
	if !strings.Contains(rest, "enclaves:") {
		fmt.Fprintf(&b, "enclaves:\n  - mrenclave: [%s]\n", hex.EncodeToString(testMRENCLAVE[:]))
	}
	b.WriteString(strings.TrimLeft(rest, "\n"))
	return []byte(b.String())
}

func (tc *testCAS) apply(t testing.TB, owner crypto.Signer, doc []byte) string {
	t.Helper()
	name := docName(doc)
	res, err := tc.owner.Apply(context.Background(), name, doc, owner)
	if err != nil {
		t.Fatalf("apply %s: %v", name, err)
	}
	return res.Hash
}

func docName(doc []byte) string {
	for _, l := range strings.Split(string(doc), "\n") {
		if n, ok := strings.CutPrefix(l, "name: "); ok {
			return n
		}
	}
	return ""
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func sign(t testing.TB, key crypto.Signer, doc []byte) []byte {
	t.Helper()
	sig, err := policy.Sign(key, policy.PurposeApply, doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}
