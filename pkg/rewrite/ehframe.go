package rewrite

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// FuncRange is a function's address range [Start, Start+Size).
type FuncRange struct {
	Start, Size uint64
}

// errEHFrame is wrapped by every .eh_frame parse error.
var errEHFrame = errors.New("malformed .eh_frame")

// ParseEHFrame returns the address ranges of the FDEs in an .eh_frame
// section whose contents are b, loaded at address addr. It never panics;
// malformed input gives an error wrapping the offset of the bad record.
// Only the encodings linkers emit for x86-64 (absolute and pc-relative,
// 2/4/8-byte and LEB128 values) are accepted.
func ParseEHFrame(b []byte, addr uint64) ([]FuncRange, error) {
	type cie struct{ enc byte }
	cies := map[uint64]cie{}
	var out []FuncRange
	for off := uint64(0); off < uint64(len(b)); {
		rec := off
		r := &reader{b: b, off: off}
		l, ok := r.u32()
		if !ok {
			return nil, fmt.Errorf("%w: record at %#x: truncated length", errEHFrame, rec)
		}
		if l == 0 { // terminator
			break
		}
		length := uint64(l)
		if l == 0xffffffff {
			v, ok := r.u64()
			if !ok {
				return nil, fmt.Errorf("%w: record at %#x: truncated length", errEHFrame, rec)
			}
			length = v
		}
		start := r.off
		if length > uint64(len(b))-start {
			return nil, fmt.Errorf("%w: record at %#x runs past the section", errEHFrame, rec)
		}
		end := start + length
		r.b = b[:end]
		idOff := r.off
		id, ok := r.u32()
		if !ok {
			return nil, fmt.Errorf("%w: record at %#x: truncated id", errEHFrame, rec)
		}
		if id == 0 {
			c, err := parseCIE(r)
			if err != nil {
				return nil, fmt.Errorf("%w: CIE at %#x: %v", errEHFrame, rec, err)
			}
			cies[rec] = cie{enc: c}
		} else {
			if uint64(id) > idOff {
				return nil, fmt.Errorf("%w: FDE at %#x points before the section", errEHFrame, rec)
			}
			c, found := cies[idOff-uint64(id)]
			if !found {
				return nil, fmt.Errorf("%w: FDE at %#x: no CIE at %#x", errEHFrame, rec, idOff-uint64(id))
			}
			pos := addr + r.off
			begin, err := r.encoded(c.enc, pos, true)
			if err != nil {
				return nil, fmt.Errorf("%w: FDE at %#x: %v", errEHFrame, rec, err)
			}
			size, err := r.encoded(c.enc&0x0f, 0, false)
			if err != nil {
				return nil, fmt.Errorf("%w: FDE at %#x: %v", errEHFrame, rec, err)
			}
			if size > 0 && begin+size > begin {
				out = append(out, FuncRange{Start: begin, Size: size})
			}
		}
		off = end
	}
	return out, nil
}

// parseCIE returns the CIE's FDE pointer encoding (DW_EH_PE_absptr without
// an 'R' augmentation).
func parseCIE(r *reader) (byte, error) {
	ver, ok := r.u8()
	if !ok || (ver != 1 && ver != 3) {
		return 0, fmt.Errorf("version %d", ver)
	}
	aug, ok := r.cstr()
	if !ok {
		return 0, errors.New("truncated augmentation")
	}
	if _, ok := r.uleb(); !ok { // code alignment
		return 0, errors.New("truncated code alignment")
	}
	if _, ok := r.uleb(); !ok { // data alignment (sleb, same length)
		return 0, errors.New("truncated data alignment")
	}
	if ver == 1 {
		if _, ok := r.u8(); !ok {
			return 0, errors.New("truncated return register")
		}
	} else if _, ok := r.uleb(); !ok {
		return 0, errors.New("truncated return register")
	}
	enc := byte(0)
	if len(aug) == 0 || aug[0] != 'z' {
		if len(aug) != 0 {
			return 0, fmt.Errorf("augmentation %q", aug)
		}
		return enc, nil
	}
	if _, ok := r.uleb(); !ok {
		return 0, errors.New("truncated augmentation length")
	}
	for _, c := range aug[1:] {
		switch c {
		case 'L':
			if _, ok := r.u8(); !ok {
				return 0, errors.New("truncated LSDA encoding")
			}
		case 'R':
			e, ok := r.u8()
			if !ok {
				return 0, errors.New("truncated FDE encoding")
			}
			enc = e
		case 'P':
			pe, ok := r.u8()
			if !ok {
				return 0, errors.New("truncated personality encoding")
			}
			if _, err := r.encoded(pe&^0x80, 0, false); err != nil {
				return 0, fmt.Errorf("personality: %v", err)
			}
		case 'S', 'B', 'G':
		default:
			return 0, fmt.Errorf("augmentation %q", aug)
		}
	}
	return enc, nil
}

type reader struct {
	b   []byte
	off uint64
}

func (r *reader) take(n uint64) ([]byte, bool) {
	if n > uint64(len(r.b)) || r.off > uint64(len(r.b))-n {
		return nil, false
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s, true
}

func (r *reader) u8() (byte, bool) {
	s, ok := r.take(1)
	if !ok {
		return 0, false
	}
	return s[0], true
}

func (r *reader) u16() (uint16, bool) {
	s, ok := r.take(2)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint16(s), true
}

func (r *reader) u32() (uint32, bool) {
	s, ok := r.take(4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(s), true
}

func (r *reader) u64() (uint64, bool) {
	s, ok := r.take(8)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint64(s), true
}

func (r *reader) cstr() (string, bool) {
	for i := r.off; i < uint64(len(r.b)); i++ {
		if r.b[i] == 0 {
			s := string(r.b[r.off:i])
			r.off = i + 1
			return s, true
		}
	}
	return "", false
}

// uleb reads an unsigned LEB128 (also skips a signed one: same length).
func (r *reader) uleb() (uint64, bool) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		c, ok := r.u8()
		if !ok || shift > 63 {
			return 0, false
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, true
		}
	}
}

func (r *reader) sleb() (int64, bool) {
	var v int64
	shift := uint(0)
	for {
		c, ok := r.u8()
		if !ok || shift > 63 {
			return 0, false
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, true
		}
	}
}

// encoded reads a DW_EH_PE-encoded value; pos is the address of the field
// (for pc-relative values), apply says whether to apply the relative part.
func (r *reader) encoded(enc byte, pos uint64, apply bool) (uint64, error) {
	if enc == 0xff {
		return 0, errors.New("omitted value")
	}
	var v uint64
	var ok bool
	switch enc & 0x0f {
	case 0x00, 0x04, 0x0c:
		v, ok = r.u64()
	case 0x01:
		v, ok = r.uleb()
	case 0x02:
		var x uint16
		x, ok = r.u16()
		v = uint64(x)
	case 0x03:
		var x uint32
		x, ok = r.u32()
		v = uint64(x)
	case 0x09:
		var x int64
		x, ok = r.sleb()
		v = uint64(x)
	case 0x0a:
		var x uint16
		x, ok = r.u16()
		v = uint64(int64(int16(x)))
	case 0x0b:
		var x uint32
		x, ok = r.u32()
		v = uint64(int64(int32(x)))
	default:
		return 0, fmt.Errorf("pointer encoding %#x", enc)
	}
	if !ok {
		return 0, errors.New("truncated value")
	}
	if !apply {
		return v, nil
	}
	switch enc & 0x70 {
	case 0x00:
		return v, nil
	case 0x10:
		return pos + v, nil
	}
	return 0, fmt.Errorf("pointer encoding %#x", enc)
}
