/* Host test of the runtime's curve code (lib/x25519.c, lib/p256.c,
 * lib/ecfast.c): RFC 7748's vectors, and every operation against
 * BearSSL's own implementations on random inputs, including ECDSA
 * signatures (deterministic, RFC 6979: byte-identical) and the points a
 * peer may send that are not on the curve.
 *
 * `test_ecfast bench` prints the cost of each operation against BearSSL's
 * (bench/tls-ec.sh); the test itself asserts no time. */
#include <string.h>
#include <time.h>

#include "ecfast.h"
#include "p256.h"
#include "x25519.h"
#include "testutil.h"

static br_hmac_drbg_context rng;

static void rnd(void *p, size_t n) { br_hmac_drbg_generate(&rng, p, n); }

static void unhex(uint8_t *out, const char *h)
{
	for (size_t i = 0; h[2 * i]; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void test_rfc7748(void)
{
	uint8_t k[32], u[32], want[32], out[32];
	/* section 5.2, the first vector */
	unhex(k, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
	unhex(u, "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
	unhex(want, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
	x25519(out, k, u);
	CHECK(!memcmp(out, want, 32));
	/* the second, whose point has its top bit set (ignored) */
	unhex(k, "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d");
	unhex(u, "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493");
	unhex(want, "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
	x25519(out, k, u);
	CHECK(!memcmp(out, want, 32));
	/* 1,000 iterations of k, u = X25519(k, u), k */
	uint8_t kk[32] = {9}, uu[32] = {9}, t[32];
	for (int i = 0; i < 1000; i++) {
		x25519(t, kk, uu);
		memcpy(uu, kk, 32);
		memcpy(kk, t, 32);
	}
	unhex(want, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
	CHECK(!memcmp(kk, want, 32));
	/* section 6.1: both ends of a Diffie-Hellman exchange */
	uint8_t a[32], b[32], pa[32], pb[32], sa[32], sb[32];
	static const uint8_t nine[32] = {9};
	unhex(a, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	unhex(b, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
	x25519(pa, a, nine);
	x25519(pb, b, nine);
	unhex(want, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	CHECK(!memcmp(pa, want, 32));
	x25519(sa, a, pb);
	x25519(sb, b, pa);
	unhex(want, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	CHECK(!memcmp(sa, want, 32) && !memcmp(sb, want, 32));
}

static void test_c25519_vs_bearssl(void)
{
	int bad = 0;
	for (size_t len = 1; len <= 33; len++)
		for (int i = 0; i < 20; i++) {
			uint8_t s[33], g[32], a[32], b[32];
			rnd(s, sizeof s);
			rnd(g, sizeof g);
			memcpy(a, g, 32);
			memcpy(b, g, 32);
			uint32_t ra = rt_ec_fast.mul(a, 32, s, len, BR_EC_curve25519);
			uint32_t rb = br_ec_c25519_m31.mul(b, 32, s, len, BR_EC_curve25519);
			bad += ra != rb || (ra && memcmp(a, b, 32));
			if (len > 32) /* BearSSL's mulgen then returns 32 garbage bytes; ours 0 */
				continue;
			size_t la = rt_ec_fast.mulgen(a, s, len, BR_EC_curve25519);
			size_t lb = br_ec_c25519_m31.mulgen(b, s, len, BR_EC_curve25519);
			bad += la != lb || (la && memcmp(a, b, la));
		}
	CHECK_EQ(bad, 0);
	uint8_t g[33] = {9}, s[32] = {1};
	CHECK_EQ(rt_ec_fast.mul(g, 33, s, 32, BR_EC_curve25519), 0);
}

static void test_p256_vs_bearssl(void)
{
	size_t olen;
	const unsigned char *order = br_ec_p256_m31.order(BR_EC_secp256r1, &olen);
	CHECK_EQ(olen, 32);
	int bad = 0;
	for (int i = 0; i < 300; i++) {
		uint8_t k[32], k2[32], a[65], b[65];
		rnd(k, 32);
		k[0] &= 0x7f; /* below the order */
		if (i < 3) {  /* 1, 2, 3 */
			memset(k, 0, 32);
			k[31] = (uint8_t)(i + 1);
		} else if (i == 3) { /* n - 1 */
			memcpy(k, order, 32);
			k[31]--;
		}
		size_t la = p256_mulgen(a, k, 32), lb = br_ec_p256_m31.mulgen(b, k, 32, BR_EC_secp256r1);
		bad += la != lb || memcmp(a, b, 65);
		/* a short scalar, as BearSSL's ECDSA may pass */
		la = p256_mulgen(a, k + 31, 1);
		lb = br_ec_p256_m31.mulgen(b, k + 31, 1, BR_EC_secp256r1);
		bad += (k[31] != 0) && (la != lb || memcmp(a, b, 65));
		rnd(k2, 32);
		k2[0] &= 0x7f;
		memcpy(a, b, 65);
		uint32_t ra = p256_mul(a, 65, k2, 32), rb = br_ec_p256_m31.mul(b, 65, k2, 32, BR_EC_secp256r1);
		bad += ra != rb || memcmp(a, b, 65);
	}
	CHECK_EQ(bad, 0);
	size_t glen;
	const unsigned char *gen = br_ec_p256_m31.generator(BR_EC_secp256r1, &glen);
	uint8_t one[1] = {1}, g[65];
	CHECK(p256_mulgen(g, one, 1) == 65 && glen == 65 && !memcmp(g, gen, 65));
	uint8_t long_k[33] = {1};
	CHECK_EQ(p256_mulgen(g, long_k, 33), 0);
	long_k[0] = 0;
	long_k[32] = 7;
	CHECK_EQ(p256_mulgen(g, long_k, 33), 65);
}

/* What a peer may send instead of a point: refused, never multiplied. */
static void test_p256_invalid_points(void)
{
	uint8_t k[32] = {0}, g[65];
	k[31] = 5;
	p256_mulgen(g, k, 32);
	g[64] ^= 1; /* off the curve */
	CHECK_EQ(p256_mul(g, 65, k, 32), 0);
	p256_mulgen(g, k, 32);
	g[0] = 2; /* compressed: not offered */
	CHECK_EQ(p256_mul(g, 65, k, 32), 0);
	p256_mulgen(g, k, 32);
	CHECK_EQ(p256_mul(g, 64, k, 32), 0);
	memset(g, 0xff, sizeof g); /* coordinates past p */
	g[0] = 4;
	CHECK_EQ(p256_mul(g, 65, k, 32), 0);
	memset(g, 0, sizeof g); /* (0, 0) */
	g[0] = 4;
	CHECK_EQ(p256_mul(g, 65, k, 32), 0);
	/* the order times a point is the point at infinity: an error */
	size_t olen;
	const unsigned char *order = br_ec_p256_m31.order(BR_EC_secp256r1, &olen);
	p256_mulgen(g, k, 32);
	CHECK_EQ(p256_mul(g, 65, order, olen), 0);
}

/* ECDSA as the TLS server signs: RFC 6979 nonces make the signatures of
 * the two implementations byte-identical, and BearSSL verifies them. */
static void test_ecdsa(void)
{
	int bad = 0;
	for (int i = 0; i < 50; i++) {
		uint8_t x[32], h[32], s1[80], s2[80], pub[65];
		rnd(x, 32);
		x[0] &= 0x7f;
		x[0] |= 1;
		rnd(h, 32);
		br_ec_private_key sk = {BR_EC_secp256r1, x, 32};
		size_t n1 = br_ecdsa_i31_sign_asn1(&rt_ec_fast, &br_sha256_vtable, h, &sk, s1);
		size_t n2 = br_ecdsa_i31_sign_asn1(&br_ec_p256_m31, &br_sha256_vtable, h, &sk, s2);
		bad += !n1 || n1 != n2 || memcmp(s1, s2, n1);
		br_ec_public_key pk = {BR_EC_secp256r1, pub, br_ec_compute_pub(&rt_ec_fast, NULL, NULL, &sk)};
		bad += br_ec_compute_pub(&rt_ec_fast, &pk, pub, &sk) != 65;
		bad += br_ecdsa_i31_vrfy_asn1(&br_ec_p256_m31, h, 32, &pk, s1, n1) != 1;
		h[0] ^= 1;
		bad += br_ecdsa_i31_vrfy_asn1(&rt_ec_fast, h, 32, &pk, s1, n1) != 0;
	}
	CHECK_EQ(bad, 0);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Microseconds per call of op on impl (best of 3 rounds of n). */
static double time_op(const br_ec_impl *impl, int curve, int op, int n)
{
	uint8_t k[32], g[65], h[32], sig[80];
	rnd(k, 32);
	k[0] &= 0x7f;
	rnd(h, 32);
	size_t glen = impl->mulgen(g, k, 32, curve);
	br_ec_private_key sk = {curve, k, 32};
	double best = 1e9;
	for (int r = 0; r < 3; r++) {
		double t = now();
		for (int i = 0; i < n; i++) {
			k[31] = (uint8_t)i;
			if (op == 0)
				impl->mulgen(g, k, 32, curve);
			else if (op == 1)
				impl->mul(g, glen, k, 32, curve);
			else
				br_ecdsa_i31_sign_asn1(impl, &br_sha256_vtable, h, &sk, sig);
		}
		double us = (now() - t) / n * 1e6;
		best = us < best ? us : best;
	}
	return best;
}

static void bench(void)
{
	static const struct {
		const char *what;
		int curve, op;
		const br_ec_impl *slow;
	} ops[] = {
		{"X25519 key pair (mulgen)", BR_EC_curve25519, 0, &br_ec_c25519_m31},
		{"X25519 shared secret (mul)", BR_EC_curve25519, 1, &br_ec_c25519_m31},
		{"P-256 key pair (mulgen)", BR_EC_secp256r1, 0, &br_ec_p256_m31},
		{"P-256 shared secret (mul)", BR_EC_secp256r1, 1, &br_ec_p256_m31},
		{"ECDSA P-256 sign", BR_EC_secp256r1, 2, &br_ec_p256_m31},
	};
	p256_precompute();
	printf("| operation | BearSSL m31 (us) | runtime (us) | speed-up |\n|---|---|---|---|\n");
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		double s = time_op(ops[i].slow, ops[i].curve, ops[i].op, 300);
		double f = time_op(&rt_ec_fast, ops[i].curve, ops[i].op, 300);
		printf("| %s | %.1f | %.1f | %.1fx |\n", ops[i].what, s, f, s / f);
	}
}

int main(int argc, char **argv)
{
	br_hmac_drbg_init(&rng, &br_sha256_vtable, "test_ecfast", 11);
	if (argc > 1 && !strcmp(argv[1], "bench")) {
		bench();
		return 0;
	}
	test_rfc7748();
	test_c25519_vs_bearssl();
	test_p256_vs_bearssl();
	test_p256_invalid_points();
	test_ecdsa();
	return test_summary("test_ecfast");
}
