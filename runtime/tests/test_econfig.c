/* Host test of runtime/lib/econfig.c against testdata/enclave/config.bin
 * (written by pkg/enclave from fixtureConfig() in config_test.go). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "econfig.h"
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
	free(buf);
	return test_summary("test_econfig");
}
