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

static int parse_code(const uint8_t *buf, size_t len)
{
	struct econfig *c = (struct econfig *)1;
	int e = econfig_parse(buf, len, &c);
	if (e)
		CHECK(c == NULL);
	econfig_free(c);
	return e;
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
	CHECK(c->has_cas == 0 && strcmp(c->cas_addr, "") == 0 && strcmp(c->cas_policy, "") == 0);
	/* no optional records: "" and empty lists */
	CHECK(c->tls_client_ca && !c->tls_client_ca[0] && c->tls_ca && !c->tls_ca[0]);
	CHECK(c->ntls_connect == 0 && c->tls_connect && c->tls_connect[0] == NULL);
	econfig_free(c);
}

/* testdata/enclave/cas.config.bin: the fixture plus the CAS records
 * (casFixtureConfig in pkg/enclave/cas_test.go). */
static void test_cas_fixture(const uint8_t *plain, size_t plen)
{
	size_t len;
	uint8_t *buf = read_file("testdata/enclave/cas.config.bin", &len);
	CHECK(buf != NULL);
	if (!buf)
		return;
	struct econfig *c = NULL;
	CHECK(econfig_parse(buf, len, &c) == ECONFIG_OK);
	if (c) {
		CHECK(c->has_cas == 1);
		CHECK(strcmp(c->cas_addr, "cas.example:8443") == 0);
		for (int i = 0; i < 32; i++)
			CHECK(c->cas_id[i] == 0xa0 + i);
		CHECK(strcmp(c->cas_policy, "web-prod") == 0);
		CHECK(c->argc == 3 && c->nvolumes == 1);
		econfig_free(c);
	}
	/* the CAS records only follow those of a config without CAS */
	CHECK(len > plen && memcmp(buf + 16, plain + 16, plen - 16) == 0);

	/* partial CAS records, reordered, extra, and every truncation */
	uint8_t *b = malloc(len + 64);
	size_t r22 = 8 + strlen("cas.example:8443"), r23 = 8 + 32;
	struct {
		size_t keep;
	} cut[] = {{r22}, {r22 + r23}};
	for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
		memcpy(b, buf, plen + cut[i].keep);
		put32(b + 12, (uint32_t)(plen + cut[i].keep - 16));
		CHECK(parse_code(b, plen + cut[i].keep) == ECONFIG_EFORMAT);
	}
	/* an unknown optional record after them */
	memcpy(b, buf, len);
	put32(b + len, 99);
	put32(b + len + 4, 0);
	put32(b + 12, (uint32_t)(len + 8 - 16));
	CHECK(parse_code(b, len + 8) == ECONFIG_EFORMAT);
	/* the policy record before the ID record */
	memcpy(b, buf, len);
	put32(b + plen + r22, 24);
	CHECK(parse_code(b, len) == ECONFIG_EFORMAT);
	/* a zero CAS ID, an upper-case policy name, a bad address */
	memcpy(b, buf, len);
	memset(b + plen + r22 + 8, 0, 32);
	CHECK(parse_code(b, len) == ECONFIG_EVALUE);
	memcpy(b, buf, len);
	b[len - 1] = 'D';
	CHECK(parse_code(b, len) == ECONFIG_EVALUE);
	memcpy(b, buf, len);
	b[plen + 8 + strlen("cas.example")] = '.';
	CHECK(parse_code(b, len) == ECONFIG_EVALUE);
	for (size_t n = plen + 1; n < len; n++)
		CHECK(parse_code(buf, n) != ECONFIG_OK);
	free(b);
	free(buf);
}

/* testdata/enclave/pvol.config.bin: cas.config.bin plus record 28
 * (pvolFixtureConfig in pkg/enclave/pvol_test.go), and the rules on the
 * paths, the same as pkg/enclave's. */
/* plain + record 28 with the given paths; *out_len set. */
static uint8_t *with_pvol(const uint8_t *plain, size_t plen, const char *const *paths, size_t n, size_t *out_len)
{
	size_t body = 4;
	for (size_t i = 0; i < n; i++)
		body += 4 + strlen(paths[i]);
	uint8_t *b = malloc(plen + 8 + body);
	memcpy(b, plain, plen);
	put32(b + plen, ECONFIG_TAG_PVOLUMES);
	put32(b + plen + 4, (uint32_t)body);
	put32(b + plen + 8, (uint32_t)n);
	size_t o = plen + 12;
	for (size_t i = 0; i < n; i++) {
		put32(b + o, (uint32_t)strlen(paths[i]));
		memcpy(b + o + 4, paths[i], strlen(paths[i]));
		o += 4 + strlen(paths[i]);
	}
	put32(b + 12, (uint32_t)(o - 16));
	*out_len = o;
	return b;
}

static void test_pvol(const uint8_t *plain, size_t plen)
{
	size_t len;
	uint8_t *buf = read_file("testdata/enclave/pvol.config.bin", &len);
	CHECK(buf != NULL);
	if (!buf)
		return;
	struct econfig *c = NULL;
	CHECK(econfig_parse(buf, len, &c) == ECONFIG_OK);
	if (c) {
		CHECK(c->has_cas == 1 && c->npvolumes == 2);
		CHECK(c->npvolumes == 2 && strcmp(c->pvolumes[0], "/data") == 0 &&
		      strcmp(c->pvolumes[1], "/var/lib/db") == 0 && c->pvolumes[2] == NULL);
		econfig_free(c);
	}
	/* trailing byte after record 28 */
	uint8_t *t = malloc(len + 1);
	memcpy(t, buf, len);
	t[len] = 0;
	put32(t + 12, (uint32_t)(len + 1 - 16));
	c = (struct econfig *)1;
	CHECK(econfig_parse(t, len + 1, &c) == ECONFIG_EFORMAT && c == NULL);
	free(t);
	free(buf);
	/* a config without any has an empty list */
	CHECK(econfig_parse(plain, plen, &c) == ECONFIG_OK);
	if (c) {
		CHECK(c->npvolumes == 0 && c->pvolumes && c->pvolumes[0] == NULL);
		econfig_free(c);
	}
	static const struct {
		const char *p[2];
		size_t n;
		int ok;
	} cases[] = {
		{{"/data", NULL}, 1, 1}, {{"/data", "/database"}, 2, 1}, {{"/", NULL}, 1, 0},
		{{"data", NULL}, 1, 0},	 {{"/data/", NULL}, 1, 0},	 {{"/a/../b", NULL}, 1, 0},
		{{"/a//b", NULL}, 1, 0}, {{"/a/./b", NULL}, 1, 0},	 {{"/proc/x", NULL}, 1, 0},
		{{"/dev", NULL}, 1, 0},	 {{"/data", "/data/s"}, 2, 0},	 {{"/data", "/data"}, 2, 0},
		{{NULL, NULL}, 0, 0}, /* an empty record */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t bl;
		uint8_t *b = with_pvol(plain, plen, cases[i].p, cases[i].n, &bl);
		c = NULL;
		int e = econfig_parse(b, bl, &c);
		CHECK((e == ECONFIG_OK) == cases[i].ok);
		if (!((e == ECONFIG_OK) == cases[i].ok))
			fprintf(stderr, "  pvol case %zu: %d\n", i, e);
		econfig_free(c);
		free(b);
	}
}

/* testdata/enclave/casaddr.txt: the address vectors pkg/enclave reads too. */
static void test_cas_addresses(void)
{
	size_t len;
	uint8_t *buf = read_file("testdata/enclave/casaddr.txt", &len);
	CHECK(buf != NULL);
	if (!buf)
		return;
	int n = 0;
	for (size_t i = 0; i < len;) {
		size_t e = i;
		while (e < len && buf[e] != '\n')
			e++;
		const char *l = (const char *)buf + i;
		size_t ll = e - i;
		i = e + 1;
		if (ll == 0 || l[0] == '#')
			continue;
		int valid = ll > 6 && !memcmp(l, "valid ", 6);
		int invalid = ll > 8 && !memcmp(l, "invalid ", 8);
		CHECK(valid || invalid);
		const char *a = valid ? l + 6 : l + 8;
		size_t al = ll - (size_t)(a - l);
		struct netaddr na;
		int r = netaddr_parse(a, al, &na);
		if ((r == 0) != valid)
			fprintf(stderr, "netaddr_parse(%.*s) = %d, vector says %s\n", (int)al, a, r,
				valid ? "valid" : "invalid");
		CHECK((r == 0) == valid);
		n++;
	}
	CHECK(n >= 50);
	free(buf);

	/* what the parse returns */
	struct netaddr a;
	CHECK(netaddr_parse("10.1.2.3:443", 12, &a) == 0 && a.kind == NETADDR_IPV4 && a.port == 443 && a.ip[0] == 10 &&
	      a.ip[3] == 3);
	CHECK(netaddr_parse("[2001:db8::1]:8443", 18, &a) == 0 && a.kind == NETADDR_IPV6 && a.port == 8443 &&
	      a.ip[0] == 0x20 && a.ip[1] == 0x01 && a.ip[2] == 0x0d && a.ip[3] == 0xb8 && a.ip[15] == 1 &&
	      a.ip[14] == 0);
	CHECK(netaddr_parse("[::ffff:1.2.3.4]:1", 18, &a) == 0 && a.ip[10] == 0xff && a.ip[11] == 0xff &&
	      a.ip[12] == 1 && a.ip[15] == 4);
	CHECK(netaddr_parse("Cas.Example:65535", 17, &a) == 0 && a.kind == NETADDR_NAME && a.port == 65535 &&
	      strcmp(a.name, "Cas.Example") == 0);
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
		{"unknown tag", {99}, {"x"}, {1}, ECONFIG_EFORMAT},
		{"a CAS record alone", {22}, {"cas:1"}, {5}, ECONFIG_EFORMAT},
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

/* Record 29, the scheduler: u32 ECONFIG_SCHED_MN after the last plain
 * record; the default (0), unknown values and another length refused. */
static void test_scheduler(const uint8_t *plain, size_t plen)
{
	static const struct {
		uint32_t len, v;
		int want;
	} cases[] = {
		{4, ECONFIG_SCHED_MN, ECONFIG_OK},
		{4, ECONFIG_SCHED_OS, ECONFIG_EVALUE},
		{4, 2, ECONFIG_EVALUE},
		{8, ECONFIG_SCHED_MN, ECONFIG_EFORMAT},
	};
	uint8_t *b = malloc(plen + 16);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memcpy(b, plain, plen);
		put32(b + plen, ECONFIG_TAG_SCHEDULER);
		put32(b + plen + 4, cases[i].len);
		put32(b + plen + 8, cases[i].v);
		put32(b + plen + 12, 0);
		put32(b + 12, (uint32_t)(plen + 8 + cases[i].len - 16));
		CHECK(parse_code(b, plen + 8 + cases[i].len) == cases[i].want);
		if (cases[i].want == ECONFIG_OK) {
			struct econfig *c = NULL;
			CHECK(econfig_parse(b, plen + 12, &c) == ECONFIG_OK && c && c->scheduler == ECONFIG_SCHED_MN);
			econfig_free(c);
		}
	}
	/* absent: the OS scheduler */
	struct econfig *c = NULL;
	CHECK(econfig_parse(plain, plen, &c) == ECONFIG_OK && c && c->scheduler == ECONFIG_SCHED_OS);
	econfig_free(c);
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
	test_cas_fixture(buf, len);
	test_cas_addresses();
	test_tls_records(buf, len);
	test_pvol(buf, len);
	test_scheduler(buf, len);
	free(buf);
	return test_summary("test_econfig");
}
