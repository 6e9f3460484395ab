/* Network shield: connection slots, the descriptor table, locks, the host
 * I/O of a connection and waiting (net.h).
 *
 * The slots are one MAP_SHARED anonymous region inside the runtime's range,
 * mapped at start-up (before the application can fork), so a connection
 * inherited by a forked child is one state in both processes, like the
 * socket under it: whoever reads or writes next continues the same TLS
 * stream, and close_notify goes out when the last descriptor of all
 * processes closes (struct net_conn's fds). The engine's pointers into the
 * credentials (private memory) stay valid because fork copies them at the
 * same addresses. */
#include <linux/fcntl.h>
#include "net.h"
#include "random.h"
#include "region.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "rt_alloc.h"
#include "sys.h"

struct net_pool {
	volatile int lock;
	uint32_t free_head; /* slot index + 1; 0: none */
	uint32_t bump;	    /* slots handed out from fresh memory */
	uint32_t live;
	struct net_conn slot[]; /* NET_MAX_CONNS */
};

static struct net_pool *pool;

static void spin_lock(volatile int *l)
{
	unsigned spins = 0;
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) {
		if (++spins < 1000) {
			__builtin_ia32_pause();
		} else {
			host_syscall(__NR_sched_yield, 0, 0, 0, 0, 0, 0);
			spins = 0;
		}
	}
}

static void spin_unlock(volatile int *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

void net_conn_lock(struct net_conn *c) { spin_lock(&c->lock); }
void net_conn_unlock(struct net_conn *c) { spin_unlock(&c->lock); }

int net_pool_init(void)
{
	size_t size = sizeof(struct net_pool) + (size_t)NET_MAX_CONNS * sizeof(struct net_conn);
	size = (size + RT_PAGE - 1) & ~(RT_PAGE - 1);
	void *base = rt_region_reserve(size, 1UL << 21);
	if (!base)
		return -ENOMEM;
	void *p = rt_mmap(base, size, RT_PROT_READ | RT_PROT_WRITE,
			  RT_MAP_SHARED | RT_MAP_ANONYMOUS | RT_MAP_FIXED | RT_MAP_NORESERVE, -1, 0);
	if (p != base)
		return -ENOMEM;
	pool = base;
	return 0;
}

struct net_conn *net_conn_new(int client, const char *server_name)
{
	spin_lock(&pool->lock);
	struct net_conn *c = NULL;
	if (pool->free_head) {
		c = &pool->slot[pool->free_head - 1];
		pool->free_head = c->next_free;
	} else if (pool->bump < NET_MAX_CONNS) {
		c = &pool->slot[pool->bump++];
	}
	if (c)
		pool->live++;
	spin_unlock(&pool->lock);
	if (!c) {
		static int warned;
		if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
			rt_eprintf("scone-run: network shield: more than %d TLS connections at once: further "
				   "connections are refused\n",
				   NET_MAX_CONNS);
		return NULL;
	}
	/* The engine is set up by tlsconn_*_init; the rest starts at zero. */
	c->lock = 0;
	c->refs = 1;
	c->fds = 0;
	c->next_free = 0;
	c->nonblock = c->connecting = c->shut_host = c->reported = c->corked = 0;
	c->client = (uint8_t)client;
	c->deadline = 0;
	uint8_t seed[32];
	uint32_t days, secs;
	rt_random(seed, sizeof seed);
	net_now_x509(&days, &secs);
	int r = client ? tlsconn_client_init(&c->t, &net_g.cli, server_name, seed, days, secs) :
			 tlsconn_server_init(&c->t, &net_g.srv, seed, days, secs);
	rt_memzero(seed, sizeof seed);
	if (r < 0) {
		net_conn_put(c);
		return NULL;
	}
	return c;
}

void net_conn_get(struct net_conn *c) { __atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL); }

void net_conn_put(struct net_conn *c)
{
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL))
		return;
	/* the session keys go with the slot */
	rt_memzero(&c->t.u, sizeof c->t.u);
	spin_lock(&pool->lock);
	c->next_free = pool->free_head;
	pool->free_head = (uint32_t)(c - pool->slot) + 1;
	pool->live--;
	spin_unlock(&pool->lock);
}

/* ---- the descriptor table (per process) ---- */

static int grow(size_t fd)
{
	if (fd < net_g.cap)
		return 0;
	size_t cap = net_g.cap ? net_g.cap : 1024;
	while (cap <= fd)
		cap *= 2;
	if (cap > (1u << 20))
		return -EMFILE;
	uintptr_t *t = rt_calloc(cap, sizeof *t);
	if (!t)
		return -ENOMEM;
	if (net_g.cap)
		memcpy(t, net_g.fdtab, net_g.cap * sizeof *t);
	uintptr_t *old = net_g.fdtab;
	__atomic_store_n(&net_g.fdtab, t, __ATOMIC_RELEASE);
	__atomic_store_n(&net_g.cap, cap, __ATOMIC_RELEASE);
	/* Readers without the lock (net_fd_known) may still look at the old
	 * table: it is never freed (it is small and grows rarely). */
	(void)old;
	return 0;
}

int net_fd_known(int fd)
{
	uintptr_t *t = __atomic_load_n(&net_g.fdtab, __ATOMIC_ACQUIRE);
	size_t cap = __atomic_load_n(&net_g.cap, __ATOMIC_ACQUIRE);
	return fd >= 0 && (size_t)fd < cap && t && __atomic_load_n(&t[fd], __ATOMIC_RELAXED) != 0;
}

struct net_conn *net_lookup(int fd)
{
	if (!net_fd_known(fd))
		return NULL;
	spin_lock(&net_g.lock);
	uintptr_t v = (size_t)fd < net_g.cap ? net_g.fdtab[fd] : 0;
	struct net_conn *c = v > NET_LISTENER ? (struct net_conn *)v : NULL;
	if (c)
		net_conn_get(c);
	spin_unlock(&net_g.lock);
	return c;
}

int net_is_listener(int fd)
{
	if (!net_fd_known(fd))
		return 0;
	spin_lock(&net_g.lock);
	int l = (size_t)fd < net_g.cap && net_g.fdtab[fd] == NET_LISTENER;
	spin_unlock(&net_g.lock);
	return l;
}

int net_install(int fd, uintptr_t v)
{
	if (fd < 0)
		return -EBADF;
	spin_lock(&net_g.lock);
	int r = grow((size_t)fd);
	uintptr_t old = 0;
	if (!r) {
		old = net_g.fdtab[fd];
		if (v > NET_LISTENER) {
			struct net_conn *c = (struct net_conn *)v;
			__atomic_add_fetch(&c->fds, 1, __ATOMIC_ACQ_REL);
			net_conn_get(c);
		}
		__atomic_store_n(&net_g.fdtab[fd], v, __ATOMIC_RELEASE);
	}
	spin_unlock(&net_g.lock);
	if (old > NET_LISTENER) /* a stale entry: the number was closed behind our back */
		net_fd_release((struct net_conn *)old, fd, 0);
	return r;
}

uintptr_t net_remove(int fd)
{
	if (!net_fd_known(fd))
		return 0;
	spin_lock(&net_g.lock);
	uintptr_t v = 0;
	if ((size_t)fd < net_g.cap) {
		v = net_g.fdtab[fd];
		__atomic_store_n(&net_g.fdtab[fd], 0, __ATOMIC_RELEASE);
	}
	spin_unlock(&net_g.lock);
	return v;
}

/* The last descriptor closes: close_notify, and the records still pending
 * get a short while to leave (a peer that does not read cannot hold the
 * application longer than NET_CLOSE_FLUSH_MS). */
static void last_close(struct net_conn *c, int fd)
{
	net_conn_lock(c);
	int r = c->t.hs_done && !c->t.err ? tlsconn_shutdown(&c->t, &net_io, net_ctx(fd)) : 0;
	net_conn_unlock(c);
	if (r != -EAGAIN)
		return;
	uint64_t deadline = net_monotonic() + NET_CLOSE_FLUSH_MS * 1000000ULL;
	while (r == -EAGAIN) {
		long w = net_wait(fd, TLSCONN_OUT, deadline);
		if (w <= 0)
			break;
		net_conn_lock(c);
		c->t.sock_wr = 1;
		r = tlsconn_shutdown(&c->t, &net_io, net_ctx(fd));
		net_conn_unlock(c);
	}
}

void net_fd_release(struct net_conn *c, int fd, int send)
{
	if (!__atomic_sub_fetch(&c->fds, 1, __ATOMIC_ACQ_REL) && send)
		last_close(c, fd);
	net_conn_put(c);
}

/* ---- host I/O of a connection ---- */

#define MSG_DONTWAIT_ 0x40
#define MSG_NOSIGNAL_ 0x4000

static long io_recv(void *ctx, void *buf, size_t len)
{
	return host_syscall(__NR_recvfrom, (long)ctx, (long)buf, (long)len, MSG_DONTWAIT_, 0, 0);
}

static long io_send(void *ctx, const void *buf, size_t len)
{
	return host_syscall(__NR_sendto, (long)ctx, (long)buf, (long)len, MSG_DONTWAIT_ | MSG_NOSIGNAL_, 0, 0);
}

const struct tlsconn_io net_io = {io_recv, io_send};

/* ---- open records (TCP_CORK, MSG_MORE) ---- */

static int held_find(int fd)
{
	for (int i = 0; i < net_g.nheld; i++)
		if (net_g.held[i] == fd)
			return i;
	return -1;
}

void net_hold(struct net_conn *c, int fd)
{
	spin_lock(&net_g.held_lock);
	int listed = held_find(fd) >= 0, room = net_g.nheld < NET_MAX_HELD;
	if (!listed && room)
		net_g.held[net_g.nheld++] = fd;
	spin_unlock(&net_g.held_lock);
	if (!listed && !room)
		net_seal(c, fd); /* not listed: nothing to take out of the list */
}

void net_unhold(struct net_conn *c, int fd)
{
	spin_lock(&net_g.held_lock);
	int i = held_find(fd);
	if (i >= 0)
		net_g.held[i] = net_g.held[--net_g.nheld];
	spin_unlock(&net_g.held_lock);
	net_seal(c, fd);
}

void net_seal(struct net_conn *c, int fd)
{
	if (c->t.held && !c->connecting) {
		tlsconn_flush(&c->t, &net_io, net_ctx(fd));
		net_conn_settle(c, fd);
	}
}

int net_held_take(int fds[NET_MAX_HELD])
{
	spin_lock(&net_g.held_lock);
	int n = net_g.nheld;
	memcpy(fds, net_g.held, (size_t)n * sizeof fds[0]);
	net_g.nheld = 0;
	spin_unlock(&net_g.held_lock);
	return n;
}

long net_wait(int fd, unsigned events, uint64_t deadline)
{
	struct {
		int fd;
		short events, revents;
	} p = {fd, (short)(events & (TLSCONN_IN | TLSCONN_OUT)), 0};
	struct {
		long sec, nsec;
	} ts, *tsp = NULL;
	if (deadline) {
		uint64_t now = net_monotonic();
		if (now >= deadline)
			return 0;
		uint64_t left = deadline - now;
		ts.sec = (long)(left / 1000000000ULL);
		ts.nsec = (long)(left % 1000000000ULL);
		tsp = &ts;
	}
	long r = host_syscall(__NR_ppoll, (long)&p, 1, (long)tsp, 0, 8, 0);
	if (r < 0)
		return r;
	if (r == 0)
		return 0;
	return p.revents ? (p.revents & 0xffff) : TLSCONN_IN;
}

/* A client's TCP connection completed or failed (the socket reported OUT,
 * ERR or HUP). Connection locked. */
void net_connect_done(struct net_conn *c, int fd)
{
	int err = 0, len = sizeof err;
	long r = host_syscall(__NR_getsockopt, fd, 1 /* SOL_SOCKET */, 4 /* SO_ERROR */, (long)&err, (long)&len, 0);
	if (r < 0)
		err = (int)-r;
	if (err == EINPROGRESS || err == EALREADY)
		return;
	c->connecting = 0;
	if (err) {
		c->t.err = -err;
		c->t.br_err = 0;
	}
}

void net_conn_settle(struct net_conn *c, int fd)
{
	if (c->shut_host && !tlsconn_pending_out(&c->t)) {
		host_syscall(__NR_shutdown, fd, c->shut_host - 1, 0, 0, 0, 0);
		c->shut_host = 0;
	}
}

void net_conn_failed(struct net_conn *c, int fd, const char *why)
{
	if (c->reported)
		return;
	c->reported = 1;
	host_syscall(__NR_shutdown, fd, 2 /* SHUT_RDWR */, 0, 0, 0, 0);
	char msg[200];
	int n = rt_snprintf(msg, sizeof msg,
			    "scone-run: network shield: TLS connection closed: %s (BearSSL error %d)\n", why,
			    c->t.br_err);
	if (n > 0)
		rt_diag(msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

void net_check_deadline(struct net_conn *c, int fd, uint64_t now)
{
	if (!c->t.hs_done && c->deadline && now >= c->deadline && !c->t.err) {
		c->t.err = -ETIMEDOUT;
		net_conn_failed(c, fd, "the handshake did not complete in time");
	}
}

/* Moves c's records after the host reported revents for it. Locked. */
void net_conn_host_ready(struct net_conn *c, int fd, unsigned revents)
{
	if (c->connecting)
		net_connect_done(c, fd);
	if (revents & (TLSCONN_IN | TLSCONN_ERR | TLSCONN_HUP | TLSCONN_RDHUP))
		c->t.sock_rd = 1;
	if (revents & (TLSCONN_OUT | TLSCONN_ERR | TLSCONN_HUP))
		c->t.sock_wr = 1;
	if (!c->connecting)
		tlsconn_pump(&c->t, &net_io, net_ctx(fd), 1);
	net_conn_settle(c, fd);
}

/* ---- fork ----
 * The child's copies of the descriptors refer to the same connections: the
 * counts (in the shared slots) include them from the fork on. The table lock
 * is taken so no other thread changes the table meanwhile. */
static void fork_refs(int add)
{
	for (size_t fd = 0; fd < net_g.cap; fd++) {
		uintptr_t v = net_g.fdtab[fd];
		if (v <= NET_LISTENER)
			continue;
		struct net_conn *c = (struct net_conn *)v;
		__atomic_add_fetch(&c->fds, add, __ATOMIC_ACQ_REL);
		__atomic_add_fetch(&c->refs, add, __ATOMIC_ACQ_REL);
	}
}

void net_fork_prepare(void)
{
	if (!net_g.enabled)
		return;
	spin_lock(&net_g.lock);
	fork_refs(1);
}

void net_fork_parent(long pid)
{
	if (!net_g.enabled)
		return;
	if (pid <= 0)
		fork_refs(-1);
	spin_unlock(&net_g.lock);
}

void net_fork_child(void)
{
	if (net_g.enabled)
		spin_unlock(&net_g.lock);
}
