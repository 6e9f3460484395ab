package convert

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

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
	if ls, err := src.Layers(); err == nil {
		for _, l := range ls {
			if n, err := l.Size(); err == nil {
				total += n
			}
		}
	}
	done := make(map[int]int64)
	tree, err := rootfs.Flatten(ctx, src, rootfs.WithProgress(progressFlatten(o, done, total)))
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
	img, err := Assemble(out)
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
	runtimeTar, err := layerTar(out.RuntimeFiles, layerEpoch)
	if err != nil {
		return nil, err
	}
	base, err := newMemLayer(runtimeTar, runtimeCompression)
	if err != nil {
		return nil, fmt.Errorf("building runtime layer: %w", err)
	}
	enclaveTar, err := layerTar(out.EnclaveFiles, out.Config.Created.Time)
	if err != nil {
		return nil, err
	}
	encl, err := newMemLayer(enclaveTar, enclaveCompression)
	if err != nil {
		return nil, fmt.Errorf("building enclave layer: %w", err)
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	created := out.Config.Created
	img, err = mutate.Append(img,
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
	size := 2048 // end-of-archive blocks and slack
	for _, e := range ents {
		size += 1536 // PAX and ustar headers
		if e.f != nil {
			size += len(e.f.Data) + 512
		}
	}
	var buf bytes.Buffer
	buf.Grow(size) // one allocation: regrowing copies the FS image over and over
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, ModTime: mtime, Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatPAX}
		if e.f != nil {
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, e.f.Mode, int64(len(e.f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing layer entry %q: %w", e.name, err)
		}
		if e.f != nil {
			if _, err := tw.Write(e.f.Data); err != nil {
				return nil, fmt.Errorf("writing layer entry %q: %w", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
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
