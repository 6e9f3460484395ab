/* CAS enclave protocol messages (casmsg.h, docs/cas.md). */
#include <string.h>

#include <bearssl.h>

#include "casmsg.h"
#include "rt_alloc.h"

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

const char *casmsg_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case CASMSG_EFORMAT:
		return "not a CAS protocol v1 message (header, type or trailing bytes)";
	case CASMSG_ETAG:
		return "unknown, duplicate or out-of-order record";
	case CASMSG_EMISSING:
		return "a required record is missing";
	case CASMSG_EVALUE:
		return "a record's value has the wrong size or form";
	case CASMSG_ENOMEM:
		return "out of memory";
	case CASMSG_ETOOBIG:
		return "message larger than 1 MiB";
	default:
		return "unknown CAS message error";
	}
}

/* ---- writing ---- */

static void grow(struct casmsg_writer *w, size_t more)
{
	if (w->err)
		return;
	if (more > CASMSG_MAX || w->len + more > CASMSG_MAX) {
		w->err = CASMSG_ETOOBIG;
		return;
	}
	if (w->len + more <= w->cap)
		return;
	size_t cap = w->cap ? w->cap : 256;
	while (cap < w->len + more)
		cap *= 2;
	uint8_t *nb = rt_malloc(cap);
	if (!nb) {
		w->err = CASMSG_ENOMEM;
		return;
	}
	if (w->len)
		memcpy(nb, w->b, w->len);
	if (w->b) {
		memset(w->b, 0, w->cap); /* it may hold secrets */
		rt_free(w->b);
	}
	w->b = nb;
	w->cap = cap;
}

void casmsg_begin(struct casmsg_writer *w, uint16_t type)
{
	memset(w, 0, sizeof *w);
	grow(w, CASMSG_HDR);
	if (w->err)
		return;
	memcpy(w->b, CASMSG_MAGIC, 4);
	put16(w->b + 4, CASMSG_VERSION);
	put16(w->b + 6, type);
	w->len = CASMSG_HDR;
}

void casmsg_put(struct casmsg_writer *w, uint16_t tag, const void *v, size_t n)
{
	grow(w, 6 + n);
	if (w->err)
		return;
	put16(w->b + w->len, tag);
	put32(w->b + w->len + 2, (uint32_t)n);
	if (n)
		memcpy(w->b + w->len + 6, v, n);
	w->len += 6 + n;
}

int casmsg_end(struct casmsg_writer *w)
{
	if (w->err && w->b) {
		memset(w->b, 0, w->cap);
		rt_free(w->b);
		w->b = NULL;
		w->len = w->cap = 0;
	}
	return w->err;
}

int casmsg_attest_request(const char *policy, const uint8_t nonce[CASMSG_NONCE],
			  const uint8_t session_key[CASMSG_POINT], const uint8_t *quote, size_t quote_len,
			  const char *client, uint8_t **out, size_t *out_len)
{
	struct casmsg_writer w;
	casmsg_begin(&w, CASMSG_ATTEST_REQUEST);
	casmsg_put(&w, CASMSG_REQ_POLICY, policy, strlen(policy));
	casmsg_put(&w, CASMSG_REQ_NONCE, nonce, CASMSG_NONCE);
	casmsg_put(&w, CASMSG_REQ_SESSION_KEY, session_key, CASMSG_POINT);
	casmsg_put(&w, CASMSG_REQ_QUOTE, quote, quote_len);
	if (client)
		casmsg_put(&w, CASMSG_REQ_CLIENT, client, strlen(client));
	int r = casmsg_end(&w);
	if (r)
		return r;
	/* what the CAS would refuse, refused here */
	struct casmsg_request chk;
	r = casmsg_decode_request(w.b, w.len, &chk);
	if (r) {
		rt_free(w.b);
		return r;
	}
	*out = w.b;
	*out_len = w.len;
	return 0;
}

/* ---- reading: the record rules ---- */

enum form {
	F_BYTES,  /* any bytes */
	F_TEXT,	  /* UTF-8 without NUL */
	F_NONUL,  /* bytes without NUL */
	F_POLICY, /* a policy name */
	F_U32,	  /* u32 at most rule.max_value */
	F_POINT,  /* 04 || X || Y, on P-256 */
	F_VOLUME, /* clean absolute path, 0x00, 32-byte key */
	F_ENV,	  /* NAME=value, no NUL */
	F_FILE,	  /* mode u32 (<= 0777), clean absolute path, 0x00, content */
	F_FRESH,  /* clean absolute path, 0x00, mode u32, interval u32, flags u32 */
	F_PATH,	  /* clean absolute path */
	F_U32NZ,  /* u32 from 1 to rule.max_value */
};

#define R_REQ 1 /* required */
#define R_REP 2 /* repeatable */

struct rule {
	uint16_t tag;
	uint8_t flags, form;
	uint32_t min, max; /* value length; for F_U32 max is the largest value */
};

static const struct rule request_rules[] = {
	{CASMSG_REQ_POLICY, R_REQ, F_POLICY, 1, CASMSG_MAX_POLICY},
	{CASMSG_REQ_NONCE, R_REQ, F_BYTES, CASMSG_NONCE, CASMSG_NONCE},
	{CASMSG_REQ_SESSION_KEY, R_REQ, F_POINT, CASMSG_POINT, CASMSG_POINT},
	{CASMSG_REQ_QUOTE, R_REQ, F_BYTES, 1, CASMSG_MAX},
	{CASMSG_REQ_CLIENT, 0, F_TEXT, 1, CASMSG_MAX_CLIENT},
	{0, 0, 0, 0, 0},
};

static const struct rule response_rules[] = {
	{CASMSG_RESP_STATUS, R_REQ, F_U32, 4, CASMSG_TRY_LATER},
	{CASMSG_RESP_REASON, 0, F_TEXT, 1, CASMSG_MAX_REASON},
	{CASMSG_RESP_SIMULATION, R_REQ, F_U32, 4, 1},
	{CASMSG_RESP_POLICY_HASH, 0, F_BYTES, CASMSG_HASH, CASMSG_HASH},
	{CASMSG_RESP_CAS_KEY, 0, F_POINT, CASMSG_POINT, CASMSG_POINT},
	{CASMSG_RESP_SEALED, 0, F_BYTES, CASMSG_TAG, CASMSG_MAX},
	{0, 0, 0, 0, 0},
};

static const struct rule secrets_rules[] = {
	{CASMSG_SEC_FS_KEY, 0, F_BYTES, CASMSG_KEY, CASMSG_KEY},
	{CASMSG_SEC_VOLUME_KEY, R_REP, F_VOLUME, 2 + 1 + CASMSG_KEY, CASMSG_MAX},
	{CASMSG_SEC_ENV, R_REP, F_ENV, 2, CASMSG_MAX},
	{CASMSG_SEC_ARGS_SET, 0, F_U32, 4, 1},
	{CASMSG_SEC_ARG, R_REP, F_NONUL, 0, CASMSG_MAX},
	{CASMSG_SEC_FILE, R_REP, F_FILE, 4 + 2 + 1, CASMSG_MAX},
	{CASMSG_SEC_VOLUME_FRESHNESS, R_REP, F_FRESH, 2 + 1 + 12, CASMSG_MAX_PATH + 1 + 12},
	{0, 0, 0, 0, 0},
};

static const struct rule volume_request_rules[] = {
	{CASMSG_VOL_SESSION, R_REQ, F_BYTES, CASMSG_HASH, CASMSG_HASH},
	{CASMSG_VOL_PATH, R_REQ, F_PATH, 2, CASMSG_MAX_PATH},
	{CASMSG_VOL_OP, R_REQ, F_U32NZ, 4, CASMSG_VOL_REINIT},
	{CASMSG_VOL_VERSION, R_REQ, F_BYTES, 8, 8},
	{CASMSG_VOL_ROOT, R_REQ, F_BYTES, CASMSG_HASH, CASMSG_HASH},
	{CASMSG_VOL_MAC, R_REQ, F_BYTES, CASMSG_MAC, CASMSG_MAC},
	{0, 0, 0, 0, 0},
};

static const struct rule volume_response_rules[] = {
	{CASMSG_VOL_VERSION, R_REQ, F_BYTES, 8, 8},
	{CASMSG_VOL_ROOT, R_REQ, F_BYTES, CASMSG_HASH, CASMSG_HASH},
	{CASMSG_VOL_MAC, R_REQ, F_BYTES, CASMSG_MAC, CASMSG_MAC},
	{CASMSG_VOL_STATUS, R_REQ, F_U32NZ, 4, CASMSG_VOL_RETRY},
	{CASMSG_VOL_REASON, 0, F_TEXT, 1, CASMSG_MAX_REASON},
	{0, 0, 0, 0, 0},
};

static const struct rule *rules_of(uint16_t type)
{
	switch (type) {
	case CASMSG_ATTEST_REQUEST:
		return request_rules;
	case CASMSG_ATTEST_RESPONSE:
		return response_rules;
	case CASMSG_SECRETS:
		return secrets_rules;
	case CASMSG_VOLUME_REQUEST:
		return volume_request_rules;
	case CASMSG_VOLUME_RESPONSE:
		return volume_response_rules;
	default:
		return NULL;
	}
}

/* Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF)
 * without NUL. */
static int utf8_text(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0)
			k = 1, cp = c & 0x1f, min = 0x80;
		else if ((c & 0xf0) == 0xe0)
			k = 2, cp = c & 0x0f, min = 0x800;
		else if ((c & 0xf8) == 0xf0)
			k = 3, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

static int no_nul(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i])
			return 0;
	return 1;
}

/* An uncompressed point on P-256 (BearSSL's multiplication by 1 checks it). */
static int p256_point(const uint8_t *v)
{
	uint8_t pt[CASMSG_POINT];
	static const uint8_t one = 1;
	memcpy(pt, v, sizeof pt);
	return pt[0] == 4 && br_ec_p256_m15.mul(pt, sizeof pt, &one, 1, BR_EC_secp256r1) == 1;
}

static int policy_name(const uint8_t *s, size_t n)
{
	if (n == 0 || n > CASMSG_MAX_POLICY)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return 0;
	}
	return 1;
}

/* A clean absolute path other than "/": no empty, "." or ".." component, no
 * trailing '/', no NUL (path.Clean(p) == p in Go). */
static int clean_path(const uint8_t *p, size_t n)
{
	if (n < 2 || p[0] != '/' || p[n - 1] == '/')
		return 0;
	size_t st = 1;
	for (size_t i = 1; i <= n; i++) {
		if (i < n && p[i] == 0)
			return 0;
		if (i < n && p[i] != '/')
			continue;
		size_t l = i - st;
		if (l == 0 || (l == 1 && p[st] == '.') || (l == 2 && p[st] == '.' && p[st + 1] == '.'))
			return 0;
		st = i + 1;
	}
	return 1;
}

/* An environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static int env_name(const uint8_t *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		int ok =
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return 0;
	}
	return 1;
}

/* Length of the path before the 0x00 in v[0:n] (the volume and file records),
 * or -1 without one. */
static long path_end(const uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == 0)
			return (long)i;
	return -1;
}

/* Compares two byte strings as Go's bytes.Compare does. */
static int bcmp_(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static int check_value(const struct rule *r, const uint8_t *v, size_t n)
{
	if (r->form == F_U32)
		return n == 4 && le32(v) <= r->max;
	if (r->form == F_U32NZ)
		return n == 4 && le32(v) >= 1 && le32(v) <= r->max;
	if (n < r->min || n > r->max)
		return 0;
	long e;
	switch (r->form) {
	case F_TEXT:
		return utf8_text(v, n);
	case F_NONUL:
		return no_nul(v, n);
	case F_POLICY:
		return policy_name(v, n);
	case F_POINT:
		return p256_point(v);
	case F_VOLUME:
		e = path_end(v, n);
		return e > 0 && n - (size_t)e - 1 == CASMSG_KEY && clean_path(v, (size_t)e);
	case F_ENV:
		if (!no_nul(v, n))
			return 0;
		for (size_t i = 0; i < n; i++)
			if (v[i] == '=')
				return env_name(v, i);
		return 0;
	case F_FILE:
		if (le32(v) & ~0777u)
			return 0;
		e = path_end(v + 4, n - 4);
		return e > 0 && clean_path(v + 4, (size_t)e);
	case F_FRESH: {
		e = path_end(v, n);
		if (e <= 0 || n - (size_t)e - 1 != 12 || !clean_path(v, (size_t)e))
			return 0;
		uint32_t mode = le32(v + e + 1), iv = le32(v + e + 5), flags = le32(v + e + 9);
		if (flags & ~CASMSG_FRESH_ALLOW_REINIT)
			return 0;
		if (mode == CASMSG_FRESH_EVERY_FSYNC)
			return iv == 0;
		return mode == CASMSG_FRESH_INTERVAL && iv >= 1 && iv <= CASMSG_FRESH_MAX_INTERVAL;
	}
	case F_PATH:
		return clean_path(v, n);
	default:
		return 1;
	}
}

/* The key that orders repeated records (path or variable name). */
static void sort_key(const struct rule *r, const uint8_t *v, size_t n, const uint8_t **k, size_t *kl)
{
	*k = v;
	*kl = n;
	if (r->form == F_VOLUME || r->form == F_FRESH)
		*kl = (size_t)path_end(v, n);
	else if (r->form == F_FILE)
		*k = v + 4, *kl = (size_t)path_end(v + 4, n - 4);
	else if (r->form == F_ENV)
		for (size_t i = 0; i < n; i++)
			if (v[i] == '=') {
				*kl = i;
				break;
			}
}

int casmsg_parse(const uint8_t *buf, size_t len, uint16_t type, struct casmsg_rec **recs, size_t *nrecs)
{
	*recs = NULL;
	*nrecs = 0;
	const struct rule *rules = rules_of(type);
	if (len > CASMSG_MAX)
		return CASMSG_ETOOBIG;
	if (!rules || len < CASMSG_HDR || memcmp(buf, CASMSG_MAGIC, 4) || le16(buf + 4) != CASMSG_VERSION ||
	    le16(buf + 6) != type)
		return CASMSG_EFORMAT;
	/* count first: every record needs at least its 6-byte header */
	size_t n = 0;
	for (size_t off = CASMSG_HDR; off < len; n++) {
		if (len - off < 6 || le32(buf + off + 2) > len - off - 6)
			return CASMSG_EFORMAT;
		off += 6 + le32(buf + off + 2);
	}
	struct casmsg_rec *out = rt_calloc(n ? n : 1, sizeof *out);
	if (!out)
		return CASMSG_ENOMEM;
	const struct rule *r = rules;
	int seen = 0, err = 0;
	const uint8_t *pk = NULL;
	size_t pkl = 0;
	size_t off = CASMSG_HDR;
	for (size_t i = 0; i < n && !err; i++) {
		uint16_t tag = le16(buf + off);
		uint32_t vl = le32(buf + off + 2);
		const uint8_t *v = buf + off + 6;
		off += 6 + vl;
		if (seen && r->tag == tag && !(r->flags & R_REP)) {
			err = CASMSG_ETAG; /* a duplicate */
			break;
		}
		if (!seen || r->tag != tag) {
			/* move on to tag's rule; the skipped ones must be optional */
			if (seen)
				r++;
			while (r->tag && r->tag < tag) {
				if (r->flags & R_REQ)
					err = CASMSG_EMISSING;
				r++;
			}
			if (err)
				break;
			if (r->tag != tag) {
				err = CASMSG_ETAG;
				break;
			}
			seen = 0;
			pk = NULL;
		}
		if (!check_value(r, v, vl)) {
			err = CASMSG_EVALUE;
			break;
		}
		if ((r->flags & R_REP) && r->form != F_NONUL) {
			const uint8_t *k;
			size_t kl;
			sort_key(r, v, vl, &k, &kl);
			if (pk && bcmp_(pk, pkl, k, kl) >= 0) {
				err = CASMSG_ETAG; /* by path or name, strictly ascending */
				break;
			}
			pk = k;
			pkl = kl;
		}
		seen = 1;
		out[i] = (struct casmsg_rec){tag, vl, v};
	}
	if (!err) {
		if (seen)
			r++;
		for (; r->tag; r++)
			if (r->flags & R_REQ)
				err = CASMSG_EMISSING;
	}
	if (err) {
		rt_free(out);
		return err;
	}
	*recs = out;
	*nrecs = n;
	return 0;
}

/* ---- typed decoders ---- */

int casmsg_decode_request(const uint8_t *buf, size_t len, struct casmsg_request *out)
{
	struct casmsg_rec *r;
	size_t n;
	memset(out, 0, sizeof *out);
	int e = casmsg_parse(buf, len, CASMSG_ATTEST_REQUEST, &r, &n);
	if (e)
		return e;
	for (size_t i = 0; i < n; i++) {
		switch (r[i].tag) {
		case CASMSG_REQ_POLICY:
			out->policy = (const char *)r[i].v, out->policy_len = r[i].len;
			break;
		case CASMSG_REQ_NONCE:
			out->nonce = r[i].v;
			break;
		case CASMSG_REQ_SESSION_KEY:
			out->session_key = r[i].v;
			break;
		case CASMSG_REQ_QUOTE:
			out->quote = r[i].v, out->quote_len = r[i].len;
			break;
		case CASMSG_REQ_CLIENT:
			out->client = (const char *)r[i].v, out->client_len = r[i].len;
			break;
		}
	}
	rt_free(r);
	return 0;
}

int casmsg_decode_response(const uint8_t *buf, size_t len, struct casmsg_response *out)
{
	struct casmsg_rec *r;
	size_t n;
	memset(out, 0, sizeof *out);
	int e = casmsg_parse(buf, len, CASMSG_ATTEST_RESPONSE, &r, &n);
	if (e)
		return e;
	for (size_t i = 0; i < n; i++) {
		switch (r[i].tag) {
		case CASMSG_RESP_STATUS:
			out->status = le32(r[i].v);
			break;
		case CASMSG_RESP_REASON:
			out->reason = (const char *)r[i].v, out->reason_len = r[i].len;
			break;
		case CASMSG_RESP_SIMULATION:
			out->simulation = le32(r[i].v);
			break;
		case CASMSG_RESP_POLICY_HASH:
			out->policy_hash = r[i].v;
			break;
		case CASMSG_RESP_CAS_KEY:
			out->cas_key = r[i].v;
			break;
		case CASMSG_RESP_SEALED:
			out->sealed = r[i].v, out->sealed_len = r[i].len;
			break;
		}
	}
	rt_free(r);
	int released = out->status == CASMSG_RELEASED;
	int have = !!out->policy_hash + !!out->cas_key + !!out->sealed;
	if (released ? (have != 3 || out->reason) : !out->reason)
		e = CASMSG_EMISSING;
	else if (!released && have)
		e = CASMSG_ETAG;
	if (e)
		memset(out, 0, sizeof *out);
	return e;
}

static char *dup0(const uint8_t *v, size_t n)
{
	char *s = rt_malloc(n + 1);
	if (s) {
		if (n)
			memcpy(s, v, n);
		s[n] = 0;
	}
	return s;
}

static void wipe_str(char *s)
{
	if (!s)
		return;
	volatile char *p = s;
	while (*p)
		*p++ = 0;
	rt_free(s);
}

static void wipe(void *p, size_t n)
{
	volatile uint8_t *v = p;
	while (n--)
		*v++ = 0;
}

void casmsg_secrets_free(struct casmsg_secrets *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->volumes && i < s->nvolumes; i++) {
		wipe_str(s->volumes[i].path);
		wipe(s->volumes[i].key, CASMSG_KEY);
	}
	rt_free(s->volumes);
	for (size_t i = 0; s->env && i < s->nenv; i++)
		wipe_str(s->env[i]);
	rt_free(s->env);
	for (size_t i = 0; s->args && i < s->nargs; i++)
		wipe_str(s->args[i]);
	rt_free(s->args);
	for (size_t i = 0; s->files && i < s->nfiles; i++) {
		wipe_str(s->files[i].path);
		if (s->files[i].data) {
			wipe(s->files[i].data, s->files[i].len);
			rt_free(s->files[i].data);
		}
	}
	rt_free(s->files);
	for (size_t i = 0; s->fresh && i < s->nfresh; i++)
		wipe_str(s->fresh[i].path);
	rt_free(s->fresh);
	wipe(s, sizeof *s);
}

int casmsg_decode_secrets(const uint8_t *buf, size_t len, struct casmsg_secrets *out)
{
	struct casmsg_rec *r;
	size_t n;
	memset(out, 0, sizeof *out);
	int e = casmsg_parse(buf, len, CASMSG_SECRETS, &r, &n);
	if (e)
		return e;
	size_t nv = 0, ne = 0, na = 0, nf = 0, nfr = 0;
	for (size_t i = 0; i < n; i++) {
		nv += r[i].tag == CASMSG_SEC_VOLUME_KEY;
		ne += r[i].tag == CASMSG_SEC_ENV;
		na += r[i].tag == CASMSG_SEC_ARG;
		nf += r[i].tag == CASMSG_SEC_FILE;
		nfr += r[i].tag == CASMSG_SEC_VOLUME_FRESHNESS;
		out->args_set |= r[i].tag == CASMSG_SEC_ARGS_SET;
	}
	if (na && !out->args_set) {
		rt_free(r);
		return CASMSG_EMISSING; /* arguments without "args set" */
	}
	out->volumes = rt_calloc(nv + 1, sizeof *out->volumes);
	out->env = rt_calloc(ne + 1, sizeof *out->env);
	out->args = rt_calloc(na + 1, sizeof *out->args);
	out->files = rt_calloc(nf + 1, sizeof *out->files);
	out->fresh = rt_calloc(nfr + 1, sizeof *out->fresh);
	e = out->volumes && out->env && out->args && out->files && out->fresh ? 0 : CASMSG_ENOMEM;
	for (size_t i = 0; i < n && !e; i++) {
		const uint8_t *v = r[i].v;
		size_t vl = r[i].len, pl;
		switch (r[i].tag) {
		case CASMSG_SEC_FS_KEY:
			out->has_fs_key = 1;
			memcpy(out->fs_key, v, CASMSG_KEY);
			break;
		case CASMSG_SEC_VOLUME_KEY: {
			struct casmsg_volume_key *k = &out->volumes[out->nvolumes];
			pl = (size_t)path_end(v, vl);
			if (!(k->path = dup0(v, pl)))
				e = CASMSG_ENOMEM;
			else
				memcpy(k->key, v + pl + 1, CASMSG_KEY), out->nvolumes++;
			break;
		}
		case CASMSG_SEC_ENV:
			if (!(out->env[out->nenv] = dup0(v, vl)))
				e = CASMSG_ENOMEM;
			else
				out->nenv++;
			break;
		case CASMSG_SEC_ARG:
			if (!(out->args[out->nargs] = dup0(v, vl)))
				e = CASMSG_ENOMEM;
			else
				out->nargs++;
			break;
		case CASMSG_SEC_FILE: {
			struct casmsg_file *f = &out->files[out->nfiles];
			pl = (size_t)path_end(v + 4, vl - 4);
			f->mode = le32(v);
			f->len = vl - 4 - pl - 1;
			f->path = dup0(v + 4, pl);
			f->data = rt_malloc(f->len ? f->len : 1);
			if (!f->path || !f->data) {
				rt_free(f->data);
				f->data = NULL;
				wipe_str(f->path);
				f->path = NULL;
				e = CASMSG_ENOMEM;
				break;
			}
			if (f->len)
				memcpy(f->data, v + 4 + pl + 1, f->len);
			out->nfiles++;
			break;
		}
		case CASMSG_SEC_VOLUME_FRESHNESS: {
			struct casmsg_volume_fresh *f = &out->fresh[out->nfresh];
			pl = (size_t)path_end(v, vl);
			if (!(f->path = dup0(v, pl))) {
				e = CASMSG_ENOMEM;
				break;
			}
			f->mode = le32(v + pl + 1);
			f->interval_ms = le32(v + pl + 5);
			f->allow_reinit = (le32(v + pl + 9) & CASMSG_FRESH_ALLOW_REINIT) != 0;
			out->nfresh++;
			break;
		}
		}
	}
	rt_free(r);
	if (e)
		casmsg_secrets_free(out);
	return e;
}

/* ---- volume state ---- */

#define CASMSG_VOL_MAC_HDR 6 /* the MAC record's tag and length */

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

int casmsg_volume_request(const uint8_t session[CASMSG_HASH], const char *path, uint32_t op, uint64_t version,
			  const uint8_t root[CASMSG_HASH], const uint8_t key[CASMSG_KEY], uint8_t mac[CASMSG_MAC],
			  uint8_t **out, size_t *out_len)
{
	size_t pl = strlen(path);
	if (pl < 2 || pl > CASMSG_MAX_PATH || !clean_path((const uint8_t *)path, pl) || op < CASMSG_VOL_GET ||
	    op > CASMSG_VOL_REINIT)
		return CASMSG_EVALUE;
	struct casmsg_writer w;
	uint8_t u[8];
	casmsg_begin(&w, CASMSG_VOLUME_REQUEST);
	casmsg_put(&w, CASMSG_VOL_SESSION, session, CASMSG_HASH);
	casmsg_put(&w, CASMSG_VOL_PATH, path, pl);
	put32(u, op);
	casmsg_put(&w, CASMSG_VOL_OP, u, 4);
	put64(u, version);
	casmsg_put(&w, CASMSG_VOL_VERSION, u, 8);
	casmsg_put(&w, CASMSG_VOL_ROOT, root, CASMSG_HASH);
	if (!w.err) {
		br_hmac_key_context kc;
		br_hmac_context hc;
		br_hmac_key_init(&kc, &br_sha256_vtable, key, CASMSG_KEY);
		br_hmac_init(&hc, &kc, 0);
		br_hmac_update(&hc, w.b, w.len);
		br_hmac_out(&hc, mac);
		memset(&kc, 0, sizeof kc);
		memset(&hc, 0, sizeof hc);
	}
	casmsg_put(&w, CASMSG_VOL_MAC, mac, CASMSG_MAC);
	int e = casmsg_end(&w);
	if (e)
		return e;
	*out = w.b;
	*out_len = w.len;
	return 0;
}

int casmsg_decode_volume_response(const uint8_t *buf, size_t len, const uint8_t key[CASMSG_KEY],
				  const uint8_t req_mac[CASMSG_MAC], struct casmsg_volume_response *out)
{
	struct casmsg_rec *r;
	size_t n;
	memset(out, 0, sizeof *out);
	int e = casmsg_parse(buf, len, CASMSG_VOLUME_RESPONSE, &r, &n);
	if (e)
		return e;
	const uint8_t *got = NULL;
	for (size_t i = 0; i < n; i++) {
		switch (r[i].tag) {
		case CASMSG_VOL_VERSION:
			out->version = le64(r[i].v);
			break;
		case CASMSG_VOL_ROOT:
			out->root = r[i].v;
			break;
		case CASMSG_VOL_MAC:
			got = r[i].v;
			break;
		case CASMSG_VOL_STATUS:
			out->status = le32(r[i].v);
			break;
		case CASMSG_VOL_REASON:
			out->reason = (const char *)r[i].v, out->reason_len = r[i].len;
			break;
		}
	}
	rt_free(r);
	/* MAC = HMAC(key, request MAC || the message before the MAC record ||
	 * the records after it) */
	size_t body = (size_t)(got - CASMSG_VOL_MAC_HDR - buf), tail = (size_t)(got + CASMSG_MAC - buf);
	uint8_t want[CASMSG_MAC];
	br_hmac_key_context kc;
	br_hmac_context hc;
	br_hmac_key_init(&kc, &br_sha256_vtable, key, CASMSG_KEY);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, req_mac, CASMSG_MAC);
	br_hmac_update(&hc, buf, body);
	br_hmac_update(&hc, buf + tail, len - tail);
	br_hmac_out(&hc, want);
	unsigned diff = 0;
	for (size_t i = 0; i < CASMSG_MAC; i++)
		diff |= (unsigned)(want[i] ^ got[i]);
	out->authentic = diff == 0;
	memset(&kc, 0, sizeof kc);
	memset(&hc, 0, sizeof hc);
	return 0;
}
