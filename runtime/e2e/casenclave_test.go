package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/cas"
	"github.com/scone-build/scone-build/pkg/enclave"
)

// casServer is scone-cas serve running under scone-run.
type casServer struct {
	cmd    *exec.Cmd
	addr   string
	stderr *strings.Builder
	done   chan error
}

// startCASEnclave runs the enclave e (scone-cas serve listening on addr)
// and waits until it answers.
func startCASEnclave(t testing.TB, rt string, env []string, addr string) *casServer {
	t.Helper()
	s := &casServer{cmd: exec.Command(rt), addr: addr, stderr: &strings.Builder{}, done: make(chan error, 1)}
	s.cmd.Env = env
	s.cmd.Stderr = s.stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("scone-cas in the enclave exited: %v\n%s", err, s.stderr)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("scone-cas in the enclave does not listen on %s:\n%s", addr, s.stderr)
	return nil
}

func (s *casServer) stop(t testing.TB) {
	if s.cmd.ProcessState != nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		t.Errorf("scone-cas did not stop on SIGTERM:\n%s", s.stderr)
	}
}

// TestCASInEnclave: scone-cas itself runs converted, under scone-run in
// simulation mode, with --store-key sealed. Its GET /v1/id serves a
// simulation quote of its enclave that binds its CAS ID (verified with
// the host's simulation key, MRENCLAVE as measured); the state directory
// (a host volume) holds the identity key only sealed; a restart of the same
// enclave keeps the CAS ID and the policies; the same binary in another
// enclave (another MRENCLAVE) cannot open the state.
func TestCASInEnclave(t *testing.T) {
	rt := runtimeBin(t)
	bin := filepath.Join(t.TempDir(), "scone-cas")
	if err := gobuild("github.com/scone-build/scone-build/cmd/scone-cas", bin); err != nil {
		t.Fatal(err)
	}
	sk, skf := simQuoteKey(t)
	state := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	mk := func(extraEnv string) simEnclave {
		return makeEnclave(t, rt, bin, func(c *enclave.Config) {
			c.Argv = []string{"scone-cas", "serve", "--listen", addr, "--state", state, "--store-key", "sealed"}
			c.Env = append(c.Env, extraEnv)
			c.Volumes = []string{state}
		})
	}
	e := mk("CAS_VARIANT=1")
	mr := measure(t, rt, e)
	env := e.env("SCONE_SIM_QUOTE_KEY_FILE=" + skf)

	s := startCASEnclave(t, rt, env, addr)
	identify := func() cas.ID {
		t.Helper()
		c, err := cas.NewClient(addr)
		if err != nil {
			t.Fatal(err)
		}
		id, info, err := c.Identify(context.Background())
		if err != nil {
			t.Fatalf("identify: %v\n%s", err, s.stderr)
		}
		res, err := cas.VerifySelfQuote(info.Quote, id, func(q *attest.Quote) (*attest.Result, error) { return attest.VerifySimulation(q, &sk.PublicKey) })
		if err != nil {
			t.Fatal(err)
		}
		if res.Enclave.MRENCLAVE != mr {
			t.Fatalf("the CAS's quote: MRENCLAVE %x, measured %x", res.Enclave.MRENCLAVE, mr)
		}
		return id
	}
	id := identify()
	c, _ := cas.NewClient(addr, cas.WithPin(id))
	owner := ownerKey(t)
	doc := casPolicyOf(ownerPEMOf(t, owner), "web", strings.Repeat("ab", 32), true, strings.Repeat("cd", 32), "", "")
	applied, err := c.Apply(context.Background(), "web", []byte(doc), owner)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, s.stderr)
	}
	s.stop(t)
	if _, err := os.Stat(filepath.Join(state, "identity.pem")); err == nil {
		t.Error("the sealed CAS wrote a plain identity.pem")
	}
	if b, err := os.ReadFile(filepath.Join(state, "identity.sealed")); err != nil || !strings.Contains(string(b), "SCONE-CAS SEALED PRIVATE KEY") {
		t.Fatalf("identity.sealed: %v %q", err, b)
	}

	s = startCASEnclave(t, rt, env, addr)
	if again := identify(); again != id {
		t.Fatalf("after a restart the CAS ID is %s, was %s", again, id)
	}
	c, _ = cas.NewClient(addr, cas.WithPin(id))
	rd, err := c.Read(context.Background(), "web", owner)
	if err != nil || rd.Hash != applied.Hash {
		t.Fatalf("after a restart: %v %+v", err, rd)
	}
	s.stop(t)

	other := mk("CAS_VARIANT=2")
	r := run(t, other.env("SCONE_SIM_QUOTE_KEY_FILE="+skf), rt)
	if r.code != 5 || !strings.Contains(r.stderr, "does not open with this enclave's sealing key") {
		t.Fatalf("another enclave on the state: exit %d\n%s", r.code, r.stderr)
	}
}

// ownerKey is a new policy owner key; ownerPEMOf its PEM public key.
func ownerKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ownerPEMOf(t testing.TB, k ed25519.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
