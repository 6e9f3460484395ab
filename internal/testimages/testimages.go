package testimages

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/scone-build/scone-build/internal/podmantest"
)

// Tag is the reference name of every image in its layout
// (podman pull oci:DIR:latest).
const Tag = "latest"

// HashFile is the file in a layout holding the hash of the recipe it was
// built from; its presence marks a complete build.
const HashFile = ".scone-recipe-hash"

// Names lists the images images/build.sh builds, cheapest first.
var Names = []string{"busybox", "musl", "gohttp", "debian", "nginx", "redis", "memcached", "sqlite", "python3", "apache2", "perl", "shell", "lua", "git", "openssl", "curl", "postgres", "node", "mariadb", "openjdk"}

// CacheDir returns the image cache: $SCONE_IMAGE_CACHE, else
// $HOME/.cache/scone-build/images (the Makefile's default).
func CacheDir() (string, error) {
	if d := os.Getenv("SCONE_IMAGE_CACHE"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("locating the image cache: %w", err)
	}
	return filepath.Join(home, ".cache", "scone-build", "images"), nil
}

// ErrAbsent reports an image that has not been built.
var ErrAbsent = errors.New("image absent")

// Path returns the OCI layout directory of the image name, or an error
// wrapping ErrAbsent when it has not been built (completely).
func Path(name string) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, name)
	for _, f := range []string{"index.json", "oci-layout", HashFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("locating image %q in %q: %w", name, cache, ErrAbsent)
		} else if err != nil {
			return "", fmt.Errorf("locating image %q: %w", name, err)
		}
	}
	return dir, nil
}

// BuildCommand is the command that builds the image name.
func BuildCommand(name string) string {
	return fmt.Sprintf("make images IMAGES=%q", name)
}

// Layout returns the OCI layout directory of the image name, or skips the
// test saying how to build it.
func Layout(t testing.TB, name string) string {
	t.Helper()
	dir, err := Path(name)
	if errors.Is(err, ErrAbsent) {
		t.Skipf("image %s absent: run `make images` (or `%s`): %v", name, BuildCommand(name), err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Image returns the image name from its layout, or skips the test saying how
// to build it.
func Image(t testing.TB, name string) v1.Image {
	t.Helper()
	img, err := Load(Layout(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Pin keeps the image name in podman's storage (podmantest.Keep, one
// version per image: its digest) so that the tests' pulls of it, and of
// images made from it, find its layers there instead of copying them again.
// It returns the image, as Image does.
func Pin(t testing.TB, p *podmantest.Podman, name string) v1.Image {
	t.Helper()
	img := Image(t, name)
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	p.Keep(t, Layout(t, name), Tag, name, d.Hex[:16])
	return img
}

// Load reads the image tagged Tag from the OCI layout dir.
func Load(dir string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("opening layout %q: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading index of %q: %w", dir, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index of %q: %w", dir, err)
	}
	for _, d := range m.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == Tag {
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading image %s in %q: %w", d.Digest, dir, err)
			}
			return img, nil
		}
	}
	return nil, fmt.Errorf("reading layout %q: no image tagged %q", dir, Tag)
}
