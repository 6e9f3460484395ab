/* Host test of runtime/lib/httpmsg.c: requests and response heads. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "httpmsg.h"
#include "testutil.h"

static void test_post(void)
{
	char b[512];
	long n = httpmsg_post(b, sizeof b, "[::1]:8443", "/v1/enclave/attest", 1234, 1);
	static const char want[] = "POST /v1/enclave/attest HTTP/1.1\r\nHost: [::1]:8443\r\n"
				   "Content-Type: application/octet-stream\r\nContent-Length: 1234\r\n"
				   "Connection: close\r\n\r\n";
	CHECK(n == (long)sizeof want - 1 && !memcmp(b, want, sizeof want - 1));
	CHECK(httpmsg_post(b, sizeof b, "cas", "/x", 0, 0) > 0);
	static const char keep[] = "POST /v1/enclave/challenge HTTP/1.1\r\nHost: cas:1\r\n"
				   "Content-Type: application/octet-stream\r\nContent-Length: 0\r\n\r\n";
	n = httpmsg_post(b, sizeof b, "cas:1", "/v1/enclave/challenge", 0, 0);
	CHECK(n == (long)sizeof keep - 1 && !memcmp(b, keep, sizeof keep - 1));
	CHECK(httpmsg_post(b, 40, "cas", "/v1/enclave/challenge", 0, 0) == -1);
	CHECK(httpmsg_post(b, sizeof b, "cas\r\nX: y", "/x", 0, 0) == -1);
	CHECK(httpmsg_post(b, sizeof b, "cas", "/x HTTP/1.0", 0, 0) == -1);
	CHECK(httpmsg_post(b, sizeof b, "cas", "x", 0, 0) == -1);
	CHECK(httpmsg_post(b, sizeof b, "", "/x", 0, 0) == -1);
}

static void test_heads(void)
{
	static const struct {
		const char *in;
		long want; /* -1, 0 (incomplete), or > 0: the head's length */
		int status;
		uint64_t clen;
		int text;
	} cases[] = {
		{"HTTP/1.1 200 OK\r\nContent-Length: 32\r\n\r\nBODY", 39, 200, 32, 0},
		{"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
		 "CONTENT-LENGTH:  17 \r\n\r\n",
		 99, 503, 17, 1},
		{"HTTP/1.0 404\r\n\r\n", 16, 404, UINT64_MAX, 0},
		{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 57, 200, 3, 0},
		{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", -1, 0, 0, 0},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", -1, 0, 0, 0},
		{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -1, 0, 0, 0},
		{"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", -1, 0, 0, 0},
		{"HTTP/1.1 200 OK\r\nContent-Length: 3", 0, 0, 0, 0},
		{"HTTP/2 200 OK\r\n\r\n", -1, 0, 0, 0},
		{"HTTP/1.1 20 OK\r\n\r\n", -1, 0, 0, 0},
		{"HTTP/1.1 700 Weird\r\n\r\n", -1, 0, 0, 0},
		{"SSH-2.0-OpenSSH\r\n\r\n", -1, 0, 0, 0},
		{"", 0, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct httpmsg_head h;
		long n = httpmsg_parse_head(cases[i].in, strlen(cases[i].in), &h);
		if (n != cases[i].want)
			fprintf(stderr, "case %zu: %ld, want %ld\n", i, n, cases[i].want);
		CHECK(n == cases[i].want);
		if (n > 0)
			CHECK(h.status == cases[i].status && h.content_length == cases[i].clen &&
			      h.text == cases[i].text);
	}
	/* a head that never ends is refused at the limit */
	static char big[HTTPMSG_MAX_HEAD + 10];
	memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
	memset(big + 17, 'x', sizeof big - 17);
	struct httpmsg_head h;
	CHECK(httpmsg_parse_head(big, sizeof big, &h) == -1);
	CHECK(httpmsg_parse_head(big, 100, &h) == 0);
}

/* Mutations of response heads: the parser reads only inside the input
 * (the sanitizers); what it accepts is a head within the input with a
 * status of 100-599. */
static void test_mutations(void)
{
	static const char *const seeds[] = {
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 17\r\n\r\nbody",
		"HTTP/1.0 404 Not Found\r\nConnection: close\r\nServer: scone-cas\r\n\r\n",
		"HTTP/1.1 503 Busy\r\nRetry-After: 1\r\ncontent-length:  0 \r\n\r\n",
	};
	uint64_t rs = 7;
	long accepted = 0;
	for (int round = 0; round < 60000; round++) {
		const char *seed = seeds[round % 3];
		uint8_t b[256];
		size_t len = strlen(seed);
		memcpy(b, seed, len);
		len = test_mutate(b, len, sizeof b, &rs);
		uint8_t *in = test_exact(b, len);
		struct httpmsg_head h;
		long n = httpmsg_parse_head((const char *)in, len, &h);
		CHECK_MSG(n >= -1 && n <= (long)len, "round %d: %ld of %zu bytes", round, n, len);
		if (n > 0) {
			accepted++;
			CHECK_MSG(h.status >= 100 && h.status <= 599, "round %d: status %d", round, h.status);
		}
		free(in);
	}
	printf("test_httpmsg: 60000 mutated heads, %ld accepted\n", accepted);
}

int main(void)
{
	test_post();
	test_heads();
	test_mutations();
	return test_summary("test_httpmsg");
}
