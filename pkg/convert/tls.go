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
	clientCA  string
	connect   []string
	ca        string
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

// WithTLSClientCA makes the TLS ports require client certificates (mutual
// TLS) that chain to a CA of this bundle (PEM, a path inside the image).
func WithTLSClientCA(path string) Option { return func(o *options) { o.tls.clientCA = path } }

// WithTLSConnect wraps the application's outgoing connections to these
// destinations ("host:port"; a name matches every address on its port, see
// docs/net-shield.md) in TLS; the servers are verified against the CA
// bundle at caPath (PEM, a path inside the image).
func WithTLSConnect(dests []string, caPath string) Option {
	return func(o *options) {
		o.tls.connect = append(o.tls.connect, dests...)
		o.tls.ca = caPath
	}
}

// applyTLS fills the network shield's fields of the measured config.
func applyTLS(ec *enclave.Config, o *options) {
	ports := slices.Clone(o.tls.ports)
	slices.Sort(ports)
	ec.TLSPorts = slices.Compact(ports)
	if len(ec.TLSPorts) > 0 {
		ec.TLSCert, ec.TLSKey, ec.TLSClientCA = o.tls.cert, o.tls.key, o.tls.clientCA
	}
	ec.TLSConnect = sortedUnique(o.tls.connect)
	if len(ec.TLSConnect) > 0 {
		ec.TLSCA = o.tls.ca
	}
}

// checkTLSFiles: every file the network shield reads at start-up is a
// regular file of the image (symlinks followed), so that a typo fails the
// conversion and not the container's start. With a CAS, a path the image
// does not have may be one the policy places (grants.files, e.g. a
// certificate the CAS issues): the runtime places those before the shields
// read them, and refuses to start when the file is still missing.
func checkTLSFiles(tree *rootfs.Tree, ec *enclave.Config) error {
	for _, f := range []struct{ what, path string }{{"--tls-cert", ec.TLSCert}, {"--tls-key", ec.TLSKey},
		{"--tls-client-ca", ec.TLSClientCA}, {"--tls-ca", ec.TLSCA}} {
		if f.path == "" {
			continue
		}
		fi, err := tree.Stat(strings.TrimPrefix(f.path, "/"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("checking TLS file %q (%s): %w", f.path, f.what, err)
		}
		if errors.Is(err, fs.ErrNotExist) && ec.HasCAS() {
			continue
		}
		if err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("checking TLS file %q (%s): %w", f.path, f.what, ErrTLSFile)
		}
	}
	return nil
}
