package rewrite

import (
	"bytes"
	"cmp"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"

	"golang.org/x/arch/x86/x86asm"
)

// Site is one `syscall` instruction found by disassembly.
type Site struct {
	// Addr is the virtual address of the syscall instruction.
	Addr uint64 `json:"addr"`
	// Func is the function it lies in (a symbol name, or "" for a range
	// known only from .eh_frame).
	Func string `json:"func,omitempty"`
	// Nr is the system call number when an immediate move to %eax/%rax
	// precedes the site in the same basic block, else -1.
	Nr int `json:"nr"`
	// Rewritten says whether the site jumps to a stub; Reason says why not.
	Rewritten bool   `json:"rewritten"`
	Reason    string `json:"reason,omitempty"`
	// Start and End delimit the patched range (Rewritten only).
	Start uint64 `json:"-"`
	End   uint64 `json:"-"`
}

// Result of rewriting one file.
type Result struct {
	Sites     []Site `json:"sites,omitempty"`
	Rewritten int    `json:"rewritten"`
	Left      int    `json:"left"`
	// Already: the input has a stub segment (it was rewritten before); it
	// is returned unchanged.
	Already bool `json:"already_rewritten,omitempty"`
	// Data is the rewritten file, nil when no site was rewritten (or
	// Already, or Options.DryRun).
	Data []byte `json:"-"`
}

// Options of Rewrite.
type Options struct {
	// DryRun finds and classifies the sites without building the file.
	DryRun bool
}

// ErrUnsupported: the file is not a 64-bit x86-64 ELF executable or shared
// object (wrapped with the reason).
var ErrUnsupported = errors.New("not rewritable")

// Reasons a site is left to the trap.
const (
	ReasonUndecodable   = "function contains bytes that do not decode"
	ReasonIndirectJump  = "function has an indirect jump (targets unknown)"
	ReasonInnerSymbol   = "a symbol lies inside the function (its addresses may be compared)"
	ReasonNoWindow      = "no 5-byte range of position-independent whole instructions around the syscall"
	ReasonJumpTarget    = "a branch targets the inside of every candidate range"
	ReasonOutOfReach    = "stub segment farther than 2 GB"
	ReasonOverlap       = "function ranges overlap ambiguously"
	ReasonNotInSegment  = "function outside the executable segments' file contents"
	ReasonSharedPatches = "patched range overlaps another site's"
	ReasonNoRoom        = "no room for the stub segment (address space or file padding)"
	ReasonSigreturn     = "rt_sigreturn: always served by the trap, and unwinders recognise its bytes"
)

// maxPad bounds the zeros an ET_DYN file gets so that its stub segment's
// offset equals its address (doc.go).
const maxPad = 64 << 20

const (
	page    = 0x1000
	hdrSize = 64
	// Magic starts the stub segment.
	Magic = "SCONESTB"
	// Version of the stub segment layout: 2 adds the site table.
	Version = 2
	// SlotOffset is where the runtime writes its fast entry, from the
	// start of the segment.
	SlotOffset = 16
	// TableOffset is where the header holds the site table's offset.
	TableOffset = 32
	// TableEntrySize is the size of a site table entry (doc.go).
	TableEntrySize = 16
	// stub code offsets from the end of the displaced instructions
	// before the syscall (doc.go): the stub's own syscall (S's), and C.
	stubSyscallOff = 28
	stubAfterOff   = 30
	// stub code offsets (doc.go): R is the return address pushed by the
	// stub's call, S = R + slowOff.
	slowOff = 10
)

// inst is what the site analysis needs of a decoded instruction (a whole
// x86asm.Inst is ~200 bytes; libc has ~400k instructions).
type inst struct {
	addr    uint64
	n       uint8
	syscall bool
	movable bool // means the same at another address
	// toAX: the instruction writes %eax/%rax (or %ax, %al) as its first
	// operand; nr is the immediate it moves there when that is a system
	// call number (0-1023), else -1.
	toAX bool
	nr   int16
}

func compact(addr uint64, in x86asm.Inst) inst {
	c := inst{addr: addr, n: uint8(in.Len), syscall: in.Op == x86asm.SYSCALL, movable: movable(in), nr: -1}
	switch in.Args[0] {
	case x86asm.EAX, x86asm.RAX, x86asm.AX, x86asm.AL:
		c.toAX = true
		if imm, ok := in.Args[1].(x86asm.Imm); ok && in.Op == x86asm.MOV && in.Args[0] != x86asm.AX && in.Args[0] != x86asm.AL &&
			imm >= 0 && imm < 1024 {
			c.nr = int16(imm)
		}
	}
	return c
}

type fn struct {
	FuncRange
	name     string
	insts    []inst
	bad      string // reason all of its sites are left
	fromSyms bool
}

// Rewrite finds the syscall sites of an ELF file and patches the safe ones.
// It never modifies data.
func Rewrite(data []byte, o Options) (*Result, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Data != elf.ELFDATA2LSB {
		return nil, fmt.Errorf("%w: not a 64-bit little-endian x86-64 file", ErrUnsupported)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return nil, fmt.Errorf("%w: ELF type %v", ErrUnsupported, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Filesz >= hdrSize && p.Off+hdrSize <= uint64(len(data)) &&
			string(data[p.Off:p.Off+8]) == Magic {
			return &Result{Already: true}, nil
		}
	}
	if !hasSyscallBytes(data, f) {
		return &Result{}, nil // no site: nothing to decode
	}
	fns, symAddrs := functions(f)
	targets, found := decodeAll(data, f, fns)
	if !found {
		return &Result{}, nil
	}
	markOverlaps(fns)
	markInnerSymbols(fns, symAddrs)

	res := &Result{}
	for i := range fns {
		fu := &fns[i]
		for k, in := range fu.insts {
			if !in.syscall {
				continue
			}
			s := Site{Addr: in.addr, Func: fu.name, Nr: sysNr(fu.insts, k, targets)}
			switch {
			case fu.bad != "":
				s.Reason = fu.bad
			case s.Nr == 15: // rt_sigreturn
				s.Reason = ReasonSigreturn
			default:
				s.Start, s.End, s.Reason = window(fu.insts, k, targets)
				s.Rewritten = s.Reason == ""
			}
			res.Sites = append(res.Sites, s)
		}
	}
	sort.Slice(res.Sites, func(i, j int) bool { return res.Sites[i].Addr < res.Sites[j].Addr })
	// Two sites never share bytes (windows of neighbouring syscalls).
	var last uint64
	for i := range res.Sites {
		s := &res.Sites[i]
		if s.Rewritten && s.Start < last {
			s.Rewritten, s.Reason = false, ReasonSharedPatches
		}
		if s.Rewritten {
			last = s.End
		}
	}
	if o.DryRun {
		count(res)
		return res, nil
	}
	if err := build(data, f, res); err != nil {
		return nil, err
	}
	count(res)
	return res, nil
}

func count(r *Result) {
	r.Rewritten, r.Left = 0, 0
	for _, s := range r.Sites {
		if s.Rewritten {
			r.Rewritten++
		} else {
			r.Left++
		}
	}
}

// functions returns the function ranges (symbols first, .eh_frame FDEs for
// code no symbol covers), sorted by start, and every symbol address.
func functions(f *elf.File) ([]fn, map[uint64]bool) {
	syms, _ := f.Symbols()
	addrs := map[uint64]bool{}
	byRange := map[FuncRange]string{}
	// Assembly functions often have no size (musl's vfork, __clone): they
	// end at the next symbol or the end of their section.
	var bounds []uint64
	var unsized []elf.Symbol
	for _, sec := range f.Sections {
		if sec.Flags&elf.SHF_EXECINSTR != 0 {
			bounds = append(bounds, sec.Addr+sec.Size)
		}
	}
	for _, s := range syms {
		t := elf.ST_TYPE(s.Info)
		if s.Section == elf.SHN_UNDEF || s.Section == elf.SHN_ABS || t == elf.STT_SECTION || t == elf.STT_FILE || t == elf.STT_TLS {
			continue
		}
		if int(s.Section) >= len(f.Sections) || f.Sections[s.Section].Flags&elf.SHF_EXECINSTR == 0 {
			continue
		}
		addrs[s.Value] = true
		bounds = append(bounds, s.Value)
		if t != elf.STT_FUNC {
			continue
		}
		if s.Size == 0 {
			unsized = append(unsized, s)
			continue
		}
		r := FuncRange{s.Value, s.Size}
		if old, ok := byRange[r]; !ok || s.Name < old {
			byRange[r] = s.Name
		}
	}
	sort.Slice(bounds, func(i, j int) bool { return bounds[i] < bounds[j] })
	for _, s := range unsized {
		i := sort.Search(len(bounds), func(i int) bool { return bounds[i] > s.Value })
		sec := f.Sections[s.Section]
		end := sec.Addr + sec.Size
		if i < len(bounds) && bounds[i] < end {
			end = bounds[i]
		}
		if end <= s.Value {
			continue
		}
		r := FuncRange{s.Value, end - s.Value}
		if old, ok := byRange[r]; !ok || s.Name < old {
			byRange[r] = s.Name
		}
	}
	var out []fn
	symRanges := make([]FuncRange, 0, len(byRange))
	for r, name := range byRange {
		out = append(out, fn{FuncRange: r, name: name, fromSyms: true})
		symRanges = append(symRanges, r)
	}
	sort.Slice(symRanges, func(i, j int) bool { return symRanges[i].Start < symRanges[j].Start })
	// The largest end among the ranges starting at or before each one.
	reach := make([]uint64, len(symRanges))
	for i, r := range symRanges {
		reach[i] = r.Start + r.Size
		if i > 0 {
			reach[i] = max(reach[i], reach[i-1])
		}
	}
	covered := func(r FuncRange) bool {
		// a symbol range starting before r's end whose end passes r's start
		k := sort.Search(len(symRanges), func(k int) bool { return symRanges[k].Start >= r.Start+r.Size })
		return k > 0 && reach[k-1] > r.Start
	}
	if sec := f.Section(".eh_frame"); sec != nil && sec.Type != elf.SHT_NOBITS {
		if b, err := sec.Data(); err == nil {
			if fdes, err := ParseEHFrame(b, sec.Addr); err == nil {
				for _, r := range fdes {
					// An FDE need not start at an instruction: glibc's
					// __restore_rt is described from the byte before it
					// (the last byte of a nop), and decoding from there
					// resynchronises only by chance. Trusted are starts
					// that are symbols or 16-byte aligned (compiled
					// functions); the rest is not decoded (its calls trap).
					if r.Start%16 != 0 && !addrs[r.Start] {
						continue
					}
					if !covered(r) {
						out = append(out, fn{FuncRange: r})
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Start != out[j].Start {
			return out[i].Start < out[j].Start
		}
		return out[i].Size < out[j].Size
	})
	// FDE ranges may repeat.
	uniq := out[:0]
	for i, x := range out {
		if i > 0 && x.FuncRange == out[i-1].FuncRange {
			continue
		}
		uniq = append(uniq, x)
	}
	return uniq, addrs
}

// codeAt returns the file bytes of [addr, addr+n) when an executable
// PT_LOAD holds them in the file.
func codeAt(data []byte, f *elf.File, addr, n uint64) ([]byte, uint64, bool) {
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 {
			continue
		}
		if addr >= p.Vaddr && n <= p.Filesz && addr-p.Vaddr <= p.Filesz-n {
			off := p.Off + (addr - p.Vaddr)
			if off > uint64(len(data)) || n > uint64(len(data))-off {
				return nil, 0, false
			}
			return data[off : off+n], off, true
		}
	}
	return nil, 0, false
}

// decodeAll decodes the functions whose bytes hold 0f 05 on up to
// GOMAXPROCS goroutines (the decoder is most of a rewrite's time), keeping
// their instructions, and returns their direct branch targets; when none
// of them decodes to a syscall, found is false (the file has no site).
// The other functions are not decoded: scanTargets adds the targets they
// may have inside the decoded ones (on glibc's libc 3.4x faster than
// decoding them, the same sites rewritten).
func decodeAll(data []byte, f *elf.File, fns []fn) (targets addrSet, found bool) {
	var cand, rest []int
	for i := range fns {
		code, _, ok := codeAt(data, f, fns[i].Start, fns[i].Size)
		if ok && bytes.Contains(code, syscallBytes) {
			cand = append(cand, i)
		} else {
			rest = append(rest, i)
		}
	}
	targets = decodeSome(data, f, fns, cand, true)
	found = slices.ContainsFunc(cand, func(i int) bool {
		return slices.ContainsFunc(fns[i].insts, func(in inst) bool { return in.syscall })
	})
	if !found {
		return nil, false
	}
	targets = scanTargets(data, f, fns, cand, rest, targets)
	slices.Sort(targets)
	return slices.Compact(targets), true
}

// scanTargets appends the addresses inside the functions fns[cand...] to
// which some byte of the functions fns[rest...] could branch: every byte
// is taken as the opcode of a relative call, jump, conditional jump, loop
// or xbegin, whether an instruction starts there or not, with a 32-bit and
// (for an operand-size prefix) a 16-bit displacement where the opcode
// takes one. That is a superset of the branches decoding would find, at a
// fraction of its cost (x86asm was most of a rewrite's time), and only
// targets inside the functions with system calls matter: the patch windows
// and the searches for a call's number are there. A spurious target only
// moves a window or leaves a site as a trap.
func scanTargets(data []byte, f *elf.File, fns []fn, cand, rest []int, targets []uint64) []uint64 {
	if len(cand) == 0 {
		return targets
	}
	// The union of the ranges, as sorted disjoint [start, end) pairs.
	ranges := make([]FuncRange, len(cand))
	for k, i := range cand {
		ranges[k] = fns[i].FuncRange
	}
	slices.SortFunc(ranges, func(a, b FuncRange) int { return cmp.Compare(a.Start, b.Start) })
	var union [][2]uint64
	for _, r := range ranges {
		if l := len(union); l > 0 && r.Start <= union[l-1][1] {
			union[l-1][1] = max(union[l-1][1], r.Start+r.Size)
			continue
		}
		union = append(union, [2]uint64{r.Start, r.Start + r.Size})
	}
	inside := func(a uint64) bool {
		// the first range ending after a
		k := sort.Search(len(union), func(k int) bool { return union[k][1] > a })
		return k < len(union) && union[k][0] <= a
	}
	le := binary.LittleEndian
	for _, i := range rest {
		code, _, ok := codeAt(data, f, fns[i].Start, fns[i].Size)
		if !ok {
			continue
		}
		base := fns[i].Start
		add := func(end int, rel int64) {
			if t := base + uint64(int64(end)+rel); inside(t) {
				targets = append(targets, t)
			}
		}
		n := len(code)
		for p := 0; p < n; p++ {
			b := code[p]
			switch {
			case b == 0xe8 || b == 0xe9: // call, jmp rel32 (rel16 after 66)
				if p+5 <= n {
					add(p+5, int64(int32(le.Uint32(code[p+1:]))))
				}
				if p+3 <= n {
					add(p+3, int64(int16(le.Uint16(code[p+1:]))))
				}
			case b == 0xeb || b >= 0x70 && b <= 0x7f || b >= 0xe0 && b <= 0xe3: // jmp, jcc, loop, jrcxz rel8
				if p+2 <= n {
					add(p+2, int64(int8(code[p+1])))
				}
			case (b == 0x0f && p+1 < n && code[p+1] >= 0x80 && code[p+1] <= 0x8f) || // jcc rel32/rel16
				(b == 0xc7 && p+1 < n && code[p+1] == 0xf8): // xbegin rel32/rel16
				if p+6 <= n {
					add(p+6, int64(int32(le.Uint32(code[p+2:]))))
				}
				if p+4 <= n {
					add(p+4, int64(int16(le.Uint16(code[p+2:]))))
				}
			}
		}
	}
	return targets
}

// decodeSome decodes fns[idx...] in parallel and returns their branch
// targets.
func decodeSome(data []byte, f *elf.File, fns []fn, idx []int, keep bool) []uint64 {
	workers := min(runtime.GOMAXPROCS(0), 8, max(1, len(idx)/64))
	parts := make([][]uint64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < len(idx); k += workers {
				parts[w] = decode(data, f, &fns[idx[k]], keep, parts[w])
			}
		}()
	}
	wg.Wait()
	return slices.Concat(parts...)
}

// addrSet is a sorted set of addresses.
type addrSet []uint64

func (s addrSet) has(a uint64) bool {
	_, ok := slices.BinarySearch(s, a)
	return ok
}

// decode disassembles a function linearly and appends its direct branch
// targets; keep: it records the instructions in fu.insts.
func decode(data []byte, f *elf.File, fu *fn, keep bool, targets []uint64) []uint64 {
	code, _, ok := codeAt(data, f, fu.Start, fu.Size)
	if !ok {
		fu.bad = ReasonNotInSegment
		return targets
	}
	for off := 0; off < len(code); {
		in, err := x86asm.Decode(code[off:], 64)
		if err != nil || in.Len == 0 {
			// The instructions before stay (their syscalls are
			// reported, left); nothing of the function is patched.
			fu.bad = ReasonUndecodable
			return targets
		}
		a := fu.Start + uint64(off)
		if keep {
			fu.insts = append(fu.insts, compact(a, in))
		}
		if rel, ok := in.Args[0].(x86asm.Rel); ok {
			targets = append(targets, a+uint64(in.Len)+uint64(int64(rel)))
		}
		if in.Op == x86asm.JMP && fu.bad == "" {
			switch arg := in.Args[0].(type) {
			case x86asm.Reg:
				fu.bad = ReasonIndirectJump
			case x86asm.Mem:
				if arg.Base != x86asm.RIP || arg.Index != 0 {
					fu.bad = ReasonIndirectJump
				}
			}
		}
		off += in.Len
	}
	return targets
}

// markOverlaps: ranges that overlap without being nested at an instruction
// boundary of both cannot be trusted; mark both.
func markOverlaps(fns []fn) {
	for i := range fns {
		for j := i + 1; j < len(fns) && fns[j].Start < fns[i].Start+fns[i].Size; j++ {
			if fns[i].bad == "" {
				fns[i].bad = ReasonOverlap
			}
			if fns[j].bad == "" {
				fns[j].bad = ReasonOverlap
			}
		}
	}
}

// markInnerSymbols: a symbol after a function's start and before its end
// (at an instruction or inside one).
func markInnerSymbols(fns []fn, addrs map[uint64]bool) {
	sorted := make([]uint64, 0, len(addrs))
	for a := range addrs {
		sorted = append(sorted, a)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for i := range fns {
		fu := &fns[i]
		if fu.bad != "" {
			continue
		}
		k := sort.Search(len(sorted), func(k int) bool { return sorted[k] > fu.Start })
		if k < len(sorted) && sorted[k] < fu.Start+fu.Size {
			fu.bad = ReasonInnerSymbol
		}
	}
}

// movable: the instruction means the same at another address.
func movable(in x86asm.Inst) bool {
	if in.PCRel != 0 {
		return false
	}
	switch in.Op {
	case x86asm.JMP, x86asm.CALL, x86asm.RET, x86asm.LRET, x86asm.IRET, x86asm.IRETD, x86asm.IRETQ,
		x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JCXZ, x86asm.JE, x86asm.JECXZ, x86asm.JG,
		x86asm.JGE, x86asm.JL, x86asm.JLE, x86asm.JNE, x86asm.JNO, x86asm.JNP, x86asm.JNS, x86asm.JO,
		x86asm.JP, x86asm.JRCXZ, x86asm.JS, x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE, x86asm.LJMP,
		x86asm.LCALL, x86asm.SYSCALL, x86asm.SYSENTER, x86asm.SYSRET, x86asm.SYSEXIT, x86asm.INT,
		x86asm.INTO, x86asm.UD1, x86asm.UD2, x86asm.HLT, x86asm.XBEGIN, x86asm.XABORT:
		return false
	}
	for _, a := range in.Args {
		if m, ok := a.(x86asm.Mem); ok && (m.Base == x86asm.RIP || m.Base == x86asm.EIP) {
			return false
		}
		if a == x86asm.RIP {
			return false
		}
	}
	return true
}

// window picks the patched range for the syscall insts[k]: whole movable
// instructions before and/or after it, at least 5 bytes, with no branch
// target strictly inside. Fewest instructions first, then those before.
func window(insts []inst, k int, targets addrSet) (uint64, uint64, string) {
	reason := ReasonNoWindow
	for n := 1; n <= 4; n++ {
		for b := n; b >= 0; b-- {
			a := n - b
			if k-b < 0 || k+a >= len(insts) {
				continue
			}
			ok, size := true, 0
			for i := k - b; i <= k+a; i++ {
				if i != k && !insts[i].movable {
					ok = false
					break
				}
				size += int(insts[i].n)
			}
			if !ok || size < 5 {
				continue
			}
			s, e := insts[k-b].addr, insts[k+a].addr+uint64(insts[k+a].n)
			hit := false
			for i := k - b + 1; i <= k+a; i++ {
				if targets.has(insts[i].addr) {
					hit = true
					break
				}
			}
			if hit {
				reason = ReasonJumpTarget
				continue
			}
			return s, e, ""
		}
	}
	return 0, 0, reason
}

// sysNr: the immediate last moved into %eax/%rax before insts[k] in the same
// straight-line code, or -1.
func sysNr(insts []inst, k int, targets addrSet) int {
	for i := k - 1; i >= 0 && k-i <= 8; i-- {
		in := insts[i]
		if in.toAX {
			return int(in.nr)
		}
		if !in.movable || targets.has(in.addr) {
			return -1
		}
	}
	return -1
}

func alignUp(x, a uint64) uint64 { return (x + a - 1) &^ (a - 1) }

// build lays out the stub segment and patches the sites (doc.go).
func build(data []byte, f *elf.File, res *Result) error {
	n := 0
	for _, s := range res.Sites {
		if s.Rewritten {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	var maxEnd uint64
	lastLoad := -1
	for i, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			maxEnd = max(maxEnd, p.Vaddr+p.Memsz)
			lastLoad = i
		}
	}
	if lastLoad < 0 {
		return fmt.Errorf("%w: no PT_LOAD segment", ErrUnsupported)
	}
	if len(f.Progs)+1 >= 0xffff {
		return fmt.Errorf("%w: too many program headers", ErrUnsupported)
	}
	var fileOff, vaddr uint64
	if f.Type == elf.ET_DYN {
		fileOff = alignUp(max(maxEnd, uint64(len(data))), page)
		vaddr = fileOff
	} else {
		fileOff = alignUp(uint64(len(data)), page)
		vaddr = alignUp(maxEnd, page)
	}
	// Room: below the top of the user address space (with a margin for
	// the stubs), and little padding.
	if maxEnd >= 1<<46 || fileOff-uint64(len(data)) > maxPad {
		for i := range res.Sites {
			if res.Sites[i].Rewritten {
				res.Sites[i].Rewritten, res.Sites[i].Reason = false, ReasonNoRoom
			}
		}
		return nil
	}
	nph := len(f.Progs) + 1
	phOff := uint64(hdrSize)
	entryOff := alignUp(phOff+uint64(nph)*56, 16)
	seg := make([]byte, entryOff)
	copy(seg, Magic)
	le := binary.LittleEndian
	le.PutUint32(seg[8:], Version)
	le.PutUint32(seg[20+4:], uint32(entryOff)) // after the slot: entry offset
	le.PutUint32(seg[28:], uint32(phOff))

	// entry: mov slot(%rip),%rcx; jrcxz native; jmp *%rcx
	// native: pop %rcx; lea 10(%rcx),%rcx; jmp *%rcx
	entry := vaddr + entryOff
	tr := []byte{0x48, 0x8b, 0x0d, 0, 0, 0, 0, 0xe3, 0x02, 0xff, 0xe1, 0x59, 0x48, 0x8d, 0x49, slowOff, 0xff, 0xe1}
	le.PutUint32(tr[3:], uint32(int32(int64(vaddr+SlotOffset)-int64(entry+7))))
	seg = append(seg, tr...)

	out := make([]byte, fileOff, int(fileOff)+len(seg)+n*(64+TableEntrySize)+page)
	copy(out, data)
	written := 0
	var table []byte
	for i := range res.Sites {
		s := &res.Sites[i]
		if !s.Rewritten {
			continue
		}
		for len(seg)%16 != 0 {
			seg = append(seg, 0xcc)
		}
		stub := vaddr + uint64(len(seg))
		if !reach(s.Start+5, stub) || !reach(stub, s.End) {
			s.Rewritten, s.Reason = false, ReasonOutOfReach
			continue
		}
		site, off, ok := codeAt(data, f, s.Start, s.End-s.Start)
		if !ok {
			s.Rewritten, s.Reason = false, ReasonNotInSegment
			continue
		}
		sc := int(s.Addr - s.Start)
		// The site table entry: where the stub is, and the patched range
		// relative to the segment (within reach, so it fits 32 bits).
		var e [TableEntrySize]byte
		le.PutUint32(e[0:], uint32(stub-vaddr))
		le.PutUint32(e[4:], uint32(int32(int64(s.Start)-int64(vaddr))))
		e[8], e[9] = byte(sc), byte(len(site))
		table = append(table, e[:]...)
		seg = append(seg, site[:sc]...)                 // displaced before
		seg = append(seg, 0x48, 0x8d, 0x64, 0x24, 0x80) // lea -128(%rsp),%rsp
		call := vaddr + uint64(len(seg))
		seg = append(seg, 0xe8, 0, 0, 0, 0) // call entry
		le.PutUint32(seg[len(seg)-4:], uint32(int32(int64(entry)-int64(call+5))))
		seg = append(seg, 0x48, 0x8d, 0xa4, 0x24, 0x80, 0, 0, 0) // R: lea 128(%rsp),%rsp
		seg = append(seg, 0xeb, 0x0a)                            // jmp C
		seg = append(seg, 0x48, 0x8d, 0xa4, 0x24, 0x80, 0, 0, 0) // S: lea 128(%rsp),%rsp
		seg = append(seg, 0x0f, 0x05)                            // syscall
		seg = append(seg, site[sc+2:]...)                        // C: displaced after
		jmp := vaddr + uint64(len(seg))
		seg = append(seg, 0xe9, 0, 0, 0, 0)
		le.PutUint32(seg[len(seg)-4:], uint32(int32(int64(s.End)-int64(jmp+5))))

		p := out[off : off+uint64(len(site))]
		p[0] = 0xe9
		le.PutUint32(p[1:], uint32(int32(int64(stub)-int64(s.Start+5))))
		for j := 5; j < len(p); j++ {
			p[j] = 0xcc
		}
		written++
	}
	if written == 0 {
		return nil
	}
	le.PutUint32(seg[12:], uint32(written))
	for len(seg)%16 != 0 {
		seg = append(seg, 0xcc)
	}
	le.PutUint32(seg[TableOffset:], uint32(len(seg)))
	seg = append(seg, table...)

	// The program header table, one PT_LOAD longer, at phOff.
	var phs []elf.ProgHeader
	for i, p := range f.Progs {
		ph := p.ProgHeader
		if ph.Type == elf.PT_PHDR {
			ph.Off, ph.Vaddr, ph.Paddr = fileOff+phOff, vaddr+phOff, vaddr+phOff
			ph.Filesz, ph.Memsz = uint64(nph)*56, uint64(nph)*56
		}
		phs = append(phs, ph)
		if i == lastLoad {
			phs = append(phs, elf.ProgHeader{Type: elf.PT_LOAD, Flags: elf.PF_R | elf.PF_X, Off: fileOff,
				Vaddr: vaddr, Paddr: vaddr, Filesz: uint64(len(seg)), Memsz: uint64(len(seg)), Align: page})
		}
	}
	for i, ph := range phs {
		b := seg[phOff+uint64(i)*56:]
		le.PutUint32(b[0:], uint32(ph.Type))
		le.PutUint32(b[4:], uint32(ph.Flags))
		le.PutUint64(b[8:], ph.Off)
		le.PutUint64(b[16:], ph.Vaddr)
		le.PutUint64(b[24:], ph.Paddr)
		le.PutUint64(b[32:], ph.Filesz)
		le.PutUint64(b[40:], ph.Memsz)
		le.PutUint64(b[48:], ph.Align)
	}
	out = append(out, seg...)
	// ELF header: e_phoff (0x20), e_phnum (0x38).
	le.PutUint64(out[0x20:], fileOff+phOff)
	le.PutUint16(out[0x38:], uint16(nph))
	res.Data = out
	return nil
}

func reach(from, to uint64) bool {
	d := int64(to - from)
	return d > -(1<<31)+page && d < (1<<31)-page
}

// Role of an ELF file for the rewrite.
type Role int

const (
	// RoleOther: not an x86-64 program or shared object (not rewritten).
	RoleOther Role = iota
	// RoleProgram: an executable (ET_EXEC, PIE or static-pie), which
	// scone-run's loader maps.
	RoleProgram
	// RoleLibrary: a shared object, which the dynamic loader maps
	// (scone-run fills its slot when it is mapped executable).
	RoleLibrary
)

// Classify says whether data is a program or a shared object, and names
// its PT_INTERP (which scone-run loads too). Not an error for non-ELF
// input: RoleOther.
func Classify(data []byte) (Role, string) {
	if len(data) < 4 || string(data[:4]) != elf.ELFMAG {
		return RoleOther, ""
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil || f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
		return RoleOther, ""
	}
	interp := ""
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP && p.Filesz > 1 && p.Filesz < 4096 && p.Off+p.Filesz <= uint64(len(data)) {
			interp = string(bytes.TrimRight(data[p.Off:p.Off+p.Filesz], "\x00"))
		}
	}
	switch f.Type {
	case elf.ET_EXEC:
		return RoleProgram, interp
	case elf.ET_DYN:
		if interp != "" {
			return RoleProgram, interp
		}
		if v, err := f.DynValue(elf.DT_FLAGS_1); err == nil && len(v) > 0 && v[0]&uint64(elf.DF_1_PIE) != 0 {
			return RoleProgram, ""
		}
		return RoleLibrary, ""
	}
	return RoleOther, ""
}

// HasSyscallBytes says whether an executable segment of the ELF file holds
// the bytes of a `syscall` instruction (0f 05) at all: a cheap filter
// before the disassembly (most shared libraries make no system calls).
func HasSyscallBytes(data []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(data))
	return err == nil && hasSyscallBytes(data, f)
}

var syscallBytes = []byte{0x0f, 0x05}

func hasSyscallBytes(data []byte, f *elf.File) bool {
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 || p.Off > uint64(len(data)) {
			continue
		}
		end := min(p.Off+p.Filesz, uint64(len(data)))
		if bytes.Contains(data[p.Off:end], syscallBytes) {
			return true
		}
	}
	return false
}
