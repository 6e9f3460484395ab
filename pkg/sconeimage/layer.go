package sconeimage

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// runtimeLayerTime is the mtime of every entry of the runtime base layer. It
// does not follow SOURCE_DATE_EPOCH: the base layer must be byte-identical
// across conversions so that registries and engines store it once.
var runtimeLayerTime = time.Unix(0, 0).UTC()

// runtimeCompression is the gzip level of the runtime base layer: the
// default level compresses the runtime binaries within 0.2% of the best
// level in a third of the time (measured: 473,020 vs 472,465 bytes, 33 ms
// vs 98 ms). Changing it changes the base layer's digest.
const runtimeCompression = gzip.DefaultCompression

// enclaveCompression is the gzip level of the enclave layer. Its bulk is
// ciphertext, which does not compress: stored deflate blocks cost only a
// CRC-32 pass, keep the layer a valid gzip layer for every registry and
// engine, and are what bench/ measured fastest (docs/benchmarks.md).
// storedLayer writes these bytes without compress/gzip.
const enclaveCompression = gzip.NoCompression

// RuntimeLayer builds the runtime base layer from the two runtime binaries.
// It depends on nothing else, so it can be built while a source is read.
func RuntimeLayer(run, host []byte) (v1.Layer, error) {
	files := []File{{Path: RunPath, Mode: RuntimeMode, Data: run}, {Path: HostPath, Mode: RuntimeMode, Data: host}}
	size := 2048 // end-of-archive blocks and slack
	for _, f := range files {
		size += 3*1536 + len(f.Data) + 512 // PAX and ustar headers (and parents')
	}
	var buf bytes.Buffer
	buf.Grow(size) // one allocation: regrowing copies the data over and over
	if err := WriteTar(&buf, files, TarOptions{ModTime: runtimeLayerTime}); err != nil {
		return nil, err
	}
	l, err := newMemLayer(buf.Bytes(), runtimeCompression)
	if err != nil {
		return nil, fmt.Errorf("building runtime layer: %w", err)
	}
	return l, nil
}

// PrebuiltRuntimeLayer is the runtime base layer as built at build time
// (pkg/runtimebin.Layer): its gzip bytes, digest and diff ID. The digest is
// checked against the bytes; the diff ID is taken as recorded.
func PrebuiltRuntimeLayer(compressed []byte, digest, diffID string) (v1.Layer, error) {
	want, err := v1.NewHash(digest)
	if err != nil {
		return nil, fmt.Errorf("reading prebuilt runtime layer digest %q: %w", digest, err)
	}
	did, err := v1.NewHash(diffID)
	if err != nil {
		return nil, fmt.Errorf("reading prebuilt runtime layer diff ID %q: %w", diffID, err)
	}
	if got := sha256Hash(compressed); got != want {
		return nil, fmt.Errorf("checking prebuilt runtime layer: digest %s, recorded %s", got, want)
	}
	return &prebuiltLayer{compressed: compressed, digest: want, diffID: did}, nil
}

// prebuiltLayer: compressed bytes as embedded; the tar only when asked.
type prebuiltLayer struct {
	compressed     []byte
	digest, diffID v1.Hash
}

func (l *prebuiltLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *prebuiltLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *prebuiltLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}
func (l *prebuiltLayer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(l.compressed))
}
func (l *prebuiltLayer) Size() (int64, error)                { return int64(len(l.compressed)), nil }
func (l *prebuiltLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// enclaveLayer builds the enclave layer: the FS image is referenced, not
// copied, into the tar and the gzip stream.
func enclaveLayer(fsImage Blob, configBin, sigStruct []byte, mtime time.Time) (v1.Layer, error) {
	var pw pieceWriter
	err := writeTar(&pw, []tarFile{
		{path: FSImagePath, mode: EnclaveMode, content: fsImage},
		{path: ConfigPath, mode: EnclaveMode, content: NewBlob(configBin)},
		{path: SigStructPath, mode: EnclaveMode, content: NewBlob(sigStruct)},
	}, TarOptions{ModTime: mtime})
	if err != nil {
		return nil, err
	}
	return newStoredLayer(pw.parts), nil
}

// memLayer is a layer compressed and hashed exactly once, in memory. ggcr's
// opener-based layers recompress on every Compressed() call (digest,
// validation, write), which costs more than the encryption itself.
type memLayer struct {
	compressed []byte
	digest     v1.Hash
	diffID     v1.Hash
	uncomp     []byte
}

func newMemLayer(uncompressed []byte, level int) (*memLayer, error) {
	var diffID v1.Hash
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); diffID = sha256Hash(uncompressed) }() // overlaps compression
	defer wg.Wait()
	var buf bytes.Buffer
	buf.Grow(len(uncompressed) + len(uncompressed)/16000*5 + 64)
	zw, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(uncompressed); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	l := &memLayer{compressed: buf.Bytes(), uncomp: uncompressed}
	l.digest = sha256Hash(l.compressed)
	wg.Wait()
	l.diffID = diffID
	return l, nil
}

func sha256Hash(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

func (l *memLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *memLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}
func (l *memLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.uncomp)), nil
}
func (l *memLayer) Size() (int64, error)                { return int64(len(l.compressed)), nil }
func (l *memLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// pieceWriter collects a byte stream as slices: large writes (file data) are
// kept by reference, without copying; small ones (tar headers, padding) are
// copied. Writers must not modify what they passed in large writes.
type pieceWriter struct {
	parts [][]byte
	owned bool // the last part is pieceWriter's own buffer
}

const pieceRefMin = 32 << 10

func (w *pieceWriter) Write(b []byte) (int, error) {
	switch {
	case len(b) >= pieceRefMin:
		w.parts = append(w.parts, b)
		w.owned = false
	case w.owned:
		w.parts[len(w.parts)-1] = append(w.parts[len(w.parts)-1], b...)
	default:
		w.parts = append(w.parts, append(make([]byte, 0, 4096), b...))
		w.owned = true
	}
	return len(b), nil
}

// storedLayer is the enclave layer as gzip with stored (uncompressed)
// deflate blocks (enclaveCompression), generated from the tar's pieces
// instead of copied into a compressed buffer: the FS image, the layer's
// bulk, is neither copied into the tar nor into the gzip stream. The bytes
// are those compress/gzip writes at gzip.NoCompression
// (TestStoredLayerMatchesGzip): a 10-byte header, stored blocks of 65,535
// bytes (5-byte headers), a final empty block, CRC-32 and size.
type storedLayer struct {
	uncomp [][]byte // the tar
	comp   [][]byte // the gzip stream
	size   int64    // of comp
	digest v1.Hash
	diffID v1.Hash
}

const storedBlock = 65535 // compress/flate maxStoreBlockSize

func newStoredLayer(parts [][]byte) *storedLayer {
	l := &storedLayer{uncomp: parts}
	var n int64
	for _, p := range parts {
		n += int64(len(p))
	}
	var diffID v1.Hash
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // overlaps the CRC and the other hash
		defer wg.Done()
		h := sha256.New()
		for _, p := range parts {
			h.Write(p)
		}
		diffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	}()
	nblocks := (n + storedBlock - 1) / storedBlock
	hdrs := make([]byte, 10+5*nblocks+5+8)
	// gzip header: no name, mtime 0, XFL 0, OS unknown (255).
	copy(hdrs, []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255})
	comp := make([][]byte, 0, 2*int(nblocks)+len(parts)+4)
	comp = append(comp, hdrs[:10])
	h := hdrs[10:]
	crc := crc32.NewIEEE()
	pi, off := 0, 0 // position in parts
	for left := n; left > 0; {
		bl := min(left, storedBlock)
		left -= bl
		b := h[:5]
		h = h[5:]
		b[0], b[1], b[2], b[3], b[4] = 0, byte(bl), byte(bl>>8), ^byte(bl), ^byte(bl>>8)
		comp = append(comp, b)
		for need := int(bl); need > 0; {
			p := parts[pi][off:]
			if len(p) == 0 {
				pi, off = pi+1, 0
				continue
			}
			take := min(need, len(p))
			comp = append(comp, p[:take])
			crc.Write(p[:take])
			need -= take
			off += take
		}
	}
	end := h[:13]
	copy(end, []byte{1, 0, 0, 0xff, 0xff})
	binary.LittleEndian.PutUint32(end[5:], crc.Sum32())
	binary.LittleEndian.PutUint32(end[9:], uint32(n))
	comp = append(comp, end)
	l.comp = comp
	dh := sha256.New()
	for _, c := range comp {
		dh.Write(c)
		l.size += int64(len(c))
	}
	l.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(dh.Sum(nil))}
	wg.Wait()
	l.diffID = diffID
	return l
}

func (l *storedLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *storedLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *storedLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(&slicesReader{parts: l.comp}), nil
}
func (l *storedLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(&slicesReader{parts: l.uncomp}), nil
}
func (l *storedLayer) Size() (int64, error)                { return l.size, nil }
func (l *storedLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
