package main

import (
	"strconv"

	"github.com/spf13/pflag"

	"github.com/scone-build/scone-build/pkg/convert"
)

// tlsFlags are convert's network shield flags (docs/net-shield.md).
type tlsFlags struct {
	ports     []string
	cert, key string
}

func (t *tlsFlags) addTo(f *pflag.FlagSet) {
	f.StringSliceVar(&t.ports, "tls-port", nil, "TCP PORT whose accepted connections the runtime wraps in TLS (repeatable; needs --tls-cert and --tls-key)")
	f.StringVar(&t.cert, "tls-cert", "", "certificate chain (PEM, leaf first) for the --tls-port connections: a PATH inside the image")
	f.StringVar(&t.key, "tls-key", "", "private key (PEM, RSA or EC) of --tls-cert: a PATH inside the image")
}

func (t *tlsFlags) options() ([]convert.Option, error) {
	var ports []uint16
	for _, p := range t.ports {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return nil, usagef("--tls-port %q: want a TCP port 1-65535", p)
		}
		ports = append(ports, uint16(n))
	}
	switch {
	case len(ports) == 0 && (t.cert != "" || t.key != ""):
		return nil, usagef("--tls-cert and --tls-key need --tls-port (the ports they serve)")
	case len(ports) > 0 && (t.cert == "" || t.key == ""):
		return nil, usagef("--tls-port needs --tls-cert and --tls-key (paths inside the image)")
	}
	for _, p := range []struct{ flag, v string }{{"--tls-cert", t.cert}, {"--tls-key", t.key}} {
		if p.v != "" && p.v[0] != '/' {
			return nil, usagef("%s %q: want an absolute path inside the image", p.flag, p.v)
		}
	}
	if len(ports) == 0 {
		return nil, nil
	}
	return []convert.Option{convert.WithTLS(ports, t.cert, t.key)}, nil
}
