package imageref

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// AnnotationRefName is the OCI layout annotation that carries a tag.
const AnnotationRefName = "org.opencontainers.image.ref.name"

// Open returns the image a reference names. Layers are read lazily.
func Open(ctx context.Context, ref Ref, opts ...Option) (v1.Image, error) {
	o, err := makeOptions(ctx, opts)
	if err != nil {
		return nil, err
	}
	var img v1.Image
	switch ref.Transport {
	case Registry:
		img, err = openRemote(ref, o)
	case OCILayout:
		img, err = openLayout(ref, o)
	case DockerArchive:
		img, err = openArchive(ref)
	case Dir:
		return nil, fmt.Errorf("opening %q: %w: a dir: reference is a root file system; convert it with --source-config", ref.raw, ErrNotImage)
	default:
		return nil, fmt.Errorf("opening %q: %w", ref.raw, ErrInvalidReference)
	}
	if err != nil {
		return nil, fmt.Errorf("opening image %q: %w", ref.raw, err)
	}
	if err := checkPlatform(img, o.platform); err != nil {
		return nil, fmt.Errorf("opening image %q: %w", ref.raw, err)
	}
	return img, nil
}

func openRemote(ref Ref, o *options) (v1.Image, error) {
	desc, err := remote.Get(ref.Name, o.remote()...)
	if err != nil {
		return nil, err
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		return pickPlatform(idx, o.platform, 0)
	}
	return desc.Image()
}

func openLayout(ref Ref, o *options) (v1.Image, error) {
	if _, err := os.Stat(ref.Path); err != nil {
		return nil, fmt.Errorf("%w: no OCI layout at %q", ErrNotFound, ref.Path)
	}
	idx, err := layout.ImageIndexFromPath(ref.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: reading OCI layout %q: %v", ErrCorrupt, ref.Path, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%w: reading OCI layout index %q: %v", ErrCorrupt, ref.Path, err)
	}
	var chosen *v1.Descriptor
	var tags []string
	for i := range im.Manifests {
		d := &im.Manifests[i]
		t := d.Annotations[AnnotationRefName]
		if t != "" {
			tags = append(tags, t)
		}
		if ref.Tag != "" && t == ref.Tag {
			chosen = d
		}
	}
	switch {
	case ref.Tag != "" && chosen == nil:
		return nil, fmt.Errorf("%w: no tag %q in OCI layout %q (tags: %v)", ErrNotFound, ref.Tag, ref.Path, tags)
	case ref.Tag == "" && len(im.Manifests) == 1:
		chosen = &im.Manifests[0]
	case ref.Tag == "" && len(im.Manifests) == 0:
		return nil, fmt.Errorf("%w: OCI layout %q holds no image", ErrNotFound, ref.Path)
	case ref.Tag == "":
		return nil, fmt.Errorf("%w: OCI layout %q holds %d images; name one as oci:%s:TAG (tags: %v)", ErrNotFound, ref.Path, len(im.Manifests), ref.Path, tags)
	}
	if chosen.MediaType.IsIndex() {
		child, err := idx.ImageIndex(chosen.Digest)
		if err != nil {
			return nil, err
		}
		return pickPlatform(child, o.platform, 0)
	}
	if !chosen.MediaType.IsImage() {
		return nil, fmt.Errorf("%w: OCI layout %q entry %s has media type %q", ErrNotImage, ref.Path, chosen.Digest, chosen.MediaType)
	}
	return idx.Image(chosen.Digest)
}

func openArchive(ref Ref) (v1.Image, error) {
	if _, err := os.Stat(ref.Path); err != nil {
		return nil, fmt.Errorf("%w: no docker archive at %q", ErrNotFound, ref.Path)
	}
	var tag *name.Tag
	if ref.Tag != "" {
		t, err := name.NewTag(ref.Tag)
		if err != nil {
			return nil, err
		}
		tag = &t
	}
	img, err := tarball.ImageFromPath(ref.Path, tag)
	if err != nil {
		return nil, fmt.Errorf("%w: reading docker archive %q: %v", ErrCorrupt, ref.Path, err)
	}
	// Force the manifest now so that a corrupt archive fails here, not later.
	if _, err := img.Manifest(); err != nil {
		return nil, fmt.Errorf("%w: reading docker archive %q: %v", ErrCorrupt, ref.Path, err)
	}
	return img, nil
}

func pickPlatform(idx v1.ImageIndex, want v1.Platform, depth int) (v1.Image, error) {
	if depth > 4 {
		return nil, errors.New("image index nesting too deep")
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var avail []string
	for _, d := range im.Manifests {
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			if img, err := pickPlatform(child, want, depth+1); err == nil {
				return img, nil
			}
			continue
		}
		if d.Platform == nil {
			continue
		}
		avail = append(avail, d.Platform.String())
		if d.Platform.OS == want.OS && d.Platform.Architecture == want.Architecture &&
			(want.Variant == "" || d.Platform.Variant == want.Variant) {
			return idx.Image(d.Digest)
		}
	}
	if len(avail) == 0 && len(im.Manifests) == 1 && im.Manifests[0].MediaType.IsImage() {
		// A one-image index without platform data: check the config instead.
		return idx.Image(im.Manifests[0].Digest)
	}
	return nil, &PlatformError{Want: want.String(), Available: avail, Reason: "not in the image index"}
}

func checkPlatform(img v1.Image, want v1.Platform) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading image config: %w", err)
	}
	if cf.Architecture == "" && cf.OS == "" {
		return nil
	}
	if cf.Architecture != want.Architecture || (cf.OS != "" && cf.OS != want.OS) {
		have := cf.OS + "/" + cf.Architecture
		return &PlatformError{Want: want.String(), Available: []string{have},
			Reason: fmt.Sprintf("the image is built for %s; SGX enclaves exist only on linux/amd64: rebuild or pull the image for linux/amd64", have)}
	}
	return nil
}
