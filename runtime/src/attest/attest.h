/* The attest subsystem (runtime/src/attest): before any application code
 * runs, obtain the enclave's secrets from the CAS its measured config names
 * (docs/cas.md, "The runtime side").
 *
 *   1. the quote provider loads what it needs (simulation: the quote key);
 *   2. resolve the CAS address (IP literal; else /etc/hosts, DNS);
 *   3. TLS pinned to the CAS ID; POST /v1/enclave/challenge: the nonce;
 *   4. a fresh P-256 session key; REPORTDATA = SHA-256(label, nonce, its
 *      public key); the quote of this enclave with that REPORTDATA;
 *   5. POST /v1/enclave/attest (policy, nonce, session key, quote) on the
 *      same connection (a CAS replica keeps its nonces in memory);
 *   6. released: open the sealed secrets with the session key (ECDH,
 *      HKDF-SHA256, AES-256-GCM) and decode them; refused: the CAS's reason;
 *   7. wipe the session key, the nonce, the plaintext and the quote key;
 *      keep the session's ID and record key when the policy tracks
 *      volumes (volstate.h).
 *
 * Connection failures, TLS failures, HTTP 503/429 and "try again later" are
 * retried (ATTEST_ATTEMPTS attempts, back-off doubling from ATTEST_BACKOFF_MS);
 * every failure ends the runtime with a message naming the problem and the
 * fix, and an exit code of docs/exit-codes.md:
 *   RT_EX_UNAVAILABLE (69)  the CAS could not be reached or stayed busy
 *   RT_EX_PROTOCOL (76)     the CAS's answer is not the protocol
 *   RT_EX_NOPERM (77)       the quote key is missing or unusable
 *   RT_EX_CAS_REFUSED (79)  the CAS refused: its reason is printed
 *   RT_EX_CAS_IDENTITY (80) the server is not the CAS the image pins */
#ifndef SCONE_ATTEST_H
#define SCONE_ATTEST_H

#include <stdint.h>
#include "simquote.h"

struct casmsg_secrets;
struct quote_provider;

#define ATTEST_ATTEMPTS 5
#define ATTEST_BACKOFF_MS 250

/* Whom to ask, for what, and who is asking. */
struct attest_target {
	const char *cas_addr;	/* HOST:PORT (measured) */
	const uint8_t *cas_id;	/* 32 bytes (measured) */
	const char *policy;	/* (measured) */
	struct sgx_identity id; /* the verified enclave's identity */
	const struct quote_provider *quotes;
};

/* The attested session, for the volume state requests (docs/cas.md,
 * "Volume state"): its ID (SHA-256 of the session public key) and the
 * record key both sides derived from the attestation's ECDH exchange. */
struct attest_session {
	int valid; /* only when the released secrets track volumes */
	uint8_t id[32];
	uint8_t record_key[32];
};

/* Fills *out with what the policy releases (free with casmsg_secrets_free)
 * and *sess with the session, or exits with a message. */
void attest_obtain(const struct attest_target *t, struct casmsg_secrets *out, struct attest_session *sess);

#endif
