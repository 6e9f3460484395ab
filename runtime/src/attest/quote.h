/* Where the attest subsystem's quotes come from: one provider per mode.
 *
 * simulation (quote_sim.c): a simulation quote (docs/attestation.md)
 *   signed with the simulation key the host provides in
 *   SCONE_SIM_QUOTE_KEY_FILE (PEM EC private key, P-256). The host holds
 *   that key: a CAS accepts such quotes only for policies that allow
 *   simulation.
 * hardware (quote_hw.c): EREPORT targeted at the platform's quoting enclave
 *   and the DCAP ECDSA quote v3 it makes; written against the real formats,
 *   refused here (no SGX hardware, and scone-run has no hardware mode). */
#ifndef SCONE_ATTEST_QUOTE_H
#define SCONE_ATTEST_QUOTE_H

#include <stddef.h>
#include <stdint.h>

struct sgx_identity;

struct quote_provider {
	const char *name; /* "simulation", "hardware" */
	/* Before any network I/O: loads what the provider needs and returns
	 * its context; exits with a message (and the documented code) when it
	 * cannot. */
	void *(*prepare)(void);
	/* The quote of the enclave id with report_data (rt_malloc'd): 0, or a
	 * negative errno. */
	int (*quote)(void *ctx, const struct sgx_identity *id, const uint8_t report_data[64], uint8_t **q, size_t *len);
	/* Wipes and frees the context. */
	void (*finish)(void *ctx);
};

extern const struct quote_provider quote_simulation;
extern const struct quote_provider quote_hardware;

#endif
