/* X25519 (RFC 7748, section 5): constant-time Montgomery ladder over
 * 64-bit limbs, several times faster than BearSSL's portable 31-bit code
 * (the build's BearSSL has no 64-bit curve code); used by the TLS engine
 * through ecfast.h. Portable: no syscalls, no allocation. */
#ifndef SCONE_X25519_H
#define SCONE_X25519_H
#include <stdint.h>

/* out = X25519(scalar, point): scalar and point little-endian as in RFC
 * 7748 (the scalar is clamped here, the point's top bit ignored). */
void x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]);
#endif
