package fsprotect

import (
	"fmt"
	"runtime"
)

// Option configures Pack and Open. Options a function does not use are
// ignored by it.
type Option func(*options)

type options struct {
	chunkSize    int
	concurrency  int
	expectedRoot *[32]byte
	cache        *ContentCache
}

// WithChunkSize sets the content chunk size for Pack: a power of two from
// MinChunkSize (4 KiB) to MaxChunkSize (1 MiB). Default DefaultChunkSize.
func WithChunkSize(n int) Option { return func(o *options) { o.chunkSize = n } }

// WithConcurrency sets how many goroutines Pack encrypts with. Default
// runtime.GOMAXPROCS(0). The output does not depend on it.
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = n } }

// WithExpectedRoot makes Open (and Verify) refuse an image whose root hash is
// not root, with an *AuthError of Part PartRoot.
func WithExpectedRoot(root [32]byte) Option {
	return func(o *options) { r := root; o.expectedRoot = &r }
}

// WithContentCache gives PackTree contents encrypted ahead of time. Pack
// and Open ignore it.
func WithContentCache(c *ContentCache) Option { return func(o *options) { o.cache = c } }

func buildOptions(opts []Option) (*options, error) {
	o := &options{chunkSize: DefaultChunkSize, concurrency: min(runtime.GOMAXPROCS(0), 256)}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	if o.chunkSize < MinChunkSize || o.chunkSize > MaxChunkSize || o.chunkSize&(o.chunkSize-1) != 0 {
		return nil, fmt.Errorf("check options: chunk size %d is not a power of two in [%d, %d]", o.chunkSize, MinChunkSize, MaxChunkSize)
	}
	if o.concurrency < 1 || o.concurrency > 256 {
		return nil, fmt.Errorf("check options: concurrency %d out of range [1, 256]", o.concurrency)
	}
	return o, nil
}

func log2(n int) uint32 {
	var l uint32
	for n > 1 {
		n >>= 1
		l++
	}
	return l
}
