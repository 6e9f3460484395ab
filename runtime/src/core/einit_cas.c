/* sim mode start-up with a CAS (einit_cas.h). */
#include "einit_cas.h"
#include "attest.h"
#include "volstate.h"
#include "quote.h"
#include "casmsg.h"
#include "econfig.h"
#include "sigstruct.h"
#include "rtstring.h"
#include "rtutil.h"

static int same_name(const char *a, const char *b)
{
	while (*a && *a != '=' && *a == *b)
		a++, b++;
	return *a == '=' && *b == '=';
}

void einit_cas_env(char **env, size_t n, char *const *add, size_t nadd)
{
	for (size_t i = 0; i < nadd; i++) {
		size_t k = 0;
		while (k < n && !same_name(env[k], add[i]))
			k++;
		env[k] = add[i];
		if (k == n)
			env[++n] = 0;
	}
}

void einit_cas(const struct econfig *cfg, const uint8_t mrenclave[32], const struct sigstruct_info *si,
	       struct casmsg_secrets *out, const struct vol_freshness **fresh)
{
	/* Decided: a host key is refused, not ignored. The owner chose the CAS
	 * (measured): a key on the host would mean someone expects it to be
	 * used, or is trying to; either way the deployment is wrong. */
	static const char *const host_keys[] = {"SCONE_FS_KEY_FILE", "SCONE_FS_KEY"};
	for (size_t i = 0; i < 2; i++) {
		const char *v = rt_getenv(host_keys[i]);
		if (v && *v)
			rt_fatal(RT_EX_USAGE,
				 "%s is set, but this image gets its FS key from the CAS at %s (policy %s), never from "
				 "the host: unset %s",
				 host_keys[i], cfg->cas_addr, cfg->cas_policy, host_keys[i]);
	}
	struct attest_target t = {
		.cas_addr = cfg->cas_addr,
		.cas_id = cfg->cas_id,
		.policy = cfg->cas_policy,
		.id =
			{
				.isvprodid = si->isvprodid,
				.isvsvn = si->isvsvn,
				.miscselect = si->miscselect,
				/* an initialized enclave's SECS.ATTRIBUTES */
				.flags = si->attr_flags | SGX_FLAG_INIT,
				.xfrm = si->attr_xfrm,
			},
		.quotes = &quote_simulation,
	};
	memcpy(t.id.mrenclave, mrenclave, 32);
	memcpy(t.id.mrsigner, si->mrsigner, 32);
	struct attest_session sess;
	attest_obtain(&t, out, &sess);
	*fresh = NULL;
	if (sess.valid && !(*fresh = volstate_new(&t, &sess, out->fresh, out->nfresh)))
		rt_fatal(RT_EX_SOFTWARE, "out of memory");
	rt_memzero(&sess, sizeof sess);
	if (!out->has_fs_key)
		rt_fatal(
			RT_EX_NOPERM,
			"the CAS released policy %s's secrets, but the policy grants no fs_key: the image's file system "
			"cannot be opened; add the FS key the image was converted with (scone-build convert --fs-key) to "
			"the policy as a 32-byte value secret and grant it as fs_key",
			cfg->cas_policy);
}
