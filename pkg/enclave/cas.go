package enclave

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// The CAS records of config.bin (tags 22-24, docs/enclave.md): the enclave
// obtains its secrets from this CAS, whose identity it pins, under this
// policy. The runtime/lib/netaddr.c and econfig.c parsers apply the same rules
// (testdata/enclave/casaddr.txt holds the shared address vectors).

// MaxCASAddress bounds the CAS address ("host:port").
const MaxCASAddress = 261 // 253-byte name, ':', 5-digit port, brackets

// policyNameRE is the policy name rule of pkg/policy (docs/cas.md).
var policyNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// HasCAS reports whether the config names a CAS.
func (c *Config) HasCAS() bool { return c.CASAddress != "" }

// CheckCASAddress checks a CAS address: HOST:PORT where HOST is an IPv4
// literal (dotted quad, no leading zeros), an IPv6 literal in brackets (no
// zone) or a DNS name (labels of letters, digits and '-', not starting or
// ending with '-', at most 63 bytes each and 253 in all; a last label of
// digits only makes HOST an IPv4 literal), and PORT is 1-65535 in decimal without leading zeros.
func CheckCASAddress(addr string) error {
	bad := func(format string, a ...any) error {
		return cfgErr("cas address", "%q: "+format, append([]any{addr}, a...)...)
	}
	if len(addr) > MaxCASAddress {
		return bad("longer than %d bytes", MaxCASAddress)
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return bad("want HOST:PORT")
	}
	host, port := addr[:i], addr[i+1:]
	if port == "" || len(port) > 5 || (port[0] == '0') || strings.Trim(port, "0123456789") != "" {
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

// CheckPolicyName checks a CAS policy name (docs/cas.md).
func CheckPolicyName(name string) error {
	if !policyNameRE.MatchString(name) {
		return cfgErr("cas policy", "%q: want 1-63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit", name)
	}
	return nil
}

func (c *Config) validateCAS() error {
	if !c.HasCAS() {
		if c.CASPolicy != "" || c.CASID != [32]byte{} {
			return cfgErr("cas address", "a CAS ID or policy without a CAS address")
		}
		return nil
	}
	if err := CheckCASAddress(c.CASAddress); err != nil {
		return err
	}
	if c.CASID == [32]byte{} {
		return cfgErr("cas id", "zero: want the SHA-256 of the CAS's public key")
	}
	return CheckPolicyName(c.CASPolicy)
}
