package podmantest

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BusyboxPath is where Debian's busybox-static installs the static busybox.
const BusyboxPath = "/bin/busybox"

// BusyboxImage returns a one-layer image holding the host's static busybox at
// /bin/busybox (symlinked as /bin/sh) with the given entrypoint. It skips the
// test when busybox is absent or not static.
func BusyboxImage(t testing.TB, entrypoint ...string) v1.Image {
	t.Helper()
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Skipf("busybox absent (install busybox-static): %v", err)
	}
	if ef, err := elf.NewFile(bytes.NewReader(bin)); err != nil {
		t.Skipf("%s is not an ELF file: %v", BusyboxPath, err)
	} else {
		for _, prog := range ef.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Skipf("%s is not static (install busybox-static)", BusyboxPath)
			}
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(0, 0).UTC()
	hdrs := []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin)), ModTime: mt},
		{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: mt},
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: mt},
	}
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("writing busybox layer: %v", err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(bin); err != nil {
				t.Fatalf("writing busybox layer: %v", err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("writing busybox layer: %v", err)
	}
	layer, err := tarball.LayerFromReader(bytes.NewReader(buf.Bytes()), tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatalf("making busybox layer: %v", err)
	}
	img, err := mutate.AppendLayers(OCIEmpty(), layer)
	if err != nil {
		t.Fatalf("appending busybox layer: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("reading config: %v", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: mt}
	cf.Config.Entrypoint = entrypoint
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatalf("setting config: %v", err)
	}
	return img
}

// OCIEmpty returns an empty image with OCI media types: podman's oci: transport
// ignores layout entries with Docker media types ("no descriptor found").
func OCIEmpty() v1.Image {
	return mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
}

// WriteLayout writes img into a new OCI layout under t.TempDir() with the
// reference name tag and returns the layout directory.
func WriteLayout(t testing.TB, img v1.Image, tag string) string {
	t.Helper()
	if mt, err := img.MediaType(); err != nil || mt != types.OCIManifestSchema1 {
		t.Fatalf("writing layout: image media type %q (%v), want %q: podman would not find it", mt, err, types.OCIManifestSchema1)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatalf("creating layout %q: %v", dir, err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag,
	})); err != nil {
		t.Fatalf("writing image to layout %q: %v", dir, err)
	}
	return dir
}

// WriteDockerArchive writes img as a docker-archive tarball (as `docker save`
// makes) tagged ref under t.TempDir() and returns its path.
func WriteDockerArchive(t testing.TB, img v1.Image, ref string) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatalf("parsing reference %q: %v", ref, err)
	}
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatalf("writing docker archive %q: %v", path, err)
	}
	return path
}
