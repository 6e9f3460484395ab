package convert

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/scone-build/scone-build/pkg/fsprotect"
	"github.com/scone-build/scone-build/pkg/rootfs"
)

// layerEpoch is the mtime of every entry of the runtime base layer. It does
// not follow SOURCE_DATE_EPOCH: the base layer must be byte-identical across
// conversions so that registries and engines store it once.
var layerEpoch = time.Unix(0, 0).UTC()

// Convert converts src into a new image. The returned image is built in
// memory; write it with imageref.Write.
func Convert(ctx context.Context, src v1.Image, opts ...Option) (v1.Image, *Report, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, nil, err
	}
	srcDigest, err := src.Digest()
	if err != nil {
		return nil, nil, fmt.Errorf("reading source manifest: %w", err)
	}
	srcCfg, err := src.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("reading source image config: %w", err)
	}
	t0 := time.Now()
	var total int64
	var sizes []int64
	if ls, err := src.Layers(); err == nil {
		for _, l := range ls {
			n, err := l.Size()
			if err == nil {
				total += n
			}
			sizes = append(sizes, n)
		}
	}
	// The runtime base layer depends only on the runtime binaries: build it
	// while the layers are decompressed.
	var base v1.Layer
	var baseErr error
	baseDone := make(chan struct{})
	go func() {
		defer close(baseDone)
		base, baseErr = runtimeLayer(runtimeFiles(o))
	}()
	defer func() { <-baseDone }()
	done := make(map[int]int64)
	// The FS image's salt must be known before contents are encrypted
	// while the layers decompress: it comes from the layer digests, known
	// up front (unless the salt is to come from the tree: then contents are
	// encrypted after flattening).
	if !o.fsSaltSet && !o.fsTreeSalt {
		if o.fsSalt, err = ImageSaltSource(src); err != nil {
			return nil, nil, err
		}
		o.fsSaltSet = true
	}
	progress := progressFlatten(o, done, total)
	flattenOpts := []rootfs.Option{rootfs.WithProgress(progress)}
	if o.fsSaltSet {
		pre, err := newPreEncryptor(o)
		if err != nil {
			return nil, nil, err
		}
		defer pre.release()
		o.preEnc = pre
		track := pre.layerTracker(sizes)
		flattenOpts = []rootfs.Option{rootfs.WithFileHook(pre.offer), rootfs.WithProgress(func(layer int, n int64) {
			track(layer, n)
			progress(layer, n)
		})}
	}
	o.fsParts = true
	tree, err := rootfs.Flatten(ctx, src, flattenOpts...)
	o.preEnc.close() // the workers finish their queue while the tree is analysed
	if err != nil {
		return nil, nil, fmt.Errorf("flattening source image: %w", err)
	}
	flattenSecs := time.Since(t0).Seconds()
	out, err := convertTree(ctx, tree, srcCfg, o)
	if err != nil {
		return nil, nil, err
	}
	out.Report.SourceDigest = srcDigest.String()
	out.Report.Timings["flatten"] = flattenSecs
	out.Config.Config.Labels[LabelSourceDigest] = srcDigest.String()
	<-baseDone
	if baseErr != nil {
		return nil, nil, baseErr
	}
	img, err := assemble(out, base)
	if err != nil {
		return nil, nil, err
	}
	d, err := img.Digest()
	if err != nil {
		return nil, nil, fmt.Errorf("computing output digest: %w", err)
	}
	out.Report.Digest = d.String()
	return img, out.Report, nil
}

// ImageSaltSource is the salt source of the protected FS image Convert
// makes of img (docs/fsprotect.md): the source image's layers, by
// uncompressed digest (the config's diffIDs) and digest (the manifest's),
// known before any layer is read, so that contents can be encrypted while
// the layers decompress. The same layers give the same salt (and the same
// FS image); any other layer gives another. The salt stored in the image
// is a keyed hash of it: the digests do not leak.
func ImageSaltSource(img v1.Image) ([]byte, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading source image config: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading source manifest: %w", err)
	}
	var b strings.Builder
	b.WriteString("scone-build fs salt: image layers\n")
	for _, d := range cf.RootFS.DiffIDs {
		fmt.Fprintf(&b, "diff_id %s\n", d)
	}
	for _, l := range m.Layers {
		fmt.Fprintf(&b, "layer %s %d\n", l.Digest, l.Size)
	}
	return []byte(b.String()), nil
}

// preEncryptor encrypts file contents into an fsprotect.ContentCache while
// the layers are still being decompressed: a chunk's ciphertext depends only
// on the key, the image salt (from the layer digests, known before
// flattening), the file's path and its content, so the packer can use it
// whatever the final tree turns out to be (a file removed by a later layer
// is simply not used). Decompressing a layer is single-threaded; the
// workers use the other cores. Flatten's hook only offers the content to a
// bounded queue and never waits: what the workers cannot take is encrypted
// by the packer later, in parallel as always.
//
// Memory: the cache holds the ciphertext of every file it encrypted (about
// the uncompressed image size, files deleted by later layers included) until
// the FS image is packed; release frees it.
type preEncryptor struct {
	cache *fsprotect.ContentCache
	queue chan offered
	wg    sync.WaitGroup
	once  sync.Once
	procs int
	// active counts the layers being decompressed. While they keep every
	// core busy, encrypting ahead only competes with them (and costs the
	// cache's memory traffic): the workers then leave contents to the packer.
	active atomic.Int32
}

// preEncryptMin is the smallest file worth encrypting ahead. Measured with
// 20,000 files of 64 bytes: packing them cost 45 ms without the cache and
// 39.5 ms with it, and filling the cache 10.6 ms on an otherwise idle core;
// the hook's channel send costs ~0.1 us per file. Even tiny files win a
// little, so every non-empty file is offered.
const preEncryptMin = 1

// offered is a file's content offered by Flatten's hook, with its path.
type offered struct {
	name    string
	content []byte
}

func newPreEncryptor(o *options) (*preEncryptor, error) {
	c, err := fsprotect.NewContentCache(*o.fsKey, fsOptions(o)...)
	if err != nil {
		return nil, fmt.Errorf("preparing content encryption: %w", err)
	}
	p := &preEncryptor{cache: c, queue: make(chan offered, 4096), procs: runtime.GOMAXPROCS(0)}
	for range max(1, p.procs-1) {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for f := range p.queue {
				if int(p.active.Load()) >= p.procs {
					continue
				}
				// An error (a path the packer refuses) leaves the
				// content to the packer, which reports it.
				_ = c.Encrypt(f.name, f.content)
			}
		}()
	}
	return p, nil
}

// fsOptions are the fsprotect options of the FS image (chunk size, salt
// source when known).
func fsOptions(o *options) []fsprotect.Option {
	var opts []fsprotect.Option
	if o.fsChunk != 0 {
		opts = append(opts, fsprotect.WithChunkSize(o.fsChunk))
	}
	if o.fsSaltSet {
		opts = append(opts, fsprotect.WithSaltSource(o.fsSalt))
	}
	return opts
}

// layerTracker returns a Flatten progress function that keeps p.active up
// to date from the compressed bytes read per layer (sizes: compressed sizes).
func (p *preEncryptor) layerTracker(sizes []int64) func(layer int, n int64) {
	var mu sync.Mutex
	state := make([]byte, len(sizes)) // 0 not started, 1 reading, 2 read
	return func(layer int, n int64) {
		if layer < 0 || layer >= len(sizes) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if state[layer] == 0 {
			state[layer] = 1
			p.active.Add(1)
		}
		if state[layer] == 1 && n >= sizes[layer] && sizes[layer] > 0 {
			state[layer] = 2
			p.active.Add(-1)
		}
	}
}

// offer is the Flatten file hook: it queues content without waiting.
func (p *preEncryptor) offer(name string, b []byte) {
	if len(b) < preEncryptMin {
		return
	}
	select {
	case p.queue <- offered{name, b}:
	default:
	}
}

// close ends the queue; the workers finish what is in it.
func (p *preEncryptor) close() {
	if p != nil {
		p.once.Do(func() { close(p.queue) })
	}
}

// wait returns the cache once the workers are done (nil without one).
func (p *preEncryptor) wait() *fsprotect.ContentCache {
	if p == nil {
		return nil
	}
	p.close()
	p.wg.Wait()
	return p.cache
}

// release frees the cache.
func (p *preEncryptor) release() {
	if p != nil {
		p.close()
		p.wg.Wait()
		p.cache.Reset()
	}
}

// progressFlatten adapts per-layer byte counts to Progress events. Flatten
// calls it from several goroutines.
func progressFlatten(o *options, done map[int]int64, total int64) func(int, int64) {
	var mu sync.Mutex
	var last int64
	return func(layer int, n int64) {
		mu.Lock()
		defer mu.Unlock()
		done[layer] = n
		var sum int64
		for _, v := range done {
			sum += v
		}
		if sum-last >= 4<<20 || sum == total {
			last = sum
			o.progress(Progress{Stage: "flatten", Done: sum, Total: total})
		}
	}
}

// Assemble builds the output image from a conversion's output: the runtime
// base layer, the enclave layer and the config, as an OCI image.
func Assemble(out *Output) (v1.Image, error) {
	base, err := runtimeLayer(out.RuntimeFiles)
	if err != nil {
		return nil, err
	}
	return assemble(out, base)
}

// runtimeLayer builds the runtime base layer (it depends on the runtime
// files only: Convert builds it while it flattens).
func runtimeLayer(files []File) (v1.Layer, error) {
	runtimeTar, err := layerTar(files, layerEpoch)
	if err != nil {
		return nil, err
	}
	base, err := newMemLayer(runtimeTar, runtimeCompression)
	if err != nil {
		return nil, fmt.Errorf("building runtime layer: %w", err)
	}
	return base, nil
}

func assemble(out *Output, base v1.Layer) (v1.Image, error) {
	var pw pieceWriter
	if err := writeLayerTar(&pw, out.EnclaveFiles, out.Config.Created.Time, out.fsParts); err != nil {
		return nil, err
	}
	encl := newStoredLayer(pw.parts)

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	created := out.Config.Created
	img, err := mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "scone-build: runtime base layer (scone-run, scone-host)", Comment: "identical for every conversion by this scone-build version"}},
		mutate.Addendum{Layer: encl, History: v1.History{Created: created, CreatedBy: "scone-build: enclave layer (protected FS image, measured config, SIGSTRUCT)"}},
	)
	if err != nil {
		return nil, fmt.Errorf("assembling image: %w", err)
	}
	// mutate.ConfigFile keeps RootFS and History from img.
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	c := out.Config.DeepCopy()
	c.RootFS = cf.RootFS
	c.History = cf.History
	img, err = mutate.ConfigFile(img, c)
	if err != nil {
		return nil, fmt.Errorf("assembling image config: %w", err)
	}
	anns := map[string]string{
		LabelMRENCLAVE: out.Report.MRENCLAVE,
		LabelFSRoot:    out.Report.FSRoot,
		LabelVersion:   out.Report.Version,
	}
	if out.Report.MRSIGNER != "" {
		anns[LabelMRSIGNER] = out.Report.MRSIGNER
	}
	if d := out.Config.Config.Labels[LabelSourceDigest]; d != "" {
		anns[LabelSourceDigest] = d
		anns["org.opencontainers.image.base.digest"] = d
	}
	if out.Report.Source != "" {
		anns["org.opencontainers.image.base.name"] = out.Report.Source
	}
	return mutate.Annotations(img, anns).(v1.Image), nil
}

// layerTar writes files (and their parent directories) as a sorted tar.
func layerTar(files []File, mtime time.Time) ([]byte, error) {
	size := 2048 // end-of-archive blocks and slack
	for _, f := range files {
		size += 3*1536 + len(f.Data) + 512 // PAX and ustar headers (and parents')
	}
	var buf bytes.Buffer
	buf.Grow(size) // one allocation: regrowing copies the data over and over
	if err := writeLayerTar(&buf, files, mtime, nil); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeLayerTar writes files (and their parent directories) as a sorted tar
// to w. fsParts, if not nil, is the content of FSImagePath (whose Data is
// nil), as slices.
func writeLayerTar(w io.Writer, files []File, mtime time.Time, fsParts [][]byte) error {
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.Path); d != "/" && d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	type ent struct {
		name string
		f    *File
	}
	var ents []ent
	for d := range dirs {
		ents = append(ents, ent{name: strings.TrimPrefix(d, "/") + "/"})
	}
	for i := range files {
		ents = append(ents, ent{name: strings.TrimPrefix(files[i].Path, "/"), f: &files[i]})
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
	tw := tar.NewWriter(w)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, ModTime: mtime, Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatPAX}
		parts := [][]byte{}
		if e.f != nil {
			parts = append(parts, e.f.Data)
			if fsParts != nil && e.f.Path == FSImagePath && e.f.Data == nil {
				parts = fsParts
			}
			h.Typeflag, h.Mode = tar.TypeReg, e.f.Mode
			for _, p := range parts {
				h.Size += int64(len(p))
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("writing layer entry %q: %w", e.name, err)
		}
		for _, p := range parts {
			if _, err := tw.Write(p); err != nil {
				return fmt.Errorf("writing layer entry %q: %w", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing layer: %w", err)
	}
	return nil
}

// enclaveCompression is the gzip level of the enclave layer. Its bulk is
// ciphertext, which does not compress: stored deflate blocks cost only a
// CRC-32 pass, keep the layer a valid gzip layer for every registry and
// engine, and are what bench/ measured fastest (docs/benchmarks.md).
const enclaveCompression = gzip.NoCompression

// runtimeCompression is the gzip level of the runtime base layer: the
// default level compresses the runtime binaries within 0.2% of the best
// level in a third of the time (measured: 473,020 vs 472,465 bytes, 33 ms
// vs 98 ms). Changing it changes the base layer's digest.
const runtimeCompression = gzip.DefaultCompression

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

// slicesReader reads the concatenation of parts (which it does not modify).
type slicesReader struct {
	parts [][]byte
	off   int // in parts[0]
}

func (r *slicesReader) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) && len(r.parts) > 0 {
		c := copy(b[n:], r.parts[0][r.off:])
		n += c
		r.advance(c)
	}
	if n == 0 && len(r.parts) == 0 && len(b) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (r *slicesReader) advance(c int) {
	if r.off += c; r.off == len(r.parts[0]) {
		r.parts, r.off = r.parts[1:], 0
	}
}

// WriteTo writes the rest without an intermediate buffer (io.Copy).
func (r *slicesReader) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for len(r.parts) > 0 {
		m, err := w.Write(r.parts[0][r.off:])
		n += int64(m)
		r.advance(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
