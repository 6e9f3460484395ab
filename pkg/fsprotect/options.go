package fsprotect

import (
	"bytes"
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
	version      uint32
	saltSource   []byte
	saltSet      bool // WithSaltSource given
	compression  Compression
	dict         []byte
	trainDict    bool // WithTrainedDictionary
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

// WithSaltSource gives Pack, PackTree, PackTarFile and NewContentCache the
// source of the image salt (format version 2): bytes that identify the
// content being packed, such as the source image's layer digests. Equal
// trees may share a salt source; different trees must not (files at the
// same path with the same content would then encrypt alike in both
// images). The salt stored in the image is a keyed hash of it
// (docs/fsprotect.md). Without it, PackTree and PackTarFile derive it from
// the tree (TreeSaltSource), which costs a pass over the contents; Pack,
// which streams, and NewContentCache fail with ErrNoSaltSource.
func WithSaltSource(src []byte) Option {
	return func(o *options) { o.saltSource, o.saltSet = bytes.Clone(src), true }
}

// WithCompression makes Pack, PackTree, PackTarFile and NewContentCache
// compress each chunk before encrypting it (docs/fsprotect.md, "Per-chunk
// compression"); a chunk that does not shrink is stored as it is. Default
// CompressionNone. Readers need no option: the image says how it is stored.
func WithCompression(c Compression) Option { return func(o *options) { o.compression = c } }

// WithDictionary makes Pack, PackTree, PackTarFile and NewContentCache
// compress chunks against dict, an LZ4 dictionary of 1 to
// MaxDictionarySize bytes that the image then carries in its index
// (header codec 2; docs/fsprotect.md, "Image dictionary"). A dictionary
// made from the image's own contents (TrainDictionary) gives every 4 KiB
// chunk a history: about 10% smaller images, read as fast. It needs
// WithCompression; an empty dict means none.
func WithDictionary(dict []byte) Option {
	return func(o *options) { o.dict = bytes.Clone(dict) }
}

// WithTrainedDictionary makes PackTree, PackTreeParts and PackTarFile
// train an image dictionary from the contents they pack (TrainDictionary:
// one more pass over the entries in memory; for a tar file, during the
// pass that derives the salt, or one more) and compress against it as
// with WithDictionary. Pack, which reads its stream once, ignores it. It
// needs WithCompression, and excludes WithDictionary.
func WithTrainedDictionary() Option { return func(o *options) { o.trainDict = true } }

// withVersion makes Pack write format version v. Version 1 is only written
// by tests (the v1 vectors, the equality leak it has): it binds no chunk to
// its path or image.
func withVersion(v uint32) Option { return func(o *options) { o.version = v } }

func buildOptions(opts []Option) (*options, error) {
	o := &options{chunkSize: DefaultChunkSize, concurrency: min(runtime.GOMAXPROCS(0), 256), version: Version}
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
	if !knownVersion(o.version) {
		return nil, fmt.Errorf("check options: format version %d not in [%d, %d]", o.version, MinVersion, Version)
	}
	if o.compression < CompressionNone || o.compression > CompressionLZ4HC {
		return nil, fmt.Errorf("check options: unknown compression %d", int(o.compression))
	}
	if o.compression != CompressionNone && o.version < 2 {
		return nil, fmt.Errorf("check options: compression needs format version 2")
	}
	if len(o.dict) > MaxDictionarySize {
		return nil, fmt.Errorf("check options: dictionary of %d bytes, at most %d", len(o.dict), MaxDictionarySize)
	}
	if (len(o.dict) > 0 || o.trainDict) && o.compression == CompressionNone {
		return nil, fmt.Errorf("check options: a dictionary needs compression (WithCompression)")
	}
	if len(o.dict) > 0 && o.trainDict {
		return nil, fmt.Errorf("check options: WithDictionary and WithTrainedDictionary both given: give one")
	}
	if o.saltSet && len(o.saltSource) == 0 {
		return nil, fmt.Errorf("check options: empty salt source: give bytes that identify the packed tree (for example its layer digests)")
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
