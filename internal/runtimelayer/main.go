// Command runtimelayer builds the runtime base layer of converted images
// once, at build time (`make runtime`), from the two runtime binaries, and
// writes it next to them for pkg/runtimebin to embed: the compressed layer
// (runtime-layer.tar.gz) and a manifest (runtime-layer.json) with the
// binaries' SHA-256, the layer's digest and diff ID. Conversions then use
// it as it is instead of compressing and hashing the same bytes every time
// (sconeimage.RuntimeLayer builds the identical layer: TestPrebuiltLayer).
//
// Usage: runtimelayer DIR (DIR holds scone-run and scone-host).
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/scone-build/scone-build/pkg/runtimebin"
	"github.com/scone-build/scone-build/pkg/sconeimage"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: runtimelayer DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "runtimelayer:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	r, err := os.ReadFile(filepath.Join(dir, runtimebin.Run))
	if err != nil {
		return err
	}
	h, err := os.ReadFile(filepath.Join(dir, runtimebin.Host))
	if err != nil {
		return err
	}
	l, err := sconeimage.RuntimeLayer(r, h)
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	comp, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	digest, err := l.Digest()
	if err != nil {
		return err
	}
	diffID, err := l.DiffID()
	if err != nil {
		return err
	}
	m := runtimebin.NewManifest(r, h, digest.String(), diffID.String())
	mj, err := m.Marshal()
	if err != nil {
		return err
	}
	// Written under temporary names and renamed: a build interrupted
	// half-way leaves the old pair or none, never a mismatched one (the
	// manifest's hashes catch that too).
	for _, f := range []struct {
		name string
		data []byte
	}{{runtimebin.LayerFile, comp}, {runtimebin.ManifestFile, mj}} {
		tmp := filepath.Join(dir, f.name+".tmp")
		if err := os.WriteFile(tmp, f.data, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dir, f.name)); err != nil {
			return err
		}
	}
	return nil
}
