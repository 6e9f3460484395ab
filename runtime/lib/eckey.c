/* P-256 private keys from PEM (eckey.h). */
#include <string.h>
#include <bearssl.h>

#include "eckey.h"

struct der {
	uint8_t b[4096];
	size_t n;
	int overflow;
};

static void der_put(void *ctx, const void *data, size_t len)
{
	struct der *d = ctx;
	if (len > sizeof d->b - d->n) {
		d->overflow = 1;
		return;
	}
	memcpy(d->b + d->n, data, len);
	d->n += len;
}

static void wipe(void *p, size_t n)
{
	volatile uint8_t *v = p;
	while (n--)
		*v++ = 0;
}

static int named(const char *n, const char *want) { return strlen(n) == strlen(want) && !memcmp(n, want, strlen(n)); }

static int is_key_name(const char *n) { return named(n, "EC PRIVATE KEY") || named(n, "PRIVATE KEY"); }

/* Decodes the DER of one key block into priv. */
static int decode(const struct der *d, uint8_t priv[32])
{
	br_skey_decoder_context sk;
	br_skey_decoder_init(&sk);
	br_skey_decoder_push(&sk, d->b, d->n);
	int r = 0;
	if (br_skey_decoder_last_error(&sk) || d->overflow)
		r = ECKEY_EDECODE;
	else if (br_skey_decoder_key_type(&sk) != BR_KEYTYPE_EC)
		r = ECKEY_ENOTEC;
	else {
		const br_ec_private_key *k = br_skey_decoder_get_ec(&sk);
		if (!k || k->curve != BR_EC_secp256r1 || k->xlen == 0 || k->xlen > 32)
			r = ECKEY_ECURVE;
		else {
			memset(priv, 0, 32);
			memcpy(priv + 32 - k->xlen, k->x, k->xlen);
		}
	}
	wipe(&sk, sizeof sk);
	return r;
}

int eckey_parse_pem(const uint8_t *pem, size_t len, uint8_t priv[32])
{
	br_pem_decoder_context pc;
	struct der d;
	int found = 0, other = 0, inkey = 0, r = 0;
	br_pem_decoder_init(&pc);
	/* a last line without its newline is fine: the decoder needs one */
	for (size_t i = 0, extra = 1; (i < len || extra) && !r;) {
		const uint8_t *p = i < len ? pem + i : (const uint8_t *)"\n";
		size_t n = i < len ? len - i : 1;
		if (i >= len)
			extra = 0;
		size_t used = br_pem_decoder_push(&pc, p, n);
		if (i < len)
			i += used;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			inkey = is_key_name(br_pem_decoder_name(&pc));
			other |= !inkey;
			if (inkey) {
				d.n = 0;
				d.overflow = 0;
				br_pem_decoder_setdest(&pc, der_put, &d);
			} else {
				br_pem_decoder_setdest(&pc, NULL, NULL);
			}
			break;
		case BR_PEM_END_OBJ:
			if (inkey) {
				if (found++)
					r = ECKEY_ETOOMANY;
				else
					r = decode(&d, priv);
				wipe(&d, sizeof d);
			}
			inkey = 0;
			break;
		case BR_PEM_ERROR:
			r = ECKEY_ENOPEM;
			break;
		}
	}
	wipe(&pc, sizeof pc);
	wipe(&d, sizeof d);
	if (!r && !found)
		r = other ? ECKEY_ETYPE : ECKEY_ENOPEM;
	if (r)
		wipe(priv, 32);
	return r;
}

const char *eckey_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case ECKEY_ENOPEM:
		return "not a PEM file";
	case ECKEY_ETYPE:
		return "no EC PRIVATE KEY or PRIVATE KEY block (a certificate or public key?)";
	case ECKEY_EDECODE:
		return "the private key does not decode (encrypted or damaged?)";
	case ECKEY_ENOTEC:
		return "an RSA key: want an ECDSA P-256 key";
	case ECKEY_ECURVE:
		return "an EC key on another curve: want P-256 (prime256v1)";
	case ECKEY_ETOOMANY:
		return "more than one private key";
	default:
		return "unknown key error";
	}
}
