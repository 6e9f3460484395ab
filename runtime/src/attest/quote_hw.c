/* Hardware quotes (quote.h): the path a hardware enclave takes, against the
 * real formats, and refused here.
 *
 * On SGX hardware the quote is a DCAP ECDSA quote v3 (docs/attestation.md)
 * that the platform's quoting enclave (QE) makes from a REPORT of ours:
 *
 *  1. QE target info: the QE's TARGETINFO (sgx_target_info_t, 512 bytes)
 *     from the quote provider: in process, Intel's libsgx_dcap_ql
 *     (sgx_qe_get_target_info); out of process, the AESM service
 *     (/var/run/aesmd/aesm.socket, its InitQuoteEx request with the ECDSA
 *     attestation key ID). Both live outside the enclave: the host answers.
 *  2. EREPORT (ENCLU leaf 0) inside the enclave: RBX = TARGETINFO, RCX =
 *     REPORTDATA (64 bytes, 128-aligned), RDX = the REPORT (sgx_report_t,
 *     432 bytes, 512-aligned: the 384-byte report body, KEYID, and a MAC
 *     only the QE can check). REPORTDATA binds the session key and nonce.
 *  3. The quote: the REPORT goes to the QE (sgx_qe_get_quote_size and
 *     sgx_qe_get_quote, or AESM's GetQuoteEx); the QE checks the MAC (so
 *     the REPORT was made on this CPU, for it) and signs the report body
 *     with its attestation key, certified by the platform's PCK
 *     certificate (certification data type 5).
 *
 * A lying host can only refuse or garble steps 1 and 3: the REPORT's MAC
 * and the quote's signature chain up to Intel's root key, which the CAS
 * checks (pkg/attest.Verify). What cannot run here: ENCLU is #UD outside an
 * enclave, and this runtime runs enclaves only in simulation mode
 * (SCONE_MODE=hw is refused at start, docs/runtime.md). */
#include "quote.h"
#include "simquote.h"
#include "rtutil.h"
#include "sys.h"

/* sgx_target_info_t (sgx_report.h), 512 bytes. */
struct sgx_target_info {
	uint8_t mrenclave[32];
	uint64_t attr_flags, attr_xfrm;
	uint8_t reserved1[2];
	uint16_t config_svn;
	uint32_t miscselect;
	uint8_t reserved2[8];
	uint8_t config_id[64];
	uint8_t reserved3[384];
} __attribute__((packed, aligned(512)));

/* sgx_report_t, 432 bytes (512-aligned for EREPORT). */
struct sgx_report {
	uint8_t body[SGX_REPORT_BODY];
	uint8_t key_id[32];
	uint8_t mac[16];
} __attribute__((packed, aligned(512)));

_Static_assert(sizeof(struct sgx_target_info) == 512, "TARGETINFO is 512 bytes");
_Static_assert(__builtin_offsetof(struct sgx_report, mac) == 416, "REPORT MAC at 416");

/* EREPORT: only valid inside an enclave (never called in simulation). */
static inline void ereport(const struct sgx_target_info *ti, const uint8_t report_data[64], struct sgx_report *out)
{
	__asm__ volatile("enclu" : : "a"(0), "b"(ti), "c"(report_data), "d"(out) : "memory");
}

static void *hw_prepare(void)
{
	rt_fatal(RT_EX_CONFIG,
		 "hardware mode: the enclave's quote comes from the platform's quoting enclave (EREPORT for the QE's "
		 "TARGETINFO, then the DCAP quote provider or AESM), which this runtime does not drive: it runs "
		 "enclaves in simulation mode only (SCONE_MODE=sim)");
}

static int hw_quote(void *ctx, const struct sgx_identity *id, const uint8_t report_data[64], uint8_t **q, size_t *len)
{
	(void)ctx, (void)id, (void)report_data, (void)q, (void)len;
	(void)ereport; /* step 2, for when the QE target info (step 1) can be had */
	return -RT_ENOSYS;
}

static void hw_finish(void *ctx) { (void)ctx; }

const struct quote_provider quote_hardware = {"hardware", hw_prepare, hw_quote, hw_finish};
