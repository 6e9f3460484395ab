package sconeimage

import (
	"bytes"
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
)

func testContents() *Contents {
	fs := rnd(1, 200<<10+3)
	return &Contents{
		Run: rnd(2, 5000), Host: rnd(3, 300),
		FSImage:   NewBlob(fs[:100], fs[100:]),
		ConfigBin: []byte("config"), SigStruct: rnd(4, 1808),
		Config: &v1.ConfigFile{OS: "linux", Architecture: "amd64", Created: v1.Time{Time: time.Unix(1700000000, 0).UTC()},
			Config: v1.Config{Entrypoint: []string{RunPath}, Labels: map[string]string{
				LabelMRENCLAVE: "aa", LabelMRSIGNER: "bb", LabelFSRoot: "cc", LabelVersion: "v", LabelSourceDigest: "sha256:dd"}}},
		SourceName: "example:1",
	}
}

// TestImageRoundTrip: Image gives a valid OCI image that Load reads back
// into the same contents, and rebuilding the loaded contents gives the same
// digest (what attach-signature relies on).
func TestImageRoundTrip(t *testing.T) {
	c := testContents()
	img, err := c.Image()
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	for k, want := range map[string]string{LabelMRENCLAVE: "aa", LabelMRSIGNER: "bb", LabelFSRoot: "cc", LabelVersion: "v",
		LabelSourceDigest: "sha256:dd", AnnotationBaseDigest: "sha256:dd", AnnotationBaseName: "example:1"} {
		if m.Annotations[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, m.Annotations[k], want)
		}
	}
	l, err := Load(img)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(l.Run, c.Run) || !bytes.Equal(l.Host, c.Host) || !bytes.Equal(l.FSImage.Bytes(), c.FSImage.Bytes()) ||
		!bytes.Equal(l.ConfigBin, c.ConfigBin) || !bytes.Equal(l.SigStruct, c.SigStruct) || l.SourceName != c.SourceName || l.EnclaveLayer != 1 {
		t.Fatal("loaded contents differ")
	}
	again, err := l.Contents.Image()
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Fatalf("rebuilt %v, want %v", d2, d1)
	}
	t.Run("deterministic", func(t *testing.T) {
		img2, err := testContents().Image()
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := img2.Digest(); d != d1 {
			t.Fatalf("second build %v, first %v", d, d1)
		}
	})
	t.Run("prebuilt runtime layer", func(t *testing.T) {
		c := testContents()
		var err error
		if c.RuntimeLayer, err = RuntimeLayer(c.Run, c.Host); err != nil {
			t.Fatal(err)
		}
		img3, err := c.Image()
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := img3.Digest(); d != d1 {
			t.Fatalf("with a prebuilt runtime layer %v, want %v", d, d1)
		}
	})
}

func TestLoadRefusesOtherImages(t *testing.T) {
	c := testContents()
	for i, f := range c.Files() {
		t.Run("without "+f.Path, func(t *testing.T) {
			files := append(append([]File{}, c.Files()[:i]...), c.Files()[i+1:]...)
			var buf bytes.Buffer
			if err := WriteTar(&buf, files, TarOptions{}); err != nil {
				t.Fatal(err)
			}
			l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
			if err != nil {
				t.Fatal(err)
			}
			img, err := mutate.AppendLayers(empty.Image, l)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Load(img); !errors.Is(err, ErrNotConverted) {
				t.Fatalf("Load = %v, want ErrNotConverted", err)
			}
		})
	}
}

func TestWriteDir(t *testing.T) {
	c := testContents()
	dst := filepath.Join(t.TempDir(), "out")
	if err := c.WriteDir(dst); err != nil {
		t.Fatal(err)
	}
	for _, f := range c.Files() {
		b, err := os.ReadFile(filepath.Join(dst, "rootfs", f.Path))
		if err != nil || !bytes.Equal(b, f.Data) {
			t.Fatalf("%s: %v", f.Path, err)
		}
		st, _ := os.Stat(filepath.Join(dst, "rootfs", f.Path))
		if int64(st.Mode().Perm()) != f.Mode {
			t.Errorf("%s: mode %v, want %o", f.Path, st.Mode(), f.Mode)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "config.json")); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteDir(dst); !errors.Is(err, ErrDirNotEmpty) {
		t.Fatalf("WriteDir over a non-empty directory: %v, want ErrDirNotEmpty", err)
	}
	empty := t.TempDir() // an existing empty directory (a mount point in BuildKit)
	if err := c.WriteDir(empty); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 2 {
		t.Fatalf("existing dir holds %v, want rootfs and config.json only", ents)
	}
}
