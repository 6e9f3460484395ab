/* The cryptography of the CAS enclave protocol, version 1 (docs/cas.md):
 * the session key, the REPORTDATA that binds it to the CAS's nonce, and the
 * sealed secrets (ECDH P-256 with the CAS's ephemeral key, HKDF-SHA256,
 * AES-256-GCM with a zero nonce, the policy hash as AAD). BearSSL, no libc,
 * no allocation; every intermediate secret is wiped before returning. */
#ifndef SCONE_CASSEAL_H
#define SCONE_CASSEAL_H

#include <stddef.h>
#include <stdint.h>

#define CASSEAL_PRIV 32
#define CASSEAL_POINT 65
#define CASSEAL_TAG 16
/* The REPORTDATA label and the HKDF info. */
#define CASSEAL_ATTEST_LABEL "scone-cas attest v1"
#define CASSEAL_INFO "scone-cas secrets v1"
/* The HKDF info of the record key (docs/cas.md, "Volume state"). */
#define CASSEAL_RECORD_INFO "scone-cas volume record v1"

/* A P-256 key pair from seed (at least 32 bytes of randomness): the private
 * scalar (32 bytes, big-endian) and the public point 04 || X || Y. 0 or -1. */
int casseal_keygen(const uint8_t *seed, size_t seed_len, uint8_t priv[CASSEAL_PRIV], uint8_t pub[CASSEAL_POINT]);

/* REPORTDATA = SHA-256(label || 0x00 || nonce || pub) || 32 zero bytes. */
void casseal_report_data(const uint8_t nonce[32], const uint8_t pub[CASSEAL_POINT], uint8_t out[64]);

/* K = HKDF-SHA256(IKM = x(ECDH(priv, peer)), salt = nonce, info). 0, or -1
 * when peer is not a valid P-256 point. */
int casseal_key(const uint8_t priv[CASSEAL_PRIV], const uint8_t peer[CASSEAL_POINT], const uint8_t nonce[32],
		uint8_t key[32]);

/* The record key that authenticates volume state requests: as casseal_key
 * with info CASSEAL_RECORD_INFO (the same exchange, another key). */
int casseal_record_key(const uint8_t priv[CASSEAL_PRIV], const uint8_t peer[CASSEAL_POINT], const uint8_t nonce[32],
		       uint8_t key[32]);

/* Opens sealed secrets (ciphertext || 16-byte tag, sealed_len >= 16) with
 * the session key priv and the CAS's ephemeral key cas_pub: the plaintext
 * (sealed_len - 16 bytes) goes to out. 0; -1 for a bad point; -2 when the
 * tag does not verify (out is then wiped). out may equal sealed. */
int casseal_open(const uint8_t priv[CASSEAL_PRIV], const uint8_t cas_pub[CASSEAL_POINT], const uint8_t nonce[32],
		 const uint8_t policy_hash[32], const uint8_t *sealed, size_t sealed_len, uint8_t *out);

/* The CAS's side (tests): seals plain (len bytes) with the ephemeral key
 * e_priv to the session key session_pub into out (len + 16 bytes). */
int casseal_seal(const uint8_t e_priv[CASSEAL_PRIV], const uint8_t session_pub[CASSEAL_POINT], const uint8_t nonce[32],
		 const uint8_t policy_hash[32], const uint8_t *plain, size_t len, uint8_t *out);

#endif
