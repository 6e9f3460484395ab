/* Console shield: stdout/stderr as authenticated encrypted records
 * (runtime/lib/console.c, format in docs/console.md).
 *
 * At init the shield keeps the console key (derived from the FS key, which
 * it does not keep), the enclave's MRENCLAVE and a fresh run nonce from the
 * CPU's generator (random.h), and opens the run's root sessions, whose
 * headers it writes at once: every log of the run begins with them. A
 * forked child names its parent's nonce and its fork counter in the headers
 * of its own sessions. The descriptors that refer to the original stdout and
 * stderr are tracked through dup/dup2/dup3/fcntl(F_DUPFD*)/close/close_range;
 * write/writev/sendfile to them become records; exit_group writes the final
 * records. One lock serializes the streams so records never interleave. */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include "shield.h"
#include "random.h"
#include "console.h"
#include "econfig.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "rt_alloc.h"
#include "sys.h"

#define CON_MAXFD 4096

static struct {
	volatile int lock;
	int enabled;
	struct console_stream *s[3];  /* [CONSOLE_STDOUT], [CONSOLE_STDERR] */
	uint8_t key[CONSOLE_KEY_LEN]; /* the console key: a forked child opens new sessions */
	struct console_origin origin; /* this process's place in the run */
	int have_nonce;		      /* origin.nonce drawn (a forked child draws it on first use) */
	uint64_t forks;		      /* forks this process started: the last child's fork counter */
	uint8_t lazy[3];	      /* forked child: the stream's new session is not open yet */
	uint8_t stream_of[CON_MAXFD]; /* fd -> stream id, 0: not a console fd */
} con;

static void con_lock(void)
{
	unsigned spins = 0;
	while (__atomic_exchange_n(&con.lock, 1, __ATOMIC_ACQUIRE)) {
		if (++spins < 1000) {
			__builtin_ia32_pause();
		} else {
			host_syscall(__NR_sched_yield, 0, 0, 0, 0, 0, 0);
			spins = 0;
		}
	}
}

static void con_unlock(void) { __atomic_store_n(&con.lock, 0, __ATOMIC_RELEASE); }

static int stream_of(long fd) { return fd >= 0 && fd < CON_MAXFD ? con.stream_of[fd] : 0; }

/* 16 bytes from the CPU's generator (random.h): the host chooses none. */
static int session_nonce(uint8_t out[CONSOLE_NONCE_LEN])
{
	rt_random(out, CONSOLE_NONCE_LEN);
	return 0;
}

/* Writes all of buf to the host fd (ctx), waiting out EAGAIN, retrying EINTR. */
static long emit(void *ctx, const void *buf, size_t len);

static int console_shield_init(const struct shield_env *env)
{
	const struct econfig *cfg = env->cfg;
	memset(&con, 0, sizeof con);
	if (!cfg || !cfg->console_shield || !env->fs_key || !env->mrenclave)
		return 0;
	struct console_origin *o = &con.origin;
	memcpy(o->mrenclave, env->mrenclave, sizeof o->mrenclave);
	int r = session_nonce(o->run_nonce);
	if (r < 0)
		return r;
	memcpy(o->nonce, o->run_nonce, CONSOLE_NONCE_LEN); /* the root's nonce is the run nonce */
	con.have_nonce = 1;
	console_derive_key(env->fs_key, con.key);
	for (int id = CONSOLE_STDOUT; id <= CONSOLE_STDERR; id++) {
		con.s[id] = console_open(con.key, (uint8_t)id, o);
		if (!con.s[id])
			return -ENOMEM;
		/* The root header first, before any process of the run can write:
		 * a log that does not begin with it lost its start. If it cannot be
		 * written now (fd closed), it goes with the first record. */
		console_start(con.s[id], emit, (void *)(long)id);
	}
	con.stream_of[1] = CONSOLE_STDOUT;
	con.stream_of[2] = CONSOLE_STDERR;
	con.enabled = 1;
	return 0;
}

/* This process's nonce, drawn on first use in a forked child (lock held):
 * 0 when it cannot be (then the child's sessions cannot open). */
static int have_nonce(void)
{
	if (!con.have_nonce) {
		if (session_nonce(con.origin.nonce) < 0)
			return 0;
		/* console_open refuses a child origin whose nonce is zero or the
		 * run's or the parent's: draw again (2^-128) rather than fail */
		con.have_nonce = console_origin_valid(&con.origin);
	}
	return con.have_nonce;
}

/* ---- fork (shield.h fork hooks) ----
 * A forked child must not continue its parent's sessions (the decoder
 * would see the same sequence numbers twice): it starts a new session per
 * stream, whose header names its own fresh nonce, its parent's nonce and
 * its fork counter (it is its parent's n-th fork). Parent and child then
 * write records to the same pipe or file, so from the first fork on every
 * record is written with one write of at most PIPE_BUF bytes (header
 * included), which the kernel does not interleave with another process's
 * write to a pipe. */
static void console_fork_prepare(void)
{
	if (!con.enabled)
		return;
	con_lock();
	/* The child names this process's nonce (drawn now if this process is a
	 * child that has not needed it yet) and the fork counter, counted here
	 * under the lock: concurrent forks get distinct counters; a failed fork
	 * uses one up. */
	have_nonce();
	con.forks++;
}

static void console_fork_parent(long pid)
{
	if (!con.enabled)
		return;
	for (int id = CONSOLE_STDOUT; pid > 0 && id <= CONSOLE_STDERR; id++)
		console_set_max_record(con.s[id], CONSOLE_PIPE_RECORD);
	con_unlock();
}

static void console_fork_child(void)
{
	if (!con.enabled)
		return;
	/* The new sessions are opened on first use (most children of a shell
	 * write to pipes or exec at once): a child that never writes to the
	 * console adds nothing to the log. */
	for (int id = CONSOLE_STDOUT; id <= CONSOLE_STDERR; id++) {
		console_drop(con.s[id]); /* the parent's session: keys wiped, no final record */
		con.s[id] = NULL;
		con.lazy[id] = 1;
	}
	struct console_origin *o = &con.origin;
	memcpy(o->parent_nonce, o->nonce, CONSOLE_NONCE_LEN); /* zero if the parent had none: no sessions */
	o->fork_counter = con.forks;
	memset(o->nonce, 0, CONSOLE_NONCE_LEN);
	con.have_nonce = 0; /* drawn on first use */
	con.forks = 0;
	con_unlock();
}

/* The stream of id, opening a forked child's new session (lock held).
 * NULL (no randomness, no memory): writes fail with EINVAL, never in
 * plaintext. */
static struct console_stream *stream(int id)
{
	if (con.lazy[id]) {
		con.lazy[id] = 0;
		con.s[id] = have_nonce() ? console_open(con.key, (uint8_t)id, &con.origin) : NULL;
		console_set_max_record(con.s[id], CONSOLE_PIPE_RECORD);
	}
	return con.s[id];
}

static long emit(void *ctx, const void *buf, size_t len)
{
	long fd = (long)ctx;
	size_t done = 0;
	while (done < len) {
		long w = host_syscall(__NR_write, fd, (long)((const char *)buf + done), (long)(len - done), 0, 0, 0);
		if (w == -EINTR)
			continue;
		if (w == -EAGAIN) {
			struct {
				int fd;
				short events, revents;
			} p = {(int)fd, 4 /* POLLOUT */, 0};
			host_syscall(__NR_poll, (long)&p, 1, -1, 0, 0, 0);
			continue;
		}
		if (w < 0)
			return w;
		if (w == 0 || (size_t)w > len - done)
			return -EIO; /* Iago */
		done += (size_t)w;
	}
	return 0;
}

static long con_write(long fd, int id, const void *buf, size_t n)
{
	if (n && !rt_user_ok(buf, n))
		return -EFAULT;
	return console_write(stream(id), buf, n, emit, (void *)fd);
}

static void console_fd_dup(int oldfd, int newfd)
{
	if (!con.enabled || newfd < 0)
		return;
	con_lock();
	int id = stream_of(oldfd);
	if (newfd < CON_MAXFD)
		con.stream_of[newfd] = (uint8_t)id;
	con_unlock();
}

static int console_fd_is_console(int fd) { return con.enabled && stream_of(fd) != 0; }

static void console_fd_close(int fd)
{
	if (!con.enabled || fd < 0 || fd >= CON_MAXFD)
		return;
	con_lock();
	con.stream_of[fd] = 0;
	con_unlock();
}

/* A diagnostic line (rt_diag) goes to stderr as a record, so that it
 * neither breaks the record stream nor appears in plaintext. */
static int console_diag(const char *msg, size_t len)
{
	if (!con.enabled)
		return 0;
	con_lock();
	long r = console_write(stream(CONSOLE_STDERR), msg, len, emit, (void *)2L);
	con_unlock();
	return r >= 0;
}

/* sendfile(console, in, ...): read through the shields, write as records. */
static long con_sendfile(const struct sys_call *c, int id)
{
	long *offp = (long *)c->a[2];
	size_t count = (size_t)c->a[3];
	if (offp && !rt_user_ok(offp, sizeof *offp))
		return -EFAULT;
	long off = offp ? *offp : -1;
	if (offp && off < 0)
		return -EINVAL;
	const size_t chunk = 64 << 10;
	char *buf = rt_malloc(chunk);
	if (!buf)
		return -ENOMEM;
	size_t done = 0;
	long err = 0;
	while (done < count) {
		size_t want = count - done < chunk ? count - done : chunk;
		long got = off >= 0 ? shield_call(__NR_pread64, c->a[1], (long)buf, (long)want, off, 0, 0) :
				      shield_call(__NR_read, c->a[1], (long)buf, (long)want, 0, 0, 0);
		if (got <= 0 || (size_t)got > want) {
			err = got <= 0 ? got : -EIO;
			break;
		}
		con_lock();
		long w = console_write(stream(id), buf, (size_t)got, emit, (void *)c->a[0]);
		con_unlock();
		if (w < 0) {
			err = w;
			break;
		}
		done += (size_t)got;
		if (off >= 0)
			off += got;
		if ((size_t)got < want)
			break;
	}
	rt_free(buf);
	if (offp)
		*offp = off;
	return done ? (long)done : err;
}

static int con_dup(const struct sys_call *c, long *ret)
{
	int old = (int)c->a[0];
	int fcntl_dup = c->nr == __NR_fcntl;
	int newfd = (c->nr == __NR_dup || fcntl_dup) ? -1 : (int)c->a[1];
	if (!stream_of(old) && !stream_of(newfd))
		return SHIELD_PASS;
	long r = host_syscall(c->nr, c->a[0], c->a[1], c->a[2], 0, 0, 0);
	if (r >= 0) {
		if (r >= CON_MAXFD && stream_of(old)) {
			/* cannot track it: never let a console fd escape unshielded */
			host_syscall(__NR_close, r, 0, 0, 0, 0, 0);
			*ret = -EMFILE;
			return SHIELD_DONE;
		}
		if (newfd < 0 || r == newfd)
			console_fd_dup(old, (int)r);
	}
	*ret = r;
	return SHIELD_DONE;
}

static int console_shield(const struct sys_call *c, long *ret)
{
	if (!con.enabled)
		return SHIELD_PASS;
	const long *a = c->a;
	int id;
	switch (c->nr) {
	case __NR_write:
		if (!(id = stream_of(a[0])))
			return SHIELD_PASS;
		con_lock();
		*ret = con_write(a[0], id, (const void *)a[1], (size_t)a[2]);
		con_unlock();
		return SHIELD_DONE;
	case __NR_writev: {
		if (!(id = stream_of(a[0])))
			return SHIELD_PASS;
		const struct {
			const void *base;
			size_t len;
		} *iov = (const void *)a[1];
		long cnt = a[2], total = 0;
		if (cnt < 0 || cnt > 1024) {
			*ret = -EINVAL;
			return SHIELD_DONE;
		}
		if (!rt_user_ok(iov, (size_t)cnt * sizeof *iov)) {
			*ret = -EFAULT;
			return SHIELD_DONE;
		}
		con_lock();
		for (long i = 0; i < cnt; i++) {
			long w = con_write(a[0], id, iov[i].base, iov[i].len);
			if (w < 0) {
				total = total ? total : w;
				break;
			}
			total += w;
		}
		con_unlock();
		*ret = total;
		return SHIELD_DONE;
	}
	case __NR_pwrite64:
	case __NR_pwritev:
	case __NR_pwritev2:
	case __NR_splice:
	case __NR_tee:
	case __NR_vmsplice:
	case __NR_copy_file_range: {
		int fdi = c->nr == __NR_splice || c->nr == __NR_copy_file_range ? 2 : c->nr == __NR_tee ? 1 : 0;
		if (!stream_of(a[fdi]))
			return SHIELD_PASS;
		/* positional or zero-copy output would bypass the records */
		*ret = c->nr == __NR_pwrite64 || c->nr == __NR_pwritev || c->nr == __NR_pwritev2 ? -ESPIPE : -EINVAL;
		return SHIELD_DONE;
	}
	case __NR_sendfile:
		if (!(id = stream_of(a[0])))
			return SHIELD_PASS;
		*ret = con_sendfile(c, id);
		return SHIELD_DONE;
	case __NR_dup:
	case __NR_dup2:
	case __NR_dup3:
		return con_dup(c, ret);
	case __NR_fcntl:
		if (a[1] != F_DUPFD && a[1] != F_DUPFD_CLOEXEC)
			return SHIELD_PASS;
		return con_dup(c, ret);
	case __NR_close:
		console_fd_close((int)a[0]);
		return SHIELD_PASS;
	case __NR_close_range:
		if (!(a[2] & 4 /* CLOSE_RANGE_CLOEXEC */)) {
			con_lock();
			for (unsigned long fd = (unsigned long)a[0]; fd < CON_MAXFD && fd <= (unsigned long)a[1]; fd++)
				con.stream_of[fd] = 0;
			con_unlock();
		}
		return SHIELD_PASS;
	case __NR_exit_group:
		con_lock();
		for (id = CONSOLE_STDOUT; id <= CONSOLE_STDERR; id++) {
			/* the final record goes to a descriptor still on the stream
			 * (the original one first); none left: the session ends
			 * without it, which the decoder reports as truncated */
			long fd = -1;
			if (con.stream_of[id] == id)
				fd = id;
			for (long i = 0; fd < 0 && i < CON_MAXFD; i++)
				if (con.stream_of[i] == id)
					fd = i;
			if (fd >= 0 && !con.lazy[id]) /* a child's unused session was never opened */
				console_finish(con.s[id], emit, (void *)fd);
		}
		con_unlock();
		return SHIELD_PASS;
	default:
		return SHIELD_PASS;
	}
}

static int console_active(void) { return con.enabled; }

const struct shield_ops console_shield_ops = {
	.name = "console",
	.order = 20,
	.init = console_shield_init,
	.call = console_shield,
	.active = console_active,
	.fork_prepare = console_fork_prepare,
	.fork_parent = console_fork_parent,
	.fork_child = console_fork_child,
	.fd_gone = console_fd_close,
	.fd_dup = console_fd_dup,
	.owns_fd = console_fd_is_console,
	.diag = console_diag,
};
RT_SHIELD(console_shield_ops);
