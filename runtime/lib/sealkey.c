/* Sealing keys in simulation mode (sealkey.h). */
#include <string.h>
#include <bearssl.h>

#include "sealkey.h"

static const char platform_label[] = "scone-run sim platform v1";
static const char seal_label[] = "scone-run sim seal key v1";

void sealkey_platform(const uint8_t quote_key[32], uint8_t platform[32])
{
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, platform_label, sizeof platform_label); /* with its 0x00 */
	br_sha256_update(&h, quote_key, 32);
	br_sha256_out(&h, platform);
	memset(&h, 0, sizeof h);
}

void sealkey_derive(const uint8_t platform[32], int policy, const struct sgx_identity *id, uint8_t key[SEALKEY_SIZE])
{
	uint8_t msg[sizeof seal_label + 1 + 32 + 4];
	size_t n = 0;
	memcpy(msg, seal_label, sizeof seal_label);
	n += sizeof seal_label;
	msg[n++] = (uint8_t)policy;
	memcpy(msg + n, policy == SEALKEY_POLICY_MRENCLAVE ? id->mrenclave : id->mrsigner, 32);
	n += 32;
	msg[n++] = (uint8_t)id->isvprodid;
	msg[n++] = (uint8_t)(id->isvprodid >> 8);
	msg[n++] = (uint8_t)id->isvsvn;
	msg[n++] = (uint8_t)(id->isvsvn >> 8);
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t out[32];
	br_hmac_key_init(&kc, &br_sha256_vtable, platform, 32);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, msg, n);
	br_hmac_out(&hc, out);
	memcpy(key, out, SEALKEY_SIZE);
	memset(out, 0, sizeof out);
	memset(&kc, 0, sizeof kc);
	memset(&hc, 0, sizeof hc);
}
