package link

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// This file is a small, validating ELF64 (little-endian, x86-64) reader. It
// reads only what the analysis needs, checks every offset, size and count
// against the file size before allocating, and reports problems as
// *FormatError with the offset of the offending structure.

var le = binary.LittleEndian

const (
	ehdrSize64 = 64
	phdrSize64 = 56
	shdrSize64 = 64
	dynSize64  = 16
	symSize64  = 24

	// maxStringTable bounds string tables read into memory; real ones are a
	// few MiB at most.
	maxStringTable = 64 << 20
	// maxSymbols bounds symbol tables (libLLVM has ~100k dynamic symbols).
	maxSymbols = 4 << 20
)

type prog struct {
	typ    uint32
	flags  uint32
	off    uint64
	vaddr  uint64
	filesz uint64
	memsz  uint64
}

type section struct {
	name    string
	typ     uint32
	flags   uint64
	addr    uint64
	off     uint64
	size    uint64
	link    uint32
	entsize uint64
}

type rawSym struct {
	name  string
	info  uint8
	shndx uint16
	value uint64
}

// elfFile is the parsed view of one ELF64 x86-64 file.
type elfFile struct {
	r     io.ReaderAt
	size  int64
	typ   uint16
	entry uint64
	progs []prog
	sects []section
	dyn   [][2]uint64 // tag, value; up to DT_NULL
}

// ident is the class/data/machine part of the ELF header, readable for any
// ELF file.
type ident struct {
	class   elf.Class
	data    elf.Data
	machine elf.Machine
	typ     elf.Type
}

func readAt(r io.ReaderAt, size int64, off, n uint64, what string) ([]byte, error) {
	if n > uint64(size) || off > uint64(size) || off+n > uint64(size) {
		return nil, formatErr(int64(min(off, uint64(size))), "%s (%d bytes at offset %#x) extends past end of file (size %d)", what, n, off, size)
	}
	buf := make([]byte, n)
	if n == 0 {
		return buf, nil
	}
	m, err := r.ReadAt(buf, int64(off))
	if m == len(buf) {
		return buf, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return nil, formatErr(int64(off), "%s truncated: read %d of %d bytes", what, m, n)
	}
	return nil, fmt.Errorf("read %s at offset %#x: %w", what, off, err)
}

// readIdent reads the part of the header that is laid out the same way in
// every ELF file.
func readIdent(r io.ReaderAt, size int64) (ident, error) {
	var id ident
	if size < 4 {
		return id, ErrNotELF
	}
	hdr := make([]byte, 20)
	n, err := r.ReadAt(hdr, 0)
	if n < 4 {
		if err != nil && !errors.Is(err, io.EOF) {
			return id, fmt.Errorf("read ELF header: %w", err)
		}
		return id, ErrNotELF
	}
	if !bytes.Equal(hdr[:4], []byte(elf.ELFMAG)) {
		return id, ErrNotELF
	}
	if n < 20 {
		return id, formatErr(int64(n), "ELF identification truncated (%d bytes)", n)
	}
	id.class = elf.Class(hdr[elf.EI_CLASS])
	id.data = elf.Data(hdr[elf.EI_DATA])
	var bo binary.ByteOrder
	switch id.data {
	case elf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return id, formatErr(elf.EI_DATA, "invalid byte order %d", hdr[elf.EI_DATA])
	}
	switch id.class {
	case elf.ELFCLASS32, elf.ELFCLASS64:
	default:
		return id, formatErr(elf.EI_CLASS, "invalid class %d", hdr[elf.EI_CLASS])
	}
	if hdr[elf.EI_VERSION] != byte(elf.EV_CURRENT) {
		return id, formatErr(elf.EI_VERSION, "invalid version %d", hdr[elf.EI_VERSION])
	}
	id.typ = elf.Type(bo.Uint16(hdr[16:]))
	id.machine = elf.Machine(bo.Uint16(hdr[18:]))
	return id, nil
}

// checkSupported returns an *UnsupportedError for anything but 64-bit
// little-endian x86-64.
func (id ident) checkSupported() error {
	if id.class != elf.ELFCLASS64 {
		return &UnsupportedError{What: "class", Value: className(id.class)}
	}
	if id.data != elf.ELFDATA2LSB {
		return &UnsupportedError{What: "byte order", Value: "big-endian"}
	}
	if id.machine != elf.EM_X86_64 {
		return &UnsupportedError{What: "machine", Value: machineName(id.machine)}
	}
	return nil
}

func className(c elf.Class) string {
	switch c {
	case elf.ELFCLASS32:
		return "ELF32"
	case elf.ELFCLASS64:
		return "ELF64"
	}
	return c.String()
}

func machineName(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "x86-64"
	case elf.EM_386:
		return "i386"
	case elf.EM_AARCH64:
		return "aarch64"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_RISCV:
		return "riscv"
	case elf.EM_PPC64:
		return "ppc64"
	case elf.EM_PPC:
		return "ppc"
	case elf.EM_S390:
		return "s390x"
	case elf.EM_MIPS:
		return "mips"
	case elf.EM_LOONGARCH:
		return "loongarch"
	case elf.EM_SPARCV9:
		return "sparcv9"
	}
	return m.String()
}

// parseELF parses headers, program headers, section headers (with names)
// and the dynamic section of a 64-bit little-endian x86-64 file. The caller
// has checked the identification with readIdent/checkSupported.
func parseELF(r io.ReaderAt, size int64) (*elfFile, error) {
	h, err := readAt(r, size, 0, ehdrSize64, "ELF header")
	if err != nil {
		return nil, err
	}
	f := &elfFile{r: r, size: size}
	f.typ = le.Uint16(h[16:])
	f.entry = le.Uint64(h[24:])
	phoff := le.Uint64(h[32:])
	shoff := le.Uint64(h[40:])
	ehsize := le.Uint16(h[52:])
	phentsize := le.Uint16(h[54:])
	phnum := uint64(le.Uint16(h[56:]))
	shentsize := le.Uint16(h[58:])
	shnum := uint64(le.Uint16(h[60:]))
	shstrndx := uint64(le.Uint16(h[62:]))
	if ehsize != ehdrSize64 {
		return nil, formatErr(52, "ELF header size %d, want %d", ehsize, ehdrSize64)
	}

	// Section header 0 carries extended counts (PN_XNUM, SHN_XINDEX).
	var sh0 []byte
	if shoff != 0 {
		if shentsize != shdrSize64 {
			return nil, formatErr(58, "section header entry size %d, want %d", shentsize, shdrSize64)
		}
		sh0, err = readAt(r, size, shoff, shdrSize64, "section header 0")
		if err != nil {
			return nil, err
		}
		if shnum == 0 {
			shnum = le.Uint64(sh0[32:])
		}
		if shstrndx == uint64(elf.SHN_XINDEX) {
			shstrndx = uint64(le.Uint32(sh0[40:]))
		}
	}
	if phnum == 0xffff && sh0 != nil {
		phnum = uint64(le.Uint32(sh0[44:]))
	}

	if phnum > 0 {
		if phentsize != phdrSize64 {
			return nil, formatErr(54, "program header entry size %d, want %d", phentsize, phdrSize64)
		}
		if phnum > uint64(size)/phdrSize64 {
			return nil, formatErr(56, "program header count %d does not fit in a %d-byte file", phnum, size)
		}
		tab, err := readAt(r, size, phoff, phnum*phdrSize64, "program header table")
		if err != nil {
			return nil, err
		}
		f.progs = make([]prog, phnum)
		for i := range f.progs {
			b := tab[i*phdrSize64:]
			p := prog{
				typ:    le.Uint32(b[0:]),
				flags:  le.Uint32(b[4:]),
				off:    le.Uint64(b[8:]),
				vaddr:  le.Uint64(b[16:]),
				filesz: le.Uint64(b[32:]),
				memsz:  le.Uint64(b[40:]),
			}
			at := int64(phoff) + int64(i)*phdrSize64
			if p.typ == uint32(elf.PT_LOAD) || p.typ == uint32(elf.PT_DYNAMIC) || p.typ == uint32(elf.PT_INTERP) {
				if p.off > uint64(size) || p.filesz > uint64(size)-p.off {
					return nil, formatErr(at, "program header %d (%s): file range [%#x, +%#x) extends past end of file (size %d)", i, elf.ProgType(p.typ), p.off, p.filesz, size)
				}
			}
			if p.typ == uint32(elf.PT_LOAD) {
				if p.filesz > p.memsz {
					return nil, formatErr(at, "program header %d: file size %#x larger than memory size %#x", i, p.filesz, p.memsz)
				}
				if p.vaddr+p.memsz < p.vaddr {
					return nil, formatErr(at, "program header %d: address range overflows", i)
				}
			}
			f.progs[i] = p
		}
	}

	if shoff != 0 && shnum > 0 {
		if shnum > uint64(size)/shdrSize64 {
			return nil, formatErr(60, "section header count %d does not fit in a %d-byte file", shnum, size)
		}
		tab, err := readAt(r, size, shoff, shnum*shdrSize64, "section header table")
		if err != nil {
			return nil, err
		}
		f.sects = make([]section, shnum)
		nameOff := make([]uint32, shnum)
		for i := range f.sects {
			b := tab[i*shdrSize64:]
			s := section{
				typ:     le.Uint32(b[4:]),
				flags:   le.Uint64(b[8:]),
				addr:    le.Uint64(b[16:]),
				off:     le.Uint64(b[24:]),
				size:    le.Uint64(b[32:]),
				link:    le.Uint32(b[40:]),
				entsize: le.Uint64(b[56:]),
			}
			nameOff[i] = le.Uint32(b[0:])
			if i > 0 && s.typ != uint32(elf.SHT_NOBITS) && s.typ != uint32(elf.SHT_NULL) {
				if s.off > uint64(size) || s.size > uint64(size)-s.off {
					return nil, formatErr(int64(shoff)+int64(i)*shdrSize64, "section %d: file range [%#x, +%#x) extends past end of file (size %d)", i, s.off, s.size, size)
				}
			}
			f.sects[i] = s
		}
		if err := checkOverlap(f.sects, int64(shoff)); err != nil {
			return nil, err
		}
		if shstrndx != uint64(elf.SHN_UNDEF) {
			if shstrndx >= shnum {
				return nil, formatErr(62, "section name table index %d out of range (%d sections)", shstrndx, shnum)
			}
			st := f.sects[shstrndx]
			if st.typ != uint32(elf.SHT_STRTAB) {
				return nil, formatErr(int64(shoff)+int64(shstrndx)*shdrSize64, "section name table %d has type %s, want SHT_STRTAB", shstrndx, elf.SectionType(st.typ))
			}
			strs, err := f.readStrtab(st.off, st.size, "section name table")
			if err != nil {
				return nil, err
			}
			for i := range f.sects {
				f.sects[i].name = cstring(strs, uint64(nameOff[i]))
			}
		}
	}

	if err := f.readDynamic(); err != nil {
		return nil, err
	}
	return f, nil
}

// checkOverlap refuses section headers whose file contents overlap: a linker
// never produces them and they are a classic way to confuse parsers.
func checkOverlap(sects []section, shoff int64) error {
	idx := make([]int, 0, len(sects))
	for i, s := range sects {
		if i == 0 || s.typ == uint32(elf.SHT_NOBITS) || s.typ == uint32(elf.SHT_NULL) || s.size == 0 {
			continue
		}
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool { return sects[idx[a]].off < sects[idx[b]].off })
	for k := 1; k < len(idx); k++ {
		p, q := sects[idx[k-1]], sects[idx[k]]
		if q.off < p.off+p.size {
			return formatErr(shoff+int64(idx[k])*shdrSize64, "section %d [%#x, +%#x) overlaps section %d [%#x, +%#x)", idx[k], q.off, q.size, idx[k-1], p.off, p.size)
		}
	}
	return nil
}

func (f *elfFile) readStrtab(off, size uint64, what string) ([]byte, error) {
	if size > maxStringTable {
		return nil, formatErr(int64(min(off, uint64(f.size))), "%s of %d bytes is too large", what, size)
	}
	return readAt(f.r, f.size, off, size, what)
}

func cstring(b []byte, off uint64) string {
	if off >= uint64(len(b)) {
		return ""
	}
	b = b[off:]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func (f *elfFile) prog(t elf.ProgType) *prog {
	for i := range f.progs {
		if f.progs[i].typ == uint32(t) {
			return &f.progs[i]
		}
	}
	return nil
}

func (f *elfFile) section(name string) *section {
	for i := range f.sects {
		if f.sects[i].name == name {
			return &f.sects[i]
		}
	}
	return nil
}

// vaddrToOff maps a virtual address to a file offset through PT_LOAD, the way
// the dynamic loader sees the file. n bytes must be backed by the file.
func (f *elfFile) vaddrToOff(addr, n uint64) (uint64, bool) {
	for _, p := range f.progs {
		if p.typ != uint32(elf.PT_LOAD) {
			continue
		}
		if addr >= p.vaddr && addr-p.vaddr < p.filesz && n <= p.filesz-(addr-p.vaddr) {
			return p.off + (addr - p.vaddr), true
		}
	}
	return 0, false
}

// debugInfoOnly reports a separate debug-information file (objcopy
// --only-keep-debug): its executable segments have no file contents.
func (f *elfFile) debugInfoOnly() bool {
	n := 0
	for _, p := range f.progs {
		if p.typ == uint32(elf.PT_LOAD) && p.flags&uint32(elf.PF_X) != 0 {
			if p.filesz != 0 || p.memsz == 0 {
				return false
			}
			n++
		}
	}
	return n > 0
}

func (f *elfFile) readDynamic() error {
	p := f.prog(elf.PT_DYNAMIC)
	if p == nil || f.debugInfoOnly() {
		return nil
	}
	n := p.filesz / dynSize64
	if n == 0 {
		return formatErr(int64(p.off), "dynamic section is empty")
	}
	b, err := readAt(f.r, f.size, p.off, n*dynSize64, "dynamic section")
	if err != nil {
		return err
	}
	for i := uint64(0); i < n; i++ {
		tag := le.Uint64(b[i*dynSize64:])
		val := le.Uint64(b[i*dynSize64+8:])
		if tag == uint64(elf.DT_NULL) {
			return nil
		}
		f.dyn = append(f.dyn, [2]uint64{tag, val})
	}
	return formatErr(int64(p.off+p.filesz), "dynamic section has no DT_NULL terminator")
}

func (f *elfFile) dynVal(tag elf.DynTag) (uint64, bool) {
	for _, d := range f.dyn {
		if d[0] == uint64(tag) {
			return d[1], true
		}
	}
	return 0, false
}

func (f *elfFile) dynVals(tag elf.DynTag) []uint64 {
	var v []uint64
	for _, d := range f.dyn {
		if d[0] == uint64(tag) {
			v = append(v, d[1])
		}
	}
	return v
}

// dynStrtab reads DT_STRTAB/DT_STRSZ.
func (f *elfFile) dynStrtab() ([]byte, error) {
	addr, ok1 := f.dynVal(elf.DT_STRTAB)
	sz, ok2 := f.dynVal(elf.DT_STRSZ)
	if !ok1 && !ok2 {
		return nil, nil
	}
	if !ok1 || !ok2 {
		return nil, formatErr(int64(f.prog(elf.PT_DYNAMIC).off), "dynamic section has DT_STRTAB without DT_STRSZ or the reverse")
	}
	off, ok := f.vaddrToOff(addr, sz)
	if !ok {
		return nil, formatErr(int64(f.prog(elf.PT_DYNAMIC).off), "DT_STRTAB [%#x, +%#x) is not inside a loaded segment", addr, sz)
	}
	return f.readStrtab(off, sz, "dynamic string table")
}

// dynSymCount finds the number of dynamic symbols: from the SHT_DYNSYM
// section header when present, else DT_HASH, else DT_GNU_HASH.
func (f *elfFile) dynSymCount(symtab uint64) (uint64, error) {
	for _, s := range f.sects {
		if s.typ == uint32(elf.SHT_DYNSYM) && s.addr == symtab {
			return s.size / symSize64, nil
		}
	}
	dynOff := int64(f.prog(elf.PT_DYNAMIC).off)
	if h, ok := f.dynVal(elf.DT_HASH); ok {
		off, ok := f.vaddrToOff(h, 8)
		if !ok {
			return 0, formatErr(dynOff, "DT_HASH %#x is not inside a loaded segment", h)
		}
		b, err := readAt(f.r, f.size, off, 8, "hash table header")
		if err != nil {
			return 0, err
		}
		return uint64(le.Uint32(b[4:])), nil
	}
	if h, ok := f.dynVal(elf.DT_GNU_HASH); ok {
		return f.gnuHashCount(h, dynOff)
	}
	return 0, nil
}

func (f *elfFile) gnuHashCount(h uint64, dynOff int64) (uint64, error) {
	off, ok := f.vaddrToOff(h, 16)
	if !ok {
		return 0, formatErr(dynOff, "DT_GNU_HASH %#x is not inside a loaded segment", h)
	}
	b, err := readAt(f.r, f.size, off, 16, "GNU hash header")
	if err != nil {
		return 0, err
	}
	nbuckets := uint64(le.Uint32(b[0:]))
	symoffset := uint64(le.Uint32(b[4:]))
	bloomSize := uint64(le.Uint32(b[8:]))
	if nbuckets > uint64(f.size)/4 || bloomSize > uint64(f.size)/8 {
		return 0, formatErr(int64(off), "GNU hash table sizes (%d buckets, %d bloom words) exceed the file", nbuckets, bloomSize)
	}
	bucketsOff := off + 16 + bloomSize*8
	buckets, err := readAt(f.r, f.size, bucketsOff, nbuckets*4, "GNU hash buckets")
	if err != nil {
		return 0, err
	}
	maxSym := uint64(0)
	for i := uint64(0); i < nbuckets; i++ {
		maxSym = max(maxSym, uint64(le.Uint32(buckets[i*4:])))
	}
	if maxSym < symoffset {
		return symoffset, nil
	}
	chainOff := bucketsOff + nbuckets*4
	// Walk the last bucket's chain to its end marker, a page at a time.
	const words = 1024
	for i := maxSym; ; {
		at := chainOff + (i-symoffset)*4
		if at >= uint64(f.size) || i-symoffset > maxSymbols {
			return 0, formatErr(int64(chainOff), "GNU hash chain does not terminate inside the file")
		}
		n := min(uint64(words), (uint64(f.size)-at)/4)
		if n == 0 {
			return 0, formatErr(int64(at), "GNU hash chain truncated")
		}
		c, err := readAt(f.r, f.size, at, n*4, "GNU hash chain")
		if err != nil {
			return 0, err
		}
		for k := uint64(0); k < n; k++ {
			if le.Uint32(c[k*4:])&1 != 0 {
				return i + k + 1, nil
			}
		}
		i += n
	}
}

// readSyms reads count symbols at file offset off with names from strs.
func (f *elfFile) readSyms(off, count uint64, strs []byte, what string) ([]rawSym, error) {
	if count > maxSymbols || count > uint64(f.size)/symSize64 {
		return nil, formatErr(int64(min(off, uint64(f.size))), "%s: %d symbols do not fit in the file", what, count)
	}
	b, err := readAt(f.r, f.size, off, count*symSize64, what)
	if err != nil {
		return nil, err
	}
	syms := make([]rawSym, count)
	for i := range syms {
		e := b[i*symSize64:]
		syms[i] = rawSym{
			name:  cstring(strs, uint64(le.Uint32(e[0:]))),
			info:  e[4],
			shndx: le.Uint16(e[6:]),
			value: le.Uint64(e[8:]),
		}
	}
	return syms, nil
}

// dynSyms returns the dynamic symbols, and the dynamic string table.
func (f *elfFile) dynSyms(strs []byte) ([]rawSym, error) {
	addr, ok := f.dynVal(elf.DT_SYMTAB)
	if !ok || strs == nil {
		return nil, nil
	}
	count, err := f.dynSymCount(addr)
	if err != nil {
		return nil, err
	}
	if count == 0 {
		return nil, nil
	}
	if count > maxSymbols {
		return nil, formatErr(int64(f.prog(elf.PT_DYNAMIC).off), "%d dynamic symbols is too many", count)
	}
	off, ok := f.vaddrToOff(addr, count*symSize64)
	if !ok {
		return nil, formatErr(int64(f.prog(elf.PT_DYNAMIC).off), "DT_SYMTAB [%#x, %d symbols] is not inside a loaded segment", addr, count)
	}
	return f.readSyms(off, count, strs, "dynamic symbol table")
}

// staticSyms returns the .symtab symbols, or nil if the file is stripped.
func (f *elfFile) staticSyms() ([]rawSym, error) {
	for _, s := range f.sects {
		if s.typ != uint32(elf.SHT_SYMTAB) {
			continue
		}
		if int(s.link) >= len(f.sects) || f.sects[s.link].typ != uint32(elf.SHT_STRTAB) {
			return nil, formatErr(int64(s.off), "symbol table links to section %d, which is not a string table", s.link)
		}
		st := f.sects[s.link]
		strs, err := f.readStrtab(st.off, st.size, "symbol string table")
		if err != nil {
			return nil, err
		}
		return f.readSyms(s.off, s.size/symSize64, strs, "symbol table")
	}
	return nil, nil
}

// verneed is one (file, version) requirement from DT_VERNEED, keyed by its
// version index (vna_other).
type verneed struct {
	file, name string
}

// verneeds walks DT_VERNEED. Loops are bounded by DT_VERNEEDNUM, by vna
// counts and by the file size.
func (f *elfFile) verneeds(strs []byte) (map[uint16]verneed, error) {
	addr, ok := f.dynVal(elf.DT_VERNEED)
	if !ok {
		return nil, nil
	}
	num, _ := f.dynVal(elf.DT_VERNEEDNUM)
	dynOff := int64(f.prog(elf.PT_DYNAMIC).off)
	off, ok := f.vaddrToOff(addr, 16)
	if !ok {
		return nil, formatErr(dynOff, "DT_VERNEED %#x is not inside a loaded segment", addr)
	}
	if num > uint64(f.size)/16 {
		return nil, formatErr(dynOff, "DT_VERNEEDNUM %d does not fit in the file", num)
	}
	out := map[uint16]verneed{}
	budget := uint64(f.size) / 16 // every entry is at least 16 bytes
	for i := uint64(0); i < num; i++ {
		b, err := readAt(f.r, f.size, off, 16, "version need entry")
		if err != nil {
			return nil, err
		}
		cnt := uint64(le.Uint16(b[2:]))
		file := cstring(strs, uint64(le.Uint32(b[4:])))
		aux := uint64(le.Uint32(b[8:]))
		next := uint64(le.Uint32(b[12:]))
		aoff := off + aux
		for j := uint64(0); j < cnt; j++ {
			if budget == 0 {
				return nil, formatErr(int64(aoff), "version need entries loop")
			}
			budget--
			a, err := readAt(f.r, f.size, aoff, 16, "version need aux entry")
			if err != nil {
				return nil, err
			}
			other := le.Uint16(a[6:])
			out[other&0x7fff] = verneed{file: file, name: cstring(strs, uint64(le.Uint32(a[8:])))}
			an := uint64(le.Uint32(a[12:]))
			if an == 0 {
				break
			}
			aoff += an
		}
		if next == 0 {
			break
		}
		if budget == 0 {
			return nil, formatErr(int64(off), "version need entries loop")
		}
		budget--
		off += next
	}
	return out, nil
}

// versyms reads DT_VERSYM for count symbols (nil if absent).
func (f *elfFile) versyms(count uint64) ([]uint16, error) {
	addr, ok := f.dynVal(elf.DT_VERSYM)
	if !ok || count == 0 {
		return nil, nil
	}
	off, ok := f.vaddrToOff(addr, count*2)
	if !ok {
		return nil, formatErr(int64(f.prog(elf.PT_DYNAMIC).off), "DT_VERSYM [%#x, %d entries] is not inside a loaded segment", addr, count)
	}
	b, err := readAt(f.r, f.size, off, count*2, "version symbol table")
	if err != nil {
		return nil, err
	}
	v := make([]uint16, count)
	for i := range v {
		v[i] = le.Uint16(b[i*2:])
	}
	return v, nil
}

const scanChunk = 256 << 10

var scanBufs = sync.Pool{New: func() any { b := make([]byte, scanChunk); return &b }}

// countSyscalls counts the byte pattern 0F 05 (syscall) in executable
// PT_LOAD segments. It is a byte-pattern count, not a disassembly: it may
// over-count when the bytes occur inside other instructions.
func (f *elfFile) countSyscalls() (int, error) {
	bp := scanBufs.Get().(*[]byte)
	defer scanBufs.Put(bp)
	buf := *bp
	const chunk = scanChunk
	n := 0
	for _, p := range f.progs {
		if p.typ != uint32(elf.PT_LOAD) || p.flags&uint32(elf.PF_X) == 0 {
			continue
		}
		prev := byte(0)
		for done := uint64(0); done < p.filesz; {
			m := min(uint64(chunk), p.filesz-done)
			b := buf[:m]
			k, err := f.r.ReadAt(b, int64(p.off+done))
			if uint64(k) != m {
				if err == nil || errors.Is(err, io.EOF) {
					return 0, formatErr(int64(p.off+done), "executable segment truncated")
				}
				return 0, fmt.Errorf("read executable segment at offset %#x: %w", p.off+done, err)
			}
			if prev == 0x0f && b[0] == 0x05 {
				n++
			}
			n += bytes.Count(b, []byte{0x0f, 0x05})
			prev = b[m-1]
			done += m
		}
	}
	return n, nil
}
