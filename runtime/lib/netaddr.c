/* HOST:PORT addresses (netaddr.h). */
#include <string.h>

#include "netaddr.h"

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int hexval(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Decimal 0..max without leading zeros (a lone "0" is fine); -1 else. */
static long decimal(const char *s, size_t len, long max)
{
	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return -1;
	long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

static int parse_v4(const char *s, size_t len, uint8_t out[4])
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		size_t st = i;
		while (i < len && s[i] != '.')
			i++;
		long v = decimal(s + st, i - st, 255);
		if (v < 0 || i - st > 3)
			return -1;
		out[part] = (uint8_t)v;
		if (part < 3) {
			if (i >= len)
				return -1;
			i++; /* the dot */
		}
	}
	return i == len ? 0 : -1;
}

/* RFC 4291 2.2: eight groups of 1-4 hex digits, one "::" for a run of zero
 * groups, optionally a dotted quad in place of the last two groups. */
static int parse_v6(const char *s, size_t len, uint8_t out[16])
{
	uint16_t g[8];
	int n = 0, gap = -1;
	size_t i = 0;
	if (len >= 2 && s[0] == ':' && s[1] == ':') {
		gap = 0;
		i = 2;
		if (i == len)
			goto done;
	} else if (len && s[0] == ':') {
		return -1;
	}
	for (;;) {
		size_t st = i;
		while (i < len && hexval(s[i]) >= 0)
			i++;
		if (i < len && s[i] == '.') { /* embedded IPv4: the last 32 bits */
			uint8_t v4[4];
			if (n > 6 || parse_v4(s + st, len - st, v4))
				return -1;
			g[n++] = (uint16_t)(v4[0] << 8 | v4[1]);
			g[n++] = (uint16_t)(v4[2] << 8 | v4[3]);
			break;
		}
		if (i == st || i - st > 4 || n == 8)
			return -1;
		uint16_t v = 0;
		for (size_t k = st; k < i; k++)
			v = (uint16_t)(v << 4 | hexval(s[k]));
		g[n++] = v;
		if (i == len)
			break;
		if (s[i] != ':')
			return -1;
		i++;
		if (i < len && s[i] == ':') {
			if (gap >= 0)
				return -1;
			gap = n;
			i++;
			if (i == len)
				break;
		} else if (i == len) {
			return -1; /* a trailing single ':' */
		}
	}
done:
	if (gap < 0 && n != 8)
		return -1;
	if (gap >= 0 && n > 7)
		return -1;
	int zeros = 8 - n;
	for (int k = 0, o = 0; k < 8; k++) {
		uint16_t v;
		if (gap >= 0 && k >= gap && k < gap + zeros)
			v = 0;
		else
			v = g[o++];
		out[2 * k] = (uint8_t)(v >> 8);
		out[2 * k + 1] = (uint8_t)v;
	}
	return 0;
}

int netaddr_parse_ip(const char *s, size_t len, int kind, uint8_t ip[16])
{
	memset(ip, 0, 16);
	if (kind == NETADDR_IPV4)
		return parse_v4(s, len, ip);
	if (kind == NETADDR_IPV6)
		return parse_v6(s, len, ip);
	return -1;
}

static int valid_name(const char *s, size_t len)
{
	if (len == 0 || len > NETADDR_NAME_MAX)
		return 0;
	size_t st = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			if (!is_alnum(s[i]) && s[i] != '-')
				return 0;
			continue;
		}
		size_t l = i - st;
		if (l == 0 || l > 63 || s[st] == '-' || s[i - 1] == '-')
			return 0;
		st = i + 1;
	}
	return 1;
}

int netaddr_parse(const char *s, size_t len, struct netaddr *out)
{
	memset(out, 0, sizeof *out);
	if (len > NETADDR_MAX)
		return -1;
	size_t c = len;
	while (c > 0 && s[c - 1] != ':')
		c--;
	if (c == 0)
		return -1;
	long port = decimal(s + c, len - c, 65535);
	if (port <= 0)
		return -1;
	out->port = (uint16_t)port;
	const char *h = s;
	size_t hl = c - 1;
	if (hl && h[0] == '[') {
		if (hl < 2 || h[hl - 1] != ']')
			return -1;
		out->kind = NETADDR_IPV6;
		return parse_v6(h + 1, hl - 2, out->ip);
	}
	if (hl == 0)
		return -1;
	for (size_t i = 0; i < hl; i++)
		if (h[i] == '[' || h[i] == ']' || h[i] == ':')
			return -1;
	size_t last = hl;
	while (last > 0 && h[last - 1] != '.')
		last--;
	int digits = 1;
	for (size_t i = last; i < hl; i++)
		digits &= is_digit(h[i]);
	if (digits) {
		out->kind = NETADDR_IPV4;
		return parse_v4(h, hl, out->ip);
	}
	if (!valid_name(h, hl))
		return -1;
	out->kind = NETADDR_NAME;
	memcpy(out->name, h, hl);
	out->name[hl] = 0;
	return 0;
}
