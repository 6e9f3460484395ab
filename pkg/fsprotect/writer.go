package fsprotect

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/scone-build/scone-build/internal/lz4dict"
)

// Summary describes an image written by Pack.
type Summary struct {
	Root      [32]byte // root hash: SHA-256 of the image header
	ChunkSize int      // content chunk size in bytes
	Files     int      // regular files (inodes)
	Dirs      int      // directories, the root included
	Symlinks  int
	Hardlinks int // extra directory entries for an existing inode (tar TypeLink)
	Devices   int // character and block devices
	Fifos     int
	// Skipped lists entries of the tar stream that are not in the image, as
	// "path: reason" (unsupported types such as sockets or GNU volume
	// headers, and entries replaced by a later entry of the same path).
	Skipped  []string
	BytesIn  int64 // content bytes of regular files read from the stream
	BytesOut int64 // size of the image written
	Version  int   // format version written
	// BytesCached counts the content bytes whose ciphertext PackTree took
	// from the ContentCache (WithContentCache) instead of encrypting them.
	BytesCached int64
	// Compression is the chunk compression the image was written with;
	// BytesStored the size of the data region's content (BytesIn without
	// compression).
	Compression Compression
	BytesStored int64
	// Dictionary is the size of the image's LZ4 dictionary (WithDictionary;
	// 0 for none).
	Dictionary int
}

// wnode is a node of the tree being packed.
type wnode struct {
	typ, mode, uid, gid uint32
	devMajor, devMinor  uint32
	mtimeSec            int64
	mtimeNsec           uint32
	target              string
	xattrs              map[string]string
	size, dataOff       uint64
	recs                []byte            // chunk records (nonce || tag), filled by the workers
	tweak               [tweakSize]byte   // version 2, files with content: binds chunks to salt and path
	children            map[string]*wnode // directories
	ino                 uint32
}

type job struct {
	buf        *jobBuf // pooled buffers, returned after writing (nil: none)
	plain      []byte  // plaintext, n bytes (nil for pre-encrypted jobs)
	out        []byte  // ciphertext: outLen bytes (+ tag slack while sealing)
	n          int     // plaintext bytes
	outLen     int     // stored bytes (n without compression)
	firstChunk uint64
	fileSize   uint64
	tweak      []byte // the file's tweak (nil: version 1)
	recs       []byte // the job's chunk records; with compression the writer fills their offsets
	done       chan struct{}
}

type jobBuf struct{ plain, out []byte }

type packer struct {
	parts     *partsSink // non-nil: the image is collected as slices
	o         *options
	log2      uint32
	sk        *subkeys
	salt      [saltSize]byte // version 2
	tw        *tweaker       // version 2, used by the goroutine that adds entries
	root      *wnode
	sum       Summary
	dataPos   uint64
	jobChunks int
	recSize   int           // chunk record size (chunkRecSizeZ with compression)
	zdict     *lz4dict.Dict // WithDictionary, prepared once for all workers
}

// setDict makes d (nil: none) the image dictionary, before packing.
func (p *packer) setDict(d []byte) {
	p.o.dict = d
	p.zdict, p.sum.Dictionary = nil, len(d)
	if len(d) > 0 {
		p.zdict = lz4dict.NewDict(d)
	}
}

// Pack reads a tar stream (a flattened root file system) and writes a
// protected FS image of it to dst, encrypted and authenticated with key.
// The output depends only on the stream, the key, the chunk size and the
// salt source.
//
// Every file's chunks are bound to the image salt and the file's path
// (format version 2, docs/fsprotect.md), and the salt must be known before
// the first byte is encrypted: Pack streams, so it needs WithSaltSource
// (else an error wrapping ErrNoSaltSource). PackTarFile and PackTree derive
// the salt source from the tree when not given one.
//
// Regular files, directories, symlinks, hard links (TypeLink), character and
// block devices and fifos are packed with mode, owner, mtime and the xattrs
// of PAX records "SCHILY.xattr.*". Missing parent directories are created
// (mode 0755, owner 0:0, mtime 0). A later entry of a path replaces an
// earlier one. Other entry types are skipped and listed in
// Summary.Skipped. Paths with ".." components, hard links to missing
// entries or to directories, and malformed tar streams fail with an error
// wrapping ErrInvalidInput.
func Pack(ctx context.Context, dst io.Writer, tarStream io.Reader, key Key, opts ...Option) (*Summary, error) {
	p, err := newPacker(key, opts)
	if err != nil {
		return nil, err
	}
	if p.needsSalt() {
		return nil, fmt.Errorf("pack tar stream: %w", ErrNoSaltSource)
	}
	return p.run(ctx, dst, func(ctx context.Context, pp *pipe) error { return p.readTar(ctx, tarStream, pp) })
}

func newPacker(key Key, opts []Option) (*packer, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	sk, err := deriveKeys(key, o.version)
	if err != nil {
		return nil, err
	}
	p := &packer{
		o: o, log2: log2(o.chunkSize), sk: sk, dataPos: PreambleSize,
		root: &wnode{typ: typeDir, mode: sIFDIR | 0o755, children: map[string]*wnode{}},
	}
	p.sum.ChunkSize = o.chunkSize
	p.sum.Version = int(o.version)
	p.sum.Compression = o.compression
	p.recSize = chunkRecSize
	if o.compression != CompressionNone {
		p.recSize = chunkRecSizeZ
	}
	p.setDict(o.dict)
	p.jobChunks = max(1, (256<<10)/o.chunkSize)
	if o.saltSet {
		p.setSalt(o.saltSource)
	}
	return p, nil
}

// needsSalt reports whether the salt source must still be derived from the
// tree before packing.
func (p *packer) needsSalt() bool { return p.o.version >= 2 && p.tw == nil }

func (p *packer) setSalt(source []byte) {
	if p.o.version < 2 {
		return
	}
	p.salt = p.sk.salt(source)
	p.tw = newTweaker(p.sk, p.salt)
}

// saltFromTree derives the salt source from the entries (TreeSaltSource).
func (p *packer) saltFromTree(ctx context.Context, src EntrySource) error {
	ss, err := treeSaltSource(ctx, src, p.o.concurrency)
	if err != nil {
		return err
	}
	p.setSalt(ss)
	return nil
}

// pipe is the packing pipeline as seen by the goroutine that feeds it.
type pipe struct {
	work, queue chan<- *job
	pool        <-chan *jobBuf
}

// run writes the image: feed adds the entries (in stream order) through the
// pipeline; run then builds the index and writes it and the header.
func (p *packer) run(parent context.Context, dst io.Writer, feed func(context.Context, *pipe) error) (*Summary, error) {
	// The writer goroutine cancels ctx when writing fails, so that reading
	// the stream stops early.
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var bw imageSink
	if p.parts != nil {
		bw = p.parts
	} else {
		bw = &streamSink{bufio.NewWriterSize(dst, 1<<20)}
	}
	dataHash := sha256.New()
	preamble := make([]byte, PreambleSize)
	copy(preamble, Magic)
	le.PutUint32(preamble[8:], p.o.version)
	dataHash.Write(preamble)
	if err := bw.write(preamble, true); err != nil {
		return nil, err
	}

	// Pipeline: this goroutine reads the stream and cuts files into jobs;
	// workers encrypt jobs in parallel; the writer goroutine writes them in
	// stream order and hashes the data region.
	nw := p.o.concurrency
	work := make(chan *job, 2*nw+2)
	queue := make(chan *job, 2*nw+2)
	pool := make(chan *jobBuf, 2*nw+4)
	jobBytes := p.jobChunks * p.o.chunkSize
	for range cap(pool) {
		if p.parts != nil {
			break // jobs get their own output buffers, kept as parts
		}
		pool <- &jobBuf{plain: make([]byte, jobBytes), out: make([]byte, jobBytes+tagSize)}
	}
	aeads := make([]cipher.AEAD, nw)
	sivs := make([]*sivPRF, nw)
	for i := range nw {
		var err error
		if aeads[i], sivs[i], err = p.contentCrypto(); err != nil {
			return nil, err
		}
	}
	var wg sync.WaitGroup
	for i := range nw {
		aead, siv := aeads[i], sivs[i]
		var z *chunkCompressor
		if p.o.compression != CompressionNone {
			z = newChunkCompressor(p.o.compression, p.o.chunkSize, p.zdict)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				if j.out == nil { // image returned as parts: never reused
					j.out = make([]byte, j.n+tagSize)
				}
				j.outLen = sealChunks(aead, siv, z, p.o.chunkSize, j.tweak, j.plain[:j.n], j.out, j.recs, j.firstChunk, j.fileSize)
				close(j.done)
			}
		}()
	}
	// The writer goroutine places the jobs' stored bytes in stream order:
	// with compression it is the one that knows where each chunk lands.
	var werr error
	wpos := uint64(PreambleSize)
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		for j := range queue {
			<-j.done
			if p.recSize == chunkRecSizeZ {
				placeChunks(j.recs, wpos)
			}
			wpos += uint64(j.outLen)
			if werr == nil {
				out := j.out[:j.outLen]
				dataHash.Write(out)
				if err := bw.write(out, j.buf == nil); err != nil {
					werr = err
					cancel()
				}
			}
			if j.buf != nil {
				pool <- j.buf
			}
		}
	}()

	rerr := feed(ctx, &pipe{work: work, queue: queue, pool: pool})
	close(work)
	close(queue)
	<-wdone
	wg.Wait()
	if werr != nil {
		return nil, werr
	}
	if rerr != nil {
		return nil, rerr
	}
	if err := parent.Err(); err != nil {
		return nil, err
	}
	p.dataPos = wpos
	p.sum.BytesStored = int64(wpos - PreambleSize)

	x, err := p.buildIndex()
	if err != nil {
		return nil, err
	}
	plain := x.marshal()
	h := &header{
		version:   p.o.version,
		salt:      p.salt,
		chunkLog2: p.log2,
		dataOff:   PreambleSize,
		dataLen:   p.dataPos - PreambleSize,
		indexOff:  p.dataPos,
		indexLen:  uint64(len(plain)) + tagSize,
	}
	if p.o.compression != CompressionNone {
		h.flags = flagChunkCompression
		h.reserved2[0] = codecLZ4
		if len(p.o.dict) > 0 {
			h.reserved2[0] = codecLZ4Dict
		}
	}
	copy(h.dataHash[:], dataHash.Sum(nil))
	ct, hb, err := sealIndex(p.sk, h, plain)
	if err != nil {
		return nil, err
	}
	if err := bw.write(ct, true); err != nil {
		return nil, err
	}
	if err := bw.write(hb, true); err != nil {
		return nil, err
	}
	if err := bw.flush(); err != nil {
		return nil, err
	}
	p.sum.Root = sha256.Sum256(hb)
	p.sum.BytesOut = int64(h.imageSize)
	return &p.sum, nil
}

// imageSink receives the image bytes in order. owned: the packer never
// modifies b afterwards (else b is reused and must be copied if kept).
type imageSink interface {
	write(b []byte, owned bool) error
	flush() error
}

type streamSink struct{ w *bufio.Writer }

func (s *streamSink) write(b []byte, _ bool) error {
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("write image: %w", err)
	}
	return nil
}

func (s *streamSink) flush() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write image: %w", err)
	}
	return nil
}

// partsSink collects the image as slices without copying owned ones.
type partsSink struct{ parts [][]byte }

func (s *partsSink) write(b []byte, owned bool) error {
	if !owned {
		b = append([]byte(nil), b...)
	}
	s.parts = append(s.parts, b)
	return nil
}

func (s *partsSink) flush() error { return nil }

// sealIndex encrypts the index and completes the header (image size, index
// nonce and hash, key check, MAC). h must hold the layout fields and the
// data hash. It returns the index ciphertext and the header bytes.
func sealIndex(sk *subkeys, h *header, plain []byte) ([]byte, []byte, error) {
	h.imageSize = h.indexOff + h.indexLen + uint64(headerSize(h.version))
	aad := h.marshal()[:headerAADSize]
	imac := hmac.New(sha256.New, sk.indexNonce[:])
	imac.Write(aad)
	imac.Write(plain)
	copy(h.indexNonce[:], imac.Sum(nil))
	iaead, err := newGCM(sk.indexKey[:])
	if err != nil {
		return nil, nil, err
	}
	ct := iaead.Seal(nil, h.indexNonce[:], plain, aad)
	h.indexHash = sha256.Sum256(ct)
	h.keyCheck = sk.keyCheck
	hb := h.marshal()
	hm := hmac.New(sha256.New, sk.headerMAC[:])
	hm.Write(hb[:macStart(h.version)])
	copy(hb[macStart(h.version):], hm.Sum(nil))
	return ct, hb, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("init AES: %w", err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("init GCM: %w", err)
	}
	return a, nil
}

func (p *packer) contentCrypto() (cipher.AEAD, *sivPRF, error) {
	a, err := newGCM(p.sk.contentKey[:])
	if err != nil {
		return nil, nil, err
	}
	siv, err := newSIVPRF(p.sk, p.o.chunkSize)
	if err != nil {
		return nil, nil, err
	}
	return a, siv, nil
}

// sivPRF computes the synthetic nonce of a chunk (docs/fsprotect.md):
//
//	S     = GHASH_H(tweak || aad || plaintext) XOR E_K1(J0)   (GMAC under K1, fixed zero nonce)
//	nonce = first 12 bytes of AES_K2(S)
//
// a universal hash encrypted with an independent block cipher key: a PRF of
// (tweak, aad, plaintext), as the tag derivation of AES-GCM-SIV (RFC 8452).
// The tweak (format version 2; empty in version 1) is the file's: it binds
// the nonce, hence the ciphertext, to the image salt and the file's path.
type sivPRF struct {
	gmac cipher.AEAD
	prp  cipher.Block
	buf  []byte // tweak || aad || plaintext
}

func newSIVPRF(sk *subkeys, chunkSize int) (*sivPRF, error) {
	g, err := newGCM(sk.sivHash[:])
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(sk.sivPRP[:])
	if err != nil {
		return nil, fmt.Errorf("init AES: %w", err)
	}
	return &sivPRF{gmac: g, prp: b, buf: make([]byte, 0, tweakSize+16+chunkSize)}, nil
}

var zeroNonce [nonceSize]byte

// nonce writes the synthetic nonce of (tweak, aad, plain) into dst[:12].
func (s *sivPRF) nonce(dst []byte, tweak, aad, plain []byte) {
	s.buf = append(append(append(s.buf[:0], tweak...), aad...), plain...)
	var tag [16]byte
	s.gmac.Seal(tag[:0], zeroNonce[:], nil, s.buf)
	s.prp.Encrypt(tag[:], tag[:])
	copy(dst[:nonceSize], tag[:])
}

// chunkAAD is the associated data of chunk i of a file of the given size.
func chunkAAD(dst *[16]byte, i, size uint64) []byte {
	le.PutUint64(dst[0:], i)
	le.PutUint64(dst[8:], size)
	return dst[:]
}

// sealChunks encrypts plain, consecutive chunks of a file of fileSize bytes
// whose tweak is tweak (nil: version 1) starting with chunk firstChunk, into
// out (len(plain) + tagSize bytes at least) and their records into recs. It
// returns the number of stored bytes: the ciphertext is out[:that].
//
// With a compressor (z non-nil) each chunk is compressed first and stored
// as the shorter of the LZ4 block and the plaintext; the record gets the
// stored word (its offset is the writer's: placeChunks), and the stored
// word is in the AAD. The synthetic nonce is a PRF of what GCM encrypts,
// the stored bytes, never of the plaintext alone: a compressor whose output
// changed (another library version) then gets another nonce, never the same
// nonce for other bytes.
func sealChunks(aead cipher.AEAD, siv *sivPRF, z *chunkCompressor, cs int, tweak, plain, out, recs []byte, firstChunk, fileSize uint64) int {
	var aadBuf [16]byte
	var aadBufZ [chunkAADSizeZ]byte
	var nonce [nonceSize]byte
	n := len(plain)
	pos := 0
	rs := chunkRecSize
	if z != nil {
		rs = chunkRecSizeZ
	}
	for k, off := 0, 0; off < n; k, off = k+1, off+cs {
		end := min(off+cs, n)
		rec := recs[k*rs : (k+1)*rs]
		data := plain[off:end]
		var aad []byte
		if z != nil {
			var st uint32
			data, st = z.compress(data)
			aad = chunkAADZ(&aadBufZ, firstChunk+uint64(k), fileSize, st)
			le.PutUint32(rec[chunkRecSize:], st)
		} else {
			aad = chunkAAD(&aadBuf, firstChunk+uint64(k), fileSize)
		}
		siv.nonce(nonce[:], tweak, aad, data)
		sealed := aead.Seal(out[pos:pos], nonce[:], data, aad)
		copy(rec, nonce[:])
		copy(rec[nonceSize:chunkRecSize], sealed[len(data):])
		pos += len(data)
	}
	return pos
}

// placeChunks writes the offsets of the chunk records recs (with stored
// words) whose stored bytes start at image offset pos.
func placeChunks(recs []byte, pos uint64) {
	for k := 0; k+chunkRecSizeZ <= len(recs); k += chunkRecSizeZ {
		le.PutUint64(recs[k+chunkRecSize+4:], pos)
		pos += uint64(le.Uint32(recs[k+chunkRecSize:]) & storedLenMask)
	}
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), ErrInvalidInput)
}

// splitPath normalizes a tar path into its components ("" and "." dropped).
func splitPath(name string) ([]string, error) {
	var out []string
	for c := range strings.SplitSeq(name, "/") {
		switch {
		case c == "" || c == ".":
			continue
		case c == "..":
			return nil, invalid("pack entry %q: path with \"..\"", name)
		case len(c) > maxNameLen:
			return nil, invalid("pack entry %q: name longer than %d bytes", name, maxNameLen)
		case strings.IndexByte(c, 0) >= 0:
			return nil, invalid("pack entry %q: NUL in name", name)
		}
		out = append(out, c)
	}
	return out, nil
}

// parentOf returns the directory that holds the last component of parts,
// creating missing directories.
func (p *packer) parentOf(name string, parts []string) (*wnode, error) {
	d := p.root
	for _, c := range parts[:len(parts)-1] {
		n := d.children[c]
		if n == nil {
			n = &wnode{typ: typeDir, mode: sIFDIR | 0o755, children: map[string]*wnode{}}
			d.children[c] = n
		} else if n.typ != typeDir {
			return nil, invalid("pack entry %q: parent %q is not a directory", name, c)
		}
		d = n
	}
	return d, nil
}

func (p *packer) lookup(parts []string) *wnode {
	n := p.root
	for _, c := range parts {
		if n.typ != typeDir {
			return nil
		}
		if n = n.children[c]; n == nil {
			return nil
		}
	}
	return n
}

func (p *packer) readTar(ctx context.Context, r io.Reader, pp *pipe) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar stream: %w: %w", ErrInvalidInput, err)
		}
		e := tarEntry(hdr)
		n, err := p.add(&e, hdr.Size)
		if err != nil {
			return err
		}
		if n != nil {
			if err := p.readContent(ctx, tr, hdr, n, pp); err != nil {
				return err
			}
		}
	}
}

// tarEntry is what a tar header says about an entry (no content).
func tarEntry(hdr *tar.Header) TreeEntry {
	e := TreeEntry{
		Path: hdr.Name, Type: hdr.Typeflag, Mode: hdr.Mode, UID: hdr.Uid, GID: hdr.Gid,
		ModTime: hdr.ModTime, Linkname: hdr.Linkname, Devmajor: hdr.Devmajor, Devminor: hdr.Devminor,
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if e.Xattrs == nil {
				e.Xattrs = map[string]string{}
			}
			e.Xattrs[name] = v
		}
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		e.Type = tar.TypeReg
	}
	return e
}

// add puts one entry into the tree. For a regular file with content (size
// > 0) it returns its node, whose content the caller must queue next.
func (p *packer) add(e *TreeEntry, size int64) (*wnode, error) {
	parts, err := splitPath(e.Path)
	if err != nil {
		return nil, err
	}
	n := &wnode{
		mode: uint32(e.Mode) & 0o7777, uid: uint32(e.UID), gid: uint32(e.GID),
		mtimeSec: e.ModTime.Unix(), mtimeNsec: uint32(e.ModTime.Nanosecond()),
	}
	if e.UID < 0 || e.GID < 0 || int64(e.UID) > math.MaxUint32 || int64(e.GID) > math.MaxUint32 {
		return nil, invalid("pack entry %q: owner %d:%d out of range", e.Path, e.UID, e.GID)
	}
	if e.ModTime.IsZero() {
		n.mtimeSec, n.mtimeNsec = 0, 0
	}
	for name, v := range e.Xattrs {
		if keptXattr(name) {
			if n.xattrs == nil {
				n.xattrs = map[string]string{}
			}
			n.xattrs[name] = v
		}
	}
	switch e.Type {
	case tar.TypeDir:
		n.typ = typeDir
	case tar.TypeReg:
		n.typ = typeFile
	case tar.TypeSymlink:
		n.typ = typeSymlink
		if e.Linkname == "" || len(e.Linkname) > 4096 || strings.IndexByte(e.Linkname, 0) >= 0 {
			return nil, invalid("pack symlink %q: bad target", e.Path)
		}
		n.target, n.size = e.Linkname, uint64(len(e.Linkname))
	case tar.TypeChar, tar.TypeBlock:
		n.typ = typeChar
		if e.Type == tar.TypeBlock {
			n.typ = typeBlock
		}
		if e.Devmajor < 0 || e.Devminor < 0 || e.Devmajor > math.MaxUint32 || e.Devminor > math.MaxUint32 {
			return nil, invalid("pack device %q: device number out of range", e.Path)
		}
		n.devMajor, n.devMinor = uint32(e.Devmajor), uint32(e.Devminor)
	case tar.TypeFifo:
		n.typ = typeFifo
	case tar.TypeLink:
		lparts, err := splitPath(e.Linkname)
		if err != nil {
			return nil, err
		}
		t := p.lookup(lparts)
		if t == nil {
			return nil, invalid("pack hard link %q: target %q not found earlier in the stream", e.Path, e.Linkname)
		}
		if t.typ == typeDir {
			return nil, invalid("pack hard link %q: target %q is a directory", e.Path, e.Linkname)
		}
		if len(parts) == 0 {
			return nil, invalid("pack hard link %q: the root cannot be a link", e.Path)
		}
		d, err := p.parentOf(e.Path, parts)
		if err != nil {
			return nil, err
		}
		p.replace(d, parts, t)
		p.sum.Hardlinks++
		return nil, nil
	default:
		p.sum.Skipped = append(p.sum.Skipped, fmt.Sprintf("%s: unsupported tar entry type %q", e.Path, e.Type))
		return nil, nil
	}
	n.mode |= typeIFMT[n.typ]
	if len(parts) == 0 { // the root directory itself
		if n.typ != typeDir {
			return nil, invalid("pack entry %q: the root must be a directory", e.Path)
		}
		n.children = p.root.children
		*p.root = *n
		return nil, nil
	}
	d, err := p.parentOf(e.Path, parts)
	if err != nil {
		return nil, err
	}
	if n.typ == typeDir {
		if old := d.children[parts[len(parts)-1]]; old != nil && old.typ == typeDir {
			n.children = old.children
			*old = *n // keep the node: links to it stay valid
			return nil, nil
		}
		n.children = map[string]*wnode{}
	}
	p.replace(d, parts, n)
	if n.typ != typeFile || size <= 0 {
		return nil, nil
	}
	if uint64(size) > math.MaxInt64-p.dataPos {
		return nil, invalid("pack file %q: size %d out of range", e.Path, size)
	}
	// Lay the content out at the end of the data region. The content is
	// bound to this path (hard links added later share it).
	usize := uint64(size)
	n.size, n.dataOff = usize, p.dataPos
	if p.tw != nil {
		n.tweak = p.tw.tweak(strings.Join(parts, "/"))
	}
	n.recs = make([]byte, chunkCount(usize, p.log2)*uint64(p.recSize))
	p.dataPos += usize
	p.sum.BytesIn += size
	return n, nil
}

// tweakOf is the tweak a file's chunks are sealed with (nil: version 1).
func (n *wnode) tweakOf(p *packer) []byte {
	if p.tw == nil {
		return nil
	}
	return n.tweak[:]
}

func (p *packer) replace(d *wnode, parts []string, n *wnode) {
	name := parts[len(parts)-1]
	if old := d.children[name]; old != nil {
		p.sum.Skipped = append(p.sum.Skipped, fmt.Sprintf("%s: replaced by a later entry", strings.Join(parts, "/")))
	}
	d.children[name] = n
}

// readContent cuts a file's content into jobs and queues them.
func (p *packer) readContent(ctx context.Context, tr *tar.Reader, hdr *tar.Header, n *wnode, pp *pipe) error {
	size := n.size
	jobBytes := uint64(p.jobChunks * p.o.chunkSize)
	for off := uint64(0); off < size; off += jobBytes {
		var buf *jobBuf
		select {
		case buf = <-pp.pool:
		case <-ctx.Done():
			return ctx.Err()
		}
		m := int(min(jobBytes, size-off))
		if _, err := io.ReadFull(tr, buf.plain[:m]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read tar entry %q: %w: %w", hdr.Name, ErrInvalidInput, err)
		}
		first := off >> p.log2
		rs := uint64(p.recSize)
		j := &job{buf: buf, plain: buf.plain, out: buf.out, n: m, firstChunk: first, fileSize: size, tweak: n.tweakOf(p), done: make(chan struct{}),
			recs: n.recs[first*rs : (first+chunkCount(uint64(m), p.log2))*rs]}
		pp.queue <- j
		pp.work <- j
	}
	return nil
}

// buildIndex numbers the inodes breadth first, children in name order, and
// lays out the index tables in inode order.
func (p *packer) buildIndex() (*index, error) {
	x := &index{recSize: p.recSize, dict: p.o.dict}
	var nodes []*wnode
	p.root.ino = rootIno
	nodes = append(nodes, p.root)
	sortedNames := func(d *wnode) []string {
		names := make([]string, 0, len(d.children))
		for k := range d.children {
			names = append(names, k)
		}
		sort.Strings(names)
		return names
	}
	refs := map[*wnode]uint32{}
	for i := 0; i < len(nodes); i++ {
		d := nodes[i]
		if d.typ != typeDir {
			continue
		}
		for _, name := range sortedNames(d) {
			c := d.children[name]
			refs[c]++
			if c.ino == 0 {
				if len(nodes) >= math.MaxUint32-1 {
					return nil, invalid("pack: too many entries")
				}
				nodes = append(nodes, c)
				c.ino = uint32(len(nodes))
			}
		}
	}
	strIdx := map[string]uint32{}
	var strErr error
	addStr := func(s string) (uint32, uint32) {
		if off, ok := strIdx[s]; ok {
			return off, uint32(len(s))
		}
		if uint64(len(x.strs))+uint64(len(s)) > math.MaxUint32 {
			strErr = invalid("pack: names exceed 4 GiB")
			return 0, 0
		}
		off := uint32(len(x.strs))
		x.strs = append(x.strs, s...)
		strIdx[s] = off
		return off, uint32(len(s))
	}
	parent := map[*wnode]uint32{p.root: rootIno}
	x.inodes = make([]inode, len(nodes))
	for i, n := range nodes {
		in := &x.inodes[i]
		*in = inode{typ: n.typ, mode: n.mode, uid: n.uid, gid: n.gid, nlink: refs[n],
			devMajor: n.devMajor, devMinor: n.devMinor, mtimeSec: n.mtimeSec, mtimeNsec: n.mtimeNsec, size: n.size}
		keys := make([]string, 0, len(n.xattrs))
		for k := range n.xattrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		in.xattrFirst, in.xattrCount = uint32(len(x.xattrs)), uint32(len(keys))
		for _, k := range keys {
			var a xattrRec
			a.nameOff, a.nameLen = addStr(k)
			a.valOff, a.valLen = addStr(n.xattrs[k])
			x.xattrs = append(x.xattrs, a)
		}
		switch n.typ {
		case typeFile:
			in.chunkFirst = uint64(len(x.chunks) / p.recSize)
			x.chunks = append(x.chunks, n.recs...)
			if n.size > 0 {
				in.dataOff = n.dataOff
				if p.recSize == chunkRecSizeZ { // where the writer placed chunk 0
					_, in.dataOff = recStored(n.recs)
				}
			}
			p.sum.Files++
		case typeSymlink:
			in.targetOff, in.targetLen = addStr(n.target)
			p.sum.Symlinks++
		case typeDir:
			p.sum.Dirs++
			in.parent = parent[n]
			in.childFirst, in.childCount = uint32(len(x.dirents)), uint32(len(n.children))
			in.nlink = 2
			for _, name := range sortedNames(n) {
				c := n.children[name]
				var d dirent
				d.nameOff, d.nameLen = addStr(name)
				d.ino = c.ino
				x.dirents = append(x.dirents, d)
				if c.typ == typeDir {
					in.nlink++
					parent[c] = n.ino
				}
			}
		case typeChar, typeBlock:
			p.sum.Devices++
		case typeFifo:
			p.sum.Fifos++
		}
	}
	if strErr != nil {
		return nil, strErr
	}
	if uint64(len(x.dirents)) > math.MaxUint32 || uint64(len(x.xattrs)) > math.MaxUint32 {
		return nil, invalid("pack: too many entries")
	}
	return x, nil
}
