package convert

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scone-build/scone-build/pkg/rootfs"
)

// ConvertDir converts a root file system directory whose image config is
// src (the BuildKit frontend's input).
func ConvertDir(ctx context.Context, root string, src *v1.ConfigFile, opts ...Option) (*Output, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	tree, err := rootfs.FromDir(ctx, root)
	if err != nil {
		return nil, err
	}
	return convertTree(ctx, tree, src, o)
}

// ReadConfigFile reads an OCI image config JSON file.
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

// WriteDir writes a conversion's output as DIR/rootfs (the converted root
// file system) and DIR/config.json (the output image config). DIR must not
// exist or be empty (it may be a mount point). Everything is written into a
// temporary directory first and renamed into place, so a failure leaves
// nothing behind.
func WriteDir(out *Output, dir string) error {
	exists := false
	if ents, err := os.ReadDir(dir); err == nil {
		if len(ents) > 0 {
			return fmt.Errorf("writing output directory %q: exists and is not empty", dir)
		}
		exists = true
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if exists {
		parent = dir // a mount point cannot be replaced: fill it in place
	}
	tmp, err := os.MkdirTemp(parent, ".scone-out-*")
	if err != nil {
		return fmt.Errorf("writing output directory %q: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	files := append(append([]File{}, out.RuntimeFiles...), out.EnclaveFiles...)
	for _, f := range files {
		p := filepath.Join(tmp, "rootfs", filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("writing %q: %w", f.Path, err)
		}
		if err := os.WriteFile(p, f.Data, os.FileMode(f.Mode)); err != nil {
			return fmt.Errorf("writing %q: %w", f.Path, err)
		}
		if err := os.Chmod(p, os.FileMode(f.Mode)); err != nil {
			return fmt.Errorf("writing %q: %w", f.Path, err)
		}
	}
	cfg, err := json.MarshalIndent(out.Config, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding image config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "config.json"), append(cfg, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing image config: %w", err)
	}
	if exists {
		// rootfs first: a config.json is only ever next to a complete rootfs.
		for _, n := range []string{"rootfs", "config.json"} {
			if err := os.Rename(filepath.Join(tmp, n), filepath.Join(dir, n)); err != nil {
				os.RemoveAll(filepath.Join(dir, "rootfs"))
				return fmt.Errorf("writing output directory %q: %w", dir, err)
			}
		}
		return nil
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("writing output directory %q: %w", dir, err)
	}
	return nil
}
