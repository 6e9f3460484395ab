package convert

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/rootfs"
)

// ErrTLSFile: a certificate, key or CA file named for the network shield is
// not a regular file of the image.
var ErrTLSFile = errors.New("TLS file not in the image")

// tlsOptions configure the network shield (docs/net-shield.md).
type tlsOptions struct {
	ports     []uint16
	cert, key string
}

// WithTLS makes the connections the application accepts on these ports TLS
// (the network shield): the certificate chain (PEM, leaf first) and its
// private key are read at start-up from these paths inside the image (the
// protected FS), never from the host.
func WithTLS(ports []uint16, certPath, keyPath string) Option {
	return func(o *options) {
		o.tls.ports = append(o.tls.ports, ports...)
		o.tls.cert, o.tls.key = certPath, keyPath
	}
}

// applyTLS fills the network shield's fields of the measured config.
func applyTLS(ec *enclave.Config, o *options) {
	ports := slices.Clone(o.tls.ports)
	slices.Sort(ports)
	ec.TLSPorts = slices.Compact(ports)
	if len(ec.TLSPorts) > 0 {
		ec.TLSCert, ec.TLSKey = o.tls.cert, o.tls.key
	}
}

// checkTLSFiles: every file the network shield reads at start-up is a
// regular file of the image (symlinks followed), so that a typo fails the
// conversion and not the container's start.
func checkTLSFiles(tree *rootfs.Tree, ec *enclave.Config) error {
	for _, f := range []struct{ what, path string }{{"--tls-cert", ec.TLSCert}, {"--tls-key", ec.TLSKey}} {
		if f.path == "" {
			continue
		}
		fi, err := tree.Stat(strings.TrimPrefix(f.path, "/"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("checking TLS file %q (%s): %w", f.path, f.what, err)
		}
		if err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("checking TLS file %q (%s): %w", f.path, f.what, ErrTLSFile)
		}
	}
	return nil
}
