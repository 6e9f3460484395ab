package convert

import (
	"archive/tar"
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	kgzip "github.com/klauspost/compress/gzip"

	"github.com/scone-build/scone-build/internal/testenclave"
	"github.com/scone-build/scone-build/internal/testimages"
	"github.com/scone-build/scone-build/pkg/fsprotect"
	"github.com/scone-build/scone-build/pkg/rootfs"
	"github.com/scone-build/scone-build/pkg/runtimebin"
)

// benchImageMB is the uncompressed size of the synthetic image
// (SCONE_BENCH_MB overrides it; the target is measured at 200).
func benchImageMB() int {
	if n, err := strconv.Atoi(os.Getenv("SCONE_BENCH_MB")); err == nil && n > 0 {
		return n
	}
	return 200
}

var (
	benchOnce sync.Once
	benchImg  v1.Image
	benchTars [][]byte // compressed layers
)

// syntheticImage is a 4-layer image of files like a real distribution's:
// mostly text-like, compressible data plus some incompressible binaries,
// file sizes from 100 bytes to 4 MiB.
func syntheticImage(b *testing.B) v1.Image {
	benchOnce.Do(func() {
		total := benchImageMB() << 20
		rng := rand.New(rand.NewPCG(1, 2))
		words := []string{"lib", "usr", "share", "config", "value", "the", "container", "enclave", "=", "\n", "{", "}", "0x1f", "return"}
		img := empty.Image
		perLayer := total / 4
		for l := 0; l < 4; l++ {
			var raw bytes.Buffer
			tw := tar.NewWriter(&raw)
			for i := 0; raw.Len() < perLayer; i++ {
				size := 100 + rng.IntN(64<<10)
				if rng.IntN(40) == 0 {
					size = 1<<20 + rng.IntN(3<<20)
				}
				body := make([]byte, size)
				if rng.IntN(4) == 0 { // binary-like, incompressible
					for j := range body {
						body[j] = byte(rng.Uint32())
					}
				} else {
					for j := 0; j < size; {
						w := words[rng.IntN(len(words))]
						j += copy(body[j:], w)
					}
				}
				tw.WriteHeader(&tar.Header{Name: "l" + strconv.Itoa(l) + "/d" + strconv.Itoa(i%50) + "/f" + strconv.Itoa(i), Mode: 0o644, Size: int64(size), ModTime: time.Unix(1, 0)})
				tw.Write(body)
			}
			tw.Close()
			var gz bytes.Buffer
			zw, _ := kgzip.NewWriterLevel(&gz, kgzip.BestSpeed)
			zw.Write(raw.Bytes())
			zw.Close()
			c := gz.Bytes()
			benchTars = append(benchTars, c)
			layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(c)), nil })
			if err != nil {
				panic(err)
			}
			img, _ = mutate.AppendLayers(img, layer)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", "amd64"
		cf.Config.Entrypoint = []string{"/bin/busybox", "true"}
		benchImg, _ = mutate.ConfigFile(img, cf)
	})
	return benchImg
}

func withBusybox(b *testing.B, img v1.Image, busybox []byte) v1.Image {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(busybox))})
	tw.Write(busybox)
	tw.Close()
	return appendLayer(b, img, buf.Bytes())
}

// plainFlatten is the baseline: read and decompress every layer (in order,
// with the standard library, as a plain tool would) and write one
// uncompressed tar to io.Discard.
func plainFlatten(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	tw := tar.NewWriter(io.Discard)
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			tw.WriteHeader(h)
			io.Copy(tw, tr)
		}
		rc.Close()
	}
	return tw.Close()
}

// BenchmarkConvertVsFlatten reports convert/flatten: the time to convert
// the synthetic image and write it (as a docker archive, to io.Discard)
// divided by the baseline flatten of the same image, both measured in this
// run. Target: <= 1.3.
func BenchmarkConvertVsFlatten(b *testing.B) {
	fx := testenclave.Get(b)
	img := withBusybox(b, syntheticImage(b), fx.Busybox)
	// One untimed round of each first: the first touches of a few hundred MB
	// of fresh memory cost page faults that neither side should be charged.
	convertVsFlatten(b, fx, img, 1)
	b.ResetTimer()
	flat, conv := convertVsFlatten(b, fx, img, b.N)
	b.ReportMetric(float64(conv)/float64(flat), "convert/flatten")
	b.ReportMetric(flat.Seconds()/float64(b.N), "flatten-s")
	b.ReportMetric(conv.Seconds()/float64(b.N), "convert-s")
}

// convertVsFlatten times n rounds of a plain flatten of img and of its
// conversion written as a docker archive to io.Discard.
func convertVsFlatten(b *testing.B, fx *testenclave.Fixtures, img v1.Image, n int, extra ...Option) (flat, conv time.Duration) {
	flat, conv, _ = convertVsFlattenOut(b, fx, img, n, extra...)
	return flat, conv
}

// convertVsFlattenOut is convertVsFlatten that also returns the last
// converted image.
func convertVsFlattenOut(b *testing.B, fx *testenclave.Fixtures, img v1.Image, n int, extra ...Option) (flat, conv time.Duration, last v1.Image) {
	tag, _ := name.NewTag("bench/out:latest")
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := plainFlatten(img); err != nil {
			b.Fatal(err)
		}
		flat += time.Since(t0)
		t0 = time.Now()
		out, rep, err := convertImage(context.Background(), img, append([]Option{WithSigner(fx.Signer), WithFSKey(fx.FSKey), WithRuntime(fx.Runtime, fx.Runtime), WithForce(true)}, extra...)...)
		if err != nil {
			b.Fatal(err)
		}
		last = out
		t1 := time.Now()
		if err := tarball.Write(tag, out, io.Discard); err != nil {
			b.Fatal(err)
		}
		conv += time.Since(t0)
		b.Logf("flatten %.3f s; stages (s): %v, write %.3f, total %.3f; %.0f%% of the content encrypted ahead", flat.Seconds()/float64(i+1), rep.Timings,
			time.Since(t1).Seconds(), time.Since(t0).Seconds(), 100*float64(rep.fsCached)/float64(max(rep.BytesIn, 1)))
	}
	return flat, conv, last
}

// layerBytes is the total (compressed) size of an image's layers: what a
// registry stores and a pull transfers.
func layerBytes(b *testing.B, img v1.Image) int64 {
	ls, err := img.Layers()
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, l := range ls {
		sz, err := l.Size()
		if err != nil {
			b.Fatal(err)
		}
		n += sz
	}
	return n
}

// BenchmarkGunzip compares klauspost/compress with compress/gzip on the
// synthetic layers (the flattener uses the faster one).
func BenchmarkGunzip(b *testing.B) {
	syntheticImage(b)
	for _, impl := range []struct {
		name string
		open func(io.Reader) (io.Reader, error)
	}{
		{"stdlib", func(r io.Reader) (io.Reader, error) { return stdgzip.NewReader(r) }},
		{"klauspost", func(r io.Reader) (io.Reader, error) { return kgzip.NewReader(r) }},
	} {
		b.Run(impl.name, func(b *testing.B) {
			var n int64
			for i := 0; i < b.N; i++ {
				for _, c := range benchTars {
					zr, err := impl.open(bytes.NewReader(c))
					if err != nil {
						b.Fatal(err)
					}
					m, _ := io.Copy(io.Discard, zr)
					n += m
				}
			}
			b.SetBytes(n / int64(b.N))
		})
	}
}

// BenchmarkFlattenParallel compares the flattener (concurrent decompression)
// with the sequential baseline.
func BenchmarkFlattenParallel(b *testing.B) {
	img := syntheticImage(b)
	for i := 0; i < b.N; i++ {
		t, err := rootfs.Flatten(context.Background(), img)
		if err != nil {
			b.Fatal(err)
		}
		if err := t.WriteTar(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnclaveLayerCompression measures what each gzip level costs on
// ciphertext (the enclave layer's bulk) and what it saves.
func BenchmarkEnclaveLayerCompression(b *testing.B) {
	data := make([]byte, 64<<20)
	rng := rand.NewChaCha8([32]byte{3, 4})
	rng.Read(data)
	for _, lvl := range []struct {
		name  string
		level int
	}{{"stored", stdgzip.NoCompression}, {"bestspeed", stdgzip.BestSpeed}, {"default", stdgzip.DefaultCompression}} {
		b.Run(lvl.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var out int
			for i := 0; i < b.N; i++ {
				var buf bytes.Buffer
				zw, _ := stdgzip.NewWriterLevel(&buf, lvl.level)
				zw.Write(data)
				zw.Close()
				out = buf.Len()
			}
			b.ReportMetric(float64(out)/float64(len(data)), "size-ratio")
		})
	}
}

// BenchmarkRealImages reports convert/flatten for each real image of the
// cache (`make images`), each measured against its own baseline in this run,
// with each FS compression (NAME/none, NAME/lz4-nodict: LZ4 without the
// image dictionary, NAME/lz4: with it, the default, NAME/lz4hc), and the size
// of the output image's layers over the source image's (out/in).
func BenchmarkRealImages(b *testing.B) {
	fx := testenclave.Get(b)
	for _, n := range []string{"busybox", "musl", "gohttp", "debian", "nginx", "redis", "memcached", "sqlite", "python3", "apache2"} {
		b.Run(n, func(b *testing.B) {
			p, err := testimages.Path(n)
			if err != nil {
				b.Skipf("image %s absent: run `%s`", n, testimages.BuildCommand(n))
			}
			img, err := testimages.Load(p)
			if err != nil {
				b.Fatal(err)
			}
			in := layerBytes(b, img)
			for _, v := range []struct {
				name string
				opts []Option
			}{
				{"none", []Option{WithFSCompression(fsprotect.CompressionNone)}},
				{"lz4-nodict", []Option{WithFSCompression(fsprotect.CompressionLZ4), WithFSDictionary(false)}},
				{"lz4", []Option{WithFSCompression(fsprotect.CompressionLZ4)}},
				{"lz4hc", []Option{WithFSCompression(fsprotect.CompressionLZ4HC)}},
			} {
				b.Run(v.name, func(b *testing.B) {
					flat, conv, out := convertVsFlattenOut(b, fx, img, b.N, v.opts...)
					b.ReportMetric(float64(conv)/float64(flat), "convert/flatten")
					b.ReportMetric(conv.Seconds()/float64(b.N), "convert-s")
					b.ReportMetric(float64(layerBytes(b, out))/float64(in), "out/in")
				})
			}
		})
	}
}

// BenchmarkRuntimeLayerPrebuilt: converting busybox with the embedded
// runtime, whose base layer `make runtime` built once, against the same
// conversion building that layer (compress and hash the runtime binaries)
// as every conversion did before; both in this run. Reported: seconds per
// conversion of each and prebuilt/built.
func BenchmarkRuntimeLayerPrebuilt(b *testing.B) {
	fx := testenclave.Get(b)
	run, err := runtimebin.Binary(runtimebin.Run)
	if err != nil {
		b.Skipf("runtime not embedded: run `make runtime`: %v", err)
	}
	host, err := runtimebin.Binary(runtimebin.Host)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := runtimebin.Layer(run, host); err != nil {
		b.Skipf("no prebuilt runtime layer: run `make runtime`: %v", err)
	}
	p, err := testimages.Path("busybox")
	if err != nil {
		b.Skipf("image busybox absent: run `%s`", testimages.BuildCommand("busybox"))
	}
	img, err := testimages.Load(p)
	if err != nil {
		b.Fatal(err)
	}
	tag, _ := name.NewTag("bench/out:latest")
	once := func(extra ...Option) time.Duration {
		t0 := time.Now()
		out, _, err := convertImage(context.Background(), img, append([]Option{WithSigner(fx.Signer), WithFSKey(fx.FSKey), WithForce(true)}, extra...)...)
		if err != nil {
			b.Fatal(err)
		}
		if err := tarball.Write(tag, out, io.Discard); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	once()
	once(WithRuntime(run, host))
	b.ResetTimer()
	var pre, built time.Duration
	for i := 0; i < b.N; i++ {
		pre += once()                         // the embedded binaries: the prebuilt layer
		built += once(WithRuntime(run, host)) // the same bytes passed in: built anew
	}
	b.ReportMetric(pre.Seconds()/float64(b.N), "prebuilt-s")
	b.ReportMetric(built.Seconds()/float64(b.N), "built-s")
	b.ReportMetric(float64(pre)/float64(built), "prebuilt/built")
}
