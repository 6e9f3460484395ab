/* AES-256-GCM decryption in one pass with AES-NI and PCLMULQDQ, for the
 * protected FS reader's chunks (fsp.c).
 *
 * BearSSL's GCM runs CTR and GHASH as two passes over the data, and its
 * GHASH multiplies block by block; here eight blocks at a time are
 * decrypted and hashed together (their products summed before one
 * reduction; with VAES and VPCLMULQDQ two blocks per instruction, in
 * 256-bit registers), and each ciphertext byte is loaded once, for both: the
 * source may be memory the host can change (the mapped image), and what is
 * authenticated is then exactly what is decrypted, without a private copy
 * first. Same results as BearSSL's br_gcm (tests/test_gcmni.c checks them
 * against each other and against the GCM specification's vectors). */
#ifndef SCONE_GCMNI_H
#define SCONE_GCMNI_H
#include <stddef.h>
#include <stdint.h>

/* An expanded AES-256 key and the powers of the hash key, in the
 * byte-reflected form the multiplication uses (no alignment needed):
 * hpow[8 - e] = H^e for e = 1..8, hpow[8..15] zero. wide: the CPU has
 * VAES and VPCLMULQDQ with the AVX state enabled, so eight blocks go
 * through 256-bit registers (set by gcmni_init; a test may clear it). */
struct gcmni_key {
	uint8_t rk[15][16];
	uint8_t hpow[16][16];
	uint8_t wide;
};

/* Whether this CPU has AES-NI, PCLMULQDQ and SSSE3. */
int gcmni_cpu_ok(void);

/* Expands key (32 bytes) into k. Only when gcmni_cpu_ok(). */
void gcmni_init(struct gcmni_key *k, const uint8_t key[32]);

/* Decrypts src[0:n] into dst (they may be the same buffer; otherwise they
 * must not overlap) with the 12-byte nonce and aad[0:aad_len], and checks
 * the 16-byte tag in constant time. 1 when authentic; else 0 and dst[0:n]
 * is wiped. Each byte of src is read once. */
int gcmni_open(const struct gcmni_key *k, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
	       const uint8_t *src, uint8_t *dst, size_t n, const uint8_t tag[16]);
#endif
