/* CAS protocol cryptography (casseal.h). */
#include <string.h>
#include <bearssl.h>

#include "casseal.h"

static void wipe(void *p, size_t n)
{
	volatile uint8_t *v = p;
	while (n--)
		*v++ = 0;
}

int casseal_keygen(const uint8_t *seed, size_t seed_len, uint8_t priv[CASSEAL_PRIV], uint8_t pub[CASSEAL_POINT])
{
	if (seed_len < 32)
		return -1;
	br_hmac_drbg_context rng;
	br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, seed_len);
	const br_ec_impl *ec = &br_ec_p256_m15;
	br_ec_private_key sk;
	br_ec_public_key pk;
	uint8_t kbuf[BR_EC_KBUF_PRIV_MAX_SIZE], pbuf[BR_EC_KBUF_PUB_MAX_SIZE];
	int r = -1;
	if (br_ec_keygen(&rng.vtable, ec, &sk, kbuf, BR_EC_secp256r1) == CASSEAL_PRIV &&
	    br_ec_compute_pub(ec, &pk, pbuf, &sk) == CASSEAL_POINT) {
		memcpy(priv, kbuf, CASSEAL_PRIV);
		memcpy(pub, pbuf, CASSEAL_POINT);
		r = 0;
	}
	wipe(kbuf, sizeof kbuf);
	wipe(&rng, sizeof rng);
	wipe(&sk, sizeof sk);
	return r;
}

void casseal_report_data(const uint8_t nonce[32], const uint8_t pub[CASSEAL_POINT], uint8_t out[64])
{
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, CASSEAL_ATTEST_LABEL, sizeof CASSEAL_ATTEST_LABEL); /* with its 0x00 */
	br_sha256_update(&h, nonce, 32);
	br_sha256_update(&h, pub, CASSEAL_POINT);
	br_sha256_out(&h, out);
	memset(out + 32, 0, 32);
}

/* HKDF-SHA256(IKM = x(ECDH(priv, peer)), salt = nonce, info): 0 or -1. */
static int derive(const uint8_t priv[CASSEAL_PRIV], const uint8_t peer[CASSEAL_POINT], const uint8_t nonce[32],
		  const char *info, size_t info_len, uint8_t key[32])
{
	uint8_t pt[CASSEAL_POINT];
	memcpy(pt, peer, CASSEAL_POINT);
	if (pt[0] != 4 || br_ec_p256_m15.mul(pt, sizeof pt, priv, CASSEAL_PRIV, BR_EC_secp256r1) != 1) {
		wipe(pt, sizeof pt);
		return -1;
	}
	br_hkdf_context hk;
	br_hkdf_init(&hk, &br_sha256_vtable, nonce, 32);
	br_hkdf_inject(&hk, pt + 1, 32); /* the x-coordinate */
	br_hkdf_flip(&hk);
	br_hkdf_produce(&hk, info, info_len, key, 32);
	wipe(&hk, sizeof hk);
	wipe(pt, sizeof pt);
	return 0;
}

int casseal_key(const uint8_t priv[CASSEAL_PRIV], const uint8_t peer[CASSEAL_POINT], const uint8_t nonce[32],
		uint8_t key[32])
{
	return derive(priv, peer, nonce, CASSEAL_INFO, sizeof CASSEAL_INFO - 1, key);
}

int casseal_record_key(const uint8_t priv[CASSEAL_PRIV], const uint8_t peer[CASSEAL_POINT], const uint8_t nonce[32],
		       uint8_t key[32])
{
	return derive(priv, peer, nonce, CASSEAL_RECORD_INFO, sizeof CASSEAL_RECORD_INFO - 1, key);
}

/* AES-256-GCM with the zero nonce (each K is used once) and aad; encrypt
 * (tag written to tag) or decrypt (tag checked: 1 when it matches). */
static uint32_t gcm(const uint8_t key[32], const uint8_t aad[32], int encrypt, uint8_t *data, size_t len, uint8_t *tag)
{
	br_aes_ct64_ctr_keys aes;
	br_gcm_context g;
	static const uint8_t iv[12];
	br_aes_ct64_ctr_init(&aes, key, 32);
	br_gcm_init(&g, &aes.vtable, br_ghash_ctmul64);
	br_gcm_reset(&g, iv, sizeof iv);
	br_gcm_aad_inject(&g, aad, 32);
	br_gcm_flip(&g);
	br_gcm_run(&g, encrypt, data, len);
	uint32_t ok = 1;
	if (encrypt)
		br_gcm_get_tag(&g, tag);
	else
		ok = br_gcm_check_tag(&g, tag);
	wipe(&aes, sizeof aes);
	wipe(&g, sizeof g);
	return ok;
}

int casseal_open(const uint8_t priv[CASSEAL_PRIV], const uint8_t cas_pub[CASSEAL_POINT], const uint8_t nonce[32],
		 const uint8_t policy_hash[32], const uint8_t *sealed, size_t sealed_len, uint8_t *out)
{
	if (sealed_len < CASSEAL_TAG)
		return -2;
	uint8_t key[32], tag[CASSEAL_TAG];
	if (casseal_key(priv, cas_pub, nonce, key))
		return -1;
	size_t n = sealed_len - CASSEAL_TAG;
	memcpy(tag, sealed + n, CASSEAL_TAG);
	memmove(out, sealed, n);
	uint32_t ok = gcm(key, policy_hash, 0, out, n, tag);
	wipe(key, sizeof key);
	if (!ok) {
		wipe(out, n);
		return -2;
	}
	return 0;
}

int casseal_seal(const uint8_t e_priv[CASSEAL_PRIV], const uint8_t session_pub[CASSEAL_POINT], const uint8_t nonce[32],
		 const uint8_t policy_hash[32], const uint8_t *plain, size_t len, uint8_t *out)
{
	uint8_t key[32];
	if (casseal_key(e_priv, session_pub, nonce, key))
		return -1;
	memmove(out, plain, len);
	gcm(key, policy_hash, 1, out, len, out + len);
	wipe(key, sizeof key);
	return 0;
}
