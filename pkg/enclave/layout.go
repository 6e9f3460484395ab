package enclave

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// Layout constants (docs/enclave.md, "Page layout"); runtime/lib/sgxs.h has
// the same values.
const (
	NSSA          = 2  // SSA frames per TCS
	SSAFrameSize  = 1  // pages per SSA frame
	MaxLoads      = 32 // PT_LOAD segments accepted in the runtime ELF
	MaxImageSize  = 1 << 30
	MaxEnclave    = 1 << 36 // ECREATE size limit
	tcsFSLimit    = 0xfff
	eextendChunk  = 256
	recordSize    = 64
	chunksPerPage = PageSize / eextendChunk
)

// SECINFO flags.
const (
	SecinfoR     = 0x1
	SecinfoW     = 0x2
	SecinfoX     = 0x4
	PageTypeTCS  = 0x100
	PageTypeReg  = 0x200
	elfPFX       = 1
	elfPFW       = 2
	elfPFR       = 4
	elfPTLoad    = 1
	elfMachineX8 = 62
)

// ErrBadELF is returned (wrapped) when the runtime ELF cannot be laid out.
var ErrBadELF = errors.New("runtime ELF not usable for the enclave layout")

// ErrLayoutSize is returned (wrapped) when the enclave would exceed a limit.
var ErrLayoutSize = errors.New("enclave layout exceeds a size limit")

type segment struct {
	vaddr, memsz uint64
	data         []byte // file bytes, len = p_filesz
	flags        uint32 // ELF p_flags
}

type elfImage struct {
	entry uint64
	segs  []segment
	lo    uint64 // lowest page vaddr
	hi    uint64 // end of the highest page
}

func elfErr(format string, a ...any) error {
	return fmt.Errorf("reading runtime ELF: %s: %w", fmt.Sprintf(format, a...), ErrBadELF)
}

// readFull reads n bytes at off. It reads in chunks so that a length in a
// hostile header cannot make it allocate more than the file holds plus one
// chunk.
func readFull(r io.ReaderAt, off, n uint64) ([]byte, error) {
	const chunk = 1 << 20
	if n > MaxImageSize || off > MaxImageSize {
		return nil, elfErr("%d bytes at %#x is too large", n, off)
	}
	b := make([]byte, 0, min(n, chunk))
	for uint64(len(b)) < n {
		k := min(n-uint64(len(b)), chunk)
		start := len(b)
		b = append(b, make([]byte, k)...)
		if _, err := r.ReadAt(b[start:], int64(off)+int64(start)); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, elfErr("%d bytes at offset %#x are beyond the end of the file", n, off)
			}
			return nil, fmt.Errorf("reading runtime ELF at %#x: %w", off, err)
		}
	}
	return b, nil
}

func pageDown(x uint64) uint64 { return x &^ (PageSize - 1) }

// parseELF reads the ELF64 little-endian x86-64 header and the PT_LOAD
// program headers; sgxs.c applies the same rules.
func parseELF(r io.ReaderAt) (*elfImage, error) {
	h, err := readFull(r, 0, 64)
	if err != nil {
		return nil, err
	}
	if string(h[:4]) != "\x7fELF" || h[4] != 2 || h[5] != 1 {
		return nil, elfErr("not a little-endian ELF64 file")
	}
	le := binary.LittleEndian
	if t := le.Uint16(h[16:]); t != 2 && t != 3 {
		return nil, elfErr("type %d is not EXEC or DYN", t)
	}
	if m := le.Uint16(h[18:]); m != elfMachineX8 {
		return nil, elfErr("machine %d is not x86-64", m)
	}
	img := &elfImage{entry: le.Uint64(h[24:])}
	phoff := le.Uint64(h[32:])
	phentsize := le.Uint16(h[54:])
	phnum := le.Uint16(h[56:])
	if phentsize != 56 {
		return nil, elfErr("program header size %d", phentsize)
	}
	if phoff > MaxImageSize {
		return nil, elfErr("program header offset %#x", phoff)
	}
	ph, err := readFull(r, phoff, uint64(phnum)*56)
	if err != nil {
		return nil, err
	}
	for i := 0; i < int(phnum); i++ {
		p := ph[i*56 : (i+1)*56]
		if le.Uint32(p) != elfPTLoad {
			continue
		}
		flags := le.Uint32(p[4:])
		off, vaddr := le.Uint64(p[8:]), le.Uint64(p[16:])
		filesz, memsz := le.Uint64(p[32:]), le.Uint64(p[40:])
		if memsz == 0 {
			continue
		}
		if len(img.segs) == MaxLoads {
			return nil, elfErr("more than %d PT_LOAD segments", MaxLoads)
		}
		if filesz > memsz || memsz > MaxImageSize || vaddr > 1<<47 || off > MaxImageSize || filesz > MaxImageSize {
			return nil, elfErr("PT_LOAD %d has bad sizes or addresses", i)
		}
		if n := len(img.segs); n > 0 {
			prev := img.segs[n-1]
			if vaddr < prev.vaddr+prev.memsz {
				return nil, elfErr("PT_LOAD %d overlaps or is out of order", i)
			}
		}
		data, err := readFull(r, off, filesz)
		if err != nil {
			return nil, err
		}
		img.segs = append(img.segs, segment{vaddr: vaddr, memsz: memsz, data: data, flags: flags})
	}
	if len(img.segs) == 0 {
		return nil, elfErr("no PT_LOAD segment")
	}
	last := img.segs[len(img.segs)-1]
	img.lo = pageDown(img.segs[0].vaddr)
	img.hi = pageDown(last.vaddr + last.memsz + PageSize - 1)
	if img.hi-img.lo > MaxImageSize {
		return nil, elfErr("image spans %d bytes, more than %d", img.hi-img.lo, MaxImageSize)
	}
	if img.entry < img.lo || img.entry >= img.hi {
		return nil, elfErr("entry point %#x outside the loaded image", img.entry)
	}
	return img, nil
}

// Layout is the enclave page layout; offsets are relative to the enclave base.
type Layout struct {
	ImageVaddr   uint64 // lowest PT_LOAD page vaddr, mapped at offset 0
	ImageSize    uint64
	Entry        uint64 // TCS.OENTRY
	ConfigOff    uint64
	ConfigPages  uint64
	HeapOff      uint64
	HeapSize     uint64
	StackSize    uint64
	Threads      uint32
	ThreadOff    uint64 // thread t's block starts at ThreadOff + t*ThreadStride
	ThreadStride uint64 // guard, stack, TCS, NSSA SSA pages, thread-data page
	StackRel     uint64
	TCSRel       uint64
	SSARel       uint64
	TDRel        uint64 // thread-data page (OFSBASGX, OGSBASGX)
	End          uint64 // after the final guard page
	Size         uint64 // ECREATE SIZE: next power of two >= End
	EADDs        uint64
	EEXTENDs     uint64
}

func computeLayout(img *elfImage, configLen int, heap, stack uint64, threads uint32) (*Layout, error) {
	l := &Layout{
		ImageVaddr: img.lo,
		ImageSize:  img.hi - img.lo,
		Entry:      img.entry - img.lo,
		HeapSize:   heap,
		StackSize:  stack,
		Threads:    threads,
	}
	if heap > MaxHeap || stack > MaxStack || threads > MaxThreads || configLen > MaxConfigSize {
		return nil, fmt.Errorf("laying out the enclave: %w", ErrLayoutSize)
	}
	l.ConfigOff = l.ImageSize + PageSize
	l.ConfigPages = (uint64(configLen) + PageSize - 1) / PageSize
	l.HeapOff = l.ConfigOff + l.ConfigPages*PageSize + PageSize
	l.StackRel = PageSize
	l.TCSRel = l.StackRel + stack
	l.SSARel = l.TCSRel + PageSize
	l.TDRel = l.SSARel + NSSA*SSAFrameSize*PageSize
	l.ThreadStride = l.TDRel + PageSize
	l.ThreadOff = l.HeapOff + heap
	l.End = l.ThreadOff + uint64(threads)*l.ThreadStride + PageSize
	if l.End > MaxEnclave {
		return nil, fmt.Errorf("laying out the enclave: %d bytes: %w", l.End, ErrLayoutSize)
	}
	l.Size = uint64(1) << bits.Len64(l.End-1)
	imagePages := uint64(0)
	forEachImagePage(img, func(uint64, uint64, []byte) error { imagePages++; return nil })
	perThread := stack/PageSize + 1 + NSSA*SSAFrameSize + 1
	l.EADDs = imagePages + l.ConfigPages + heap/PageSize + uint64(threads)*perThread
	l.EEXTENDs = (imagePages + l.ConfigPages + uint64(threads)) * chunksPerPage
	return l, nil
}

// forEachImagePage calls f for every page covered by a PT_LOAD segment, in
// ascending order, with its offset, SECINFO flags and contents. A page shared
// by two segments is emitted once, with both segments' bytes and the union of
// their permissions.
func forEachImagePage(img *elfImage, f func(off, flags uint64, page []byte) error) error {
	var page [PageSize]byte
	next := img.lo // first page not yet emitted
	for _, s := range img.segs {
		first := pageDown(s.vaddr)
		end := pageDown(s.vaddr + s.memsz + PageSize - 1)
		if first < next {
			first = next
		}
		for p := first; p < end; p += PageSize {
			page = [PageSize]byte{}
			flags := uint64(PageTypeReg)
			for _, t := range img.segs {
				if t.vaddr >= p+PageSize || t.vaddr+t.memsz <= p {
					continue
				}
				flags |= secinfoPerm(t.flags)
				// file bytes of t inside [p, p+PageSize)
				lo, hi := max(t.vaddr, p), min(t.vaddr+uint64(len(t.data)), p+PageSize)
				if lo < hi {
					copy(page[lo-p:hi-p], t.data[lo-t.vaddr:hi-t.vaddr])
				}
			}
			if err := f(p-img.lo, flags, page[:]); err != nil {
				return err
			}
			next = p + PageSize
		}
	}
	return nil
}

func secinfoPerm(pf uint32) uint64 {
	var f uint64
	if pf&elfPFR != 0 {
		f |= SecinfoR
	}
	if pf&elfPFW != 0 {
		f |= SecinfoW
	}
	if pf&elfPFX != 0 {
		f |= SecinfoX
	}
	return f
}

// Measurement is the result of Measure: MRENCLAVE, the layout, and what is
// needed to write the SGXS stream again.
type Measurement struct {
	MRENCLAVE [32]byte
	Layout    Layout
	img       *elfImage
	config    []byte
}

// Measure lays out the enclave for the runtime ELF and config.bin (which is
// parsed for heap size, stack size and thread count) and returns its
// MRENCLAVE. It is a pure function of the two byte strings.
func Measure(runtimeELF io.ReaderAt, config []byte) (*Measurement, error) {
	cfg, err := ParseConfig(config)
	if err != nil {
		return nil, fmt.Errorf("measuring enclave: %w", err)
	}
	img, err := parseELF(runtimeELF)
	if err != nil {
		return nil, fmt.Errorf("measuring enclave: %w", err)
	}
	l, err := computeLayout(img, len(config), cfg.HeapSize, cfg.StackSize, cfg.MaxThreads)
	if err != nil {
		return nil, fmt.Errorf("measuring enclave: %w", err)
	}
	m := &Measurement{Layout: *l, img: img, config: append([]byte(nil), config...)}
	h := sha256.New()
	if err := m.emit(h); err != nil {
		return nil, fmt.Errorf("measuring enclave: %w", err)
	}
	copy(m.MRENCLAVE[:], h.Sum(nil))
	return m, nil
}

// WriteSGXS writes the SGXS measurement stream (Fortanix format: the
// measured 64-byte records, each EEXTEND followed by its 256 data bytes).
// Its SHA-256 is MRENCLAVE.
func (m *Measurement) WriteSGXS(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := m.emit(bw); err != nil {
		return fmt.Errorf("writing SGXS stream: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing SGXS stream: %w", err)
	}
	return nil
}

type recWriter struct {
	w   io.Writer
	rec [recordSize]byte
	err error
}

func (r *recWriter) write(b []byte) {
	if r.err == nil {
		_, r.err = r.w.Write(b)
	}
}

func (r *recWriter) ecreate(ssaFrameSize uint32, size uint64) {
	r.rec = [recordSize]byte{}
	copy(r.rec[:], "ECREATE\x00")
	binary.LittleEndian.PutUint32(r.rec[8:], ssaFrameSize)
	binary.LittleEndian.PutUint64(r.rec[12:], size)
	r.write(r.rec[:])
}

func (r *recWriter) eadd(off, flags uint64) {
	r.rec = [recordSize]byte{}
	copy(r.rec[:], "EADD\x00\x00\x00\x00")
	binary.LittleEndian.PutUint64(r.rec[8:], off)
	binary.LittleEndian.PutUint64(r.rec[16:], flags)
	r.write(r.rec[:])
}

// eaddRun writes the EADD records of count consecutive pages from off,
// all with flags, eaddBatch records per write: they differ only in their
// offset, and one hash call per record cost more than the record's block
// (the default config measures ~400,000 of them).
func (r *recWriter) eaddRun(off, count, flags uint64) {
	var b [eaddBatch * recordSize]byte
	for i := 0; i < eaddBatch; i++ {
		copy(b[i*recordSize:], "EADD\x00\x00\x00\x00")
		binary.LittleEndian.PutUint64(b[i*recordSize+16:], flags)
	}
	for count > 0 {
		n := uint64(eaddBatch)
		if count < n {
			n = count
		}
		for i := uint64(0); i < n; i++ {
			binary.LittleEndian.PutUint64(b[i*recordSize+8:], off+i*PageSize)
		}
		r.write(b[:n*recordSize])
		off += n * PageSize
		count -= n
	}
}

// eaddBatch: EADD records per write in eaddRun.
const eaddBatch = 64

func (r *recWriter) eextendPage(off uint64, page []byte) {
	for i := uint64(0); i < chunksPerPage; i++ {
		r.rec = [recordSize]byte{}
		copy(r.rec[:], "EEXTEND\x00")
		binary.LittleEndian.PutUint64(r.rec[8:], off+i*eextendChunk)
		r.write(r.rec[:])
		r.write(page[i*eextendChunk : (i+1)*eextendChunk])
	}
}

// pagesIn is how many pages n bytes start: the loops it replaced stepped
// a page at a time while below the end.
func pagesIn(n uint64) uint64 { return (n + PageSize - 1) / PageSize }

// tcsPage returns the contents of thread t's TCS.
func (l *Layout) tcsPage(t uint32) []byte {
	base := l.ThreadOff + uint64(t)*l.ThreadStride
	p := make([]byte, PageSize)
	le := binary.LittleEndian
	le.PutUint64(p[16:], base+l.SSARel) // OSSA
	le.PutUint32(p[28:], NSSA)          // NSSA
	le.PutUint64(p[32:], l.Entry)       // OENTRY
	le.PutUint64(p[48:], base+l.TDRel)  // OFSBASGX
	le.PutUint64(p[56:], base+l.TDRel)  // OGSBASGX
	le.PutUint32(p[64:], tcsFSLimit)    // FSLIMIT
	le.PutUint32(p[68:], tcsFSLimit)    // GSLIMIT
	return p
}

func (m *Measurement) emit(w io.Writer) error {
	l := &m.Layout
	r := &recWriter{w: w}
	r.ecreate(SSAFrameSize, l.Size)
	err := forEachImagePage(m.img, func(off, flags uint64, page []byte) error {
		r.eadd(off, flags)
		r.eextendPage(off, page)
		return r.err
	})
	if err != nil {
		return err
	}
	page := make([]byte, PageSize)
	for i := uint64(0); i < l.ConfigPages; i++ {
		clear(page)
		copy(page, m.config[i*PageSize:])
		off := l.ConfigOff + i*PageSize
		r.eadd(off, PageTypeReg|SecinfoR)
		r.eextendPage(off, page)
	}
	const rw = PageTypeReg | SecinfoR | SecinfoW
	r.eaddRun(l.HeapOff, pagesIn(l.HeapSize), rw)
	for t := uint32(0); t < l.Threads; t++ {
		base := l.ThreadOff + uint64(t)*l.ThreadStride
		r.eaddRun(base+l.StackRel, pagesIn(l.TCSRel-l.StackRel), rw)
		r.eadd(base+l.TCSRel, PageTypeTCS)
		r.eextendPage(base+l.TCSRel, l.tcsPage(t))
		r.eaddRun(base+l.SSARel, pagesIn(l.ThreadStride-l.SSARel), rw)
	}
	return r.err
}
