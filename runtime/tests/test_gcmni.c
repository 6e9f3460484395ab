/* Unit test of the one-pass AES-256-GCM opener (runtime/lib/gcmni.c): the
 * GCM specification's test case 16 (AES-256, 96-bit IV, AAD), every
 * length 0..600 and random ones up to 5,000 bytes with random AAD against
 * BearSSL's br_gcm (encrypting), a flipped bit in the ciphertext, AAD,
 * nonce or tag refused with the output wiped, and decryption in place;
 * through the 128-bit path and, where the CPU has it, the 256-bit one. */
#include <bearssl.h>
#include <stdlib.h>
#include <string.h>
#include "gcmni.h"
#include "testutil.h"

static void unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad, size_t al, uint8_t *buf, size_t n,
		 uint8_t tag[16])
{
	br_aes_ct64_ctr_keys ck; /* the constant-time portable AES: independent of AES-NI */
	br_aes_ct64_ctr_init(&ck, key, 32);
	br_gcm_context gc;
	br_gcm_init(&gc, &ck.vtable, &br_ghash_ctmul64);
	br_gcm_reset(&gc, nonce, 12);
	br_gcm_aad_inject(&gc, aad, al);
	br_gcm_flip(&gc);
	br_gcm_run(&gc, 1, buf, n);
	br_gcm_get_tag(&gc, tag);
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void test_spec_vector(int wide)
{
	uint8_t k[32], iv[12], a[20], p[60], c[60], t[16], out[60];
	unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", k, 32);
	unhex("cafebabefacedbaddecaf888", iv, 12);
	unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", a, 20);
	unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	      p, 60);
	unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	      c, 60);
	unhex("76fc6ece0f4e1768cddf8853bb2d551b", t, 16);
	struct gcmni_key key;
	gcmni_init(&key, k);
	key.wide = (uint8_t)wide;
	CHECK(gcmni_open(&key, iv, a, sizeof a, c, out, sizeof c, t) == 1);
	CHECK(memcmp(out, p, sizeof p) == 0);
	/* BearSSL agrees with the vector */
	uint8_t b[60], bt[16];
	memcpy(b, p, sizeof p);
	seal(k, iv, a, sizeof a, b, sizeof b, bt);
	CHECK(memcmp(b, c, sizeof c) == 0 && memcmp(bt, t, 16) == 0);
}

static void test_against_bearssl(int wide)
{
	enum { MAX = 5000 };
	static uint8_t pt[MAX], ct[MAX], out[MAX], aad[64];
	uint8_t key[32], nonce[12], tag[16];
	const char *path = wide ? "256-bit" : "128-bit";
	srand(7);
	for (int it = 0; it < 1200; it++) {
		for (int i = 0; i < 32; i++)
			key[i] = (uint8_t)rand();
		for (int i = 0; i < 12; i++)
			nonce[i] = (uint8_t)rand();
		size_t n = it <= 600 ? (size_t)it : (size_t)rand() % MAX + 1, al = (size_t)rand() % 41;
		if (it == 601)
			n = 4096; /* a whole chunk */
		for (size_t i = 0; i < n; i++)
			pt[i] = (uint8_t)rand();
		for (size_t i = 0; i < al; i++)
			aad[i] = (uint8_t)rand();
		memcpy(ct, pt, n);
		seal(key, nonce, aad, al, ct, n, tag);
		struct gcmni_key k;
		gcmni_init(&k, key);
		k.wide = (uint8_t)wide;
		memset(out, 0xa5, n);
		int ok = gcmni_open(&k, nonce, aad, al, ct, out, n, tag);
		CHECK_MSG(ok == 1 && memcmp(out, pt, n) == 0, "%s, length %zu, aad %zu: ok %d", path, n, al, ok);
		if (it % 7 == 0) { /* in place */
			uint8_t *b = malloc(n + 1);
			memcpy(b, ct, n);
			CHECK_MSG(gcmni_open(&k, nonce, aad, al, b, b, n, tag) == 1 && memcmp(b, pt, n) == 0,
				  "in place, length %zu", n);
			free(b);
		}
		/* one flipped bit anywhere is refused, and the output wiped */
		int where = rand() % 4;
		uint8_t n2[12], t2[16];
		memcpy(n2, nonce, 12);
		memcpy(t2, tag, 16);
		if (where == 0 && n)
			ct[(size_t)rand() % n] ^= (uint8_t)(1u << (rand() % 8));
		else if (where == 1 && al)
			aad[(size_t)rand() % al] ^= (uint8_t)(1u << (rand() % 8));
		else if (where == 2)
			n2[rand() % 12] ^= (uint8_t)(1u << (rand() % 8));
		else
			t2[rand() % 16] ^= (uint8_t)(1u << (rand() % 8));
		memset(out, 0xa5, n);
		ok = gcmni_open(&k, n2, aad, al, ct, out, n, t2);
		CHECK_MSG(ok == 0 && all_zero(out, n), "tampered (%d), length %zu: ok %d", where, n, ok);
	}
}

int main(void)
{
	if (!gcmni_cpu_ok()) {
		printf("test_gcmni: skipped: this CPU lacks AES-NI, PCLMULQDQ or SSSE3 (the reader uses BearSSL)\n");
		return 0;
	}
	/* both paths: 128-bit registers (every AES-NI CPU) and, where the CPU
	 * has VAES and VPCLMULQDQ, 256-bit ones */
	struct gcmni_key probe;
	static const uint8_t zero[32];
	gcmni_init(&probe, zero);
	for (int wide = 0; wide <= probe.wide; wide++) {
		test_spec_vector(wide);
		test_against_bearssl(wide);
	}
	if (!probe.wide)
		printf("test_gcmni: the 256-bit path not tested: this CPU lacks VAES or VPCLMULQDQ\n");
	return test_summary("test_gcmni");
}
