/* SGX report bodies and simulation quotes (docs/attestation.md).
 *
 * A simulation quote has the layout of a DCAP ECDSA quote, version 3, but a
 * simulation key (ECDSA P-256, held by the host) signs it instead of the
 * quoting enclave: QE vendor ID "SCONE-SIMULATION", the simulation public
 * key as attestation key, a QE report that is zero but for REPORTDATA =
 * SHA-256(attestation key) || 0^32, no QE auth data, certification data type
 * 0x5C0E with the 44-byte marker. The bytes are those pkg/attest's
 * NewSimulationQuote makes and VerifySimulation checks (tested both ways). */
#ifndef SCONE_SIMQUOTE_H
#define SCONE_SIMQUOTE_H

#include <stddef.h>
#include <stdint.h>

#define SGX_REPORT_BODY 384
#define SGX_QUOTE_HEADER 48
#define SIMQUOTE_VENDOR "SCONE-SIMULATION"
#define SIMQUOTE_MARKER "SCONE simulation quote: no hardware security"
#define SIMQUOTE_CERT_TYPE 0x5C0E
/* header + body + length + signature + key + QE report + its signature +
 * auth size + certification type and size + marker */
#define SIMQUOTE_SIZE (48 + 384 + 4 + 64 + 64 + 384 + 64 + 2 + 6 + 44)

/* SECS.ATTRIBUTES flags. */
#define SGX_FLAG_INIT 0x1ull
#define SGX_FLAG_DEBUG 0x2ull
#define SGX_FLAG_MODE64BIT 0x4ull

/* What a report body says about an enclave (sgx_report_body_t). */
struct sgx_identity {
	uint8_t mrenclave[32];
	uint8_t mrsigner[32];
	uint16_t isvprodid, isvsvn;
	uint32_t miscselect;
	uint64_t flags, xfrm; /* ATTRIBUTES */
};

/* The 384-byte report body of id with report_data (CPUSVN, ISVEXTPRODID,
 * CONFIGID, CONFIGSVN, ISVFAMILYID and the reserved fields zero). */
void sgx_report_body(const struct sgx_identity *id, const uint8_t report_data[64], uint8_t out[SGX_REPORT_BODY]);

/* Writes the simulation quote of body (a report body) into out
 * (SIMQUOTE_SIZE bytes), signed by the P-256 private key priv (32-byte
 * big-endian scalar). 0, or -1 when priv is not a valid P-256 key. */
int simquote_build(const uint8_t body[SGX_REPORT_BODY], const uint8_t priv[32], uint8_t out[SIMQUOTE_SIZE]);

#endif
