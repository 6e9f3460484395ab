/* HTTP/1.1 POST over TLS (http.h). */
#include "http.h"
#include "httpmsg.h"
#include "tls.h"
#include "rt_alloc.h"
#include "rtstring.h"

void http_resp_free(struct http_resp *r)
{
	if (r->body) {
		rt_memzero(r->body, r->len);
		rt_free(r->body);
	}
	r->body = NULL;
	r->len = 0;
}

/* Reads until n bytes are in b or the server closes; the count or -1. */
static long read_full(struct tls_conn *c, uint8_t *b, size_t n)
{
	size_t got = 0;
	while (got < n) {
		long r = tls_read(c, b + got, n - got);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (long)got;
}

int http_post(struct tls_conn *c, const char *host, const char *path, const uint8_t *body, size_t len, size_t max,
	      int last, struct http_resp *out)
{
	char head[HTTPMSG_MAX_HEAD];
	out->status = 0;
	out->text = 0;
	out->body = NULL;
	out->len = 0;
	long hl = httpmsg_post(head, sizeof head, host, path, len, last);
	if (hl < 0)
		return HTTP_EPROTO;
	/* one flush: the request leaves in as few records and segments as fit */
	if (tls_write(c, head, (size_t)hl) || (len && tls_write(c, body, len)) || tls_flush(c))
		return HTTP_EIO;
	/* the head, and perhaps the start of the body */
	size_t n = 0;
	struct httpmsg_head h;
	long end = 0;
	while (end == 0) {
		if (n == sizeof head)
			return HTTP_EPROTO;
		long r = tls_read(c, head + n, sizeof head - n);
		if (r < 0)
			return HTTP_EIO;
		if (r == 0)
			return n ? HTTP_EPROTO : HTTP_EIO; /* closed before a response */
		n += (size_t)r;
		end = httpmsg_parse_head(head, n, &h);
		if (end < 0)
			return HTTP_EPROTO;
	}
	out->status = h.status;
	out->text = h.text;
	size_t have = n - (size_t)end;
	size_t want = h.content_length != UINT64_MAX ? (size_t)h.content_length : max + 1;
	if (h.content_length != UINT64_MAX && h.content_length > max)
		return HTTP_ETOOBIG;
	if (have > want)
		return HTTP_EPROTO; /* more than the Content-Length */
	out->body = rt_malloc(want ? want : 1);
	if (!out->body)
		return HTTP_ENOMEM;
	memcpy(out->body, head + end, have);
	rt_memzero(head, sizeof head);
	long r = read_full(c, out->body + have, want - have);
	if (r < 0) {
		http_resp_free(out);
		return HTTP_EIO;
	}
	out->len = have + (size_t)r;
	if (h.content_length == UINT64_MAX ? out->len > max : out->len != want) {
		http_resp_free(out);
		return h.content_length == UINT64_MAX ? HTTP_ETOOBIG : HTTP_EIO;
	}
	return HTTP_OK;
}
