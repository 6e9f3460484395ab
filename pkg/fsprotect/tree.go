package fsprotect

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/cipher"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/scone-build/scone-build/internal/lz4dict"
	"github.com/scone-build/scone-build/internal/slab"
)

// TreeEntry is one entry of a file tree given to PackTree: what one tar
// header (and its content) says about an entry to Pack.
type TreeEntry struct {
	// Path is slash-separated, relative to the root ("" or "." is the root).
	Path string
	// Type is tar.TypeReg, TypeDir, TypeSymlink, TypeLink (a hard link to
	// the earlier entry Linkname), TypeChar, TypeBlock or TypeFifo. Other
	// types are skipped and listed in Summary.Skipped, as by Pack.
	Type     byte
	Mode     int64 // permission bits (the file type bits are ignored)
	UID, GID int
	ModTime  time.Time
	Linkname string            // symlink target, or hard link target path
	Xattrs   map[string]string // extended attributes by name
	Devmajor int64
	Devminor int64
	// Content is a regular file's content. PackTree does not modify or keep
	// it; it must not change while PackTree runs. A ContentCache recognises
	// it by its backing array and length (and the path it was given with).
	Content []byte
}

// EntrySource yields the entries of a tree, in the order Pack would read
// them from a tar stream: parents before children, a hard link after its
// target. Entries calls yield once per entry and stops at the first error
// yield returns, returning it. The entry is only used during the call.
// Entries may be called more than once (PackTree without WithSaltSource
// reads the tree twice) and must yield the same entries each time.
type EntrySource interface {
	Entries(yield func(*TreeEntry) error) error
}

// PackTree writes the protected FS image of the entries of src, exactly as
// Pack writes it for a tar stream of the same entries in the same order
// (same bytes, same root hash). The content of regular files is taken from
// memory rather than copied through a tar stream, and content already
// encrypted by the ContentCache given with WithContentCache is not
// encrypted again. Without WithSaltSource the salt source is
// TreeSaltSource(src): the tree is read twice.
func PackTree(ctx context.Context, dst io.Writer, src EntrySource, key Key, opts ...Option) (*Summary, error) {
	p, err := newPacker(key, opts)
	if err != nil {
		return nil, err
	}
	if err := p.fromTree(ctx, src); err != nil {
		return nil, err
	}
	return p.packTree(ctx, dst, src)
}

// fromTree derives from the tree what the options leave to it: the salt
// source (no WithSaltSource) and the dictionary (WithTrainedDictionary).
func (p *packer) fromTree(ctx context.Context, src EntrySource) error {
	if p.needsSalt() {
		if err := p.saltFromTree(ctx, src); err != nil {
			return err
		}
	}
	if p.o.trainDict {
		d, err := TrainDictionary(ctx, src)
		if err != nil {
			return err
		}
		p.setDict(d)
	}
	return nil
}

// PackTreeParts is PackTree returning the image as slices (their
// concatenation is the image) instead of writing it: the ciphertext of
// contents in the ContentCache is not copied but referenced (the cache's
// Reset does not free what the parts reference), so the image costs only
// the memory of what was not in the cache. The parts are not modified
// afterwards.
func PackTreeParts(ctx context.Context, src EntrySource, key Key, opts ...Option) ([][]byte, *Summary, error) {
	p, err := newPacker(key, opts)
	if err != nil {
		return nil, nil, err
	}
	if err := p.fromTree(ctx, src); err != nil {
		return nil, nil, err
	}
	p.parts = &partsSink{}
	sum, err := p.packTree(ctx, nil, src)
	if err != nil {
		return nil, nil, err
	}
	return p.parts.parts, sum, nil
}

func (p *packer) packTree(ctx context.Context, dst io.Writer, src EntrySource) (*Summary, error) {
	cache := p.o.cache
	if cache != nil && (cache.chunkSize != p.o.chunkSize || cache.sk.version != p.sk.version ||
		cache.sk.keyCheck != p.sk.keyCheck || cache.salt != p.salt || cache.comp != p.o.compression ||
		!bytes.Equal(cache.dict, p.o.dict)) {
		cache = nil // made for another key, chunk size, salt, compression or dictionary: of no use here
	}
	return p.run(ctx, dst, func(ctx context.Context, pp *pipe) error {
		return src.Entries(func(e *TreeEntry) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			size := int64(0)
			if e.Type == tar.TypeReg {
				size = int64(len(e.Content))
			}
			n, err := p.add(e, size)
			if err != nil || n == nil {
				return err
			}
			if s := cache.lookup(e.Content, n.tweak); s != nil {
				j := &job{out: s.ct, n: len(e.Content), outLen: len(s.ct), recs: n.recs, done: closedChan}
				copy(n.recs, s.recs)
				p.sum.BytesCached += int64(len(e.Content))
				select {
				case pp.queue <- j:
				case <-ctx.Done():
					return ctx.Err()
				}
				return nil
			}
			return p.queueContent(ctx, e.Content, n, pp)
		})
	})
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// queueContent cuts in-memory content into jobs (no copy of the plaintext)
// and queues them.
func (p *packer) queueContent(ctx context.Context, content []byte, n *wnode, pp *pipe) error {
	size := n.size
	jobBytes := uint64(p.jobChunks * p.o.chunkSize)
	for off := uint64(0); off < size; off += jobBytes {
		var buf *jobBuf
		var out []byte // nil: the worker allocates it (image as parts)
		if p.parts == nil {
			select {
			case buf = <-pp.pool:
			case <-ctx.Done():
				return ctx.Err()
			}
			out = buf.out
		} else if err := ctx.Err(); err != nil {
			return err
		}
		m := min(jobBytes, size-off)
		first := off >> p.log2
		rs := uint64(p.recSize)
		j := &job{buf: buf, plain: content[off : off+m], out: out, n: int(m), firstChunk: first, fileSize: size, tweak: n.tweakOf(p), done: make(chan struct{}),
			recs: n.recs[first*rs : (first+chunkCount(m, p.log2))*rs]}
		pp.queue <- j
		pp.work <- j
	}
	return nil
}

// ContentCache encrypts file contents ahead of PackTree, for example while
// the tree is still being assembled. A chunk's ciphertext, nonce and tag
// depend only on the key, the chunk size, the compression, the image salt,
// the path the content is bound to and the content (not on the file's place
// in the image: with compression the writer fills in the chunks' offsets),
// so PackTree can use them as they are and produce the same image as
// without the cache. The salt must therefore be known before the tree
// is: NewContentCache needs WithSaltSource, and PackTree uses the cache
// only with the same salt source (and key and chunk size).
//
// Content is recognised by identity: the same backing array and length as
// the TreeEntry.Content that PackTree sees, given with the same path (the
// entry that brings the content; a hard link's other names do not count).
// Content encrypted under another path (a hard link whose first name in
// the tree is not the one its content came with) is encrypted again by
// PackTree. The cache keeps the ciphertext of every content encrypted
// (about its size) and a reference to the content itself until Reset. It
// is safe for concurrent use.
type ContentCache struct {
	sk        *subkeys
	salt      [saltSize]byte
	chunkSize int
	log2      uint32
	comp      Compression
	dict      []byte        // WithDictionary
	zdict     *lz4dict.Dict // dict prepared for the compressors, shared
	recSize   int
	crypto    sync.Pool // *contentCrypto

	mu    sync.Mutex
	m     map[contentKey]*sealedContent
	bytes int64
}

type contentKey struct {
	p     *byte
	n     int
	tweak [tweakSize]byte // binds the entry to the salt and the path
}

type sealedContent struct {
	ct   []byte // ciphertext of the stored chunks (len(content) bytes without compression)
	recs []byte // chunk records (offsets not filled in)
}

type contentCrypto struct {
	aead cipher.AEAD
	siv  *sivPRF
	tw   *tweaker
	z    *chunkCompressor // nil without compression
	// alloc holds the ciphertext this encryptor made: one allocator per
	// encryptor, so that trimming a compressed file's ciphertext to its
	// size gives the rest back (internal/slab).
	alloc slab.Allocator
}

// NewContentCache returns an empty cache for images packed with key, the
// chunk size of opts (WithChunkSize), the compression and dictionary of
// opts (WithCompression, WithDictionary) and the salt source of opts
// (WithSaltSource, required); other options are ignored. PackTree uses it
// only when given the same key, chunk size, compression, dictionary and
// salt source.
func NewContentCache(key Key, opts ...Option) (*ContentCache, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if !o.saltSet {
		return nil, fmt.Errorf("create content cache: %w", ErrNoSaltSource)
	}
	sk, err := deriveKeys(key, Version)
	if err != nil {
		return nil, err
	}
	c := &ContentCache{sk: sk, salt: sk.salt(o.saltSource), chunkSize: o.chunkSize, log2: log2(o.chunkSize),
		comp: o.compression, dict: o.dict, recSize: chunkRecSize, m: map[contentKey]*sealedContent{}}
	if c.comp != CompressionNone {
		c.recSize = chunkRecSizeZ
	}
	if len(c.dict) > 0 {
		c.zdict = lz4dict.NewDict(c.dict)
	}
	// Fail now rather than in Encrypt.
	cc, err := c.newCrypto()
	if err != nil {
		return nil, err
	}
	c.crypto.Put(cc)
	return c, nil
}

func (c *ContentCache) newCrypto() (*contentCrypto, error) {
	a, err := newGCM(c.sk.contentKey[:])
	if err != nil {
		return nil, err
	}
	siv, err := newSIVPRF(c.sk, c.chunkSize)
	if err != nil {
		return nil, err
	}
	cc := &contentCrypto{aead: a, siv: siv, tw: newTweaker(c.sk, c.salt)}
	if c.comp != CompressionNone {
		cc.z = newChunkCompressor(c.comp, c.chunkSize, c.zdict)
	}
	return cc, nil
}

// Encrypt encrypts content (a whole file), bound to path (the file's path
// in the tree, slash-separated, as in TreeEntry.Path), into the cache,
// unless it is empty or already there. content must not be modified
// afterwards. A path that cannot be packed fails with ErrInvalidInput.
func (c *ContentCache) Encrypt(path string, content []byte) error {
	if len(content) == 0 {
		return nil
	}
	parts, err := splitPath(path)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return invalid("encrypt %q: the root is not a file", path)
	}
	cc, _ := c.crypto.Get().(*contentCrypto)
	if cc == nil {
		if cc, err = c.newCrypto(); err != nil {
			return fmt.Errorf("encrypt content: %w", err)
		}
	}
	defer c.crypto.Put(cc)
	k := contentKey{unsafe.SliceData(content), len(content), cc.tw.tweak(strings.Join(parts, "/"))}
	c.mu.Lock()
	_, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return nil
	}
	n := len(content)
	s := &sealedContent{
		ct:   cc.alloc.Alloc(n + tagSize),
		recs: make([]byte, chunkCount(uint64(n), c.log2)*uint64(c.recSize)),
	}
	m := sealChunks(cc.aead, cc.siv, cc.z, c.chunkSize, k.tweak[:], content, s.ct, s.recs, 0, uint64(n))
	s.ct = cc.alloc.Trim(s.ct, m)
	c.mu.Lock()
	if _, ok := c.m[k]; !ok {
		c.m[k] = s
		c.bytes += int64(n)
	}
	c.mu.Unlock()
	return nil
}

// Len is the number of contents in the cache; Bytes their total size.
func (c *ContentCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Bytes is the total size of the contents in the cache.
func (c *ContentCache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Reset empties the cache, releasing the ciphertext and the contents.
func (c *ContentCache) Reset() {
	c.mu.Lock()
	c.m = map[contentKey]*sealedContent{}
	c.bytes = 0
	c.mu.Unlock()
}

func (c *ContentCache) lookup(content []byte, tweak [tweakSize]byte) *sealedContent {
	if c == nil || len(content) == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[contentKey{unsafe.SliceData(content), len(content), tweak}]
}
