/* The HTTP/1.1 the CAS enclave protocol needs (docs/cas.md): a POST
 * request with a Content-Length, and the head of its response (status, a
 * Content-Length; chunked transfer coding is refused: the protocol's
 * responses are never chunked). No libc, no allocation. */
#ifndef SCONE_HTTPMSG_H
#define SCONE_HTTPMSG_H

#include <stddef.h>
#include <stdint.h>

#define HTTPMSG_MAX_HEAD 8192

/* Writes "POST path HTTP/1.1" with Host, Content-Type
 * application/octet-stream, Content-Length body_len and, when close is set,
 * Connection: close (else the connection stays open for another request)
 * into buf; its length, or -1 when it does not fit or host/path hold bytes
 * that could split the request (CR, LF, NUL, blanks in the path). */
long httpmsg_post(char *buf, size_t cap, const char *host, const char *path, size_t body_len, int close);

struct httpmsg_head {
	int status;		 /* 100-599 */
	uint64_t content_length; /* -1 (UINT64_MAX) when absent */
	int text;		 /* Content-Type text/plain */
};

/* Parses the response head at the start of buf[0:len]: the number of bytes
 * of the head (status line and headers with the blank line), 0 when more
 * bytes are needed, -1 when it is not an HTTP/1.x response head, has a
 * Transfer-Encoding, two different Content-Lengths, or a head larger than
 * HTTPMSG_MAX_HEAD. */
long httpmsg_parse_head(const char *buf, size_t len, struct httpmsg_head *out);

#endif
