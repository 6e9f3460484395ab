/* /dev/attestation in simulation mode (devattest.h). */
#include "devattest.h"
#include "eckey.h"
#include "fsv.h"
#include "rt_alloc.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sealkey.h"
#include "shield.h"
#include "sys.h"

static struct {
	struct sgx_identity id;
	uint8_t quote_key[32];
	uint8_t platform[32];
	uint8_t report_data[64]; /* per process, as in Gramine */
} da;

static long da_read(int which, uint8_t *buf, size_t cap)
{
	switch (which) {
	case FSV_ATT_REPORT_DATA:
		if (cap < 64)
			return -RT_EINVAL;
		memcpy(buf, da.report_data, 64);
		return 64;
	case FSV_ATT_QUOTE: {
		if (cap < SIMQUOTE_SIZE)
			return -RT_EINVAL;
		uint8_t body[SGX_REPORT_BODY];
		sgx_report_body(&da.id, da.report_data, body);
		if (simquote_build(body, da.quote_key, buf))
			return -RT_EINVAL;
		return SIMQUOTE_SIZE;
	}
	case FSV_ATT_KEY_MRENCLAVE:
	case FSV_ATT_KEY_MRSIGNER:
		if (cap < SEALKEY_SIZE)
			return -RT_EINVAL;
		sealkey_derive(da.platform,
			       which == FSV_ATT_KEY_MRENCLAVE ? SEALKEY_POLICY_MRENCLAVE : SEALKEY_POLICY_MRSIGNER,
			       &da.id, buf);
		return SEALKEY_SIZE;
	}
	return -RT_ENOENT;
}

static int da_set_report_data(const uint8_t data[64])
{
	memcpy(da.report_data, data, 64);
	return 0;
}

static const struct rt_attestation devattest = {da_read, da_set_report_data};

const struct rt_attestation *devattest_setup(const struct sgx_identity *id)
{
	const char *file = rt_getenv("SCONE_SIM_QUOTE_KEY_FILE");
	if (!file || !*file)
		return NULL;
	size_t n = 0;
	long err = 0;
	uint8_t *pem = rt_read_host_file(file, ECKEY_MAX_FILE, &n, &err);
	if (!pem)
		rt_fatal(RT_EX_NOPERM, "cannot read the simulation quote key %s (SCONE_SIM_QUOTE_KEY_FILE): error %ld",
			 file, -err);
	int r = eckey_parse_pem(pem, n, da.quote_key);
	rt_memzero(pem, n);
	rt_free(pem);
	if (r)
		rt_fatal(RT_EX_NOPERM, "simulation quote key %s (SCONE_SIM_QUOTE_KEY_FILE): %s", file,
			 eckey_strerror(r));
	da.id = *id;
	sealkey_platform(da.quote_key, da.platform);
	return &devattest;
}
