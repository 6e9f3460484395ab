package cas

import (
	"crypto/rand"
	"errors"
	"sync"
	"time"
)

// Nonce errors.
var (
	// ErrNonce: the nonce is unknown, expired or was used already.
	ErrNonce = errors.New("nonce unknown, expired or used")
	// ErrBusy: too many nonces are outstanding; try again later.
	ErrBusy = errors.New("too many outstanding nonces")
)

// nonceKind keeps enclave challenges and owner nonces apart: a nonce
// issued for one is never accepted for the other.
type nonceKind uint8

const (
	nonceEnclave nonceKind = iota + 1
	nonceOwner
)

// nonceTable issues single-use nonces valid for ttl. It holds at most max
// unused ones: two generations of maps, the current one and the one before
// it; every ttl the older is dropped (all its nonces have expired by then).
type nonceTable struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu        sync.Mutex
	cur, prev map[[32]byte]nonceEntry
	curStart  time.Time
}

type nonceEntry struct {
	kind    nonceKind
	expires time.Time
}

func newNonceTable(ttl time.Duration, max int, now func() time.Time) *nonceTable {
	return &nonceTable{ttl: ttl, max: max, now: now, cur: map[[32]byte]nonceEntry{}, prev: map[[32]byte]nonceEntry{}, curStart: now()}
}

func (t *nonceTable) rotate(now time.Time) {
	if now.Sub(t.curStart) >= t.ttl {
		if now.Sub(t.curStart) >= 2*t.ttl {
			t.prev = map[[32]byte]nonceEntry{}
		} else {
			t.prev = t.cur
		}
		t.cur = map[[32]byte]nonceEntry{}
		t.curStart = now
	}
}

// issue returns a fresh nonce of kind.
func (t *nonceTable) issue(kind nonceKind) ([32]byte, error) {
	var n [32]byte
	if _, err := rand.Read(n[:]); err != nil {
		return n, err
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rotate(now)
	if len(t.cur)+len(t.prev) >= t.max {
		return [32]byte{}, ErrBusy
	}
	t.cur[n] = nonceEntry{kind: kind, expires: now.Add(t.ttl)}
	return n, nil
}

// take accepts a nonce of kind once, within its validity.
func (t *nonceTable) take(kind nonceKind, n [32]byte) error {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rotate(now)
	e, ok := t.cur[n]
	if ok {
		delete(t.cur, n)
	} else if e, ok = t.prev[n]; ok {
		delete(t.prev, n)
	}
	if !ok || e.kind != kind || now.After(e.expires) {
		return ErrNonce
	}
	return nil
}
