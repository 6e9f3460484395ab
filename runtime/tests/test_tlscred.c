/* Table-driven test of the PEM credential decoder (runtime/lib/tlscred.c)
 * on the test-only fixtures of testdata/tls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlscred.h"
#include "testutil.h"

static uint8_t *fixture(const char *name, size_t *len)
{
	char p[256];
	snprintf(p, sizeof p, "testdata/tls/%s", name);
	uint8_t *b = read_file(p, len);
	if (!b) {
		fprintf(stderr, "cannot read %s (run from the repository root)\n", p);
		exit(1);
	}
	return b;
}

static void test_chains(void)
{
	static const struct {
		const char *file;
		int err;
		size_t n;
		int key_type;
	} cases[] = {
		{"server-ec.pem", 0, 2, BR_KEYTYPE_EC},
		{"server-rsa.pem", 0, 2, BR_KEYTYPE_RSA},
		{"ca.pem", 0, 1, BR_KEYTYPE_EC},
		{"server-ec.key", TLSCRED_ENONE, 0, 0}, /* a key, no certificate */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;
		uint8_t *pem = fixture(cases[i].file, &len);
		struct tlscred_chain c;
		int r = tlscred_chain_parse(pem, len, &c);
		CHECK_EQ(r, cases[i].err);
		if (!r) {
			CHECK_EQ(c.n, cases[i].n);
			CHECK_EQ(c.key_type, cases[i].key_type);
			CHECK_EQ(c.issuer_key_type, BR_KEYTYPE_EC); /* the test CA's key */
			tlscred_chain_free(&c);
		}
		free(pem);
	}
	static const struct {
		const char *text;
		int err;
	} bad[] = {
		{"", TLSCRED_ENONE},
		{"GET / HTTP/1.1\r\n\r\n", TLSCRED_ENONE},
		{"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", TLSCRED_ECERT},
		{"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", TLSCRED_EPEM},
		{"-----BEGIN CERTIFICATE-----\nAAAA\n", TLSCRED_EPEM}, /* truncated */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct tlscred_chain c;
		int r = tlscred_chain_parse((const uint8_t *)bad[i].text, strlen(bad[i].text), &c);
		if (r != bad[i].err)
			fprintf(stderr, "bad chain case %zu: %d\n", i, r);
		CHECK_EQ(r, bad[i].err);
	}
}

static void test_keys(void)
{
	static const struct {
		const char *key, *cert;
		int err, type, match;
	} cases[] = {
		{"server-ec.key", "server-ec.pem", 0, BR_KEYTYPE_EC, 0},
		{"server-rsa.key", "server-rsa.pem", 0, BR_KEYTYPE_RSA, 0},
		{"server-sec1.key", "server-sec1.pem", 0, BR_KEYTYPE_EC, 0},
		{"server-ec.key", "server-sec1.pem", 0, BR_KEYTYPE_EC, TLSCRED_EMISMATCH},
		{"server-rsa.key", "server-ec.pem", 0, BR_KEYTYPE_RSA, TLSCRED_EMISMATCH},
		{"server-ec.pem", NULL, TLSCRED_ENONE, 0, 0}, /* certificates, no key */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;
		uint8_t *pem = fixture(cases[i].key, &len);
		struct tlscred_key k;
		int r = tlscred_key_parse(pem, len, &k);
		CHECK_EQ(r, cases[i].err);
		free(pem);
		if (r)
			continue;
		CHECK_EQ(k.type, cases[i].type);
		uint8_t *cp = fixture(cases[i].cert, &len);
		struct tlscred_chain c;
		CHECK_EQ(tlscred_chain_parse(cp, len, &c), 0);
		CHECK_EQ(tlscred_key_matches(&c, &k), cases[i].match);
		tlscred_chain_free(&c);
		tlscred_key_free(&k);
		CHECK(k.buf == NULL);
		free(cp);
	}
	/* two keys in one file: refused (which one would be meant?) */
	size_t l1, l2;
	uint8_t *a = fixture("server-ec.key", &l1), *b = fixture("server-rsa.key", &l2);
	uint8_t *both = malloc(l1 + l2);
	memcpy(both, a, l1);
	memcpy(both + l1, b, l2);
	struct tlscred_key k;
	CHECK_EQ(tlscred_key_parse(both, l1 + l2, &k), TLSCRED_ETOOMANY);
	free(a);
	free(b);
	free(both);
}

static void test_anchors(void)
{
	size_t l1, l2;
	uint8_t *ca = fixture("ca.pem", &l1), *other = fixture("other-ca.pem", &l2);
	uint8_t *bundle = malloc(l1 + l2 + 32);
	memcpy(bundle, ca, l1);
	memcpy(bundle + l1, "some comment\n", 13);
	memcpy(bundle + l1 + 13, other, l2);
	struct tlscred_anchors a;
	CHECK_EQ(tlscred_anchors_parse(bundle, l1 + 13 + l2, &a), 0);
	CHECK_EQ(a.n, 2);
	for (size_t i = 0; i < a.n; i++) {
		CHECK_EQ(a.ta[i].flags, BR_X509_TA_CA);
		CHECK_EQ(a.ta[i].pkey.key_type, BR_KEYTYPE_EC);
		CHECK(a.ta[i].dn.len > 0);
	}
	tlscred_anchors_free(&a);
	/* a leaf in a bundle is trusted as itself, not as a CA */
	size_t l3;
	uint8_t *leaf = fixture("server-rsa.pem", &l3);
	CHECK_EQ(tlscred_anchors_parse(leaf, l3, &a), 0);
	CHECK_EQ(a.n, 2);
	CHECK_EQ(a.ta[0].flags, 0);
	CHECK_EQ(a.ta[0].pkey.key_type, BR_KEYTYPE_RSA);
	tlscred_anchors_free(&a);
	CHECK_EQ(tlscred_anchors_parse((const uint8_t *)"nothing", 7, &a), TLSCRED_ENONE);
	free(ca);
	free(other);
	free(leaf);
	free(bundle);
}

int main(void)
{
	test_chains();
	test_keys();
	test_anchors();
	return test_summary("test_tlscred");
}
