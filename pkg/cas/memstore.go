package cas

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// MemoryStore is a Store in memory, for tests and development: its state
// ends with the process.
type MemoryStore struct {
	mu sync.RWMutex
	m  map[string]map[string][]byte
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{m: map[string]map[string][]byte{}} }

// Close does nothing.
func (s *MemoryStore) Close() error { return nil }

// View runs fn under a read lock.
func (s *MemoryStore) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return fn(&memTx{s: s})
}

// Update runs fn under the write lock; its writes apply only when it
// returns nil.
func (s *MemoryStore) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := &memTx{s: s, writes: map[string]map[string][]byte{}}
	if err := fn(tx); err != nil {
		return err
	}
	for b, kv := range tx.writes {
		if s.m[b] == nil {
			s.m[b] = map[string][]byte{}
		}
		for k, v := range kv {
			if v == nil {
				delete(s.m[b], k)
			} else {
				s.m[b][k] = v
			}
		}
	}
	return nil
}

type memTx struct {
	s      *MemoryStore
	writes map[string]map[string][]byte // nil value: deleted; nil map: read-only
}

func (t *memTx) Get(bucket, key string) ([]byte, error) {
	if w, ok := t.writes[bucket][key]; ok {
		if w == nil {
			return nil, fmt.Errorf("%s/%s: %w", bucket, key, ErrNotFound)
		}
		return bytes.Clone(w), nil
	}
	v, ok := t.s.m[bucket][key]
	if !ok {
		return nil, fmt.Errorf("%s/%s: %w", bucket, key, ErrNotFound)
	}
	return bytes.Clone(v), nil
}

func (t *memTx) set(bucket, key string, v []byte) error {
	if t.writes == nil {
		return fmt.Errorf("%w: write in a read-only transaction", ErrUnavailable)
	}
	if t.writes[bucket] == nil {
		t.writes[bucket] = map[string][]byte{}
	}
	t.writes[bucket][key] = v
	return nil
}

func (t *memTx) Put(bucket, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return t.set(bucket, key, bytes.Clone(value))
}

func (t *memTx) Delete(bucket, key string) error { return t.set(bucket, key, nil) }

func (t *memTx) DeletePrefix(bucket, prefix string) error {
	keys, _ := t.Keys(bucket, prefix)
	for _, k := range keys {
		if err := t.Delete(bucket, k); err != nil {
			return err
		}
	}
	return nil
}

func (t *memTx) Keys(bucket, prefix string) ([]string, error) {
	seen := map[string]bool{}
	for k := range t.s.m[bucket] {
		if strings.HasPrefix(k, prefix) {
			seen[k] = true
		}
	}
	for k, v := range t.writes[bucket] {
		if strings.HasPrefix(k, prefix) {
			seen[k] = v != nil
		}
	}
	var out []string
	for k, ok := range seen {
		if ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}
