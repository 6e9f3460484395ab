/* SHA-256 over whole 64-byte blocks (sha256blk.h), FIPS 180-4. */
#include <string.h>
#include <cpuid.h>
#include <immintrin.h>

#include "sha256blk.h"

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void compress_c(uint32_t h[8], const uint8_t *p, size_t n)
{
	for (; n--; p += 64) {
		uint32_t w[64];
		for (int i = 0; i < 16; i++)
			w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
			       p[4 * i + 3];
		for (int i = 16; i < 64; i++) {
			uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
			uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
			w[i] = w[i - 16] + s0 + w[i - 7] + s1;
		}
		uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
		for (int i = 0; i < 64; i++) {
			uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
			uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
			hh = g;
			g = f;
			f = e;
			e = d + t1;
			d = c;
			c = b;
			b = a;
			a = t1 + t2;
		}
		h[0] += a;
		h[1] += b;
		h[2] += c;
		h[3] += d;
		h[4] += e;
		h[5] += f;
		h[6] += g;
		h[7] += hh;
	}
}

/* The SHA-NI compression (Intel's published instruction sequence: state in
 * the ABEF/CDGH order sha256rnds2 expects, four rounds per step). */
#define RND4(m, k)                                                                      \
	do {                                                                            \
		__m128i t_ = _mm_add_epi32((m), _mm_loadu_si128((const __m128i *)(k))); \
		s1 = _mm_sha256rnds2_epu32(s1, s0, t_);                                 \
		t_ = _mm_shuffle_epi32(t_, 0x0e);                                       \
		s0 = _mm_sha256rnds2_epu32(s0, s1, t_);                                 \
	} while (0)

__attribute__((target("sha,sse4.1,ssse3"))) static void compress_ni(uint32_t h[8], const uint8_t *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i t = _mm_loadu_si128((const __m128i *)&h[0]);  /* A B C D (low..high: D C B A order below) */
	__m128i s1 = _mm_loadu_si128((const __m128i *)&h[4]); /* E F G H */
	t = _mm_shuffle_epi32(t, 0xb1);			      /* CDAB */
	s1 = _mm_shuffle_epi32(s1, 0x1b);		      /* EFGH */
	__m128i s0 = _mm_alignr_epi8(t, s1, 8);		      /* ABEF */
	s1 = _mm_blend_epi16(s1, t, 0xf0);		      /* CDGH */
	for (; n--; p += 64) {
		__m128i a0 = s0, c0 = s1;
		__m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
		__m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
		__m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
		__m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
		for (int r = 0; r < 64; r += 16) {
			RND4(m0, &K[r]);
			if (r < 48) {
				m0 = _mm_sha256msg1_epu32(m0, m1);
				m0 = _mm_add_epi32(m0, _mm_alignr_epi8(m3, m2, 4));
				m0 = _mm_sha256msg2_epu32(m0, m3);
			}
			RND4(m1, &K[r + 4]);
			if (r < 48) {
				m1 = _mm_sha256msg1_epu32(m1, m2);
				m1 = _mm_add_epi32(m1, _mm_alignr_epi8(m0, m3, 4));
				m1 = _mm_sha256msg2_epu32(m1, m0);
			}
			RND4(m2, &K[r + 8]);
			if (r < 48) {
				m2 = _mm_sha256msg1_epu32(m2, m3);
				m2 = _mm_add_epi32(m2, _mm_alignr_epi8(m1, m0, 4));
				m2 = _mm_sha256msg2_epu32(m2, m1);
			}
			RND4(m3, &K[r + 12]);
			if (r < 48) {
				m3 = _mm_sha256msg1_epu32(m3, m0);
				m3 = _mm_add_epi32(m3, _mm_alignr_epi8(m2, m1, 4));
				m3 = _mm_sha256msg2_epu32(m3, m2);
			}
		}
		s0 = _mm_add_epi32(s0, a0);
		s1 = _mm_add_epi32(s1, c0);
	}
	t = _mm_shuffle_epi32(s0, 0x1b);   /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xb1);  /* DCHG */
	s0 = _mm_blend_epi16(t, s1, 0xf0); /* DCBA */
	s1 = _mm_alignr_epi8(s1, t, 8);	   /* ABEF -> HGFE */
	_mm_storeu_si128((__m128i *)&h[0], s0);
	_mm_storeu_si128((__m128i *)&h[4], s1);
}

int sha256blk_cpu_has_shani(void)
{
	unsigned a, b, c, d;
	if (__get_cpuid_max(0, 0) < 7)
		return 0;
	__cpuid_count(7, 0, a, b, c, d);
	(void)a;
	(void)c;
	(void)d;
	return (b >> 29) & 1;
}

void sha256blk_init(struct sha256blk *c, int use_shani)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(c->h, iv, sizeof iv);
	c->nblocks = 0;
	c->shani = use_shani && sha256blk_cpu_has_shani();
}

void sha256blk_add(struct sha256blk *c, const uint8_t *blocks, size_t n)
{
	if (c->shani)
		compress_ni(c->h, blocks, n);
	else
		compress_c(c->h, blocks, n);
	c->nblocks += n;
}

static void digest_out(const struct sha256blk *c, uint8_t out[32])
{
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(c->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)c->h[i];
	}
}

void sha256blk_final(struct sha256blk *c, uint8_t out[32])
{
	uint8_t pad[64] = {0x80};
	uint64_t bits = c->nblocks * 512;
	for (int i = 0; i < 8; i++)
		pad[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256blk_add(c, pad, 1);
	digest_out(c, out);
}

void sha256blk_hash(const uint8_t *m, size_t len, uint8_t out[32])
{
	struct sha256blk c;
	sha256blk_init(&c, 1);
	size_t whole = len / 64, r = len % 64;
	if (whole)
		sha256blk_add(&c, m, whole);
	uint8_t tail[128] = {0};
	if (r)
		memcpy(tail, m + whole * 64, r);
	tail[r] = 0x80;
	size_t nb = r < 56 ? 1 : 2;
	uint64_t bits = (uint64_t)len * 8;
	for (int i = 0; i < 8; i++)
		tail[nb * 64 - 8 + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256blk_add(&c, tail, nb);
	digest_out(&c, out);
}
