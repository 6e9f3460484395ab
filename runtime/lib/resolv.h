/* Host name resolution the way a container's libc does it, for the CAS
 * address (docs/cas.md, "The runtime side"): /etc/hosts first, then DNS A
 * and AAAA queries over UDP to the nameservers of /etc/resolv.conf. The
 * answers come from the host and are not trusted: the CAS ID pinned in the
 * measured config decides whether the server reached is the CAS.
 *
 * This file is the portable part (parsing and the DNS wire format, RFC
 * 1035); the runtime's attest subsystem does the I/O. No libc, no
 * allocation. */
#ifndef SCONE_RESOLV_H
#define SCONE_RESOLV_H

#include <stddef.h>
#include <stdint.h>

#define RESOLV_MAX_ADDRS 8
#define RESOLV_MAX_NS 3 /* nameservers used, as glibc's MAXNS */
#define RESOLV_QTYPE_A 1
#define RESOLV_QTYPE_AAAA 28
#define RESOLV_UDP_MAX 512 /* a UDP answer without EDNS */

struct resolv_addr {
	int family; /* 4 or 6 */
	uint8_t ip[16];
};

/* The addresses /etc/hosts (text[0:len]) gives name (ASCII case-insensitive,
 * canonical name or alias), in file order, at most max; their number. */
size_t resolv_hosts(const char *text, size_t len, const char *name, struct resolv_addr *out, size_t max);

/* The nameserver addresses of resolv.conf (text[0:len]), at most max; their
 * number. */
size_t resolv_nameservers(const char *text, size_t len, struct resolv_addr *out, size_t max);

/* A DNS query for name (RD set, one question, class IN) into buf; its
 * length, or -1 when name is not a valid host name or cap is too small. */
long resolv_query(uint16_t id, const char *name, uint16_t qtype, uint8_t *buf, size_t cap);

/* The addresses of type qtype an answer to that query gives, following
 * CNAMEs from name inside the answer, at most max: their number (0: none,
 * or a negative answer); -1 when buf is not the answer to the query (id,
 * QR, question, truncation, malformed, RCODE other than 0 or 3). */
long resolv_answer(const uint8_t *buf, size_t len, uint16_t id, const char *name, uint16_t qtype,
		   struct resolv_addr *out, size_t max);

#endif
