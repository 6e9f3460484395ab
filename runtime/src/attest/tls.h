/* TLS 1.2 to the CAS (BearSSL), pinned to the CAS ID of the measured config
 * (docs/cas.md, "The CAS's identity"): no certificate chain is validated
 * and no time is needed; the server's leaf certificate must carry the P-256
 * key whose SHA-256 of the DER SubjectPublicKeyInfo is the CAS ID, and the
 * handshake proves the server holds it. Cipher suites: ECDHE-ECDSA with
 * AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305. Randomness: the runtime's
 * (rt_random, from the CPU), never the host. */
#ifndef SCONE_ATTEST_TLS_H
#define SCONE_ATTEST_TLS_H

#include <stddef.h>
#include <stdint.h>

struct tls_conn;

/* What tls_open says about a failed handshake. */
enum {
	TLS_OK = 0,
	TLS_EPIN = 1,  /* the server's key is not the pinned CAS ID (got holds its ID) */
	TLS_EKEY = 2,  /* the server's certificate has no P-256 key */
	TLS_EFAIL = 3, /* any other handshake failure (BearSSL code in *err) */
	TLS_ENOMEM = 4,
};

/* Runs the handshake on the connected socket fd (sni: the host name, NULL
 * for an IP literal). On TLS_OK *out is the connection (it owns fd). */
int tls_open(struct tls_conn **out, int fd, const char *sni, const uint8_t pin[32], uint8_t got[32], int *err);
/* 0, or -1 (the connection failed). */
/* Buffers n bytes (sent when the record fills, or at tls_flush); 0 or -1. */
int tls_write(struct tls_conn *c, const void *b, size_t n);
int tls_flush(struct tls_conn *c);
/* Bytes read (0: the server closed), or -1. */
long tls_read(struct tls_conn *c, void *b, size_t n);
/* Closes fd, wipes and frees the connection. */
void tls_close(struct tls_conn *c);
/* The last BearSSL error, for messages. */
int tls_error(const struct tls_conn *c);

/* CAS ID of an uncompressed P-256 point Q: SHA-256(SPKI prefix || Q). */
void tls_cas_id(const uint8_t q[65], uint8_t id[32]);

#endif
