package imageref

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// DefaultArchiveTag names the image in a docker archive written without a
// NAME:TAG (podman load shows it under this name).
const DefaultArchiveTag = "localhost/scone-build/converted:latest"

// Write stores img at the destination ref. dir: destinations are written by
// the conversion pipeline itself (they hold a root file system, not layers).
func Write(ctx context.Context, ref Ref, img v1.Image, opts ...Option) error {
	o, err := makeOptions(ctx, opts)
	if err != nil {
		return err
	}
	switch ref.Transport {
	case Registry:
		err = remote.Write(ref.Name, img, o.remote()...)
	case OCILayout:
		err = writeLayout(ref, img)
	case DockerArchive:
		err = writeArchive(ref, img)
	case Dir:
		err = fmt.Errorf("%w: a dir: destination receives a root file system, not an image", ErrNotImage)
	default:
		err = ErrInvalidReference
	}
	if err != nil {
		return fmt.Errorf("writing image to %q: %w", ref.raw, err)
	}
	return nil
}

// writeLayout adds img to the layout at ref.Path (creating it), replacing an
// image with the same tag. Blobs are content-addressed, so a failure before
// the index is replaced leaves the layout's index as it was; a new layout is
// built in a temporary directory and renamed into place.
func writeLayout(ref Ref, img v1.Image) error {
	var anns map[string]string
	if ref.Tag != "" {
		anns = map[string]string{AnnotationRefName: ref.Tag}
	}
	if _, err := os.Stat(filepath.Join(ref.Path, "index.json")); err == nil {
		p, err := layout.FromPath(ref.Path)
		if err != nil {
			return err
		}
		if ref.Tag != "" {
			return p.ReplaceImage(img, match.Annotation(AnnotationRefName, ref.Tag), layout.WithAnnotations(anns))
		}
		return p.AppendImage(img)
	}
	if entries, err := os.ReadDir(ref.Path); err == nil && len(entries) > 0 {
		return fmt.Errorf("%q exists, is not empty and is not an OCI layout; choose a new directory", ref.Path)
	}
	parent := filepath.Dir(filepath.Clean(ref.Path))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".scone-layout-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	var lo []layout.Option
	if anns != nil {
		lo = append(lo, layout.WithAnnotations(anns))
	}
	if err := p.AppendImage(img, lo...); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	_ = os.Remove(ref.Path) // an existing empty directory
	return os.Rename(tmp, ref.Path)
}

func writeArchive(ref Ref, img v1.Image) error {
	t := ref.Tag
	if t == "" {
		t = DefaultArchiveTag
	}
	tag, err := name.NewTag(t)
	if err != nil {
		return err
	}
	dir := filepath.Dir(ref.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(ref.Path)+".tmp-*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := tarball.Write(tag, img, f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), ref.Path); err != nil {
		return err
	}
	ok = true
	return nil
}

// IsNotFound reports whether err says that an image does not exist (a
// missing layout, archive or tag, or a registry's 404).
func IsNotFound(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}
