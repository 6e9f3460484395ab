package cas

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// EtcdStore is a Store in an etcd cluster, so that several CAS replicas
// serve one set of policies. Keys are PREFIX + bucket + "/" + key; values
// are encrypted like BoltStore's (AES-256-GCM under the store key, bucket
// and key as additional data). Update is optimistic: it reads at one
// revision, and commits its writes in one etcd transaction only if
// nothing it read changed since (every key read keeps its revision, a key
// found absent stays absent, a listed range gains no key); otherwise it
// runs fn again.
type EtcdStore struct {
	c      *clientv3.Client
	prefix string
	s      *valueSealer
}

// Limits of an etcd transaction.
const (
	etcdRetries    = 64
	maxEtcdValue   = 1<<20 + 256<<10 // below etcd's default request limit (1.5 MiB)
	etcdDialTimout = 5 * time.Second
)

// OpenEtcd connects to the etcd cluster at endpoints (HOST:PORT or URLs)
// and keeps the state under prefix (default "/scone-cas/"). A store
// written with another store key fails with ErrCorrupt.
func OpenEtcd(ctx context.Context, endpoints []string, prefix string, storeKey []byte) (*EtcdStore, error) {
	s, err := newValueSealer(storeKey)
	if err != nil {
		return nil, fmt.Errorf("opening etcd store: %w", err)
	}
	if prefix == "" {
		prefix = "/scone-cas/"
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: etcdDialTimout, Logger: zap.NewNop(), Context: ctx})
	if err != nil {
		return nil, fmt.Errorf("opening etcd store %v: %w: %v", endpoints, ErrUnavailable, err)
	}
	e := &EtcdStore{c: c, prefix: prefix, s: s}
	cctx, cancel := context.WithTimeout(ctx, etcdDialTimout)
	defer cancel()
	err = e.Update(cctx, func(tx Tx) error {
		v, err := tx.Get(metaBucket, checkKey)
		if errors.Is(err, ErrNotFound) {
			return tx.Put(metaBucket, checkKey, []byte(checkValue))
		}
		if err != nil {
			return err
		}
		if string(v) != checkValue {
			return fmt.Errorf("%w: unexpected check value", ErrCorrupt)
		}
		return nil
	})
	if err != nil {
		c.Close()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("%w: no answer within %v", ErrUnavailable, etcdDialTimout)
		}
		if errors.Is(err, ErrCorrupt) {
			return nil, fmt.Errorf("opening etcd store %v: %w (the store key is not the one this store was written with)", endpoints, err)
		}
		return nil, fmt.Errorf("opening etcd store %v: %w", endpoints, err)
	}
	return e, nil
}

// Close closes the client.
func (e *EtcdStore) Close() error { return e.c.Close() }

func (e *EtcdStore) key(bucket, key string) string { return e.prefix + bucket + "/" + key }

func unavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: etcd: %v", ErrUnavailable, err)
}

// View runs fn reading one revision of the store.
func (e *EtcdStore) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return fn(&etcdTx{e: e, ctx: ctx})
}

// Update runs fn and commits its writes if nothing it read changed;
// else it runs fn again (up to 64 times).
func (e *EtcdStore) Update(ctx context.Context, fn func(Tx) error) error {
	for i := 0; i < etcdRetries; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		tx := &etcdTx{e: e, ctx: ctx, writes: map[string]*[]byte{}}
		if err := fn(tx); err != nil {
			return err
		}
		if len(tx.writes) == 0 && len(tx.delPrefixes) == 0 {
			return nil
		}
		ok, err := tx.commit()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		time.Sleep(time.Duration(i+1) * time.Millisecond) // contention: let the winner finish
	}
	return fmt.Errorf("%w: etcd: the transaction conflicted %d times", ErrUnavailable, etcdRetries)
}

type etcdTx struct {
	e   *EtcdStore
	ctx context.Context
	rev int64 // the revision read (0 until the first read)

	cmps        []clientv3.Cmp
	writes      map[string]*[]byte // full etcd key -> value (nil: deleted); nil map: read-only
	delPrefixes []string           // full etcd key prefixes deleted
}

func (t *etcdTx) get(key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	if t.rev != 0 {
		opts = append(opts, clientv3.WithRev(t.rev))
	}
	r, err := t.e.c.Get(t.ctx, key, opts...)
	if err != nil {
		return nil, unavailable(err)
	}
	if t.rev == 0 {
		t.rev = r.Header.Revision
	}
	return r, nil
}

func (t *etcdTx) deletedByPrefix(k string) bool {
	for _, p := range t.delPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

func (t *etcdTx) Get(bucket, key string) ([]byte, error) {
	k := t.e.key(bucket, key)
	if w, ok := t.writes[k]; ok {
		if w == nil {
			return nil, fmt.Errorf("%s/%s: %w", bucket, key, ErrNotFound)
		}
		return append([]byte(nil), (*w)...), nil
	}
	if t.deletedByPrefix(k) {
		return nil, fmt.Errorf("%s/%s: %w", bucket, key, ErrNotFound)
	}
	r, err := t.get(k)
	if err != nil {
		return nil, err
	}
	if len(r.Kvs) == 0 {
		t.cmps = append(t.cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
		return nil, fmt.Errorf("%s/%s: %w", bucket, key, ErrNotFound)
	}
	kv := r.Kvs[0]
	t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(k), "=", kv.ModRevision))
	return t.e.s.open(bucket, key, kv.Value)
}

func (t *etcdTx) Put(bucket, key string, value []byte) error {
	if t.writes == nil {
		return fmt.Errorf("%w: write in a read-only transaction", ErrUnavailable)
	}
	if t.deletedByPrefix(t.e.key(bucket, key)) {
		return fmt.Errorf("%s/%s: the etcd store cannot put a key deleted by DeletePrefix in the same transaction", bucket, key)
	}
	sealed, err := t.e.s.seal(bucket, key, value)
	if err != nil {
		return err
	}
	if len(sealed) > maxEtcdValue {
		return fmt.Errorf("%s/%s: a value of %d bytes is more than an etcd store keeps (%d)", bucket, key, len(sealed), maxEtcdValue)
	}
	t.writes[t.e.key(bucket, key)] = &sealed
	return nil
}

func (t *etcdTx) Delete(bucket, key string) error {
	if t.writes == nil {
		return fmt.Errorf("%w: write in a read-only transaction", ErrUnavailable)
	}
	t.writes[t.e.key(bucket, key)] = nil
	return nil
}

func (t *etcdTx) DeletePrefix(bucket, prefix string) error {
	if t.writes == nil {
		return fmt.Errorf("%w: write in a read-only transaction", ErrUnavailable)
	}
	p := t.e.key(bucket, prefix)
	for k := range t.writes {
		if strings.HasPrefix(k, p) {
			delete(t.writes, k)
		}
	}
	t.delPrefixes = append(t.delPrefixes, p)
	return nil
}

func (t *etcdTx) Keys(bucket, prefix string) ([]string, error) {
	p := t.e.key(bucket, prefix)
	base := t.e.key(bucket, "")
	seen := map[string]bool{}
	if !t.deletedByPrefix(p) {
		r, err := t.get(p, clientv3.WithPrefix(), clientv3.WithKeysOnly())
		if err != nil {
			return nil, err
		}
		for _, kv := range r.Kvs {
			k := string(kv.Key)
			t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(k), "=", kv.ModRevision))
			if !t.deletedByPrefix(k) {
				seen[k] = true
			}
		}
		// No key may appear in the range before the commit.
		t.cmps = append(t.cmps, clientv3.Compare(clientv3.CreateRevision(p), "<", t.rev+1).WithPrefix())
	}
	for k, v := range t.writes {
		if strings.HasPrefix(k, p) {
			seen[k] = v != nil
		}
	}
	var out []string
	for k, ok := range seen {
		if ok {
			out = append(out, strings.TrimPrefix(k, base))
		}
	}
	sort.Strings(out)
	return out, nil
}

// commit applies the writes if the compares hold; false: a conflict.
func (t *etcdTx) commit() (bool, error) {
	var ops []clientv3.Op
	for _, p := range t.delPrefixes {
		ops = append(ops, clientv3.OpDelete(p, clientv3.WithPrefix()))
	}
	keys := make([]string, 0, len(t.writes))
	for k := range t.writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := t.writes[k]; v == nil {
			ops = append(ops, clientv3.OpDelete(k))
		} else {
			ops = append(ops, clientv3.OpPut(k, string(*v)))
		}
	}
	r, err := t.e.c.Txn(t.ctx).If(t.cmps...).Then(ops...).Commit()
	if err != nil {
		return false, unavailable(err)
	}
	return r.Succeeded, nil
}
