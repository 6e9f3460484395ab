/* One pinned TLS connection to the CAS and the POSTs on it (docs/cas.md,
 * "The runtime side"), shared by the attestation (attest.c) and the volume
 * state client (volstate.c).
 *
 * Every failure is classified as CASCONN_RETRY (the CAS could not be
 * reached, broke the connection, is busy) or CASCONN_FATAL (the server is
 * not the CAS the image pins, or does not speak the protocol), with an exit
 * code of docs/exit-codes.md and a message naming the problem and the fix
 * in c->msg. */
#ifndef SCONE_ATTEST_CASCONN_H
#define SCONE_ATTEST_CASCONN_H

#include <stddef.h>
#include <stdint.h>
#include "netaddr.h"

struct tls_conn;
struct http_resp;

enum { CASCONN_OK, CASCONN_RETRY, CASCONN_FATAL };

struct cas_conn {
	const char *addr_text; /* HOST:PORT (measured) */
	const uint8_t *cas_id; /* 32 bytes (measured) */
	struct netaddr addr;
	struct tls_conn *tls; /* NULL: not connected */
	int fd_min;	      /* 0, or the lowest descriptor number to move the socket to */
	int kind;	      /* CASCONN_* of the last failure */
	int code;	      /* its exit code */
	char msg[768];
};

/* 0, or -1 when addr is not HOST:PORT. */
int casconn_init(struct cas_conn *c, const char *addr, const uint8_t cas_id[32]);
/* Connects (each address in turn) and runs the pinned handshake. */
int casconn_open(struct cas_conn *c);
/* One POST on the open connection: CASCONN_OK with a 200 answer in *resp
 * (http_resp_free it). last: the request says Connection: close. */
int casconn_post(struct cas_conn *c, const char *path, const uint8_t *body, size_t len, int last,
		 struct http_resp *resp);
void casconn_close(struct cas_conn *c);
/* Records a failure in c (kind, code, message); returns kind. */
int casconn_fail(struct cas_conn *c, int kind, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Text from the CAS (a reason), printable: at most cap-1 bytes, control
 * characters replaced, trailing blanks cut. */
void casconn_printable(const uint8_t *s, size_t n, char *out, size_t cap);

#endif
