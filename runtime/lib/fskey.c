/* FS key file parser (fskey.h, docs/keys.md). */
#include <string.h>

#include "fskey.h"

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 64 hex digits into out. */
static int hex32(const uint8_t *s, size_t n, uint8_t out[32])
{
	if (n != 64)
		return -1;
	for (size_t i = 0; i < 32; i++) {
		int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
		if (h < 0 || l < 0)
			return -1;
		out[i] = (uint8_t)(h << 4 | l);
	}
	return 0;
}

/* Decimal 0..65535 without a leading zero (except "0"). */
static int u16(const uint8_t *s, size_t n, uint16_t *out)
{
	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	uint32_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int eq(const uint8_t *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n == l && memcmp(s, lit, l) == 0;
}

static int is_blank(uint8_t c) { return c == ' ' || c == '\t'; }

/* Index of the first c in s[0..n), or n (runtime/lib uses no memchr). */
static size_t find(const uint8_t *s, size_t n, uint8_t c)
{
	size_t i = 0;
	while (i < n && s[i] != c)
		i++;
	return i;
}

int fskey_bare(const struct fskey_identity *id) { return !id->has_mrsigner && !id->n_mrenclave; }

void fskey_wipe(struct fskey_file *f)
{
	volatile uint8_t *p = (volatile uint8_t *)f;
	for (size_t i = 0; i < sizeof *f; i++)
		p[i] = 0;
}

static int parse_bare(const uint8_t *b, size_t n, struct fskey_file *out)
{
	if (n >= 2 && b[n - 2] == '\r' && b[n - 1] == '\n')
		n -= 2;
	else if (n >= 1 && b[n - 1] == '\n')
		n -= 1;
	return hex32(b, n, out->key);
}

/* One "name<blanks>value" line of a v1 file. */
static int field(const uint8_t *s, size_t n, struct fskey_file *out, int *seen_key)
{
	size_t i = 0;
	while (i < n && !is_blank(s[i]))
		i++;
	if (i == 0 || i == n)
		return FSKEY_EFORMAT;
	const uint8_t *name = s;
	size_t nl = i;
	while (i < n && is_blank(s[i]))
		i++;
	const uint8_t *v = s + i;
	size_t vl = n - i;
	for (size_t k = 0; k < vl; k++)
		if (is_blank(v[k]))
			return FSKEY_EFORMAT;
	if (vl == 0)
		return FSKEY_EFORMAT;
	struct fskey_identity *id = &out->id;
	if (eq(name, nl, "key")) {
		if (*seen_key || hex32(v, vl, out->key))
			return FSKEY_EFORMAT;
		*seen_key = 1;
	} else if (eq(name, nl, "mrsigner")) {
		if (id->has_mrsigner || hex32(v, vl, id->mrsigner))
			return FSKEY_EFORMAT;
		id->has_mrsigner = 1;
	} else if (eq(name, nl, "mrenclave")) {
		if (id->n_mrenclave == FSKEY_MAX_MRENCLAVE)
			return FSKEY_EIDENTITY;
		if (hex32(v, vl, id->mrenclave[id->n_mrenclave]))
			return FSKEY_EFORMAT;
		id->n_mrenclave++;
	} else if (eq(name, nl, "isvprodid")) {
		if (id->has_isvprodid || u16(v, vl, &id->isvprodid))
			return FSKEY_EFORMAT;
		id->has_isvprodid = 1;
	} else if (eq(name, nl, "min-isvsvn")) {
		if (id->has_min_isvsvn || u16(v, vl, &id->min_isvsvn))
			return FSKEY_EFORMAT;
		id->has_min_isvsvn = 1;
	} else {
		return FSKEY_EFORMAT;
	}
	return 0;
}

static int parse_v1(const uint8_t *b, size_t len, struct fskey_file *out, unsigned *line)
{
	if (len == 0 || b[len - 1] != '\n')
		return FSKEY_EFORMAT; /* empty, or the last line is cut off */
	if (find(b, len, 0) != len)
		return FSKEY_EFORMAT;
	int seen_magic = 0, seen_key = 0;
	unsigned ln = 0;
	for (size_t pos = 0; pos < len;) {
		const uint8_t *s = b + pos;
		size_t n = find(s, len - pos, '\n'); /* found: the buffer ends in '\n' */
		pos += n + 1;
		ln++;
		if (n && s[n - 1] == '\r')
			n--;
		if (n == 0 || s[0] == '#')
			continue;
		*line = ln;
		if (!seen_magic) {
			if (eq(s, n, FSKEY_MAGIC)) {
				seen_magic = 1;
				continue;
			}
			if (n > 13 && memcmp(s, "scone-fs-key ", 13) == 0)
				return FSKEY_EVERSION;
			return FSKEY_EFORMAT;
		}
		int r = field(s, n, out, &seen_key);
		if (r)
			return r;
	}
	*line = 0;
	if (!seen_magic || !seen_key)
		return FSKEY_EFORMAT;
	if (fskey_bare(&out->id) || ((out->id.has_isvprodid || out->id.has_min_isvsvn) && !out->id.has_mrsigner))
		return FSKEY_EIDENTITY;
	return 0;
}

int fskey_parse(const uint8_t *buf, size_t len, struct fskey_file *out, unsigned *line)
{
	unsigned l = 0;
	memset(out, 0, sizeof *out);
	int r;
	if (len > FSKEY_MAX_FILE)
		r = FSKEY_ETOOBIG;
	else if (parse_bare(buf, len, out) == 0)
		r = 0;
	else if (len == FSKEY_SIZE && buf[0] != '#' && !(len >= 15 && memcmp(buf, FSKEY_MAGIC, 15) == 0))
		r = FSKEY_ERAW;
	else
		r = parse_v1(buf, len, out, &l);
	if (r)
		fskey_wipe(out);
	if (line)
		*line = r ? l : 0;
	return r;
}

const char *fskey_strerror(int err)
{
	switch (err) {
	case FSKEY_OK:
		return "ok";
	case FSKEY_EFORMAT:
		return "not an FS key file (want \"" FSKEY_MAGIC "\" with key and identity lines, or 64 hex digits)";
	case FSKEY_ERAW:
		return "32 bytes that are not a key file: raw binary keys are not accepted (a passphrase would be taken "
		       "for one); write the key as 64 hex digits or make a new one with scone-build keygen";
	case FSKEY_EVERSION:
		return "key file version not supported (this runtime reads \"" FSKEY_MAGIC "\")";
	case FSKEY_ETOOBIG:
		return "key file larger than 4096 bytes";
	case FSKEY_EIDENTITY:
		return "key file identity invalid (a v1 file needs mrsigner or mrenclave; isvprodid and min-isvsvn need "
		       "mrsigner; at most 16 mrenclave lines)";
	}
	return "unknown error";
}

int fskey_check(const struct fskey_identity *id, const uint8_t mrenclave[32], const uint8_t mrsigner[32],
		uint16_t isvprodid, uint16_t isvsvn)
{
	if (fskey_bare(id))
		return FSKEY_ID_NONE;
	if (id->has_mrsigner && memcmp(id->mrsigner, mrsigner, 32))
		return FSKEY_ID_MRSIGNER;
	if (id->n_mrenclave) {
		int ok = 0;
		for (unsigned i = 0; i < id->n_mrenclave; i++)
			ok |= !memcmp(id->mrenclave[i], mrenclave, 32);
		if (!ok)
			return FSKEY_ID_MRENCLAVE;
	}
	if (id->has_isvprodid && id->isvprodid != isvprodid)
		return FSKEY_ID_ISVPRODID;
	if (id->has_min_isvsvn && isvsvn < id->min_isvsvn)
		return FSKEY_ID_ISVSVN;
	return 0;
}
