/* One-pass AES-256-GCM decryption with AES-NI and PCLMULQDQ (gcmni.h).
 *
 * GHASH works on byte-reflected blocks (PSHUFB), as in Intel's white paper
 * "Intel Carry-Less Multiplication Instruction and its Usage for Computing
 * the GCM Mode" (Gueron and Kounavis, rev. 2.02): a 128x128-bit carry-less
 * product in three PCLMULQDQ (Karatsuba), a shift left by one bit (the
 * reflection) and the reduction modulo x^128 + x^7 + x^2 + x + 1. Shift
 * and reduction are linear, so eight products are summed first and reduced
 * once: Y' = (Y ^ C1) H^8 ^ C2 H^7 ^ ... ^ C8 H. The counter is kept
 * byte-reversed so that its low 32 bits are lane 0, where PADDD increments
 * it modulo 2^32 (inc32). */
#include <cpuid.h>
#include <immintrin.h>
#include <string.h>
#include "gcmni.h"

int gcmni_cpu_ok(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	return (c >> 25 & 1) /* AES */ && (c >> 1 & 1) /* PCLMULQDQ */ && (c >> 9 & 1) /* SSSE3 */;
}

/* Whether the CPU has VAES and VPCLMULQDQ on 256-bit registers and the
 * system (in an enclave: its XFRM) has the AVX state enabled. */
static int cpu_wide(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c >> 27 & 1) /* OSXSAVE */ || !(c >> 28 & 1) /* AVX */)
		return 0;
	if (__get_cpuid_max(0, 0) < 7)
		return 0;
	__cpuid_count(7, 0, a, b, c, d);
	if (!(b >> 5 & 1) /* AVX2 */ || !(c >> 9 & 1) /* VAES */ || !(c >> 10 & 1) /* VPCLMULQDQ */)
		return 0;
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	(void)hi;
	return (lo & 6) == 6; /* XCR0: SSE and AVX state */
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
	for (int e = 1; e <= 8; e++) {
		_mm_storeu_si128((__m128i *)k->hpow[8 - e], p);
		p = gfmul(p, h);
	}
	for (int i = 8; i < 16; i++)
		_mm_storeu_si128((__m128i *)k->hpow[i], _mm_setzero_si128());
	k->wide = (uint8_t)cpu_wide();
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

/* Eight blocks at a time: AESENC's latency is several cycles, so more
 * independent blocks hide more of it (eight against four: 3.4-3.6 against
 * 3.1-3.2 GB/s on 2,600-byte chunks, docs/benchmarks.md). The eight
 * keystream blocks (into ks) are computed while the m <= 8 ciphertext
 * blocks c[0:16m] are hashed into lo:hi (Y folded into the first block; block j multiplied by
 * H^(m-j)), which the caller reduces. c is a private copy: the ciphertext
 * is loaded from it twice, for the hash and for the decryption. */
#define AES_ROUND(r)                           \
	do {                                   \
		rk = LOADK(r);                 \
		x0 = _mm_aesenc_si128(x0, rk); \
		x1 = _mm_aesenc_si128(x1, rk); \
		x2 = _mm_aesenc_si128(x2, rk); \
		x3 = _mm_aesenc_si128(x3, rk); \
		x4 = _mm_aesenc_si128(x4, rk); \
		x5 = _mm_aesenc_si128(x5, rk); \
		x6 = _mm_aesenc_si128(x6, rk); \
		x7 = _mm_aesenc_si128(x7, rk); \
	} while (0)
#define GH(j)                                                                                      \
	do {                                                                                       \
		if ((j) < m)                                                                       \
			mul_acc(bswap128(_mm_loadu_si128((const __m128i *)(c + 16 * (j)))),        \
				_mm_loadu_si128((const __m128i *)k->hpow[8 - m + (j)]), &lo, &hi); \
	} while (0)

static inline void aes8_ghash(const struct gcmni_key *k, __m128i ctr, uint8_t ks[128], const uint8_t c[128], int m,
			      __m128i y, __m128i *ylo, __m128i *yhi)
{
	const __m128i one = _mm_set_epi32(0, 0, 0, 1);
	__m128i rk = LOADK(0), c0 = _mm_add_epi32(ctr, one), c1 = _mm_add_epi32(c0, one);
	__m128i c2 = _mm_add_epi32(c1, one), c3 = _mm_add_epi32(c2, one), c4 = _mm_add_epi32(c3, one);
	__m128i c5 = _mm_add_epi32(c4, one), c6 = _mm_add_epi32(c5, one), c7 = _mm_add_epi32(c6, one);
	__m128i x0 = _mm_xor_si128(bswap128(c0), rk), x1 = _mm_xor_si128(bswap128(c1), rk);
	__m128i x2 = _mm_xor_si128(bswap128(c2), rk), x3 = _mm_xor_si128(bswap128(c3), rk);
	__m128i x4 = _mm_xor_si128(bswap128(c4), rk), x5 = _mm_xor_si128(bswap128(c5), rk);
	__m128i x6 = _mm_xor_si128(bswap128(c6), rk), x7 = _mm_xor_si128(bswap128(c7), rk);
	__m128i lo = _mm_setzero_si128(), hi = _mm_setzero_si128();
	mul_acc(_mm_xor_si128(y, bswap128(_mm_loadu_si128((const __m128i *)c))),
		_mm_loadu_si128((const __m128i *)k->hpow[8 - m]), &lo, &hi);
	AES_ROUND(1);
	GH(1);
	AES_ROUND(2);
	GH(2);
	AES_ROUND(3);
	GH(3);
	AES_ROUND(4);
	GH(4);
	AES_ROUND(5);
	GH(5);
	AES_ROUND(6);
	GH(6);
	AES_ROUND(7);
	GH(7);
	for (int r = 8; r < 14; r++)
		AES_ROUND(r);
	rk = LOADK(14);
	_mm_storeu_si128((__m128i *)ks, _mm_aesenclast_si128(x0, rk));
	_mm_storeu_si128((__m128i *)(ks + 16), _mm_aesenclast_si128(x1, rk));
	_mm_storeu_si128((__m128i *)(ks + 32), _mm_aesenclast_si128(x2, rk));
	_mm_storeu_si128((__m128i *)(ks + 48), _mm_aesenclast_si128(x3, rk));
	_mm_storeu_si128((__m128i *)(ks + 64), _mm_aesenclast_si128(x4, rk));
	_mm_storeu_si128((__m128i *)(ks + 80), _mm_aesenclast_si128(x5, rk));
	_mm_storeu_si128((__m128i *)(ks + 96), _mm_aesenclast_si128(x6, rk));
	_mm_storeu_si128((__m128i *)(ks + 112), _mm_aesenclast_si128(x7, rk));
	*ylo = lo;
	*yhi = hi;
}

/* The same with VAES and VPCLMULQDQ on 256-bit registers, two blocks per
 * instruction: g groups of eight blocks from src (each loaded once, into
 * registers) decrypted into dst, *ctr and *y advanced. With m < 8 (g = 1),
 * the last blocks: src is then a zero-padded private copy, blocks past m
 * are multiplied by zero. Not inlined into its SSE caller, so the compiler
 * ends it with VZEROUPPER. */
#define WROUND(r)                                           \
	do {                                                \
		rk = _mm256_broadcastsi128_si256(LOADK(r)); \
		x0 = _mm256_aesenc_epi128(x0, rk);          \
		x1 = _mm256_aesenc_epi128(x1, rk);          \
		x2 = _mm256_aesenc_epi128(x2, rk);          \
		x3 = _mm256_aesenc_epi128(x3, rk);          \
	} while (0)
#define WGH(a, j)                                                                                                  \
	do {                                                                                                       \
		__m256i a_ = _mm256_shuffle_epi8(a, rev);                                                          \
		if ((j) == 0)                                                                                      \
			a_ = _mm256_xor_si256(a_, _mm256_set_m128i(_mm_setzero_si128(), y1));                      \
		__m256i b_ = _mm256_loadu_si256((const __m256i *)k->hpow[8 - m + (j)]);                            \
		__m256i mid_ = _mm256_xor_si256(_mm256_clmulepi64_epi128(a_, b_, 0x10),                            \
						_mm256_clmulepi64_epi128(a_, b_, 0x01));                           \
		lo = _mm256_xor_si256(                                                                             \
			lo, _mm256_xor_si256(_mm256_clmulepi64_epi128(a_, b_, 0x00), _mm256_slli_si256(mid_, 8))); \
		hi = _mm256_xor_si256(                                                                             \
			hi, _mm256_xor_si256(_mm256_clmulepi64_epi128(a_, b_, 0x11), _mm256_srli_si256(mid_, 8))); \
	} while (0)

__attribute__((target("avx2,vaes,vpclmulqdq,aes,pclmul,ssse3"))) static void
open_wide(const struct gcmni_key *k, __m128i *ctr, __m128i *y, const uint8_t *src, uint8_t *dst, size_t g, int m)
{
	const __m256i rev =
		_mm256_broadcastsi128_si256(_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
	const __m256i two = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
	/* counter block j in lane j % 2 of register j / 2 */
	__m256i c01 = _mm256_add_epi32(_mm256_broadcastsi128_si256(*ctr), _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 1));
	const __m256i eight = _mm256_set_epi32(0, 0, 0, 8, 0, 0, 0, 8);
	__m128i y1 = *y;
	for (size_t i = 0; i < g; i++, src += 128, dst += 128) {
		__m256i c23 = _mm256_add_epi32(c01, two), c45 = _mm256_add_epi32(c23, two);
		__m256i c67 = _mm256_add_epi32(c45, two);
		__m256i rk = _mm256_broadcastsi128_si256(LOADK(0));
		__m256i x0 = _mm256_xor_si256(_mm256_shuffle_epi8(c01, rev), rk);
		__m256i x1 = _mm256_xor_si256(_mm256_shuffle_epi8(c23, rev), rk);
		__m256i x2 = _mm256_xor_si256(_mm256_shuffle_epi8(c45, rev), rk);
		__m256i x3 = _mm256_xor_si256(_mm256_shuffle_epi8(c67, rev), rk);
		c01 = _mm256_add_epi32(c01, eight);
		/* the ciphertext, read once: hashed and decrypted */
		__m256i s0 = _mm256_loadu_si256((const __m256i *)src);
		__m256i s1 = _mm256_loadu_si256((const __m256i *)(src + 32));
		__m256i s2 = _mm256_loadu_si256((const __m256i *)(src + 64));
		__m256i s3 = _mm256_loadu_si256((const __m256i *)(src + 96));
		__m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
		WROUND(1);
		WGH(s0, 0);
		WROUND(2);
		WGH(s1, 2);
		WROUND(3);
		WGH(s2, 4);
		WROUND(4);
		WGH(s3, 6);
		for (int r = 5; r < 14; r++)
			WROUND(r);
		rk = _mm256_broadcastsi128_si256(LOADK(14));
		/* the two lanes' sums added: the products of all eight blocks */
		y1 = reduce(_mm_xor_si128(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1)),
			    _mm_xor_si128(_mm256_castsi256_si128(hi), _mm256_extracti128_si256(hi, 1)));
		_mm256_storeu_si256((__m256i *)dst, _mm256_xor_si256(s0, _mm256_aesenclast_epi128(x0, rk)));
		_mm256_storeu_si256((__m256i *)(dst + 32), _mm256_xor_si256(s1, _mm256_aesenclast_epi128(x1, rk)));
		_mm256_storeu_si256((__m256i *)(dst + 64), _mm256_xor_si256(s2, _mm256_aesenclast_epi128(x2, rk)));
		_mm256_storeu_si256((__m256i *)(dst + 96), _mm256_xor_si256(s3, _mm256_aesenclast_epi128(x3, rk)));
	}
	*ctr = _mm_add_epi32(*ctr, _mm_set_epi32(0, 0, 0, (int)(8 * g)));
	*y = y1;
}

int gcmni_open(const struct gcmni_key *k, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
	       const uint8_t *src, uint8_t *dst, size_t n, const uint8_t tag[16])
{
	const __m128i h1 = _mm_loadu_si128((const __m128i *)k->hpow[7]);
	uint8_t j0b[16];
	for (int i = 0; i < 12; i++)
		j0b[i] = nonce[i];
	j0b[12] = j0b[13] = j0b[14] = 0;
	j0b[15] = 1;
	__m128i j0 = _mm_loadu_si128((const __m128i *)j0b);
	__m128i ctr = bswap128(j0); /* the 32-bit counter in lane 0 */

	__m128i y = ghash_bytes(_mm_setzero_si128(), h1, aad, aad_len);
	uint8_t c[128], ks[128];
	size_t off = 0;
	if (k->wide && n >= 128) {
		open_wide(k, &ctr, &y, src, dst, n / 128, 8);
		off = n / 128 * 128;
	}
	while (off < n) {
		/* 128 bytes, or the last 1..127 as m blocks, the last one
		 * zero-padded */
		size_t r = n - off < 128 ? n - off : 128;
		int m = (int)((r + 15) / 16);
		if (r == 128) {
			memcpy(c, src + off, 128);
		} else {
			for (size_t i = 0; i < r; i++)
				c[i] = src[off + i];
			for (size_t i = r; i < 128; i++)
				c[i] = 0;
		}
		if (k->wide) { /* the tail: into ks, then the r bytes wanted */
			open_wide(k, &ctr, &y, c, ks, 1, m);
			for (size_t i = 0; i < r; i++)
				dst[off + i] = ks[i];
			off += r;
			continue;
		}
		__m128i lo, hi;
		aes8_ghash(k, ctr, ks, c, m, y, &lo, &hi);
		ctr = _mm_add_epi32(ctr, _mm_set_epi32(0, 0, 0, 8));
		y = reduce(lo, hi);
		if (r == 128)
			for (int i = 0; i < 8; i++)
				_mm_storeu_si128((__m128i *)(dst + off + 16 * (size_t)i),
						 _mm_xor_si128(_mm_loadu_si128((const __m128i *)(c + 16 * i)),
							       _mm_loadu_si128((const __m128i *)(ks + 16 * i))));
		else
			for (size_t i = 0; i < r; i++)
				dst[off + i] = (uint8_t)(c[i] ^ ks[i]);
		off += r;
	}
	for (size_t i = 0; i < sizeof ks; i++) /* keystream and plaintext of the last blocks */
		((volatile uint8_t *)ks)[i] = 0;
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
