/* BearSSL's br_ec_impl over x25519.c and p256.c (ecfast.h). */
#include <string.h>

#include "ecfast.h"
#include "p256.h"
#include "x25519.h"

static const br_ec_impl *slow(int curve) { return curve == BR_EC_curve25519 ? &br_ec_c25519_m31 : &br_ec_all_m31; }

static const unsigned char *generator(int curve, size_t *len) { return slow(curve)->generator(curve, len); }

static const unsigned char *order(int curve, size_t *len) { return slow(curve)->order(curve, len); }

static size_t xoff(int curve, size_t *len) { return slow(curve)->xoff(curve, len); }

/* BearSSL's Curve25519 takes the 32 scalar bytes as RFC 7748 does (little
 * endian, clamped), whatever its documentation says of big-endian
 * multipliers; shorter ones are padded at the end (test_ecfast checks both
 * against br_ec_c25519_m31). */
static int c25519_scalar(uint8_t s[32], const unsigned char *x, size_t xlen)
{
	if (xlen > 32)
		return 0;
	memset(s, 0, 32);
	memcpy(s, x, xlen);
	return 1;
}

static uint32_t mul(unsigned char *g, size_t glen, const unsigned char *x, size_t xlen, int curve)
{
	if (curve == BR_EC_secp256r1)
		return p256_mul(g, glen, x, xlen);
	if (curve != BR_EC_curve25519)
		return slow(curve)->mul(g, glen, x, xlen, curve);
	uint8_t s[32];
	if (glen != 32 || !c25519_scalar(s, x, xlen))
		return 0;
	x25519(g, s, g);
	memset(s, 0, sizeof s);
	return 1;
}

static size_t mulgen(unsigned char *r, const unsigned char *x, size_t xlen, int curve)
{
	if (curve == BR_EC_secp256r1)
		return p256_mulgen(r, x, xlen);
	if (curve != BR_EC_curve25519)
		return slow(curve)->mulgen(r, x, xlen, curve);
	static const uint8_t nine[32] = {9};
	uint8_t s[32];
	if (!c25519_scalar(s, x, xlen))
		return 0;
	x25519(r, s, nine);
	memset(s, 0, sizeof s);
	return 32;
}

static uint32_t muladd(unsigned char *a, const unsigned char *b, size_t len, const unsigned char *x, size_t xlen,
		       const unsigned char *y, size_t ylen, int curve)
{
	return slow(curve)->muladd(a, b, len, x, xlen, y, ylen, curve);
}

const br_ec_impl rt_ec_fast = {
	.supported_curves = (uint32_t)1 << BR_EC_secp256r1 | (uint32_t)1 << BR_EC_secp384r1 |
			    (uint32_t)1 << BR_EC_secp521r1 | (uint32_t)1 << BR_EC_curve25519,
	.generator = generator,
	.order = order,
	.xoff = xoff,
	.mul = mul,
	.mulgen = mulgen,
	.muladd = muladd,
};
