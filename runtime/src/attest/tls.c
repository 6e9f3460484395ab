/* Pinned TLS client (tls.h). */
#include <bearssl.h>

#include "tls.h"
#include "net.h"
#include "random.h"
#include "rt_alloc.h"
#include "rtstring.h"

/* DER SubjectPublicKeyInfo of a P-256 key, up to the point (docs/cas.md). */
static const uint8_t spki_prefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
				      0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};

void tls_cas_id(const uint8_t q[65], uint8_t id[32])
{
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, spki_prefix, sizeof spki_prefix);
	br_sha256_update(&h, q, 65);
	br_sha256_out(&h, id);
}

/* The X.509 "engine": decodes the leaf certificate and pins its key. */
struct pin {
	const br_x509_class *vtable;
	br_x509_decoder_context dec;
	unsigned index;
	int result; /* TLS_OK, TLS_EPIN, TLS_EKEY */
	const uint8_t *want;
	uint8_t got[32];
	uint8_t q[65];
	br_x509_pkey pkey;
};

static void pin_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct pin *p = (struct pin *)(void *)ctx;
	(void)server_name; /* the CAS ID, not a name, identifies the CAS */
	p->index = 0;
	p->result = TLS_EKEY;
}

static void pin_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct pin *p = (struct pin *)(void *)ctx;
	(void)length;
	if (p->index == 0)
		br_x509_decoder_init(&p->dec, 0, 0);
}

static void pin_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct pin *p = (struct pin *)(void *)ctx;
	if (p->index == 0)
		br_x509_decoder_push(&p->dec, buf, len);
}

static void pin_end_cert(const br_x509_class **ctx)
{
	struct pin *p = (struct pin *)(void *)ctx;
	if (p->index++ != 0)
		return; /* only the leaf matters */
	const br_x509_pkey *k = br_x509_decoder_get_pkey(&p->dec);
	if (br_x509_decoder_last_error(&p->dec) || !k || k->key_type != BR_KEYTYPE_EC ||
	    k->key.ec.curve != BR_EC_secp256r1 || k->key.ec.qlen != 65 || k->key.ec.q[0] != 4)
		return; /* TLS_EKEY */
	memcpy(p->q, k->key.ec.q, 65);
	tls_cas_id(p->q, p->got);
	p->result = memcmp(p->got, p->want, 32) ? TLS_EPIN : TLS_OK;
	p->pkey.key_type = BR_KEYTYPE_EC;
	p->pkey.key.ec.curve = BR_EC_secp256r1;
	p->pkey.key.ec.q = p->q;
	p->pkey.key.ec.qlen = 65;
}

static unsigned pin_end_chain(const br_x509_class **ctx)
{
	struct pin *p = (struct pin *)(void *)ctx;
	if (p->index == 0)
		return BR_ERR_X509_EMPTY_CHAIN;
	return p->result == TLS_OK ? 0 : BR_ERR_X509_NOT_TRUSTED;
}

static const br_x509_pkey *pin_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct pin *p = (struct pin *)(void *)ctx;
	if (p->result != TLS_OK)
		return NULL;
	if (usages)
		*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return &p->pkey;
}

static const br_x509_class pin_vtable = {sizeof(struct pin), pin_start_chain, pin_start_cert, pin_append,
					 pin_end_cert,	     pin_end_chain,   pin_get_pkey};

struct tls_conn {
	br_ssl_client_context cc;
	br_sslio_context io;
	struct pin pin;
	int fd;
	uint8_t buf[BR_SSL_BUFSIZE_BIDI];
};

static int low_read(void *ctx, unsigned char *buf, size_t len)
{
	long r = casnet_recv(*(int *)ctx, buf, len);
	return r > 0 ? (int)r : -1;
}

static int low_write(void *ctx, const unsigned char *buf, size_t len)
{
	long r = casnet_send(*(int *)ctx, buf, len);
	return r > 0 ? (int)r : -1;
}

/* A client that speaks only what the CAS offers (docs/cas.md). */
static void profile(br_ssl_client_context *cc)
{
	static const uint16_t suites[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	};
	br_ssl_engine_context *e = &cc->eng;
	br_ssl_client_zero(cc);
	br_ssl_engine_set_versions(e, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(e, suites, sizeof suites / sizeof suites[0]);
	br_ssl_engine_set_hash(e, br_sha256_ID, &br_sha256_vtable);
	br_ssl_engine_set_hash(e, br_sha384_ID, &br_sha384_vtable);
	br_ssl_engine_set_hash(e, br_sha512_ID, &br_sha512_vtable);
	br_ssl_engine_set_prf_sha256(e, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(e, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_ecdsa(e); /* ECDHE curves and ECDSA verification */
	br_ssl_engine_set_default_aes_gcm(e);
	br_ssl_engine_set_default_chapol(e);
}

int tls_open(struct tls_conn **out, int fd, const char *sni, const uint8_t pin[32], uint8_t got[32], int *err)
{
	*out = NULL;
	*err = 0;
	struct tls_conn *c = rt_calloc(1, sizeof *c);
	if (!c) {
		casnet_close(fd);
		return TLS_ENOMEM;
	}
	c->fd = fd;
	profile(&c->cc);
	c->pin.vtable = &pin_vtable;
	c->pin.want = pin;
	br_ssl_engine_set_x509(&c->cc.eng, &c->pin.vtable);
	br_ssl_engine_set_buffer(&c->cc.eng, c->buf, sizeof c->buf, 1);
	/* Randomness from inside the enclave only: seed the engine from the
	 * runtime's generator and mark the OS seeding as done, so BearSSL
	 * never asks the host (core/random.c: the system seeder is the CPU generator). */
	uint8_t seed[48];
	rt_random(seed, sizeof seed);
	br_ssl_engine_inject_entropy(&c->cc.eng, seed, sizeof seed);
	rt_memzero(seed, sizeof seed);
	c->cc.eng.rng_os_rand_done = 1;
	int r = TLS_EFAIL;
	if (br_ssl_client_reset(&c->cc, sni, 0)) {
		br_sslio_init(&c->io, &c->cc.eng, low_read, &c->fd, low_write, &c->fd);
		/* the handshake: no application byte is sent before it succeeds */
		if (br_sslio_flush(&c->io) == 0)
			r = TLS_OK;
	}
	if (r != TLS_OK) {
		*err = br_ssl_engine_last_error(&c->cc.eng);
		if (c->pin.index > 0 && c->pin.result != TLS_OK)
			r = c->pin.result;
		memcpy(got, c->pin.got, 32);
		tls_close(c);
		return r;
	}
	*out = c;
	return TLS_OK;
}

int tls_write(struct tls_conn *c, const void *b, size_t n) { return br_sslio_write_all(&c->io, b, n) ? -1 : 0; }

int tls_flush(struct tls_conn *c) { return br_sslio_flush(&c->io) ? -1 : 0; }

long tls_read(struct tls_conn *c, void *b, size_t n)
{
	int r = br_sslio_read(&c->io, b, n);
	if (r > 0)
		return r;
	/* the server's close_notify, or a plain close after it sent all */
	int e = br_ssl_engine_last_error(&c->cc.eng);
	return e == BR_ERR_OK || e == BR_ERR_IO ? 0 : -1;
}

int tls_error(const struct tls_conn *c) { return br_ssl_engine_last_error(&c->cc.eng); }

void tls_close(struct tls_conn *c)
{
	if (!c)
		return;
	/* No close_notify: every response is read to its Content-Length, and
	 * waiting for the server's answer to one could only add a timeout. */
	casnet_close(c->fd);
	rt_memzero(c, sizeof *c);
	rt_free(c);
}
