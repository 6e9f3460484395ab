/* Simulation quotes (quote.h), signed with SCONE_SIM_QUOTE_KEY_FILE. */
#include "quote.h"
#include "eckey.h"
#include "simquote.h"
#include "rt_alloc.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

struct sim_ctx {
	uint8_t priv[32];
};

static void *sim_prepare(void)
{
	const char *file = rt_getenv("SCONE_SIM_QUOTE_KEY_FILE");
	if (!file || !*file)
		rt_fatal(
			RT_EX_NOPERM,
			"no simulation quote key: this image gets its secrets from a CAS, and in simulation mode the "
			"enclave's quote is signed with a key the host provides; set SCONE_SIM_QUOTE_KEY_FILE to the PEM "
			"EC private key (P-256) whose public key the CAS accepts as a simulation key");
	size_t n = 0;
	long err = 0;
	uint8_t *pem = rt_read_host_file(file, ECKEY_MAX_FILE, &n, &err);
	if (!pem)
		rt_fatal(RT_EX_NOPERM, "cannot read the simulation quote key %s (SCONE_SIM_QUOTE_KEY_FILE): error %ld",
			 file, -err);
	struct sim_ctx *c = rt_calloc(1, sizeof *c);
	if (!c)
		rt_fatal(RT_EX_SOFTWARE, "out of memory");
	int r = eckey_parse_pem(pem, n, c->priv);
	rt_memzero(pem, n);
	rt_free(pem);
	if (r)
		rt_fatal(RT_EX_NOPERM, "simulation quote key %s (SCONE_SIM_QUOTE_KEY_FILE): %s", file,
			 eckey_strerror(r));
	return c;
}

static int sim_quote(void *ctx, const struct sgx_identity *id, const uint8_t report_data[64], uint8_t **q, size_t *len)
{
	struct sim_ctx *c = ctx;
	uint8_t body[SGX_REPORT_BODY];
	sgx_report_body(id, report_data, body);
	*q = rt_malloc(SIMQUOTE_SIZE);
	if (!*q)
		return -RT_ENOMEM;
	if (simquote_build(body, c->priv, *q)) {
		rt_free(*q);
		*q = NULL;
		return -RT_EINVAL;
	}
	*len = SIMQUOTE_SIZE;
	return 0;
}

static void sim_finish(void *ctx)
{
	if (!ctx)
		return;
	rt_memzero(ctx, sizeof(struct sim_ctx));
	rt_free(ctx);
}

const struct quote_provider quote_simulation = {"simulation", sim_prepare, sim_quote, sim_finish};
