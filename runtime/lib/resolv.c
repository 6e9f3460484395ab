/* Host name resolution: /etc/hosts, resolv.conf, DNS messages (resolv.h). */
#include <string.h>

#include "netaddr.h"
#include "resolv.h"

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static int same_name(const char *a, size_t al, const char *b, size_t bl)
{
	/* a trailing dot names the same host */
	if (al && a[al - 1] == '.')
		al--;
	if (bl && b[bl - 1] == '.')
		bl--;
	if (al != bl)
		return 0;
	for (size_t i = 0; i < al; i++)
		if (lower(a[i]) != lower(b[i]))
			return 0;
	return 1;
}

static int blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Parses an IPv4 or IPv6 literal (an IPv6 zone "%if" is dropped). */
static int ip_literal(const char *s, size_t n, struct resolv_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '%')
			n = i;
	for (size_t i = 0; i < n; i++)
		if (s[i] == ':') {
			a->family = 6;
			return netaddr_parse_ip(s, n, NETADDR_IPV6, a->ip);
		}
	a->family = 4;
	return netaddr_parse_ip(s, n, NETADDR_IPV4, a->ip);
}

/* A line's blank-separated words (up to 16; '#' starts a comment). */
struct words {
	const char *w[16];
	size_t l[16];
	int n;
};

static void split(const char *line, size_t len, struct words *ws)
{
	ws->n = 0;
	for (size_t i = 0; i < len && ws->n < 16;) {
		while (i < len && blank(line[i]))
			i++;
		if (i >= len || line[i] == '#')
			break;
		size_t st = i;
		while (i < len && !blank(line[i]) && line[i] != '#')
			i++;
		ws->w[ws->n] = line + st;
		ws->l[ws->n++] = i - st;
	}
}

size_t resolv_hosts(const char *text, size_t len, const char *name, struct resolv_addr *out, size_t max)
{
	size_t n = 0, nl = strlen(name);
	for (size_t i = 0; i < len && n < max;) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		struct words ws;
		split(text + i, e - i, &ws);
		i = e + 1;
		if (ws.n < 2)
			continue;
		int hit = 0;
		for (int k = 1; k < ws.n; k++)
			hit |= same_name(ws.w[k], ws.l[k], name, nl);
		struct resolv_addr a;
		if (hit && !ip_literal(ws.w[0], ws.l[0], &a))
			out[n++] = a;
	}
	return n;
}

size_t resolv_nameservers(const char *text, size_t len, struct resolv_addr *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n < max;) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		struct words ws;
		split(text + i, e - i, &ws);
		i = e + 1;
		struct resolv_addr a;
		if (ws.n >= 2 && ws.l[0] == 10 && !memcmp(ws.w[0], "nameserver", 10) &&
		    !ip_literal(ws.w[1], ws.l[1], &a))
			out[n++] = a;
	}
	return n;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* name as DNS labels into buf (cap bytes): its length, or -1. */
static long encode_name(const char *name, uint8_t *buf, size_t cap)
{
	struct netaddr a;
	size_t nl = strlen(name);
	char hp[NETADDR_NAME_MAX + 8];
	if (nl == 0 || nl > NETADDR_NAME_MAX)
		return -1;
	/* a valid host name (the netaddr rules) */
	memcpy(hp, name, nl);
	memcpy(hp + nl, ":1", 3);
	if (netaddr_parse(hp, nl + 2, &a) || a.kind != NETADDR_NAME)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i <= nl;) {
		size_t st = i;
		while (i < nl && name[i] != '.')
			i++;
		if (o + 1 + (i - st) + 1 > cap)
			return -1;
		buf[o++] = (uint8_t)(i - st);
		memcpy(buf + o, name + st, i - st);
		o += i - st;
		i++;
	}
	buf[o++] = 0;
	return (long)o;
}

long resolv_query(uint16_t id, const char *name, uint16_t qtype, uint8_t *buf, size_t cap)
{
	if (cap < 12 + 4)
		return -1;
	memset(buf, 0, 12);
	put16(buf, id);
	buf[2] = 0x01; /* RD */
	put16(buf + 4, 1);
	long n = encode_name(name, buf + 12, cap - 12 - 4);
	if (n < 0)
		return -1;
	uint8_t *q = buf + 12 + n;
	put16(q, qtype);
	put16(q + 2, 1); /* IN */
	return 12 + n + 4;
}

/* Reads the (possibly compressed) name at *off into out as "a.b.c" (at most
 * cap bytes with the NUL); advances *off past it. 0 or -1. */
static int read_name(const uint8_t *m, size_t len, size_t *off, char *out, size_t cap)
{
	size_t o = *off, w = 0;
	int jumped = 0, hops = 0;
	for (;;) {
		if (o >= len)
			return -1;
		uint8_t l = m[o];
		if ((l & 0xc0) == 0xc0) {
			if (o + 1 >= len || ++hops > 16)
				return -1;
			if (!jumped)
				*off = o + 2;
			jumped = 1;
			o = (size_t)((l & 0x3f) << 8 | m[o + 1]);
			continue;
		}
		if (l & 0xc0)
			return -1;
		if (l == 0) {
			if (!jumped)
				*off = o + 1;
			if (w == 0) {
				if (cap < 1)
					return -1;
				out[0] = 0;
				return 0;
			}
			out[w - 1] = 0; /* the last '.' */
			return 0;
		}
		if (o + 1 + l > len || w + l + 1 > cap)
			return -1;
		memcpy(out + w, m + o + 1, l);
		w += l;
		out[w++] = '.';
		o += 1 + (size_t)l;
	}
}

long resolv_answer(const uint8_t *m, size_t len, uint16_t id, const char *name, uint16_t qtype, struct resolv_addr *out,
		   size_t max)
{
	if (len < 12 || get16(m) != id || !(m[2] & 0x80) || (m[2] & 0x02) /* TC */ || (m[2] & 0x78) /* opcode */)
		return -1;
	int rcode = m[3] & 0x0f;
	if (rcode != 0 && rcode != 3)
		return -1;
	uint16_t qd = get16(m + 4), an = get16(m + 6);
	if (qd != 1)
		return -1;
	size_t off = 12;
	char cur[NETADDR_NAME_MAX + 2], rn[NETADDR_NAME_MAX + 2];
	if (read_name(m, len, &off, rn, sizeof rn) || off + 4 > len)
		return -1;
	if (!same_name(rn, strlen(rn), name, strlen(name)) || get16(m + off) != qtype || get16(m + off + 2) != 1)
		return -1;
	off += 4;
	if (rcode == 3)
		return 0; /* no such name */
	size_t nl = strlen(name);
	if (nl >= sizeof cur)
		return -1;
	memcpy(cur, name, nl + 1);
	long n = 0;
	for (uint16_t i = 0; i < an; i++) {
		if (read_name(m, len, &off, rn, sizeof rn) || off + 10 > len)
			return -1;
		uint16_t type = get16(m + off), class = get16(m + off + 2), rdl = get16(m + off + 8);
		off += 10;
		if (off + rdl > len)
			return -1;
		size_t rd = off;
		off += rdl;
		if (class != 1 || !same_name(rn, strlen(rn), cur, strlen(cur)))
			continue;
		if (type == 5) { /* CNAME: the chain goes on from its target */
			size_t t = rd;
			if (read_name(m, len, &t, cur, sizeof cur))
				return -1;
			continue;
		}
		if (type != qtype || (size_t)n >= max)
			continue;
		if (type == RESOLV_QTYPE_A && rdl == 4) {
			out[n].family = 4;
			memset(out[n].ip, 0, 16);
			memcpy(out[n].ip, m + rd, 4);
			n++;
		} else if (type == RESOLV_QTYPE_AAAA && rdl == 16) {
			out[n].family = 6;
			memcpy(out[n].ip, m + rd, 16);
			n++;
		}
	}
	return n;
}
