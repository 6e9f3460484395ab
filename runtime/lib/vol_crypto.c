/* Protected volumes: keys and the SIV seal of docs/volume.md
 * ("Cryptography"): S = AES_K2(GMAC_K1(0^96, A || M)), C = M xor
 * CTR_KE(S) with a 32-bit counter that wraps without a carry. */
#include "vol_int.h"

void vol_wipe(void *p, size_t n)
{
	volatile uint8_t *q = p;
	while (n--)
		*q++ = 0;
}

static void hkdf(const uint8_t key[32], const char *info, size_t ilen, uint8_t *out, size_t n)
{
	br_hkdf_context hc;
	br_hkdf_init(&hc, &br_sha256_vtable, BR_HKDF_NO_SALT, 0);
	br_hkdf_inject(&hc, key, 32);
	br_hkdf_flip(&hc);
	br_hkdf_produce(&hc, info, ilen, out, n);
	vol_wipe(&hc, sizeof hc);
}

void vol_derive_key(const uint8_t fs_key[32], const char *path, uint8_t out[VOL_KEY_SIZE])
{
	static const char label[] = "scone-vol v1 volume key";
	char info[sizeof label + VOL_PATH_MAX + 1];
	size_t pl = strlen(path);
	if (pl > VOL_PATH_MAX)
		pl = VOL_PATH_MAX;
	memcpy(info, label, sizeof label); /* with its NUL: the 0x00 separator */
	memcpy(info + sizeof label, path, pl);
	hkdf(fs_key, info, sizeof label + pl, out, VOL_KEY_SIZE);
	vol_wipe(info, sizeof info);
}

static void ctr_init(union vol_ctr *k, const uint8_t key[32])
{
	if (br_aes_x86ni_ctr_get_vtable())
		br_aes_x86ni_ctr_init(&k->ni, key, 32);
	else
		br_aes_ct64_ctr_init(&k->ct64, key, 32);
}

void vol_keys_init(struct vol_keys *k, const uint8_t key[32])
{
	static const char *const labels[3] = {"scone-vol v1 siv hash", "scone-vol v1 siv prp", "scone-vol v1 enc"};
	union vol_ctr *dst[3] = {&k->k1, &k->k2, &k->ke};
	uint8_t raw[32];
	hkdf(key, "scone-vol v1 key check", 22, raw, 32);
	memcpy(k->check, raw, 16);
	for (int i = 0; i < 3; i++) {
		hkdf(key, labels[i], strlen(labels[i]), raw, 32);
		ctr_init(dst[i], raw);
	}
	vol_wipe(raw, sizeof raw);
	k->gh = br_ghash_pclmul_get();
	if (!k->gh)
		k->gh = &br_ghash_ctmul64;
}

void vol_keys_wipe(struct vol_keys *k) { vol_wipe(k, sizeof *k); }

static void put_pos(uint8_t b[64], const struct vpos *p)
{
	p32(b, p->kind);
	p32(b + 4, p->level);
	memcpy(b + 8, p->vol, 16);
	p64(b + 24, p->file);
	p64(b + 32, p->index);
	memcpy(b + 40, p->link, 16);
	p64(b + 56, p->aux);
}

void vol_mac(const struct vol_keys *k, const struct vpos *p, const uint8_t *m, size_t n, uint8_t s[16])
{
	uint8_t a[64], nonce[12] = {0};
	put_pos(a, p);
	br_gcm_context gc;
	br_gcm_init(&gc, (const br_block_ctr_class **)&k->k1.vtable, k->gh);
	br_gcm_reset(&gc, nonce, sizeof nonce);
	br_gcm_aad_inject(&gc, a, sizeof a);
	br_gcm_aad_inject(&gc, m, n);
	br_gcm_flip(&gc);
	br_gcm_get_tag(&gc, s);
	/* AES_K2(T): CTR of a zero block with IV T[0:12], counter T[12:16] */
	uint8_t t[16];
	memcpy(t, s, 16);
	memset(s, 0, 16);
	k->k2.vtable->run(&k->k2.vtable, t,
			  (uint32_t)t[12] << 24 | (uint32_t)t[13] << 16 | (uint32_t)t[14] << 8 | t[15], s, 16);
	vol_wipe(&gc, sizeof gc);
}

void vol_keystream(const struct vol_keys *k, const uint8_t iv[16], uint8_t *data, size_t n)
{
	uint32_t c0 = (uint32_t)iv[12] << 24 | (uint32_t)iv[13] << 16 | (uint32_t)iv[14] << 8 | iv[15];
	k->ke.vtable->run(&k->ke.vtable, iv, c0, data, n);
}

void vol_seal(const struct vol_keys *k, const struct vpos *p, const uint8_t *m, uint8_t *dst, size_t n, uint8_t s[16])
{
	vol_mac(k, p, m, n, s);
	if (dst != m)
		memmove(dst, m, n);
	vol_keystream(k, s, dst, n);
}

int vol_unseal(const struct vol_keys *k, const struct vpos *p, const uint8_t *c, uint8_t *dst, size_t n,
	       const uint8_t s[16])
{
	uint8_t sv[16], got[16];
	memcpy(sv, s, 16);
	if (dst != c)
		memmove(dst, c, n);
	vol_keystream(k, sv, dst, n);
	vol_mac(k, p, dst, n, got);
	uint8_t x = 0;
	for (int i = 0; i < 16; i++)
		x |= (uint8_t)(got[i] ^ sv[i]);
	if (x) {
		vol_wipe(dst, n);
		return 0;
	}
	return 1;
}
