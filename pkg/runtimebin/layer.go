package runtimebin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
)

// Files of the prebuilt runtime base layer (internal/runtimelayer writes
// them at build time, next to the binaries).
const (
	LayerFile    = "runtime-layer.tar.gz"
	ManifestFile = "runtime-layer.json"
)

// ErrNoLayer is returned by Layer when no prebuilt layer matching the
// embedded binaries is embedded; callers then build the layer themselves.
var ErrNoLayer = errors.New("no prebuilt runtime layer for these runtime binaries")

// Manifest describes the prebuilt layer: the binaries it holds (their
// SHA-256, hex) and the layer's digest and diff ID ("sha256:...").
type Manifest struct {
	RunSHA256  string `json:"scone_run_sha256"`
	HostSHA256 string `json:"scone_host_sha256"`
	Digest     string `json:"digest"`
	DiffID     string `json:"diff_id"`
}

// NewManifest describes a layer built from run and host.
func NewManifest(run, host []byte, digest, diffID string) Manifest {
	return Manifest{RunSHA256: hexSum(run), HostSHA256: hexSum(host), Digest: digest, DiffID: diffID}
}

// Marshal is the manifest file's content.
func (m Manifest) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Layer returns the prebuilt runtime layer (gzip-compressed tar) and its
// manifest when both are embedded and the manifest names exactly the
// embedded binaries run and host; else an error wrapping ErrNoLayer.
func Layer(run, host []byte) ([]byte, Manifest, error) {
	var m Manifest
	mj, err := fs.ReadFile(files, "bin/"+ManifestFile)
	if err != nil {
		return nil, m, fmt.Errorf("reading %s: %w", ManifestFile, errors.Join(ErrNoLayer, err))
	}
	if err := json.Unmarshal(mj, &m); err != nil {
		return nil, m, fmt.Errorf("reading %s: %w", ManifestFile, errors.Join(ErrNoLayer, err))
	}
	if m.RunSHA256 != hexSum(run) || m.HostSHA256 != hexSum(host) {
		return nil, m, fmt.Errorf("reading %s: built from other binaries: %w", ManifestFile, ErrNoLayer)
	}
	comp, err := fs.ReadFile(files, "bin/"+LayerFile)
	if err != nil {
		return nil, m, fmt.Errorf("reading %s: %w", LayerFile, errors.Join(ErrNoLayer, err))
	}
	return comp, m, nil
}
