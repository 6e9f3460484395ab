/* Network shield: poll, ppoll, select and pselect6 over sets that hold
 * wrapped descriptors (net.h, docs/net-shield.md "Readiness").
 *
 * A wrapped descriptor's readiness is its connection's (tlsconn_events):
 * decrypted data, the end of the stream, a failure, room for plaintext
 * after the handshake. The host is asked, for that descriptor, only what
 * the connection needs to make progress (ciphertext to read, records to
 * send); when the host reports it, the records move and the readiness is
 * computed again. A wake-up that gives the application nothing (half a
 * record, a handshake message) waits again with what is left of the
 * timeout, so the application never sees a descriptor ready whose read
 * would block. Other descriptors of the set are the host's, unchanged. */
#include "net.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "rt_alloc.h"
#include "sys.h"

#define POLLIN_ 0x001
#define POLLPRI_ 0x002
#define POLLOUT_ 0x004
#define POLLERR_ 0x008
#define POLLHUP_ 0x010
#define POLLNVAL_ 0x020
#define POLLRDNORM_ 0x040
#define POLLWRNORM_ 0x100
#define POLLRDHUP_ 0x2000

struct kpollfd {
	int fd;
	short events, revents;
};

struct kts {
	long sec, nsec;
};

/* The application's view of c for the events it asked (always ERR, HUP). */
static short app_revents(struct net_conn *c, short events)
{
	if (c->connecting)
		return c->t.err ? (short)(POLLERR_ | POLLHUP_ | (events & (POLLIN_ | POLLOUT_))) : 0;
	unsigned ev = tlsconn_events(&c->t);
	unsigned want = (unsigned)(unsigned short)events | POLLERR_ | POLLHUP_;
	unsigned r = ev & want;
	if ((ev & TLSCONN_IN) && (events & POLLRDNORM_))
		r |= POLLRDNORM_;
	if ((ev & TLSCONN_OUT) && (events & POLLWRNORM_))
		r |= POLLWRNORM_;
	return (short)r;
}

/* What the host must report for c to make progress for the application. */
static short host_events(struct net_conn *c, short events)
{
	if (c->connecting)
		return POLLOUT_;
	unsigned need = tlsconn_needs(&c->t);
	short h = 0;
	if ((need & TLSCONN_IN) && ((events & (POLLIN_ | POLLRDNORM_ | POLLRDHUP_)) || !c->t.hs_done || c->t.wr_shut))
		h |= POLLIN_;
	if (need & TLSCONN_OUT)
		h |= POLLOUT_;
	return h;
}

static long poll_set(struct kpollfd *fds, unsigned long n, const struct kts *timeout, const void *mask, long masksz,
		     int *handled)
{
	*handled = 0;
	if (n > (1u << 20))
		return -EINVAL;
	if (n && !rt_user_ok(fds, n * sizeof *fds))
		return -EFAULT;
	int any = 0;
	for (unsigned long i = 0; i < n && !any; i++)
		any = net_fd_known(fds[i].fd);
	if (!any)
		return 0;
	struct net_conn **conn = rt_calloc(n, sizeof *conn);
	struct kpollfd *h = rt_malloc(n * sizeof *h);
	if (!conn || !h) {
		rt_free(conn);
		rt_free(h);
		return -ENOMEM;
	}
	any = 0;
	for (unsigned long i = 0; i < n; i++)
		if ((conn[i] = net_lookup(fds[i].fd)))
			any = 1;
	if (!any) { /* only listeners: the host's */
		rt_free(conn);
		rt_free(h);
		return 0;
	}
	*handled = 1;
	uint64_t end = 0;
	if (timeout)
		end = net_monotonic() + (uint64_t)timeout->sec * 1000000000ULL + (uint64_t)timeout->nsec;
	long r;
	for (;;) {
		uint64_t now = net_monotonic(), hs = 0;
		long ready = 0;
		for (unsigned long i = 0; i < n; i++) {
			struct net_conn *c = conn[i];
			h[i] = fds[i];
			h[i].revents = 0;
			if (!c)
				continue;
			net_conn_lock(c);
			net_check_deadline(c, fds[i].fd, now);
			if (!c->connecting && !c->t.err)
				tlsconn_pump(&c->t, &net_io, net_ctx(fds[i].fd), c->t.sock_rd);
			fds[i].revents = app_revents(c, fds[i].events);
			h[i].events = host_events(c, fds[i].events);
			if (!c->t.hs_done && c->deadline && !c->t.err && (!hs || c->deadline < hs))
				hs = c->deadline;
			net_conn_unlock(c);
			ready += fds[i].revents != 0;
		}
		struct kts ts, *tsp = NULL;
		uint64_t until = ready ? now : end;
		if (hs && (!until || hs < until))
			until = hs;
		if (until) {
			uint64_t left = until > now ? until - now : 0;
			ts.sec = (long)(left / 1000000000ULL);
			ts.nsec = (long)(left % 1000000000ULL);
			tsp = &ts;
		}
		r = host_syscall(__NR_ppoll, (long)h, (long)n, (long)tsp, (long)mask, masksz, 0);
		if (r < 0)
			break;
		r = 0;
		for (unsigned long i = 0; i < n; i++) {
			struct net_conn *c = conn[i];
			if (!c) {
				fds[i].revents = h[i].revents;
			} else if (h[i].revents) {
				net_conn_lock(c);
				net_conn_host_ready(c, fds[i].fd, (unsigned)(unsigned short)h[i].revents);
				fds[i].revents = app_revents(c, fds[i].events);
				net_conn_unlock(c);
			}
			r += fds[i].revents != 0;
		}
		if (r || (timeout && net_monotonic() >= end))
			break;
	}
	for (unsigned long i = 0; i < n; i++)
		if (conn[i])
			net_conn_put(conn[i]);
	rt_free(conn);
	rt_free(h);
	return r;
}

int net_sys_poll(const struct sys_call *sc, long *ret)
{
	struct kts t, *tp = NULL;
	const void *mask = NULL;
	long masksz = 8;
	net_flush_held();
	if (sc->nr == __NR_poll) {
		if (sc->a[2] >= 0) {
			t.sec = sc->a[2] / 1000;
			t.nsec = (sc->a[2] % 1000) * 1000000;
			tp = &t;
		}
	} else {
		if (sc->a[2]) {
			if (!rt_user_ok((void *)sc->a[2], sizeof t))
				return shield_done(ret, -EFAULT);
			t = *(const struct kts *)sc->a[2];
			if (t.sec < 0 || t.nsec < 0 || t.nsec >= 1000000000)
				return shield_done(ret, -EINVAL);
			tp = &t;
		}
		mask = (const void *)sc->a[3];
		masksz = sc->a[4];
	}
	int handled;
	long r = poll_set((struct kpollfd *)sc->a[0], (unsigned long)sc->a[1], tp, mask, masksz, &handled);
	if (!handled && r == 0)
		return SHIELD_PASS;
	return shield_done(ret, r);
}

/* select and pselect6: the sets as a poll over the descriptors named. */
int net_sys_select(const struct sys_call *sc, long *ret)
{
	long nfds = sc->a[0];
	unsigned long *set[3] = {(unsigned long *)sc->a[1], (unsigned long *)sc->a[2], (unsigned long *)sc->a[3]};
	if (nfds < 0 || nfds > (1 << 20))
		return SHIELD_PASS; /* the host's EINVAL */
	net_flush_held();
	size_t words = ((size_t)nfds + 63) / 64;
	int any = 0;
	for (int k = 0; k < 3; k++) {
		if (set[k] && words && !rt_user_ok(set[k], words * 8))
			return shield_done(ret, -EFAULT);
		for (long fd = 0; set[k] && fd < nfds && !any; fd++)
			if ((set[k][fd / 64] >> (fd % 64) & 1) && net_fd_known((int)fd))
				any = 1;
	}
	if (!any)
		return SHIELD_PASS;
	struct kts t, *tp = NULL;
	const void *mask = NULL;
	long masksz = 8;
	if (sc->nr == __NR_select) {
		const struct {
			long sec, usec;
		} *tv = (const void *)sc->a[4];
		if (tv) {
			if (!rt_user_ok(tv, sizeof *tv))
				return shield_done(ret, -EFAULT);
			if (tv->sec < 0 || tv->usec < 0)
				return shield_done(ret, -EINVAL);
			t.sec = tv->sec + tv->usec / 1000000;
			t.nsec = (tv->usec % 1000000) * 1000;
			tp = &t;
		}
	} else {
		if (sc->a[4]) {
			if (!rt_user_ok((void *)sc->a[4], sizeof t))
				return shield_done(ret, -EFAULT);
			t = *(const struct kts *)sc->a[4];
			tp = &t;
		}
		const struct {
			const void *ss;
			long len;
		} *sm = (const void *)sc->a[5];
		if (sm && rt_user_ok(sm, sizeof *sm)) {
			mask = sm->ss;
			masksz = sm->len;
		}
	}
	size_t n = 0;
	for (long fd = 0; fd < nfds; fd++)
		for (int k = 0; k < 3; k++)
			if (set[k] && (set[k][fd / 64] >> (fd % 64) & 1)) {
				n++;
				break;
			}
	struct kpollfd *p = rt_calloc(n ? n : 1, sizeof *p);
	if (!p)
		return shield_done(ret, -ENOMEM);
	size_t i = 0;
	for (long fd = 0; fd < nfds; fd++) {
		short ev = 0;
		if (set[0] && (set[0][fd / 64] >> (fd % 64) & 1))
			ev |= POLLIN_;
		if (set[1] && (set[1][fd / 64] >> (fd % 64) & 1))
			ev |= POLLOUT_;
		if (set[2] && (set[2][fd / 64] >> (fd % 64) & 1))
			ev |= POLLPRI_;
		if (ev) {
			p[i].fd = (int)fd;
			p[i++].events = ev;
		}
	}
	int handled;
	long r = poll_set(p, n, tp, mask, masksz, &handled);
	if (!handled && r == 0) { /* no connection among them: the host's */
		rt_free(p);
		return SHIELD_PASS;
	}
	if (r >= 0) {
		for (int k = 0; k < 3; k++)
			if (set[k])
				memset(set[k], 0, words * 8);
		r = 0;
		for (i = 0; i < n; i++) {
			int fd = p[i].fd;
			short rv = p[i].revents;
			if (rv & POLLNVAL_) {
				r = -EBADF;
				break;
			}
			int hits[3] = {(p[i].events & POLLIN_) && (rv & (POLLIN_ | POLLHUP_ | POLLERR_)),
				       (p[i].events & POLLOUT_) && (rv & (POLLOUT_ | POLLERR_)),
				       (p[i].events & POLLPRI_) && (rv & POLLPRI_)};
			for (int k = 0; k < 3; k++)
				if (hits[k]) {
					set[k][fd / 64] |= 1UL << (fd % 64);
					r++;
				}
		}
	}
	rt_free(p);
	return shield_done(ret, r);
}
