/* NIST P-256 point multiplication over 64-bit limbs (p256.h).
 *
 * Field elements mod p are four 64-bit limbs in Montgomery form (R = 2^256;
 * -p^-1 mod 2^64 is 1 because p's low limb is all ones), products in
 * unsigned __int128, every reduction by masks. Points are Jacobian
 * (X, Y, Z) with Z = 0 for the point at infinity; the formulas are the
 * Explicit-Formulas Database's dbl-2001-b (a = -3), madd-2007-bl and
 * add-2007-bl.
 *
 * Constant time: no branch or table index depends on a scalar or on a
 * secret point; table entries are read by scanning the whole row. The
 * point at infinity and the zero digit are handled by masks. With unsigned
 * 4-bit digits and a scalar below the order n, the additions never meet
 * equal points (they would need 16c = d or 16c + d = n for the partial
 * scalar c and the digit d), so the formulas' one exceptional case, the
 * doubling, does not arise.
 *
 * The generator's fixed-base table (64 windows of its 15 multiples,
 * 61,440 bytes) is computed once, at p256_precompute or at the first
 * p256_mulgen; a p256_mulgen that meets it being made by another thread
 * does not wait, it multiplies the generator the general way. */
#include <string.h>

#include "p256.h"
#include "rt_alloc.h"

__extension__ typedef unsigned __int128 u128;
typedef uint64_t fp[4];

static const fp P = {0xffffffffffffffffULL, 0x00000000ffffffffULL, 0, 0xffffffff00000001ULL};
static const fp R2 = {3, 0xfffffffbffffffffULL, 0xfffffffffffffffeULL, 0x00000004fffffffdULL}; /* 2^512 mod p */

/* 1, the curve's b and its generator in Montgomery form (b and G from SEC 2
 * / FIPS 186-4, times 2^256 mod p; test_ecfast checks them against
 * BearSSL's generator). */
static const fp ONE_M = {1, 0xffffffff00000000ULL, 0xffffffffffffffffULL, 0x00000000fffffffeULL};
static const fp B_M = {0xd89cdf6229c4bddfULL, 0xacf005cd78843090ULL, 0xe5a220abf7212ed6ULL, 0xdc30061d04874834ULL};
static const fp GX_M = {0x79e730d418a9143cULL, 0x75ba95fc5fedb601ULL, 0x79fb732b77622510ULL, 0x18905f76a53755c6ULL};
static const fp GY_M = {0xddf25357ce95560aULL, 0x8b4ab8e4ba19e45cULL, 0xd2e88688dd21f325ULL, 0x8571ff1825885d85ULL};

/* r = t - p if t (5 limbs, below 2p) is at least p, else t. */
static void reduce_once(fp r, const uint64_t t[5])
{
	uint64_t s[4], borrow = 0;
	for (int i = 0; i < 4; i++) {
		u128 d = (u128)t[i] - P[i] - borrow;
		s[i] = (uint64_t)d;
		borrow = (uint64_t)(d >> 64) & 1;
	}
	/* t < p exactly when the subtraction borrows past the fifth limb */
	uint64_t keep = 0 - ((uint64_t)(((u128)t[4] - borrow) >> 64) & 1);
	for (int i = 0; i < 4; i++)
		r[i] = (t[i] & keep) | (s[i] & ~keep);
}

static void fp_mul(fp r, const fp a, const fp b)
{
	uint64_t t[6] = {0};
	for (int i = 0; i < 4; i++) {
		u128 c = 0;
		for (int j = 0; j < 4; j++) {
			c = (u128)a[i] * b[j] + t[j] + (uint64_t)(c >> 64);
			t[j] = (uint64_t)c;
		}
		c = (u128)t[4] + (uint64_t)(c >> 64);
		t[4] = (uint64_t)c;
		t[5] = (uint64_t)(c >> 64);
		/* m = t[0] (-p^-1 = 1): t + m p is divisible by 2^64 */
		uint64_t m = t[0];
		c = (u128)m * P[0] + t[0];
		for (int j = 1; j < 4; j++) {
			c = (u128)m * P[j] + t[j] + (uint64_t)(c >> 64);
			t[j - 1] = (uint64_t)c;
		}
		c = (u128)t[4] + (uint64_t)(c >> 64);
		t[3] = (uint64_t)c;
		t[4] = t[5] + (uint64_t)(c >> 64);
	}
	reduce_once(r, t);
}

static void fp_sq(fp r, const fp a) { fp_mul(r, a, a); }

static void fp_add(fp r, const fp a, const fp b)
{
	uint64_t t[5];
	u128 c = 0;
	for (int i = 0; i < 4; i++) {
		c = (u128)a[i] + b[i] + (uint64_t)(c >> 64);
		t[i] = (uint64_t)c;
	}
	t[4] = (uint64_t)(c >> 64);
	reduce_once(r, t);
}

static void fp_sub(fp r, const fp a, const fp b)
{
	uint64_t t[4], borrow = 0;
	for (int i = 0; i < 4; i++) {
		u128 d = (u128)a[i] - b[i] - borrow;
		t[i] = (uint64_t)d;
		borrow = (uint64_t)(d >> 64) & 1;
	}
	uint64_t m = 0 - borrow; /* add p back when a < b */
	u128 c = 0;
	for (int i = 0; i < 4; i++) {
		c = (u128)t[i] + (P[i] & m) + (uint64_t)(c >> 64);
		r[i] = (uint64_t)c;
	}
}

/* a^(p-2): square-and-multiply over the public exponent. */
static void fp_inv(fp r, const fp a)
{
	static const uint64_t E[4] = {0xfffffffffffffffdULL, 0x00000000ffffffffULL, 0, 0xffffffff00000001ULL};
	fp x;
	memcpy(x, a, sizeof x);
	for (int i = 254; i >= 0; i--) {
		fp_sq(x, x);
		if (E[i / 64] >> (i % 64) & 1)
			fp_mul(x, x, a);
	}
	memcpy(r, x, sizeof x);
}

static void fp_frombe(fp r, const uint8_t b[32])
{
	for (int i = 0; i < 4; i++) {
		uint64_t v = 0;
		for (int j = 0; j < 8; j++)
			v = v << 8 | b[(3 - i) * 8 + j];
		r[i] = v;
	}
}

static void fp_tobe(uint8_t b[32], const fp a)
{
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 8; j++)
			b[(3 - i) * 8 + j] = (uint8_t)(a[i] >> (56 - 8 * j));
}

/* Whether a (plain, not Montgomery) is below p. */
static int fp_canonical(const fp a)
{
	uint64_t borrow = 0;
	for (int i = 0; i < 4; i++)
		borrow = (uint64_t)(((u128)a[i] - P[i] - borrow) >> 64) & 1;
	return (int)borrow;
}

static void to_mont(fp r, const fp a) { fp_mul(r, a, R2); }

static void from_mont(fp r, const fp a)
{
	static const fp ONE = {1, 0, 0, 0};
	fp_mul(r, a, ONE);
}

static uint64_t fp_iszero(const fp a)
{
	uint64_t z = a[0] | a[1] | a[2] | a[3];
	return ((z | (0 - z)) >> 63) ^ 1;
}

static void fp_select(fp r, const fp a, uint64_t mask) /* r = mask ? a : r */
{
	for (int i = 0; i < 4; i++)
		r[i] = (r[i] & ~mask) | (a[i] & mask);
}

struct jac {
	fp x, y, z;
};
struct aff {
	fp x, y;
};

static void dbl(struct jac *r, const struct jac *p)
{
	fp delta, gamma, beta, alpha, t1, t2;
	fp_sq(delta, p->z);
	fp_sq(gamma, p->y);
	fp_mul(beta, p->x, gamma);
	fp_sub(t1, p->x, delta);
	fp_add(t2, p->x, delta);
	fp_mul(alpha, t1, t2);
	fp_add(t1, alpha, alpha);
	fp_add(alpha, alpha, t1); /* 3 (X - delta)(X + delta) */
	fp_add(t1, p->y, p->z);
	fp_sq(t1, t1);
	fp_sub(t1, t1, gamma);
	fp_sub(r->z, t1, delta);
	fp_add(beta, beta, beta);
	fp_add(beta, beta, beta); /* 4 beta */
	fp_sq(t1, alpha);
	fp_add(t2, beta, beta);
	fp_sub(r->x, t1, t2);
	fp_sub(t1, beta, r->x);
	fp_mul(t1, alpha, t1);
	fp_sq(gamma, gamma);
	fp_add(gamma, gamma, gamma);
	fp_add(gamma, gamma, gamma);
	fp_add(gamma, gamma, gamma); /* 8 gamma^2 */
	fp_sub(r->y, t1, gamma);
}

/* The sum's X3 = r^2 - J - 2V and Y3 = r (V - X3) - 2 S J, shared by the
 * two addition formulas (S: Y1 in madd, S1 in add). */
static void add_xy(struct jac *o, const fp rr, const fp j, const fp v, const fp s)
{
	fp t, u;
	fp_sq(t, rr);
	fp_sub(t, t, j);
	fp_sub(t, t, v);
	fp_sub(o->x, t, v);
	fp_sub(t, v, o->x);
	fp_mul(t, rr, t);
	fp_mul(u, s, j);
	fp_add(u, u, u);
	fp_sub(o->y, t, u);
}

/* r = p + q, q affine and never the point at infinity; p may be. */
static void madd(struct jac *r, const struct jac *p, const struct aff *q)
{
	fp z1z1, u2, s2, h, hh, i, j, rr, v, t;
	uint64_t pinf = fp_iszero(p->z);
	fp_sq(z1z1, p->z);
	fp_mul(u2, q->x, z1z1);
	fp_mul(s2, q->y, p->z);
	fp_mul(s2, s2, z1z1);
	fp_sub(h, u2, p->x);
	fp_sq(hh, h);
	fp_add(i, hh, hh);
	fp_add(i, i, i);
	fp_mul(j, h, i);
	fp_sub(rr, s2, p->y);
	fp_add(rr, rr, rr);
	fp_mul(v, p->x, i);
	struct jac o;
	add_xy(&o, rr, j, v, p->y);
	fp_add(t, p->z, h);
	fp_sq(t, t);
	fp_sub(t, t, z1z1);
	fp_sub(o.z, t, hh);
	uint64_t m = 0 - pinf;
	fp_select(o.x, q->x, m);
	fp_select(o.y, q->y, m);
	fp_select(o.z, ONE_M, m);
	*r = o;
}

/* r = p + q, either may be the point at infinity (never p = q). */
static void add(struct jac *r, const struct jac *p, const struct jac *q)
{
	fp z1z1, z2z2, u1, u2, s1, s2, h, i, j, rr, v, t;
	uint64_t pinf = fp_iszero(p->z), qinf = fp_iszero(q->z);
	fp_sq(z1z1, p->z);
	fp_sq(z2z2, q->z);
	fp_mul(u1, p->x, z2z2);
	fp_mul(u2, q->x, z1z1);
	fp_mul(s1, p->y, q->z);
	fp_mul(s1, s1, z2z2);
	fp_mul(s2, q->y, p->z);
	fp_mul(s2, s2, z1z1);
	fp_sub(h, u2, u1);
	fp_add(i, h, h);
	fp_sq(i, i);
	fp_mul(j, h, i);
	fp_sub(rr, s2, s1);
	fp_add(rr, rr, rr);
	fp_mul(v, u1, i);
	struct jac o;
	add_xy(&o, rr, j, v, s1);
	fp_add(t, p->z, q->z);
	fp_sq(t, t);
	fp_sub(t, t, z1z1);
	fp_sub(t, t, z2z2);
	fp_mul(o.z, t, h);
	uint64_t mp = 0 - pinf, mq = 0 - qinf;
	fp_select(o.x, q->x, mp);
	fp_select(o.y, q->y, mp);
	fp_select(o.z, q->z, mp);
	fp_select(o.x, p->x, mq);
	fp_select(o.y, p->y, mq);
	fp_select(o.z, p->z, mq);
	*r = o;
}

/* Affine big-endian x || y of p; 0 when p is the point at infinity. */
static int encode(uint8_t out[64], const struct jac *p)
{
	fp zi, zi2, x, y;
	fp_inv(zi, p->z);
	fp_sq(zi2, zi);
	fp_mul(x, p->x, zi2);
	fp_mul(zi2, zi2, zi);
	fp_mul(y, p->y, zi2);
	from_mont(x, x);
	from_mont(y, y);
	fp_tobe(out, x);
	fp_tobe(out + 32, y);
	return !fp_iszero(p->z);
}

/* The scalar as 64 little-endian 4-bit digits; 0 if it is longer than
 * 32 bytes with non-zero leading bytes. */
static int digits(uint8_t d[64], const uint8_t *k, size_t klen)
{
	uint8_t s[32] = {0};
	for (size_t i = 0; i + 32 < klen; i++)
		if (k[i])
			return 0;
	if (klen > 32) {
		k += klen - 32;
		klen = 32;
	}
	memcpy(s + 32 - klen, k, klen);
	for (int i = 0; i < 32; i++) {
		d[2 * i] = s[31 - i] & 15;
		d[2 * i + 1] = s[31 - i] >> 4;
	}
	memset(s, 0, sizeof s);
	return 1;
}

/* ---- the generator's table -------------------------------------------- */

static struct aff gtab[64][15]; /* gtab[i][j] = (j + 1) 16^i G */
static volatile int gtab_state; /* 0, 1 (being computed), 2 (ready) */

/* 0, or -1 without memory for the 92 KiB of work space. */
static int compute_gtab(void)
{
	struct jac *pts = rt_malloc(64 * 15 * sizeof *pts);
	fp *pre = rt_malloc(64 * 15 * sizeof *pre);
	if (!pts || !pre) {
		rt_free(pts);
		rt_free(pre);
		return -1;
	}
	struct jac base;
	memcpy(base.x, GX_M, sizeof base.x);
	memcpy(base.y, GY_M, sizeof base.y);
	memcpy(base.z, ONE_M, sizeof base.z);
	for (int i = 0; i < 64; i++) {
		struct jac *row = &pts[i * 15];
		row[0] = base;
		dbl(&row[1], &base);
		for (int j = 2; j < 15; j++)
			add(&row[j], &row[j - 1], &base);
		dbl(&base, &base);
		dbl(&base, &base);
		dbl(&base, &base);
		dbl(&base, &base);
	}
	/* all to affine with one inversion (Montgomery's trick) */
	memcpy(pre[0], pts[0].z, sizeof(fp));
	for (int k = 1; k < 64 * 15; k++)
		fp_mul(pre[k], pre[k - 1], pts[k].z);
	fp inv;
	fp_inv(inv, pre[64 * 15 - 1]);
	for (int k = 64 * 15 - 1; k >= 0; k--) {
		fp zi, zi2;
		if (k > 0) {
			fp_mul(zi, inv, pre[k - 1]);
			fp_mul(inv, inv, pts[k].z);
		} else {
			memcpy(zi, inv, sizeof zi);
		}
		fp_sq(zi2, zi);
		struct aff *a = &gtab[k / 15][k % 15];
		fp_mul(a->x, pts[k].x, zi2);
		fp_mul(zi2, zi2, zi);
		fp_mul(a->y, pts[k].y, zi2);
	}
	rt_free(pts);
	rt_free(pre);
	return 0;
}

int p256_precompute(void)
{
	int zero = 0;
	if (__atomic_load_n(&gtab_state, __ATOMIC_ACQUIRE) == 2)
		return 1;
	if (!__atomic_compare_exchange_n(&gtab_state, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return 0; /* another thread is at it: never wait (it may be gone, in a forked child) */
	if (compute_gtab() < 0) {
		__atomic_store_n(&gtab_state, 0, __ATOMIC_RELEASE); /* another time */
		return 0;
	}
	__atomic_store_n(&gtab_state, 2, __ATOMIC_RELEASE);
	return 1;
}

/* t = row[d - 1] for d in 1..15, by scanning the row (d = 0: row[0]). */
static void lookup(struct aff *t, const struct aff row[15], uint64_t d)
{
	memcpy(t, &row[0], sizeof *t);
	for (uint64_t j = 1; j < 15; j++) {
		uint64_t e = (j + 1) ^ d;
		uint64_t m = ((e | (0 - e)) >> 63) - 1; /* all ones when j + 1 == d */
		fp_select(t->x, row[j].x, m);
		fp_select(t->y, row[j].y, m);
	}
}

size_t p256_mulgen(uint8_t out[65], const uint8_t *k, size_t klen)
{
	uint8_t d[64];
	if (!digits(d, k, klen))
		return 0;
	if (!p256_precompute()) { /* the table is being made: the general way */
		uint8_t g[65] = {4};
		fp t;
		from_mont(t, GX_M);
		fp_tobe(g + 1, t);
		from_mont(t, GY_M);
		fp_tobe(g + 33, t);
		p256_mul(g, sizeof g, k, klen);
		memcpy(out, g, sizeof g);
		return 65;
	}
	struct jac r;
	memset(&r, 0, sizeof r); /* Z = 0: the point at infinity */
	for (int i = 0; i < 64; i++) {
		struct aff t;
		struct jac s;
		lookup(&t, gtab[i], d[i]);
		madd(&s, &r, &t);
		uint64_t e = d[i];
		uint64_t keep = ((e | (0 - e)) >> 63) - 1; /* all ones when the digit is 0 */
		fp_select(s.x, r.x, keep);
		fp_select(s.y, r.y, keep);
		fp_select(s.z, r.z, keep);
		r = s;
	}
	memset(d, 0, sizeof d);
	out[0] = 4;
	encode(out + 1, &r);
	return 65;
}

/* The point encoded in g (65 bytes, uncompressed), checked: coordinates
 * below p and on the curve. */
static int decode(struct jac *p, const uint8_t *g, size_t glen)
{
	if (glen != 65 || g[0] != 4)
		return 0;
	fp x, y, l, r, t;
	fp_frombe(x, g + 1);
	fp_frombe(y, g + 33);
	if (!fp_canonical(x) || !fp_canonical(y))
		return 0;
	to_mont(p->x, x);
	to_mont(p->y, y);
	memcpy(p->z, ONE_M, sizeof p->z);
	/* y^2 = x^3 - 3x + b */
	fp_sq(l, p->y);
	fp_sq(r, p->x);
	fp_mul(r, r, p->x);
	fp_add(t, p->x, p->x);
	fp_add(t, t, p->x);
	fp_sub(r, r, t);
	fp_add(r, r, B_M);
	fp_sub(t, l, r);
	return (int)fp_iszero(t);
}

uint32_t p256_mul(uint8_t *g, size_t glen, const uint8_t *k, size_t klen)
{
	struct jac p;
	uint8_t d[64];
	if (!decode(&p, g, glen) || !digits(d, k, klen))
		return 0;
	struct jac tab[16]; /* tab[j] = j P, tab[0] the point at infinity */
	memset(&tab[0], 0, sizeof tab[0]);
	tab[1] = p;
	for (int j = 2; j < 16; j++) {
		if (j % 2 == 0)
			dbl(&tab[j], &tab[j / 2]);
		else
			add(&tab[j], &tab[j - 1], &p);
	}
	struct jac r;
	memset(&r, 0, sizeof r);
	for (int i = 63; i >= 0; i--) {
		dbl(&r, &r);
		dbl(&r, &r);
		dbl(&r, &r);
		dbl(&r, &r);
		struct jac t;
		memset(&t, 0, sizeof t);
		for (uint64_t j = 1; j < 16; j++) {
			uint64_t e = j ^ d[i];
			uint64_t m = ((e | (0 - e)) >> 63) - 1;
			fp_select(t.x, tab[j].x, m);
			fp_select(t.y, tab[j].y, m);
			fp_select(t.z, tab[j].z, m);
		}
		add(&r, &r, &t);
	}
	memset(d, 0, sizeof d);
	int ok = encode(g + 1, &r);
	return (uint32_t)ok;
}
