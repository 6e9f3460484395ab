/* Network addresses of the form HOST:PORT (the CAS address of config.bin,
 * docs/enclave.md): HOST is an IPv4 literal (dotted quad, no leading
 * zeros), an IPv6 literal in brackets (RFC 4291 text form, no zone) or a DNS
 * name (labels of letters, digits and '-', not starting or ending with '-',
 * 1-63 bytes each, 253 in all; a last label of digits only makes HOST an
 * IPv4 literal); PORT is 1-65535 in decimal without leading zeros. The same
 * rules as pkg/enclave.CheckCASAddress (vectors: testdata/enclave/casaddr.txt).
 * No libc, no allocation. */
#ifndef SCONE_NETADDR_H
#define SCONE_NETADDR_H

#include <stddef.h>
#include <stdint.h>

#define NETADDR_MAX 261 /* bytes of HOST:PORT */
#define NETADDR_NAME_MAX 253

enum netaddr_kind { NETADDR_IPV4 = 4, NETADDR_IPV6 = 6, NETADDR_NAME = 1 };

struct netaddr {
	int kind;			 /* enum netaddr_kind */
	uint8_t ip[16];			 /* IPV4: ip[0..3]; IPV6: ip[0..15] (network order) */
	char name[NETADDR_NAME_MAX + 1]; /* NAME: the host name, NUL-terminated */
	uint16_t port;
};

/* Parses s[0:len] (no NUL needed); 0 or -1 when it is not a valid address. */
int netaddr_parse(const char *s, size_t len, struct netaddr *out);
/* Parses an IPv4 (kind 4) or IPv6 (kind 6) literal without brackets into
 * ip; 0 or -1. */
int netaddr_parse_ip(const char *s, size_t len, int kind, uint8_t ip[16]);

#endif
