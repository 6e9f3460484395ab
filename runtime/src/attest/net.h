/* The attest subsystem's network I/O (runtime/src/attest): resolving the
 * CAS address and TCP connections, through the transport (host_syscall)
 * like every host call; every length the host returns is checked. */
#ifndef SCONE_ATTEST_NET_H
#define SCONE_ATTEST_NET_H

#include <stddef.h>
#include <stdint.h>
#include "netaddr.h"
#include "resolv.h"

/* Timeouts: a connection attempt, and each read or write after it. */
#define NET_CONNECT_MS 3000
#define NET_IO_MS 10000
#define NET_DNS_MS 2000

/* The addresses of a: an IP literal as it is, a name from the host's
 * /etc/hosts, else from DNS (A, then AAAA) through the nameservers of its
 * /etc/resolv.conf. The count (> 0), or 0 with why (a sentence) filled. The
 * host answers here: the pinned CAS ID decides whom we talk to. */
size_t casnet_resolve(const struct netaddr *a, struct resolv_addr *out, size_t max, char *why, size_t whylen);

/* A connected TCP socket (close-on-exec, I/O timeouts set) or a negative
 * errno (-EINPROGRESS/-ETIMEDOUT: no answer in NET_CONNECT_MS). */
long casnet_connect(const struct resolv_addr *ip, uint16_t port);
/* send (no SIGPIPE) / recv: bytes (recv: 0 at EOF) or a negative errno;
 * EINTR is retried. */
long casnet_send(int fd, const void *b, size_t n);
long casnet_recv(int fd, void *b, size_t n);
void casnet_close(int fd);
void casnet_sleep_ms(unsigned ms);
/* "connection refused" and friends, for messages. */
const char *casnet_strerror(long err);
/* ip as text ("10.0.0.1", "2001:db8::1" in full groups). */
void casnet_ntop(const struct resolv_addr *ip, char *out, size_t cap);

#endif
