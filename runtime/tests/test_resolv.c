/* Host test of runtime/lib/resolv.c: /etc/hosts and resolv.conf parsing,
 * DNS queries and answers (RFC 1035 wire format), tables of cases. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "resolv.h"
#include "testutil.h"

static const char hosts[] = "# /etc/hosts\n"
			    "127.0.0.1\tlocalhost\n"
			    "::1     localhost ip6-localhost ip6-loopback\n"
			    "10.0.0.7 cas.example cas   # the CAS\n"
			    "  10.0.0.8 CAS.example\n"
			    "fe80::1%eth0 linklocal\n"
			    "999.0.0.1 cas.example\n"
			    "10.0.0.9\n"
			    "#10.0.0.10 cas\n"
			    "10.0.0.11 cas.example.";

static void test_hosts(void)
{
	static const struct {
		const char *name;
		size_t n;
		const char *first; /* family 4: a.b.c.d; 6: "v6" */
	} cases[] = {
		{"localhost", 2, "127.0.0.1"},	{"cas", 1, "10.0.0.7"},
		{"cas.example", 3, "10.0.0.7"}, {"CAS.EXAMPLE.", 3, "10.0.0.7"},
		{"ip6-loopback", 1, "v6"},	{"linklocal", 1, "v6"},
		{"nothere", 0, NULL},		{"10.0.0.9", 0, NULL},
		{"example", 0, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct resolv_addr a[RESOLV_MAX_ADDRS];
		size_t n = resolv_hosts(hosts, sizeof hosts - 1, cases[i].name, a, RESOLV_MAX_ADDRS);
		if (n != cases[i].n)
			fprintf(stderr, "hosts %s: %zu addresses, want %zu\n", cases[i].name, n, cases[i].n);
		CHECK(n == cases[i].n);
		if (!n || !cases[i].first)
			continue;
		char got[32];
		if (a[0].family == 4)
			snprintf(got, sizeof got, "%u.%u.%u.%u", a[0].ip[0], a[0].ip[1], a[0].ip[2], a[0].ip[3]);
		else
			snprintf(got, sizeof got, "v6");
		CHECK(!strcmp(got, cases[i].first));
	}
	struct resolv_addr a[2];
	CHECK(resolv_hosts(hosts, sizeof hosts - 1, "cas.example", a, 2) == 2); /* at most max */
	CHECK(resolv_hosts(hosts, sizeof hosts - 1, "ip6-localhost", a, 2) == 1 && a[0].family == 6 &&
	      a[0].ip[15] == 1);
}

static void test_nameservers(void)
{
	static const char conf[] = "search example\n"
				   "nameserver 10.0.2.3\n"
				   "nameserver\t2001:db8::53 # v6\n"
				   "nameserver bogus\n"
				   "# nameserver 1.1.1.1\n"
				   "options ndots:5\n"
				   "nameserver 8.8.8.8\n"
				   "nameserver 9.9.9.9\n";
	struct resolv_addr a[RESOLV_MAX_NS];
	size_t n = resolv_nameservers(conf, sizeof conf - 1, a, RESOLV_MAX_NS);
	CHECK(n == 3);
	CHECK(a[0].family == 4 && a[0].ip[0] == 10 && a[0].ip[3] == 3);
	CHECK(a[1].family == 6 && a[1].ip[0] == 0x20 && a[1].ip[15] == 0x53);
	CHECK(a[2].family == 4 && a[2].ip[0] == 8);
	CHECK(resolv_nameservers("", 0, a, 3) == 0);
}

static void test_query(void)
{
	uint8_t b[512];
	long n = resolv_query(0x1234, "cas.example", RESOLV_QTYPE_A, b, sizeof b);
	static const uint8_t want[] = {0x12, 0x34, 0x01, 0x00, 0,   1,	 0,   0,   0,	0, 0, 0, 3, 'c', 'a',
				       's',  7,	   'e',	 'x',  'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1};
	CHECK(n == (long)sizeof want && !memcmp(b, want, sizeof want));
	CHECK(resolv_query(1, "bad_name", 1, b, sizeof b) < 0);
	CHECK(resolv_query(1, "10.0.0.1", 1, b, sizeof b) < 0); /* a literal is no name */
	CHECK(resolv_query(1, "cas.example", 1, b, 20) < 0);
}

/* An answer: header, question, then records given as bytes. */
static size_t answer(uint8_t *b, uint16_t id, uint8_t flags2, uint8_t rcode, uint16_t an, const char *qname,
		     uint16_t qtype, const uint8_t *recs, size_t rl)
{
	long q = resolv_query(id, qname, qtype, b, 512);
	b[2] = 0x80 | flags2; /* QR */
	b[3] = rcode;
	b[6] = (uint8_t)(an >> 8);
	b[7] = (uint8_t)an;
	if (rl)
		memcpy(b + q, recs, rl);
	return (size_t)q + rl;
}

static void test_answers(void)
{
	/* question name "cas.example" sits at offset 12: pointer c0 0c */
	static const uint8_t a_rec[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 7};
	static const uint8_t two_a[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 7,
					0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 8};
	static const uint8_t aaaa[] = {0xc0, 0x0c, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, 0x20, 1,
				       0x0d, 0xb8, 0, 0,  0, 0, 0, 0, 0, 0,  0, 0,  0,	  1};
	/* CNAME cas.example -> real.cas.example (4 real + pointer to 12), then A of the target (pointer to 40) */
	static const uint8_t cname[] = {0xc0, 0x0c, 0,	5, 0, 1, 0, 0, 0, 60, 0,  7, 4, 'r', 'e', 'a', 'l', 0xc0,
					0x0c, 0xc0, 41, 0, 1, 0, 1, 0, 0, 0,  60, 0, 4, 10,  1,	  1,   1};
	/* an A record of another name (not the chain) */
	static const uint8_t other[] = {5, 'o', 't', 'h', 'e', 'r', 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 6, 6, 6, 6};
	static const uint8_t loop[] = {0xc0, 45, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4};
	static const uint8_t trunc[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0};
	static const struct {
		const char *name;
		uint16_t id;
		uint8_t flags2, rcode;
		uint16_t an, qtype;
		const uint8_t *recs;
		size_t rl;
		long want;
		uint8_t first_last; /* last byte of the first address */
	} cases[] = {
		{"one A", 7, 0, 0, 1, 1, a_rec, sizeof a_rec, 1, 7},
		{"two A", 7, 0, 0, 2, 1, two_a, sizeof two_a, 2, 7},
		{"AAAA", 7, 0, 0, 1, 28, aaaa, sizeof aaaa, 1, 1},
		{"A asked, AAAA given", 7, 0, 0, 1, 1, aaaa, sizeof aaaa, 0, 0},
		{"CNAME chain", 7, 0, 0, 2, 1, cname, sizeof cname, 1, 1},
		{"other name ignored", 7, 0, 0, 1, 1, other, sizeof other, 0, 0},
		{"NXDOMAIN", 7, 0, 3, 0, 1, NULL, 0, 0, 0},
		{"SERVFAIL", 7, 0, 2, 0, 1, NULL, 0, -1, 0},
		{"truncated flag", 7, 0x02, 0, 1, 1, a_rec, sizeof a_rec, -1, 0},
		{"record past the end", 7, 0, 0, 1, 1, trunc, sizeof trunc, -1, 0},
		{"pointer loop", 7, 0, 0, 1, 1, loop, sizeof loop, -1, 0},
		{"more records than bytes", 7, 0, 0, 3, 1, a_rec, sizeof a_rec, -1, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t b[512];
		size_t n = answer(b, cases[i].id, cases[i].flags2, cases[i].rcode, cases[i].an, "cas.example",
				  cases[i].qtype, cases[i].recs, cases[i].rl);
		struct resolv_addr a[RESOLV_MAX_ADDRS];
		long got = resolv_answer(b, n, 7, "cas.example", cases[i].qtype, a, RESOLV_MAX_ADDRS);
		if (got != cases[i].want)
			fprintf(stderr, "%s: %ld, want %ld\n", cases[i].name, got, cases[i].want);
		CHECK(got == cases[i].want);
		if (got > 0 && a[0].ip[a[0].family == 4 ? 3 : 15] != cases[i].first_last)
			fprintf(stderr, "%s: address ends in %u\n", cases[i].name, a[0].ip[a[0].family == 4 ? 3 : 15]);
		if (got > 0)
			CHECK(a[0].ip[a[0].family == 4 ? 3 : 15] == cases[i].first_last);
	}
	/* not the answer to our query */
	uint8_t b[512];
	size_t n = answer(b, 7, 0, 0, 1, "cas.example", 1, a_rec, sizeof a_rec);
	struct resolv_addr a[4];
	CHECK(resolv_answer(b, n, 8, "cas.example", 1, a, 4) == -1);  /* id */
	CHECK(resolv_answer(b, n, 7, "evil.example", 1, a, 4) == -1); /* question */
	CHECK(resolv_answer(b, n, 7, "cas.example", 28, a, 4) == -1); /* type */
	CHECK(resolv_answer(b, n, 7, "CAS.Example", 1, a, 4) == 1);   /* case */
	CHECK(resolv_answer(b, n, 7, "cas.example", 1, a, 0) == 0);   /* max */
	b[2] &= 0x7f;
	CHECK(resolv_answer(b, n, 7, "cas.example", 1, a, 4) == -1); /* a query, not an answer */
	/* every truncation of a good answer is refused or answers less, never crashes */
	n = answer(b, 7, 0, 0, 2, "cas.example", 1, cname, sizeof cname);
	for (size_t k = 0; k < n; k++)
		CHECK(resolv_answer(b, k, 7, "cas.example", 1, a, 4) <= 0);
}

/* Mutations of good answers, hosts files and resolv.conf texts: never a
 * read past the input (the sanitizers), never more addresses than asked,
 * only address families 4 and 6. */
static void test_mutations(void)
{
	static const uint8_t cname[] = {0xc0, 0x0c, 0,	5, 0, 1, 0, 0, 0, 60, 0,  7, 4, 'r', 'e', 'a', 'l', 0xc0,
					0x0c, 0xc0, 41, 0, 1, 0, 1, 0, 0, 0,  60, 0, 4, 10,  1,	  1,   1};
	static const uint8_t two[] = {
		0xc0, 0x0c, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0xc0, 0x0c, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
	static const char hosts[] = "127.0.0.1 localhost\n10.0.0.7 cas.example cas # the CAS\n"
				    "::1 localhost ip6-localhost\nfe80::1%eth0 cas.example\n";
	static const char conf[] = "search example\nnameserver 10.0.0.3\nnameserver 2001:db8::53\noptions ndots:5\n";
	uint8_t seeds[3][512];
	size_t seedlen[3] = {answer(seeds[0], 7, 0, 0, 2, "cas.example", 1, cname, sizeof cname),
			     answer(seeds[1], 7, 0, 0, 2, "cas.example", 28, two, sizeof two), sizeof hosts - 1};
	memcpy(seeds[2], hosts, sizeof hosts - 1);
	uint64_t rs = 1;
	long accepted = 0;
	for (int round = 0; round < 60000; round++) {
		int which = round % 4;
		const uint8_t *seed = which == 3 ? (const uint8_t *)conf : seeds[which];
		size_t len = which == 3 ? sizeof conf - 1 : seedlen[which];
		uint8_t b[600];
		memcpy(b, seed, len);
		len = test_mutate(b, len, sizeof b, &rs);
		uint8_t *in = test_exact(b, len);
		struct resolv_addr a[RESOLV_MAX_ADDRS];
		long n;
		if (which < 2)
			n = resolv_answer(in, len, 7, "cas.example", which ? 28 : 1, a, 3);
		else if (which == 2)
			n = (long)resolv_hosts((const char *)in, len, "cas.example", a, 3);
		else
			n = (long)resolv_nameservers((const char *)in, len, a, 3);
		CHECK_MSG(n >= -1 && n <= 3, "round %d: %ld addresses", round, n);
		for (long i = 0; i < n && i < 3; i++)
			CHECK_MSG(a[i].family == 4 || a[i].family == 6, "round %d: family %d", round, a[i].family);
		accepted += n > 0;
		free(in);
	}
	printf("test_resolv: 60000 mutated inputs, %ld gave addresses\n", accepted);
}

int main(void)
{
	test_hosts();
	test_nameservers();
	test_query();
	test_answers();
	test_mutations();
	return test_summary("test_resolv");
}
