package convert

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/scone-build/scone-build/internal/testenclave"
	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fsprotect"
	"github.com/scone-build/scone-build/pkg/link"
	"github.com/scone-build/scone-build/pkg/sconeimage"
)

var (
	signer     *enclave.KeySigner
	fsKey      fsprotect.Key
	runtimeELF []byte
	busybox    []byte
)

func fixtures(t *testing.T) {
	t.Helper()
	f := testenclave.Get(t)
	signer, fsKey, runtimeELF, busybox = f.Signer, f.FSKey, f.Runtime, f.Busybox
}

type file struct {
	name string
	body []byte
	mode int64
	link string
}

func testImage(t *testing.T, cfg v1.Config, layers ...[]file) v1.Image {
	t.Helper()
	img := empty.Image
	for _, files := range layers {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, f := range files {
			h := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1600000000, 0)}
			if f.link != "" {
				h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f.link, 0
			}
			if h.Mode == 0 {
				h.Mode = 0o644
			}
			tw.WriteHeader(h)
			if f.link == "" {
				tw.Write(f.body)
			}
		}
		tw.Close()
		img = appendLayer(t, img, buf.Bytes())
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// appendLayer adds an uncompressed tar as a layer (ggcr compresses it).
func appendLayer(t testing.TB, img v1.Image, tarBytes []byte) v1.Image {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarBytes)), nil })
	if err != nil {
		t.Fatal(err)
	}
	out, err := mutate.AppendLayers(img, l)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func busyboxImage(t *testing.T, extra ...file) v1.Image {
	files := append([]file{
		{name: "bin/busybox", body: busybox, mode: 0o755},
		{name: "bin/sh", link: "busybox"},
		{name: "etc/passwd", body: []byte("root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\n")},
		{name: "etc/group", body: []byte("root:x:0:\nwww:x:33:\n")},
	}, extra...)
	return testImage(t, v1.Config{
		Entrypoint:   []string{"/bin/sh", "-c"},
		Cmd:          []string{"echo hello"},
		Env:          []string{"PATH=/bin", "GREETING=hi"},
		User:         "www",
		WorkingDir:   "/var/www",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		StopSignal:   "SIGQUIT",
		Labels:       map[string]string{"org.example": "kept"},
		Healthcheck:  &v1.HealthConfig{Test: []string{"CMD", "true"}},
	}, files)
}

func opts(extra ...Option) []Option {
	return append([]Option{WithSigner(signer), WithFSKey(fsKey), WithRuntime(runtimeELF, runtimeELF), WithDate(time.Unix(1700000000, 0))}, extra...)
}

func TestConvert(t *testing.T) {
	fixtures(t)
	ctx := context.Background()
	src := busyboxImage(t, file{name: "srv/secret.txt", body: []byte("MARKER-PLAINTEXT-7f3a9 must never appear in the output")})
	out, rep, err := convertImage(ctx, src, opts()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(out); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	cf, err := out.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("config", func(t *testing.T) {
		c := cf.Config
		if len(c.Entrypoint) != 1 || c.Entrypoint[0] != sconeimage.RunPath || len(c.Cmd) != 0 {
			t.Errorf("entrypoint %v cmd %v", c.Entrypoint, c.Cmd)
		}
		if c.User != "33:33" {
			t.Errorf("user %q, want 33:33 (resolved from the image's /etc/passwd)", c.User)
		}
		if _, ok := c.ExposedPorts["8080/tcp"]; !ok || c.StopSignal != "SIGQUIT" || c.Labels["org.example"] != "kept" {
			t.Errorf("ports/stop signal/labels not kept: %+v", c)
		}
		if c.Healthcheck != nil {
			t.Error("health check kept; it cannot work outside the enclave")
		}
		for k, want := range map[string]string{sconeimage.LabelMRENCLAVE: rep.MRENCLAVE, sconeimage.LabelMRSIGNER: rep.MRSIGNER, sconeimage.LabelFSRoot: rep.FSRoot} {
			if c.Labels[k] != want || len(want) != 64 {
				t.Errorf("label %s = %q, want %q", k, c.Labels[k], want)
			}
		}
		sd, _ := src.Digest()
		if c.Labels[sconeimage.LabelSourceDigest] != sd.String() {
			t.Errorf("source digest label %q", c.Labels[sconeimage.LabelSourceDigest])
		}
		if len(cf.History) != 2 || cf.History[0].CreatedBy == "" {
			t.Errorf("history %+v", cf.History)
		}
	})
	files := readLayers(t, out)
	t.Run("measured config", func(t *testing.T) {
		ec, err := enclave.ParseConfig(files[sconeimage.ConfigPath[1:]])
		if err != nil {
			t.Fatal(err)
		}
		if ec.Argv[0] != "/bin/sh" || ec.Argv[2] != "echo hello" || ec.Cwd != "/var/www" || ec.UID != 33 || ec.Entrypoint != "/bin/busybox" {
			t.Errorf("measured config %+v", ec)
		}
		if hex.EncodeToString(ec.FSRoot[:]) != rep.FSRoot {
			t.Error("config FS root differs from the report")
		}
		m, err := enclave.Measure(bytes.NewReader(files[sconeimage.RunPath[1:]]), files[sconeimage.ConfigPath[1:]])
		if err != nil {
			t.Fatal(err)
		}
		ss, err := enclave.ParseSigStruct(files[sconeimage.SigStructPath[1:]])
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.Verify(); err != nil {
			t.Fatal(err)
		}
		if ss.EnclaveHash != m.MRENCLAVE || hex.EncodeToString(m.MRENCLAVE[:]) != rep.MRENCLAVE {
			t.Error("SIGSTRUCT ENCLAVEHASH does not match the recomputed measurement")
		}
	})
	t.Run("fs image", func(t *testing.T) {
		img := files[sconeimage.FSImagePath[1:]]
		r, err := fsprotect.Open(bytes.NewReader(img), int64(len(img)), fsKey)
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.ReadFile("srv/secret.txt")
		if err != nil || !bytes.Contains(b, []byte("MARKER-PLAINTEXT-7f3a9")) {
			t.Fatalf("secret.txt: %q %v", b, err)
		}
	})
	t.Run("no plaintext", func(t *testing.T) {
		for _, l := range mustLayers(t, out) {
			rc, _ := l.Uncompressed()
			b, _ := io.ReadAll(rc)
			if bytes.Contains(b, []byte("MARKER-PLAINTEXT-7f3a9")) || bytes.Contains(b, []byte("secret.txt")) {
				t.Fatal("plaintext content or file name found in an output layer")
			}
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		again, _, err := convertImage(ctx, src, opts()...)
		if err != nil {
			t.Fatal(err)
		}
		d1, _ := out.Digest()
		d2, _ := again.Digest()
		if d1 != d2 {
			t.Fatalf("same input, keys and options gave %s and %s", d1, d2)
		}
	})
	t.Run("shared base layer", func(t *testing.T) {
		other, _, err := convertImage(ctx, busyboxImage(t, file{name: "x", body: []byte("other")}), opts(WithDate(time.Unix(5, 0)))...)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := mustLayers(t, out)[0].Digest()
		b, _ := mustLayers(t, other)[0].Digest()
		if a != b {
			t.Fatalf("runtime base layer differs across conversions: %s vs %s", a, b)
		}
		e1, _ := mustLayers(t, out)[1].Digest()
		e2, _ := mustLayers(t, other)[1].Digest()
		if e1 == e2 {
			t.Fatal("enclave layers of different inputs are equal")
		}
	})
}

func TestMeasuredFieldsChangeMRENCLAVE(t *testing.T) {
	fixtures(t)
	ctx := context.Background()
	src := busyboxImage(t)
	_, base, err := convertImage(ctx, src, opts()...)
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]Option{
		"heap":     WithHeapSize(128 << 20),
		"threads":  WithMaxThreads(4),
		"console":  WithConsoleShield(true),
		"host env": WithHostEnv("TERM"),
		"cas":      WithCAS("cas.example:8443", [32]byte{1}, "web"),
		"cas id":   WithCAS("cas.example:8443", [32]byte{2}, "web"),
	} {
		t.Run(name, func(t *testing.T) {
			_, rep, err := convertImage(ctx, src, opts(o)...)
			if err != nil {
				t.Fatal(err)
			}
			if rep.MRENCLAVE == base.MRENCLAVE {
				t.Fatal("MRENCLAVE unchanged")
			}
		})
	}
}

// TestConvertCAS: WithCAS puts the CAS records into the measured config and
// the report.
func TestConvertCAS(t *testing.T) {
	fixtures(t)
	id := [32]byte{0xca, 0x5}
	_, rep, err := convertImage(context.Background(), busyboxImage(t), opts(WithCAS("[::1]:8443", id, "web-prod"))...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.CAS == nil || rep.CAS.Address != "[::1]:8443" || rep.CAS.ID != hex.EncodeToString(id[:]) || rep.CAS.Policy != "web-prod" {
		t.Fatalf("report CAS = %+v", rep.CAS)
	}
}

func TestConvertFailures(t *testing.T) {
	fixtures(t)
	ctx := context.Background()
	arm := bytes.Clone(busybox)
	arm[18], arm[19] = 0xb7, 0x00 // e_machine = EM_AARCH64
	for _, tc := range []struct {
		name  string
		img   v1.Image
		opts  []Option
		check func(error) bool
	}{
		{"no entrypoint", testImage(t, v1.Config{}, []file{{name: "bin/busybox", body: busybox, mode: 0o755}}), opts(),
			func(err error) bool { return errors.Is(err, ErrNoEntrypoint) }},
		{"entrypoint missing", testImage(t, v1.Config{Entrypoint: []string{"/nope"}}, []file{{name: "a", body: []byte("x")}}), opts(),
			func(err error) bool { return errors.Is(err, link.ErrEntrypointNotFound) }},
		{"non-ELF entrypoint", testImage(t, v1.Config{Entrypoint: []string{"/data.txt"}}, []file{{name: "data.txt", body: []byte("just text"), mode: 0o755}}), opts(),
			func(err error) bool { return errors.Is(err, link.ErrNotELF) }},
		{"arm64 entrypoint", testImage(t, v1.Config{Entrypoint: []string{"/app"}}, []file{{name: "app", body: arm, mode: 0o755}}), opts(),
			func(err error) bool { var ie *link.IncompatibleError; return errors.As(err, &ie) }},
		{"unknown user", testImage(t, v1.Config{Entrypoint: []string{"/bin/busybox"}, User: "nobody"}, []file{{name: "bin/busybox", body: busybox, mode: 0o755}}), opts(),
			func(err error) bool { return errors.Is(err, ErrUser) }},
		{"no signer", busyboxImage(t), []Option{WithFSKey(fsKey), WithRuntime(runtimeELF, runtimeELF)},
			func(err error) bool { return errors.Is(err, ErrNoSigner) }},
		{"no fs key", busyboxImage(t), []Option{WithSigner(signer), WithRuntime(runtimeELF, runtimeELF)},
			func(err error) bool { return errors.Is(err, ErrNoFSKey) }},
		{"bad CAS address", busyboxImage(t), opts(WithCAS("cas.example", [32]byte{1}, "web")),
			func(err error) bool {
				var ce *enclave.ConfigError
				return errors.As(err, &ce) && ce.Field == "cas address"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := convertImage(ctx, tc.img, tc.opts...)
			if err == nil || !tc.check(err) {
				t.Fatalf("got error %v", err)
			}
		})
	}
	t.Run("arm64 forced", func(t *testing.T) {
		img := testImage(t, v1.Config{Entrypoint: []string{"/app"}}, []file{{name: "app", body: arm, mode: 0o755}})
		_, rep, err := convertImage(ctx, img, opts(WithForce(true))...)
		if err != nil || !rep.Forced {
			t.Fatalf("--force: %v", err)
		}
	})
}

func TestConvertDir(t *testing.T) {
	fixtures(t)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	os.WriteFile(filepath.Join(root, "bin/busybox"), busybox, 0o755)
	cfg := &v1.ConfigFile{Config: v1.Config{Entrypoint: []string{"/bin/busybox", "true"}}}
	out, err := Build(context.Background(), FromDir(root, cfg, ""), opts()...)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if err := out.Image.WriteDir(dst); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{sconeimage.RunPath, sconeimage.HostPath, sconeimage.FSImagePath, sconeimage.ConfigPath, sconeimage.SigStructPath} {
		if _, err := os.Stat(filepath.Join(dst, "rootfs", p)); err != nil {
			t.Error(err)
		}
	}
	got, err := ReadConfigFile(filepath.Join(dst, "config.json"))
	if err != nil || got.Config.Labels[sconeimage.LabelMRENCLAVE] != out.Report.MRENCLAVE {
		t.Fatalf("config.json: %v", err)
	}
	if err := out.Image.WriteDir(dst); err == nil {
		t.Fatal("WriteDir over a non-empty directory succeeded")
	}
	empty := t.TempDir() // an existing empty directory (a mount point in BuildKit)
	if err := out.Image.WriteDir(empty); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 2 {
		t.Fatalf("existing dir holds %v, want rootfs and config.json only", ents)
	}
}

func mustLayers(t *testing.T, img v1.Image) []v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func readLayers(t *testing.T, img v1.Image) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, l := range mustLayers(t, img) {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(tr)
			files[h.Name] = b
		}
	}
	return files
}

// convertImage is what the CLI does for an image source: FromImage, Build,
// the OCI image, its digest in the report.
func convertImage(ctx context.Context, src v1.Image, opts ...Option) (v1.Image, *Report, error) {
	s, err := FromImage(src, "")
	if err != nil {
		return nil, nil, err
	}
	res, err := Build(ctx, s, opts...)
	if err != nil {
		return nil, nil, err
	}
	img, err := res.OCIImage()
	return img, res.Report, err
}

// TestConvertFSCompression: the default compresses the FS image's chunks
// (LZ4), WithFSCompression(none) does not; both images read back to the
// same tree, and the choice is measured (another FS root, another
// MRENCLAVE).
func TestConvertFSCompression(t *testing.T) {
	fixtures(t)
	ctx := context.Background()
	s, err := FromImage(busyboxImage(t), "")
	if err != nil {
		t.Fatal(err)
	}
	reps := map[fsprotect.Compression]*Report{}
	files := map[fsprotect.Compression][]byte{}
	for _, c := range []fsprotect.Compression{fsprotect.CompressionLZ4, fsprotect.CompressionNone, fsprotect.CompressionLZ4HC} {
		o := opts()
		if c != fsprotect.CompressionLZ4 { // LZ4: the default, no option
			o = append(o, WithFSCompression(c))
		}
		res, err := Build(ctx, s, o...)
		if err != nil {
			t.Fatal(err)
		}
		fsImg := res.Image.FSImage.Bytes()
		rd, err := fsprotect.Open(bytes.NewReader(fsImg), int64(len(fsImg)), fsKey)
		if err != nil {
			t.Fatal(err)
		}
		if rd.Compressed() != (c != fsprotect.CompressionNone) || res.Report.FSCompression != c.String() {
			t.Errorf("%v: image compressed %v, report says %q", c, rd.Compressed(), res.Report.FSCompression)
		}
		if files[c], err = rd.ReadFile("bin/busybox"); err != nil {
			t.Fatal(err)
		}
		reps[c] = res.Report
	}
	lz4, none, hc := reps[fsprotect.CompressionLZ4], reps[fsprotect.CompressionNone], reps[fsprotect.CompressionLZ4HC]
	if lz4.FSImageBytes >= none.FSImageBytes || hc.FSImageBytes > lz4.FSImageBytes {
		t.Errorf("FS image bytes: lz4 %d, lz4hc %d, none %d", lz4.FSImageBytes, hc.FSImageBytes, none.FSImageBytes)
	}
	if lz4.MRENCLAVE == none.MRENCLAVE || lz4.FSRoot == none.FSRoot {
		t.Error("the compression does not change the measured FS root")
	}
	if !bytes.Equal(files[fsprotect.CompressionLZ4], files[fsprotect.CompressionNone]) || !bytes.Equal(files[fsprotect.CompressionLZ4HC], files[fsprotect.CompressionNone]) {
		t.Error("bin/busybox reads back differently")
	}
}
