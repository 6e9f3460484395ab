/* The pinned connection to the CAS (casconn.h). */
#include <linux/fcntl.h>
#include "casconn.h"
#include "casmsg.h"
#include "fdtab.h"
#include "http.h"
#include "net.h"
#include "tls.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

int casconn_fail(struct cas_conn *c, int kind, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rt_vsnprintf(c->msg, sizeof c->msg, fmt, ap);
	va_end(ap);
	c->kind = kind;
	c->code = code;
	return kind;
}

static void hexs(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[b[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[b[i] & 15];
	}
	out[2 * n] = 0;
}

void casconn_printable(const uint8_t *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	for (size_t i = 0; i < n && o + 1 < cap; i++)
		out[o++] = s[i] < 0x20 || s[i] == 0x7f ? '?' : (char)s[i];
	out[o] = 0;
}

int casconn_init(struct cas_conn *c, const char *addr, const uint8_t cas_id[32])
{
	rt_memzero(c, sizeof *c);
	c->addr_text = addr;
	c->cas_id = cas_id;
	return netaddr_parse(addr, strlen(addr), &c->addr) ? -1 : 0;
}

/* A long-lived socket moves out of the application's way (it would
 * otherwise take the lowest free number, which the application expects). */
static long move_up(long fd, int min)
{
	if (!min)
		return fd;
	long hi = host_syscall(__NR_fcntl, fd, F_DUPFD_CLOEXEC, min, 0, 0, 0);
	if (hi < 0)
		return fd;
	host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
	return hi;
}

int casconn_open(struct cas_conn *c)
{
	struct resolv_addr ips[RESOLV_MAX_ADDRS];
	char why[320];
	casconn_close(c);
	size_t n = casnet_resolve(&c->addr, ips, RESOLV_MAX_ADDRS, why, sizeof why);
	if (!n)
		return casconn_fail(c, CASCONN_RETRY, RT_EX_UNAVAILABLE, "%s", why);
	long last = 0;
	char ip[64];
	for (size_t i = 0; i < n; i++) {
		long fd = casnet_connect(&ips[i], c->addr.port);
		if (fd < 0) {
			last = fd;
			casnet_ntop(&ips[i], ip, sizeof ip);
			continue;
		}
		fd = move_up(fd, c->fd_min);
		rt_fdtab_hide((int)fd); /* the runtime's, not the application's */
		uint8_t got[32];
		int err = 0;
		int r = tls_open(&c->tls, (int)fd, c->addr.kind == NETADDR_NAME ? c->addr.name : NULL, c->cas_id, got,
				 &err);
		if (r == TLS_OK)
			return CASCONN_OK;
		c->tls = NULL;
		char want_hex[65], got_hex[65];
		switch (r) {
		case TLS_EPIN:
			hexs(c->cas_id, 32, want_hex);
			hexs(got, 32, got_hex);
			return casconn_fail(
				c, CASCONN_FATAL, RT_EX_CAS_IDENTITY,
				"the server at %s is not the CAS this image trusts: its key has CAS ID %s, the "
				"image's measured config pins %s. Someone else's server answers at that address (or "
				"the CAS's identity key changed: then convert the image again with the new --cas-id)",
				c->addr_text, got_hex, want_hex);
		case TLS_EKEY:
			return casconn_fail(
				c, CASCONN_FATAL, RT_EX_CAS_IDENTITY,
				"the server at %s presents no ECDSA P-256 key in its TLS certificate: it is "
				"not a CAS (a CAS's certificate carries its identity key, docs/cas.md)",
				c->addr_text);
		case TLS_ENOMEM:
			rt_fatal(RT_EX_SOFTWARE, "out of memory");
		default:
			return casconn_fail(
				c, CASCONN_RETRY, RT_EX_UNAVAILABLE,
				"TLS handshake with %s failed (BearSSL error %d): the server must speak TLS 1.2 with "
				"ECDHE-ECDSA (AES-GCM or ChaCha20-Poly1305); is it a CAS?",
				c->addr_text, err);
		}
	}
	if (n == 1)
		return casconn_fail(c, CASCONN_RETRY, RT_EX_UNAVAILABLE, "cannot connect to the CAS at %s: %s%s",
				    c->addr_text, casnet_strerror(last),
				    last == -111 ? " (is the CAS running and listening there? the address is measured: "
						   "scone-build convert --cas)" :
						   " (check the network path to the CAS)");
	return casconn_fail(c, CASCONN_RETRY, RT_EX_UNAVAILABLE,
			    "cannot connect to the CAS at %s (%lu addresses; the last, %s: %s)", c->addr_text,
			    (unsigned long)n, ip, casnet_strerror(last));
}

int casconn_post(struct cas_conn *c, const char *path, const uint8_t *body, size_t len, int last,
		 struct http_resp *resp)
{
	int r = http_post(c->tls, c->addr_text, path, body, len, CASMSG_MAX, last, resp);
	switch (r) {
	case HTTP_OK:
		break;
	case HTTP_EIO:
		return casconn_fail(c, CASCONN_RETRY, RT_EX_UNAVAILABLE,
				    "the connection to the CAS at %s broke during %s", c->addr_text, path);
	case HTTP_ENOMEM:
		rt_fatal(RT_EX_SOFTWARE, "out of memory");
	default:
		return casconn_fail(c, CASCONN_FATAL, RT_EX_PROTOCOL,
				    "the CAS at %s answered %s with something that is not an HTTP/1.1 response of at "
				    "most 1 MiB with a Content-Length",
				    c->addr_text, path);
	}
	if (resp->status == 200)
		return CASCONN_OK;
	char reason[512];
	casconn_printable(resp->body, resp->len, reason, sizeof reason);
	int st = resp->status;
	http_resp_free(resp);
	if (st == 503 || st == 429)
		return casconn_fail(c, CASCONN_RETRY, RT_EX_UNAVAILABLE, "the CAS at %s is %s (HTTP %d): %s",
				    c->addr_text, st == 503 ? "unavailable" : "busy", st,
				    reason[0] ? reason : "no reason given");
	return casconn_fail(c, CASCONN_FATAL, RT_EX_PROTOCOL,
			    "the CAS at %s answered %s with HTTP %d: %s (does it speak the CAS protocol v1, "
			    "docs/cas.md?)",
			    c->addr_text, path, st, reason[0] ? reason : "no reason given");
}

void casconn_close(struct cas_conn *c)
{
	if (c->tls)
		tls_close(c->tls);
	c->tls = NULL;
}
