/* Host test of runtime/lib/eckey.c on testdata/simkey (its README). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eckey.h"
#include "testutil.h"

#define D "testdata/simkey/"

static void hexs(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

int main(void)
{
	static const struct {
		const char *file;
		const char *want; /* hex file of the scalar, or NULL: refused */
		int err;	  /* the refusal, 0: any */
	} cases[] = {
		{D "p256-sec1.pem", D "p256.hex", 0},
		{D "p256-pkcs8.pem", D "p256.hex", 0},
		{D "p256-with-params.pem", D "p256-with-params.hex", 0},
		{D "p256.pub", NULL, ECKEY_ETYPE},
		{D "p256-encrypted.pem", NULL, 0},
		{D "p384.pem", NULL, ECKEY_ECURVE},
		{D "rsa.pem", NULL, ECKEY_ENOTEC},
		{D "README.md", NULL, ECKEY_ENOPEM},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;
		uint8_t *pem = read_file(cases[i].file, &len);
		CHECK(pem != NULL);
		if (!pem)
			continue;
		uint8_t priv[32];
		memset(priv, 0x55, sizeof priv);
		int r = eckey_parse_pem(pem, len, priv);
		if (cases[i].want) {
			size_t hl;
			uint8_t *h = read_file(cases[i].want, &hl);
			char got[65];
			hexs(priv, 32, got);
			if (r)
				fprintf(stderr, "%s: %s\n", cases[i].file, eckey_strerror(r));
			CHECK(r == 0 && h && hl >= 64 && !memcmp(got, h, 64));
			/* without its last newline, and the two keys in one file */
			CHECK(eckey_parse_pem(pem, len - 1, priv) == 0 && (hexs(priv, 32, got), !memcmp(got, h, 64)));
			uint8_t *two = malloc(2 * len);
			memcpy(two, pem, len);
			memcpy(two + len, pem, len);
			CHECK(eckey_parse_pem(two, 2 * len, priv) == ECKEY_ETOOMANY);
			free(two);
			free(h);
		} else {
			if (!r || (cases[i].err && r != cases[i].err))
				fprintf(stderr, "%s: %d (%s)\n", cases[i].file, r, eckey_strerror(r));
			CHECK(r != 0 && (!cases[i].err || r == cases[i].err));
			static const uint8_t zero[32];
			CHECK(!memcmp(priv, zero, 32) || r == ECKEY_ENOPEM || r == ECKEY_ETYPE);
		}
		/* truncations never crash */
		for (size_t n = 0; n < len; n += 7)
			(void)eckey_parse_pem(pem, n, priv);
		free(pem);
	}
	uint8_t priv[32];
	CHECK(eckey_parse_pem((const uint8_t *)"", 0, priv) == ECKEY_ENOPEM);
	return test_summary("test_eckey");
}
