package enclave

// The network shield's client side and mutual TLS in config.bin (records
// 25-27, docs/enclave.md, docs/net-shield.md); the runtime's econfig.c and
// netaddr.c apply the same rules.

func (c *Config) validateTLS() error {
	if c.TLSClientCA != "" {
		if err := checkAbs("tls client ca", c.TLSClientCA, false); err != nil {
			return err
		}
		if len(c.TLSPorts) == 0 {
			return cfgErr("tls client ca", "set without TLS ports")
		}
	}
	seen := map[string]bool{}
	for _, d := range c.TLSConnect {
		if err := CheckHostPort("tls connect", d); err != nil {
			return err
		}
		if seen[d] {
			return cfgErr("tls connect", "duplicate destination %q", d)
		}
		seen[d] = true
	}
	switch {
	case len(c.TLSConnect) > 0 && c.TLSCA == "":
		return cfgErr("tls ca", "TLS connect destinations need a CA bundle")
	case len(c.TLSConnect) == 0 && c.TLSCA != "":
		return cfgErr("tls ca", "set without TLS connect destinations")
	}
	return checkAbs("tls ca", c.TLSCA, true)
}

func (c *Config) marshalTLS(e *enc) {
	if c.TLSClientCA != "" {
		e.rec(tagTLSClientCA, []byte(c.TLSClientCA))
	}
	if len(c.TLSConnect) > 0 {
		e.rec(tagTLSConnect, listv(c.TLSConnect))
		e.rec(tagTLSCA, []byte(c.TLSCA))
	}
}
