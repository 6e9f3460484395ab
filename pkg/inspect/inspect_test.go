package inspect

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/scone-build/scone-build/internal/testenclave"
	"github.com/scone-build/scone-build/pkg/convert"
	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
	"github.com/scone-build/scone-build/pkg/fsprotect"
	"github.com/scone-build/scone-build/pkg/sconeimage"
)

func sourceImage(t *testing.T, busybox []byte) v1.Image {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		body []byte
	}{{"bin/busybox", busybox}, {"data/a.txt", []byte("alpha")}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.body)), ModTime: time.Unix(1, 0)})
		tw.Write(f.body)
	}
	tw.Close()
	b := buf.Bytes()
	l, _ := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	img, _ := mutate.AppendLayers(empty.Image, l)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Entrypoint = []string{"/bin/busybox", "true"}
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func convertImage(t *testing.T, fx *testenclave.Fixtures, extra ...convert.Option) v1.Image {
	t.Helper()
	opts := append([]convert.Option{convert.WithSigner(fx.Signer), convert.WithFSKey(fx.FSKey), convert.WithRuntime(fx.Runtime, fx.Runtime)}, extra...)
	img, _, err := convertImage2(context.Background(), sourceImage(t, fx.Busybox), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// rebuild replaces one enclave or runtime file, as an attacker with write
// access to the registry could.
func rebuild(t *testing.T, im *Image, path string, mutateFile func([]byte) []byte) v1.Image {
	t.Helper()
	c := im.Contents()
	for _, f := range c.Files() {
		if f.Path == path {
			if err := c.SetFile(path, mutateFile(bytes.Clone(f.Data))); err != nil {
				t.Fatal(err)
			}
		}
	}
	img, err := c.Image()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestVerify(t *testing.T) {
	fx := testenclave.Get(t)
	ctx := context.Background()
	img := convertImage(t, fx)
	im, err := Load(img)
	if err != nil {
		t.Fatal(err)
	}
	signer := im.SigStruct.MRSIGNER()
	checks, err := im.Verify(ctx, WithFSKey(fx.FSKey), WithExpectedMRSIGNER(signer))
	if err != nil {
		t.Fatalf("clean image: %v (%+v)", err, checks)
	}
	if len(checks) != 6 {
		t.Errorf("want 6 checks, got %+v", checks)
	}
	s := im.Summarize()
	if !s.Signed || !s.FSImage.RootMatchesConfig || s.Enclave.Entrypoint != "/bin/busybox" {
		t.Errorf("summary %+v", s)
	}

	other := convertImage(t, fx, convert.WithHeapSize(128<<20))
	otherIm, _ := Load(other)
	flip := func(off int) func([]byte) []byte {
		return func(b []byte) []byte { b[off%len(b)] ^= 0x40; return b }
	}
	for _, tc := range []struct {
		name, path string
		mut        func([]byte) []byte
		check      string
	}{
		{"runtime code", sconeimage.RunPath, flip(0x1000), "measurement"},
		{"measured config", sconeimage.ConfigPath, flip(40), "measurement"},
		{"sigstruct signature", sconeimage.SigStructPath, flip(200), "sigstruct signature"},
		{"sigstruct enclave hash", sconeimage.SigStructPath, flip(960), "sigstruct signature"},
		{"fs image byte", sconeimage.FSImagePath, flip(100), "fs root"},
		{"fs image truncated", sconeimage.FSImagePath, func(b []byte) []byte { return b[:len(b)-1] }, "fs root"},
		{"config from another conversion", sconeimage.ConfigPath, func([]byte) []byte { return otherIm.ConfigBin }, "measurement"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := rebuild(t, im, tc.path, tc.mut)
			if err := validate.Image(bad); err != nil {
				t.Fatal(err)
			}
			bim, err := Load(bad)
			if err != nil {
				// A damaged config or SIGSTRUCT may already fail to parse: also a refusal.
				if errors.Is(err, enclave.ErrMalformedSigStruct) || errors.Is(err, enclave.ErrConfigVersion) {
					return
				}
				var ce *enclave.ConfigError
				if errors.As(err, &ce) {
					return
				}
				t.Fatalf("load: %v", err)
			}
			_, err = bim.Verify(ctx, WithFSKey(fx.FSKey), WithExpectedMRSIGNER(signer))
			var ce *CheckError
			if !errors.As(err, &ce) || ce.Check != tc.check || !errors.Is(err, ErrVerification) {
				t.Fatalf("want failed check %q, got %v", tc.check, err)
			}
		})
	}
	t.Run("wrong fs key", func(t *testing.T) {
		wrong, _ := fskey.Generate(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
		_, err := im.Verify(ctx, WithFSKey(wrong), WithExpectedMRSIGNER(signer))
		if !errors.Is(err, fsprotect.ErrWrongKey) {
			t.Fatalf("want ErrWrongKey, got %v", err)
		}
	})
	t.Run("wrong signer", func(t *testing.T) {
		_, err := im.Verify(ctx, WithExpectedMRSIGNER([32]byte{1}))
		var ce *CheckError
		if !errors.As(err, &ce) || ce.Check != "signer" || !errors.Is(err, fskey.ErrIdentity) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no expected signer", func(t *testing.T) {
		// Anyone can re-sign an image: verifying a signature without an
		// expected signer proves nothing, so it fails closed.
		_, err := im.Verify(ctx, WithFSKey(fx.FSKey))
		var ce *CheckError
		if !errors.As(err, &ce) || ce.Check != "signer" || !errors.Is(err, ErrNoExpectedIdentity) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("identity from a key file", func(t *testing.T) {
		svn := im.SigStruct.ISVSVN
		ok := fskey.Identity{MRSIGNER: &signer, MinISVSVN: &svn, MRENCLAVE: [][32]byte{{9}, im.SigStruct.EnclaveHash}}
		if _, err := im.Verify(ctx, WithExpectedIdentity(ok)); err != nil {
			t.Fatalf("expected identity refused: %v", err)
		}
		newer := svn + 1
		_, err := im.Verify(ctx, WithExpectedIdentity(fskey.Identity{MRSIGNER: &signer, MinISVSVN: &newer}))
		var ie *fskey.IdentityError
		if !errors.As(err, &ie) || ie.Field != "isvsvn" {
			t.Fatalf("ISVSVN below the minimum: got %v", err)
		}
		_, err = im.Verify(ctx, WithExpectedIdentity(fskey.Identity{MRENCLAVE: [][32]byte{{9}}}))
		if !errors.As(err, &ie) || ie.Field != "mrenclave" {
			t.Fatalf("unlisted MRENCLAVE: got %v", err)
		}
	})
}

func TestDetachedSigning(t *testing.T) {
	fx := testenclave.Get(t)
	ctx := context.Background()
	img, _, err := convertImage2(ctx, sourceImage(t, fx.Busybox), convert.WithUnsigned(), convert.WithFSKey(fx.FSKey), convert.WithRuntime(fx.Runtime, fx.Runtime))
	if err != nil {
		t.Fatal(err)
	}
	im, err := Load(img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := im.Verify(ctx); err == nil {
		t.Fatal("unsigned image verified")
	}
	data, err := im.SigningData()
	if err != nil || len(data) != 256 {
		t.Fatalf("signing data: %d bytes, %v", len(data), err)
	}
	k := fx.Key
	sum := sha256.Sum256(data)
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	signed, err := im.AttachSignature(sig, &k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sim, _ := Load(signed)
	if _, err := sim.Verify(ctx, WithFSKey(fx.FSKey), WithExpectedMRSIGNER(sim.SigStruct.MRSIGNER())); err != nil {
		t.Fatalf("signed image does not verify: %v", err)
	}
	if sim.SigStruct.EnclaveHash != im.SigStruct.EnclaveHash {
		t.Fatal("attaching a signature changed MRENCLAVE")
	}
	sig[10] ^= 1
	if _, err := im.AttachSignature(sig, &k.PublicKey); err == nil {
		t.Fatal("bad signature attached")
	}
}

// convertImage2 is what the CLI does for an image source: FromImage, Build,
// the OCI image, its digest in the report.
func convertImage2(ctx context.Context, src v1.Image, opts ...convert.Option) (v1.Image, *convert.Report, error) {
	s, err := convert.FromImage(src, "")
	if err != nil {
		return nil, nil, err
	}
	res, err := convert.Build(ctx, s, opts...)
	if err != nil {
		return nil, nil, err
	}
	img, err := res.OCIImage()
	return img, res.Report, err
}
