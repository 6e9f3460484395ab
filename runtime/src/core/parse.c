/* Parsing numbers from text the runtime reads (environment, /proc files);
 * rtutil.h. No allocation, no system calls. */
#include "rtutil.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

unsigned long rt_parse_hexnum(const char **p)
{
	unsigned long v = 0;
	for (;; (*p)++) {
		int d = hexval(**p);
		if (d < 0)
			return v;
		v = v * 16 + (unsigned long)d;
	}
}

int rt_parse_hex(const char *s, size_t slen, unsigned char *out, size_t outlen)
{
	if (slen && s[slen - 1] == '\n')
		slen--;
	if (slen != 2 * outlen)
		return -1;
	for (size_t i = 0; i < outlen; i++) {
		int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
		if (h < 0 || l < 0)
			return -1;
		out[i] = (unsigned char)(h << 4 | l);
	}
	return 0;
}

long rt_parse_ulong(const char *s)
{
	if (!s || !*s)
		return -1;
	long v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (1L << 55))
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}
