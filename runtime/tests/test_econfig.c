/* Host test of runtime/lib/econfig.c against testdata/enclave/config.bin
 * and tls.config.bin (written by pkg/enclave from fixtureConfig() and
 * tlsFixtureConfig()), and of runtime/lib/netaddr.c against the shared
 * HOST:PORT vectors (testdata/enclave/casaddr.txt). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "econfig.h"
#include "netaddr.h"
#include "testutil.h"

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void test_fixture(const uint8_t *buf, size_t len)
{
	struct econfig *c = NULL;
	int e = econfig_parse(buf, len, &c);
	CHECK(e == ECONFIG_OK);
	if (e) {
		fprintf(stderr, "econfig_parse: %s\n", econfig_strerror(e));
		return;
	}
	CHECK(c->version == 1);
	CHECK(c->argc == 3 && strcmp(c->argv[0], "/app/server") == 0 && strcmp(c->argv[1], "--port") == 0 &&
	      strcmp(c->argv[2], "8443") == 0 && c->argv[3] == NULL);
	CHECK(c->envc == 2 && strcmp(c->env[0], "PATH=/usr/bin:/bin") == 0 && strcmp(c->env[1], "LANG=C.UTF-8") == 0 &&
	      c->env[2] == NULL);
	CHECK(c->host_envc == 1 && strcmp(c->host_env[0], "LOG_LEVEL") == 0);
	CHECK(c->host_args == 1);
	CHECK(strcmp(c->cwd, "/app") == 0);
	CHECK(c->uid == 1000 && c->gid == 1001);
	CHECK(c->heap_size == (1u << 20) && c->stack_size == (64u << 10) && c->max_threads == 2);
	for (int i = 0; i < 32; i++)
		CHECK(c->fs_root[i] == i);
	CHECK(c->console_shield == 1);
	CHECK(c->ntls_ports == 2 && c->tls_ports[0] == 443 && c->tls_ports[1] == 8443);
	CHECK(strcmp(c->tls_cert, "/etc/tls/cert.pem") == 0 && strcmp(c->tls_key, "/etc/tls/key.pem") == 0);
	CHECK(c->transport == ECONFIG_TRANSPORT_ASYNC && c->exit_cycles == 8000);
	CHECK(strcmp(c->entrypoint, "/app/server") == 0);
	CHECK(strcmp(c->interp, "/lib/ld-musl-x86_64.so.1") == 0);
	CHECK(c->nlibs == 1 && strcmp(c->libs[0], "/lib/libc.musl-x86_64.so.1") == 0 && c->libs[1] == NULL);
	CHECK(c->nvolumes == 1 && strcmp(c->volumes[0], "/var/data") == 0);
	/* no optional records: "" and empty lists */
	CHECK(c->tls_client_ca && !c->tls_client_ca[0] && c->tls_ca && !c->tls_ca[0]);
	CHECK(c->ntls_connect == 0 && c->tls_connect && c->tls_connect[0] == NULL);
	econfig_free(c);
}

static int parse_code(const uint8_t *buf, size_t len)
{
	struct econfig *c = (struct econfig *)1;
	int e = econfig_parse(buf, len, &c);
	if (e)
		CHECK(c == NULL);
	econfig_free(c);
	return e;
}

/* Appends a record (tag, value) to a copy of config buf and fixes the body length. */
static uint8_t *with_record(const uint8_t *buf, size_t len, uint32_t tag, const void *v, uint32_t n, size_t *out)
{
	uint8_t *b = malloc(len + 8 + n);
	memcpy(b, buf, len);
	put32(b + len, tag);
	put32(b + len + 4, n);
	memcpy(b + len + 8, v, n);
	*out = len + 8 + n;
	put32(b + 12, (uint32_t)(*out - 16));
	return b;
}

/* tls.config.bin: the optional records 25-27, and what is refused. */
static void test_tls_records(const uint8_t *base, size_t blen)
{
	size_t len;
	uint8_t *buf = read_file("testdata/enclave/tls.config.bin", &len);
	CHECK(buf != NULL);
	if (!buf)
		return;
	struct econfig *c = NULL;
	CHECK(econfig_parse(buf, len, &c) == ECONFIG_OK);
	if (c) {
		CHECK(strcmp(c->tls_client_ca, "/etc/tls/clients.pem") == 0);
		CHECK(c->ntls_connect == 3 && strcmp(c->tls_connect[0], "db.internal:5432") == 0 &&
		      strcmp(c->tls_connect[1], "10.0.0.7:6379") == 0 &&
		      strcmp(c->tls_connect[2], "[2001:db8::1]:443") == 0 && c->tls_connect[3] == NULL);
		CHECK(strcmp(c->tls_ca, "/etc/tls/ca.pem") == 0);
		econfig_free(c);
	}
	/* every truncation fails */
	for (size_t n = blen; n < len; n++)
		CHECK(parse_code(buf, n) != ECONFIG_OK);
	free(buf);

	static const uint8_t one_dest[] = {1, 0, 0, 0, 7, 0, 0, 0, 'd', 'b', ':', '5', '4', '3', '2'};
	static const uint8_t bad_dest[] = {1, 0, 0, 0, 2, 0, 0, 0, 'd', 'b'};
	static const struct {
		const char *what;
		uint32_t tag[3];
		const void *v[3];
		uint32_t n[3];
		int want;
	} cases[] = {
		{"client CA", {25}, {"/ca"}, {3}, ECONFIG_OK},
		{"connect and CA", {26, 27}, {one_dest, "/ca"}, {sizeof one_dest, 3}, ECONFIG_OK},
		{"connect without CA", {26}, {one_dest}, {sizeof one_dest}, ECONFIG_EVALUE},
		{"CA without connect", {27}, {"/ca"}, {3}, ECONFIG_EVALUE},
		{"out of order", {27, 26}, {"/ca", one_dest}, {3, sizeof one_dest}, ECONFIG_EFORMAT},
		{"repeated", {25, 25}, {"/a", "/b"}, {2, 2}, ECONFIG_EFORMAT},
		{"unknown tag", {28}, {"x"}, {1}, ECONFIG_EFORMAT},
		{"record 21 again", {21}, {"\0\0\0\0"}, {4}, ECONFIG_EFORMAT},
		{"empty client CA", {25}, {""}, {0}, ECONFIG_EVALUE},
		{"relative CA", {26, 27}, {one_dest, "ca"}, {sizeof one_dest, 2}, ECONFIG_EVALUE},
		{"destination without port", {26, 27}, {bad_dest, "/ca"}, {sizeof bad_dest, 3}, ECONFIG_EVALUE},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t *b = malloc(blen);
		memcpy(b, base, blen);
		size_t l = blen;
		for (int k = 0; k < 3 && cases[i].tag[k]; k++) {
			size_t nl;
			uint8_t *nb = with_record(b, l, cases[i].tag[k], cases[i].v[k], cases[i].n[k], &nl);
			free(b);
			b = nb;
			l = nl;
		}
		int e = parse_code(b, l);
		if (e != cases[i].want)
			fprintf(stderr, "%s: %d\n", cases[i].what, e);
		CHECK_EQ(e, cases[i].want);
		free(b);
	}
}

/* The shared HOST:PORT vectors: "valid ADDR" / "invalid ADDR". */
static void test_netaddr_vectors(void)
{
	size_t len;
	uint8_t *buf = read_file("testdata/enclave/casaddr.txt", &len);
	CHECK(buf != NULL);
	if (!buf)
		return;
	int n = 0;
	for (char *line = (char *)buf, *end = (char *)buf + len; line < end;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t l = nl ? (size_t)(nl - line) : (size_t)(end - line);
		if (l && line[0] != '#') {
			int valid = l > 6 && !memcmp(line, "valid ", 6);
			size_t skip = valid ? 6 : 8;
			struct netaddr a;
			int r = netaddr_parse(line + skip, l - skip, &a);
			if ((r == 0) != valid)
				fprintf(stderr, "netaddr %.*s: %d\n", (int)l, line, r);
			CHECK((r == 0) == valid);
			n++;
		}
		line += l + 1;
	}
	CHECK(n >= 20);
	free(buf);
}

static void test_refusals(const uint8_t *good, size_t len)
{
	uint8_t *b = malloc(len + 8);
	CHECK(parse_code(NULL, 0) == ECONFIG_EINVAL || parse_code(NULL, 0) == ECONFIG_ETRUNC);
	CHECK(econfig_parse(good, len, NULL) == ECONFIG_EINVAL);

	memcpy(b, good, len);
	b[0] = 'X';
	CHECK(parse_code(b, len) == ECONFIG_EMAGIC);

	memcpy(b, good, len);
	put32(b + 8, 2);
	CHECK(parse_code(b, len) == ECONFIG_EVERSION);

	/* every truncation fails, none crashes */
	for (size_t n = 0; n < len; n++)
		CHECK(parse_code(good, n) != ECONFIG_OK);

	/* a trailing byte with a consistent header is still refused */
	memcpy(b, good, len);
	b[len] = 0;
	put32(b + 12, (uint32_t)(len + 1 - 16));
	CHECK(parse_code(b, len + 1) == ECONFIG_EFORMAT);

	/* a host env name that chooses code (the fixture's LOG_LEVEL becomes
	 * LD_PRELOA, same length; then PATH=... is no name, LD_ prefix rules) */
	memcpy(b, good, len);
	for (size_t i = 0; i + 9 <= len; i++)
		if (memcmp(b + i, "LOG_LEVEL", 9) == 0) {
			memcpy(b + i, "LD_PRELOA", 9);
			break;
		}
	CHECK(parse_code(b, len) == ECONFIG_ECODEVAR);

	/* first record tag wrong */
	memcpy(b, good, len);
	put32(b + 16, 2);
	CHECK(parse_code(b, len) == ECONFIG_EFORMAT);

	/* huge list count must not allocate or read past the end */
	memcpy(b, good, len);
	put32(b + 24, 0xffffffffu);
	CHECK(parse_code(b, len) == ECONFIG_EFORMAT);

	/* single-byte corruptions: must never crash (ASan) and the
	 * "FS root" bytes (any value valid) must still parse */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(b, good, len);
			b[i] ^= (uint8_t)(1u << bit);
			(void)parse_code(b, len);
		}
	}
	/* pseudo-random multi-byte corruptions */
	uint32_t x = 12345;
	for (int it = 0; it < 20000; it++) {
		memcpy(b, good, len);
		for (int k = 0; k < 4; k++) {
			x = x * 1103515245u + 12345u;
			size_t pos = (x >> 8) % len;
			x = x * 1103515245u + 12345u;
			b[pos] = (uint8_t)(x >> 16);
		}
		(void)parse_code(b, len);
	}
	free(b);
}

int main(void)
{
	size_t len;
	uint8_t *buf = read_file("testdata/enclave/config.bin", &len);
	if (buf == NULL) {
		fprintf(stderr, "test_econfig: cannot read testdata/enclave/config.bin (run from the repo root)\n");
		return 1;
	}
	test_fixture(buf, len);
	test_refusals(buf, len);
	test_tls_records(buf, len);
	test_netaddr_vectors();
	free(buf);
	return test_summary("test_econfig");
}
