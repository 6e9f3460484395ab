/* One-pass AES-256-GCM decryption with AES-NI and PCLMULQDQ (gcmni.h).
 *
 * GHASH works on byte-reflected blocks (PSHUFB), as in Intel's white paper
 * "Intel Carry-Less Multiplication Instruction and its Usage for Computing
 * the GCM Mode" (Gueron and Kounavis, rev. 2.02): a 128x128-bit carry-less
 * product in three PCLMULQDQ (Karatsuba), a shift left by one bit (the
 * reflection) and the reduction modulo x^128 + x^7 + x^2 + x + 1. Shift
 * and reduction are linear, so four products are summed first and reduced
 * once: Y' = (Y ^ C1) H^4 ^ C2 H^3 ^ C3 H^2 ^ C4 H. The counter is kept
 * byte-reversed so that its low 32 bits are lane 0, where PADDD increments
 * it modulo 2^32 (inc32). */
#include <cpuid.h>
#include <immintrin.h>
#include "gcmni.h"

int gcmni_cpu_ok(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	return (c >> 25 & 1) /* AES */ && (c >> 1 & 1) /* PCLMULQDQ */ && (c >> 9 & 1) /* SSSE3 */;
}

#pragma GCC push_options
#pragma GCC target("aes,pclmul,ssse3")

static inline __m128i bswap128(__m128i x)
{
	return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* ---- key expansion (AES-256) ---- */

/* t ^ t<<32 ^ t<<64 ^ t<<96: each word of the key schedule xors all before it */
static inline __m128i prefix_xor(__m128i t)
{
	__m128i t4 = _mm_slli_si128(t, 4);
	t = _mm_xor_si128(t, t4);
	t4 = _mm_slli_si128(t4, 4);
	t = _mm_xor_si128(t, t4);
	return _mm_xor_si128(t, _mm_slli_si128(t4, 4));
}

/* The next even and odd round keys (FIPS-197's expansion for Nk = 8). */
static inline __m128i expand_a(__m128i t1, __m128i assist)
{
	return _mm_xor_si128(prefix_xor(t1), _mm_shuffle_epi32(assist, 0xff));
}

static inline __m128i expand_b(__m128i t1, __m128i t3)
{
	return _mm_xor_si128(prefix_xor(t3), _mm_shuffle_epi32(_mm_aeskeygenassist_si128(t1, 0), 0xaa));
}

#define EXPAND2(i, rcon)                                                \
	do {                                                            \
		t1 = expand_a(t1, _mm_aeskeygenassist_si128(t3, rcon)); \
		rk[i] = t1;                                             \
		t3 = expand_b(t1, t3);                                  \
		rk[(i) + 1] = t3;                                       \
	} while (0)

/* ---- GHASH ---- */

/* The unreduced product a*b (256 bits) added into *lo, *hi. */
static inline void mul_acc(__m128i a, __m128i b, __m128i *lo, __m128i *hi)
{
	__m128i l = _mm_clmulepi64_si128(a, b, 0x00);
	__m128i h = _mm_clmulepi64_si128(a, b, 0x11);
	__m128i m = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10), _mm_clmulepi64_si128(a, b, 0x01));
	*lo = _mm_xor_si128(*lo, _mm_xor_si128(l, _mm_slli_si128(m, 8)));
	*hi = _mm_xor_si128(*hi, _mm_xor_si128(h, _mm_srli_si128(m, 8)));
}

/* The reflected 256-bit value hi:lo shifted left by one and reduced. */
static inline __m128i reduce(__m128i lo, __m128i hi)
{
	__m128i c7 = _mm_srli_epi32(lo, 31), c8 = _mm_srli_epi32(hi, 31);
	lo = _mm_slli_epi32(lo, 1);
	hi = _mm_slli_epi32(hi, 1);
	__m128i c9 = _mm_srli_si128(c7, 12);
	c8 = _mm_slli_si128(c8, 4);
	c7 = _mm_slli_si128(c7, 4);
	lo = _mm_or_si128(lo, c7);
	hi = _mm_or_si128(_mm_or_si128(hi, c8), c9);

	__m128i a =
		_mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(lo, 31), _mm_slli_epi32(lo, 30)), _mm_slli_epi32(lo, 25));
	__m128i b = _mm_srli_si128(a, 4);
	lo = _mm_xor_si128(lo, _mm_slli_si128(a, 12));
	__m128i e = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(lo, 1), _mm_srli_epi32(lo, 2)),
				  _mm_xor_si128(_mm_srli_epi32(lo, 7), b));
	return _mm_xor_si128(hi, _mm_xor_si128(lo, e));
}

static inline __m128i gfmul(__m128i a, __m128i b)
{
	__m128i lo = _mm_setzero_si128(), hi = _mm_setzero_si128();
	mul_acc(a, b, &lo, &hi);
	return reduce(lo, hi);
}

/* ---- AES ---- */

#define LOADK(i) _mm_loadu_si128((const __m128i *)k->rk[i])

static inline __m128i aes(const struct gcmni_key *k, __m128i x)
{
	x = _mm_xor_si128(x, LOADK(0));
	for (int r = 1; r < 14; r++)
		x = _mm_aesenc_si128(x, LOADK(r));
	return _mm_aesenclast_si128(x, LOADK(14));
}

void gcmni_init(struct gcmni_key *k, const uint8_t key[32])
{
	__m128i rk[15];
	__m128i t1 = _mm_loadu_si128((const __m128i *)key), t3 = _mm_loadu_si128((const __m128i *)(key + 16));
	rk[0] = t1;
	rk[1] = t3;
	EXPAND2(2, 0x01);
	EXPAND2(4, 0x02);
	EXPAND2(6, 0x04);
	EXPAND2(8, 0x08);
	EXPAND2(10, 0x10);
	EXPAND2(12, 0x20);
	rk[14] = expand_a(t1, _mm_aeskeygenassist_si128(t3, 0x40));
	for (int i = 0; i < 15; i++)
		_mm_storeu_si128((__m128i *)k->rk[i], rk[i]);
	__m128i h = bswap128(aes(k, _mm_setzero_si128())), p = h;
	for (int i = 0; i < 4; i++) {
		_mm_storeu_si128((__m128i *)k->h[i], p);
		p = gfmul(p, h);
	}
	for (size_t i = 0; i < sizeof rk; i++) /* the key schedule's copy on the stack */
		((volatile uint8_t *)rk)[i] = 0;
}

/* Y updated with the blocks of p[0:n], the last one zero-padded. */
static __m128i ghash_bytes(__m128i y, __m128i h1, const uint8_t *p, size_t n)
{
	for (; n >= 16; p += 16, n -= 16)
		y = gfmul(_mm_xor_si128(y, bswap128(_mm_loadu_si128((const __m128i *)p))), h1);
	if (n) {
		uint8_t b[16] = {0};
		for (size_t i = 0; i < n; i++)
			b[i] = p[i];
		y = gfmul(_mm_xor_si128(y, bswap128(_mm_loadu_si128((const __m128i *)b))), h1);
	}
	return y;
}

int gcmni_open(const struct gcmni_key *k, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
	       const uint8_t *src, uint8_t *dst, size_t n, const uint8_t tag[16])
{
	const __m128i h1 = _mm_loadu_si128((const __m128i *)k->h[0]), h2 = _mm_loadu_si128((const __m128i *)k->h[1]);
	const __m128i h3 = _mm_loadu_si128((const __m128i *)k->h[2]), h4 = _mm_loadu_si128((const __m128i *)k->h[3]);
	uint8_t j0b[16];
	for (int i = 0; i < 12; i++)
		j0b[i] = nonce[i];
	j0b[12] = j0b[13] = j0b[14] = 0;
	j0b[15] = 1;
	const __m128i one = _mm_set_epi32(0, 0, 0, 1);
	__m128i j0 = _mm_loadu_si128((const __m128i *)j0b);
	__m128i ctr = bswap128(j0); /* the 32-bit counter in lane 0 */

	__m128i y = ghash_bytes(_mm_setzero_si128(), h1, aad, aad_len);
	size_t off = 0;
	for (; n - off >= 64; off += 64) {
		__m128i c0 = _mm_add_epi32(ctr, one), c1 = _mm_add_epi32(c0, one);
		__m128i c2 = _mm_add_epi32(c1, one), c3 = _mm_add_epi32(c2, one);
		ctr = c3;
		__m128i rk = LOADK(0);
		__m128i x0 = _mm_xor_si128(bswap128(c0), rk), x1 = _mm_xor_si128(bswap128(c1), rk);
		__m128i x2 = _mm_xor_si128(bswap128(c2), rk), x3 = _mm_xor_si128(bswap128(c3), rk);
		/* the ciphertext, read once: hashed and decrypted */
		__m128i s0 = _mm_loadu_si128((const __m128i *)(src + off));
		__m128i s1 = _mm_loadu_si128((const __m128i *)(src + off + 16));
		__m128i s2 = _mm_loadu_si128((const __m128i *)(src + off + 32));
		__m128i s3 = _mm_loadu_si128((const __m128i *)(src + off + 48));
		__m128i lo = _mm_setzero_si128(), hi = _mm_setzero_si128();
		mul_acc(_mm_xor_si128(y, bswap128(s0)), h4, &lo, &hi);
		mul_acc(bswap128(s1), h3, &lo, &hi);
		for (int r = 1; r < 7; r++) {
			rk = LOADK(r);
			x0 = _mm_aesenc_si128(x0, rk);
			x1 = _mm_aesenc_si128(x1, rk);
			x2 = _mm_aesenc_si128(x2, rk);
			x3 = _mm_aesenc_si128(x3, rk);
		}
		mul_acc(bswap128(s2), h2, &lo, &hi);
		mul_acc(bswap128(s3), h1, &lo, &hi);
		for (int r = 7; r < 14; r++) {
			rk = LOADK(r);
			x0 = _mm_aesenc_si128(x0, rk);
			x1 = _mm_aesenc_si128(x1, rk);
			x2 = _mm_aesenc_si128(x2, rk);
			x3 = _mm_aesenc_si128(x3, rk);
		}
		y = reduce(lo, hi);
		rk = LOADK(14);
		_mm_storeu_si128((__m128i *)(dst + off), _mm_xor_si128(s0, _mm_aesenclast_si128(x0, rk)));
		_mm_storeu_si128((__m128i *)(dst + off + 16), _mm_xor_si128(s1, _mm_aesenclast_si128(x1, rk)));
		_mm_storeu_si128((__m128i *)(dst + off + 32), _mm_xor_si128(s2, _mm_aesenclast_si128(x2, rk)));
		_mm_storeu_si128((__m128i *)(dst + off + 48), _mm_xor_si128(s3, _mm_aesenclast_si128(x3, rk)));
	}
	for (; n - off >= 16; off += 16) {
		ctr = _mm_add_epi32(ctr, one);
		__m128i s = _mm_loadu_si128((const __m128i *)(src + off));
		y = gfmul(_mm_xor_si128(y, bswap128(s)), h1);
		_mm_storeu_si128((__m128i *)(dst + off), _mm_xor_si128(s, aes(k, bswap128(ctr))));
	}
	if (off < n) {
		size_t r = n - off;
		uint8_t b[16] = {0}, ks[16];
		for (size_t i = 0; i < r; i++)
			b[i] = src[off + i];
		ctr = _mm_add_epi32(ctr, one);
		y = gfmul(_mm_xor_si128(y, bswap128(_mm_loadu_si128((const __m128i *)b))), h1);
		_mm_storeu_si128((__m128i *)ks, aes(k, bswap128(ctr)));
		for (size_t i = 0; i < r; i++)
			dst[off + i] = (uint8_t)(b[i] ^ ks[i]);
		for (size_t i = 0; i < 16; i++)
			((volatile uint8_t *)ks)[i] = 0;
	}
	/* lengths in bits, big-endian: [aad]_64 || [ciphertext]_64 */
	uint8_t lb[16];
	uint64_t al = (uint64_t)aad_len * 8, cl = (uint64_t)n * 8;
	for (int i = 0; i < 8; i++) {
		lb[i] = (uint8_t)(al >> (56 - 8 * i));
		lb[8 + i] = (uint8_t)(cl >> (56 - 8 * i));
	}
	y = gfmul(_mm_xor_si128(y, bswap128(_mm_loadu_si128((const __m128i *)lb))), h1);
	__m128i t = _mm_xor_si128(bswap128(y), aes(k, j0));
	__m128i diff = _mm_xor_si128(t, _mm_loadu_si128((const __m128i *)tag));
	int ok = _mm_movemask_epi8(_mm_cmpeq_epi8(diff, _mm_setzero_si128())) == 0xffff;
	if (!ok)
		for (size_t i = 0; i < n; i++)
			((volatile uint8_t *)dst)[i] = 0;
	return ok;
}

#pragma GCC pop_options
