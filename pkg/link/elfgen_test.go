package link

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// elfSpec describes a minimal ELF64 x86-64 file made by genELF: one PT_LOAD
// covering the whole file (vaddr == offset), PT_DYNAMIC, optional PT_INTERP,
// PT_GNU_STACK, and section headers for .dynstr, .dynamic and .shstrtab.
type elfSpec struct {
	typ      elf.Type
	machine  elf.Machine
	class    elf.Class
	interp   string
	soname   string
	needed   []string
	rpath    string
	runpath  string
	flags1   uint64
	stackX   bool
	noStack  bool
	sections bool
	// hashNchain > 0 adds DT_SYMTAB and a DT_HASH table claiming that many
	// symbols; verneedNum > 0 adds DT_VERNEED/DT_VERNEEDNUM.
	hashNchain uint32
	verneedNum uint64
}

// genLayout records where genELF put things, for the corpus mutations.
type genLayout struct {
	phoff, dynOff, dynLen, strOff, strLen, shoff int
}

func genELF(s elfSpec) ([]byte, genLayout) {
	var lay genLayout
	if s.machine == 0 {
		s.machine = elf.EM_X86_64
	}
	if s.class == 0 {
		s.class = elf.ELFCLASS64
	}
	if s.typ == 0 {
		s.typ = elf.ET_DYN
	}
	// String table.
	var strs bytes.Buffer
	strs.WriteByte(0)
	add := func(x string) uint64 {
		off := uint64(strs.Len())
		strs.WriteString(x)
		strs.WriteByte(0)
		return off
	}
	var dyn [][2]uint64
	for _, n := range s.needed {
		dyn = append(dyn, [2]uint64{uint64(elf.DT_NEEDED), add(n)})
	}
	if s.soname != "" {
		dyn = append(dyn, [2]uint64{uint64(elf.DT_SONAME), add(s.soname)})
	}
	if s.rpath != "" {
		dyn = append(dyn, [2]uint64{uint64(elf.DT_RPATH), add(s.rpath)})
	}
	if s.runpath != "" {
		dyn = append(dyn, [2]uint64{uint64(elf.DT_RUNPATH), add(s.runpath)})
	}
	if s.flags1 != 0 {
		dyn = append(dyn, [2]uint64{uint64(elf.DT_FLAGS_1), s.flags1})
	}
	nph := 2
	if s.interp != "" {
		nph++
	}
	if !s.noStack {
		nph++
	}
	lay.phoff = 64
	off := lay.phoff + nph*56
	interpOff := off
	off += len(s.interp) + 1
	off = (off + 7) &^ 7
	lay.strOff = off
	lay.strLen = strs.Len()
	off += strs.Len()
	off = (off + 7) &^ 7
	extraOff := off
	if s.hashNchain > 0 {
		dyn = append(dyn, [2]uint64{uint64(elf.DT_HASH), uint64(off)}, [2]uint64{uint64(elf.DT_SYMTAB), uint64(lay.phoff)})
		off += 8
	}
	verneedOff := off
	if s.verneedNum > 0 {
		dyn = append(dyn, [2]uint64{uint64(elf.DT_VERNEED), uint64(off)}, [2]uint64{uint64(elf.DT_VERNEEDNUM), s.verneedNum})
		off += 16
	}
	lay.dynOff = off
	dyn = append(dyn, [2]uint64{uint64(elf.DT_STRTAB), uint64(lay.strOff)}, [2]uint64{uint64(elf.DT_STRSZ), uint64(lay.strLen)}, [2]uint64{0, 0})
	lay.dynLen = len(dyn) * 16
	off += lay.dynLen
	shstr := []byte("\x00.dynstr\x00.dynamic\x00.shstrtab\x00")
	shstrOff := off
	if s.sections {
		off += len(shstr)
		off = (off + 7) &^ 7
		lay.shoff = off
		off += 4 * 64
	}
	out := make([]byte, off)
	le := binary.LittleEndian
	copy(out, elf.ELFMAG)
	out[elf.EI_CLASS] = byte(s.class)
	out[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	out[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	le.PutUint16(out[16:], uint16(s.typ))
	le.PutUint16(out[18:], uint16(s.machine))
	le.PutUint32(out[20:], 1)
	le.PutUint64(out[32:], uint64(lay.phoff))
	le.PutUint64(out[40:], uint64(lay.shoff))
	le.PutUint16(out[52:], 64)
	le.PutUint16(out[54:], 56)
	le.PutUint16(out[56:], uint16(nph))
	le.PutUint16(out[58:], 64)
	if s.sections {
		le.PutUint16(out[60:], 4)
		le.PutUint16(out[62:], 3)
	}
	ph := lay.phoff
	putPh := func(typ elf.ProgType, flags elf.ProgFlag, o, sz int) {
		b := out[ph:]
		le.PutUint32(b[0:], uint32(typ))
		le.PutUint32(b[4:], uint32(flags))
		le.PutUint64(b[8:], uint64(o))
		le.PutUint64(b[16:], uint64(o))
		le.PutUint64(b[24:], uint64(o))
		le.PutUint64(b[32:], uint64(sz))
		le.PutUint64(b[40:], uint64(sz))
		le.PutUint64(b[48:], 8)
		ph += 56
	}
	putPh(elf.PT_LOAD, elf.PF_R|elf.PF_X, 0, off)
	putPh(elf.PT_DYNAMIC, elf.PF_R|elf.PF_W, lay.dynOff, lay.dynLen)
	if s.interp != "" {
		putPh(elf.PT_INTERP, elf.PF_R, interpOff, len(s.interp)+1)
		copy(out[interpOff:], s.interp)
	}
	if !s.noStack {
		f := elf.PF_R | elf.PF_W
		if s.stackX {
			f |= elf.PF_X
		}
		putPh(elf.PT_GNU_STACK, f, 0, 0)
	}
	copy(out[lay.strOff:], strs.Bytes())
	if s.hashNchain > 0 {
		le.PutUint32(out[extraOff:], 1)
		le.PutUint32(out[extraOff+4:], s.hashNchain)
	}
	if s.verneedNum > 0 {
		b := out[verneedOff:]
		le.PutUint16(b[0:], 1)
		le.PutUint16(b[2:], 1)        // one aux
		le.PutUint32(b[8:], 16)       // aux right after: past the end for the last
		le.PutUint32(b[12:], 0x10000) // next entry past the end of the file
	}
	for i, d := range dyn {
		le.PutUint64(out[lay.dynOff+16*i:], d[0])
		le.PutUint64(out[lay.dynOff+16*i+8:], d[1])
	}
	if s.sections {
		copy(out[shstrOff:], shstr)
		sh := func(i int, name uint32, typ elf.SectionType, o, sz int) {
			b := out[lay.shoff+64*i:]
			if typ == elf.SHT_DYNAMIC {
				le.PutUint32(b[40:], 1) // sh_link: .dynstr
			}
			le.PutUint32(b[0:], name)
			le.PutUint32(b[4:], uint32(typ))
			le.PutUint64(b[16:], uint64(o))
			le.PutUint64(b[24:], uint64(o))
			le.PutUint64(b[32:], uint64(sz))
		}
		sh(1, 1, elf.SHT_STRTAB, lay.strOff, lay.strLen)
		sh(2, 9, elf.SHT_DYNAMIC, lay.dynOff, lay.dynLen)
		sh(3, 18, elf.SHT_STRTAB, shstrOff, len(shstr))
	}
	return out, lay
}

// corpus returns the malformed-ELF corpus: name -> bytes. Every entry must
// make AnalyzeFile return an error (never panic).
func corpus() map[string][]byte {
	le := binary.LittleEndian
	base := elfSpec{interp: "/lib64/ld-linux-x86-64.so.2", needed: []string{"libc.so.6"}, sections: true}
	good, lay := genELF(base)
	mut := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), good...)
		return f(b)
	}
	c := map[string][]byte{
		"empty":           {},
		"magic-only":      []byte("\x7fELF"),
		"ident-truncated": []byte("\x7fELF\x02\x01\x01\x00\x00"),
		"bad-class":       mut(func(b []byte) []byte { b[elf.EI_CLASS] = 7; return b }),
		"bad-data":        mut(func(b []byte) []byte { b[elf.EI_DATA] = 0; return b }),
		"bad-version":     mut(func(b []byte) []byte { b[elf.EI_VERSION] = 9; return b }),
		"header-truncated": mut(func(b []byte) []byte {
			return b[:40]
		}),
		"phoff-past-eof": mut(func(b []byte) []byte { le.PutUint64(b[32:], 1<<40); return b }),
		"phoff-overflow": mut(func(b []byte) []byte { le.PutUint64(b[32:], ^uint64(0)-8); return b }),
		"phnum-huge":     mut(func(b []byte) []byte { le.PutUint16(b[56:], 0xfffe); return b }),
		"phentsize-bad":  mut(func(b []byte) []byte { le.PutUint16(b[54:], 32); return b }),
		"ehsize-bad":     mut(func(b []byte) []byte { le.PutUint16(b[52:], 10); return b }),
		"shnum-huge":     mut(func(b []byte) []byte { le.PutUint16(b[60:], 0xfff0); return b }),
		"shoff-past-eof": mut(func(b []byte) []byte { le.PutUint64(b[40:], uint64(len(b))+64); return b }),
		"shstrndx-range": mut(func(b []byte) []byte { le.PutUint16(b[62:], 99); return b }),
		"shstrndx-type":  mut(func(b []byte) []byte { le.PutUint16(b[62:], 2); return b }),
		"section-past-eof": mut(func(b []byte) []byte {
			le.PutUint64(b[lay.shoff+64*2+32:], 1<<30)
			return b
		}),
		"sections-overlap": mut(func(b []byte) []byte {
			// .dynamic starts inside .dynstr.
			le.PutUint64(b[lay.shoff+64*2+24:], uint64(lay.strOff+1))
			return b
		}),
		"load-past-eof": mut(func(b []byte) []byte { le.PutUint64(b[lay.phoff+32:], 1<<32); return b }),
		"load-filesz-gt-memsz": mut(func(b []byte) []byte {
			le.PutUint64(b[lay.phoff+40:], 8)
			return b
		}),
		"dynamic-past-eof": mut(func(b []byte) []byte { le.PutUint64(b[lay.phoff+56+8:], uint64(len(b))); return b }),
		"dynamic-empty":    mut(func(b []byte) []byte { le.PutUint64(b[lay.phoff+56+32:], 8); return b }),
		"dynamic-no-null": mut(func(b []byte) []byte {
			n := lay.dynLen / 16
			le.PutUint64(b[lay.dynOff+16*(n-1):], uint64(elf.DT_DEBUG))
			return b
		}),
		"strtab-outside-load": mut(func(b []byte) []byte {
			for i := 0; i < lay.dynLen/16; i++ {
				if le.Uint64(b[lay.dynOff+16*i:]) == uint64(elf.DT_STRTAB) {
					le.PutUint64(b[lay.dynOff+16*i+8:], 1<<40)
				}
			}
			return b
		}),
		"strsz-huge": mut(func(b []byte) []byte {
			for i := 0; i < lay.dynLen/16; i++ {
				if le.Uint64(b[lay.dynOff+16*i:]) == uint64(elf.DT_STRSZ) {
					le.PutUint64(b[lay.dynOff+16*i+8:], 1<<62)
				}
			}
			return b
		}),
		"interp-empty": mut(func(b []byte) []byte {
			off := le.Uint64(b[lay.phoff+112+8:])
			b[off] = 0
			return b
		}),
	}
	hash, _ := genELF(elfSpec{needed: []string{"libc.so.6"}, hashNchain: 0xffffffff})
	c["symtab-huge-count"] = hash
	vn, _ := genELF(elfSpec{needed: []string{"libc.so.6"}, verneedNum: 1 << 40})
	c["verneed-huge-count"] = vn
	vn2, _ := genELF(elfSpec{needed: []string{"libc.so.6"}, verneedNum: 20})
	c["verneed-chain-past-eof"] = vn2
	return c
}
