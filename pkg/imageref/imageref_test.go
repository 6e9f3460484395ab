package imageref

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in        string
		transport Transport
		path, tag string
		err       bool
	}{
		{in: "nginx:1.25", transport: Registry},
		{in: "localhost:5000/app:v1", transport: Registry},
		{in: "oci:/tmp/layout", transport: OCILayout, path: "/tmp/layout"},
		{in: "oci:/tmp/layout:v2", transport: OCILayout, path: "/tmp/layout", tag: "v2"},
		{in: "docker-archive:out.tar", transport: DockerArchive, path: "out.tar"},
		{in: "docker-archive:out.tar:app:v1", transport: DockerArchive, path: "out.tar", tag: "app:v1"},
		{in: "dir:/in", transport: Dir, path: "/in"},
		{in: "dir:/a:b", transport: Dir, path: "/a:b"},
		{in: "", err: true},
		{in: "oci:", err: true},
		{in: "docker-archive:x.tar:Bad Name", err: true},
		{in: "https://example.com/x", err: true},
		{in: "UPPER/case", err: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r, err := Parse(tc.in, false)
			if tc.err {
				if !errors.Is(err, ErrInvalidReference) {
					t.Fatalf("Parse(%q) = %v, %v; want ErrInvalidReference", tc.in, r, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Transport != tc.transport || r.Path != tc.path || r.Tag != tc.tag || r.String() != tc.in {
				t.Fatalf("Parse(%q) = %+v", tc.in, r)
			}
		})
	}
}

func randomImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	img := randomImage(t, "amd64")
	want, _ := img.Digest()
	for _, ref := range []string{
		host + "/app:v1",
		"oci:" + filepath.Join(dir, "layout") + ":v1",
		"oci:" + filepath.Join(dir, "layout") + ":v2",
		"docker-archive:" + filepath.Join(dir, "img.tar") + ":localhost/app:v1",
		"docker-archive:" + filepath.Join(dir, "plain.tar"),
	} {
		t.Run(ref, func(t *testing.T) {
			r, err := Parse(ref, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := Write(ctx, r, img); err != nil {
				t.Fatal(err)
			}
			got, err := Open(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(got); err != nil {
				t.Fatal(err)
			}
			if r.Transport != DockerArchive { // docker archives re-encode the manifest
				if d, _ := got.Digest(); d != want {
					t.Fatalf("digest %s, want %s", d, want)
				}
			}
		})
	}
	// Two tags in one layout: naming none is an error that lists them.
	r, _ := Parse("oci:"+filepath.Join(dir, "layout"), false)
	if _, err := Open(ctx, r); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "v2") {
		t.Fatalf("untagged open of 2-image layout: %v", err)
	}
	// No leftover temporary files next to the outputs.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func TestPlatform(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	arm := randomImage(t, "arm64")
	amd := randomImage(t, "amd64")
	armRef, _ := Parse(host+"/arm:1", false)
	if err := Write(ctx, armRef, arm); err != nil {
		t.Fatal(err)
	}
	var pe *PlatformError
	if _, err := Open(ctx, armRef); !errors.As(err, &pe) {
		t.Fatalf("arm64 image: want *PlatformError, got %v", err)
	}

	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	multiRef, _ := Parse(host+"/multi:1", false)
	if err := remote.WriteIndex(multiRef.Name, idx); err != nil {
		t.Fatal(err)
	}
	got, err := Open(ctx, multiRef)
	if err != nil {
		t.Fatal(err)
	}
	if d1, _ := got.Digest(); d1 != must(amd.Digest()) {
		t.Fatalf("index resolved to %s, want the amd64 image", d1)
	}
	if _, err := Open(ctx, multiRef, WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64"})); !errors.As(err, &pe) {
		t.Fatalf("--platform linux/arm64: want *PlatformError, got %v", err)
	}
	armOnly := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	armOnlyRef, _ := Parse(host+"/armonly:1", false)
	remote.WriteIndex(armOnlyRef.Name, armOnly)
	if _, err := Open(ctx, armOnlyRef); !errors.As(err, &pe) || !strings.Contains(err.Error(), "linux/arm64") {
		t.Fatalf("arm-only index: want *PlatformError listing linux/arm64, got %v", err)
	}
}

func TestNotFound(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, s := range []string{"oci:/nonexistent/x", "docker-archive:/nonexistent.tar", host + "/missing:1"} {
		t.Run(s, func(t *testing.T) {
			r, _ := Parse(s, false)
			_, err := Open(ctx, r)
			if !IsNotFound(err) {
				t.Fatalf("want not-found, got %v", err)
			}
		})
	}
	r, _ := Parse("dir:/x", false)
	if _, err := Open(ctx, r); !errors.Is(err, ErrNotImage) {
		t.Fatalf("dir: open: %v", err)
	}
}

func TestCorruptArchive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.tar")
	os.WriteFile(p, []byte("this is not a tar archive"), 0o644)
	r, _ := Parse("docker-archive:"+p, false)
	if _, err := Open(context.Background(), r); err == nil {
		t.Fatal("corrupt archive opened")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
