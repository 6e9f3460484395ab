package cas

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/casproto"
)

// fullGrants uses every kind of secret and grant.
const fullGrants = `accept:
  simulation: true
secrets:
  fs_key: {kind: random, size: 32}
  data_key: {kind: random, size: 32}
  token: {kind: random, size: 16}
  db_password: {kind: value, value: "s3cr$t-pw"}
  api_token: {kind: value, encoding: base64, value: "AAECAw=="}
  tls: {kind: x509, x509: {common_name: web.example, dns_names: [web.example], ip_addresses: [10.0.0.1], validity_days: 90}}
grants:
  fs_key: fs_key
  volume_keys: {/var/lib/data: data_key}
  env:
    DB_PASSWORD: "${db_password}"
    API_TOKEN: "${api_token:hex}"
    TOKEN: "${token:base64}"
    PRICE: "$$5"
  args: ["--config", "/etc/app/app.conf", ""]
  files:
    /etc/app/app.conf: {content: "password = ${db_password}\ntoken = ${token:hex}\n"}
    /etc/tls/key.pem: {content: "${tls:key}", mode: 0400}
    /etc/tls/cert.pem: {content: "${tls:cert}${tls:ca}", mode: 0444}
    /etc/raw.bin: {content: "${token}"}
`

// TestAttestEndToEnd: a simulated enclave attests with a simulation quote
// binding the nonce and its session key, opens the sealed secrets, and
// finds every grant rendered; a second activation gets the same generated
// secrets; the read API counts both.
func TestAttestEndToEnd(t *testing.T) {
	tc := newTestCAS(t)
	owner := genEd25519(t)
	doc := policyDoc(t, owner, "web-prod", "", fullGrants)
	hash := tc.apply(t, owner, doc)
	e := tc.enclave()
	resp, m := tc.attest(t, e, "web-prod")
	if resp.Status != casproto.StatusReleased {
		t.Fatalf("status %v: %s", resp.Status, resp.Reason)
	}
	if !resp.Simulation || hex.EncodeToString(resp.PolicyHash[:]) != hash {
		t.Errorf("simulation %v, policy hash %x, want %s", resp.Simulation, resp.PolicyHash, hash)
	}
	if len(m.FSKey) != 32 || bytes.Equal(m.FSKey, make([]byte, 32)) {
		t.Errorf("FS key %x", m.FSKey)
	}
	if len(m.VolumeKeys) != 1 || m.VolumeKeys[0].Path != "/var/lib/data" || len(m.VolumeKeys[0].Key) != 32 || bytes.Equal(m.VolumeKeys[0].Key, m.FSKey) {
		t.Errorf("volume keys %+v", m.VolumeKeys)
	}
	env := map[string]string{}
	for _, v := range m.Env {
		env[v.Name] = v.Value
	}
	token, err := base64.StdEncoding.DecodeString(env["TOKEN"])
	if err != nil || len(token) != 16 {
		t.Fatalf("TOKEN %q", env["TOKEN"])
	}
	if env["DB_PASSWORD"] != "s3cr$t-pw" || env["API_TOKEN"] != "00010203" || env["PRICE"] != "$5" || len(env) != 4 {
		t.Errorf("env %v", env)
	}
	if !m.ArgsSet || strings.Join(m.Args, "|") != "--config|/etc/app/app.conf|" {
		t.Errorf("args %v %q", m.ArgsSet, m.Args)
	}
	files := map[string]casproto.File{}
	for _, f := range m.Files {
		files[f.Path] = f
	}
	if f := files["/etc/app/app.conf"]; f.Mode != 0o400 || string(f.Content) != "password = s3cr$t-pw\ntoken = "+hex.EncodeToString(token)+"\n" {
		t.Errorf("app.conf %o %q", f.Mode, f.Content)
	}
	if f := files["/etc/raw.bin"]; !bytes.Equal(f.Content, token) {
		t.Errorf("raw.bin %x, token %x", f.Content, token)
	}
	// The certificate: issued by the policy CA (the PEM after it) to the key.
	certs := files["/etc/tls/cert.pem"]
	if certs.Mode != 0o444 {
		t.Errorf("cert.pem mode %o", certs.Mode)
	}
	leafBlk, rest := pem.Decode(certs.Content)
	caBlk, _ := pem.Decode(rest)
	if leafBlk == nil || caBlk == nil {
		t.Fatalf("cert.pem: %q", certs.Content)
	}
	leaf, err1 := x509.ParseCertificate(leafBlk.Bytes)
	ca, err2 := x509.ParseCertificate(caBlk.Bytes)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil || !ca.IsCA || leaf.Subject.CommonName != "web.example" || leaf.DNSNames[0] != "web.example" || !leaf.IPAddresses[0].Equal([]byte{10, 0, 0, 1}) {
		t.Errorf("certificate: %v, CA %v, %+v", err, ca.IsCA, leaf.Subject)
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d < 89*24*time.Hour || d > 91*24*time.Hour {
		t.Errorf("validity %v", d)
	}
	keyBlk, _ := pem.Decode(files["/etc/tls/key.pem"].Content)
	key, err := x509.ParsePKCS8PrivateKey(keyBlk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !key.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey) {
		t.Error("key.pem is not the certificate's key")
	}
	// A second activation: the same generated secrets.
	_, m2 := tc.attest(t, e, "web-prod")
	if m2 == nil || !bytes.Equal(m2.FSKey, m.FSKey) || !bytes.Equal(m2.Files[1].Content, m.Files[1].Content) {
		t.Error("the second activation got other secrets")
	}
	rd, err := tc.owner.Read(context.Background(), "web-prod", owner)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Activations != 2 || rd.Hash != hash || !bytes.Equal(rd.Policy, doc) {
		t.Errorf("read: %d activations, hash %s", rd.Activations, rd.Hash)
	}
	if !strings.Contains(tc.audit.String(), `"outcome":"released"`) {
		t.Errorf("audit log: %s", tc.audit.String())
	}
}

// TestAttestRefusals: each reason an enclave is refused, with the reason
// the CAS gives it.
func TestAttestRefusals(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	tc := newTestCAS(t, WithClock(clock.now))
	owner := genEd25519(t)
	tc.apply(t, owner, policyDoc(t, owner, "sim", "", "accept: {simulation: true}\n"))
	tc.apply(t, owner, policyDoc(t, owner, "hw-only", "", "accept: {simulation: false}\n"))
	tc.apply(t, owner, policyDoc(t, owner, "once", "", "accept: {simulation: true, max_activations: 1}\n"))
	tc.apply(t, owner, policyDoc(t, owner, "signer", "", "enclaves:\n  - {mrsigner: "+hex.EncodeToString(testMRSIGNER[:])+", isvprodid: 7, min_isvsvn: 3}\naccept: {simulation: true}\n"))
	tc.apply(t, owner, policyDoc(t, owner, "debug-ok", "", "accept: {simulation: true, debug: true}\n"))
	if r, _ := tc.attest(t, tc.enclave(), "once"); r.Status != casproto.StatusReleased {
		t.Fatalf("first activation of once: %s", r.Reason)
	}
	for _, c := range []struct {
		name, policy, want string
		edit               func(*enclave)
		req                func(*casproto.AttestRequest)
		before             func()
	}{
		{name: "MRENCLAVE not listed", policy: "sim", want: "is not one of the policy's enclaves", edit: func(e *enclave) { e.body.MRENCLAVE[0] ^= 1 }},
		{name: "ISVSVN below the minimum (rollback)", policy: "signer", want: "ISVSVN 2) is not one of the policy's enclaves"},
		{name: "simulation not accepted", policy: "hw-only", want: "does not accept simulation (accept.simulation)"},
		{name: "debug enclave", policy: "sim", want: "DEBUG enclave", edit: func(e *enclave) { e.body.Attributes.Flags |= attest.FlagDebug }},
		{name: "max_activations reached", policy: "once", want: "allows 1 activations and all are used"},
		{name: "unknown policy", policy: "nope", want: `there is no policy "nope"`},
		{name: "wrong REPORTDATA", policy: "sim", want: "REPORTDATA does not bind", edit: func(e *enclave) { e.reportData = make([]byte, 64) }},
		{name: "REPORTDATA for another session key", policy: "sim", want: "REPORTDATA does not bind", req: func(r *casproto.AttestRequest) {
			r.SessionKey = [65]byte(tc.enclaveSessionKey(t))
		}},
		{name: "unconfigured simulation key", policy: "sim", want: "not by a simulation key this CAS accepts", edit: func(e *enclave) { e.simKey = genP256(t) }},
		{name: "garbled quote", policy: "sim", want: "the quote is not one: not a DCAP quote v3", req: func(r *casproto.AttestRequest) { r.Quote = r.Quote[:500] }},
		{name: "quote modified", policy: "sim", want: "the quote does not verify", req: func(r *casproto.AttestRequest) { r.Quote[48+64] ^= 1 }},
		{name: "unknown nonce", policy: "sim", want: "the nonce is unknown, expired or used", req: func(r *casproto.AttestRequest) { r.Nonce[0] ^= 1 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := tc.enclave()
			if c.edit != nil {
				c.edit(e)
			}
			req, _ := e.request(t, c.policy, tc.challenge(t))
			if c.req != nil {
				c.req(req)
			}
			resp := tc.send(t, req)
			if resp.Status != casproto.StatusRefused || !strings.Contains(resp.Reason, c.want) {
				t.Fatalf("status %v reason %q, want refused with %q", resp.Status, resp.Reason, c.want)
			}
			if !resp.Simulation && !strings.Contains(c.name, "garbled") {
				t.Error("a simulation quote's answer says simulation 0")
			}
		})
	}
	t.Run("debug accepted when the policy says so", func(t *testing.T) {
		e := tc.enclave()
		e.body.Attributes.Flags |= attest.FlagDebug
		if r, _ := tc.attest(t, e, "debug-ok"); r.Status != casproto.StatusReleased {
			t.Fatalf("%v %s", r.Status, r.Reason)
		}
	})
	t.Run("replayed request", func(t *testing.T) {
		req, _ := tc.enclave().request(t, "sim", tc.challenge(t))
		if r := tc.send(t, req); r.Status != casproto.StatusReleased {
			t.Fatalf("first: %s", r.Reason)
		}
		if r := tc.send(t, req); r.Status != casproto.StatusRefused || !strings.Contains(r.Reason, "nonce is unknown, expired or used") {
			t.Fatalf("replay: %v %s", r.Status, r.Reason)
		}
	})
	t.Run("expired nonce", func(t *testing.T) {
		req, _ := tc.enclave().request(t, "sim", tc.challenge(t))
		clock.advance(61 * time.Second)
		if r := tc.send(t, req); r.Status != casproto.StatusRefused || !strings.Contains(r.Reason, "nonce is unknown, expired or used") {
			t.Fatalf("expired: %v %s", r.Status, r.Reason)
		}
	})
	t.Run("owner nonce is no challenge", func(t *testing.T) {
		n, err := tc.owner.Nonce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := hex.DecodeString(n)
		req, _ := tc.enclave().request(t, "sim", [32]byte(b))
		if r := tc.send(t, req); r.Status != casproto.StatusRefused {
			t.Fatalf("an owner nonce was accepted as a challenge")
		}
	})
	audit := tc.audit.String()
	for _, want := range []string{`"outcome":"refused"`, `"simulation":true`, `"mrenclave":"33d8736d`, `"client":"test enclave"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit log has no %s", want)
		}
	}
}

// enclaveSessionKey is another valid session key.
func (tc *testCAS) enclaveSessionKey(t *testing.T) []byte {
	r, _ := tc.enclave().request(t, "x", [32]byte{})
	return r.SessionKey[:]
}

// TestAttestTCBStatus: a hardware result is matched against the policy's
// accepted TCB statuses (the DCAP verification itself is pkg/attest's).
func TestAttestTCBStatus(t *testing.T) {
	tc := newTestCAS(t)
	owner := genEd25519(t)
	tc.apply(t, owner, policyDoc(t, owner, "hw", "", "accept: {tcb_statuses: [UpToDate]}\n"))
	tc.apply(t, owner, policyDoc(t, owner, "hw-lenient", "", "accept: {tcb_statuses: [UpToDate, OutOfDate]}\n"))
	status := attest.TCBOutOfDate
	tc.srv.verify = func(q *attest.Quote) (*attest.Result, error) { // a genuine hardware quote, as Verify would say
		return &attest.Result{Enclave: q.Body, TCBStatus: status}, nil
	}
	r, _ := tc.attest(t, tc.enclave(), "hw")
	if r.Status != casproto.StatusRefused || !strings.Contains(r.Reason, "TCB status is OutOfDate") {
		t.Fatalf("%v %q", r.Status, r.Reason)
	}
	if r, _ := tc.attest(t, tc.enclave(), "hw-lenient"); r.Status != casproto.StatusReleased {
		t.Fatalf("lenient: %v %q", r.Status, r.Reason)
	}
	status = attest.TCBUpToDate
	if r, _ := tc.attest(t, tc.enclave(), "hw"); r.Status != casproto.StatusReleased {
		t.Fatalf("UpToDate: %v %q", r.Status, r.Reason)
	}
}

// TestAttestHardwareQuote: the real DCAP quote verifies with its
// collateral (at a time it is valid) and is then refused for its
// REPORTDATA; without collateral, or with expired collateral, it is
// refused before.
func TestAttestHardwareQuote(t *testing.T) {
	dir := os.Getenv("SCONE_DCAP_TESTVECTORS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "testvectors", "dcap")
	}
	qb, err1 := os.ReadFile(filepath.Join(dir, "sgx_quote_v3.bin"))
	cb, err2 := os.ReadFile(filepath.Join(dir, "sgx_quote_v3_collateral.json"))
	if err1 != nil || err2 != nil {
		t.Skipf("SKIP: the DCAP test vector is absent (%v, %v): set SCONE_DCAP_TESTVECTORS", err1, err2)
	}
	coll, err := attest.ParseCollateral(cb)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts []Option
		want string
	}{
		{"valid collateral", []Option{WithCollateral(coll), WithVerifierOptions(attest.WithTime(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)))}, "REPORTDATA does not bind"},
		{"expired collateral", []Option{WithCollateral(coll)}, "expired"},
		{"no collateral", nil, "no collateral"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc := newTestCAS(t, c.opts...)
			req, _ := tc.enclave().request(t, "any", tc.challenge(t))
			req.Quote = qb
			r := tc.send(t, req)
			if r.Status != casproto.StatusRefused || r.Simulation || !strings.Contains(r.Reason, c.want) {
				t.Fatalf("%v sim=%v %q, want %q", r.Status, r.Simulation, r.Reason, c.want)
			}
		})
	}
}

// TestNoSimulationKeys: a CAS started without simulation keys refuses
// every simulation quote.
func TestNoSimulationKeys(t *testing.T) {
	srv, err := New()
	if err != nil {
		t.Fatal(err)
	}
	owner := genEd25519(t)
	doc := policyDoc(t, owner, "sim", "", "accept: {simulation: true}\n")
	if _, _, err := srv.Apply(context.Background(), "sim", doc, sign(t, owner, doc)); err != nil {
		t.Fatal(err)
	}
	tc := &testCAS{srv: srv, simKey: genP256(t)}
	n, _ := srv.nonces.issue(nonceEnclave)
	req, _ := tc.enclave().request(t, "sim", n)
	r := srv.Attest(context.Background(), req, "")
	if r.Status != casproto.StatusRefused || !strings.Contains(r.Reason, "accepts none") {
		t.Fatalf("%v %q", r.Status, r.Reason)
	}
}

// TestEnclaveHTTP: the HTTP side of the enclave protocol.
func TestEnclaveHTTP(t *testing.T) {
	tc := newTestCAS(t, WithNonces(time.Minute, 3))
	for _, c := range []struct {
		name, method, path string
		body               []byte
		status             int
		want               string
	}{
		{"garbled request", "POST", casproto.PathAttest, []byte("SCAS\x01\x00\x01\x00garbage"), 400, "not a SCAS attest request: offset 8"},
		{"empty request", "POST", casproto.PathAttest, nil, 400, "truncated"},
		{"oversized request", "POST", casproto.PathAttest, make([]byte, casproto.MaxMessageSize+1), 413, "at most 1048576 bytes"},
		{"challenge with a body", "POST", casproto.PathChallenge, []byte("x"), 400, "empty body"},
		{"unknown path", "POST", "/v1/enclave/other", nil, 404, "unknown path"},
		{"GET attest", "GET", casproto.PathAttest, nil, 405, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, tc.ts.URL+c.path, bytes.NewReader(c.body))
			resp, err := tc.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			if resp.StatusCode != c.status || !strings.Contains(b.String(), c.want) {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, b.String(), c.status, c.want)
			}
			if c.status != 405 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("content type %q", resp.Header.Get("Content-Type"))
			}
		})
	}
	t.Run("too many challenges", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			tc.challenge(t)
		}
		st, b := tc.post(t, casproto.PathChallenge, nil)
		if st != http.StatusTooManyRequests {
			t.Fatalf("%d %s", st, b)
		}
	})
}

// TestNonceTable: single use, expiry, kinds, bound, generations.
func TestNonceTable(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	nt := newNonceTable(time.Minute, 4, clock.now)
	a, _ := nt.issue(nonceEnclave)
	if err := nt.take(nonceOwner, a); !errors.Is(err, ErrNonce) {
		t.Error("an enclave nonce taken as an owner nonce")
	}
	b, _ := nt.issue(nonceEnclave)
	if nt.take(nonceEnclave, b) != nil || nt.take(nonceEnclave, b) == nil {
		t.Error("not single use")
	}
	c, _ := nt.issue(nonceEnclave)
	clock.advance(59 * time.Second)
	d, _ := nt.issue(nonceEnclave) // still in the first generation
	clock.advance(2 * time.Second)
	if nt.take(nonceEnclave, c) == nil {
		t.Error("an expired nonce was taken")
	}
	if err := nt.take(nonceEnclave, d); err != nil {
		t.Errorf("a nonce of the previous generation: %v", err)
	}
	for i := 0; i < 4; i++ {
		if _, err := nt.issue(nonceEnclave); err != nil {
			t.Fatalf("issue %d: %v", i, err)
		}
	}
	if _, err := nt.issue(nonceEnclave); !errors.Is(err, ErrBusy) {
		t.Errorf("a full table issued: %v", err)
	}
	clock.advance(3 * time.Minute)
	if _, err := nt.issue(nonceEnclave); err != nil {
		t.Errorf("after expiry: %v", err)
	}
}

// TestTLSSuites: a TLS 1.2 client offering only one of the suites the
// runtime's BearSSL client offers (ECDHE-ECDSA with AES-GCM or
// ChaCha20-Poly1305) connects; one offering only CBC does not.
func TestTLSSuites(t *testing.T) {
	tc := newTestCAS(t)
	for _, c := range []struct {
		name  string
		suite uint16
		ok    bool
	}{
		{"AES-128-GCM", tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, true},
		{"AES-256-GCM", tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, true},
		{"ChaCha20-Poly1305", tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, true},
		{"AES-128-CBC", tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", tc.addr(), &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{c.suite}, InsecureSkipVerify: true})
			if (err == nil) != c.ok {
				t.Fatalf("handshake: %v, want success %v", err, c.ok)
			}
			if err == nil {
				if got := certID(conn.ConnectionState().PeerCertificates[0]); got != tc.srv.ID() {
					t.Errorf("the certificate's key is not the CAS ID")
				}
				conn.Close()
			}
		})
	}
}

// TestTruncate: reasons are cut to the record's limit on a character
// boundary.
func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"}, {"abcdef", 3, "abc"}, {"aé", 3, "aé"}, {"aéb", 2, "a"}, {"€€", 4, "€"}, {"€€", 3, "€"},
	} {
		if got := truncate(c.in, c.n); got != c.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
