/* HTTP/1.1 POST over a pinned TLS connection (the CAS enclave protocol). */
#ifndef SCONE_ATTEST_HTTP_H
#define SCONE_ATTEST_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct tls_conn;

struct http_resp {
	int status;
	int text; /* Content-Type text/plain */
	uint8_t *body;
	size_t len;
};

enum { HTTP_OK = 0, HTTP_EIO = 1, HTTP_EPROTO = 2, HTTP_ETOOBIG = 3, HTTP_ENOMEM = 4 };

/* Sends POST path (Host: host) with body, reads the response; its body at
 * most max bytes. last: the request says Connection: close (else the
 * connection can carry another request). */
int http_post(struct tls_conn *c, const char *host, const char *path, const uint8_t *body, size_t len, size_t max,
	      int last, struct http_resp *out);
/* Wipes and frees the body. */
void http_resp_free(struct http_resp *r);

#endif
