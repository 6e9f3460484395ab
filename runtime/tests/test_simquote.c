/* Host test of runtime/lib/simquote.c: the simulation quote of the attest
 * request vector (testdata/casproto/attest-request.txt, made by pkg/attest's
 * NewSimulationQuote) is what simquote_build makes from the same report body
 * and key, but for the two ECDSA signatures (Go's are randomized, BearSSL's
 * deterministic); both verify. runtime/e2e TestSimQuoteFromC checks the
 * other direction: pkg/attest.VerifySimulation accepts a C-made quote. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bearssl.h>

#include "simquote.h"
#include "testutil.h"
#include "vectors.h"

#define OFF_SIG 436
#define OFF_QE 564
#define OFF_QESIG 948

static int verify(const uint8_t *msg, size_t len, const uint8_t pub[65], const uint8_t sig[64])
{
	uint8_t h[32];
	br_sha256_context c;
	br_sha256_init(&c);
	br_sha256_update(&c, msg, len);
	br_sha256_out(&c, h);
	br_ec_public_key pk = {BR_EC_secp256r1, (unsigned char *)pub, 65};
	return br_ecdsa_i31_vrfy_raw(&br_ec_p256_m15, h, 32, &pk, sig, 64) == 1;
}

/* Both signatures of quote q verify with pub. */
static int signatures_ok(const uint8_t *q, const uint8_t pub[65])
{
	return verify(q, 432, pub, q + OFF_SIG) && verify(q + OFF_QE, 384, pub, q + OFF_QESIG);
}

static void sha(const char *s, uint8_t out[32])
{
	br_sha256_context c;
	br_sha256_init(&c);
	br_sha256_update(&c, s, strlen(s));
	br_sha256_out(&c, out);
}

int main(void)
{
	struct vec_file f;
	CHECK(vec_read("testdata/casproto/attest-request.txt", &f) == 0);
	CHECK(f.n >= 1);
	for (int i = 0; i < f.n; i++) {
		const struct vec_entry *e = &f.e[i];
		size_t ql;
		uint8_t *q = vec_bytes(e, "quote", 0, &ql), *priv = vec_bytes(e, "simulation_private", 32, NULL);
		uint8_t *pub = vec_bytes(e, "simulation_public", 65, NULL), *rd = vec_bytes(e, "report_data", 64, NULL);
		CHECK(q && priv && pub && rd && ql == SIMQUOTE_SIZE);
		if (!(q && priv && pub && rd && ql == SIMQUOTE_SIZE))
			continue;
		CHECK(signatures_ok(q, pub));

		/* the report body, field by field (the vector's comment names them) */
		struct sgx_identity id = {
			.isvprodid = 7, .isvsvn = 2, .flags = SGX_FLAG_INIT | SGX_FLAG_MODE64BIT, .xfrm = 3};
		sha("scone-cas test vector: mrenclave", id.mrenclave);
		sha("scone-cas test vector: mrsigner", id.mrsigner);
		uint8_t body[SGX_REPORT_BODY];
		sgx_report_body(&id, rd, body);
		CHECK(!memcmp(body, q + SGX_QUOTE_HEADER, SGX_REPORT_BODY));

		uint8_t mine[SIMQUOTE_SIZE];
		CHECK(simquote_build(body, priv, mine) == 0);
		CHECK(signatures_ok(mine, pub));
		CHECK(!memcmp(mine, q, OFF_SIG));
		CHECK(!memcmp(mine + OFF_SIG + 64, q + OFF_SIG + 64, OFF_QESIG - OFF_SIG - 64));
		CHECK(!memcmp(mine + OFF_QESIG + 64, q + OFF_QESIG + 64, SIMQUOTE_SIZE - OFF_QESIG - 64));
		/* deterministic (RFC 6979) */
		uint8_t again[SIMQUOTE_SIZE];
		CHECK(simquote_build(body, priv, again) == 0 && !memcmp(again, mine, SIMQUOTE_SIZE));
		/* another body: the quote signature changes, the QE report's does not */
		body[64] ^= 1;
		CHECK(simquote_build(body, priv, again) == 0 && signatures_ok(again, pub));
		CHECK(memcmp(again + OFF_SIG, mine + OFF_SIG, 64) && !memcmp(again + OFF_QESIG, mine + OFF_QESIG, 64));
		/* a tampered quote does not verify */
		mine[48 + 320] ^= 1;
		CHECK(!signatures_ok(mine, pub));
		free(q), free(priv), free(pub), free(rd);
	}
	vec_free(&f);
	/* an invalid private key (zero, or the group order) makes no quote */
	uint8_t body[SGX_REPORT_BODY] = {0}, out[SIMQUOTE_SIZE], zero[32] = {0};
	static const uint8_t order[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
					  0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
					  0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
	CHECK(simquote_build(body, zero, out) != 0);
	CHECK(simquote_build(body, order, out) != 0);
	return test_summary("test_simquote");
}
