package fsprotect

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// Reader is an opened image. It implements io/fs.FS, fs.StatFS,
// fs.ReadDirFS, fs.ReadFileFS and fs.ReadLinkFS; every byte it returns has
// been authenticated. It is safe for concurrent use.
type Reader struct {
	r        io.ReaderAt
	size     int64
	hdr      *header
	root     [32]byte
	x        *index
	aead     cipher.AEAD
	cs       int
	bufs     sync.Pool // *[]byte of cs+tagSize (with compression 2*cs+tagSize: stored | plaintext)
	pathOnce sync.Once
	paths    []string // a path for each inode, for error messages
}

// Open opens an image of size bytes read through r. It authenticates the
// header and the index, and reads nothing else: file contents are
// authenticated chunk by chunk when they are read. With WithExpectedRoot it
// also checks the root hash.
//
// Errors: ErrTruncated, *FormatError (not an image, malformed),
// *UnknownVersionError, ErrWrongKey, *AuthError (PartHeader, PartIndex,
// PartRoot).
func Open(r io.ReaderAt, size int64, key Key, opts ...Option) (*Reader, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	h, hb, err := readHeader(r, size)
	if err != nil {
		return nil, err
	}
	sk, err := deriveKeys(key, h.version)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(h.keyCheck[:], sk.keyCheck[:]) != 1 {
		return nil, ErrWrongKey
	}
	m := hmac.New(sha256.New, sk.headerMAC[:])
	m.Write(hb[:macStart(h.version)])
	if !hmac.Equal(m.Sum(nil), h.mac[:]) {
		return nil, &AuthError{Part: PartHeader}
	}
	if err := h.checkLayout(size); err != nil {
		return nil, err
	}
	rd := &Reader{r: r, size: size, hdr: h, root: sha256.Sum256(hb), cs: 1 << h.chunkLog2}
	if o.expectedRoot != nil && *o.expectedRoot != rd.root {
		return nil, &AuthError{Part: PartRoot, Msg: fmt.Sprintf("image root %x, expected %x", rd.root, *o.expectedRoot)}
	}
	ct := make([]byte, h.indexLen)
	if err := readFull(r, ct, int64(h.indexOff)); err != nil {
		return nil, err
	}
	if sha256.Sum256(ct) != h.indexHash {
		return nil, &AuthError{Part: PartIndex, Msg: "hash mismatch"}
	}
	iaead, err := newGCM(sk.indexKey[:])
	if err != nil {
		return nil, err
	}
	plain, err := iaead.Open(ct[:0], h.indexNonce[:], ct, hb[:headerAADSize])
	if err != nil {
		return nil, &AuthError{Part: PartIndex, Msg: "GCM tag mismatch"}
	}
	rd.x, err = parseIndex(plain, h.chunkLog2, h.dataOff, h.indexOff, h.recSize(), h.hasDict())
	if err != nil {
		return nil, err
	}
	if rd.aead, err = newGCM(sk.contentKey[:]); err != nil {
		return nil, err
	}
	bufLen := rd.cs + tagSize
	if h.compressed() {
		bufLen += rd.cs
	}
	rd.bufs.New = func() any { b := make([]byte, bufLen); return &b }
	return rd, nil
}

// readHeader reads and parses the preamble and the header (no MAC check).
func readHeader(r io.ReaderAt, size int64) (*header, []byte, error) {
	if size < PreambleSize {
		return nil, nil, ErrTruncated
	}
	pre := make([]byte, PreambleSize)
	if err := readFull(r, pre, 0); err != nil {
		return nil, nil, err
	}
	if string(pre[:8]) != Magic {
		return nil, nil, &FormatError{Offset: 0, Msg: "not a protected FS image (bad magic)"}
	}
	v := le.Uint32(pre[8:])
	if !knownVersion(v) {
		return nil, nil, &UnknownVersionError{Version: v}
	}
	if le.Uint32(pre[12:]) != 0 {
		return nil, nil, &FormatError{Offset: 12, Msg: "preamble: reserved field not zero"}
	}
	hs := int64(headerSize(v))
	if size < PreambleSize+hs {
		return nil, nil, ErrTruncated
	}
	hb := make([]byte, hs)
	if err := readFull(r, hb, size-hs); err != nil {
		return nil, nil, err
	}
	h, err := parseHeader(hb, size-hs, v)
	if err != nil {
		return nil, nil, err
	}
	return h, hb, nil
}

func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("read image at offset %d: %w", off, ErrTruncated)
	}
	return fmt.Errorf("read image at offset %d: %w", off, err)
}

// Root returns the image's root hash.
func (rd *Reader) Root() [32]byte { return rd.root }

// ChunkSize returns the image's content chunk size in bytes.
func (rd *Reader) ChunkSize() int { return rd.cs }

// Version returns the image's format version (1 or 2).
func (rd *Reader) Version() int { return int(rd.hdr.version) }

// Compressed reports whether the image's chunks may be compressed (header
// flags bit 0; codec LZ4).
func (rd *Reader) Compressed() bool { return rd.hdr.compressed() }

// DictionarySize returns the size of the image's LZ4 dictionary (codec 2),
// 0 for none.
func (rd *Reader) DictionarySize() int { return len(rd.x.dict) }

// inoPath returns a path of inode ino (for error messages).
func (rd *Reader) inoPath(ino uint32) string {
	rd.pathOnce.Do(func() {
		rd.paths = make([]string, len(rd.x.inodes)+1)
		rd.paths[rootIno] = "/"
		for i := range rd.x.inodes {
			in := &rd.x.inodes[i]
			if in.typ != typeDir {
				continue
			}
			dir := rd.paths[i+1]
			for _, d := range rd.x.dirents[in.childFirst : in.childFirst+in.childCount] {
				if rd.paths[d.ino] == "" {
					rd.paths[d.ino] = path.Join(dir, rd.x.name(d))
				}
			}
		}
	})
	if int(ino) < len(rd.paths) {
		return rd.paths[ino]
	}
	return ""
}

// readChunk authenticates and decrypts chunk i of file ino into dst (which
// must hold the chunk) and returns the chunk's plaintext length.
func (rd *Reader) readChunk(ino uint32, in *inode, i uint64, dst []byte) (int, error) {
	return rd.readChunkPart(ino, in, i, 0, dst)
}

// readChunkPart authenticates and decrypts chunk i of file ino and copies
// its plaintext from offset within on into dst; it returns the number of
// bytes copied. Nothing is copied unless the chunk is authentic.
func (rd *Reader) readChunkPart(ino uint32, in *inode, i uint64, within int, dst []byte) (int, error) {
	start := i << rd.hdr.chunkLog2
	n := int(min(uint64(rd.cs), in.size-start))
	bp := rd.bufs.Get().(*[]byte)
	defer rd.bufs.Put(bp)
	rec := rd.x.rec(in.chunkFirst + i)
	if rd.x.recSize == chunkRecSizeZ {
		return rd.readChunkZ(ino, in, i, rec, n, within, dst, *bp)
	}
	buf := (*bp)[:n+tagSize]
	if err := readFull(rd.r, buf[:n], int64(in.dataOff+start)); err != nil {
		return 0, err
	}
	copy(buf[n:], rec[nonceSize:chunkRecSize])
	var aadBuf [16]byte
	if _, err := rd.aead.Open(buf[:0], rec[:nonceSize], buf, chunkAAD(&aadBuf, i, in.size)); err != nil {
		return 0, &AuthError{Part: PartChunk, Path: rd.inoPath(ino), Chunk: i}
	}
	return copy(dst, buf[within:n]), nil
}

// readChunkZ is readChunkPart for an image with compression: the chunk's
// stored bytes (at the offset of its record) are authenticated and
// decrypted in buf, and only then, if the record says so, decompressed, into
// buf's second half (never into dst: a malformed block cannot leave partial
// plaintext there).
func (rd *Reader) readChunkZ(ino uint32, in *inode, i uint64, rec []byte, n, within int, dst, buf []byte) (int, error) {
	st, off := recStored(rec)
	ln := int(st & storedLenMask)
	ct := buf[:ln+tagSize]
	if err := readFull(rd.r, ct[:ln], int64(off)); err != nil {
		return 0, err
	}
	copy(ct[ln:], rec[nonceSize:chunkRecSize])
	var aadBuf [chunkAADSizeZ]byte
	stored, err := rd.aead.Open(ct[:0], rec[:nonceSize], ct, chunkAADZ(&aadBuf, i, in.size, st))
	if err != nil {
		return 0, &AuthError{Part: PartChunk, Path: rd.inoPath(ino), Chunk: i}
	}
	if st&storedCompBit == 0 {
		return copy(dst, stored[within:n]), nil
	}
	plain := buf[rd.cs+tagSize : rd.cs+tagSize+n]
	if err := decompressChunk(stored, plain, rd.x.dict); err != nil {
		return 0, &FormatError{Offset: int64(off), Msg: fmt.Sprintf("chunk %d of %s: %v", i, rd.inoPath(ino), err)}
	}
	return copy(dst, plain[within:]), nil
}

// parallelReadBytes is the read size from which whole chunks are decrypted
// by several goroutines.
const parallelReadBytes = 128 << 10

// readChunks reads k whole chunks starting at chunk first into dst and
// returns the number of bytes delivered in order before any failure.
func (rd *Reader) readChunks(ino uint32, in *inode, first, k uint64, dst []byte) (int, error) {
	workers := uint64(runtime.GOMAXPROCS(0))
	if workers < 2 || k<<rd.hdr.chunkLog2 < parallelReadBytes {
		done := 0
		for c := range k {
			n, err := rd.readChunk(ino, in, first+c, dst[done:])
			done += n
			if err != nil {
				return done, err
			}
		}
		return done, nil
	}
	workers = min(workers, k)
	errs := make([]error, k)
	sizes := make([]int, k)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := w; c < k; c += workers {
				sizes[c], errs[c] = rd.readChunk(ino, in, first+c, dst[c<<rd.hdr.chunkLog2:])
			}
		}()
	}
	wg.Wait()
	done := 0
	for c := range k {
		if errs[c] != nil {
			return done, errs[c]
		}
		done += sizes[c]
	}
	return done, nil
}

// readAt reads file content at off into p, authenticating every chunk it
// touches.
func (rd *Reader) readAt(ino uint32, p []byte, off int64) (int, error) {
	in := rd.x.inode(ino)
	if off < 0 {
		return 0, errors.New("read file: negative offset")
	}
	if uint64(off) >= in.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := len(p)
	if rem := in.size - uint64(off); uint64(want) > rem {
		p = p[:rem]
	}
	done := 0
	for done < len(p) {
		pos := uint64(off) + uint64(done)
		i := pos >> rd.hdr.chunkLog2
		within := int(pos - i<<rd.hdr.chunkLog2)
		if within == 0 && len(p)-done >= rd.cs {
			// Whole chunks: decrypt straight into p, in parallel when
			// there are enough of them.
			k := uint64(len(p)-done) >> rd.hdr.chunkLog2
			n, err := rd.readChunks(ino, in, i, k, p[done:])
			done += n
			if err != nil {
				return done, err
			}
			continue
		}
		n, err := rd.readChunkPart(ino, in, i, within, p[done:])
		if err != nil {
			return done, err
		}
		done += n
	}
	if done < want {
		return done, io.EOF
	}
	return done, nil
}

// resolve walks name from the root. follow makes it follow a symlink in the
// last component; symlinks in earlier components are always followed.
func (rd *Reader) resolve(op, name string, follow bool) (uint32, error) {
	if !fs.ValidPath(name) {
		return 0, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	ino, err := rd.walk(rootIno, name, follow, 0)
	if err != nil {
		return 0, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return ino, nil
}

var errLoop = errors.New("too many levels of symbolic links")

func (rd *Reader) walk(dir uint32, p string, follow bool, depth int) (uint32, error) {
	ino := dir
	if strings.HasPrefix(p, "/") {
		ino = rootIno
	}
	parts := strings.Split(p, "/")
	for k, c := range parts {
		if c == "" || c == "." {
			continue
		}
		cur := rd.x.inode(ino)
		if cur.typ != typeDir {
			return 0, fs.ErrNotExist
		}
		if c == ".." {
			ino = cur.parent
			continue
		}
		next, ok := rd.lookup(cur, c)
		if !ok {
			return 0, fs.ErrNotExist
		}
		n := rd.x.inode(next)
		if n.typ == typeSymlink && (follow || k < len(parts)-1) {
			if depth >= 40 {
				return 0, errLoop
			}
			t, err := rd.walk(ino, rd.x.str(n.targetOff, n.targetLen), true, depth+1)
			if err != nil {
				return 0, err
			}
			next = t
		}
		ino = next
	}
	return ino, nil
}

func (rd *Reader) lookup(dir *inode, name string) (uint32, bool) {
	ents := rd.x.dirents[dir.childFirst : dir.childFirst+dir.childCount]
	i := sort.Search(len(ents), func(i int) bool { return rd.x.name(ents[i]) >= name })
	if i < len(ents) && rd.x.name(ents[i]) == name {
		return ents[i].ino, true
	}
	return 0, false
}

// Open opens the named file, following symlinks. Regular files implement
// io.ReaderAt and io.Seeker; directories implement fs.ReadDirFile.
func (rd *Reader) Open(name string) (fs.File, error) {
	ino, err := rd.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	return &File{rd: rd, ino: ino, name: name}, nil
}

// Stat returns information about the named file, following symlinks.
func (rd *Reader) Stat(name string) (fs.FileInfo, error) {
	ino, err := rd.resolve("stat", name, true)
	if err != nil {
		return nil, err
	}
	return rd.info(ino, path.Base(name)), nil
}

// Lstat returns information about the named file without following a
// symlink in the last component.
func (rd *Reader) Lstat(name string) (fs.FileInfo, error) {
	ino, err := rd.resolve("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return rd.info(ino, path.Base(name)), nil
}

// ReadLink returns the target of the named symlink.
func (rd *Reader) ReadLink(name string) (string, error) {
	ino, err := rd.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	in := rd.x.inode(ino)
	if in.typ != typeSymlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return rd.x.str(in.targetOff, in.targetLen), nil
}

// ReadDir returns the entries of the named directory in name order.
func (rd *Reader) ReadDir(name string) ([]fs.DirEntry, error) {
	ino, err := rd.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	in := rd.x.inode(ino)
	if in.typ != typeDir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return rd.dirEntries(in), nil
}

func (rd *Reader) dirEntries(in *inode) []fs.DirEntry {
	ents := rd.x.dirents[in.childFirst : in.childFirst+in.childCount]
	out := make([]fs.DirEntry, len(ents))
	for i, d := range ents {
		out[i] = fs.FileInfoToDirEntry(rd.info(d.ino, rd.x.name(d)))
	}
	return out
}

// ReadFile returns the content of the named file.
func (rd *Reader) ReadFile(name string) ([]byte, error) {
	ino, err := rd.resolve("read", name, true)
	if err != nil {
		return nil, err
	}
	in := rd.x.inode(ino)
	if in.typ != typeFile {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("not a regular file")}
	}
	b := make([]byte, in.size)
	if _, err := rd.readAt(ino, b, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read file %q: %w", name, err)
	}
	return b, nil
}

// Stat is what FileInfo.Sys returns: the full inode.
type Stat struct {
	Ino       uint32
	Mode      uint32 // st_mode with the S_IFMT bits
	UID, GID  uint32
	Nlink     uint32
	Size      uint64
	Mtime     time.Time
	DevMajor  uint32
	DevMinor  uint32
	Target    string            // symlinks
	Xattrs    map[string]string // nil when none
	ChunkSize int
}

type fileInfo struct {
	name string
	st   *Stat
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return int64(fi.st.Size) }
func (fi *fileInfo) ModTime() time.Time { return fi.st.Mtime }
func (fi *fileInfo) IsDir() bool        { return fi.st.Mode&sIFMT == sIFDIR }
func (fi *fileInfo) Sys() any           { return fi.st }
func (fi *fileInfo) Mode() fs.FileMode  { return unixToFileMode(fi.st.Mode) }

func unixToFileMode(m uint32) fs.FileMode {
	fm := fs.FileMode(m & 0o777)
	switch m & sIFMT {
	case sIFDIR:
		fm |= fs.ModeDir
	case sIFLNK:
		fm |= fs.ModeSymlink
	case sIFCHR:
		fm |= fs.ModeDevice | fs.ModeCharDevice
	case sIFBLK:
		fm |= fs.ModeDevice
	case sIFIFO:
		fm |= fs.ModeNamedPipe
	}
	if m&0o4000 != 0 {
		fm |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}

func (rd *Reader) info(ino uint32, name string) *fileInfo {
	in := rd.x.inode(ino)
	st := &Stat{Ino: ino, Mode: in.mode, UID: in.uid, GID: in.gid, Nlink: in.nlink, Size: in.size,
		Mtime: time.Unix(in.mtimeSec, int64(in.mtimeNsec)).UTC(), DevMajor: in.devMajor, DevMinor: in.devMinor, ChunkSize: rd.cs}
	if in.typ == typeSymlink {
		st.Target = rd.x.str(in.targetOff, in.targetLen)
	}
	if in.xattrCount > 0 {
		st.Xattrs = map[string]string{}
		for _, a := range rd.x.xattrs[in.xattrFirst : in.xattrFirst+in.xattrCount] {
			st.Xattrs[rd.x.str(a.nameOff, a.nameLen)] = rd.x.str(a.valOff, a.valLen)
		}
	}
	if name == "." || name == "/" {
		name = "."
	}
	return &fileInfo{name: name, st: st}
}

// File is an open file of a Reader. Regular files support Read, ReadAt and
// Seek; directories support ReadDir. ReadAt is safe for concurrent use;
// Read and Seek are not.
type File struct {
	rd     *Reader
	ino    uint32
	name   string
	off    int64
	dirPos int
	// cache of the last chunk decrypted by Read
	cacheIdx int64
	cache    []byte
	closed   bool
}

var _ interface {
	fs.ReadDirFile
	io.ReaderAt
	io.Seeker
} = (*File)(nil)

func (f *File) inode() *inode { return f.rd.x.inode(f.ino) }

// Stat returns the file's information.
func (f *File) Stat() (fs.FileInfo, error) { return f.rd.info(f.ino, path.Base(f.name)), nil }

// Close releases the file.
func (f *File) Close() error {
	if f.closed {
		return fs.ErrClosed
	}
	f.closed = true
	f.cache = nil
	return nil
}

func (f *File) checkRegular(op string) error {
	if f.closed {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	}
	if f.inode().typ != typeFile {
		return &fs.PathError{Op: op, Path: f.name, Err: errors.New("not a regular file")}
	}
	return nil
}

// ReadAt reads len(p) bytes at offset off, authenticating every chunk it
// touches.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if err := f.checkRegular("read"); err != nil {
		return 0, err
	}
	return f.rd.readAt(f.ino, p, off)
}

// Read reads from the current offset. Partial chunks are cached, so small
// sequential reads decrypt each chunk once.
func (f *File) Read(p []byte) (int, error) {
	if err := f.checkRegular("read"); err != nil {
		return 0, err
	}
	in := f.inode()
	if uint64(f.off) >= in.size {
		return 0, io.EOF
	}
	log2 := f.rd.hdr.chunkLog2
	i := uint64(f.off) >> log2
	within := int(uint64(f.off) - i<<log2)
	if f.cache != nil && f.cacheIdx == int64(i) {
		n := copy(p, f.cache[within:])
		f.off += int64(n)
		return n, nil
	}
	if within == 0 && len(p) >= f.rd.cs {
		n, err := f.rd.readAt(f.ino, p[:len(p)&^(f.rd.cs-1)], f.off)
		f.off += int64(n)
		if err == io.EOF && n > 0 {
			err = nil
		}
		return n, err
	}
	if f.cache == nil {
		f.cache = make([]byte, f.rd.cs)
	}
	f.cacheIdx = -1
	n, err := f.rd.readChunk(f.ino, in, i, f.cache[:cap(f.cache)])
	if err != nil {
		return 0, err
	}
	f.cache, f.cacheIdx = f.cache[:n], int64(i)
	c := copy(p, f.cache[within:])
	f.off += int64(c)
	return c, nil
}

// Seek sets the offset for the next Read.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	if err := f.checkRegular("seek"); err != nil {
		return 0, err
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += int64(f.inode().size)
	default:
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrInvalid}
	}
	if offset < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrInvalid}
	}
	f.off = offset
	return offset, nil
}

// ReadDir reads directory entries (see fs.ReadDirFile).
func (f *File) ReadDir(n int) ([]fs.DirEntry, error) {
	if f.closed {
		return nil, &fs.PathError{Op: "readdir", Path: f.name, Err: fs.ErrClosed}
	}
	in := f.inode()
	if in.typ != typeDir {
		return nil, &fs.PathError{Op: "readdir", Path: f.name, Err: errors.New("not a directory")}
	}
	all := f.rd.dirEntries(in)[f.dirPos:]
	if n <= 0 {
		f.dirPos += len(all)
		return all, nil
	}
	if len(all) == 0 {
		return nil, io.EOF
	}
	all = all[:min(n, len(all))]
	f.dirPos += len(all)
	return all, nil
}
