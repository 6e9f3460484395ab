package main

import (
	"strconv"

	"github.com/spf13/pflag"

	"github.com/scone-build/scone-build/pkg/convert"
	"github.com/scone-build/scone-build/pkg/enclave"
)

// tlsFlags are convert's network shield flags (docs/net-shield.md).
type tlsFlags struct {
	ports     []string
	cert, key string
	clientCA  string
	connect   []string
	ca        string
}

func (t *tlsFlags) addTo(f *pflag.FlagSet) {
	f.StringSliceVar(&t.ports, "tls-port", nil, "TCP PORT whose accepted connections the runtime wraps in TLS (repeatable; needs --tls-cert and --tls-key)")
	f.StringVar(&t.cert, "tls-cert", "", "certificate chain (PEM, leaf first) for the --tls-port connections: a PATH inside the image")
	f.StringVar(&t.key, "tls-key", "", "private key (PEM, RSA or EC) of --tls-cert: a PATH inside the image")
	f.StringVar(&t.clientCA, "tls-client-ca", "", "require client certificates on the --tls-port connections (mutual TLS), issued by a CA of this bundle: a PATH inside the image")
	f.StringSliceVar(&t.connect, "tls-connect", nil, "HOST:PORT whose connections the application opens the runtime wraps in TLS (repeatable; needs --tls-ca)")
	f.StringVar(&t.ca, "tls-ca", "", "CA bundle (PEM) the --tls-connect servers are verified against: a PATH inside the image")
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
	for _, p := range []struct{ flag, v string }{{"--tls-cert", t.cert}, {"--tls-key", t.key}, {"--tls-client-ca", t.clientCA}, {"--tls-ca", t.ca}} {
		if p.v != "" && p.v[0] != '/' {
			return nil, usagef("%s %q: want an absolute path inside the image", p.flag, p.v)
		}
	}
	switch {
	case t.clientCA != "" && len(ports) == 0:
		return nil, usagef("--tls-client-ca needs --tls-port (the ports that require client certificates)")
	case len(t.connect) > 0 && t.ca == "":
		return nil, usagef("--tls-connect needs --tls-ca (the CA bundle inside the image the servers are verified against)")
	case len(t.connect) == 0 && t.ca != "":
		return nil, usagef("--tls-ca needs --tls-connect (the destinations it verifies)")
	}
	for _, d := range t.connect {
		if err := enclave.CheckHostPort("tls connect", d); err != nil {
			return nil, usagef("--tls-connect %q: want HOST:PORT (a DNS name, an IPv4 address or [IPv6]:PORT)", d)
		}
	}
	var opts []convert.Option
	if len(ports) > 0 {
		opts = append(opts, convert.WithTLS(ports, t.cert, t.key))
	}
	if t.clientCA != "" {
		opts = append(opts, convert.WithTLSClientCA(t.clientCA))
	}
	if len(t.connect) > 0 {
		opts = append(opts, convert.WithTLSConnect(t.connect, t.ca))
	}
	return opts, nil
}
