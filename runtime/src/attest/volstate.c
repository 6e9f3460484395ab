/* The volume state client (volstate.h). */
#include "volstate.h"
#include "casconn.h"
#include "casmsg.h"
#include "http.h"
#include "net.h"
#include "transport.h"
#include "rt_alloc.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

/* Where the connection's socket goes: above the volume shield's
 * directories (runtime/src/vol), out of the application's way. */
#define VOLSTATE_FD_MIN 1008

struct acked {
	const char *path;
	uint64_t v; /* the highest version the CAS acknowledged */
};

struct volstate {
	struct vol_freshness f; /* first: the ops' ctx */
	struct cas_conn conn;
	uint8_t session[32], key[32];
	volatile int lock;
	struct acked *acked;
};

static void vlock(struct volstate *c)
{
	while (__atomic_exchange_n(&c->lock, 1, __ATOMIC_ACQUIRE))
		host_syscall(__NR_sched_yield, 0, 0, 0, 0, 0, 0);
}

static void vunlock(struct volstate *c) { __atomic_store_n(&c->lock, 0, __ATOMIC_RELEASE); }

static struct acked *acked_of(struct volstate *c, const char *path)
{
	for (size_t i = 0; i < c->f.nvols; i++)
		if (!rt_strcmp(c->acked[i].path, path))
			return &c->acked[i];
	return NULL;
}

static int failed(struct volf_error *err, int code, const char *msg)
{
	err->code = code;
	rt_snprintf(err->msg, sizeof err->msg, "%s", msg);
	return VOLF_FAILED;
}

/* One request with retries: VOLF_OK with the authenticated response in
 * *out (its views point into *hr: http_resp_free it), else VOLF_FAILED. */
static int exchange(struct volstate *c, const char *path, uint32_t op, uint64_t v, const uint8_t root[32],
		    struct casmsg_volume_response *out, struct http_resp *hr, struct volf_error *err)
{
	uint8_t *req, mac[32];
	size_t rl;
	int e = casmsg_volume_request(c->session, path, op, v, root, c->key, mac, &req, &rl);
	if (e == CASMSG_ENOMEM)
		rt_fatal(RT_EX_SOFTWARE, "out of memory");
	if (e)
		return failed(err, RT_EX_SOFTWARE, "cannot encode the volume request");
	unsigned wait = ATTEST_BACKOFF_MS;
	int r = VOLF_FAILED;
	for (int i = 1; i <= ATTEST_ATTEMPTS; i++) {
		if (i > 1) {
			casnet_sleep_ms(wait);
			wait *= 2;
		}
		int k = c->conn.tls ? CASCONN_OK : casconn_open(&c->conn);
		if (k == CASCONN_OK)
			k = casconn_post(&c->conn, "/v1/enclave/volume", req, rl, 0, hr);
		if (k == CASCONN_RETRY) {
			casconn_close(&c->conn);
			failed(err, c->conn.code, c->conn.msg);
			continue;
		}
		if (k == CASCONN_FATAL) {
			casconn_close(&c->conn);
			failed(err, c->conn.code, c->conn.msg);
			break;
		}
		e = casmsg_decode_volume_response(hr->body, hr->len, c->key, mac, out);
		if (e) {
			http_resp_free(hr);
			casconn_close(&c->conn);
			rt_snprintf(err->msg, sizeof err->msg, "the CAS at %s sent an invalid volume response: %s",
				    c->conn.addr_text, casmsg_strerror(e));
			err->code = RT_EX_PROTOCOL;
			break;
		}
		char reason[CASMSG_MAX_REASON + 1] = "";
		if (out->reason)
			casconn_printable((const uint8_t *)out->reason, out->reason_len, reason, sizeof reason);
		if (!out->authentic) {
			/* only a refusal may come unsigned (an unknown session has no key) */
			int refused = out->status == CASMSG_VOL_REFUSED;
			rt_snprintf(err->msg, sizeof err->msg,
				    refused ? "the CAS at %s refused the volume request for %s: %s" :
					      "the CAS at %s answered the volume request for %s without a valid MAC "
					      "(%s): not the CAS this session attested to, or a modified answer",
				    c->conn.addr_text, path, refused ? reason : "ignored");
			err->code = refused ? RT_EX_CAS_REFUSED : RT_EX_PROTOCOL;
			http_resp_free(hr);
			break;
		}
		if (out->status == CASMSG_VOL_RETRY) {
			rt_snprintf(err->msg, sizeof err->msg, "the CAS at %s asks to try again later: %s",
				    c->conn.addr_text, reason);
			err->code = RT_EX_UNAVAILABLE;
			http_resp_free(hr);
			continue;
		}
		if (out->status == CASMSG_VOL_REFUSED) {
			rt_snprintf(err->msg, sizeof err->msg, "the CAS at %s refused the volume request for %s: %s",
				    c->conn.addr_text, path, reason);
			err->code = RT_EX_CAS_REFUSED;
			http_resp_free(hr);
			break;
		}
		r = VOLF_OK;
		break;
	}
	rt_memzero(req, rl);
	rt_free(req);
	return r;
}

static int get(void *ctx, const char *path, uint64_t *v, uint8_t root[32], struct volf_error *err)
{
	struct volstate *c = ctx;
	static const uint8_t zero[32];
	struct casmsg_volume_response resp;
	struct http_resp hr;
	vlock(c);
	int r = exchange(c, path, CASMSG_VOL_GET, 0, zero, &resp, &hr, err);
	if (r == VOLF_OK) {
		if (resp.status != CASMSG_VOL_OK)
			r = failed(err, RT_EX_PROTOCOL, "the CAS answered a volume get with a rollback");
		*v = resp.version;
		memcpy(root, resp.root, 32);
		struct acked *a = acked_of(c, path);
		if (a && resp.version > a->v)
			a->v = resp.version;
		http_resp_free(&hr);
	}
	vunlock(c);
	return r;
}

static int record(void *ctx, const char *path, int reinit, uint64_t v, const uint8_t root[32], uint64_t *rv,
		  uint8_t rroot[32], struct volf_error *err)
{
	struct volstate *c = ctx;
	vlock(c);
	struct acked *a = acked_of(c, path);
	if (!reinit && a && v < a->v) { /* a later state is recorded already */
		vunlock(c);
		return VOLF_OK;
	}
	struct casmsg_volume_response resp;
	struct http_resp hr;
	int r = exchange(c, path, reinit ? CASMSG_VOL_REINIT : CASMSG_VOL_RECORD, v, root, &resp, &hr, err);
	if (r == VOLF_OK) {
		*rv = resp.version;
		memcpy(rroot, resp.root, 32);
		if (resp.status == CASMSG_VOL_ROLLBACK)
			r = VOLF_ROLLBACK;
		else if (a)
			a->v = resp.version;
		http_resp_free(&hr);
	}
	vunlock(c);
	return r;
}

/* The child's copy of the TLS connection is the parent's session state:
 * closing it sends nothing (tls_close: no close_notify), and frees the
 * child's copy. A lock another thread of the parent held is not the
 * child's. */
static void forked(void *ctx)
{
	struct volstate *c = ctx;
	c->lock = 0;
	casconn_close(&c->conn);
}

static const struct vol_freshness_ops volstate_ops = {.get = get, .record = record, .forked = forked};

const struct vol_freshness *volstate_new(const struct attest_target *t, const struct attest_session *sess,
					 const struct casmsg_volume_fresh *vols, size_t nvols)
{
	struct volstate *c = rt_calloc(1, sizeof *c);
	struct acked *a = rt_calloc(nvols ? nvols : 1, sizeof *a);
	if (!c || !a) {
		rt_free(c);
		rt_free(a);
		return NULL;
	}
	if (casconn_init(&c->conn, t->cas_addr, t->cas_id))
		rt_fatal(RT_EX_CONFIG, "config.bin: CAS address %s is not HOST:PORT", t->cas_addr);
	c->conn.fd_min = VOLSTATE_FD_MIN;
	memcpy(c->session, sess->id, 32);
	memcpy(c->key, sess->record_key, 32);
	for (size_t i = 0; i < nvols; i++)
		a[i].path = vols[i].path;
	c->acked = a;
	c->f = (struct vol_freshness){.ops = &volstate_ops, .ctx = c, .vols = vols, .nvols = nvols};
	return &c->f;
}
