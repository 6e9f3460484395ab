/* SHA-256 of a message made of whole 64-byte blocks (the SGXS measurement
 * stream: every ECREATE, EADD and EEXTEND record and every 256-byte chunk is
 * a multiple of 64 bytes), and of any message in one call (the protected FS
 * image's index). The compression uses the CPU's SHA extensions
 * when it has them (SHA-NI: every SGX2-capable server CPU), else portable C;
 * both give the same digest (test_sgxs checks them against each other and
 * the SGX vectors). Portable: no libc, no allocation. */
#ifndef SCONE_SHA256BLK_H
#define SCONE_SHA256BLK_H
#include <stddef.h>
#include <stdint.h>

struct sha256blk {
	uint32_t h[8];
	uint64_t nblocks;
	int shani; /* use the SHA extensions */
};

/* use_shani: 1 to use the SHA extensions when the CPU has them, 0 for the
 * portable compression (tests). */
void sha256blk_init(struct sha256blk *c, int use_shani);
/* n blocks of 64 bytes each. */
void sha256blk_add(struct sha256blk *c, const uint8_t *blocks, size_t n);
void sha256blk_final(struct sha256blk *c, uint8_t out[32]);
/* SHA-256 of m[0:len], any length, in one call (with the SHA extensions
 * when the CPU has them). */
void sha256blk_hash(const uint8_t *m, size_t len, uint8_t out[32]);
/* Whether this CPU has the SHA extensions (CPUID.7.0:EBX[29]). */
int sha256blk_cpu_has_shani(void);
#endif
