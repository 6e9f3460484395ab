/* Host test of runtime/lib/sigstruct.c against the shared SGX vectors
 * (../shared/testvectors/sgx, relative to the repo root) and the Go-signed
 * fixture testdata/enclave/tiny.sigstruct.bin. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

#include "sigstruct.h"
#include "testutil.h"

static int unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = h[2 * i + k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else
				return -1;
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* Verifies a good SIGSTRUCT and that tampering is detected. */
static void check_good(const char *name, uint8_t *b, size_t len, const uint8_t *want_hash, const uint8_t *want_signer)
{
	struct sigstruct_info info;
	int e = sigstruct_verify(b, len, &info);
	CHECK(e == SIGSTRUCT_OK);
	if (e)
		fprintf(stderr, "%s: %s\n", name, sigstruct_strerror(e));
	if (want_hash)
		CHECK(memcmp(info.enclavehash, want_hash, 32) == 0);
	if (want_signer)
		CHECK(memcmp(info.mrsigner, want_signer, 32) == 0);
	CHECK(sigstruct_verify(b, len, NULL) == SIGSTRUCT_OK);

	/* a flipped bit anywhere in the signed bytes breaks the signature */
	static const size_t signed_pos[] = {16, 20, 40, 900, 928, 936, 960, 991, 1024, 1026};
	for (size_t i = 0; i < sizeof(signed_pos) / sizeof(signed_pos[0]); i++) {
		b[signed_pos[i]] ^= 1;
		CHECK(sigstruct_verify(b, len, NULL) == SIGSTRUCT_ESIG);
		b[signed_pos[i]] ^= 1;
	}
	b[516] ^= 1; /* signature */
	CHECK(sigstruct_verify(b, len, NULL) == SIGSTRUCT_ESIG);
	b[516] ^= 1;
	b[200] ^= 1; /* modulus */
	CHECK(sigstruct_verify(b, len, NULL) == SIGSTRUCT_ESIG);
	b[200] ^= 1;
	b[SIGSTRUCT_OFF_Q1] ^= 1;
	CHECK(sigstruct_verify(b, len, NULL) == SIGSTRUCT_EQ);
	b[SIGSTRUCT_OFF_Q1] ^= 1;
	b[SIGSTRUCT_OFF_Q2 + 100] ^= 0x80;
	CHECK(sigstruct_verify(b, len, NULL) == SIGSTRUCT_EQ);
	b[SIGSTRUCT_OFF_Q2 + 100] ^= 0x80;
	b[SIGSTRUCT_OFF_EXPONENT] = 0x01;
	CHECK(sigstruct_verify(b, len, NULL) == SIGSTRUCT_EEXPONENT);
	b[SIGSTRUCT_OFF_EXPONENT] = 0x03;
	b[0] = 0x07;
	CHECK(sigstruct_verify(b, len, NULL) == SIGSTRUCT_EHEADER);
	b[0] = 0x06;
	CHECK(sigstruct_verify(b, len - 1, NULL) == SIGSTRUCT_ESIZE);
	CHECK(sigstruct_verify(b, len, NULL) == SIGSTRUCT_OK);
}

static void test_shared(void)
{
	size_t len, nlen, sig1len;
	uint8_t *te = read_file("../shared/testvectors/sgx/test_enclave.sig", &len);
	uint8_t *n = read_file("../shared/testvectors/sgx/sig1.key_n.bin", &nlen);
	uint8_t *s1 = read_file("../shared/testvectors/sgx/sig1.sigstruct.bin", &sig1len);
	if (te == NULL || n == NULL || s1 == NULL) {
		printf("test_sigstruct: SKIP shared vector tests: ../shared/testvectors/sgx not found\n");
		free(te);
		free(n);
		free(s1);
		return;
	}
	uint8_t want[32];
	unhex("784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc", want, 32);
	check_good("test_enclave.sig", te, len, want, NULL);

	uint8_t signer[32];
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, n, nlen);
	br_sha256_out(&h, signer);
	unhex("c50673624a6cb17c1c6c2a4e6906f47a170c4629b8723781d1017ef376f1a75d", want, 32);
	check_good("sig1.sigstruct.bin", s1, sig1len, want, signer);
	struct sigstruct_info info;
	CHECK(sigstruct_parse(s1, sig1len, &info) == SIGSTRUCT_OK);
	CHECK(info.date == 0x20160109 && info.attr_flags == 0x4 && info.attr_xfrm == 0x3);
	CHECK(info.attrmask_flags == ~(uint64_t)0x2 && info.miscmask == 0xffffffffu);
	free(te);
	free(n);
	free(s1);
}

static void test_fixture(void)
{
	size_t len, hlen;
	uint8_t *b = read_file("testdata/enclave/tiny.sigstruct.bin", &len);
	uint8_t *hx = read_file("testdata/enclave/tiny.mrenclave.hex", &hlen);
	if (b == NULL || hx == NULL || hlen < 64) {
		fprintf(stderr,
			"test_sigstruct: cannot read testdata/enclave/tiny.sigstruct.bin (run from the repo root)\n");
		test_failures++;
		free(b);
		free(hx);
		return;
	}
	uint8_t want[32];
	CHECK(unhex((const char *)hx, want, 32) == 0);
	check_good("tiny.sigstruct.bin", b, len, want, NULL);
	free(b);
	free(hx);
}

int main(void)
{
	test_fixture();
	test_shared();
	return test_summary("test_sigstruct");
}
