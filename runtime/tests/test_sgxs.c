/* Host test of runtime/lib/sgxs.c: the C measurement must equal the Go one
 * (pkg/enclave) on the fixtures in testdata/enclave, and hashing the shared
 * Fortanix vector test_enclave.sgxs must give the ENCLAVEHASH of
 * test_enclave.sig. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgxs.h"
#include "sigstruct.h"
#include "testutil.h"

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = 0;
}

static uint8_t *must_read(const char *path, size_t *len)
{
	uint8_t *b = read_file(path, len);
	if (b == NULL) {
		fprintf(stderr, "test_sgxs: cannot read %s (run from the repo root)\n", path);
		exit(1);
	}
	return b;
}

static void test_fixture(const char *name, const uint8_t *cfg, size_t cfg_len, struct sgxs_layout *lout)
{
	char path[256];
	size_t elf_len, hex_len;
	snprintf(path, sizeof(path), "testdata/enclave/%s.elf", name);
	uint8_t *elf = must_read(path, &elf_len);
	snprintf(path, sizeof(path), "testdata/enclave/%s.mrenclave.hex", name);
	uint8_t *want = must_read(path, &hex_len);

	uint8_t mr[32];
	char got[65];
	int e = sgxs_measure(elf, elf_len, cfg, cfg_len, mr, lout);
	CHECK(e == SGXS_OK);
	if (e)
		fprintf(stderr, "sgxs_measure(%s): %s\n", name, sgxs_strerror(e));
	hex(mr, 32, got);
	CHECK(hex_len >= 64 && memcmp(got, want, 64) == 0);
	if (hex_len < 64 || memcmp(got, want, 64) != 0)
		fprintf(stderr, "%s: C MRENCLAVE %s, Go %.64s\n", name, got, (const char *)want);

	/* deterministic */
	uint8_t mr2[32];
	CHECK(sgxs_measure(elf, elf_len, cfg, cfg_len, mr2, NULL) == SGXS_OK && memcmp(mr, mr2, 32) == 0);

	/* every truncation of the ELF fails cleanly or (beyond the last segment) measures the same */
	for (size_t n = 0; n < elf_len; n += 29) {
		int r = sgxs_measure(elf, n, cfg, cfg_len, mr2, NULL);
		CHECK(r == SGXS_EELF || (r == SGXS_OK && memcmp(mr, mr2, 32) == 0));
	}
	/* changing a config byte in the FS root changes MRENCLAVE */
	uint8_t *c2 = malloc(cfg_len);
	memcpy(c2, cfg, cfg_len);
	/* corrupting the config must not crash; most corruptions are refused */
	for (size_t i = 0; i < cfg_len; i++) {
		c2[i] ^= 0x40;
		int r = sgxs_measure(elf, elf_len, c2, cfg_len, mr2, NULL);
		CHECK(r != SGXS_OK || memcmp(mr, mr2, 32) != 0);
		c2[i] ^= 0x40;
	}
	free(c2);
	/* random ELF header corruption never crashes */
	uint8_t *e2 = malloc(elf_len);
	uint32_t x = 99;
	for (int it = 0; it < 2000; it++) {
		memcpy(e2, elf, elf_len);
		for (int k = 0; k < 2; k++) {
			x = x * 1103515245u + 12345u;
			size_t pos = (x >> 8) % (elf_len < 400 ? elf_len : 400);
			x = x * 1103515245u + 12345u;
			e2[pos] = (uint8_t)(x >> 16);
		}
		/* hash only small images: a corrupted p_memsz may legitimately
		 * describe a 1 GiB image, which is slow to hash, not wrong */
		struct sgxs_layout l2;
		if (sgxs_layout(e2, elf_len, cfg_len, 1u << 20, 64u << 10, 2, &l2) == SGXS_OK &&
		    l2.image_size <= (1u << 20))
			CHECK(sgxs_measure(e2, elf_len, cfg, cfg_len, mr2, NULL) == SGXS_OK);
	}
	free(e2);
	free(elf);
	free(want);
}

static void test_vector(void)
{
	size_t slen, siglen;
	uint8_t *s = read_file("../shared/testvectors/sgx/test_enclave.sgxs", &slen);
	uint8_t *sig = read_file("../shared/testvectors/sgx/test_enclave.sig", &siglen);
	if (s == NULL || sig == NULL) {
		printf("test_sgxs: SKIP shared vector test: ../shared/testvectors/sgx not found\n");
		free(s);
		free(sig);
		return;
	}
	uint8_t mr[32];
	CHECK(sgxs_hash_stream(s, slen, mr) == SGXS_OK);
	struct sigstruct_info info;
	CHECK(sigstruct_parse(sig, siglen, &info) == SIGSTRUCT_OK);
	CHECK(memcmp(mr, info.enclavehash, 32) == 0);
	/* malformed streams */
	CHECK(sgxs_hash_stream(s, slen - 1, mr) == SGXS_ESTREAM);
	CHECK(sgxs_hash_stream(s + 64, slen - 64, mr) == SGXS_ESTREAM);
	CHECK(sgxs_hash_stream(s, 32, mr) == SGXS_ESTREAM);
	free(s);
	free(sig);
}

int main(void)
{
	size_t cfg_len;
	uint8_t *cfg = must_read("testdata/enclave/config.bin", &cfg_len);
	struct sgxs_layout l;
	test_fixture("tiny", cfg, cfg_len, &l);
	test_fixture("shared", cfg, cfg_len, &l);
	/* same numbers as TestLayoutAddresses in pkg/enclave/layout_test.go */
	CHECK(l.image_vaddr == 0x10000 && l.image_size == 0x4000 && l.entry == 0x200);
	CHECK(l.config_off == 0x5000 && l.config_pages == 1 && l.heap_off == 0x7000);
	CHECK(l.thread_off == 0x107000 && l.thread_stride == 0x15000 && l.tcs_rel == 0x11000 && l.td_rel == 0x14000);
	CHECK(l.end == 0x107000 + 2 * 0x15000 + 0x1000 && l.size == 0x200000);
	CHECK(l.eadds == 4 + 1 + 256 + 2 * 20 && l.eextends == 7 * 16);

	struct sgxs_layout l2;
	size_t elf_len;
	uint8_t *elf = must_read("testdata/enclave/shared.elf", &elf_len);
	CHECK(sgxs_layout(elf, elf_len, cfg_len, 1u << 20, 64u << 10, 2, &l2) == SGXS_OK);
	CHECK(memcmp(&l, &l2, sizeof(l)) == 0);
	CHECK(sgxs_layout(elf, elf_len, cfg_len, 1ull << 40, 64u << 10, 2, &l2) == SGXS_ESIZE);
	free(elf);
	free(cfg);

	/* default config: 1 GiB heap, 64 threads x 8 MiB stacks (400k+ EADD records) */
	{
		size_t el, dl, hl;
		uint8_t *e = must_read("testdata/enclave/tiny.elf", &el);
		uint8_t *d = must_read("testdata/enclave/default.config.bin", &dl);
		uint8_t *h = must_read("testdata/enclave/tiny.default.mrenclave.hex", &hl);
		uint8_t mr[32];
		char got[65];
		struct sgxs_layout dlay;
		CHECK(sgxs_measure(e, el, d, dl, mr, &dlay) == SGXS_OK);
		hex(mr, 32, got);
		CHECK(hl >= 64 && memcmp(got, h, 64) == 0);
		CHECK(dlay.heap_size == 1ull << 30 && dlay.nthreads == 64 && dlay.size == 1ull << 31);
		free(e);
		free(d);
		free(h);
	}

	test_vector();
	return test_summary("test_sgxs");
}
