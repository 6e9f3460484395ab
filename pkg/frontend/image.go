package frontend

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/scone-build/scone-build/pkg/sconeimage"
)

// Image builds the frontend image: one layer with the given files (parent
// directories created), entrypoint /bin/scone-frontend. The result depends only
// on the files and created: entries are sorted, owned by root and carry the
// created time, and the config holds no host-specific value.
func Image(files []sconeimage.File, created time.Time, platform v1.Platform) (v1.Image, error) {
	var buf bytes.Buffer
	if err := sconeimage.WriteTar(&buf, files, sconeimage.TarOptions{ModTime: created, Owner: "root"}); err != nil {
		return nil, fmt.Errorf("building frontend image layer: %w", err)
	}
	layerTar := buf.Bytes()
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
