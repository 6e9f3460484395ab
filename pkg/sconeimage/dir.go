package sconeimage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrDirNotEmpty: WriteDir's directory exists and holds files, which it
// never overwrites.
var ErrDirNotEmpty = errors.New("exists and is not empty")

// WriteDir writes the converted image as DIR/rootfs (its root file system:
// the five files) and DIR/config.json (its image config). DIR must not
// exist or be empty (it may be a mount point). Everything is written into a
// temporary directory first and renamed into place, so a failure leaves
// nothing behind.
func (c *Contents) WriteDir(dir string) error {
	exists := false
	if ents, err := os.ReadDir(dir); err == nil {
		if len(ents) > 0 {
			return fmt.Errorf("writing output directory %q: %w", dir, ErrDirNotEmpty)
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
	for _, f := range c.Files() {
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
	cfg, err := json.MarshalIndent(c.Config, "", "  ")
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
