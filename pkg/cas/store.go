package cas

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Store keeps the CAS's state: a key-value store with buckets and
// transactions. OpenBolt (one file, encrypted at rest) and NewMemoryStore
// (for tests and development) implement it.
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction: all of its writes or
	// none. fn may run more than once (an implementation may batch
	// concurrent updates and retry them), so it must have no effects
	// outside tx but on variables it sets anew each time.
	Update(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Tx is a transaction of a Store. Values returned by Get are the caller's.
type Tx interface {
	// Get returns the value of key in bucket, or an error wrapping
	// ErrNotFound.
	Get(bucket, key string) ([]byte, error)
	Put(bucket, key string, value []byte) error
	// Delete removes key (absent keys are no error).
	Delete(bucket, key string) error
	// DeletePrefix removes the keys of bucket that begin with prefix.
	DeletePrefix(bucket, prefix string) error
	// Keys lists the keys of bucket that begin with prefix, in ascending
	// order.
	Keys(bucket, prefix string) ([]string, error)
}

// Errors of the store.
var (
	// ErrNotFound: no such key (or policy).
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: the store cannot be read or written now.
	ErrUnavailable = errors.New("CAS store unavailable")
	// ErrCorrupt: a stored value does not decrypt: it was modified or
	// moved, or the store key is not the one it was written with.
	ErrCorrupt = errors.New("CAS store value does not decrypt")
)

// StoreKeySize is the size of the key that encrypts the store at rest.
const StoreKeySize = 32

// valueSealer encrypts store values with AES-256-GCM under the store key,
// a random 12-byte nonce before the ciphertext, and the bucket and key
// name as additional data, so that a value moved to another key (or
// bucket) does not decrypt.
type valueSealer struct{ aead cipher.AEAD }

func newValueSealer(key []byte) (*valueSealer, error) {
	if len(key) != StoreKeySize {
		return nil, fmt.Errorf("store key of %d bytes: want %d", len(key), StoreKeySize)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &valueSealer{aead: a}, nil
}

func aad(bucket, key string) []byte {
	b := make([]byte, 0, len(bucket)+1+len(key))
	b = append(b, bucket...)
	b = append(b, 0)
	return append(b, key...)
}

func (s *valueSealer) seal(bucket, key string, v []byte) ([]byte, error) {
	out := make([]byte, 12, 12+len(v)+s.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return s.aead.Seal(out, out[:12], v, aad(bucket, key)), nil
}

func (s *valueSealer) open(bucket, key string, v []byte) ([]byte, error) {
	if len(v) < 12+s.aead.Overhead() {
		return nil, fmt.Errorf("%w: %s/%s: %d bytes, too short", ErrCorrupt, bucket, key, len(v))
	}
	pt, err := s.aead.Open(nil, v[:12], v[12:], aad(bucket, key))
	if err != nil {
		return nil, fmt.Errorf("%w: %s/%s: modified or moved, or another store key", ErrCorrupt, bucket, key)
	}
	return pt, nil
}
