package enclave

import (
	"net/netip"
	"strconv"
	"strings"
)

// The network shield's client side and mutual TLS in config.bin (records
// 25-27, docs/enclave.md, docs/net-shield.md); the runtime's econfig.c and
// netaddr.c apply the same rules.

// MaxHostPort bounds a "host:port" destination.
const MaxHostPort = 261 // 253-byte name, ':', 5-digit port, brackets

// CheckHostPort checks a network destination HOST:PORT: HOST is an IPv4
// literal (dotted quad, no leading zeros), an IPv6 literal in brackets (no
// zone) or a DNS name (labels of letters, digits and '-', not starting or
// ending with '-', at most 63 bytes each and 253 in all; a last label of
// digits only makes HOST an IPv4 literal), PORT is 1-65535 in decimal
// without leading zeros (testdata/enclave/casaddr.txt holds the vectors
// both sides pass). field names the config field in errors.
func CheckHostPort(field, addr string) error {
	bad := func(format string, a ...any) error {
		return cfgErr(field, "%q: "+format, append([]any{addr}, a...)...)
	}
	if len(addr) > MaxHostPort {
		return bad("longer than %d bytes", MaxHostPort)
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return bad("want HOST:PORT")
	}
	host, port := addr[:i], addr[i+1:]
	if port == "" || len(port) > 5 || port[0] == '0' || strings.Trim(port, "0123456789") != "" {
		return bad("port %q: want 1-65535", port)
	}
	if p, _ := strconv.Atoi(port); p < 1 || p > 65535 {
		return bad("port %q: want 1-65535", port)
	}
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return bad("unterminated '[' of an IPv6 literal")
		}
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return bad("%s is not an IPv6 literal (without zone)", host)
		}
		return nil
	}
	if strings.ContainsAny(host, "[]:") {
		return bad("an IPv6 literal goes in brackets: [ADDR]:PORT")
	}
	if host == "" {
		return bad("no host")
	}
	last := host[strings.LastIndexByte(host, '.')+1:]
	if strings.Trim(last, "0123456789") == "" {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is4() {
			return bad("%s is not an IPv4 literal", host)
		}
		return nil
	}
	if len(host) > 253 {
		return bad("host name longer than 253 bytes")
	}
	for _, l := range strings.Split(host, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' ||
			strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return bad("host name label %q: want 1-63 letters, digits and '-', not starting or ending with '-'", l)
		}
	}
	return nil
}

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

// parseOptional parses one optional record (its tag is known and in order).
func (c *Config) parseOptional(tag uint32, v []byte) error {
	var err error
	switch tag {
	case tagTLSClientCA:
		c.TLSClientCA = string(v)
		if c.TLSClientCA == "" {
			err = cfgErr("tls client ca", "empty record")
		}
	case tagTLSConnect:
		c.TLSConnect, err = parseList("tls connect", v)
		if err == nil && len(c.TLSConnect) == 0 {
			err = cfgErr("tls connect", "empty record")
		}
	case tagTLSCA:
		c.TLSCA = string(v)
		if c.TLSCA == "" {
			err = cfgErr("tls ca", "empty record")
		}
	}
	return err
}
