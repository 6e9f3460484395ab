/* Network shield: epoll sets that hold wrapped descriptors (net.h,
 * docs/net-shield.md "Readiness").
 *
 * The host's epoll instance still holds every descriptor, but a wrapped one
 * is registered edge-triggered for EPOLLIN|EPOLLOUT|EPOLLRDHUP with a token
 * of ours as its data: a host event only says "the socket changed", the
 * shield then moves the connection's records and decides what the
 * application sees, from the connection's readiness (tlsconn_events) and
 * the application's registration (events, data, EPOLLET, EPOLLONESHOT),
 * which the shield keeps:
 *  - level-triggered: reported while the connection is ready for what was
 *    asked (decrypted data, room for plaintext, the end, a failure), with
 *    or without a host event (a record decrypted earlier, a second record
 *    staged with the first);
 *  - edge-triggered: reported when the connection gained a readiness bit
 *    (its gen changed) since the registration was last reported: new
 *    plaintext, the handshake completed (writable), records flushed after
 *    the socket was full, the end or a failure;
 *  - EPOLLONESHOT: disabled after one report until EPOLL_CTL_MOD.
 * Registrations that may have something to report without a host event are
 * on their set's ready list: after ADD and MOD (the kernel reports the
 * current state), after a read or write that changed the connection's
 * readiness (net_epoll_touch), and level-triggered ones while ready.
 * Wake-ups that give the application nothing (half a record, a handshake
 * message) are dropped and the wait goes on with the time left. */
#include "net.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "rt_alloc.h"
#include "sys.h"

#define EPOLLIN_ 0x001u
#define EPOLLPRI_ 0x002u
#define EPOLLOUT_ 0x004u
#define EPOLLERR_ 0x008u
#define EPOLLHUP_ 0x010u
#define EPOLLRDNORM_ 0x040u
#define EPOLLWRNORM_ 0x100u
#define EPOLLRDHUP_ 0x2000u
#define EPOLLEXCLUSIVE_ (1u << 28)
#define EPOLLWAKEUP_ (1u << 29)
#define EPOLLONESHOT_ (1u << 30)
#define EPOLLET_ (1u << 31)
#define CTL_ADD 1
#define CTL_DEL 2
#define CTL_MOD 3

/* Host data of a wrapped registration: not a canonical address, so not a
 * pointer an application would register. */
#define TOKEN_MAGIC 0xfe5c0e0000000000ULL
#define TOKEN_MASK 0xffffff0000000000ULL

struct epoll_event_ {
	uint32_t events;
	uint64_t data;
} __attribute__((packed));

struct epi {
	int epfd, fd;
	uint32_t events; /* the application's */
	uint64_t data;	 /* the application's */
	uint32_t seen_gen;
	uint32_t round; /* reported in this wait already */
	uint8_t used, disabled, on_ready;
	uint8_t shadow;	     /* a socket not wrapped (yet): the host holds the registration as it is */
	uint32_t next_fd;    /* index + 1 */
	uint32_t next_ready; /* index + 1 */
};

struct epset {
	int epfd;
	uint32_t ready; /* head of the ready list, index + 1 */
	uint32_t nitems;
};

static struct {
	volatile int lock;
	struct epi *it;
	uint32_t nit, free_head;
	uint32_t *by_fd; /* fd -> first registration, index + 1 */
	size_t nfd;
	struct epset *sets;
	size_t nsets;
	uint32_t round;
} ep;

static void lk(void)
{
	while (__atomic_exchange_n(&ep.lock, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}
static void unlk(void) { __atomic_store_n(&ep.lock, 0, __ATOMIC_RELEASE); }

static struct epset *set_of(int epfd)
{
	for (size_t i = 0; i < ep.nsets; i++)
		if (ep.sets[i].epfd == epfd)
			return &ep.sets[i];
	return NULL;
}

static struct epset *set_add(int epfd)
{
	struct epset *s = set_of(epfd);
	if (s)
		return s;
	struct epset *n = rt_calloc(ep.nsets + 1, sizeof *n);
	if (!n)
		return NULL;
	if (ep.nsets)
		memcpy(n, ep.sets, ep.nsets * sizeof *n);
	rt_free(ep.sets);
	ep.sets = n;
	s = &ep.sets[ep.nsets++];
	s->epfd = epfd;
	return s;
}

static struct epi *find(int epfd, int fd)
{
	if (fd < 0 || (size_t)fd >= ep.nfd)
		return NULL;
	for (uint32_t i = ep.by_fd[fd]; i; i = ep.it[i - 1].next_fd)
		if (ep.it[i - 1].epfd == epfd)
			return &ep.it[i - 1];
	return NULL;
}

static uint32_t idx(const struct epi *e) { return (uint32_t)(e - ep.it); }

static void ready_push(struct epset *s, struct epi *e)
{
	if (e->on_ready)
		return;
	e->on_ready = 1;
	e->next_ready = s->ready;
	s->ready = idx(e) + 1;
}

static void ready_remove(struct epset *s, struct epi *e)
{
	if (!e->on_ready)
		return;
	for (uint32_t *p = &s->ready; *p; p = &ep.it[*p - 1].next_ready)
		if (*p == idx(e) + 1) {
			*p = e->next_ready;
			break;
		}
	e->on_ready = 0;
}

static struct epi *item_new(int epfd, int fd)
{
	if ((size_t)fd >= ep.nfd) {
		size_t n = ep.nfd ? ep.nfd : 1024;
		while (n <= (size_t)fd)
			n *= 2;
		uint32_t *b = rt_calloc(n, sizeof *b);
		if (!b)
			return NULL;
		if (ep.nfd)
			memcpy(b, ep.by_fd, ep.nfd * sizeof *b);
		rt_free(ep.by_fd);
		ep.by_fd = b;
		ep.nfd = n;
	}
	if (!ep.free_head) {
		uint32_t n = ep.nit ? ep.nit * 2 : 256;
		struct epi *it = rt_calloc(n, sizeof *it);
		if (!it)
			return NULL;
		if (ep.nit)
			memcpy(it, ep.it, ep.nit * sizeof *it);
		rt_free(ep.it);
		ep.it = it;
		for (uint32_t i = n; i-- > ep.nit;) {
			ep.it[i].next_fd = ep.free_head;
			ep.free_head = i + 1;
		}
		ep.nit = n;
	}
	struct epi *e = &ep.it[ep.free_head - 1];
	ep.free_head = e->next_fd;
	memset(e, 0, sizeof *e);
	e->used = 1;
	e->epfd = epfd;
	e->fd = fd;
	e->next_fd = ep.by_fd[fd];
	ep.by_fd[fd] = idx(e) + 1;
	return e;
}

static void item_free(struct epi *e)
{
	struct epset *s = set_of(e->epfd);
	if (s && !e->shadow) {
		ready_remove(s, e);
		s->nitems--;
	}
	for (uint32_t *p = &ep.by_fd[e->fd]; *p; p = &ep.it[*p - 1].next_fd)
		if (*p == idx(e) + 1) {
			*p = e->next_fd;
			break;
		}
	e->used = 0;
	e->next_fd = ep.free_head;
	ep.free_head = idx(e) + 1;
}

/* What e reports for c now: 0 or the events. Connection locked. */
static uint32_t report(struct epi *e, struct net_conn *c)
{
	if (e->disabled)
		return 0;
	uint32_t ev;
	if (c->connecting)
		ev = c->t.err ? EPOLLERR_ | EPOLLHUP_ | EPOLLIN_ | EPOLLOUT_ : 0;
	else
		ev = tlsconn_events(&c->t);
	uint32_t want = (e->events & (EPOLLIN_ | EPOLLOUT_ | EPOLLRDHUP_ | EPOLLPRI_)) | EPOLLERR_ | EPOLLHUP_;
	uint32_t r = ev & want;
	if ((ev & EPOLLIN_) && (e->events & EPOLLRDNORM_))
		r |= EPOLLRDNORM_;
	if ((ev & EPOLLOUT_) && (e->events & EPOLLWRNORM_))
		r |= EPOLLWRNORM_;
	if (!r)
		return 0;
	if ((e->events & EPOLLET_) && e->seen_gen == c->t.gen)
		return 0;
	return r;
}

/* e was reported. */
static void reported(struct epi *e, struct net_conn *c)
{
	e->seen_gen = c->t.gen;
	e->round = ep.round;
	if (e->events & EPOLLONESHOT_)
		e->disabled = 1;
}

/* A registration of a descriptor that is not wrapped, kept when the
 * application may still connect it to a --tls-connect destination
 * (registered before connect, as event loops do): at that connect it
 * becomes a wrapped registration (net_epoll_adopt). The host serves the
 * call as it is. */
static void shadow_ctl(int epfd, int op, int fd, const struct epoll_event_ *uev)
{
	if (!net_g.ndests || fd < 0 || (op != CTL_DEL && !rt_user_ok(uev, sizeof *uev)))
		return;
	lk();
	struct epi *e = find(epfd, fd);
	if (op == CTL_ADD && !e && set_add(epfd))
		e = item_new(epfd, fd);
	if (e && e->shadow == 0 && op == CTL_ADD)
		e->shadow = 1;
	if (e && e->shadow) {
		if (op == CTL_DEL) {
			item_free(e);
		} else if (op == CTL_ADD || op == CTL_MOD) {
			e->events = uev->events;
			e->data = uev->data;
		}
	}
	unlk();
}

void net_epoll_adopt(int fd, struct net_conn *c)
{
	if (!ep.nsets || fd < 0)
		return;
	lk();
	for (uint32_t i = (size_t)fd < ep.nfd ? ep.by_fd[fd] : 0; i; i = ep.it[i - 1].next_fd) {
		struct epi *e = &ep.it[i - 1];
		struct epset *s = set_of(e->epfd);
		if (!e->shadow || !s)
			continue;
		struct epoll_event_ hev = {EPOLLIN_ | EPOLLOUT_ | EPOLLRDHUP_ | EPOLLET_, TOKEN_MAGIC | idx(e)};
		if (host_syscall(__NR_epoll_ctl, e->epfd, CTL_MOD, fd, (long)&hev, 0, 0) < 0)
			continue;
		e->shadow = 0;
		e->seen_gen = c->t.gen - 1;
		s->nitems++;
		ready_push(s, e);
	}
	unlk();
}

int net_sys_epoll_ctl(const struct sys_call *sc, long *ret)
{
	int epfd = (int)sc->a[0], op = (int)sc->a[1], fd = (int)sc->a[2];
	struct net_conn *c = net_lookup(fd);
	if (!c) {
		shadow_ctl(epfd, op, fd, (const struct epoll_event_ *)sc->a[3]);
		return SHIELD_PASS;
	}
	const struct epoll_event_ *uev = (const struct epoll_event_ *)sc->a[3];
	long r;
	if (op != CTL_DEL && !rt_user_ok(uev, sizeof *uev)) {
		net_conn_put(c);
		return shield_done(ret, -EFAULT);
	}
	lk();
	struct epi *e = find(epfd, fd);
	if (op == CTL_ADD) {
		if (e) {
			r = -EEXIST;
		} else {
			struct epset *s = set_add(epfd);
			e = s ? item_new(epfd, fd) : NULL;
			if (!e) {
				r = -ENOMEM;
			} else {
				struct epoll_event_ hev = {EPOLLIN_ | EPOLLOUT_ | EPOLLRDHUP_ | EPOLLET_,
							   TOKEN_MAGIC | idx(e)};
				r = host_syscall(__NR_epoll_ctl, epfd, CTL_ADD, fd, (long)&hev, 0, 0);
				if (r < 0) {
					e->epfd = -1; /* not in a set */
					item_free(e);
				} else {
					s->nitems++;
					e->events = uev->events;
					e->data = uev->data;
					e->seen_gen = c->t.gen - 1; /* the current state is reported once */
					ready_push(s, e);
				}
			}
		}
	} else if (op == CTL_MOD) {
		if (!e) {
			r = -ENOENT;
		} else {
			e->events = uev->events;
			e->data = uev->data;
			e->disabled = 0;
			e->seen_gen = c->t.gen - 1;
			struct epset *s = set_of(epfd);
			if (s)
				ready_push(s, e);
			r = 0;
		}
	} else if (op == CTL_DEL) {
		r = host_syscall(__NR_epoll_ctl, epfd, CTL_DEL, fd, 0, 0, 0);
		if (e)
			item_free(e);
	} else {
		r = -EINVAL;
	}
	unlk();
	net_conn_put(c);
	return shield_done(ret, r);
}

/* The registration a host event's data names, or NULL (a descriptor that
 * is not wrapped: its data is the application's). */
static struct epi *token(int epfd, uint64_t data)
{
	if ((data & TOKEN_MASK) != TOKEN_MAGIC)
		return NULL;
	uint64_t i = data & ~TOKEN_MASK;
	if (i >= ep.nit || !ep.it[i].used || ep.it[i].shadow || ep.it[i].epfd != epfd)
		return NULL;
	return &ep.it[i];
}

/* Evaluates the ready list of s into out[0:max): the count. ep locked. */
static int from_ready(struct epset *s, struct epoll_event_ *out, int max)
{
	int n = 0;
	uint32_t *p = &s->ready;
	while (*p && n < max) {
		struct epi *e = &ep.it[*p - 1];
		struct net_conn *c = net_lookup(e->fd);
		uint32_t r = 0;
		int keep = 0;
		if (c) {
			net_conn_lock(c);
			if (!c->connecting && !c->t.err)
				tlsconn_pump(&c->t, &net_io, net_ctx(e->fd), c->t.sock_rd);
			r = e->round == ep.round ? 0 : report(e, c);
			if (r) {
				out[n].events = r;
				out[n].data = e->data;
				n++;
				reported(e, c);
			}
			/* level-triggered: stays while ready */
			keep = r && !(e->events & (EPOLLET_ | EPOLLONESHOT_));
			net_conn_unlock(c);
			net_conn_put(c);
		}
		if (keep) {
			p = &e->next_ready;
		} else {
			*p = e->next_ready;
			e->on_ready = 0;
		}
	}
	return n;
}

/* A periodic look at the handshakes of this process: a stalled one fails
 * at its deadline even when nothing else happens on it. Returns whether a
 * handshake is still pending (then waits are cut to NET_SWEEP_NS). */
#define NET_SWEEP_NS 500000000ULL
static int sweep_pending; /* a handshake was pending at the last sweep */

/* Whether a sweep may be due: not while no handshake is pending nor
 * started since (then there is no deadline to check, and no clock to read:
 * a host call each). */
static int sweep_due(void)
{
	return __atomic_load_n(&sweep_pending, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&net_g.hs_started, __ATOMIC_ACQUIRE);
}

static int sweep(uint64_t now)
{
	static uint64_t last;
	int pending = __atomic_load_n(&sweep_pending, __ATOMIC_RELAXED);
	if (now - last < NET_SWEEP_NS && !__atomic_exchange_n(&net_g.hs_started, 0, __ATOMIC_ACQ_REL))
		return pending;
	last = now;
	pending = 0;
	for (size_t fd = 0; fd < net_g.cap; fd++) {
		if (net_g.fdtab[fd] <= NET_LISTENER)
			continue;
		struct net_conn *c = net_lookup((int)fd);
		if (!c)
			continue;
		net_conn_lock(c);
		net_check_deadline(c, (int)fd, now);
		if (!c->t.hs_done && !c->t.err)
			pending = 1;
		net_conn_unlock(c);
		net_conn_put(c);
	}
	__atomic_store_n(&sweep_pending, pending, __ATOMIC_RELAXED);
	return pending;
}

void net_flush_held(void)
{
	if (!__atomic_load_n(&net_g.nheld, __ATOMIC_RELAXED))
		return;
	int fds[NET_MAX_HELD], n = net_held_take(fds);
	for (int i = 0; i < n; i++) {
		struct net_conn *c = net_lookup(fds[i]);
		if (!c)
			continue;
		net_conn_lock(c);
		net_seal(c, fds[i]);
		net_conn_unlock(c);
		net_conn_put(c);
		net_epoll_touch(fds[i]);
	}
}

int net_sys_epoll_wait(const struct sys_call *sc, long *ret)
{
	int epfd = (int)sc->a[0];
	struct epoll_event_ *evs = (struct epoll_event_ *)sc->a[1];
	int max = (int)sc->a[2];
	net_flush_held();
	lk();
	struct epset *s = set_of(epfd);
	int mine = s && s->nitems;
	unlk();
	if (!mine || max <= 0)
		return SHIELD_PASS;
	if (!rt_user_ok(evs, (size_t)max * sizeof *evs))
		return shield_done(ret, -EFAULT);
	/* The clock is read only where it is needed (a host call each): the
	 * end of the timeout is set when the call first has to wait (the ready
	 * list gave nothing), microseconds after its start. */
	uint64_t tmo = 0, end = 0, now = 0;
	int forever = 0;
	const void *mask = NULL;
	long masksz = 8;
	if (sc->nr == __NR_epoll_pwait2) {
		const struct {
			long sec, nsec;
		} *t = (const void *)sc->a[3];
		if (!t)
			forever = 1;
		else if (!rt_user_ok(t, sizeof *t) || t->sec < 0 || t->nsec < 0 || t->nsec >= 1000000000)
			return shield_done(ret, rt_user_ok(t, sizeof *t) ? -EINVAL : -EFAULT);
		else
			tmo = (uint64_t)t->sec * 1000000000ULL + (uint64_t)t->nsec;
	} else if (sc->a[3] < 0) {
		forever = 1;
	} else {
		tmo = (uint64_t)sc->a[3] * 1000000ULL;
	}
	if (sc->nr != __NR_epoll_wait) {
		mask = (const void *)sc->a[4];
		masksz = sc->a[5];
	}
	long out;
	for (;;) {
		lk();
		ep.round++;
		s = set_of(epfd);
		out = s ? from_ready(s, evs, max) : 0;
		unlk();
		int hs = 0;
		if (sweep_due()) {
			now = net_monotonic();
			hs = sweep(now);
		}
		if (out == max)
			break;
		/* the host's events, after what the ready list gave: at once when
		 * it gave some or the timeout is 0, else until the end (or the
		 * next sweep) */
		struct {
			long sec, nsec;
		} ts = {0, 0}, *tsp = NULL;
		if (out || (!forever && !tmo)) {
			tsp = &ts;
		} else if (!forever || hs) {
			now = net_monotonic();
			if (!forever && !end)
				end = now + tmo;
			uint64_t until = forever ? 0 : end;
			if (hs && (!until || until > now + NET_SWEEP_NS))
				until = now + NET_SWEEP_NS;
			uint64_t left = until > now ? until - now : 0;
			ts.sec = (long)(left / 1000000000ULL);
			ts.nsec = (long)(left % 1000000000ULL);
			tsp = &ts;
		}
		long r = host_syscall(__NR_epoll_pwait2, epfd, (long)(evs + out), max - out, (long)tsp, (long)mask,
				      masksz);
		if (r < 0) {
			if (!out)
				out = r;
			break;
		}
		if (r > max - out)
			rt_fatal(RT_EX_SOFTWARE,
				 "host returned an impossible result for epoll_wait: %ld events, %ld asked", r,
				 (long)(max - out));
		/* translate: wrapped descriptors by their connection, the rest as they are */
		lk();
		long k = out;
		for (long i = out; i < out + r; i++) {
			struct epoll_event_ hv = evs[i];
			struct epi *e = token(epfd, hv.data);
			if (!e) {
				if ((hv.data & TOKEN_MASK) != TOKEN_MAGIC)
					evs[k++] = hv; /* not ours */
				continue;
			}
			struct net_conn *c = net_lookup(e->fd);
			if (!c)
				continue;
			net_conn_lock(c);
			net_conn_host_ready(c, e->fd, hv.events);
			uint32_t rep = e->round == ep.round ? 0 : report(e, c);
			if (rep) {
				evs[k].events = rep;
				evs[k].data = e->data;
				k++;
				reported(e, c);
			}
			/* level-triggered registrations are looked at again next
			 * time (the host reports edges only) */
			if (!(e->events & (EPOLLET_ | EPOLLONESHOT_)) && (rep || tlsconn_events(&c->t)))
				ready_push(set_of(epfd), e);
			net_conn_unlock(c);
			net_conn_put(c);
		}
		unlk();
		out = k;
		if (out || (!forever && !tmo))
			break;
		if (!forever) {
			now = net_monotonic();
			if (now >= end)
				break;
		}
	}
	return shield_done(ret, out);
}

void net_epoll_touch(int fd)
{
	if (!ep.nsets)
		return;
	lk();
	if (fd >= 0 && (size_t)fd < ep.nfd)
		for (uint32_t i = ep.by_fd[fd]; i; i = ep.it[i - 1].next_fd) {
			struct epset *s = set_of(ep.it[i - 1].epfd);
			if (s)
				ready_push(s, &ep.it[i - 1]);
		}
	unlk();
}

void net_epoll_forget(int fd)
{
	if (!ep.nsets || fd < 0)
		return;
	lk();
	while ((size_t)fd < ep.nfd && ep.by_fd[fd])
		item_free(&ep.it[ep.by_fd[fd] - 1]);
	unlk();
}

void net_epoll_closed(unsigned long first, unsigned long last)
{
	if (!ep.nsets)
		return;
	lk();
	for (size_t k = 0; k < ep.nsets;) {
		struct epset *s = &ep.sets[k];
		if ((unsigned long)s->epfd < first || (unsigned long)s->epfd > last) {
			k++;
			continue;
		}
		for (uint32_t i = 0; i < ep.nit; i++)
			if (ep.it[i].used && ep.it[i].epfd == s->epfd)
				item_free(&ep.it[i]);
		*s = ep.sets[--ep.nsets];
	}
	unlk();
}
