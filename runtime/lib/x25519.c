/* X25519 (RFC 7748) over 64-bit limbs (x25519.h).
 *
 * Field elements mod p = 2^255 - 19 are five 51-bit limbs (radix 2^51),
 * products in unsigned __int128. Limbs may exceed 51 bits between
 * operations (each stays below 2^54); fe_tobytes reduces fully. The
 * ladder is RFC 7748's, with a conditional swap by mask: no branch and no
 * memory access depends on the scalar. */
#include <string.h>

#include "x25519.h"

__extension__ typedef unsigned __int128 u128;
typedef uint64_t fe[5];

#define MASK51 ((1ULL << 51) - 1)

static uint64_t load64le(const uint8_t *b)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static void fe_frombytes(fe h, const uint8_t s[32])
{
	h[0] = load64le(s) & MASK51;
	h[1] = (load64le(s + 6) >> 3) & MASK51;
	h[2] = (load64le(s + 12) >> 6) & MASK51;
	h[3] = (load64le(s + 19) >> 1) & MASK51;
	h[4] = (load64le(s + 24) >> 12) & MASK51; /* the top bit is ignored */
}

/* Carries so that every limb is below 2^51 (the value is below 2^255 + a
 * little, not yet fully reduced). */
static void fe_carry(fe h)
{
	uint64_t c;
	for (int i = 0; i < 4; i++) {
		c = h[i] >> 51;
		h[i] &= MASK51;
		h[i + 1] += c;
	}
	c = h[4] >> 51;
	h[4] &= MASK51;
	h[0] += c * 19;
	c = h[0] >> 51;
	h[0] &= MASK51;
	h[1] += c;
}

static void fe_tobytes(uint8_t s[32], const fe f)
{
	fe h;
	memcpy(h, f, sizeof h);
	fe_carry(h);
	fe_carry(h);
	/* h < 2^255 + 2^51: subtract p once if h >= p, in constant time:
	 * q = 1 exactly when h + 19 >= 2^255. */
	uint64_t q = (h[0] + 19) >> 51;
	q = (h[1] + q) >> 51;
	q = (h[2] + q) >> 51;
	q = (h[3] + q) >> 51;
	q = (h[4] + q) >> 51;
	h[0] += 19 * q;
	for (int i = 0; i < 4; i++) {
		h[i + 1] += h[i] >> 51;
		h[i] &= MASK51;
	}
	h[4] &= MASK51;
	uint64_t w[4] = {
		h[0] | h[1] << 51,
		h[1] >> 13 | h[2] << 38,
		h[2] >> 26 | h[3] << 25,
		h[3] >> 39 | h[4] << 12,
	};
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 8; j++)
			s[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

static void fe_add(fe h, const fe f, const fe g)
{
	for (int i = 0; i < 5; i++)
		h[i] = f[i] + g[i];
}

/* f - g + 4p: limbs stay positive for inputs below 2^54. */
static void fe_sub(fe h, const fe f, const fe g)
{
	static const uint64_t p4[5] = {0x1fffffffffffb4ULL, 0x1ffffffffffffcULL, 0x1ffffffffffffcULL,
				       0x1ffffffffffffcULL, 0x1ffffffffffffcULL};
	for (int i = 0; i < 5; i++)
		h[i] = f[i] + p4[i] - g[i];
	fe_carry(h);
}

static void fe_mul(fe h, const fe f, const fe g)
{
	uint64_t g1 = g[1] * 19, g2 = g[2] * 19, g3 = g[3] * 19, g4 = g[4] * 19;
	u128 r0 = (u128)f[0] * g[0] + (u128)f[1] * g4 + (u128)f[2] * g3 + (u128)f[3] * g2 + (u128)f[4] * g1;
	u128 r1 = (u128)f[0] * g[1] + (u128)f[1] * g[0] + (u128)f[2] * g4 + (u128)f[3] * g3 + (u128)f[4] * g2;
	u128 r2 = (u128)f[0] * g[2] + (u128)f[1] * g[1] + (u128)f[2] * g[0] + (u128)f[3] * g4 + (u128)f[4] * g3;
	u128 r3 = (u128)f[0] * g[3] + (u128)f[1] * g[2] + (u128)f[2] * g[1] + (u128)f[3] * g[0] + (u128)f[4] * g4;
	u128 r4 = (u128)f[0] * g[4] + (u128)f[1] * g[3] + (u128)f[2] * g[2] + (u128)f[3] * g[1] + (u128)f[4] * g[0];
	r1 += (uint64_t)(r0 >> 51);
	r2 += (uint64_t)(r1 >> 51);
	r3 += (uint64_t)(r2 >> 51);
	r4 += (uint64_t)(r3 >> 51);
	uint64_t c = (uint64_t)(r4 >> 51);
	h[0] = ((uint64_t)r0 & MASK51) + c * 19;
	h[1] = (uint64_t)r1 & MASK51;
	h[2] = (uint64_t)r2 & MASK51;
	h[3] = (uint64_t)r3 & MASK51;
	h[4] = (uint64_t)r4 & MASK51;
	h[1] += h[0] >> 51;
	h[0] &= MASK51;
}

static void fe_sq(fe h, const fe f) { fe_mul(h, f, f); }

static void fe_mul_small(fe h, const fe f, uint64_t k)
{
	u128 c = 0;
	for (int i = 0; i < 5; i++) {
		c += (u128)f[i] * k;
		h[i] = (uint64_t)c & MASK51;
		c >>= 51;
	}
	h[0] += (uint64_t)c * 19;
	h[1] += h[0] >> 51;
	h[0] &= MASK51;
}

static void fe_sqn(fe h, const fe f, int n)
{
	fe_sq(h, f);
	while (--n > 0)
		fe_sq(h, h);
}

/* z^(p-2) = z^(2^255 - 21): the usual chain of 254 squarings and 11
 * multiplications. */
static void fe_invert(fe out, const fe z)
{
	fe z2, z9, z11, z2_5_0, z2_10_0, z2_20_0, z2_50_0, z2_100_0, t;
	fe_sq(z2, z);	       /* 2 */
	fe_sqn(t, z2, 2);      /* 8 */
	fe_mul(z9, t, z);      /* 9 */
	fe_mul(z11, z9, z2);   /* 11 */
	fe_sq(t, z11);	       /* 22 */
	fe_mul(z2_5_0, t, z9); /* 2^5 - 1 */
	fe_sqn(t, z2_5_0, 5);  /* 2^10 - 2^5 */
	fe_mul(z2_10_0, t, z2_5_0);
	fe_sqn(t, z2_10_0, 10);
	fe_mul(z2_20_0, t, z2_10_0);
	fe_sqn(t, z2_20_0, 20);
	fe_mul(t, t, z2_20_0); /* 2^40 - 1 */
	fe_sqn(t, t, 10);
	fe_mul(z2_50_0, t, z2_10_0);
	fe_sqn(t, z2_50_0, 50);
	fe_mul(z2_100_0, t, z2_50_0);
	fe_sqn(t, z2_100_0, 100);
	fe_mul(t, t, z2_100_0); /* 2^200 - 1 */
	fe_sqn(t, t, 50);
	fe_mul(t, t, z2_50_0); /* 2^250 - 1 */
	fe_sqn(t, t, 5);       /* 2^255 - 2^5 */
	fe_mul(out, t, z11);   /* 2^255 - 21 */
}

static void fe_cswap(fe f, fe g, uint64_t bit)
{
	uint64_t m = 0 - bit;
	for (int i = 0; i < 5; i++) {
		uint64_t x = m & (f[i] ^ g[i]);
		f[i] ^= x;
		g[i] ^= x;
	}
}

void x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32])
{
	uint8_t k[32];
	memcpy(k, scalar, 32);
	k[0] &= 248;
	k[31] &= 127;
	k[31] |= 64;
	fe x1, x2 = {1}, z2 = {0}, x3, z3 = {1}, a, aa, b, bb, e, c, d, da, cb, t;
	fe_frombytes(x1, point);
	memcpy(x3, x1, sizeof x3);
	uint64_t swap = 0;
	for (int i = 254; i >= 0; i--) {
		uint64_t bit = (uint64_t)(k[i >> 3] >> (i & 7)) & 1;
		swap ^= bit;
		fe_cswap(x2, x3, swap);
		fe_cswap(z2, z3, swap);
		swap = bit;
		fe_add(a, x2, z2);
		fe_sq(aa, a);
		fe_sub(b, x2, z2);
		fe_sq(bb, b);
		fe_sub(e, aa, bb);
		fe_add(c, x3, z3);
		fe_sub(d, x3, z3);
		fe_mul(da, d, a);
		fe_mul(cb, c, b);
		fe_add(t, da, cb);
		fe_sq(x3, t);
		fe_sub(t, da, cb);
		fe_sq(t, t);
		fe_mul(z3, x1, t);
		fe_mul(x2, aa, bb);
		fe_mul_small(t, e, 121665);
		fe_add(t, aa, t);
		fe_mul(z2, e, t);
	}
	fe_cswap(x2, x3, swap);
	fe_cswap(z2, z3, swap);
	fe_invert(z2, z2);
	fe_mul(x2, x2, z2);
	fe_tobytes(out, x2);
	memset(k, 0, sizeof k);
}
