/* The network shield (docs/net-shield.md): the application's TCP
 * connections on the configured ports (accepted on a listening socket bound
 * to a TLS port, or connected to a --tls-connect destination) carry TLS;
 * the application reads and writes plaintext, the host sees only records.
 *
 * State:
 *  - connections (struct net_conn: the TLS engine, staged ciphertext, the
 *    O_NONBLOCK flag of the socket) live in slots of one MAP_SHARED region
 *    mapped at start-up, so that a forked child and its parent share a
 *    connection as they share the socket (net_conn.c);
 *  - per process: the descriptor table (fd -> connection, or the mark of a
 *    TLS listening socket), the epoll registrations of wrapped descriptors
 *    (net_epoll.c);
 *  - read only after start-up: the credentials and the configuration
 *    (net_cred.c).
 *
 * Locks: each connection has a spinlock in its slot (process-shared),
 * never held across a host call that may wait (the shield's own host calls
 * on a connection are MSG_DONTWAIT; waiting is a poll without the lock).
 * net_g.lock protects the per-process tables. Order: table, then
 * connection, then the slot pool or the held list (net_g.held_lock). */
#ifndef SCONE_NET_H
#define SCONE_NET_H

#include <linux/errno.h>
#include <stddef.h>
#include <stdint.h>

#include "shield.h"
#include "tlsconn.h"
#include "tlscred.h"
#include "netaddr.h"

#define NET_MAX_CONNS 4096			  /* connection slots (all processes) */
#define NET_HS_TIMEOUT_NS (10ULL * 1000000000ULL) /* a handshake must complete within */
#define NET_CLOSE_FLUSH_MS 200			  /* close: wait for the last records at most */
#define NET_MAX_DESTS 64			  /* --tls-connect destinations */
#define NET_MAX_HELD 64				  /* connections holding an open record, per process */

/* A descriptor table entry that is not a connection. */
#define NET_LISTENER ((uintptr_t)1)

struct net_conn {
	volatile int lock;
	int refs; /* descriptors (all processes) + calls in flight; freed at 0 */
	int fds;  /* descriptors (all processes); close_notify when the last one closes */
	uint32_t next_free;
	uint8_t nonblock;   /* O_NONBLOCK of the socket (shared by dups and processes) */
	uint8_t client;	    /* we connected (else accepted) */
	uint8_t connecting; /* client: the TCP connection is not established yet */
	uint8_t shut_host;  /* shutdown(how+1) to do on the host once close_notify went */
	uint8_t reported;   /* the failure was reported once (rt_diag) */
	uint8_t corked;	    /* TCP_CORK set by the application (kept here, not on the host) */
	uint64_t deadline;  /* handshake deadline, CLOCK_MONOTONIC ns; 0: none */
	struct tlsconn t;
};

/* A --tls-connect destination. */
struct net_dest {
	struct netaddr a;
};

struct net_state {
	int enabled;
	volatile int lock; /* the tables below (per process) */
	uintptr_t *fdtab;  /* fd -> struct net_conn *, NET_LISTENER or 0 */
	size_t cap;
	/* configuration (read only once started) */
	const uint16_t *ports;
	size_t nports;
	struct net_dest dests[NET_MAX_DESTS];
	size_t ndests;
	int have_server, have_client;
	struct tlsconn_server_cfg srv;
	struct tlsconn_client_cfg cli;
	int hs_started; /* a handshake started since the last sweep (net_epoll.c) */
	/* descriptors whose connection may hold an open record (TCP_CORK,
	 * MSG_MORE): sealed when the application waits (net_flush_held) */
	volatile int held_lock;
	int nheld;
	int held[NET_MAX_HELD];
};

extern struct net_state net_g;
extern const struct shield_ops net_shield_ops;

/* ---- net_cred.c: start-up ---- */
int net_load_config(const struct shield_env *env);
/* The current time for certificate checks (days since 0 AD, seconds). */
void net_now_x509(uint32_t *days, uint32_t *secs);
/* CLOCK_MONOTONIC in ns. */
uint64_t net_monotonic(void);

/* ---- net_conn.c: slots, tables, locks, host I/O ---- */
int net_pool_init(void);
/* A connection with one reference: a server's (client 0) or a client's
 * that checks the server against server_name (NULL: the chain only). */
struct net_conn *net_conn_new(int client, const char *server_name);
void net_conn_lock(struct net_conn *c);
void net_conn_unlock(struct net_conn *c);
void net_conn_get(struct net_conn *c);
void net_conn_put(struct net_conn *c);
/* The connection at fd with a reference (net_conn_put), or NULL. */
struct net_conn *net_lookup(int fd);
/* Whether fd is a TLS listening socket. */
int net_is_listener(int fd);
/* Whether fd is ours (a connection or a listener): cheap, no lock. */
int net_fd_known(int fd);
/* Installs v at fd (a connection: takes a descriptor reference). */
int net_install(int fd, uintptr_t v);
/* Removes fd from the table; the caller gets what was there (a connection
 * with the table's references: hand it to net_fd_release; its epoll
 * registrations are the caller's to drop). */
uintptr_t net_remove(int fd);
/* A descriptor of c went away: the last one sends close_notify (send: the
 * descriptor fd is still open on the host). Drops the references. */
void net_fd_release(struct net_conn *c, int fd, int send);
/* The host I/O of a connection on fd (ctx = fd). */
extern const struct tlsconn_io net_io;
static inline void *net_ctx(int fd) { return (void *)(long)fd; }
/* Waits on the host until fd reports one of events (POLLIN/POLLOUT) or the
 * deadline (CLOCK_MONOTONIC ns, 0: none) passes: revents, 0 at the
 * deadline, or -EINTR. Called without the connection's lock. */
long net_wait(int fd, unsigned events, uint64_t deadline);
/* A write left bytes held in c's open record (corked): notes fd so that
 * the next wait seals it, or seals it now when the list is full.
 * Connection locked. */
void net_hold(struct net_conn *c, int fd);
/* Seals c's held bytes and sends them (uncork, TCP_NODELAY). Locked. */
void net_unhold(struct net_conn *c, int fd);
/* Seals c's held bytes and sends what the socket takes (no list change).
 * Locked. */
void net_seal(struct net_conn *c, int fd);
/* Empties the process's list of descriptors with held bytes into fds:
 * their count (net_flush_held seals them). */
int net_held_take(int fds[NET_MAX_HELD]);
/* After a connection's records moved: the host shutdown that waited for
 * close_notify. Connection locked. */
void net_conn_settle(struct net_conn *c, int fd);
/* The connection failed: a line for the operator (once) and the host
 * socket shut down, so that the application's waits end. Connection locked. */
void net_conn_failed(struct net_conn *c, int fd, const char *why);
/* A client's TCP connection completed or failed (its socket reported OUT,
 * ERR or HUP). Connection locked. */
void net_connect_done(struct net_conn *c, int fd);
/* The host reported revents for fd: move c's records. Locked. */
void net_conn_host_ready(struct net_conn *c, int fd, unsigned revents);
/* A handshake past its deadline fails (ETIMEDOUT). Locked. */
void net_check_deadline(struct net_conn *c, int fd, uint64_t now);
/* fork (shield.h) */
void net_fork_prepare(void);
void net_fork_parent(long pid);
void net_fork_child(void);

/* ---- net_io.c: data calls ---- */
long net_recv(struct net_conn *c, int fd, const struct tlsconn_iov *iov, int n, int flags);
long net_send(struct net_conn *c, int fd, const struct tlsconn_iov *iov, int n, int flags);
int net_sys_io(const struct sys_call *sc, long *ret);
int net_sys_sendfile(const struct sys_call *sc, long *ret);
int net_sys_splice(const struct sys_call *sc, long *ret);

/* ---- net_sock.c: sockets and descriptors ---- */
int net_sys_bind(const struct sys_call *sc, long *ret);
int net_sys_accept(const struct sys_call *sc, long *ret);
int net_sys_connect(const struct sys_call *sc, long *ret);
int net_sys_close(const struct sys_call *sc, long *ret);
int net_sys_close_range(const struct sys_call *sc, long *ret);
int net_sys_dup(const struct sys_call *sc, long *ret);
int net_sys_fcntl(const struct sys_call *sc, long *ret);
int net_sys_ioctl(const struct sys_call *sc, long *ret);
int net_sys_shutdown(const struct sys_call *sc, long *ret);
int net_sys_getsockopt(const struct sys_call *sc, long *ret);
int net_sys_setsockopt(const struct sys_call *sc, long *ret);
void net_fd_gone(int fd);
void net_fd_dup(int oldfd, int newfd);

/* ---- net_poll.c: poll, select ---- */
int net_sys_poll(const struct sys_call *sc, long *ret);
int net_sys_select(const struct sys_call *sc, long *ret);

/* ---- net_epoll.c ---- */
/* The application waits (poll, select, epoll, a blocking call on a wrapped
 * socket): held records are sealed and sent first, as the kernel's cork
 * timer would send them. Called without any connection's lock. */
void net_flush_held(void);
int net_sys_epoll_ctl(const struct sys_call *sc, long *ret);
int net_sys_epoll_wait(const struct sys_call *sc, long *ret);
/* A connection's readiness may have changed outside epoll_wait (a read,
 * a write): registrations of fd in epoll sets are looked at again. */
void net_epoll_touch(int fd);
/* fd became a connection (connect): its registrations made before become
 * wrapped ones. */
void net_epoll_adopt(int fd, struct net_conn *c);
/* fd is no longer a connection of this process: drop its registrations. */
void net_epoll_forget(int fd);
/* Descriptors first..last close: epoll sets among them drop what they held. */
void net_epoll_closed(unsigned long first, unsigned long last);

#endif
