/* Report bodies and simulation quotes (simquote.h). */
#include <string.h>
#include <bearssl.h>

#include "simquote.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void sgx_report_body(const struct sgx_identity *id, const uint8_t report_data[64], uint8_t out[SGX_REPORT_BODY])
{
	memset(out, 0, SGX_REPORT_BODY);
	put32(out + 16, id->miscselect);
	put64(out + 48, id->flags);
	put64(out + 56, id->xfrm);
	memcpy(out + 64, id->mrenclave, 32);
	memcpy(out + 128, id->mrsigner, 32);
	put16(out + 256, id->isvprodid);
	put16(out + 258, id->isvsvn);
	memcpy(out + 320, report_data, 64);
}

static void wipe(void *p, size_t n)
{
	volatile uint8_t *v = p;
	while (n--)
		*v++ = 0;
}

/* r || s (64 bytes) of an ECDSA P-256 signature over SHA-256(msg). */
static int sign(const br_ec_private_key *sk, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	uint8_t h[32];
	br_sha256_context c;
	br_sha256_init(&c);
	br_sha256_update(&c, msg, len);
	br_sha256_out(&c, h);
	return br_ecdsa_i31_sign_raw(&br_ec_p256_m15, &br_sha256_vtable, h, sk, sig) == 64 ? 0 : -1;
}

int simquote_build(const uint8_t body[SGX_REPORT_BODY], const uint8_t priv[32], uint8_t out[SIMQUOTE_SIZE])
{
	uint8_t kbuf[32], pub[BR_EC_KBUF_PUB_MAX_SIZE];
	memcpy(kbuf, priv, 32);
	br_ec_private_key sk = {BR_EC_secp256r1, kbuf, 32};
	br_ec_public_key pk;
	int r = -1;
	memset(out, 0, SIMQUOTE_SIZE);
	if (br_ec_compute_pub(&br_ec_p256_m15, &pk, pub, &sk) != 65)
		goto done;
	/* header: version 3, key type 2 (ECDSA P-256), TEE 0, SVNs 0, vendor */
	put16(out, 3);
	put16(out + 2, 2);
	memcpy(out + 12, SIMQUOTE_VENDOR, 16);
	memcpy(out + SGX_QUOTE_HEADER, body, SGX_REPORT_BODY);
	uint8_t *sd = out + SGX_QUOTE_HEADER + SGX_REPORT_BODY; /* 432 */
	put32(sd, SIMQUOTE_SIZE - 436);
	uint8_t *sig = sd + 4, *akey = sig + 64, *qe = akey + 64, *qesig = qe + SGX_REPORT_BODY, *tail = qesig + 64;
	memcpy(akey, pub + 1, 64);
	/* QE report: REPORTDATA = SHA-256(attestation key || no auth data) */
	br_sha256_context c;
	br_sha256_init(&c);
	br_sha256_update(&c, akey, 64);
	br_sha256_out(&c, qe + 320);
	put16(tail, 0); /* QE auth data size */
	put16(tail + 2, SIMQUOTE_CERT_TYPE);
	put32(tail + 4, sizeof SIMQUOTE_MARKER - 1);
	memcpy(tail + 8, SIMQUOTE_MARKER, sizeof SIMQUOTE_MARKER - 1);
	if (sign(&sk, qe, SGX_REPORT_BODY, qesig) || sign(&sk, out, SGX_QUOTE_HEADER + SGX_REPORT_BODY, sig))
		goto done;
	r = 0;
done:
	wipe(kbuf, sizeof kbuf);
	if (r)
		memset(out, 0, SIMQUOTE_SIZE);
	return r;
}
