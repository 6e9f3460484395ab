/* NIST P-256 (secp256r1) point multiplication, constant time, over 64-bit
 * limbs: the build's BearSSL has only its portable 31-bit curve code, ~10
 * times slower; used by the TLS engine through ecfast.h. Points are
 * uncompressed (0x04 || X || Y, 65 bytes), scalars unsigned big-endian
 * (as BearSSL's br_ec_impl). Portable: no syscalls; allocates only to make the table. */
#ifndef SCONE_P256_H
#define SCONE_P256_H
#include <stddef.h>
#include <stdint.h>

/* Computes the generator's table (61,440 bytes, static) unless done (the
 * first p256_mulgen does it otherwise): 1 when it is ready, 0 when another
 * thread is making it or there was no memory for the work space (92 KiB,
 * rt_malloc, given back). Thread-safe, never waits. */
int p256_precompute(void);
/* out = k G; k non-zero, below the order, at most 32 significant bytes.
 * Returns 65, or 0 for a scalar longer than 32 significant bytes. */
size_t p256_mulgen(uint8_t out[65], const uint8_t *k, size_t klen);
/* g = k g in place; 1, or 0 when g is not a point of the curve (length,
 * prefix, coordinates at least p, off the curve) or the result is the
 * point at infinity. */
uint32_t p256_mul(uint8_t *g, size_t glen, const uint8_t *k, size_t klen);
#endif
