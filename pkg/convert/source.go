package convert

import (
	"context"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scone-build/scone-build/pkg/rootfs"
)

// Source is what a conversion reads: the source image config and digest,
// known up front, and the root file system, flattened when Build needs it.
// FromImage, FromDir and FromTree make one.
type Source struct {
	name   string
	digest string
	config *v1.ConfigFile
	// image or dir or tree: where the file system comes from.
	image v1.Image
	dir   string
	tree  *rootfs.Tree
}

// FromImage is a source image. name is its reference, recorded in the
// report and the output's org.opencontainers.image.base.name annotation
// ("" for none). The manifest and the config are read here.
func FromImage(img v1.Image, name string) (*Source, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading source manifest: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading source image config: %w", err)
	}
	return &Source{name: name, digest: d.String(), config: cf, image: img}, nil
}

// FromDir is a root file system directory whose image config is cfg (the
// BuildKit frontend's input, `dir:` sources). It has no digest.
func FromDir(root string, cfg *v1.ConfigFile, name string) *Source {
	return &Source{name: name, config: orEmpty(cfg), dir: root}
}

// FromTree is an already flattened root file system whose image config is
// cfg.
func FromTree(tree *rootfs.Tree, cfg *v1.ConfigFile, name string) *Source {
	return &Source{name: name, config: orEmpty(cfg), tree: tree}
}

func orEmpty(cfg *v1.ConfigFile) *v1.ConfigFile {
	if cfg == nil {
		return &v1.ConfigFile{}
	}
	return cfg
}

// Name is the source's reference ("" when unknown).
func (s *Source) Name() string { return s.name }

// Digest is the source manifest's digest ("" for a directory or a tree).
func (s *Source) Digest() string { return s.digest }

// ConfigFile is the source image config.
func (s *Source) ConfigFile() *v1.ConfigFile { return s.config }

// flatten returns the root file system. For an image, obs (nil: none) sees
// every regular file's content as the layers are read and progress the
// bytes read per layer (the pre-encryptor and the progress bar).
func (s *Source) flatten(ctx context.Context, obs rootfs.FileObserver, progress func(layer int, n int64)) (*rootfs.Tree, error) {
	switch {
	case s.tree != nil:
		return s.tree, nil
	case s.image != nil:
		opts := []rootfs.Option{rootfs.WithProgress(progress)}
		if obs != nil {
			opts = append(opts, rootfs.WithFileObserver(obs))
		}
		t, err := rootfs.Flatten(ctx, s.image, opts...)
		if err != nil {
			return nil, fmt.Errorf("flattening source image: %w", err)
		}
		return t, nil
	default:
		return rootfs.FromDir(ctx, s.dir)
	}
}

// ImageSaltSource is the salt source of the protected FS image Build makes
// of an image (docs/fsprotect.md): its layers, by uncompressed digest (the
// config's diffIDs) and digest (the manifest's), known before any layer is
// read, so that contents can be encrypted while the layers decompress. The
// same layers give the same salt (and the same FS image); any other layer
// gives another. The salt stored in the image is a keyed hash of it: the
// digests do not leak.
func ImageSaltSource(img v1.Image) ([]byte, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading source image config: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading source manifest: %w", err)
	}
	var b strings.Builder
	b.WriteString("scone-build fs salt: image layers\n")
	for _, d := range cf.RootFS.DiffIDs {
		fmt.Fprintf(&b, "diff_id %s\n", d)
	}
	for _, l := range m.Layers {
		fmt.Fprintf(&b, "layer %s %d\n", l.Digest, l.Size)
	}
	return []byte(b.String()), nil
}

// saltSource is ImageSaltSource for an image source; ok is false for a
// directory or a tree, whose salt comes from the tree itself
// (fsprotect.TreeSaltSource, a pass over the contents).
func (s *Source) saltSource() (src []byte, ok bool, err error) {
	if s.image == nil {
		return nil, false, nil
	}
	src, err = ImageSaltSource(s.image)
	return src, err == nil, err
}

// layerSizes are the compressed sizes of an image source's layers.
func (s *Source) layerSizes() (total int64, sizes []int64) {
	if s.image == nil {
		return 0, nil
	}
	ls, err := s.image.Layers()
	if err != nil {
		return 0, nil
	}
	for _, l := range ls {
		n, err := l.Size()
		if err == nil {
			total += n
		}
		sizes = append(sizes, n)
	}
	return total, sizes
}

// ReadConfigFile reads an OCI image config JSON file (the config of a
// FromDir source).
func ReadConfigFile(p string) (*v1.ConfigFile, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading image config %q: %w", p, err)
	}
	defer f.Close()
	cf, err := v1.ParseConfigFile(f)
	if err != nil {
		return nil, fmt.Errorf("parsing image config %q: %w", p, err)
	}
	return cf, nil
}
