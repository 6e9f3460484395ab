package cas

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/scone-build/scone-build/pkg/casproto"
)

var testStoreKey = bytes.Repeat([]byte{7}, StoreKeySize)

// storeKinds are the Store implementations every store test runs on (etcd
// when the etcd binary is there).
var storeKinds = []struct {
	name string
	open func(t *testing.T) Store
}{
	{"memory", func(t *testing.T) Store { return NewMemoryStore() }},
	{"bolt", func(t *testing.T) Store { return openBolt(t, filepath.Join(t.TempDir(), "cas.db"), testStoreKey) }},
	{"etcd", func(t *testing.T) Store { return openTestEtcd(t, testStoreKey) }},
}

func openBolt(t testing.TB, path string, key []byte) *BoltStore {
	t.Helper()
	s, err := OpenBolt(path, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestStoreSemantics: both stores: get, put, delete, keys by prefix, a
// failed update leaves nothing behind.
func TestStoreSemantics(t *testing.T) {
	ctx := context.Background()
	for _, c := range storeKinds {
		t.Run(c.name, func(t *testing.T) {
			s := c.open(t)
			err := s.Update(ctx, func(tx Tx) error {
				for _, k := range []string{"a/1", "a/2", "b/1"} {
					if err := tx.Put("x", k, []byte("v"+k)); err != nil {
						return err
					}
				}
				ks, _ := tx.Keys("x", "a/")
				if strings.Join(ks, ",") != "a/1,a/2" {
					t.Errorf("keys in the transaction: %v", ks)
				}
				return tx.Put("x", "empty", nil)
			})
			if err != nil {
				t.Fatal(err)
			}
			boom := errors.New("boom")
			if err := s.Update(ctx, func(tx Tx) error {
				tx.Put("x", "a/3", []byte("no"))
				tx.Delete("x", "a/1")
				return boom
			}); err != boom {
				t.Fatalf("update error %v, want the function's", err)
			}
			s.View(ctx, func(tx Tx) error {
				ks, _ := tx.Keys("x", "a/")
				if strings.Join(ks, ",") != "a/1,a/2" {
					t.Errorf("a failed update changed the store: %v", ks)
				}
				if v, err := tx.Get("x", "a/2"); err != nil || string(v) != "va/2" {
					t.Errorf("get: %q %v", v, err)
				}
				if v, err := tx.Get("x", "empty"); err != nil || len(v) != 0 {
					t.Errorf("empty value: %q %v", v, err)
				}
				if _, err := tx.Get("x", "zz"); !errors.Is(err, ErrNotFound) {
					t.Errorf("missing key: %v", err)
				}
				if _, err := tx.Get("nobucket", "zz"); !errors.Is(err, ErrNotFound) {
					t.Errorf("missing bucket: %v", err)
				}
				return nil
			})
			s.Update(ctx, func(tx Tx) error { return tx.Delete("x", "a/1") })
			s.View(ctx, func(tx Tx) error {
				if ks, _ := tx.Keys("x", ""); strings.Join(ks, ",") != "a/2,b/1,empty" {
					t.Errorf("after delete: %v", ks)
				}
				return nil
			})
			s.Update(ctx, func(tx Tx) error {
				tx.Put("x", "a/9", []byte("9"))
				if err := tx.DeletePrefix("x", "a/"); err != nil {
					return err
				}
				if _, err := tx.Get("x", "a/2"); !errors.Is(err, ErrNotFound) {
					t.Errorf("a/2 after DeletePrefix in the transaction: %v", err)
				}
				return nil
			})
			s.View(ctx, func(tx Tx) error {
				if ks, _ := tx.Keys("x", ""); strings.Join(ks, ",") != "b/1,empty" {
					t.Errorf("after DeletePrefix: %v", ks)
				}
				return nil
			})
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := s.View(cctx, func(Tx) error { return nil }); !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled context: %v", err)
			}
		})
	}
}

// TestBoltRestart: policies, generated secrets and activation counts
// survive a restart; another store key cannot open the store.
func TestBoltRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cas.db")
	identity := genP256(t)
	owner := genEd25519(t)
	var fsKey []byte
	var hash string
	{
		st, err := OpenBolt(path, testStoreKey)
		if err != nil {
			t.Fatal(err)
		}
		tc := newTestCAS(t, WithStore(st), WithIdentityKey(identity))
		hash = tc.apply(t, owner, policyDoc(t, owner, "keep", "", "accept: {simulation: true}\nsecrets: {k: {kind: random, size: 32}}\ngrants: {fs_key: k}\n"))
		_, m := tc.attest(t, tc.enclave(), "keep")
		fsKey = m.FSKey
		tc.ts.Close()
		st.Close()
	}
	if _, err := OpenBolt(path, bytes.Repeat([]byte{8}, 32)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "store key") {
		t.Fatalf("another store key: %v", err)
	}
	if _, err := OpenBolt(path, []byte("short")); err == nil {
		t.Fatal("a short store key")
	}
	st := openBolt(t, path, testStoreKey)
	tc := newTestCAS(t, WithStore(st), WithIdentityKey(identity))
	_, m := tc.attest(t, tc.enclave(), "keep")
	if m == nil || !bytes.Equal(m.FSKey, fsKey) {
		t.Fatal("the FS key changed across the restart")
	}
	rd, err := tc.owner.Read(context.Background(), "keep", owner)
	if err != nil || rd.Hash != hash || rd.Activations != 2 {
		t.Fatalf("after restart: %+v %v", rd, err)
	}
}

// TestBoltTamper: a modified value, or a value moved to another key, is
// detected (GCM with bucket and key as additional data); the CAS refuses
// to release and says its store is damaged. Nothing in the file is
// plaintext.
func TestBoltTamper(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cas.db")
	owner := genEd25519(t)
	st, err := OpenBolt(path, testStoreKey)
	if err != nil {
		t.Fatal(err)
	}
	tc := newTestCAS(t, WithStore(st))
	tc.apply(t, owner, policyDoc(t, owner, "t1", "", "accept: {simulation: true}\nsecrets: {pw: {kind: value, value: very-secret-password}}\ngrants: {env: {PW: \"${pw}\"}}\n"))
	tc.apply(t, owner, policyDoc(t, owner, "t2", "", "accept: {simulation: true}\n"))
	tc.ts.Close()
	st.Close()

	raw := func(fn func(tx *bolt.Tx) error) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	raw(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if bytes.Contains(v, []byte("very-secret-password")) || bytes.Contains(v, []byte("version: 1")) {
					t.Errorf("plaintext in %s/%s", name, k)
				}
				return nil
			})
		})
	})
	// Move t2's current record over t1's: a valid ciphertext, under another key.
	raw(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketCurrent))
		return b.Put([]byte("t1"), bytes.Clone(b.Get([]byte("t2"))))
	})
	st2 := openBolt(t, path, testStoreKey)
	tc2 := newTestCAS(t, WithStore(st2))
	r, _ := tc2.attest(t, tc2.enclave(), "t1")
	if r.Status != casproto.StatusRefused || !strings.Contains(r.Reason, "store is damaged") {
		t.Fatalf("moved value: %v %q", r.Status, r.Reason)
	}
	if _, err := tc2.owner.Read(context.Background(), "t1", owner); err == nil || !strings.Contains(err.Error(), "does not decrypt") {
		t.Fatalf("read of a moved value: %v", err)
	}
	tc2.ts.Close()
	st2.Close()
	// Flip one bit of t2's current record.
	raw(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketCurrent))
		v := bytes.Clone(b.Get([]byte("t2")))
		v[len(v)-1] ^= 1
		return b.Put([]byte("t2"), v)
	})
	st3 := openBolt(t, path, testStoreKey)
	err = st3.View(context.Background(), func(tx Tx) error { _, err := tx.Get(bucketCurrent, "t2"); return err })
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("flipped bit: %v", err)
	}
	if !strings.Contains(tc2.logs.String(), "store is damaged") {
		t.Errorf("the damage is not logged: %s", tc2.logs.String())
	}
}
