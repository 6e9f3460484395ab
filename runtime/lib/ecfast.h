/* The elliptic-curve implementation the TLS engine uses (tlsconn.c,
 * tlscred.c): BearSSL's br_ec_impl interface with the runtime's 64-bit
 * code for the two curves of every handshake, P-256 (ECDSA signatures,
 * ECDHE) and Curve25519 (ECDHE): x25519.h, p256.h. Other curves (P-384,
 * P-521) and muladd (signature verification) go to BearSSL's i31 code. */
#ifndef SCONE_ECFAST_H
#define SCONE_ECFAST_H
#include <bearssl.h>

extern const br_ec_impl rt_ec_fast;
#endif
