package cas

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BoltStore is a Store in one bbolt file. Values are encrypted with
// AES-256-GCM under the store key (additional data: bucket and key name);
// bucket and key names (policy names) are not. Concurrent updates are
// batched into one transaction (one fsync for many activations).
type BoltStore struct {
	db *bolt.DB
	s  *valueSealer
}

const (
	metaBucket = "meta"
	checkKey   = "store-key-check"
	checkValue = "scone-cas store v1"
)

// OpenBolt opens (or creates) the store file at path. storeKey (32 bytes)
// encrypts the values; opening a store written with another key fails with
// ErrCorrupt.
func OpenBolt(path string, storeKey []byte) (*BoltStore, error) {
	s, err := newValueSealer(storeKey)
	if err != nil {
		return nil, fmt.Errorf("opening CAS store %q: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("opening CAS store %q: %w: another process holds it open (is another scone-cas running with this state?)", path, ErrUnavailable)
		}
		return nil, fmt.Errorf("opening CAS store %q: %w", path, err)
	}
	db.MaxBatchDelay = 2 * time.Millisecond
	b := &BoltStore{db: db, s: s}
	err = b.Update(context.Background(), func(tx Tx) error {
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
		db.Close()
		if errors.Is(err, ErrCorrupt) {
			return nil, fmt.Errorf("opening CAS store %q: %w (the store key is not the one this store was written with, or the file was modified)", path, err)
		}
		return nil, fmt.Errorf("opening CAS store %q: %w", path, err)
	}
	return b, nil
}

// Close closes the file.
func (b *BoltStore) Close() error { return b.db.Close() }

// fnError carries an error of the caller's function through bbolt.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

func (b *BoltStore) result(err error) error {
	var fe fnError
	if errors.As(err, &fe) {
		return fe.err
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// View runs fn in a read-only transaction.
func (b *BoltStore) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.result(b.db.View(func(tx *bolt.Tx) error {
		if err := fn(&boltTx{tx: tx, s: b.s}); err != nil {
			return fnError{err}
		}
		return nil
	}))
}

// Update runs fn in a read-write transaction, batched with concurrent ones.
func (b *BoltStore) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.result(b.db.Batch(func(tx *bolt.Tx) error {
		if err := fn(&boltTx{tx: tx, s: b.s}); err != nil {
			return fnError{err}
		}
		return nil
	}))
}

type boltTx struct {
	tx *bolt.Tx
	s  *valueSealer
}

func (t *boltTx) Get(bucket, key string) ([]byte, error) {
	bk := t.tx.Bucket([]byte(bucket))
	if bk == nil {
		return nil, fmt.Errorf("%s/%s: %w", bucket, key, ErrNotFound)
	}
	v := bk.Get([]byte(key))
	if v == nil {
		return nil, fmt.Errorf("%s/%s: %w", bucket, key, ErrNotFound)
	}
	return t.s.open(bucket, key, v)
}

func (t *boltTx) Put(bucket, key string, value []byte) error {
	bk, err := t.tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return fmt.Errorf("%w: bucket %s: %v", ErrUnavailable, bucket, err)
	}
	sealed, err := t.s.seal(bucket, key, value)
	if err != nil {
		return err
	}
	if err := bk.Put([]byte(key), sealed); err != nil {
		return fmt.Errorf("%w: %s/%s: %v", ErrUnavailable, bucket, key, err)
	}
	return nil
}

func (t *boltTx) Delete(bucket, key string) error {
	bk := t.tx.Bucket([]byte(bucket))
	if bk == nil {
		return nil
	}
	if err := bk.Delete([]byte(key)); err != nil {
		return fmt.Errorf("%w: %s/%s: %v", ErrUnavailable, bucket, key, err)
	}
	return nil
}

func (t *boltTx) DeletePrefix(bucket, prefix string) error {
	keys, err := t.Keys(bucket, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := t.Delete(bucket, k); err != nil {
			return err
		}
	}
	return nil
}

func (t *boltTx) Keys(bucket, prefix string) ([]string, error) {
	bk := t.tx.Bucket([]byte(bucket))
	if bk == nil {
		return nil, nil
	}
	var out []string
	c := bk.Cursor()
	p := []byte(prefix)
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		out = append(out, string(k))
	}
	return out, nil
}
