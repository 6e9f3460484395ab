package fsprotect

import (
	"fmt"

	"github.com/pierrec/lz4/v4"

	"github.com/scone-build/scone-build/internal/lz4dict"
)

// Compression selects how Pack stores chunk plaintexts (docs/fsprotect.md,
// "Per-chunk compression"). Every codec writes the same format (LZ4 block
// format, header codec 1) and is read by the same decoder; the codecs
// differ only in how hard the writer searches for matches.
type Compression int

const (
	// CompressionNone stores every chunk as it is (header flags 0): the
	// image leaks what an uncompressed image leaks and no more.
	CompressionNone Compression = iota
	// CompressionLZ4 compresses each chunk with LZ4's fast compressor; a
	// chunk that does not shrink is stored as it is. The converter's
	// default.
	CompressionLZ4
	// CompressionLZ4HC compresses each chunk with LZ4's high-compression
	// search (level 9): about 5% smaller images for ~5x the compression
	// CPU; the same decoder reads them as fast.
	CompressionLZ4HC
)

// Codec bytes of the header (offset 192) when flags bit 0 is set:
// codecLZ4, chunks are LZ4 blocks; codecLZ4Dict, chunks are LZ4 blocks
// against the image's dictionary, which the index carries.
const (
	codecLZ4     = 1
	codecLZ4Dict = 2
)

// MaxDictionarySize is the largest image dictionary (WithDictionary): an
// LZ4 match reaches 64 KiB back.
const MaxDictionarySize = lz4dict.MaxDictSize

// Chunk records of images with compression (flags bit 0) carry the stored
// form of each chunk: nonce (12) | tag (16) | u32 stored | u64 offset.
const (
	chunkRecSizeZ  = chunkRecSize + 4 + 8
	storedCompBit  = 1 << 31 // stored: the chunk is an LZ4 block
	storedLenMask  = 1<<21 - 1
	chunkAADSizeZ  = 20 // u64 index | u64 file size | u32 stored
	storedReserved = ^uint32(storedCompBit | storedLenMask)
)

// String returns the name ParseCompression accepts.
func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionLZ4:
		return "lz4"
	case CompressionLZ4HC:
		return "lz4hc"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// CompressionNames lists the names ParseCompression accepts.
func CompressionNames() []string { return []string{"none", "lz4", "lz4hc"} }

// ParseCompression parses a compression name ("none", "lz4", "lz4hc").
func ParseCompression(s string) (Compression, error) {
	for _, c := range []Compression{CompressionNone, CompressionLZ4, CompressionLZ4HC} {
		if s == c.String() {
			return c, nil
		}
	}
	return 0, fmt.Errorf("parse compression %q: %w (want one of none, lz4, lz4hc)", s, ErrInvalidInput)
}

// chunkCompressor compresses chunks for one goroutine (the LZ4 compressors
// keep tables; their output depends only on the chunk and the dictionary).
type chunkCompressor struct {
	c    Compression
	fast lz4.Compressor
	hc   lz4.CompressorHC
	dict *lz4dict.Encoder // with an image dictionary
	out  []byte
}

// newChunkCompressor returns a compressor for c; with a dictionary d
// (prepared once per image, shared) it compresses against it.
func newChunkCompressor(c Compression, chunkSize int, d *lz4dict.Dict) *chunkCompressor {
	z := &chunkCompressor{c: c, hc: lz4.CompressorHC{Level: lz4.Level9}, out: make([]byte, lz4.CompressBlockBound(chunkSize))}
	if d != nil {
		level := lz4dict.LevelFast
		if c == CompressionLZ4HC {
			level = lz4dict.LevelHC
		}
		z.dict, _ = lz4dict.NewEncoder(d, level) // both levels exist
	}
	return z
}

// compress returns the bytes to store for plain and their stored word
// (length, compressed bit). A chunk that does not shrink is stored as it
// is.
func (z *chunkCompressor) compress(plain []byte) ([]byte, uint32) {
	var n int
	var err error
	switch {
	case z.dict != nil:
		n = z.dict.Encode(z.out, plain)
	case z.c == CompressionLZ4:
		n, err = z.fast.CompressBlock(plain, z.out)
	case z.c == CompressionLZ4HC:
		n, err = z.hc.CompressBlock(plain, z.out)
	}
	if err != nil || n <= 0 || n >= len(plain) {
		return plain, uint32(len(plain))
	}
	return z.out[:n], uint32(n) | storedCompBit
}

// decompressChunk decodes the LZ4 block src into dst against dict (nil
// for none); dst must be the chunk's exact plaintext length: anything else
// is a malformed chunk.
func decompressChunk(src, dst, dict []byte) error {
	n, err := lz4.UncompressBlockWithDict(src, dst, dict)
	if err != nil {
		return fmt.Errorf("decompress chunk: %w", err)
	}
	if n != len(dst) {
		return fmt.Errorf("decompress chunk: %d bytes, want %d", n, len(dst))
	}
	return nil
}

// chunkAADZ is the associated data of chunk i of a file of the given size
// in an image with compression: it also binds the stored word.
func chunkAADZ(dst *[chunkAADSizeZ]byte, i, size uint64, stored uint32) []byte {
	le.PutUint64(dst[0:], i)
	le.PutUint64(dst[8:], size)
	le.PutUint32(dst[16:], stored)
	return dst[:]
}
