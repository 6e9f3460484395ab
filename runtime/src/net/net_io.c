/* Network shield: the data calls on a wrapped descriptor (net.h): read,
 * write and their vector, socket and message forms, sendfile and splice.
 *
 * Every call first tries without waiting (tlsconn_read/tlsconn_write over
 * MSG_DONTWAIT host calls). A non-blocking socket (O_NONBLOCK, or
 * MSG_DONTWAIT) returns what that gave, or EAGAIN; a blocking one waits on
 * the host, without the connection's lock, for the events the connection
 * needs (tlsconn_needs: ciphertext to read, records to send), within the
 * socket's SO_RCVTIMEO/SO_SNDTIMEO and the handshake deadline, and tries
 * again. So a handshake runs inside the application's own calls and never
 * blocks a thread whose socket is non-blocking. */
#include <linux/fcntl.h>
#include "net.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "rt_alloc.h"
#include "sys.h"

#define MSG_OOB_ 0x1
#define MSG_PEEK_ 0x2
#define MSG_TRUNC_ 0x20
#define MSG_DONTWAIT_ 0x40
#define MSG_WAITALL_ 0x100
#define MSG_NOSIGNAL_ 0x4000
#define MSG_ERRQUEUE_ 0x2000
#define MSG_MORE_ 0x8000
#define IOV_MAX_ 1024
#define IOV_STACK 16

struct kiovec {
	void *base;
	size_t len;
};

struct kmsghdr {
	void *name;
	int namelen;
	int pad0;
	struct kiovec *iov;
	size_t iovlen;
	void *control;
	size_t controllen;
	int flags;
	int pad1;
};

/* An application iovec array, checked, as the connection's (struct
 * tlsconn_iov has the same layout: the array is used in place once every
 * entry is plausible). */
static long check_iov(const struct kiovec *iov, long n)
{
	if (n < 0 || n > IOV_MAX_)
		return -EINVAL;
	if (n && !rt_user_ok(iov, (size_t)n * sizeof *iov))
		return -EFAULT;
	size_t total = 0;
	for (long i = 0; i < n; i++) {
		if (iov[i].len && !rt_user_ok(iov[i].base, iov[i].len))
			return -EFAULT;
		total += iov[i].len;
		if (total > 0x7ffff000) /* the kernel's MAX_RW_COUNT */
			return -EINVAL;
	}
	return 0;
}

/* The timeout option of the socket (SO_RCVTIMEO 20 / SO_SNDTIMEO 21) as a
 * deadline; 0: none. */
static uint64_t sock_deadline(int fd, int opt)
{
	struct {
		long sec, usec;
	} tv = {0, 0};
	int len = sizeof tv;
	if (host_syscall(__NR_getsockopt, fd, 1 /* SOL_SOCKET */, opt, (long)&tv, (long)&len, 0) < 0)
		return 0;
	if (tv.sec <= 0 && tv.usec <= 0)
		return 0;
	return net_monotonic() + (uint64_t)tv.sec * 1000000000ULL + (uint64_t)tv.usec * 1000ULL;
}

static uint64_t earlier(uint64_t a, uint64_t b) { return !a ? b : !b ? a : a < b ? a : b; }

/* Waits (no lock held) for what c needs, or for want when it needs
 * nothing; updates the socket hints. 1: go on; <= 0: the call's result
 * (-EAGAIN at a timeout, -EINTR, -ETIMEDOUT at the handshake deadline). */
static long wait_for(struct net_conn *c, int fd, unsigned want, uint64_t *deadline, int opt)
{
	net_flush_held(); /* the application waits: held records leave first */
	net_conn_lock(c);
	unsigned needs = c->connecting ? TLSCONN_OUT : tlsconn_needs(&c->t);
	uint64_t hs = c->t.hs_done ? 0 : c->deadline;
	net_conn_unlock(c);
	if (!*deadline)
		*deadline = sock_deadline(fd, opt);
	uint64_t d = earlier(*deadline, hs);
	long w = net_wait(fd, needs ? needs : want, d);
	net_conn_lock(c);
	if (w > 0) {
		if (c->connecting)
			net_connect_done(c, fd);
		c->t.sock_rd = c->t.sock_wr = 1;
	} else if (w == 0 && hs && net_monotonic() >= hs && !c->t.hs_done) {
		c->t.err = -ETIMEDOUT;
		net_conn_failed(c, fd, "the handshake did not complete in time");
		w = -ETIMEDOUT;
	} else if (w == 0) {
		w = -EAGAIN; /* SO_RCVTIMEO / SO_SNDTIMEO */
	}
	net_conn_unlock(c);
	return w > 0 ? 1 : w;
}

/* Reports a failure of the connection once (a diagnostic line). Locked. */
static void check_failed(struct net_conn *c, int fd)
{
	if (c->t.err && !c->reported && c->t.br_err)
		net_conn_failed(c, fd, c->t.hs_done ? "TLS error" : "TLS handshake failed");
}

long net_recv(struct net_conn *c, int fd, const struct tlsconn_iov *iov, int n, int flags)
{
	if (flags & (MSG_OOB_ | MSG_ERRQUEUE_))
		return -EINVAL; /* no urgent data or error queue through TLS */
	size_t want = 0;
	for (int i = 0; i < n; i++)
		want += iov[i].len;
	int peek = (flags & MSG_PEEK_) != 0;
	int waitall = (flags & MSG_WAITALL_) && !peek;
	uint64_t deadline = 0;
	size_t done = 0;
	struct tlsconn_iov local[IOV_STACK], *v = (struct tlsconn_iov *)iov;
	int nv = n;
	for (;;) {
		net_conn_lock(c);
		long r = -EAGAIN;
		if (!c->connecting) {
			r = tlsconn_read(&c->t, &net_io, net_ctx(fd), v, nv, peek ? TLSCONN_PEEK : 0);
			check_failed(c, fd);
			net_conn_settle(c, fd);
		}
		int nonblock = c->nonblock || (flags & MSG_DONTWAIT_);
		net_conn_unlock(c);
		if (r > 0) {
			done += (size_t)r;
			if (!waitall || done == want)
				break;
			/* MSG_WAITALL: the rest of the buffers */
			size_t skip = done;
			int k = 0;
			while (k < n && skip >= iov[k].len)
				skip -= iov[k++].len;
			if (n - k <= IOV_STACK) {
				for (int i = k; i < n; i++)
					local[i - k] = iov[i];
				local[0].base = (char *)local[0].base + skip;
				local[0].len -= skip;
				v = local;
				nv = n - k;
			} else {
				break; /* a short read; the application asks again */
			}
			continue;
		}
		if (r != -EAGAIN || nonblock) {
			if (!done)
				return r;
			break;
		}
		long w = wait_for(c, fd, TLSCONN_IN, &deadline, 20 /* SO_RCVTIMEO */);
		if (w <= 0) {
			if (!done)
				return w;
			break;
		}
	}
	net_epoll_touch(fd);
	return (long)done;
}

/* SIGPIPE for the calling thread, as the kernel sends it for a write to a
 * closed connection without MSG_NOSIGNAL. */
static void sigpipe(void)
{
	long pid = host_syscall(__NR_getpid, 0, 0, 0, 0, 0, 0);
	long tid = host_syscall(__NR_gettid, 0, 0, 0, 0, 0, 0);
	host_syscall(__NR_tgkill, pid, tid, 13 /* SIGPIPE */, 0, 0, 0);
}

long net_send(struct net_conn *c, int fd, const struct tlsconn_iov *iov, int n, int flags)
{
	if (flags & MSG_OOB_)
		return -EOPNOTSUPP;
	size_t want = 0;
	for (int i = 0; i < n; i++)
		want += iov[i].len;
	uint64_t deadline = 0;
	size_t done = 0;
	struct tlsconn_iov local[IOV_STACK], *v = (struct tlsconn_iov *)iov;
	int nv = n;
	long r = 0;
	for (;;) {
		net_conn_lock(c);
		r = -EAGAIN;
		if (!c->connecting) {
			int more = c->corked || (flags & MSG_MORE_);
			r = tlsconn_write(&c->t, &net_io, net_ctx(fd), v, nv, more ? TLSCONN_MORE : 0);
			if (c->t.held)
				net_hold(c, fd);
			check_failed(c, fd);
			net_conn_settle(c, fd);
		}
		int nonblock = c->nonblock || (flags & MSG_DONTWAIT_);
		net_conn_unlock(c);
		if (r > 0) {
			done += (size_t)r;
			if (done == want || nonblock)
				break;
			/* a blocking socket sends everything (the rest of the buffers) */
			size_t skip = done;
			int k = 0;
			while (k < n && skip >= iov[k].len)
				skip -= iov[k++].len;
			if (n - k > IOV_STACK)
				break;
			for (int i = k; i < n; i++)
				local[i - k] = iov[i];
			local[0].base = (char *)local[0].base + skip;
			local[0].len -= skip;
			v = local;
			nv = n - k;
			continue;
		}
		if (r != -EAGAIN || nonblock)
			break;
		long w = wait_for(c, fd, TLSCONN_OUT, &deadline, 21 /* SO_SNDTIMEO */);
		if (w <= 0) {
			r = w;
			break;
		}
	}
	net_epoll_touch(fd);
	if (done)
		return (long)done;
	if (r == -EPIPE && !(flags & MSG_NOSIGNAL_))
		sigpipe();
	return r;
}

/* ---- the calls ---- */

static long do_recv(struct net_conn *c, int fd, const struct kiovec *iov, long n, int flags)
{
	long e = check_iov(iov, n);
	if (e)
		return e;
	return net_recv(c, fd, (const struct tlsconn_iov *)iov, (int)n, flags);
}

static long do_send(struct net_conn *c, int fd, const struct kiovec *iov, long n, int flags)
{
	long e = check_iov(iov, n);
	if (e)
		return e;
	return net_send(c, fd, (const struct tlsconn_iov *)iov, (int)n, flags);
}

static long do_recvmsg(struct net_conn *c, int fd, struct kmsghdr *m, int flags)
{
	if (!rt_user_ok(m, sizeof *m))
		return -EFAULT;
	long r = do_recv(c, fd, m->iov, (long)m->iovlen, flags);
	if (r >= 0) {
		m->namelen = 0; /* a connected stream: no source address */
		m->controllen = 0;
		m->flags = 0;
	}
	return r;
}

static long do_sendmsg(struct net_conn *c, int fd, const struct kmsghdr *m, int flags)
{
	if (!rt_user_ok(m, sizeof *m))
		return -EFAULT;
	return do_send(c, fd, m->iov, (long)m->iovlen, flags);
}

/* struct mmsghdr: a msghdr and the byte count of the message. */
struct kmmsghdr {
	struct kmsghdr hdr;
	unsigned len;
	unsigned pad;
};

static long do_mmsg(struct net_conn *c, int fd, struct kmmsghdr *v, unsigned vlen, int flags, int send)
{
	if (vlen > IOV_MAX_)
		vlen = IOV_MAX_;
	if (vlen && !rt_user_ok(v, vlen * sizeof *v))
		return -EFAULT;
	long done = 0;
	for (unsigned i = 0; i < vlen; i++) {
		long r = send ? do_sendmsg(c, fd, &v[i].hdr, flags) : do_recvmsg(c, fd, &v[i].hdr, flags);
		if (r < 0)
			return done ? done : r;
		v[i].len = (unsigned)r;
		done++;
		if (!send && r == 0)
			break;
		flags |= send ? 0 : MSG_DONTWAIT_; /* recvmmsg waits for the first message only */
	}
	return done;
}

int net_sys_io(const struct sys_call *sc, long *ret)
{
	const long *a = sc->a;
	int fd = (int)a[0];
	struct net_conn *c = net_lookup(fd);
	if (!c)
		return SHIELD_PASS;
	long r;
	struct kiovec one = {(void *)a[1], (size_t)a[2]};
	switch (sc->nr) {
	case __NR_read:
		r = do_recv(c, fd, &one, 1, 0);
		break;
	case __NR_write:
		r = do_send(c, fd, &one, 1, 0);
		break;
	case __NR_readv:
		r = do_recv(c, fd, (const struct kiovec *)a[1], a[2], 0);
		break;
	case __NR_writev:
		r = do_send(c, fd, (const struct kiovec *)a[1], a[2], 0);
		break;
	case __NR_recvfrom:
		r = do_recv(c, fd, &one, 1, (int)a[3]);
		if (r >= 0 && a[5] && rt_user_ok((void *)a[5], sizeof(int)))
			*(int *)a[5] = 0; /* no source address on a connected stream */
		break;
	case __NR_sendto:
		r = do_send(c, fd, &one, 1, (int)a[3]);
		break;
	case __NR_recvmsg:
		r = do_recvmsg(c, fd, (struct kmsghdr *)a[1], (int)a[2]);
		break;
	case __NR_sendmsg:
		r = do_sendmsg(c, fd, (const struct kmsghdr *)a[1], (int)a[2]);
		break;
	case __NR_recvmmsg:
		r = do_mmsg(c, fd, (struct kmmsghdr *)a[1], (unsigned)a[2], (int)a[3], 0);
		break;
	case __NR_sendmmsg:
		r = do_mmsg(c, fd, (struct kmmsghdr *)a[1], (unsigned)a[2], (int)a[3], 1);
		break;
	default: /* positional I/O on a socket */
		r = -ESPIPE;
		break;
	}
	net_conn_put(c);
	return shield_done(ret, r);
}

/* ---- sendfile, splice ---- */

#define CHUNK 16384

/* Bytes the connection takes now without waiting, waiting first when the
 * socket is blocking: > 0, or the call's result. */
static long room(struct net_conn *c, int fd, int nonblock)
{
	uint64_t deadline = 0;
	for (;;) {
		net_conn_lock(c);
		long r = -EAGAIN;
		if (c->t.err)
			r = c->t.err;
		else if (c->t.wr_shut || c->t.rd_closed)
			r = -EPIPE;
		else if (!c->connecting) {
			c->t.sock_wr = 1;
			unsigned ev = tlsconn_pump(&c->t, &net_io, net_ctx(fd), !c->t.hs_done);
			size_t len = 0;
			if ((ev & TLSCONN_OUT) && br_ssl_engine_sendapp_buf(tlsconn_engine(&c->t), &len) && len)
				r = (long)len;
			check_failed(c, fd);
		}
		net_conn_unlock(c);
		if (r != -EAGAIN || nonblock)
			return r;
		long w = wait_for(c, fd, TLSCONN_OUT, &deadline, 21 /* SO_SNDTIMEO */);
		if (w <= 0)
			return w;
	}
}

/* sendfile(wrapped socket, in, offp, count): in is not a protected file
 * (the FS shield serves those and writes through shield_call, which brings
 * its writes here). Reads through the shields, never more than the
 * connection takes at once, so nothing read is lost when the socket is
 * full. */
int net_sys_sendfile(const struct sys_call *sc, long *ret)
{
	int out = (int)sc->a[0], in = (int)sc->a[1];
	struct net_conn *c = net_lookup(out);
	if (!c) {
		struct net_conn *ci = net_lookup(in);
		if (!ci)
			return SHIELD_PASS;
		net_conn_put(ci);
		return shield_done(ret, -EINVAL); /* sendfile reads files, not sockets */
	}
	long *offp = (long *)sc->a[2];
	size_t count = (size_t)sc->a[3];
	long off = -1, err = 0;
	if (offp) {
		if (!rt_user_ok(offp, sizeof *offp)) {
			net_conn_put(c);
			return shield_done(ret, -EFAULT);
		}
		off = *offp;
		if (off < 0) {
			net_conn_put(c);
			return shield_done(ret, -EINVAL);
		}
	}
	char *buf = rt_malloc(CHUNK);
	if (!buf) {
		net_conn_put(c);
		return shield_done(ret, -ENOMEM);
	}
	size_t done = 0;
	while (done < count) {
		net_conn_lock(c);
		int nonblock = c->nonblock;
		net_conn_unlock(c);
		long space = room(c, out, nonblock || done > 0);
		if (space <= 0) {
			err = space;
			break;
		}
		size_t want = count - done;
		if (want > (size_t)space)
			want = (size_t)space;
		if (want > CHUNK)
			want = CHUNK;
		long got = off >= 0 ? shield_call(__NR_pread64, in, (long)buf, (long)want, off, 0, 0) :
				      shield_call(__NR_read, in, (long)buf, (long)want, 0, 0, 0);
		if (got <= 0 || (size_t)got > want) {
			err = got <= 0 ? got : -EIO;
			break;
		}
		struct tlsconn_iov v = {buf, (size_t)got};
		long put = net_send(c, out, &v, 1, MSG_DONTWAIT_ | MSG_NOSIGNAL_);
		if (put < 0)
			put = 0;
		if (put < got && off < 0) /* give back what did not go (offset of in) */
			shield_call(__NR_lseek, in, put - got, 1 /* SEEK_CUR */, 0, 0, 0);
		done += (size_t)put;
		if (off >= 0)
			off += put;
		if (put < got || (size_t)got < want)
			break;
	}
	rt_free(buf);
	net_conn_put(c);
	if (offp)
		*offp = off;
	if (!done && err == -EPIPE)
		sigpipe();
	return shield_done(ret, done ? (long)done : err);
}

/* splice between a pipe and a wrapped socket. To the socket: never more
 * than it takes at once (a pipe cannot be given back). From the socket: the
 * plaintext is peeked, written to the pipe, and only what the pipe took is
 * consumed. */
int net_sys_splice(const struct sys_call *sc, long *ret)
{
	int in = (int)sc->a[0], out = (int)sc->a[2];
	size_t len = (size_t)sc->a[4];
	int nonblock_flag = (sc->a[5] & 2 /* SPLICE_F_NONBLOCK */) != 0;
	struct net_conn *co = net_lookup(out), *ci = co ? NULL : net_lookup(in);
	if (!co && !ci)
		return SHIELD_PASS;
	if ((co && sc->a[3]) || (ci && sc->a[1]) || (co && net_fd_known(in)) || (ci && net_fd_known(out))) {
		net_conn_put(co ? co : ci);
		return shield_done(ret, -ESPIPE); /* offsets of a socket; socket to socket */
	}
	if (len > CHUNK)
		len = CHUNK;
	char *buf = rt_malloc(CHUNK);
	long r;
	if (!buf) {
		r = -ENOMEM;
	} else if (co) {
		net_conn_lock(co);
		int nonblock = co->nonblock || nonblock_flag;
		net_conn_unlock(co);
		r = room(co, out, nonblock);
		if (r > 0) {
			if ((size_t)r < len)
				len = (size_t)r;
			r = shield_call(__NR_read, in, (long)buf, (long)len, 0, 0, 0);
			if (r > (long)len)
				r = -EIO;
			if (r > 0) {
				struct tlsconn_iov v = {buf, (size_t)r};
				r = net_send(co, out, &v, 1, MSG_DONTWAIT_);
			}
		}
	} else {
		struct tlsconn_iov v = {buf, len};
		net_conn_lock(ci);
		int nonblock = ci->nonblock || nonblock_flag;
		net_conn_unlock(ci);
		r = net_recv(ci, in, &v, 1, MSG_PEEK_ | (nonblock ? MSG_DONTWAIT_ : 0));
		if (r > 0) {
			long w = shield_call(__NR_write, out, (long)buf, r, 0, 0, 0);
			if (w > 0 && w <= r) {
				v.len = (size_t)w;
				net_recv(ci, in, &v, 1, MSG_DONTWAIT_);
			}
			r = w > r ? -EIO : w;
		}
	}
	rt_free(buf);
	net_conn_put(co ? co : ci);
	return shield_done(ret, r);
}
