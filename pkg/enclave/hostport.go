package enclave

import (
	"net/netip"
	"strconv"
	"strings"
)

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
