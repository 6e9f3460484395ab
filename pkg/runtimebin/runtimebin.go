package runtimebin

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
)

//go:embed all:bin
var files embed.FS

// ErrNotBuilt is returned when scone-build was compiled without the runtime
// binaries (a plain `go build` instead of `make build`).
var ErrNotBuilt = errors.New("runtime binaries are not embedded in this scone-build")

// Names of the runtime binaries.
const (
	Run  = "scone-run"
	Host = "scone-host"
)

// Binary returns the contents of the named runtime binary.
func Binary(name string) ([]byte, error) {
	b, err := fs.ReadFile(files, "bin/"+name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading runtime binary %q: %w", name, ErrNotBuilt)
	}
	if err != nil {
		return nil, fmt.Errorf("reading runtime binary %q: %w", name, err)
	}
	return b, nil
}
