/* Network shield: sockets and descriptors (net.h). Which descriptors carry
 * TLS is decided from what the application asked, never from what the host
 * answers: a socket bound (bind's own argument) to a TLS port is a TLS
 * listener and every connection accepted on it is wrapped; a connect whose
 * address is a --tls-connect destination is wrapped. Duplicates (dup,
 * dup2/3, F_DUPFD, fork) share the connection; close_notify goes out when
 * the last descriptor closes; the other shields hear of descriptors that
 * change meaning through the core (rt_fd_dup, rt_fd_gone). */
#include <linux/fcntl.h>
#include "net.h"
#include "fdtab.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

#define AF_INET_ 2
#define AF_INET6_ 10
#define SOCK_NONBLOCK_ 04000

/* The address family, port and IP of a sockaddr the application passed;
 * 0 when it is not an inet address. */
static int inet_addr_of(const void *sa, long len, uint16_t *port, uint8_t ip[16], int *v4)
{
	if (!sa || len < 8 || !rt_user_ok(sa, (size_t)len))
		return 0;
	const uint8_t *b = sa;
	uint16_t fam = (uint16_t)(b[0] | b[1] << 8);
	*port = (uint16_t)(b[2] << 8 | b[3]);
	if (fam == AF_INET_ && len >= 16) {
		memcpy(ip, b + 4, 4);
		*v4 = 1;
		return 1;
	}
	if (fam == AF_INET6_ && len >= 24) {
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (!memcmp(b + 8, mapped, 12)) { /* ::ffff:a.b.c.d is an IPv4 peer */
			memcpy(ip, b + 20, 4);
			*v4 = 1;
		} else {
			memcpy(ip, b + 8, 16);
			*v4 = 0;
		}
		return 1;
	}
	return 0;
}

static int tls_port(uint16_t port)
{
	for (size_t i = 0; i < net_g.nports; i++)
		if (net_g.ports[i] == port)
			return 1;
	return 0;
}

int net_sys_bind(const struct sys_call *sc, long *ret)
{
	uint16_t port;
	uint8_t ip[16];
	int v4;
	if (!net_g.nports || !inet_addr_of((const void *)sc->a[1], sc->a[2], &port, ip, &v4) || !tls_port(port))
		return SHIELD_PASS;
	long r = host_syscall(__NR_bind, sc->a[0], sc->a[1], sc->a[2], 0, 0, 0);
	if (r == 0 && net_install((int)sc->a[0], NET_LISTENER) < 0) {
		/* cannot track it: never serve the port in plaintext */
		r = -ENOMEM;
	}
	return shield_done(ret, r);
}

int net_sys_accept(const struct sys_call *sc, long *ret)
{
	if (!net_is_listener((int)sc->a[0]))
		return SHIELD_PASS;
	long fl = sc->nr == __NR_accept4 ? sc->a[3] : 0;
	long r = host_syscall(__NR_accept4, sc->a[0], sc->a[1], sc->a[2], fl, 0, 0);
	if (r < 0)
		return shield_done(ret, r);
	struct net_conn *c = net_conn_new(0, NULL);
	if (c) {
		c->nonblock = (fl & SOCK_NONBLOCK_) != 0;
		c->deadline = net_monotonic() + NET_HS_TIMEOUT_NS;
		__atomic_store_n(&net_g.hs_started, 1, __ATOMIC_RELEASE);
		if (net_install((int)r, (uintptr_t)c) < 0) {
			net_conn_put(c);
			c = NULL;
		} else {
			net_conn_put(c); /* the table holds it now */
		}
	}
	if (!c) {
		/* no TLS for this connection: never serve it in plaintext */
		host_syscall(__NR_close, r, 0, 0, 0, 0, 0);
		return shield_done(ret, -ECONNABORTED);
	}
	rt_fd_gone(&net_shield_ops, (int)r);
	return shield_done(ret, r);
}

/* The --tls-connect destination an address matches, or NULL. */
static const struct net_dest *dest_of(const void *sa, long len)
{
	uint16_t port;
	uint8_t ip[16];
	int v4;
	if (!net_g.ndests || !inet_addr_of(sa, len, &port, ip, &v4))
		return NULL;
	for (size_t i = 0; i < net_g.ndests; i++) {
		const struct netaddr *d = &net_g.dests[i].a;
		if (d->port != port)
			continue;
		if (d->kind == NETADDR_NAME || (d->kind == NETADDR_IPV4 && v4 && !memcmp(d->ip, ip, 4)) ||
		    (d->kind == NETADDR_IPV6 && !v4 && !memcmp(d->ip, ip, 16)))
			return &net_g.dests[i];
	}
	return NULL;
}

int net_sys_connect(const struct sys_call *sc, long *ret)
{
	int fd = (int)sc->a[0];
	const struct net_dest *d = dest_of((const void *)sc->a[1], sc->a[2]);
	if (!d || net_fd_known(fd))
		return SHIELD_PASS;
	long r = host_syscall(__NR_connect, sc->a[0], sc->a[1], sc->a[2], 0, 0, 0);
	if (r != 0 && r != -EINPROGRESS && r != -EINTR)
		return shield_done(ret, r);
	/* the certificate must name a destination given by name; one given
	 * as an address is checked by its chain only */
	struct net_conn *c = net_conn_new(1, d->a.kind == NETADDR_NAME ? d->a.name : NULL);
	if (c) {
		long fl = host_syscall(__NR_fcntl, fd, F_GETFL, 0, 0, 0, 0);
		c->nonblock = fl >= 0 && (fl & O_NONBLOCK);
		c->connecting = r != 0;
		c->deadline = net_monotonic() + NET_HS_TIMEOUT_NS;
		__atomic_store_n(&net_g.hs_started, 1, __ATOMIC_RELEASE);
		if (net_install(fd, (uintptr_t)c) < 0) {
			net_conn_put(c);
			c = NULL;
		} else {
			net_epoll_adopt(fd, c);
			net_conn_put(c);
		}
	}
	if (!c) {
		/* no TLS: the connection must not carry plaintext */
		host_syscall(__NR_shutdown, fd, 2, 0, 0, 0, 0);
		return shield_done(ret, -ENOBUFS);
	}
	return shield_done(ret, r);
}

/* fd stops being what it was for this process: an epoll set's or a
 * connection's registrations go, the connection loses a descriptor (send:
 * fd is still open on the host, close_notify can go out). */
static void drop(int fd, int send)
{
	net_epoll_closed((unsigned long)fd, (unsigned long)fd);
	net_epoll_forget(fd); /* wrapped registrations, and kept ones (net_epoll_adopt) */
	uintptr_t v = net_remove(fd);
	if (v > NET_LISTENER)
		net_fd_release((struct net_conn *)v, fd, send);
}

int net_sys_close(const struct sys_call *sc, long *ret)
{
	(void)ret;
	drop((int)sc->a[0], 1);
	return SHIELD_PASS; /* the host closes it; the other shields see it too */
}

int net_sys_close_range(const struct sys_call *sc, long *ret)
{
	(void)ret;
	unsigned long first = (unsigned long)sc->a[0], last = (unsigned long)sc->a[1];
	if (sc->a[2] & 4 /* CLOSE_RANGE_CLOEXEC */)
		return SHIELD_PASS;
	net_epoll_closed(first, last);
	for (unsigned long fd = first; fd <= last && fd < net_g.cap; fd++)
		drop((int)fd, 1);
	return SHIELD_PASS;
}

/* What fd is in the table, with a reference when it is a connection. */
static uintptr_t entry_get(int fd)
{
	struct net_conn *c = net_lookup(fd);
	if (c)
		return (uintptr_t)c;
	return net_is_listener(fd) ? NET_LISTENER : 0;
}

static void entry_put(uintptr_t v)
{
	if (v > NET_LISTENER)
		net_conn_put((struct net_conn *)v);
}

int net_sys_dup(const struct sys_call *sc, long *ret)
{
	int old = (int)sc->a[0];
	int newfd = sc->nr == __NR_dup || sc->nr == __NR_fcntl ? -1 : (int)sc->a[1];
	if (!net_fd_known(old) && !net_fd_known(newfd))
		return SHIELD_PASS;
	if (old == newfd)
		return SHIELD_PASS; /* nothing changes (dup3: EINVAL from the host) */
	uintptr_t v = entry_get(old);
	if (newfd >= 0 && net_fd_known(newfd) && rt_fdtab_is_open(old)) {
		/* dup2 over a connection closes that descriptor (not when old is
		 * bad: then the call fails and changes nothing) */
		drop(newfd, 1);
	}
	long r = host_syscall(sc->nr, sc->a[0], sc->a[1], sc->a[2], 0, 0, 0);
	if (r >= 0 && newfd >= 0 && r != newfd)
		r = -EIO; /* Iago: not what was asked */
	if (r >= 0) {
		if (v && net_install((int)r, v) < 0) {
			host_syscall(__NR_close, r, 0, 0, 0, 0, 0);
			r = -EMFILE;
		} else {
			rt_fd_dup(&net_shield_ops, old, (int)r);
		}
	}
	entry_put(v);
	return shield_done(ret, r);
}

int net_sys_fcntl(const struct sys_call *sc, long *ret)
{
	int fd = (int)sc->a[0];
	if (sc->a[1] == F_DUPFD || sc->a[1] == F_DUPFD_CLOEXEC)
		return net_fd_known(fd) ? net_sys_dup(sc, ret) : SHIELD_PASS;
	if (sc->a[1] != F_SETFL)
		return SHIELD_PASS;
	struct net_conn *c = net_lookup(fd);
	if (!c)
		return SHIELD_PASS;
	long r = host_syscall(__NR_fcntl, fd, F_SETFL, sc->a[2], 0, 0, 0);
	if (r == 0) {
		net_conn_lock(c);
		c->nonblock = (sc->a[2] & O_NONBLOCK) != 0;
		net_conn_unlock(c);
	}
	net_conn_put(c);
	return shield_done(ret, r);
}

int net_sys_ioctl(const struct sys_call *sc, long *ret)
{
	unsigned long req = (unsigned long)sc->a[1];
	if (req != 0x5421 /* FIONBIO */ && req != 0x541B /* FIONREAD, SIOCINQ */)
		return SHIELD_PASS;
	int fd = (int)sc->a[0];
	struct net_conn *c = net_lookup(fd);
	if (!c)
		return SHIELD_PASS;
	int *p = (int *)sc->a[2];
	long r;
	if (!rt_user_ok(p, sizeof *p)) {
		r = -EFAULT;
	} else if (req == 0x5421) {
		r = host_syscall(__NR_ioctl, fd, (long)req, (long)p, 0, 0, 0);
		if (r == 0) {
			net_conn_lock(c);
			c->nonblock = *p != 0;
			net_conn_unlock(c);
		}
	} else {
		/* the plaintext readable now (staged records decrypted first) */
		net_conn_lock(c);
		tlsconn_pump(&c->t, &net_io, net_ctx(fd), 0);
		size_t n = tlsconn_readable(&c->t);
		net_conn_unlock(c);
		*p = n > 0x7fffffff ? 0x7fffffff : (int)n;
		r = 0;
	}
	net_conn_put(c);
	return shield_done(ret, r);
}

int net_sys_shutdown(const struct sys_call *sc, long *ret)
{
	int fd = (int)sc->a[0], how = (int)sc->a[1];
	if (how != 1 /* SHUT_WR */ && how != 2 /* SHUT_RDWR */)
		return SHIELD_PASS;
	struct net_conn *c = net_lookup(fd);
	if (!c)
		return SHIELD_PASS;
	net_conn_lock(c);
	long r = 0;
	if (c->t.hs_done && !c->t.err && !c->connecting && tlsconn_shutdown(&c->t, &net_io, net_ctx(fd)) == -EAGAIN)
		c->shut_host = (uint8_t)(how + 1); /* after close_notify has gone */
	else
		r = host_syscall(__NR_shutdown, fd, how, 0, 0, 0, 0);
	net_conn_unlock(c);
	net_conn_put(c);
	net_epoll_touch(fd);
	return shield_done(ret, r);
}

#define SOL_SOCKET_ 1
#define SO_ERROR_ 4
#define IPPROTO_TCP_ 6
#define TCP_NODELAY_ 1
#define TCP_CORK_ 3

int net_sys_getsockopt(const struct sys_call *sc, long *ret)
{
	int tcp_cork = sc->a[1] == IPPROTO_TCP_ && sc->a[2] == TCP_CORK_;
	if (!(sc->a[1] == SOL_SOCKET_ && sc->a[2] == SO_ERROR_) && !tcp_cork)
		return SHIELD_PASS;
	int fd = (int)sc->a[0];
	struct net_conn *c = net_lookup(fd);
	if (!c)
		return SHIELD_PASS;
	net_conn_lock(c);
	int v = tcp_cork ? c->corked : c->connecting ? 0 : -c->t.err;
	net_conn_unlock(c);
	net_conn_put(c);
	if (!tcp_cork && !v)
		return SHIELD_PASS; /* the socket's own (a failed TCP connect) */
	int *val = (int *)sc->a[3], *len = (int *)sc->a[4];
	if (!rt_user_ok(len, sizeof *len))
		return shield_done(ret, -EFAULT);
	if (*len < 0)
		return shield_done(ret, -EINVAL);
	/* the kernel copies min(len, sizeof(int)) bytes of the value */
	size_t n = *len < (int)sizeof(int) ? (size_t)*len : sizeof(int);
	if (n && !rt_user_ok(val, n))
		return shield_done(ret, -EFAULT);
	memcpy(val, &v, n);
	*len = (int)n;
	return shield_done(ret, 0);
}

/* TCP_CORK on a connection is the shield's: held writes stay in one open
 * record until uncork (one record, one send, no host call for the option
 * itself). TCP_NODELAY set on seals the open record first, as the kernel
 * pushes a corked socket's pending segment, then goes to the host. */
int net_sys_setsockopt(const struct sys_call *sc, long *ret)
{
	if (sc->a[1] != IPPROTO_TCP_ || (sc->a[2] != TCP_CORK_ && sc->a[2] != TCP_NODELAY_))
		return SHIELD_PASS;
	int fd = (int)sc->a[0];
	const int *val = (const int *)sc->a[3];
	if (sc->a[4] < (long)sizeof(int))
		return SHIELD_PASS; /* the host's EINVAL */
	struct net_conn *c = net_lookup(fd);
	if (!c)
		return SHIELD_PASS;
	if (!rt_user_ok(val, sizeof *val)) {
		net_conn_put(c);
		return shield_done(ret, -EFAULT);
	}
	int on = *val != 0, cork = sc->a[2] == TCP_CORK_;
	int seal = cork ? !on : on; /* uncork, or TCP_NODELAY set */
	net_conn_lock(c);
	if (cork)
		c->corked = (uint8_t)on;
	if (seal)
		net_unhold(c, fd);
	net_conn_unlock(c);
	net_conn_put(c);
	net_epoll_touch(fd);
	return cork ? shield_done(ret, 0) : SHIELD_PASS;
}

/* ---- what the other shields did (shield.h) ---- */

void net_fd_gone(int fd) { drop(fd, 0); /* the host closed it already */ }

void net_fd_dup(int oldfd, int newfd)
{
	uintptr_t v = entry_get(oldfd);
	drop(newfd, 0);
	if (v)
		net_install(newfd, v);
	entry_put(v);
}
