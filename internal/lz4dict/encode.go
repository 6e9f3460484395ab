package lz4dict

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// LZ4 block format limits (lz4_Block_format.md): offsets are 16 bits, a
// match is at least 4 bytes, the last 5 bytes of a block are literals and
// the last match starts at least 12 bytes before the end.
const (
	// MaxDictSize is the largest useful dictionary: an LZ4 offset reaches
	// 65,535 bytes back.
	MaxDictSize  = 64 << 10
	maxOffset    = 1<<16 - 1
	minMatch     = 4
	lastLiterals = 5
	mfLimit      = 12
	// MaxBlockSize bounds what one Encode call compresses (the protected
	// FS's largest chunk).
	MaxBlockSize = 1 << 20
)

// Levels: how hard the encoder searches.
const (
	// LevelFast tries the latest earlier position of the block or the
	// dictionary with the same 4-byte hash (one table for both, as
	// liblz4's dictionary mode), takes it if it matches (greedy), and
	// skips ahead faster the longer it finds none (LZ4's acceleration).
	LevelFast = 1
	// LevelHC walks hash chains through the block and the dictionary,
	// hcDepth positions deep, and looks one byte ahead for a longer match
	// before it takes one (lazy matching).
	LevelHC = 2
)

// ErrLevel reports an unknown compression level.
var ErrLevel = errors.New("unknown compression level")

// Dict is a dictionary prepared for encoding: its bytes and hash chains
// over every position, built once and shared read-only by any number of
// Encoders.
type Dict struct {
	b    []byte
	head *[1 << dictLog]int32 // hash4 -> last position in b with that hash, noPos for none
	prev []int32              // position -> previous position with the same hash4, noPos
}

// noPos marks an empty table or chain entry: negative, and further from
// every position than an LZ4 offset reaches.
const noPos = -1 << 30

// NewDict prepares b (at most MaxDictSize bytes; a longer b keeps its
// last MaxDictSize bytes, which are the ones an offset can reach). A nil
// or short b is a valid, empty dictionary.
func NewDict(b []byte) *Dict {
	if len(b) > MaxDictSize {
		b = b[len(b)-MaxDictSize:]
	}
	d := &Dict{b: append([]byte(nil), b...), head: new([1 << dictLog]int32)}
	for i := range d.head {
		d.head[i] = noPos
	}
	if len(d.b) < 8 {
		return d
	}
	d.prev = make([]int32, len(d.b))
	for p := 0; p+8 <= len(d.b); p++ {
		h := hash4(d.b[p:]) >> (32 - dictLog)
		d.prev[p] = d.head[h]
		d.head[h] = int32(p)
	}
	return d
}

// Bytes returns the dictionary's bytes (what a decoder needs). The
// caller must not modify them.
func (d *Dict) Bytes() []byte { return d.b }

// Encoder compresses blocks into the LZ4 block format with a dictionary
// as prefix: the output decodes with LZ4_decompress_safe_usingDict (or
// pierrec/lz4's UncompressBlockWithDict) given the same dictionary bytes.
// Its output depends only on the dictionary, the level and the block, not
// on earlier blocks. An Encoder is not safe for concurrent use; Dicts are.
type Encoder struct {
	d     *Dict
	depth int
	lazy  bool
	win   []byte // dictionary ++ block
	// table is LevelFast's: hash4 -> last window position, starting from
	// the dictionary's head for each block.
	table *[1 << dictLog]int32
	head  *[1 << blockLog]int32 // LevelHC: hash -> tag of the last block position, see gen
	prev  []int32               // block index -> previous window position, noPos for none
	// gen is the tag of block index 0 in this call: a head entry below it
	// was left by an earlier block and is ignored, so the table never
	// needs clearing between blocks.
	gen int32
}

// NewEncoder returns an Encoder for d (nil: no dictionary) at level.
func NewEncoder(d *Dict, level int) (*Encoder, error) {
	if d == nil {
		d = NewDict(nil)
	}
	e := &Encoder{d: d, gen: 1}
	switch level {
	case LevelFast:
		e.table = new([1 << dictLog]int32)
	case LevelHC:
		e.head = new([1 << blockLog]int32)
		e.depth, e.lazy = hcDepth, true
	default:
		return nil, fmt.Errorf("create LZ4 encoder: level %d: %w", level, ErrLevel)
	}
	e.win = append(e.win, d.b...)
	return e, nil
}

// CompressBound is the largest output Encode writes for n input bytes.
func CompressBound(n int) int { return n + n/255 + 16 }

// Encode compresses src into dst and returns the number of bytes written,
// or 0 when src is empty, longer than MaxBlockSize, or dst is shorter than
// CompressBound(len(src)). The block never shrinks below the literal cost
// of incompressible data: callers keep src as it is when the result is not
// shorter.
func (e *Encoder) Encode(dst, src []byte) int {
	n := len(src)
	if n == 0 || n > MaxBlockSize || len(dst) < CompressBound(n) {
		return 0
	}
	if e.head != nil && int64(e.gen)+int64(n)+1 >= 1<<31-1 {
		clear(e.head[:])
		e.gen = 1
	}
	dl := len(e.d.b)
	e.win = append(e.win[:dl], src...)
	if cap(e.prev) < n {
		e.prev = make([]int32, n)
	}
	e.prev = e.prev[:n]
	defer func() { e.gen += int32(n) + 1 }()

	s := sequencer{dst: dst, win: e.win}
	end := dl + n
	anchor := dl
	if n >= mfLimit+1 && e.depth == 0 {
		anchor = e.fast(&s, dl, end)
	} else if n >= mfLimit+1 {
		limit := end - mfLimit // last position a match may start at
		matchEnd := end - lastLiterals
		ins := dl // next block position to hash into the chains
		p := dl
		for p <= limit {
			l, off := e.step(p, matchEnd)
			ins = p + 1
			if l < minMatch {
				p++
				continue
			}
			for e.lazy && p+1 <= limit {
				l2, off2 := e.step(p+1, matchEnd)
				ins = p + 2
				if l2 <= l {
					break
				}
				p, l, off = p+1, l2, off2
			}
			s.sequence(anchor, p, off, l)
			p += l
			anchor = p
			ins = e.insertTo(ins, min(p, end-8+1))
		}
	}
	s.last(anchor, end)
	return s.n
}

// skipTrigger: after 2^skipTrigger positions without a match the fast
// search advances two bytes at a time, then three, ... (LZ4's
// acceleration): incompressible stretches cost little.
const skipTrigger = 6

// fast is the LevelFast parse: the block's table starts as the
// dictionary's (a 64 KiB copy, ~1 us, against ~15 us to encode 4 KiB), so
// each position costs one lookup that finds the latest earlier position
// with its hash, in the block or the dictionary; greedy, extended
// backwards, with LZ4's acceleration over stretches without matches. It
// returns the anchor of the final literals.
//
// On 4 MiB of executables against a 64 KiB dictionary (BenchmarkEncode)
// this stored the same (0.640 of the input) 1.5-1.7x faster than looking
// up the block's and the dictionary's tables apart; a 2^13-entry table
// was faster again (1.8x) but stored 1% more.
func (e *Encoder) fast(s *sequencer, dl, end int) int {
	win := e.win
	t := e.table
	*t = *e.d.head
	limit, matchEnd := end-mfLimit, end-lastLiterals
	anchor, p, misses := dl, dl, 0
	for p <= limit {
		cur := binary.LittleEndian.Uint32(win[p:])
		h := (cur * hashMul) >> (32 - dictLog)
		c := int(t[h])
		t[h] = int32(p)
		// noPos is out of reach: win[c:] is read only for c >= 0.
		if p-c > maxOffset || binary.LittleEndian.Uint32(win[c:]) != cur {
			misses++
			p += 1 + misses>>skipTrigger
			continue
		}
		l := minMatch + matchLen(win[c+minMatch:], win[p+minMatch:matchEnd])
		for p > anchor && c > 0 && win[p-1] == win[c-1] {
			p, c, l = p-1, c-1, l+1
		}
		s.sequence(anchor, p, p-c, l)
		p += l
		anchor, misses = p, 0
		if q := p - 2; q <= end-8 {
			t[hash4(win[q:])>>(32-dictLog)] = int32(q)
		}
	}
	return anchor
}

// insertTo adds the block positions [from, to) to the hash chains and
// returns to.
func (e *Encoder) insertTo(from, to int) int {
	dl := len(e.d.b)
	for p := from; p < to; p++ {
		h := hash4(e.win[p:])
		hb := h >> (32 - blockLog)
		i := p - dl
		q := int32(noPos)
		if t := e.head[hb]; t >= e.gen {
			q = t - e.gen + int32(dl)
		} else {
			q = e.d.head[h>>(32-dictLog)]
		}
		e.prev[i] = q
		e.head[hb] = e.gen + int32(i)
	}
	return to
}

// step returns the longest match for window position p that ends by
// matchEnd, among the depth most recent earlier positions with p's hash
// within an LZ4 offset, and its offset (a length below minMatch means
// none); then it adds p to the chains.
func (e *Encoder) step(p, matchEnd int) (length, offset int) {
	dl := len(e.d.b)
	h := hash4(e.win[p:])
	hb := h >> (32 - blockLog)
	q := int32(noPos)
	if t := e.head[hb]; t >= e.gen {
		q = t - e.gen + int32(dl)
	} else {
		q = e.d.head[h>>(32-dictLog)]
	}
	e.prev[p-dl] = q
	e.head[hb] = e.gen + int32(p-dl)
	// Every position in the chains is before p.
	best := minMatch - 1
	maxLen := matchEnd - p
	for n := 0; q >= 0 && n < e.depth; n++ {
		c := int(q)
		if p-c > maxOffset {
			break
		}
		if e.win[c+best] == e.win[p+best] {
			if l := matchLen(e.win[c:], e.win[p:matchEnd]); l > best {
				best, offset = l, p-c
				if l >= maxLen {
					break
				}
			}
		}
		if c >= dl {
			q = e.prev[c-dl]
		} else {
			q = e.d.prev[c]
		}
	}
	if best < minMatch {
		return 0, 0
	}
	return best, offset
}

// matchLen returns how many leading bytes of b equal those of a; a must
// be at least as long as b.
func matchLen(a, b []byte) int {
	n := 0
	for len(b)-n >= 8 {
		x := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:])
		if x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
		n += 8
	}
	for n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// hash4 hashes the 4 bytes at b (LZ4's minimum match); callers take its
// top bits. Hashing 5 or 6 bytes (pierrec/lz4 hashes 6) suits text, but
// made LevelFast store 1-4% more of executables (BenchmarkEncode), which
// are most of an image.
func hash4(b []byte) uint32 {
	return binary.LittleEndian.Uint32(b) * hashMul
}

// hashMul is Knuth's multiplicative hash constant (LZ4's).
const hashMul = 2654435761

// sequencer writes LZ4 sequences into dst.
type sequencer struct {
	dst []byte
	win []byte
	n   int
}

func (s *sequencer) length(v int) {
	for ; v >= 255; v -= 255 {
		s.dst[s.n] = 255
		s.n++
	}
	s.dst[s.n] = byte(v)
	s.n++
}

// sequence writes the literals win[anchor:p] and a match of length l at
// offset off.
func (s *sequencer) sequence(anchor, p, off, l int) {
	lit, ml := p-anchor, l-minMatch
	tok := s.n
	s.n++
	t := byte(0)
	if lit >= 15 {
		t = 15 << 4
		s.length(lit - 15)
	} else {
		t = byte(lit) << 4
	}
	s.n += copy(s.dst[s.n:], s.win[anchor:p])
	binary.LittleEndian.PutUint16(s.dst[s.n:], uint16(off))
	s.n += 2
	if ml >= 15 {
		t |= 15
		s.length(ml - 15)
	} else {
		t |= byte(ml)
	}
	s.dst[tok] = t
}

// last writes the final literals-only sequence.
func (s *sequencer) last(anchor, end int) {
	lit := end - anchor
	if lit >= 15 {
		s.dst[s.n] = 15 << 4
		s.n++
		s.length(lit - 15)
	} else {
		s.dst[s.n] = byte(lit) << 4
		s.n++
	}
	s.n += copy(s.dst[s.n:], s.win[anchor:end])
}

// hcDepth is LevelHC's chain depth. On 4 MiB of executables against a 64
// KiB dictionary (BenchmarkEncode): depth 16 stored 0.594 of the input at
// 33 MB/s, 32 0.591 at 30 MB/s, 64 0.589 at 21 MB/s.
const hcDepth = 16

// Hash table sizes (log2 entries): the dictionary's and LevelFast's (64 KiB of positions)
// and the block's (a 4 KiB chunk's). Small enough to stay in the L2 cache
// with the window: a 2^16-entry dictionary table made LevelFast ~20%
// slower for under 1% less output (BenchmarkEncode).
const dictLog, blockLog = 14, 12
