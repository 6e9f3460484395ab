/* TLS credentials from PEM (tlscred.h). */
#include <string.h>

#include "tlscred.h"
#include "ecfast.h"
#include "rt_alloc.h"

/* A growable byte buffer (rt_malloc). */
struct vec {
	unsigned char *p;
	size_t n, cap;
	int oom;
};

static void vec_append(void *ctx, const void *buf, size_t len)
{
	struct vec *v = ctx;
	if (v->oom)
		return;
	if (v->n + len > v->cap) {
		size_t cap = v->cap ? v->cap : 1024;
		while (cap < v->n + len)
			cap *= 2;
		unsigned char *p = rt_malloc(cap);
		if (!p) {
			v->oom = 1;
			return;
		}
		if (v->n)
			memcpy(p, v->p, v->n);
		if (v->p) {
			memset(v->p, 0, v->n); /* may be key material */
			rt_free(v->p);
		}
		v->p = p;
		v->cap = cap;
	}
	memcpy(v->p + v->n, buf, len);
	v->n += len;
}

static void vec_free(struct vec *v)
{
	if (v->p) {
		memset(v->p, 0, v->cap);
		rt_free(v->p);
	}
	memset(v, 0, sizeof *v);
}

static int streq(const char *a, const char *b) { return strlen(a) == strlen(b) && !memcmp(a, b, strlen(a)); }

/* Calls fn for every PEM object of pem[0:len]: its name and DER bytes. A
 * non-zero return of fn stops the walk and is returned. */
static int pem_each(const uint8_t *pem, size_t len, int (*fn)(void *ctx, const char *name, struct vec *der), void *ctx)
{
	br_pem_decoder_context pc;
	struct vec der = {0};
	char name[128];
	int inobj = 0, r = 0;
	br_pem_decoder_init(&pc);
	/* A final newline closes an object whose END line lacks one. */
	for (int pass = 0; pass < 2 && !r; pass++) {
		const uint8_t *p = pass ? (const uint8_t *)"\n" : pem;
		size_t n = pass ? 1 : len;
		while (n > 0 && !r) {
			size_t k = br_pem_decoder_push(&pc, p, n);
			p += k;
			n -= k;
			switch (br_pem_decoder_event(&pc)) {
			case BR_PEM_BEGIN_OBJ: {
				const char *nm = br_pem_decoder_name(&pc);
				size_t l = strlen(nm);
				if (l >= sizeof name)
					l = sizeof name - 1;
				memcpy(name, nm, l);
				name[l] = 0;
				vec_free(&der);
				br_pem_decoder_setdest(&pc, vec_append, &der);
				inobj = 1;
				break;
			}
			case BR_PEM_END_OBJ:
				inobj = 0;
				r = der.oom ? TLSCRED_ENOMEM : fn(ctx, name, &der);
				vec_free(&der);
				break;
			case BR_PEM_ERROR:
				r = TLSCRED_EPEM;
				break;
			default:
				break;
			}
		}
	}
	if (!r && inobj)
		r = TLSCRED_EPEM; /* truncated object */
	vec_free(&der);
	return r;
}

static int is_cert(const char *name) { return streq(name, "CERTIFICATE") || streq(name, "X509 CERTIFICATE"); }

/* ---- certificate chains ---- */

struct chain_walk {
	struct tlscred_chain *c;
};

/* Decodes der as a certificate: its key type and its signer's. */
static int cert_types(const unsigned char *der, size_t n, int *key_type, int *signer_type)
{
	br_x509_decoder_context dc;
	br_x509_decoder_init(&dc, 0, 0);
	br_x509_decoder_push(&dc, der, n);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (!pk || br_x509_decoder_last_error(&dc))
		return TLSCRED_ECERT;
	*key_type = pk->key_type;
	*signer_type = br_x509_decoder_get_signer_key_type(&dc);
	return 0;
}

static int chain_obj(void *ctx, const char *name, struct vec *der)
{
	struct tlscred_chain *c = ((struct chain_walk *)ctx)->c;
	if (!is_cert(name))
		return 0;
	if (c->n == TLSCRED_MAX_CHAIN)
		return TLSCRED_ETOOMANY;
	int kt, st;
	if (cert_types(der->p, der->n, &kt, &st))
		return TLSCRED_ECERT;
	if (c->n == 0) {
		c->key_type = kt;
		c->issuer_key_type = st;
	}
	unsigned char *copy = rt_malloc(der->n);
	if (!copy)
		return TLSCRED_ENOMEM;
	memcpy(copy, der->p, der->n);
	c->certs[c->n].data = copy;
	c->certs[c->n].data_len = der->n;
	c->n++;
	return 0;
}

int tlscred_chain_parse(const uint8_t *pem, size_t len, struct tlscred_chain *out)
{
	memset(out, 0, sizeof *out);
	out->certs = rt_calloc(TLSCRED_MAX_CHAIN, sizeof *out->certs);
	if (!out->certs)
		return TLSCRED_ENOMEM;
	struct chain_walk w = {out};
	int r = pem_each(pem, len, chain_obj, &w);
	if (!r && out->n == 0)
		r = TLSCRED_ENONE;
	if (r)
		tlscred_chain_free(out);
	return r;
}

void tlscred_chain_free(struct tlscred_chain *c)
{
	for (size_t i = 0; c->certs && i < c->n; i++)
		rt_free(c->certs[i].data);
	rt_free(c->certs);
	memset(c, 0, sizeof *c);
}

/* ---- private keys ---- */

struct key_walk {
	struct tlscred_key *k;
	int found;
};

static int copy_key(struct tlscred_key *k, const br_skey_decoder_context *sd)
{
	if (br_skey_decoder_key_type(sd) == BR_KEYTYPE_RSA) {
		const br_rsa_private_key *s = br_skey_decoder_get_rsa(sd);
		size_t n = s->plen + s->qlen + s->dplen + s->dqlen + s->iqlen;
		unsigned char *b = rt_malloc(n);
		if (!b)
			return TLSCRED_ENOMEM;
		k->type = BR_KEYTYPE_RSA;
		k->buf = b;
		k->len = n;
		k->rsa.n_bitlen = s->n_bitlen;
		const struct {
			const unsigned char *src;
			size_t len;
			unsigned char **dst;
			size_t *dlen;
		} parts[] = {{s->p, s->plen, &k->rsa.p, &k->rsa.plen},
			     {s->q, s->qlen, &k->rsa.q, &k->rsa.qlen},
			     {s->dp, s->dplen, &k->rsa.dp, &k->rsa.dplen},
			     {s->dq, s->dqlen, &k->rsa.dq, &k->rsa.dqlen},
			     {s->iq, s->iqlen, &k->rsa.iq, &k->rsa.iqlen}};
		for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
			memcpy(b, parts[i].src, parts[i].len);
			*parts[i].dst = b;
			*parts[i].dlen = parts[i].len;
			b += parts[i].len;
		}
		return 0;
	}
	if (br_skey_decoder_key_type(sd) == BR_KEYTYPE_EC) {
		const br_ec_private_key *s = br_skey_decoder_get_ec(sd);
		unsigned char *b = rt_malloc(s->xlen);
		if (!b)
			return TLSCRED_ENOMEM;
		memcpy(b, s->x, s->xlen);
		k->type = BR_KEYTYPE_EC;
		k->buf = b;
		k->len = s->xlen;
		k->ec.curve = s->curve;
		k->ec.x = b;
		k->ec.xlen = s->xlen;
		return 0;
	}
	return TLSCRED_EKEY;
}

static int key_obj(void *ctx, const char *name, struct vec *der)
{
	struct key_walk *w = ctx;
	if (!streq(name, "RSA PRIVATE KEY") && !streq(name, "EC PRIVATE KEY") && !streq(name, "PRIVATE KEY"))
		return 0;
	if (w->found)
		return TLSCRED_ETOOMANY; /* two keys: which one? */
	br_skey_decoder_context sd;
	br_skey_decoder_init(&sd);
	br_skey_decoder_push(&sd, der->p, der->n);
	int r = br_skey_decoder_last_error(&sd) ? TLSCRED_EKEY : copy_key(w->k, &sd);
	memset(&sd, 0, sizeof sd);
	if (!r)
		w->found = 1;
	return r;
}

int tlscred_key_parse(const uint8_t *pem, size_t len, struct tlscred_key *out)
{
	memset(out, 0, sizeof *out);
	struct key_walk w = {out, 0};
	int r = pem_each(pem, len, key_obj, &w);
	if (!r && !w.found)
		r = TLSCRED_ENONE;
	if (r)
		tlscred_key_free(out);
	return r;
}

void tlscred_key_free(struct tlscred_key *k)
{
	if (k->buf) {
		memset(k->buf, 0, k->len);
		rt_free(k->buf);
	}
	memset(k, 0, sizeof *k);
}

/* Whether b[0:bn] and a[0:an] are the same big-endian number. */
static int same_int(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
	while (an && !*a)
		a++, an--;
	while (bn && !*b)
		b++, bn--;
	return an == bn && !memcmp(a, b, an);
}

int tlscred_key_matches(const struct tlscred_chain *c, const struct tlscred_key *key)
{
	if (!c->n || c->key_type != key->type)
		return TLSCRED_EMISMATCH;
	br_x509_decoder_context dc;
	br_x509_decoder_init(&dc, 0, 0);
	br_x509_decoder_push(&dc, c->certs[0].data, c->certs[0].data_len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (!pk)
		return TLSCRED_ECERT;
	if (key->type == BR_KEYTYPE_RSA) {
		br_rsa_compute_modulus mod = br_rsa_compute_modulus_get_default();
		size_t n = mod(0, &key->rsa);
		unsigned char *buf = n ? rt_malloc(n) : 0;
		if (!buf)
			return n ? TLSCRED_ENOMEM : TLSCRED_EMISMATCH;
		int ok = mod(buf, &key->rsa) == n && same_int(buf, n, pk->key.rsa.n, pk->key.rsa.nlen);
		rt_free(buf);
		return ok ? 0 : TLSCRED_EMISMATCH;
	}
	unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
	br_ec_public_key pub;
	size_t n = br_ec_compute_pub(&rt_ec_fast, &pub, q, &key->ec);
	if (!n || pub.curve != pk->key.ec.curve || pub.qlen != pk->key.ec.qlen || memcmp(pub.q, pk->key.ec.q, pub.qlen))
		return TLSCRED_EMISMATCH;
	return 0;
}

/* ---- trust anchors ---- */

struct anchor_walk {
	struct tlscred_anchors *a;
	size_t cap;
};

static unsigned char *dup_bytes(const unsigned char *p, size_t n)
{
	unsigned char *d = rt_malloc(n ? n : 1);
	if (d && n)
		memcpy(d, p, n);
	return d;
}

static void anchor_free(br_x509_trust_anchor *ta)
{
	rt_free(ta->dn.data);
	if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
		rt_free(ta->pkey.key.rsa.n);
		rt_free(ta->pkey.key.rsa.e);
	} else if (ta->pkey.key_type == BR_KEYTYPE_EC) {
		rt_free(ta->pkey.key.ec.q);
	}
	memset(ta, 0, sizeof *ta);
}

static int anchor_obj(void *ctx, const char *name, struct vec *der)
{
	struct anchor_walk *w = ctx;
	struct tlscred_anchors *a = w->a;
	if (!is_cert(name))
		return 0;
	if (a->n == TLSCRED_MAX_ANCHORS)
		return TLSCRED_ETOOMANY;
	if (a->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		br_x509_trust_anchor *t = rt_calloc(cap, sizeof *t);
		if (!t)
			return TLSCRED_ENOMEM;
		if (a->n)
			memcpy(t, a->ta, a->n * sizeof *t);
		rt_free(a->ta);
		a->ta = t;
		w->cap = cap;
	}
	struct vec dn = {0};
	br_x509_decoder_context dc;
	br_x509_decoder_init(&dc, vec_append, &dn);
	br_x509_decoder_push(&dc, der->p, der->n);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (!pk || br_x509_decoder_last_error(&dc) || dn.oom) {
		int r = dn.oom ? TLSCRED_ENOMEM : TLSCRED_ECERT;
		vec_free(&dn);
		return r;
	}
	br_x509_trust_anchor *ta = &a->ta[a->n];
	memset(ta, 0, sizeof *ta);
	ta->dn.data = dup_bytes(dn.p, dn.n);
	ta->dn.len = dn.n;
	vec_free(&dn);
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	int ok = ta->dn.data != 0;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
		ok = ok && ta->pkey.key.rsa.n && ta->pkey.key.rsa.e;
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
		ok = ok && ta->pkey.key.ec.q;
	} else {
		anchor_free(ta);
		return TLSCRED_ECERT;
	}
	if (!ok) {
		anchor_free(ta);
		return TLSCRED_ENOMEM;
	}
	a->n++;
	return 0;
}

int tlscred_anchors_parse(const uint8_t *pem, size_t len, struct tlscred_anchors *out)
{
	memset(out, 0, sizeof *out);
	struct anchor_walk w = {out, 0};
	int r = pem_each(pem, len, anchor_obj, &w);
	if (!r && out->n == 0)
		r = TLSCRED_ENONE;
	if (r)
		tlscred_anchors_free(out);
	return r;
}

void tlscred_anchors_free(struct tlscred_anchors *a)
{
	for (size_t i = 0; a->ta && i < a->n; i++)
		anchor_free(&a->ta[i]);
	rt_free(a->ta);
	memset(a, 0, sizeof *a);
}

const char *tlscred_strerror(int err)
{
	switch (err) {
	case TLSCRED_OK:
		return "ok";
	case TLSCRED_EPEM:
		return "not a PEM file";
	case TLSCRED_ENONE:
		return "no object of the expected kind in the PEM file";
	case TLSCRED_ECERT:
		return "malformed certificate";
	case TLSCRED_EKEY:
		return "malformed or unsupported private key (RSA or EC, unencrypted PKCS#1, SEC 1 or PKCS#8)";
	case TLSCRED_ENOMEM:
		return "out of memory";
	case TLSCRED_ETOOMANY:
		return "too many objects (or two private keys) in the PEM file";
	case TLSCRED_EMISMATCH:
		return "the private key does not belong to the first certificate";
	default:
		return "unknown error";
	}
}
