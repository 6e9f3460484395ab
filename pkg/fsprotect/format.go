package fsprotect

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Format constants (docs/fsprotect.md).
const (
	// Version is the format version Pack writes. Readers read it and
	// version 1 (MinVersion).
	Version = 2
	// MinVersion is the oldest format version this package reads.
	MinVersion = 1
	// Magic starts the preamble and the header of every image.
	Magic = "SCONEFSP"
	// HeaderSize is the size of the header at the end of a version 2 image
	// (version 1: 192 bytes).
	HeaderSize = 256
	// PreambleSize is the size of the preamble at offset 0.
	PreambleSize = 16
	// MinChunkSize and MaxChunkSize bound the chunk size (powers of two).
	MinChunkSize = 1 << minChunkLog2
	MaxChunkSize = 1 << maxChunkLog2
	// DefaultChunkSize is the chunk size Pack uses unless told otherwise
	// (chosen from the measurements in docs/fsprotect.md).
	DefaultChunkSize = 1 << defaultChunkLog2

	minChunkLog2     = 12
	maxChunkLog2     = 20
	defaultChunkLog2 = 12

	headerSizeV1  = 192
	saltSize      = 32
	tweakSize     = 32
	tagSize       = 16
	nonceSize     = 12
	chunkRecSize  = nonceSize + tagSize
	inodeRecSize  = 96
	direntRecSize = 12
	xattrRecSize  = 16
	indexHdrSize  = 40
	indexMagic    = "FSPINDEX"
	headerAADSize = 64
	maxNameLen    = 255
	rootIno       = 1

	// flagChunkCompression (header flags bit 0, version 2 only): chunks
	// may be compressed; the codec is in header byte 192, chunk records
	// carry each chunk's stored form (compress.go).
	flagChunkCompression = 1 << 0
)

// headerSize is the size of the header of format version v (1 or 2).
func headerSize(v uint32) int {
	if v == 1 {
		return headerSizeV1
	}
	return HeaderSize
}

// macStart is the offset of the header MAC: it covers header[:macStart].
func macStart(v uint32) int { return headerSize(v) - 32 }

// knownVersion reports whether this package reads format version v.
func knownVersion(v uint32) bool { return v >= MinVersion && v <= Version }

// Entry types as stored in the index.
const (
	typeFile    = 1
	typeDir     = 2
	typeSymlink = 3
	typeChar    = 4
	typeBlock   = 5
	typeFifo    = 6
)

// Unix S_IFMT bits.
const (
	sIFMT  = 0o170000
	sIFREG = 0o100000
	sIFDIR = 0o040000
	sIFLNK = 0o120000
	sIFCHR = 0o020000
	sIFBLK = 0o060000
	sIFIFO = 0o010000
)

var typeIFMT = [...]uint32{typeFile: sIFREG, typeDir: sIFDIR, typeSymlink: sIFLNK, typeChar: sIFCHR, typeBlock: sIFBLK, typeFifo: sIFIFO}

var le = binary.LittleEndian

// header is the header stored at the end of an image (192 bytes in format
// version 1, 256 in version 2).
type header struct {
	version    uint32
	chunkLog2  uint32
	imageSize  uint64
	dataOff    uint64
	dataLen    uint64
	indexOff   uint64
	indexLen   uint64
	flags      uint64
	indexNonce [nonceSize]byte
	reserved   uint32
	keyCheck   [16]byte
	dataHash   [32]byte
	indexHash  [32]byte
	salt       [saltSize]byte // version 2: the image salt
	reserved2  [32]byte       // version 2: [0] codec when flags bit 0 is set, else zero; the rest zero
	mac        [32]byte
}

func (h *header) marshal() []byte {
	b := make([]byte, headerSize(h.version))
	copy(b, Magic)
	le.PutUint32(b[8:], h.version)
	le.PutUint32(b[12:], h.chunkLog2)
	le.PutUint64(b[16:], h.imageSize)
	le.PutUint64(b[24:], h.dataOff)
	le.PutUint64(b[32:], h.dataLen)
	le.PutUint64(b[40:], h.indexOff)
	le.PutUint64(b[48:], h.indexLen)
	le.PutUint64(b[56:], h.flags)
	copy(b[64:], h.indexNonce[:])
	le.PutUint32(b[76:], h.reserved)
	copy(b[80:], h.keyCheck[:])
	copy(b[96:], h.dataHash[:])
	copy(b[128:], h.indexHash[:])
	if h.version >= 2 {
		copy(b[160:], h.salt[:])
		copy(b[192:], h.reserved2[:])
	}
	copy(b[macStart(h.version):], h.mac[:])
	return b
}

// parseHeader decodes the header found at image offset off, of an image
// whose preamble says version v (known), and checks what can be checked
// without the key: magic and version. The MAC is not checked.
func parseHeader(b []byte, off int64, v uint32) (*header, error) {
	if len(b) != headerSize(v) {
		return nil, ErrTruncated
	}
	if string(b[:8]) != Magic {
		return nil, fmt.Errorf("find header at offset %d: %w", off, ErrTruncated)
	}
	h := &header{
		version:   le.Uint32(b[8:]),
		chunkLog2: le.Uint32(b[12:]),
		imageSize: le.Uint64(b[16:]),
		dataOff:   le.Uint64(b[24:]),
		dataLen:   le.Uint64(b[32:]),
		indexOff:  le.Uint64(b[40:]),
		indexLen:  le.Uint64(b[48:]),
		flags:     le.Uint64(b[56:]),
	}
	if h.version != v {
		if !knownVersion(h.version) {
			return nil, &UnknownVersionError{Version: h.version}
		}
		return nil, &FormatError{Offset: off + 8, Msg: fmt.Sprintf("header: version %d, preamble says %d", h.version, v)}
	}
	copy(h.indexNonce[:], b[64:])
	h.reserved = le.Uint32(b[76:])
	copy(h.keyCheck[:], b[80:])
	copy(h.dataHash[:], b[96:])
	copy(h.indexHash[:], b[128:])
	if v >= 2 {
		copy(h.salt[:], b[160:])
		copy(h.reserved2[:], b[192:])
	}
	copy(h.mac[:], b[macStart(v):])
	return h, nil
}

// checkLayout validates the header fields against the image size. It runs
// after the MAC check when a key is available.
func (h *header) checkLayout(size int64) error {
	hs := int64(headerSize(h.version))
	off := size - hs
	fe := func(field int64, msg string) error { return &FormatError{Offset: off + field, Msg: "header: " + msg} }
	if h.imageSize > uint64(size) {
		return fmt.Errorf("image is %d bytes, header says %d: %w", size, h.imageSize, ErrTruncated)
	}
	if h.imageSize != uint64(size) {
		return fe(16, fmt.Sprintf("image is %d bytes, header says %d", size, h.imageSize))
	}
	if h.chunkLog2 < minChunkLog2 || h.chunkLog2 > maxChunkLog2 {
		return fe(12, fmt.Sprintf("chunk size 2^%d out of range", h.chunkLog2))
	}
	if h.flags&^flagChunkCompression != 0 {
		return fe(56, fmt.Sprintf("unknown flags %#x", h.flags))
	}
	if h.flags&flagChunkCompression != 0 && h.version < 2 {
		return fe(56, "flag 0x1 (per-chunk compression) in a version 1 image")
	}
	if h.reserved != 0 {
		return fe(76, "reserved field not zero")
	}
	params := h.reserved2
	if h.compressed() {
		if params[0] != codecLZ4 && params[0] != codecLZ4Dict {
			return fe(192, fmt.Sprintf("unknown codec %d", params[0]))
		}
		params[0] = 0
	}
	if params != [32]byte{} {
		return fe(192, "reserved field not zero")
	}
	if h.dataOff != PreambleSize {
		return fe(24, "data region does not follow the preamble")
	}
	if h.dataLen > uint64(size) || h.dataOff+h.dataLen != h.indexOff {
		return fe(32, "index does not follow the data region")
	}
	if h.indexLen < indexHdrSize+inodeRecSize+tagSize || h.indexLen > uint64(size) ||
		h.indexOff+h.indexLen != uint64(size)-uint64(hs) {
		return fe(48, "header does not follow the index")
	}
	return nil
}

// compressed reports whether the image's chunk records carry stored forms
// (flags bit 0).
func (h *header) compressed() bool { return h.flags&flagChunkCompression != 0 }

// hasDict reports whether chunks are compressed against the image
// dictionary (codec 2).
func (h *header) hasDict() bool { return h.compressed() && h.reserved2[0] == codecLZ4Dict }

// recSize is the size of a chunk record of the image.
func (h *header) recSize() int {
	if h.compressed() {
		return chunkRecSizeZ
	}
	return chunkRecSize
}

// inode is one decoded inode record.
type inode struct {
	typ, mode, uid, gid, nlink uint32
	devMajor, devMinor         uint32
	mtimeNsec                  uint32
	mtimeSec                   int64
	size                       uint64
	dataOff                    uint64
	chunkFirst                 uint64
	xattrFirst, xattrCount     uint32
	targetOff, targetLen       uint32
	childFirst, childCount     uint32
	parent                     uint32
}

type dirent struct {
	nameOff, nameLen uint32
	ino              uint32
}

type xattrRec struct {
	nameOff, nameLen, valOff, valLen uint32
}

// index is the decrypted, validated index.
type index struct {
	inodes  []inode // inode number i+1 is inodes[i]
	dirents []dirent
	xattrs  []xattrRec
	chunks  []byte // nchunks * recSize: nonce || tag (|| stored || offset)
	strs    []byte
	recSize int    // chunkRecSize, or chunkRecSizeZ with compression
	dict    []byte // the image dictionary (codec 2), after the strings
}

// rec returns chunk record k.
func (x *index) rec(k uint64) []byte {
	return x.chunks[k*uint64(x.recSize) : (k+1)*uint64(x.recSize)]
}

// recStored returns the stored word and the offset of a compressed image's
// chunk record.
func recStored(rec []byte) (uint32, uint64) {
	return le.Uint32(rec[chunkRecSize:]), le.Uint64(rec[chunkRecSize+4:])
}

func (x *index) str(off, n uint32) string { return string(x.strs[off : off+n]) }

func (x *index) name(d dirent) string { return x.str(d.nameOff, d.nameLen) }

func (x *index) inode(ino uint32) *inode {
	if ino == 0 || uint64(ino) > uint64(len(x.inodes)) {
		return nil
	}
	return &x.inodes[ino-1]
}

func chunkCount(size uint64, log2 uint32) uint64 {
	return (size + (1 << log2) - 1) >> log2
}

func (x *index) marshal() []byte {
	n := indexHdrSize + len(x.inodes)*inodeRecSize + len(x.dirents)*direntRecSize +
		len(x.xattrs)*xattrRecSize + len(x.chunks) + len(x.strs) + len(x.dict)
	b := make([]byte, n)
	copy(b, indexMagic)
	le.PutUint32(b[8:], uint32(len(x.inodes)))
	le.PutUint32(b[12:], uint32(len(x.dirents)))
	le.PutUint32(b[16:], uint32(len(x.xattrs)))
	le.PutUint32(b[20:], uint32(len(x.dict)))
	le.PutUint64(b[24:], uint64(len(x.chunks)/x.recSize))
	le.PutUint64(b[32:], uint64(len(x.strs)))
	p := b[indexHdrSize:]
	for i := range x.inodes {
		in := &x.inodes[i]
		le.PutUint32(p[0:], in.typ)
		le.PutUint32(p[4:], in.mode)
		le.PutUint32(p[8:], in.uid)
		le.PutUint32(p[12:], in.gid)
		le.PutUint32(p[16:], in.nlink)
		le.PutUint32(p[20:], in.devMajor)
		le.PutUint32(p[24:], in.devMinor)
		le.PutUint32(p[28:], in.mtimeNsec)
		le.PutUint64(p[32:], uint64(in.mtimeSec))
		le.PutUint64(p[40:], in.size)
		le.PutUint64(p[48:], in.dataOff)
		le.PutUint64(p[56:], in.chunkFirst)
		le.PutUint32(p[64:], in.xattrFirst)
		le.PutUint32(p[68:], in.xattrCount)
		le.PutUint32(p[72:], in.targetOff)
		le.PutUint32(p[76:], in.targetLen)
		le.PutUint32(p[80:], in.childFirst)
		le.PutUint32(p[84:], in.childCount)
		le.PutUint32(p[88:], in.parent)
		p = p[inodeRecSize:]
	}
	for _, d := range x.dirents {
		le.PutUint32(p[0:], d.nameOff)
		le.PutUint32(p[4:], d.nameLen)
		le.PutUint32(p[8:], d.ino)
		p = p[direntRecSize:]
	}
	for _, a := range x.xattrs {
		le.PutUint32(p[0:], a.nameOff)
		le.PutUint32(p[4:], a.nameLen)
		le.PutUint32(p[8:], a.valOff)
		le.PutUint32(p[12:], a.valLen)
		p = p[xattrRecSize:]
	}
	p = p[copy(p, x.chunks):]
	p = p[copy(p, x.strs):]
	copy(p, x.dict)
	return b
}

// parseIndex decodes and validates a decrypted index. dataStart and dataEnd
// bound the data region in the image; log2 is the chunk size exponent;
// recSize the chunk record size (chunkRecSizeZ: records carry stored forms);
// withDict whether the index carries the image dictionary (codec 2).
// Offsets in errors are offsets in b. It never panics, whatever b holds.
func parseIndex(b []byte, log2 uint32, dataStart, dataEnd uint64, recSize int, withDict bool) (*index, error) {
	fe := func(off int, format string, a ...any) error {
		return &FormatError{Offset: int64(off), Msg: "index: " + fmt.Sprintf(format, a...)}
	}
	if len(b) < indexHdrSize || string(b[:8]) != indexMagic {
		return nil, fe(0, "bad magic")
	}
	ni, nd, nx := uint64(le.Uint32(b[8:])), uint64(le.Uint32(b[12:])), uint64(le.Uint32(b[16:]))
	dl := uint64(le.Uint32(b[20:]))
	switch {
	case !withDict && dl != 0:
		return nil, fe(20, "reserved field not zero")
	case withDict && (dl == 0 || dl > MaxDictionarySize):
		return nil, fe(20, "dictionary length %d not in [1, %d]", dl, MaxDictionarySize)
	}
	nc, ns := le.Uint64(b[24:]), le.Uint64(b[32:])
	if ni == 0 {
		return nil, fe(8, "no root inode")
	}
	// All counts are checked against the length before multiplying.
	rest := uint64(len(b) - indexHdrSize)
	if nc > rest/uint64(recSize) || ns > rest {
		return nil, fe(24, "counts exceed the index size")
	}
	need := ni*inodeRecSize + nd*direntRecSize + nx*xattrRecSize + nc*uint64(recSize) + ns + dl
	if need != rest {
		return nil, fe(8, "counts give %d bytes, index has %d", need, rest)
	}
	x := &index{
		inodes:  make([]inode, ni),
		dirents: make([]dirent, nd),
		xattrs:  make([]xattrRec, nx),
		recSize: recSize,
	}
	p := indexHdrSize
	inodeOff := p
	for i := range x.inodes {
		q := b[p:]
		x.inodes[i] = inode{
			typ: le.Uint32(q[0:]), mode: le.Uint32(q[4:]), uid: le.Uint32(q[8:]), gid: le.Uint32(q[12:]),
			nlink: le.Uint32(q[16:]), devMajor: le.Uint32(q[20:]), devMinor: le.Uint32(q[24:]),
			mtimeNsec: le.Uint32(q[28:]), mtimeSec: int64(le.Uint64(q[32:])), size: le.Uint64(q[40:]),
			dataOff: le.Uint64(q[48:]), chunkFirst: le.Uint64(q[56:]),
			xattrFirst: le.Uint32(q[64:]), xattrCount: le.Uint32(q[68:]),
			targetOff: le.Uint32(q[72:]), targetLen: le.Uint32(q[76:]),
			childFirst: le.Uint32(q[80:]), childCount: le.Uint32(q[84:]), parent: le.Uint32(q[88:]),
		}
		if le.Uint32(q[92:]) != 0 {
			return nil, fe(p+92, "reserved field not zero")
		}
		p += inodeRecSize
	}
	direntOff := p
	for i := range x.dirents {
		q := b[p:]
		x.dirents[i] = dirent{nameOff: le.Uint32(q[0:]), nameLen: le.Uint32(q[4:]), ino: le.Uint32(q[8:])}
		p += direntRecSize
	}
	xattrOff := p
	for i := range x.xattrs {
		q := b[p:]
		x.xattrs[i] = xattrRec{nameOff: le.Uint32(q[0:]), nameLen: le.Uint32(q[4:]), valOff: le.Uint32(q[8:]), valLen: le.Uint32(q[12:])}
		p += xattrRecSize
	}
	chunkOff := p
	x.chunks = b[p : p+int(nc)*recSize]
	p += int(nc) * recSize
	x.strs = b[p : p+int(ns)]
	if dl > 0 {
		x.dict = b[p+int(ns):]
	}
	strOK := func(off, n uint32) bool { return uint64(off)+uint64(n) <= ns }

	// Inodes. Directory entries, xattrs and chunk tables tile their arrays
	// in inode order, which makes the encoding canonical.
	var nextDirent, nextXattr uint32
	var nextChunk uint64
	refs := make([]uint32, ni)
	for i := range x.inodes {
		in := &x.inodes[i]
		ino := uint32(i + 1)
		off := inodeOff + i*inodeRecSize
		if in.typ < typeFile || in.typ > typeFifo {
			return nil, fe(off, "inode %d: unknown type %d", ino, in.typ)
		}
		if in.mode&sIFMT != typeIFMT[in.typ] || in.mode&^uint32(sIFMT|0o7777) != 0 {
			return nil, fe(off+4, "inode %d: mode %o does not match type %d", ino, in.mode, in.typ)
		}
		if in.nlink == 0 {
			return nil, fe(off+16, "inode %d: zero link count", ino)
		}
		if in.mtimeNsec >= 1e9 {
			return nil, fe(off+28, "inode %d: nanoseconds out of range", ino)
		}
		if (in.typ != typeChar && in.typ != typeBlock) && (in.devMajor|in.devMinor) != 0 {
			return nil, fe(off+20, "inode %d: device number on a non-device", ino)
		}
		// xattrs
		if in.xattrFirst != nextXattr || uint64(in.xattrFirst)+uint64(in.xattrCount) > nx {
			return nil, fe(off+64, "inode %d: xattr range out of order", ino)
		}
		for j := in.xattrFirst; j < in.xattrFirst+in.xattrCount; j++ {
			a := x.xattrs[j]
			aoff := xattrOff + int(j)*xattrRecSize
			if a.nameLen == 0 || a.nameLen > maxNameLen || !strOK(a.nameOff, a.nameLen) || !strOK(a.valOff, a.valLen) {
				return nil, fe(aoff, "xattr %d: bad string", j)
			}
			if bytes.IndexByte(x.strs[a.nameOff:a.nameOff+a.nameLen], 0) >= 0 {
				return nil, fe(aoff, "xattr %d: NUL in name", j)
			}
			if j > in.xattrFirst {
				prev := x.xattrs[j-1]
				if bytes.Compare(x.strs[prev.nameOff:prev.nameOff+prev.nameLen], x.strs[a.nameOff:a.nameOff+a.nameLen]) >= 0 {
					return nil, fe(aoff, "xattr %d: names not sorted", j)
				}
			}
		}
		nextXattr += in.xattrCount
		// type-specific fields
		if in.typ != typeSymlink && (in.targetOff|in.targetLen) != 0 {
			return nil, fe(off+72, "inode %d: link target on a non-symlink", ino)
		}
		if in.typ != typeDir && (in.childFirst|in.childCount|in.parent) != 0 {
			return nil, fe(off+80, "inode %d: children on a non-directory", ino)
		}
		if in.typ != typeFile && (in.dataOff|in.chunkFirst) != 0 {
			return nil, fe(off+48, "inode %d: content on a non-file", ino)
		}
		switch in.typ {
		case typeFile:
			n := chunkCount(in.size, log2)
			if in.size > math.MaxInt64 || in.chunkFirst != nextChunk || n > nc-nextChunk {
				return nil, fe(off+56, "inode %d: chunk table out of range", ino)
			}
			if recSize == chunkRecSizeZ {
				if in.size > 0 && (in.dataOff < dataStart || in.dataOff > dataEnd) {
					return nil, fe(off+48, "inode %d: content outside the data region", ino)
				}
				if k, msg := checkStored(x, in, nextChunk, n, log2, dataEnd); msg != "" {
					return nil, fe(chunkOff+int(k)*recSize+chunkRecSize, "inode %d: chunk %d: %s", ino, k-nextChunk, msg)
				}
			} else if in.size > 0 && (in.dataOff < dataStart || in.dataOff > dataEnd || in.size > dataEnd-in.dataOff) {
				return nil, fe(off+48, "inode %d: content outside the data region", ino)
			}
			nextChunk += n
			if in.size == 0 && in.dataOff != 0 {
				return nil, fe(off+48, "inode %d: empty file with a data offset", ino)
			}
		case typeSymlink:
			if in.targetLen == 0 || in.targetLen > 4096 || !strOK(in.targetOff, in.targetLen) || uint64(in.targetLen) != in.size {
				return nil, fe(off+72, "inode %d: bad link target", ino)
			}
			if bytes.IndexByte(x.strs[in.targetOff:in.targetOff+in.targetLen], 0) >= 0 {
				return nil, fe(off+72, "inode %d: NUL in link target", ino)
			}
		case typeDir:
			if in.size != 0 {
				return nil, fe(off+40, "inode %d: directory with a size", ino)
			}
			if in.childFirst != nextDirent || uint64(in.childFirst)+uint64(in.childCount) > nd {
				return nil, fe(off+80, "inode %d: entry range out of order", ino)
			}
			nextDirent += in.childCount
			if in.parent == 0 || uint64(in.parent) > ni || x.inodes[in.parent-1].typ != typeDir {
				return nil, fe(off+88, "inode %d: bad parent", ino)
			}
			if (ino == rootIno) != (in.parent == ino) {
				return nil, fe(off+88, "inode %d: bad parent", ino)
			}
			for j := in.childFirst; j < in.childFirst+in.childCount; j++ {
				d := x.dirents[j]
				doff := direntOff + int(j)*direntRecSize
				if d.nameLen == 0 || d.nameLen > maxNameLen || !strOK(d.nameOff, d.nameLen) {
					return nil, fe(doff, "entry %d: bad name", j)
				}
				nm := x.strs[d.nameOff : d.nameOff+d.nameLen]
				if bytes.IndexByte(nm, '/') >= 0 || bytes.IndexByte(nm, 0) >= 0 || string(nm) == "." || string(nm) == ".." {
					return nil, fe(doff, "entry %d: bad name %q", j, nm)
				}
				if j > in.childFirst {
					pd := x.dirents[j-1]
					if bytes.Compare(x.strs[pd.nameOff:pd.nameOff+pd.nameLen], nm) >= 0 {
						return nil, fe(doff, "entry %d: names not sorted", j)
					}
				}
				if d.ino <= rootIno || uint64(d.ino) > ni {
					return nil, fe(doff+8, "entry %d: bad inode number %d", j, d.ino)
				}
				refs[d.ino-1]++
			}
		default: // devices, fifos
			if in.size != 0 {
				return nil, fe(off+40, "inode %d: special file with a size", ino)
			}
		}
	}
	if x.inodes[0].typ != typeDir {
		return nil, fe(inodeOff, "root is not a directory")
	}
	if uint64(nextDirent) != nd || uint64(nextXattr) != nx || nextChunk != nc {
		return nil, fe(8, "entries, xattrs or chunks not covered by inodes")
	}
	// Link counts match the entries; a directory has exactly one entry, in
	// its parent directory, and nlink = 2 + its subdirectories.
	for i := range x.inodes {
		in := &x.inodes[i]
		off := inodeOff + i*inodeRecSize
		if in.typ != typeDir {
			if refs[i] != in.nlink {
				return nil, fe(off+16, "inode %d: link count %d, %d entries", i+1, in.nlink, refs[i])
			}
			continue
		}
		if want := uint32(1); i > 0 && refs[i] != want || i == 0 && refs[i] != 0 {
			return nil, fe(off+16, "inode %d: directory with %d entries", i+1, refs[i])
		}
		var subdirs uint32
		for j := in.childFirst; j < in.childFirst+in.childCount; j++ {
			if x.inodes[x.dirents[j].ino-1].typ == typeDir {
				subdirs++
			}
		}
		if in.nlink != 2+subdirs {
			return nil, fe(off+16, "inode %d: directory link count %d, want %d", i+1, in.nlink, 2+subdirs)
		}
		for j := in.childFirst; j < in.childFirst+in.childCount; j++ {
			c := x.dirents[j].ino
			if ci := &x.inodes[c-1]; ci.typ == typeDir && ci.parent != uint32(i+1) {
				return nil, fe(inodeOff+int(c-1)*inodeRecSize+88, "inode %d: parent is not the directory holding it", c)
			}
		}
	}
	return x, nil
}

// checkStored checks the stored forms of the n chunk records of file in
// starting with record first (images with compression): the stored word
// holds only a length and the compressed bit, a raw chunk keeps its
// plaintext length, a compressed one is shorter, and the chunks lie end to
// end from the inode's data offset inside the data region. It returns the
// failing record and why ("" when they are canonical).
func checkStored(x *index, in *inode, first, n uint64, log2 uint32, dataEnd uint64) (uint64, string) {
	pos := in.dataOff
	for k := first; k < first+n; k++ {
		st, off := recStored(x.rec(k))
		plain := min(uint64(1)<<log2, in.size-(k-first)<<log2)
		ln := uint64(st & storedLenMask)
		switch {
		case st&storedReserved != 0:
			return k, "reserved bits of the stored word set"
		case st&storedCompBit == 0 && ln != plain:
			return k, fmt.Sprintf("stored as is with %d bytes, has %d", ln, plain)
		case st&storedCompBit != 0 && (ln == 0 || ln >= plain):
			return k, fmt.Sprintf("compressed to %d bytes of %d", ln, plain)
		case off != pos:
			return k, fmt.Sprintf("at offset %d, want %d", off, pos)
		case ln > dataEnd-pos:
			return k, "outside the data region"
		}
		pos += ln
	}
	return 0, ""
}
