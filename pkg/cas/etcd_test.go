package cas

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/scone-build/scone-build/internal/etcdtest"
	"github.com/scone-build/scone-build/pkg/casproto"
)

func TestMain(m *testing.M) {
	code := m.Run()
	etcdtest.Stop()
	os.Exit(code)
}

func startTestEtcd() (string, string) { return etcdtest.Start() }

// openTestEtcd opens an etcd store under a prefix of its own, or skips.
func openTestEtcd(t testing.TB, key []byte) *EtcdStore {
	t.Helper()
	addr, skip := startTestEtcd()
	if addr == "" {
		t.Skip(skip)
	}
	return openEtcdAt(t, addr, etcdtest.Prefix("test"), key)
}

func openEtcdAt(t testing.TB, addr, prefix string, key []byte) *EtcdStore {
	t.Helper()
	s, err := OpenEtcd(context.Background(), []string{addr}, prefix, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestEtcdReplicas: two CAS replicas (one identity) on one etcd serve
// one set of policies: a policy applied at one is released by the other,
// max_activations holds across both under concurrency, the activation
// count is shared; a replica with another store key cannot open the store.
func TestEtcdReplicas(t *testing.T) {
	addr, skip := startTestEtcd()
	if addr == "" {
		t.Skip(skip)
	}
	prefix := etcdtest.Prefix("replicas")
	identity, simKey := genP256(t), genP256(t)
	replica := func() *testCAS {
		tc := newTestCAS(t, WithStore(openEtcdAt(t, addr, prefix, testStoreKey)), WithIdentityKey(identity), WithSimulationKeys(&simKey.PublicKey))
		tc.simKey = simKey // both replicas accept the enclaves' simulation key
		return tc
	}
	a, b := replica(), replica()
	owner := genEd25519(t)
	hash := a.apply(t, owner, policyDoc(t, owner, "shared", "", "accept: {simulation: true, max_activations: 5}\nsecrets: {k: {kind: random, size: 32}}\ngrants: {fs_key: k}\n"))
	_, m1 := b.attest(t, b.enclave(), "shared")
	_, m2 := a.attest(t, a.enclave(), "shared")
	if m1 == nil || m2 == nil || !bytes.Equal(m1.FSKey, m2.FSKey) {
		t.Fatal("the replicas released different secrets")
	}
	var released atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tc := a
			if i%2 == 1 {
				tc = b
			}
			if r, _ := tc.attest(t, tc.enclave(), "shared"); r.Status == casproto.StatusReleased {
				released.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := released.Load(); n != 3 {
		t.Fatalf("%d more releases, max_activations leaves 3", n)
	}
	rd, err := b.owner.Read(context.Background(), "shared", owner)
	if err != nil || rd.Hash != hash || rd.Activations != 5 {
		t.Fatalf("read at b: %+v %v", rd, err)
	}
	if _, err := OpenEtcd(context.Background(), []string{addr}, prefix, bytes.Repeat([]byte{9}, 32)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("another store key: %v", err)
	}
}
