package frontend

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ImageFile is one file of the frontend image.
type ImageFile struct {
	Path string // absolute path in the image, e.g. /bin/scone-frontend
	Mode int64  // permission bits
	Data []byte
}

// Image builds the frontend image: one layer with the given files (parent
// directories created), entrypoint /bin/scone-frontend. The result depends only
// on the files and created: entries are sorted, owned by root and carry the
// created time, and the config holds no host-specific value.
func Image(files []ImageFile, created time.Time, platform v1.Platform) (v1.Image, error) {
	layerTar, err := imageTar(files, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("creating frontend image layer: %w", err)
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "scone-build frontend image: /bin/scone-frontend, /bin/scone-build",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("appending frontend image layer: %w", err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading frontend image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.OS = platform.OS
	cf.Architecture = platform.Architecture
	cf.Variant = platform.Variant
	cf.Config.Entrypoint = []string{FrontendPath}
	cf.Config.Env = []string{"PATH=/bin"}
	cf.Config.Labels = map[string]string{
		"moby.buildkit.frontend.network.none": "true",
		"moby.buildkit.frontend.caps":         "moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts",
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting frontend image config: %w", err)
	}
	return img, nil
}

// DefaultPlatform is the platform of the running binary.
func DefaultPlatform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

func imageTar(files []ImageFile, created time.Time) ([]byte, error) {
	dirs := map[string]bool{}
	for _, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return nil, fmt.Errorf("adding frontend image file %q: not a clean absolute path", f.Path)
		}
		for d := path.Dir(f.Path); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	type entry struct {
		name string
		hdr  *tar.Header
		data []byte
	}
	var entries []entry
	for d := range dirs {
		name := strings.TrimPrefix(d, "/") + "/"
		entries = append(entries, entry{name, &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: created}, nil})
	}
	for _, f := range files {
		name := strings.TrimPrefix(f.Path, "/")
		entries = append(entries, entry{name, &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: f.Mode, Size: int64(len(f.Data)), ModTime: created}, f.Data})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		e.hdr.Format = tar.FormatPAX
		e.hdr.Uname, e.hdr.Gname = "root", "root"
		if err := tw.WriteHeader(e.hdr); err != nil {
			return nil, fmt.Errorf("writing frontend image entry %q: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("writing frontend image entry %q: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing frontend image layer: %w", err)
	}
	return buf.Bytes(), nil
}
