/* Console-shield record writer; see console.h and docs/console.md. */
#include <string.h>
#include <linux/errno.h>
#include <bearssl.h>

#include "console.h"
#include "rt_alloc.h"

struct console_stream {
	union {
		const br_block_ctr_class *vtable;
		br_aes_ct64_ctr_keys ct64;
		br_aes_x86ni_ctr_keys x86ni;
	} aes;
	br_gcm_context gcm;
	uint8_t header[CONSOLE_HDR_LEN];
	int header_sent;
	int state; /* 0 open, 1 finished, 2 broken */
	uint64_t seq;
	size_t max_record; /* plaintext bytes per record; 0: CONSOLE_MAX_RECORD */
	uint8_t *buf;	   /* header + record header + CONSOLE_MAX_RECORD + tag */
};

#define CONSOLE_BUF_LEN (CONSOLE_HDR_LEN + CONSOLE_REC_HDR_LEN + CONSOLE_MAX_RECORD + CONSOLE_TAG_LEN)

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void wipe(void *p, size_t n)
{
	volatile uint8_t *q = p;
	while (n--)
		*q++ = 0;
}

static void hkdf(const uint8_t *ikm, const void *salt, size_t salt_len, const char *label, size_t label_len,
		 uint8_t out[32])
{
	br_hkdf_context hc;
	br_hkdf_init(&hc, &br_sha256_vtable, salt ? salt : BR_HKDF_NO_SALT, salt_len);
	br_hkdf_inject(&hc, ikm, 32);
	br_hkdf_flip(&hc);
	br_hkdf_produce(&hc, label, label_len, out, 32);
	wipe(&hc, sizeof(hc));
}

#define LABEL(l) l, sizeof(l) - 1

void console_derive_key(const uint8_t fs_key[32], uint8_t console_key[CONSOLE_KEY_LEN])
{
	hkdf(fs_key, NULL, 0, LABEL(CONSOLE_LABEL_KEY), console_key);
}

static int is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int console_origin_valid(const struct console_origin *o)
{
	if (!o || is_zero(o->run_nonce, CONSOLE_NONCE_LEN) || is_zero(o->nonce, CONSOLE_NONCE_LEN))
		return 0;
	int same_run = !memcmp(o->nonce, o->run_nonce, CONSOLE_NONCE_LEN);
	if (o->fork_counter == 0) /* the root */
		return same_run && is_zero(o->parent_nonce, CONSOLE_NONCE_LEN);
	return !same_run && !is_zero(o->parent_nonce, CONSOLE_NONCE_LEN) &&
	       memcmp(o->nonce, o->parent_nonce, CONSOLE_NONCE_LEN) != 0;
}

struct console_stream *console_open(const uint8_t console_key[CONSOLE_KEY_LEN], uint8_t stream_id,
				    const struct console_origin *o)
{
	if (!console_key || !console_origin_valid(o) || (stream_id != CONSOLE_STDOUT && stream_id != CONSOLE_STDERR))
		return NULL;
	struct console_stream *s = rt_calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->buf = rt_malloc(CONSOLE_BUF_LEN);
	if (!s->buf) {
		rt_free(s);
		return NULL;
	}
	uint8_t *h = s->header;
	memcpy(h, CONSOLE_MAGIC, 4);
	h[4] = CONSOLE_VERSION;
	h[5] = stream_id;
	h[6] = 0;
	h[7] = 0;
	memcpy(h + 8, o->mrenclave, 32);
	memcpy(h + 40, o->run_nonce, CONSOLE_NONCE_LEN);
	memcpy(h + 56, o->nonce, CONSOLE_NONCE_LEN);
	memcpy(h + 72, o->parent_nonce, CONSOLE_NONCE_LEN);
	put_be64(h + 88, o->fork_counter);

	uint8_t key[32];
	hkdf(console_key, NULL, 0, LABEL(CONSOLE_LABEL_HDR_MAC), key);
	br_hmac_key_context kc;
	br_hmac_context mc;
	br_hmac_key_init(&kc, &br_sha256_vtable, key, sizeof(key));
	br_hmac_init(&mc, &kc, 0);
	br_hmac_update(&mc, h, CONSOLE_HDR_MACED);
	br_hmac_out(&mc, h + CONSOLE_HDR_MACED);
	wipe(&kc, sizeof(kc));
	wipe(&mc, sizeof(mc));

	hkdf(console_key, h, CONSOLE_HDR_MACED, LABEL(CONSOLE_LABEL_SESSION), key);
	const br_block_ctr_class *x86 = br_aes_x86ni_ctr_get_vtable();
	if (x86)
		br_aes_x86ni_ctr_init(&s->aes.x86ni, key, sizeof(key));
	else
		br_aes_ct64_ctr_init(&s->aes.ct64, key, sizeof(key));
	wipe(key, sizeof(key));
	br_ghash gh = br_ghash_pclmul_get();
	br_gcm_init(&s->gcm, &s->aes.vtable, gh ? gh : br_ghash_ctmul64);
	return s;
}

long console_start(struct console_stream *s, console_emit_fn emit, void *ctx)
{
	if (!s || !emit)
		return -EINVAL;
	if (s->header_sent)
		return 0;
	if (s->state == 2)
		return -EIO;
	long r = emit(ctx, s->header, CONSOLE_HDR_LEN);
	if (r < 0)
		return r;
	s->header_sent = 1;
	return 0;
}

/* Seals one record of len <= CONSOLE_MAX_RECORD bytes and emits it. */
static long seal_emit(struct console_stream *s, const uint8_t *pt, size_t len, uint8_t flags, console_emit_fn emit,
		      void *ctx)
{
	size_t off = 0;
	if (!s->header_sent) {
		memcpy(s->buf, s->header, CONSOLE_HDR_LEN);
		off = CONSOLE_HDR_LEN;
	}
	uint8_t *rh = s->buf + off;
	put_be64(rh, s->seq);
	rh[8] = flags;
	put_be32(rh + 9, (uint32_t)len);
	uint8_t *ct = rh + CONSOLE_REC_HDR_LEN;
	if (len)
		memcpy(ct, pt, len);
	uint8_t iv[12] = {0};
	put_be64(iv + 4, s->seq);
	br_gcm_reset(&s->gcm, iv, sizeof(iv));
	br_gcm_aad_inject(&s->gcm, rh, CONSOLE_REC_HDR_LEN);
	br_gcm_flip(&s->gcm);
	br_gcm_run(&s->gcm, 1, ct, len);
	br_gcm_get_tag(&s->gcm, ct + len);
	size_t total = off + CONSOLE_REC_HDR_LEN + len + CONSOLE_TAG_LEN;
	/* The sequence number is consumed whatever happens: a (key, nonce) pair
	 * never protects two plaintexts. */
	s->seq++;
	long r = emit(ctx, s->buf, total);
	wipe(ct, len);
	if (r < 0) {
		s->state = 2;
		return r;
	}
	s->header_sent = 1;
	return 0;
}

long console_write(struct console_stream *s, const void *buf, size_t len, console_emit_fn emit, void *ctx)
{
	if (!s || !emit || (len && !buf))
		return -EINVAL;
	if (s->state == 1)
		return -EPIPE;
	if (s->state == 2)
		return -EIO;
	const uint8_t *p = buf;
	size_t done = 0;
	while (done < len) {
		size_t n = len - done;
		size_t max = s->max_record ? s->max_record : CONSOLE_MAX_RECORD;
		if (n > max)
			n = max;
		long r = seal_emit(s, p + done, n, 0, emit, ctx);
		if (r < 0)
			return r;
		done += n;
	}
	return (long)len;
}

long console_finish(struct console_stream *s, console_emit_fn emit, void *ctx)
{
	if (!s || !emit)
		return -EINVAL;
	if (s->state == 1)
		return 0;
	if (s->state == 2)
		return -EIO;
	long r = seal_emit(s, NULL, 0, CONSOLE_FLAG_FINAL, emit, ctx);
	if (r < 0)
		return r;
	s->state = 1;
	return 0;
}

void console_set_max_record(struct console_stream *s, size_t n)
{
	if (s)
		s->max_record = n && n < CONSOLE_MAX_RECORD ? n : 0;
}

uint64_t console_next_seq(const struct console_stream *s) { return s ? s->seq : 0; }

void console_drop(struct console_stream *s)
{
	if (!s)
		return;
	rt_free(s->buf); /* holds no plaintext (wiped after each record) */
	wipe(s, sizeof(*s));
	rt_free(s);
}

void console_close(struct console_stream *s)
{
	if (!s)
		return;
	wipe(s->buf, CONSOLE_BUF_LEN);
	rt_free(s->buf);
	wipe(s, sizeof(*s));
	rt_free(s);
}
