/* Sealing keys in simulation mode: what EGETKEY(SEAL_KEY) gives an enclave
 * on SGX hardware, derived here from a platform secret. In simulation mode
 * the host holds that secret (it is derived from the simulation quote key,
 * SCONE_SIM_QUOTE_KEY_FILE): such a key protects nothing against the host;
 * it only gives programs written for SGX the same interface and the same
 * behaviour (one key per enclave, or per signer and product, on one
 * platform).
 *
 *   platform = SHA-256("scone-run sim platform v1" || 0x00 || quote key scalar)
 *   key = HMAC-SHA256(platform, "scone-run sim seal key v1" || 0x00 ||
 *                     policy (1 byte: 1 MRENCLAVE, 2 MRSIGNER) ||
 *                     MRENCLAVE or MRSIGNER (32) || ISVPRODID (2, LE) ||
 *                     ISVSVN (2, LE))[0..16)
 *
 * As on hardware, ISVPRODID and ISVSVN are part of both keys. */
#ifndef SCONE_SEALKEY_H
#define SCONE_SEALKEY_H

#include <stdint.h>
#include "simquote.h"

#define SEALKEY_POLICY_MRENCLAVE 1
#define SEALKEY_POLICY_MRSIGNER 2
#define SEALKEY_SIZE 16

/* The platform secret of a simulation quote key (32-byte scalar). */
void sealkey_platform(const uint8_t quote_key[32], uint8_t platform[32]);
/* The sealing key of id under policy (SEALKEY_POLICY_*). */
void sealkey_derive(const uint8_t platform[32], int policy, const struct sgx_identity *id, uint8_t key[SEALKEY_SIZE]);

#endif
