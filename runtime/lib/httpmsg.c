/* HTTP/1.1 requests and response heads (httpmsg.h). */
#include <string.h>

#include "httpmsg.h"

struct out {
	char *b;
	size_t cap, n;
	int err;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->err || n > o->cap - o->n) {
		o->err = 1;
		return;
	}
	memcpy(o->b + o->n, s, n);
	o->n += n;
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

static void putnum(struct out *o, uint64_t v)
{
	char t[24];
	int i = 0;
	do {
		t[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		put(o, &t[--i], 1);
}

static int safe(const char *s, int path)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s == '\r' || *s == '\n' || (unsigned char)*s < 0x20 || *s == 0x7f || (path && *s == ' '))
			return 0;
	return 1;
}

long httpmsg_post(char *buf, size_t cap, const char *host, const char *path, size_t body_len, int close)
{
	if (!safe(host, 1) || !safe(path, 1) || path[0] != '/')
		return -1;
	struct out o = {buf, cap, 0, 0};
	puts_(&o, "POST ");
	puts_(&o, path);
	puts_(&o, " HTTP/1.1\r\nHost: ");
	puts_(&o, host);
	puts_(&o, "\r\nContent-Type: application/octet-stream\r\nContent-Length: ");
	putnum(&o, body_len);
	puts_(&o, close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
	return o.err ? -1 : (long)o.n;
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* Header name n (lower case) is line[0:l] up to the ':'? Then *val is the
 * value with blanks trimmed. */
static int header(const char *line, size_t l, const char *n, const char **val, size_t *vl)
{
	size_t nl = strlen(n);
	if (l <= nl || line[nl] != ':')
		return 0;
	for (size_t i = 0; i < nl; i++)
		if (lower(line[i]) != n[i])
			return 0;
	size_t s = nl + 1, e = l;
	while (s < e && (line[s] == ' ' || line[s] == '\t'))
		s++;
	while (e > s && (line[e - 1] == ' ' || line[e - 1] == '\t'))
		e--;
	*val = line + s;
	*vl = e - s;
	return 1;
}

static int decimal(const char *s, size_t n, uint64_t *v)
{
	if (n == 0 || n > 18)
		return -1;
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 0;
}

long httpmsg_parse_head(const char *buf, size_t len, struct httpmsg_head *out)
{
	size_t end = 0;
	for (size_t i = 0; i + 3 < len && i + 4 <= HTTPMSG_MAX_HEAD; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
			end = i + 4;
			break;
		}
	if (!end)
		return len >= HTTPMSG_MAX_HEAD ? -1 : 0;
	out->status = 0;
	out->content_length = UINT64_MAX;
	out->text = 0;
	/* status line: HTTP/1.x SP 3DIGIT [SP reason] */
	if (end < 12 + 4 || memcmp(buf, "HTTP/1.", 7) || (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ')
		return -1;
	uint64_t st;
	if (decimal(buf + 9, 3, &st) || st < 100 || st > 599 || (buf[12] != ' ' && buf[12] != '\r'))
		return -1;
	out->status = (int)st;
	size_t i = 0;
	while (buf[i] != '\n')
		i++;
	i++;
	while (i < end - 2) {
		size_t e = i;
		while (buf[e] != '\r' || buf[e + 1] != '\n')
			e++;
		const char *v;
		size_t vl;
		uint64_t n;
		if (header(buf + i, e - i, "content-length", &v, &vl)) {
			if (decimal(v, vl, &n) || (out->content_length != UINT64_MAX && out->content_length != n))
				return -1;
			out->content_length = n;
		} else if (header(buf + i, e - i, "transfer-encoding", &v, &vl)) {
			return -1;
		} else if (header(buf + i, e - i, "content-type", &v, &vl)) {
			out->text = vl >= 10 && !memcmp(v, "text/plain", 10);
		}
		i = e + 2;
	}
	return (long)end;
}
