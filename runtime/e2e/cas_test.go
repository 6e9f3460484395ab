package e2e

// End-to-end tests of the runtime's CAS client (docs/cas.md, "The runtime
// side"): a converted program runs in sim mode with no FS key on the host;
// the runtime attests to a CAS and receives the key and the policy's
// secrets, or stops with the CAS's reason and a documented exit code.
//
// TestCASRealServer runs against the CAS of pkg/cas. The other tests use
// testCAS, a minimal CAS written for them on pkg/casproto, pkg/attest and
// pkg/policy (they were written before pkg/cas was ready, and it injects
// faults pkg/cas has no knob for: HTTP 503, "try again later", a server of
// another identity). It speaks the enclave protocol of docs/cas.md and
// decides as the spec says (nonce once, simulation quote against its
// simulation key, REPORTDATA, Policy.Match, grants rendered with
// policy.Render, sealed with casproto.Seal).

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scone-build/scone-build/internal/tlstest"
	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/cas"
	"github.com/scone-build/scone-build/pkg/casproto"
	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/policy"
	"github.com/scone-build/scone-build/pkg/volume"
)

// testCAS is a CAS for the tests: one identity key, the simulation keys it
// accepts, policies by name.
type testCAS struct {
	t      testing.TB
	srv    *httptest.Server
	id     [32]byte // CAS ID
	simKey *ecdsa.PublicKey

	mu       sync.Mutex
	nonces   map[[32]byte]bool
	policies map[string]*policy.Policy
	busy     int // answer this many attest requests with HTTP 503
	tryLater int // answer this many with status 2 (try again later)
	attests  int // attest requests seen
}

// newCAS starts a CAS with a fresh identity key that accepts simulation
// quotes signed by simKey.
func newCAS(t testing.TB, simKey *ecdsa.PublicKey) *testCAS {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "scone CAS (test)"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCAS{t: t, id: sha256.Sum256(spki), simKey: simKey, nonces: map[[32]byte]bool{}, policies: map[string]*policy.Policy{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+casproto.PathChallenge, c.challenge)
	mux.HandleFunc("POST "+casproto.PathAttest, c.attest)
	c.srv = httptest.NewUnstartedServer(mux)
	c.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the pinning test breaks handshakes on purpose
	c.srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	c.srv.StartTLS()
	t.Cleanup(c.srv.Close)
	return c
}

// addr is the CAS's HOST:PORT.
func (c *testCAS) addr() string { return strings.TrimPrefix(c.srv.URL, "https://") }

func (c *testCAS) addPolicy(doc string) {
	c.t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		c.t.Fatalf("test policy: %v\n%s", err, doc)
	}
	c.mu.Lock()
	c.policies[p.Name] = p
	c.mu.Unlock()
}

func (c *testCAS) challenge(w http.ResponseWriter, r *http.Request) {
	var n [32]byte
	rand.Read(n[:])
	c.mu.Lock()
	c.nonces[n] = true
	c.mu.Unlock()
	w.Header().Set("Content-Type", casproto.ContentType)
	w.Write(n[:])
}

func (c *testCAS) respond(w http.ResponseWriter, resp *casproto.AttestResponse) {
	b, err := resp.MarshalBinary()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", casproto.ContentType)
	w.Write(b)
}

func (c *testCAS) attest(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, casproto.MaxMessageSize+1))
	if err != nil {
		http.Error(w, "reading the request", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.attests++
	busy, later := c.busy > 0, c.busy == 0 && c.tryLater > 0
	if busy {
		c.busy--
	} else if later {
		c.tryLater--
	}
	c.mu.Unlock()
	if busy {
		http.Error(w, "the CAS store is unavailable", http.StatusServiceUnavailable)
		return
	}
	refuse := func(st casproto.Status, format string, a ...any) {
		c.respond(w, &casproto.AttestResponse{Status: st, Reason: fmt.Sprintf(format, a...), Simulation: true})
	}
	if later {
		refuse(casproto.StatusRetry, "the CAS is starting: try again later")
		return
	}
	req, err := casproto.ParseAttestRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	known := c.nonces[req.Nonce]
	delete(c.nonces, req.Nonce)
	p := c.policies[req.Policy]
	c.mu.Unlock()
	if !known {
		refuse(casproto.StatusRefused, "unknown or used nonce")
		return
	}
	q, err := attest.ParseQuote(req.Quote)
	if err != nil {
		refuse(casproto.StatusRefused, "the quote: %v", err)
		return
	}
	res, err := attest.VerifySimulation(q, c.simKey)
	if err != nil {
		refuse(casproto.StatusRefused, "the quote does not verify: %v", err)
		return
	}
	if rd := casproto.ReportData(req.Nonce, req.SessionKey); res.Enclave.ReportData != rd {
		refuse(casproto.StatusRefused, "the quote's REPORTDATA does not bind this nonce and session key")
		return
	}
	if p == nil {
		refuse(casproto.StatusRefused, "no policy %q", req.Policy)
		return
	}
	ev := policy.Evidence{MRENCLAVE: res.Enclave.MRENCLAVE, MRSIGNER: res.Enclave.MRSIGNER, ISVProdID: res.Enclave.ISVProdID,
		ISVSVN: res.Enclave.ISVSVN, Debug: res.Enclave.Attributes.Debug(), Simulation: true}
	if err := p.Match(ev); err != nil {
		var na *policy.NotAcceptedError
		if errors.As(err, &na) {
			refuse(casproto.StatusRefused, "%s", err)
			return
		}
		refuse(casproto.StatusRefused, "policy: %v", err)
		return
	}
	plain, err := render(p)
	if err != nil {
		refuse(casproto.StatusRefused, "rendering the grants: %v", err)
		return
	}
	eph, _ := ecdh.P256().GenerateKey(rand.Reader)
	session, err := req.SessionPublicKey()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sealed, err := casproto.Seal(eph, session, req.Nonce, p.Hash(), plain)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp := &casproto.AttestResponse{Status: casproto.StatusReleased, Simulation: true, PolicyHash: p.Hash(), Sealed: sealed}
	copy(resp.Ephemeral[:], eph.PublicKey().Bytes())
	c.respond(w, resp)
}

// materials serves a policy's value secrets (the tests use no others).
type materials struct{ p *policy.Policy }

func (m materials) Secret(name string) (policy.Material, error) {
	s, ok := m.p.Secrets[name]
	if !ok || s.Kind != policy.KindValue {
		return policy.Material{}, fmt.Errorf("secret %q: the test CAS serves value secrets only", name)
	}
	b, err := s.Bytes()
	return policy.Material{Bytes: b}, err
}

func (m materials) CA() ([]byte, error) { return nil, errors.New("the test CAS has no CA") }

// render makes the secrets message of p's grants.
func render(p *policy.Policy) ([]byte, error) {
	m := materials{p}
	var s casproto.Secrets
	g := p.Grants
	if g.FSKey != "" {
		mat, err := m.Secret(g.FSKey)
		if err != nil {
			return nil, err
		}
		s.FSKey = mat.Bytes
	}
	for path, name := range g.VolumeKeys {
		mat, err := m.Secret(name)
		if err != nil {
			return nil, err
		}
		s.VolumeKeys = append(s.VolumeKeys, casproto.VolumeKey{Path: path, Key: mat.Bytes})
	}
	for name, tmpl := range g.Env {
		v, err := policy.Render(tmpl, m)
		if err != nil {
			return nil, err
		}
		s.Env = append(s.Env, casproto.EnvVar{Name: name, Value: string(v)})
	}
	s.ArgsSet = g.Args != nil
	for _, tmpl := range g.Args {
		v, err := policy.Render(tmpl, m)
		if err != nil {
			return nil, err
		}
		s.Args = append(s.Args, string(v))
	}
	for path, f := range g.Files {
		v, err := policy.Render(f.Content, m)
		if err != nil {
			return nil, err
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o400
		}
		s.Files = append(s.Files, casproto.File{Path: path, Mode: mode, Content: v})
	}
	sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Path < s.Files[j].Path })
	return s.MarshalBinary()
}

// ownerPEM is a policy owner key (the test CAS checks no signatures).
func ownerPEM(t testing.TB) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// casPolicy is a policy document: name, the enclave's MRENCLAVE, whether
// simulation is accepted, the FS key (hex; "": no fs_key grant), and more
// YAML for secrets and grants (indented as under secrets: and grants:).
func casPolicy(t testing.TB, name, mrenclave string, simulation bool, fsKeyHex, secrets, grants string) string {
	return casPolicyOf(ownerPEM(t), name, mrenclave, simulation, fsKeyHex, secrets, grants)
}

// casPolicyOf is casPolicy with the owner's PEM public key.
func casPolicyOf(ownerPub, name, mrenclave string, simulation bool, fsKeyHex, secrets, grants string) string {
	owner := "  " + strings.ReplaceAll(strings.TrimSpace(ownerPub), "\n", "\n  ")
	doc := fmt.Sprintf("version: 1\nname: %s\nowner: |\n%s\nenclaves:\n  - mrenclave: [%s]\naccept:\n  simulation: %v\n",
		name, owner, mrenclave, simulation)
	if fsKeyHex != "" {
		secrets = "  fs_key: {kind: value, encoding: hex, value: " + fsKeyHex + "}\n" + secrets
		grants = "  fs_key: fs_key\n" + grants
	}
	if secrets != "" {
		doc += "secrets:\n" + secrets
	}
	if grants != "" {
		doc += "grants:\n" + grants
	}
	return doc
}

// simQuoteKey writes a P-256 key as the host's SCONE_SIM_QUOTE_KEY_FILE.
func simQuoteKey(t testing.TB) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "sim-quote.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return k, f
}

// casEnclave is an enclave whose measured config names cas (address addr,
// CAS ID id) and policy; extra entries go into its image.
func casEnclave(t testing.TB, rt, bin, addr string, id [32]byte, policyName string, mutate func(*enclave.Config)) (simEnclave, string) {
	t.Helper()
	content, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	e := makeEnclaveFiles(t, rt, []tarEntry{{name: bin, content: content}, {name: "/etc/replaced", content: []byte("from the image\n")}},
		func(cfg *enclave.Config) {
			cfg.Argv = []string{"prog", "from-config"}
			cfg.Env = []string{"E2E_VAR=from-config"}
			cfg.Entrypoint = bin
			cfg.CASAddress, cfg.CASID, cfg.CASPolicy = addr, id, policyName
			if mutate != nil {
				mutate(cfg)
			}
		})
	f, err := os.Open(rt)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfgBin, _ := os.ReadFile(filepath.Join(e.dir, "config.bin"))
	m, err := enclave.Measure(f, cfgBin)
	if err != nil {
		t.Fatal(err)
	}
	return e, hex.EncodeToString(m.MRENCLAVE[:])
}

// casEnv runs e with no FS key on the host: only the enclave directory and
// the simulation quote key.
func casEnv(e simEnclave, simKeyFile string, extra ...string) []string {
	return append(append(baseEnv(), "SCONE_ENCLAVE_DIR="+e.dir, "SCONE_SIM_QUOTE_KEY_FILE="+simKeyFile, "SCONE_SIM_EXIT_CYCLES=0"), extra...)
}

// TestCASRunsWithoutHostKey: the program's output under scone-run, with the
// FS key from the CAS, equals its native output; no key is on the host.
func TestCASRunsWithoutHostKey(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "hello-glibc-static")
	sk, skf := simQuoteKey(t)
	cas := newCAS(t, &sk.PublicKey)
	e, mre := casEnclave(t, rt, bin, cas.addr(), cas.id, "hello", nil)
	cas.addPolicy(casPolicy(t, "hello", mre, true, e.keyHex, "", ""))

	native := run(t, append(baseEnv()[:1], "E2E_VAR=from-config", "HOME=/root"), bin, "from-config")
	got := run(t, casEnv(e, skf), rt, "host-arg")
	if got.code != native.code || got.stdout != native.stdout {
		t.Fatalf("under scone-run with the CAS: exit %d, stdout:\n%s\nstderr:\n%s\nnative: exit %d, stdout:\n%s",
			got.code, got.stdout, got.stderr, native.code, native.stdout)
	}
	// the async transport carries the CAS client's host calls too
	ea, mrea := casEnclave(t, rt, bin, cas.addr(), cas.id, "hello-async", asyncConfig)
	cas.addPolicy(casPolicy(t, "hello-async", mrea, true, ea.keyHex, "", ""))
	if got := run(t, casEnv(ea, skf), rt); got.code != native.code || got.stdout != native.stdout {
		t.Fatalf("async transport: exit %d, stdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
	}
	for _, env := range os.Environ() {
		if strings.HasPrefix(env, "SCONE_FS_KEY") {
			t.Fatalf("the test's own environment has %s", env)
		}
	}
	if strings.Contains(got.stderr, "attempt") {
		t.Errorf("retries against a CAS that is up:\n%s", got.stderr)
	}
}

// TestCASGrants: the policy's environment, arguments and files reach the
// program; files are placed before it runs, owned by its user, with the
// policy's modes, replacing an image file.
func TestCASGrants(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "casgrant-static")
	sk, skf := simQuoteKey(t)
	cas := newCAS(t, &sk.PublicKey)
	e, mre := casEnclave(t, rt, bin, cas.addr(), cas.id, "grants", func(c *enclave.Config) {
		c.UID, c.GID = 1000, 1001
		c.HostEnv = []string{"E2E_VAR"}
		c.HostArgs = true
	})
	secrets := "  db_password: {kind: value, value: \"s3cr$t-pw\"}\n  blob: {kind: value, encoding: hex, value: 00ff41}\n"
	grants := "  env:\n    E2E_VAR: \"from the CAS\"\n    DB_PASSWORD: \"${db_password}\"\n    API_TOKEN: \"${db_password:hex}\"\n" +
		"  args: [\"--config\", \"/etc/app/app.conf\", \"\"]\n" +
		"  files:\n    /etc/app/app.conf: {content: \"password = ${db_password}\\n\"}\n" +
		"    /run/secrets/deep/blob.bin: {content: \"${blob}\", mode: 0440}\n" +
		"    /etc/replaced: {content: \"from the CAS\", mode: 0644}\n"
	cas.addPolicy(casPolicy(t, "grants", mre, true, e.keyHex, secrets, grants))

	// The host sets E2E_VAR (allowed) and arguments (allowed): the policy wins.
	got := run(t, casEnv(e, skf, "E2E_VAR=from-host"), rt, "host-arg")
	if got.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s\nstdout:\n%s", got.code, got.stderr, got.stdout)
	}
	want := "argv[0]=(prog)\nargv[1]=--config\nargv[2]=/etc/app/app.conf\nargv[3]=\n" +
		"E2E_VAR=from the CAS\nDB_PASSWORD=s3cr$t-pw\nAPI_TOKEN=" + hex.EncodeToString([]byte("s3cr$t-pw")) + "\nSCONE_SIM_QUOTE_KEY_FILE=(unset)\n" +
		"/etc/app/app.conf: mode 400 uid 1000 gid 1001 size 21: password = s3cr$t-pw\\x0a\n" +
		"/run/secrets/deep/blob.bin: mode 440 uid 1000 gid 1001 size 3: \\x00\\xffA\n" +
		"/etc/replaced: mode 644 uid 1000 gid 1001 size 12: from the CAS\n"
	if got.stdout != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s\nstderr:\n%s", got.stdout, want, got.stderr)
	}
}

// TestCASRetries: HTTP 503 and "try again later" are retried with back-off
// until the CAS releases the secrets.
func TestCASRetries(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "hello-glibc-static")
	sk, skf := simQuoteKey(t)
	cas := newCAS(t, &sk.PublicKey)
	e, mre := casEnclave(t, rt, bin, cas.addr(), cas.id, "hello", nil)
	cas.addPolicy(casPolicy(t, "hello", mre, true, e.keyHex, "", ""))
	cas.busy, cas.tryLater = 2, 1
	got := run(t, casEnv(e, skf), rt)
	if got.code != 3 || !strings.Contains(got.stdout, "argv[1]=from-config") {
		t.Fatalf("exit %d, stderr:\n%s", got.code, got.stderr)
	}
	for _, want := range []string{"unavailable (HTTP 503): the CAS store is unavailable; attempt 1 of 5, next in 250 ms",
		"attempt 2 of 5, next in 500 ms", "asks to try again later: the CAS is starting: try again later; attempt 3 of 5, next in 1000 ms"} {
		if !strings.Contains(got.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, got.stderr)
		}
	}
	if cas.attests != 4 {
		t.Errorf("%d attest requests, want 4", cas.attests)
	}
}

// TestCASRefusals: what the runtime says and which exit code it gives when
// it gets no secrets (docs/exit-codes.md).
func TestCASRefusals(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "hello-glibc-static")
	sk, skf := simQuoteKey(t)
	cas := newCAS(t, &sk.PublicKey)
	other := newCAS(t, &sk.PublicKey) // a CAS with another identity key
	e, mre := casEnclave(t, rt, bin, cas.addr(), cas.id, "hello", nil)
	cas.addPolicy(casPolicy(t, "hello", mre, true, e.keyHex, "", ""))
	_, otherSimKey := simQuoteKey(t)
	zero := strings.Repeat("0", 64)
	// an enclave naming policy name (its MRENCLAVE differs: the name is
	// measured), and that policy: listing the enclave or not, accepting
	// simulation or not, granting the FS key or not
	withPolicy := func(name string, sim, listed, fsKey bool) simEnclave {
		e2, m2 := casEnclave(t, rt, bin, cas.addr(), cas.id, name, nil)
		if !listed {
			m2 = zero
		}
		k := e2.keyHex
		if !fsKey {
			k = ""
		}
		cas.addPolicy(casPolicy(t, name, m2, sim, k, "", ""))
		return e2
	}
	downAddr := func() string { // a port nobody listens on
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := l.Addr().String()
		l.Close()
		return a
	}()
	eNoSim := withPolicy("no-sim", false, true, true)
	eOther := withPolicy("other-enclave", true, false, true)
	eNoFS := withPolicy("no-fs-key", true, true, false)
	eHostFile, mreHostFile := casEnclave(t, rt, bin, cas.addr(), cas.id, "host-file", nil)
	cas.addPolicy(casPolicy(t, "host-file", mreHostFile, true, eHostFile.keyHex, "", "  files:\n    /etc/hosts: {content: \"10.0.0.1 cas\\n\"}\n"))
	ePinned, _ := casEnclave(t, rt, bin, other.addr(), cas.id, "hello", nil) // other CAS at the address
	eDown, _ := casEnclave(t, rt, bin, downAddr, cas.id, "hello", nil)
	eUnknown, _ := casEnclave(t, rt, bin, cas.addr(), cas.id, "no-such-policy", nil)

	for _, tc := range []struct {
		name string
		env  []string
		code int
		want []string
	}{
		{"MRENCLAVE not in the policy", casEnv(eOther, skf), 79,
			[]string{"refused to release the secrets of policy other-enclave to this simulation-mode enclave", "is not one of the policy's enclaves"}},
		{"simulation not accepted", casEnv(eNoSim, skf), 79,
			[]string{"policy no-sim", "runs in simulation mode", "does not accept simulation (accept.simulation)"}},
		{"unknown policy", casEnv(eUnknown, skf), 79, []string{`no policy "no-such-policy"`}},
		{"simulation key the CAS does not accept", casEnv(e, otherSimKey), 79, []string{"the quote does not verify", "simulation key"}},
		{"policy grants no FS key", casEnv(eNoFS, skf), 77, []string{"grants no fs_key", "add the FS key"}},
		{"policy file on a host path", casEnv(eHostFile, skf), 78,
			[]string{"the CAS policy grants the file /etc/hosts, which would be on the host (a passthrough path or volume)"}},
		{"another CAS at the address: pinned CAS ID", casEnv(ePinned, skf), 80,
			[]string{"is not the CAS this image trusts: its key has CAS ID " + hex.EncodeToString(other.id[:]), "pins " + hex.EncodeToString(cas.id[:])}},
		{"CAS down", casEnv(eDown, skf), 69,
			[]string{"connection refused (is the CAS running and listening there? the address is measured: scone-build convert --cas); attempt 1 of 5, next in 250 ms",
				"attempt 4 of 5, next in 2000 ms",
				"no secrets from the CAS after 5 attempts: cannot connect to the CAS at " + downAddr + ": connection refused (is the CAS running"}},
		{"host FS key refused", casEnv(e, skf, "SCONE_FS_KEY="+e.keyHex), 64,
			[]string{"SCONE_FS_KEY is set, but this image gets its FS key from the CAS at " + cas.addr() + " (policy hello)"}},
		{"host FS key file refused", casEnv(e, skf, "SCONE_FS_KEY_FILE="+e.keyFile), 64, []string{"SCONE_FS_KEY_FILE is set"}},
		{"no simulation quote key", append(baseEnv(), "SCONE_ENCLAVE_DIR="+e.dir), 77, []string{"set SCONE_SIM_QUOTE_KEY_FILE"}},
		{"simulation quote key unusable", casEnv(e, e.keyFile), 77, []string{"simulation quote key " + e.keyFile + " (SCONE_SIM_QUOTE_KEY_FILE): not a PEM file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			got := run(t, tc.env, rt)
			if got.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s\nstdout:\n%s", got.code, tc.code, got.stderr, got.stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, got.stderr)
				}
			}
			if got.stdout != "" {
				t.Errorf("the program ran: %s", got.stdout)
			}
			if tc.code == 69 && time.Since(start) < 3500*time.Millisecond {
				t.Errorf("gave up after %v: the back-off waits 250+500+1000+2000 ms", time.Since(start))
			}
		})
	}
}

// TestCASHostName: a CAS address that is a host name is resolved through
// the host's /etc/hosts (localhost); the pinned CAS ID, not the name,
// decides whom the enclave trusts.
func TestCASHostName(t *testing.T) {
	hosts, err := os.ReadFile("/etc/hosts")
	if err != nil || !bytes.Contains(hosts, []byte("localhost")) {
		t.Skip("no localhost in /etc/hosts")
	}
	rt := runtimeBin(t)
	bin := prog(t, "hello-glibc-static")
	sk, skf := simQuoteKey(t)
	cas := newCAS(t, &sk.PublicKey)
	_, port, _ := net.SplitHostPort(cas.addr())
	e, mre := casEnclave(t, rt, bin, "localhost:"+port, cas.id, "hello", nil)
	cas.addPolicy(casPolicy(t, "hello", mre, true, e.keyHex, "", ""))
	got := run(t, casEnv(e, skf), rt)
	if got.code != 3 || !strings.Contains(got.stdout, "argv[1]=from-config") {
		t.Fatalf("exit %d, stderr:\n%s", got.code, got.stderr)
	}
}

// TestCASDNS: a CAS host name that /etc/hosts does not know is resolved
// with a DNS A query to the nameserver of /etc/resolv.conf (a private mount
// namespace points it at a DNS server of the test's).
func TestCASDNS(t *testing.T) {
	if out, err := exec.Command("unshare", "-m", "true").CombinedOutput(); err != nil {
		t.Skipf("no private mount namespace (unshare -m): %v %s", err, out)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:53")
	if err != nil {
		t.Skipf("cannot serve DNS on 127.0.0.1:53: %v", err)
	}
	defer pc.Close()
	var mu sync.Mutex
	var asked []string
	go serveDNS(pc, "cas.test", net.IPv4(127, 0, 0, 1), func(q string) { mu.Lock(); asked = append(asked, q); mu.Unlock() })
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(conf, []byte("nameserver 127.0.0.1\n"), 0o644)

	rt := runtimeBin(t)
	bin := prog(t, "hello-glibc-static")
	sk, skf := simQuoteKey(t)
	cas := newCAS(t, &sk.PublicKey)
	_, port, _ := net.SplitHostPort(cas.addr())
	e, mre := casEnclave(t, rt, bin, "cas.test:"+port, cas.id, "hello", nil)
	cas.addPolicy(casPolicy(t, "hello", mre, true, e.keyHex, "", ""))
	eNX, _ := casEnclave(t, rt, bin, "nx.test:"+port, cas.id, "hello", nil)

	inNS := func(env []string) result {
		return run(t, env, "unshare", "-m", "sh", "-c", `mount --bind "$0" /etc/resolv.conf && exec "$1"`, conf, rt)
	}
	got := inNS(casEnv(e, skf))
	if got.code != 3 || !strings.Contains(got.stdout, "argv[1]=from-config") {
		t.Fatalf("exit %d, stderr:\n%s", got.code, got.stderr)
	}
	mu.Lock()
	if len(asked) == 0 || asked[0] != "A cas.test" {
		t.Errorf("DNS questions %v, want A cas.test first", asked)
	}
	mu.Unlock()
	got = inNS(casEnv(eNX, skf))
	if got.code != 69 || !strings.Contains(got.stderr, "cannot resolve nx.test: not in /etc/hosts, and the nameservers of /etc/resolv.conf do not know it") {
		t.Fatalf("unknown name: exit %d, stderr:\n%s", got.code, got.stderr)
	}
}

// serveDNS answers A questions for name with ip, AAAA for it with no
// address, and every other name with NXDOMAIN (RFC 1035, no compression in
// questions).
func serveDNS(pc net.PacketConn, name string, ip net.IP, seen func(string)) {
	buf := make([]byte, 512)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		q := buf[:n]
		if len(q) < 12 {
			continue
		}
		var labels []string
		off := 12
		for off < len(q) && q[off] != 0 {
			l := int(q[off])
			if off+1+l > len(q) {
				break
			}
			labels = append(labels, string(q[off+1:off+1+l]))
			off += 1 + l
		}
		if off+5 > len(q) {
			continue
		}
		qname := strings.Join(labels, ".")
		qtype := binary.BigEndian.Uint16(q[off+1:])
		question := q[12 : off+5]
		kind := map[uint16]string{1: "A", 28: "AAAA"}[qtype]
		seen(kind + " " + qname)
		resp := append([]byte{q[0], q[1], 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0}, question...)
		switch {
		case !strings.EqualFold(qname, name):
			resp[3] |= 3 // NXDOMAIN
		case qtype == 1:
			resp[7] = 1
			resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
			resp = append(resp, ip.To4()...)
		}
		pc.WriteTo(resp, from)
	}
}

// TestCASRealServer: the runtime against the CAS of pkg/cas (policies
// applied through its owner API, signed by their owner): the program runs
// with the FS key from the CAS and no key on the host; an enclave the
// policy does not list is refused with the CAS's reason; a policy's
// max_activations is counted.
func TestCASRealServer(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "hello-glibc-static")
	sk, skf := simQuoteKey(t)
	addr, id, ownerPub, apply := realCAS(t, &sk.PublicKey)

	e, mre := casEnclave(t, rt, bin, addr, id, "web", nil)
	apply(casPolicyOf(ownerPub, "web", mre, true, e.keyHex, "", "  env:\n    E2E_VAR: from-the-cas\n"))
	eOnce, mreOnce := casEnclave(t, rt, bin, addr, id, "once", nil)
	apply(strings.Replace(casPolicyOf(ownerPub, "once", mreOnce, true, eOnce.keyHex, "", ""), "  simulation: true\n", "  simulation: true\n  max_activations: 1\n", 1))
	eOther, _ := casEnclave(t, rt, bin, addr, id, "other", nil)
	apply(casPolicyOf(ownerPub, "other", strings.Repeat("ab", 32), true, eOther.keyHex, "", ""))

	native := run(t, append(baseEnv()[:1], "E2E_VAR=from-the-cas", "HOME=/root"), bin, "from-config")
	got := run(t, casEnv(e, skf), rt)
	if got.code != native.code || got.stdout != native.stdout {
		t.Fatalf("under scone-run with pkg/cas: exit %d, stdout:\n%s\nstderr:\n%s\nnative: exit %d, stdout:\n%s",
			got.code, got.stdout, got.stderr, native.code, native.stdout)
	}
	if got := run(t, casEnv(eOnce, skf), rt); got.code != 3 {
		t.Fatalf("first activation: exit %d, stderr:\n%s", got.code, got.stderr)
	}
	for _, tc := range []struct {
		name string
		e    simEnclave
		want string
	}{
		{"second activation", eOnce, "activations"},
		{"enclave not listed", eOther, "is not one of the policy's enclaves"},
	} {
		got := run(t, casEnv(tc.e, skf), rt)
		if got.code != 79 || !strings.Contains(got.stderr, tc.want) || !strings.Contains(got.stderr, "refused to release the secrets") {
			t.Errorf("%s: exit %d, want 79 with %q; stderr:\n%s", tc.name, got.code, tc.want, got.stderr)
		}
	}
}

// realCAS starts pkg/cas's server (memory store) accepting simulation
// quotes signed by simKey: its address, CAS ID, an owner's PEM public key
// and a function that applies a policy document signed by that owner.
func realCAS(t testing.TB, simKey *ecdsa.PublicKey) (addr string, id [32]byte, ownerPub string, apply func(doc string)) {
	t.Helper()
	srv, err := cas.New(cas.WithSimulationKeys(simKey))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	owner, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&owner.PublicKey)
	client, err := cas.NewClient(ln.Addr().String(), cas.WithPin(srv.ID()))
	if err != nil {
		t.Fatal(err)
	}
	apply = func(doc string) {
		t.Helper()
		name := strings.Fields(strings.SplitN(doc, "name: ", 2)[1])[0]
		if _, err := client.Apply(ctx, name, []byte(doc), owner); err != nil {
			t.Fatalf("applying policy %s: %v\n%s", name, err, doc)
		}
	}
	return ln.Addr().String(), [32]byte(srv.ID()), string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), apply
}

// TestCASPlacesTLSCertificate: the network shield serves the certificate and
// key the CAS policy places (grants.files); the image holds neither and the
// host never sees the key. Without the policy's files the enclave does not
// start, and says which file it lacks.
func TestCASPlacesTLSCertificate(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "netsrv")
	sk, skf := simQuoteKey(t)
	cas := newCAS(t, &sk.PublicKey)
	ca, err := tlstest.NewCA("policy CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Server(tlstest.EC, "localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	tlsEnclave := func(name string) (simEnclave, string) {
		return casEnclave(t, rt, bin, cas.addr(), cas.id, name, func(c *enclave.Config) {
			c.Argv = []string{"netsrv", "epoll-et", strconv.Itoa(port), "/etc/replaced"}
			c.TLSPorts = []uint16{uint16(port)}
			c.TLSCert, c.TLSKey = "/etc/tls/server.pem", "/etc/tls/server.key"
		})
	}
	secrets := fmt.Sprintf("  cert: {kind: value, encoding: hex, value: %x}\n  key: {kind: value, encoding: hex, value: %x}\n",
		leaf.ChainPEM, leaf.KeyPEM)
	grants := "  files:\n    /etc/tls/server.pem: {content: \"${cert}\", mode: 0444}\n    /etc/tls/server.key: {content: \"${key}\"}\n"

	t.Run("placed", func(t *testing.T) {
		e, mre := tlsEnclave("web")
		cas.addPolicy(casPolicy(t, "web", mre, true, e.keyHex, secrets, grants))
		pool := x509.NewCertPool()
		pool.AddCert(ca.Cert)
		s := &netServer{port: port, pool: pool}
		s.start(t, rt, casEnv(e, skf))
		if got := s.get(t, s.dial(t), "/x"); !strings.Contains(got, "hello epoll-et /x "+netMarker) {
			t.Fatalf("answer %q", got)
		}
		s.cmd.Process.Kill()
		s.cmd.Wait()
	})
	t.Run("not placed", func(t *testing.T) {
		e, mre := tlsEnclave("web-nocert")
		cas.addPolicy(casPolicy(t, "web-nocert", mre, true, e.keyHex, "", ""))
		got := run(t, casEnv(e, skf), rt)
		if got.code == 0 || !strings.Contains(got.stderr, "/etc/tls/server.pem") {
			t.Fatalf("exit %d, want a refusal naming the certificate; stderr:\n%s", got.code, got.stderr)
		}
	})
}

// TestCASGrantsVolumeKey: the key the policy grants for a protected volume's
// path (grants.volume_keys) is the volume's key, not the one derived from
// the FS key: pkg/volume opens what the runtime wrote with the granted key
// and not with the derived one, and a second run reads it back.
func TestCASGrantsVolumeKey(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "volprobe")
	sk, skf := simQuoteKey(t)
	cas := newCAS(t, &sk.PublicKey)
	vol := filepath.Join(t.TempDir(), "data")
	e, mre := casEnclave(t, rt, bin, cas.addr(), cas.id, "vol", withVolume(vol))
	var granted volume.Key
	if _, err := rand.Read(granted[:]); err != nil {
		t.Fatal(err)
	}
	secrets := fmt.Sprintf("  vk: {kind: value, encoding: hex, value: %x}\n", granted[:])
	grants := "  volume_keys: {" + vol + ": vk}\n"
	cas.addPolicy(casPolicy(t, "vol", mre, true, e.keyHex, secrets, grants))

	for _, step := range []string{"write", "read"} {
		got := run(t, casEnv(e, skf), rt, step, vol)
		if got.code != 0 || !strings.Contains(got.stdout, "ok") {
			t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", step, got.code, got.stdout, got.stderr)
		}
	}
	gv, err := volume.Open(vol, granted, volume.ReadOnly())
	if err != nil {
		t.Fatalf("pkg/volume with the granted key: %v", err)
	}
	if b, err := gv.ReadFile("db/config"); err != nil || string(b) != "version=2\n" {
		t.Errorf("pkg/volume reads db/config: %q, %v", b, err)
	}
	if _, err := volume.Open(vol, mustDerive(t, e.key(), vol), volume.ReadOnly()); err == nil {
		t.Fatal("the volume opens with the key derived from the FS key: the granted key was not used")
	}
}
