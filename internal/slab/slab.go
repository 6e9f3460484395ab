package slab

import "sync"

// BlockSize is the size of the blocks small slices are carved from: four
// huge pages, so that at most a quarter of a block's huge pages is shared
// with its neighbours in the heap.
const BlockSize = 8 << 20

// own is the size from which a slice gets a block of its own (as make would
// give it): carving it from a shared block would waste up to that much of
// the block's tail.
const own = BlockSize / 8

// Allocator carves slices from blocks; it is safe for concurrent use. The
// zero value is ready to use.
type Allocator struct {
	mu    sync.Mutex
	block []byte // the current block; block[off:] is free
	off   int
	// last is the length of the most recent slice carved from block,
	// which ends at off: Trim gives its tail back.
	last int
}

// Alloc returns a slice of length and capacity n whose contents are
// unspecified: zero, or bytes of a slice Trim gave back. Callers overwrite
// it (clearing would touch, and so fault in, memory a caller may never
// use: a compressed file's ciphertext ends well before its bound).
func (a *Allocator) Alloc(n int) []byte {
	if n <= 0 {
		return []byte{}
	}
	if n >= own {
		b := make([]byte, n)
		advise(b)
		return b
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.block)-a.off < n {
		a.block, a.off = make([]byte, BlockSize), 0
		advise(a.block)
	}
	b := a.block[a.off : a.off+n : a.off+n]
	a.off += n
	a.last = n
	return b
}

// Trim returns b[:n:n] for a slice b that Alloc returned. When b is the
// most recent slice of its block, the bytes past n go back to the block
// for the next Alloc (as they are).
func (a *Allocator) Trim(b []byte, n int) []byte {
	if n < 0 || n > len(b) {
		n = len(b)
	}
	if n == len(b) {
		return b[:n:n]
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == len(b) && a.off >= len(b) && &a.block[a.off-len(b)] == &b[0] {
		a.off -= len(b) - n
		a.last = n
	}
	return b[:n:n]
}
