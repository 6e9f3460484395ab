package main

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestLayoutAndPush(t *testing.T) {
	dir := t.TempDir()
	fe, sb := filepath.Join(dir, "fe"), filepath.Join(dir, "sb")
	os.WriteFile(fe, []byte("frontend"), 0o755)
	os.WriteFile(sb, []byte("scone-build"), 0o755)
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/scone-frontend:test"
	out := filepath.Join(dir, "layout")

	var stdout, stderr bytes.Buffer
	if err := run([]string{"--frontend", fe, "--scone-build", sb, "--out", out, "--push", ref, "--insecure"}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	dgst := strings.TrimSpace(stdout.String())

	p, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != dgst ||
		im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "scone-frontend" {
		t.Fatalf("layout index %+v (%v), want one image %s tagged scone-frontend", im, err, dgst)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("pulling the pushed image: %v", err)
	}
	if d, _ := img.Digest(); d.String() != dgst {
		t.Fatalf("pushed digest %s, layout digest %s", d, dgst)
	}

	// A non-empty --out is refused rather than mixed into.
	if err := run([]string{"--frontend", fe, "--scone-build", sb, "--out", out}, &stdout, &stderr); err == nil {
		t.Fatal("writing into a non-empty layout succeeded")
	}
	if err := run([]string{"--frontend", fe}, &stdout, &stderr); err == nil {
		t.Fatal("no --out and no --push accepted")
	}
}
