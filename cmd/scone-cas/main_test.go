package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scone-build/scone-build/internal/etcdtest"
	"github.com/scone-build/scone-build/pkg/cas"
)

type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) { b.mu.Lock(); defer b.mu.Unlock(); return b.b.Write(p) }
func (b *buffer) String() string              { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

func TestMain(m *testing.M) {
	code := m.Run()
	etcdtest.Stop()
	os.Exit(code)
}

// running is a scone-cas serve in the test process.
type running struct {
	addr   string
	cancel context.CancelFunc
	done   chan int
	stderr *buffer
}

func serve(t *testing.T, args ...string) *running {
	t.Helper()
	return serveIn(t, nil, args...)
}

// serveIn is serve in the enclave p (nil: none).
func serveIn(t *testing.T, p enclavePlatform, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan int, 1), stderr: &buffer{}}
	addrs := make(chan string, 1)
	a := &app{stdout: &buffer{}, stderr: r.stderr, listening: func(ad net.Addr) { addrs <- ad.String() }, platform: p}
	go func() { r.done <- a.run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)) }()
	select {
	case r.addr = <-addrs:
	case code := <-r.done:
		cancel()
		t.Fatalf("serve exited %d: %s", code, r.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case code := <-r.done:
		if code != 0 {
			t.Fatalf("serve exited %d after SIGTERM: %s", code, r.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func runCmd(args ...string) (int, string, string) {
	var out, errb buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServeAndRestart: the first start makes the identity key and the
// store; id prints the CAS ID the server has; a policy applied survives a
// restart; SIGTERM (context cancel) exits 0; the audit log has the apply.
func TestServeAndRestart(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	key := writeFile(t, dir, "store.key", []byte(strings.Repeat("ab", 32)+"\n"))
	r := serve(t, "--state", state, "--store-key-file", key)
	code, out, errs := runCmd("id", "--state", state)
	if code != 0 {
		t.Fatalf("id: %d %s", code, errs)
	}
	id, err := cas.ParseID(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cas.NewClient(r.addr, cas.WithPin(id))
	if err != nil {
		t.Fatal(err)
	}
	got, info, err := c.Identify(context.Background())
	if err != nil || got != id || info.CASID != id.String() {
		t.Fatalf("identify: %v %v %+v", err, got, info)
	}
	_, owner, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(owner.Public())
	doc := fmt.Sprintf("version: 1\nname: web\nowner: |\n  %s\nenclaves:\n  - mrenclave: [%s]\n",
		strings.ReplaceAll(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))), "\n", "\n  "), strings.Repeat("ab", 32))
	res, err := c.Apply(context.Background(), "web", []byte(doc), owner)
	if err != nil {
		t.Fatal(err)
	}
	r.stop(t)
	if !strings.Contains(r.stderr.String(), "made a new identity key") || !strings.Contains(r.stderr.String(), id.String()) {
		t.Errorf("log: %s", r.stderr.String())
	}
	r = serve(t, "--state", state, "--store-key-file", key)
	defer r.stop(t)
	c, _ = cas.NewClient(r.addr, cas.WithPin(id))
	rd, err := c.Read(context.Background(), "web", owner)
	if err != nil || rd.Hash != res.Hash {
		t.Fatalf("after restart: %v %+v", err, rd)
	}
	audit, _ := os.ReadFile(filepath.Join(state, auditFile))
	if !strings.Contains(string(audit), `"event":"apply"`) || !strings.Contains(string(audit), `"event":"read"`) {
		t.Errorf("audit log: %s", audit)
	}
}

// TestErrors: each mistake exits with its code and a hint.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "store.key", bytes.Repeat([]byte{1}, 32))
	short := writeFile(t, dir, "short.key", []byte("0123"))
	other := writeFile(t, dir, "other.key", bytes.Repeat([]byte{2}, 32))
	garbage := writeFile(t, dir, "garbage", []byte("not pem"))
	state := filepath.Join(dir, "state")
	r := serve(t, "--state", state, "--store-key-file", good)
	busy := r.addr
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no state", []string{"serve", "--store-key-file", good}, 2, `required flag(s) "state" not set`},
		{"unknown flag", []string{"serve", "--bogus"}, 2, "unknown flag"},
		{"id without state", []string{"id", "--state", filepath.Join(dir, "none")}, 5, "start 'scone-cas serve"},
		{"missing store key", []string{"serve", "--state", filepath.Join(dir, "s1"), "--store-key-file", filepath.Join(dir, "nope")}, 5, "head -c 32 /dev/urandom"},
		{"short store key", []string{"serve", "--state", filepath.Join(dir, "s1"), "--store-key-file", short}, 5, "32 random bytes"},
		{"bad simulation key", []string{"serve", "--state", filepath.Join(dir, "s1"), "--store-key-file", good, "--simulation-key", garbage}, 5, "PUBLIC KEY"},
		{"bad collateral", []string{"serve", "--state", filepath.Join(dir, "s1"), "--store-key-file", good, "--collateral", garbage}, 3, "collateral JSON"},
		{"address in use", []string{"serve", "--state", filepath.Join(dir, "s2"), "--store-key-file", good, "--listen", busy}, 7, "free address"},
		{"state in use", []string{"serve", "--state", state, "--store-key-file", good, "--listen", "127.0.0.1:0"}, 7, "another scone-cas holds this state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := runCmd(c.args...)
			if code != c.code || !strings.Contains(errs, c.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d with %q", code, errs, c.code, c.want)
			}
		})
	}
	r.stop(t)
	t.Run("another store key", func(t *testing.T) {
		code, _, errs := runCmd("serve", "--state", state, "--store-key-file", other, "--listen", "127.0.0.1:0")
		if code != 5 || !strings.Contains(errs, "another store key") {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
}

// TestEtcdReplicas: two scone-cas with copies of one identity key and one
// store key, on one etcd, serve the same policies.
func TestEtcdReplicas(t *testing.T) {
	addr, skip := etcdtest.Start()
	if addr == "" {
		t.Skip(skip)
	}
	dir := t.TempDir()
	key := writeFile(t, dir, "store.key", bytes.Repeat([]byte{3}, 32))
	store := "--store=etcd://" + strings.TrimPrefix(addr, "http://") + etcdtest.Prefix("scone-cas")
	s1, s2 := filepath.Join(dir, "s1"), filepath.Join(dir, "s2")
	r1 := serve(t, "--state", s1, "--store-key-file", key, store)
	defer r1.stop(t)
	os.MkdirAll(s2, 0o700)
	b, _ := os.ReadFile(filepath.Join(s1, identityFile))
	writeFile(t, s2, identityFile, b)
	r2 := serve(t, "--state", s2, "--store-key-file", key, store)
	defer r2.stop(t)
	_, out, _ := runCmd("id", "--state", s2)
	id, err := cas.ParseID(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	_, owner, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(owner.Public())
	doc := fmt.Sprintf("version: 1\nname: shared\nowner: |\n  %s\nenclaves:\n  - mrenclave: [%s]\n",
		strings.ReplaceAll(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))), "\n", "\n  "), strings.Repeat("cd", 32))
	c1, _ := cas.NewClient(r1.addr, cas.WithPin(id))
	c2, _ := cas.NewClient(r2.addr, cas.WithPin(id))
	res, err := c1.Apply(context.Background(), "shared", []byte(doc), owner)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := c2.Read(context.Background(), "shared", owner)
	if err != nil || rd.Hash != res.Hash {
		t.Fatalf("the other replica: %+v %v", rd, err)
	}
	for _, c := range []struct {
		store string
		code  int
		want  string
	}{
		{"--store=zk://x:1", 2, "want bolt or etcd://"},
		{"--store=etcd://nohostport", 2, "is not HOST:PORT"},
	} {
		code, _, errs := runCmd("serve", "--state", filepath.Join(dir, "s3"), "--store-key-file", key, c.store, "--listen", "127.0.0.1:0")
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d %s", c.store, code, errs)
		}
	}
}
