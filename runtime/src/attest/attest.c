/* The CAS client of the attest subsystem (attest.h). */
#include "attest.h"
#include "casmsg.h"
#include "casseal.h"
#include "http.h"
#include "net.h"
#include "quote.h"
#include "tls.h"
#include "random.h"
#include "rt_alloc.h"
#include "rtstring.h"
#include "rtutil.h"

#define CLIENT_DESC "scone-run (CAS protocol v1)"

/* The outcome of one attempt. */
enum { A_OK, A_RETRY, A_FATAL };

struct attempt {
	const struct attest_target *t;
	struct netaddr addr;
	void *qctx;
	int kind;      /* A_* of the last failure */
	int code;      /* exit code for A_FATAL */
	char msg[768]; /* what went wrong and how to fix it */
};

static int fail(struct attempt *a, int kind, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(struct attempt *a, int kind, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rt_vsnprintf(a->msg, sizeof a->msg, fmt, ap);
	va_end(ap);
	a->kind = kind;
	a->code = code;
	return kind;
}

static void hexs(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[b[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[b[i] & 15];
	}
	out[2 * n] = 0;
}

/* Text from the CAS (a reason), printable: at most cap-1 bytes, control
 * characters replaced. */
static void printable(const uint8_t *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	for (size_t i = 0; i < n && o + 1 < cap; i++)
		out[o++] = s[i] < 0x20 || s[i] == 0x7f ? '?' : (char)s[i];
	out[o] = 0;
}

/* Connects to the CAS (each address in turn) and runs the pinned handshake. */
static int open_cas(struct attempt *a, struct tls_conn **out)
{
	const struct attest_target *t = a->t;
	struct resolv_addr ips[RESOLV_MAX_ADDRS];
	char why[320];
	size_t n = casnet_resolve(&a->addr, ips, RESOLV_MAX_ADDRS, why, sizeof why);
	if (!n)
		return fail(a, A_RETRY, RT_EX_UNAVAILABLE, "%s", why);
	long last = 0;
	char ip[64];
	for (size_t i = 0; i < n; i++) {
		long fd = casnet_connect(&ips[i], a->addr.port);
		if (fd < 0) {
			last = fd;
			casnet_ntop(&ips[i], ip, sizeof ip);
			continue;
		}
		uint8_t got[32];
		int err = 0;
		int r = tls_open(out, (int)fd, a->addr.kind == NETADDR_NAME ? a->addr.name : NULL, t->cas_id, got,
				 &err);
		if (r == TLS_OK)
			return A_OK;
		char want_hex[65], got_hex[65];
		switch (r) {
		case TLS_EPIN:
			hexs(t->cas_id, 32, want_hex);
			hexs(got, 32, got_hex);
			return fail(
				a, A_FATAL, RT_EX_CAS_IDENTITY,
				"the server at %s is not the CAS this image trusts: its key has CAS ID %s, the "
				"image's measured config pins %s. Someone else's server answers at that address (or "
				"the CAS's identity key changed: then convert the image again with the new --cas-id)",
				t->cas_addr, got_hex, want_hex);
		case TLS_EKEY:
			return fail(a, A_FATAL, RT_EX_CAS_IDENTITY,
				    "the server at %s presents no ECDSA P-256 key in its TLS certificate: it is not a "
				    "CAS (a CAS's certificate carries its identity key, docs/cas.md)",
				    t->cas_addr);
		case TLS_ENOMEM:
			rt_fatal(RT_EX_SOFTWARE, "out of memory");
		default:
			return fail(
				a, A_RETRY, RT_EX_UNAVAILABLE,
				"TLS handshake with %s failed (BearSSL error %d): the server must speak TLS 1.2 with "
				"ECDHE-ECDSA (AES-GCM or ChaCha20-Poly1305); is it a CAS?",
				t->cas_addr, err);
		}
	}
	if (n == 1)
		return fail(a, A_RETRY, RT_EX_UNAVAILABLE, "cannot connect to the CAS at %s: %s%s", t->cas_addr,
			    casnet_strerror(last),
			    last == -111 ? " (is the CAS running and listening there? the address is measured: "
					   "scone-build convert --cas)" :
					   " (check the network path to the CAS)");
	return fail(a, A_RETRY, RT_EX_UNAVAILABLE, "cannot connect to the CAS at %s (%lu addresses; the last, %s: %s)",
		    t->cas_addr, (unsigned long)n, ip, casnet_strerror(last));
}

/* One POST to the CAS on the pinned connection c; a 200 answer in *resp. */
static int post(struct attempt *a, struct tls_conn *c, const char *path, const uint8_t *body, size_t len, int last,
		struct http_resp *resp)
{
	int r = http_post(c, a->t->cas_addr, path, body, len, CASMSG_MAX, last, resp);
	switch (r) {
	case HTTP_OK:
		break;
	case HTTP_EIO:
		return fail(a, A_RETRY, RT_EX_UNAVAILABLE, "the connection to the CAS at %s broke during %s",
			    a->t->cas_addr, path);
	case HTTP_ENOMEM:
		rt_fatal(RT_EX_SOFTWARE, "out of memory");
	default:
		return fail(a, A_FATAL, RT_EX_PROTOCOL,
			    "the CAS at %s answered %s with something that is not an HTTP/1.1 response of at most "
			    "1 MiB with a Content-Length",
			    a->t->cas_addr, path);
	}
	if (resp->status == 200)
		return A_OK;
	char reason[512];
	printable(resp->body, resp->len, reason, sizeof reason);
	int st = resp->status;
	http_resp_free(resp);
	if (st == 503 || st == 429)
		return fail(a, A_RETRY, RT_EX_UNAVAILABLE, "the CAS at %s is %s (HTTP %d): %s", a->t->cas_addr,
			    st == 503 ? "unavailable" : "busy", st, reason[0] ? reason : "no reason given");
	return fail(a, A_FATAL, RT_EX_PROTOCOL,
		    "the CAS at %s answered %s with HTTP %d: %s (does it speak the CAS protocol v1, docs/cas.md?)",
		    a->t->cas_addr, path, st, reason[0] ? reason : "no reason given");
}

/* What is wiped whatever happens. */
struct session {
	uint8_t nonce[32];
	uint8_t priv[32], pub[65];
	uint8_t report_data[64];
	uint8_t *quote;
	size_t quote_len;
	uint8_t *plain;
	size_t plain_len;
};

static void session_wipe(struct session *s)
{
	if (s->quote)
		rt_free(s->quote);
	if (s->plain) {
		rt_memzero(s->plain, s->plain_len);
		rt_free(s->plain);
	}
	rt_memzero(s, sizeof *s);
}

static int challenge(struct attempt *a, struct tls_conn *c, struct session *s)
{
	struct http_resp r;
	int k = post(a, c, "/v1/enclave/challenge", NULL, 0, 0, &r);
	if (k != A_OK)
		return k;
	if (r.len != sizeof s->nonce) {
		http_resp_free(&r);
		return fail(a, A_FATAL, RT_EX_PROTOCOL,
			    "the CAS at %s answered the challenge with %lu bytes, not a 32-byte nonce", a->t->cas_addr,
			    (unsigned long)r.len);
	}
	memcpy(s->nonce, r.body, sizeof s->nonce);
	http_resp_free(&r);
	return A_OK;
}

static int attest(struct attempt *a, struct tls_conn *c, struct session *s, struct casmsg_secrets *out)
{
	const struct attest_target *t = a->t;
	uint8_t seed[48];
	rt_random(seed, sizeof seed);
	int r = casseal_keygen(seed, sizeof seed, s->priv, s->pub);
	rt_memzero(seed, sizeof seed);
	if (r)
		rt_fatal(RT_EX_SOFTWARE, "cannot make the session key pair");
	casseal_report_data(s->nonce, s->pub, s->report_data);
	if ((r = t->quotes->quote(a->qctx, &t->id, s->report_data, &s->quote, &s->quote_len)))
		rt_fatal(RT_EX_SOFTWARE, "cannot make the %s quote: error %d", t->quotes->name, -r);
	uint8_t *req;
	size_t rl;
	if ((r = casmsg_attest_request(t->policy, s->nonce, s->pub, s->quote, s->quote_len, CLIENT_DESC, &req, &rl)))
		rt_fatal(RT_EX_SOFTWARE, "cannot encode the attest request: %s", casmsg_strerror(r));
	struct http_resp hr;
	int k = post(a, c, "/v1/enclave/attest", req, rl, 1, &hr);
	rt_free(req);
	if (k != A_OK)
		return k;
	struct casmsg_response resp;
	if ((r = casmsg_decode_response(hr.body, hr.len, &resp))) {
		http_resp_free(&hr);
		return fail(a, A_FATAL, RT_EX_PROTOCOL, "the CAS at %s sent an invalid attest response: %s",
			    t->cas_addr, casmsg_strerror(r));
	}
	char reason[CASMSG_MAX_REASON + 1];
	if (resp.status != CASMSG_RELEASED) {
		printable((const uint8_t *)resp.reason, resp.reason_len, reason, sizeof reason);
		int st = resp.status, sim = resp.simulation;
		http_resp_free(&hr);
		if (st == CASMSG_TRY_LATER)
			return fail(a, A_RETRY, RT_EX_UNAVAILABLE, "the CAS at %s asks to try again later: %s",
				    t->cas_addr, reason);
		return fail(a, A_FATAL, RT_EX_CAS_REFUSED,
			    "the CAS at %s refused to release the secrets of policy %s%s: %s", t->cas_addr, t->policy,
			    sim ? " to this simulation-mode enclave" : "", reason);
	}
	if (!resp.simulation && t->quotes == &quote_simulation) {
		http_resp_free(&hr);
		return fail(a, A_FATAL, RT_EX_PROTOCOL,
			    "the CAS at %s says it verified a hardware quote, but this enclave sent a simulation quote",
			    t->cas_addr);
	}
	s->plain_len = resp.sealed_len - CASMSG_TAG;
	s->plain = rt_malloc(s->plain_len ? s->plain_len : 1);
	if (!s->plain)
		rt_fatal(RT_EX_SOFTWARE, "out of memory");
	r = casseal_open(s->priv, resp.cas_key, s->nonce, resp.policy_hash, resp.sealed, resp.sealed_len, s->plain);
	rt_memzero(s->priv, sizeof s->priv); /* used once */
	http_resp_free(&hr);
	if (r)
		return fail(a, A_FATAL, RT_EX_PROTOCOL,
			    "the secrets the CAS at %s released do not open with this enclave's session key (%s)",
			    t->cas_addr, r == -1 ? "its ephemeral key is not a P-256 point" : "authentication failed");
	if ((r = casmsg_decode_secrets(s->plain, s->plain_len, out)))
		return fail(a, A_FATAL, RT_EX_PROTOCOL,
			    "the secrets the CAS at %s released are not a valid message: %s", t->cas_addr,
			    casmsg_strerror(r));
	return A_OK;
}

void attest_obtain(const struct attest_target *t, struct casmsg_secrets *out)
{
	struct attempt a = {.t = t};
	if (netaddr_parse(t->cas_addr, strlen(t->cas_addr), &a.addr))
		rt_fatal(RT_EX_CONFIG, "config.bin: CAS address %s is not HOST:PORT", t->cas_addr);
	a.qctx = t->quotes->prepare();
	unsigned wait = ATTEST_BACKOFF_MS;
	for (int i = 1;; i++) {
		/* challenge and attest on one connection: a CAS keeps its nonces
		 * in the memory of the replica that issued them */
		struct session s = {0};
		struct tls_conn *c = NULL;
		int k = open_cas(&a, &c);
		if (k == A_OK)
			k = challenge(&a, c, &s);
		if (k == A_OK)
			k = attest(&a, c, &s, out);
		tls_close(c);
		session_wipe(&s);
		if (k == A_OK)
			break;
		if (k == A_FATAL) {
			t->quotes->finish(a.qctx);
			rt_fatal(a.code, "%s", a.msg);
		}
		if (i == ATTEST_ATTEMPTS) {
			t->quotes->finish(a.qctx);
			rt_fatal(RT_EX_UNAVAILABLE, "no secrets from the CAS after %d attempts: %s", i, a.msg);
		}
		rt_eprintf("scone-run: %s; attempt %d of %d, next in %u ms\n", a.msg, i, ATTEST_ATTEMPTS, wait);
		casnet_sleep_ms(wait);
		wait *= 2;
	}
	t->quotes->finish(a.qctx);
}
