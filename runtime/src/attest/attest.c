/* The CAS client of the attest subsystem (attest.h). */
#include "attest.h"
#include "casmsg.h"
#include "casconn.h"
#include "casseal.h"
#include "http.h"
#include "net.h"
#include "quote.h"
#include "tls.h"
#include "random.h"
#include "rt_alloc.h"
#include "rtstring.h"
#include "rtutil.h"
#include <bearssl.h>

#define CLIENT_DESC "scone-run (CAS protocol v1)"

struct attempt {
	const struct attest_target *t;
	struct cas_conn conn;
	void *qctx;
};

#define fail(a, kind, code, ...) casconn_fail(&(a)->conn, kind, code, __VA_ARGS__)
#define post(a, path, body, len, last, resp) casconn_post(&(a)->conn, path, body, len, last, resp)
enum { A_OK = CASCONN_OK, A_RETRY = CASCONN_RETRY, A_FATAL = CASCONN_FATAL };

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

static int challenge(struct attempt *a, struct session *s)
{
	struct http_resp r;
	int k = post(a, "/v1/enclave/challenge", NULL, 0, 0, &r);
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

static int attest(struct attempt *a, struct session *s, struct casmsg_secrets *out, struct attest_session *sess)
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
	int k = post(a, "/v1/enclave/attest", req, rl, 1, &hr);
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
		casconn_printable((const uint8_t *)resp.reason, resp.reason_len, reason, sizeof reason);
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
	uint8_t cas_key[CASMSG_POINT];
	memcpy(cas_key, resp.cas_key, sizeof cas_key);
	r = casseal_open(s->priv, cas_key, s->nonce, resp.policy_hash, resp.sealed, resp.sealed_len, s->plain);
	http_resp_free(&hr);
	if (r) {
		rt_memzero(s->priv, sizeof s->priv);
		return fail(a, A_FATAL, RT_EX_PROTOCOL,
			    "the secrets the CAS at %s released do not open with this enclave's session key (%s)",
			    t->cas_addr, r == -1 ? "its ephemeral key is not a P-256 point" : "authentication failed");
	}
	if ((r = casmsg_decode_secrets(s->plain, s->plain_len, out))) {
		rt_memzero(s->priv, sizeof s->priv);
		return fail(a, A_FATAL, RT_EX_PROTOCOL,
			    "the secrets the CAS at %s released are not a valid message: %s", t->cas_addr,
			    casmsg_strerror(r));
	}
	/* the volume state's record key (the same exchange, another label): a
	 * second ECDH, only when the policy tracks volumes */
	if (out->nfresh) {
		if (casseal_record_key(s->priv, cas_key, s->nonce, sess->record_key))
			rt_fatal(RT_EX_SOFTWARE, "cannot derive the volume record key");
		br_sha256_context h;
		br_sha256_init(&h);
		br_sha256_update(&h, s->pub, sizeof s->pub);
		br_sha256_out(&h, sess->id);
	}
	rt_memzero(s->priv, sizeof s->priv); /* used once */
	return A_OK;
}

void attest_obtain(const struct attest_target *t, struct casmsg_secrets *out, struct attest_session *sess)
{
	struct attempt a = {.t = t};
	if (casconn_init(&a.conn, t->cas_addr, t->cas_id))
		rt_fatal(RT_EX_CONFIG, "config.bin: CAS address %s is not HOST:PORT", t->cas_addr);
	a.qctx = t->quotes->prepare();
	unsigned wait = ATTEST_BACKOFF_MS;
	for (int i = 1;; i++) {
		/* challenge and attest on one connection: a CAS keeps its nonces
		 * in the memory of the replica that issued them */
		struct session s = {0};
		int k = casconn_open(&a.conn);
		if (k == A_OK)
			k = challenge(&a, &s);
		if (k == A_OK)
			k = attest(&a, &s, out, sess);
		casconn_close(&a.conn);
		session_wipe(&s);
		if (k == A_OK)
			break;
		if (k == A_FATAL) {
			t->quotes->finish(a.qctx);
			rt_fatal(a.conn.code, "%s", a.conn.msg);
		}
		if (i == ATTEST_ATTEMPTS) {
			t->quotes->finish(a.qctx);
			rt_fatal(RT_EX_UNAVAILABLE, "no secrets from the CAS after %d attempts: %s", i, a.conn.msg);
		}
		rt_eprintf("scone-run: %s; attempt %d of %d, next in %u ms\n", a.conn.msg, i, ATTEST_ATTEMPTS, wait);
		casnet_sleep_ms(wait);
		wait *= 2;
	}
	t->quotes->finish(a.qctx);
	/* the session outlives the attestation only where the policy tracks
	 * volumes (docs/cas.md, "Volume state") */
	sess->valid = out->nfresh > 0;
	if (!sess->valid)
		rt_memzero(sess, sizeof *sess);
}
