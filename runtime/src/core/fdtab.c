/* Open descriptor table and its Iago checks (fdtab.h). */
#include "fdtab.h"
#include "getdents.h"
#include "locks.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

#define WORDS (RT_FD_LIMIT / 64)
static unsigned long bits[WORDS];
static unsigned long hidden[WORDS]; /* the runtime's own (rt_fdtab_hide) */
/* Words past top are 0 in both maps: loops stop there, so that a forked
 * child does not write (copy) 256 KiB of bitmaps it never used. Grows
 * only. */
static int top;

static void grow(int fd)
{
	int w = fd / 64, t = __atomic_load_n(&top, __ATOMIC_RELAXED);
	while (w > t && !__atomic_compare_exchange_n(&top, &t, w, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		;
}

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif
#ifndef __NR_open_tree
#define __NR_open_tree 428
#endif
#ifndef __NR_fsopen
#define __NR_fsopen 430
#endif
#ifndef __NR_fsmount
#define __NR_fsmount 432
#endif
#ifndef __NR_fspick
#define __NR_fspick 433
#endif
#ifndef __NR_memfd_secret
#define __NR_memfd_secret 447
#endif
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif

int rt_fdtab_is_open(int fd)
{
	if (fd < 0 || fd >= RT_FD_LIMIT)
		return 0;
	return (__atomic_load_n(&bits[fd / 64], __ATOMIC_ACQUIRE) >> (fd % 64)) & 1;
}

static void set_open(int fd)
{
	grow(fd);
	__atomic_fetch_or(&bits[fd / 64], 1UL << (fd % 64), __ATOMIC_ACQ_REL);
}

static void set_closed(long fd)
{
	if (fd >= 0 && fd < RT_FD_LIMIT) {
		__atomic_fetch_and(&bits[fd / 64], ~(1UL << (fd % 64)), __ATOMIC_ACQ_REL);
		__atomic_fetch_and(&hidden[fd / 64], ~(1UL << (fd % 64)), __ATOMIC_ACQ_REL);
	}
}

void rt_fdtab_hide(int fd)
{
	if (fd >= 0 && fd < RT_FD_LIMIT) {
		grow(fd);
		__atomic_fetch_or(&hidden[fd / 64], 1UL << (fd % 64), __ATOMIC_ACQ_REL);
	}
}

int rt_fdtab_hidden(int fd)
{
	if (fd < 0 || fd >= RT_FD_LIMIT)
		return 0;
	return (__atomic_load_n(&hidden[fd / 64], __ATOMIC_ACQUIRE) >> (fd % 64)) & 1;
}

static int next_in(const unsigned long *map, int from)
{
	if (from < 0)
		from = 0;
	for (int w = from / 64, t = __atomic_load_n(&top, __ATOMIC_ACQUIRE); w <= t; w++) {
		unsigned long v = __atomic_load_n(&map[w], __ATOMIC_ACQUIRE);
		if (w == from / 64)
			v &= ~0UL << (from % 64);
		if (v)
			return w * 64 + __builtin_ctzl(v);
	}
	return -1;
}

int rt_fdtab_next_hidden(int from) { return next_in(hidden, from); }

void rt_fdtab_new(long fd, const char *what)
{
	if (fd < 0 || fd >= RT_FD_LIMIT)
		rt_fatal(RT_EX_SOFTWARE, "host returned an impossible result for %s: descriptor %ld is out of range",
			 what, fd);
	grow((int)fd);
	unsigned long old = __atomic_fetch_or(&bits[fd / 64], 1UL << (fd % 64), __ATOMIC_ACQ_REL);
	if ((old >> (fd % 64)) & 1)
		rt_fatal(
			RT_EX_SOFTWARE,
			"host returned an impossible result for %s: descriptor %ld is already open (the kernel hands out "
			"only free numbers): refusing to continue",
			what, fd);
}

int rt_fdtab_next(int from) { return next_in(bits, from); }

/* ---- spare placeholders (fdtab.h) ---- */

static int spares[RT_FD_SPARES];
static unsigned char spare_cx[RT_FD_SPARES];
static int nspares; /* read without the lock for the common "none" */

static int spare_index(int fd)
{
	for (int i = 0; i < nspares; i++)
		if (spares[i] == fd)
			return i;
	return -1;
}

static void spare_remove(int i)
{
	int last = nspares - 1;
	__atomic_store_n(&spares[i], spares[last], __ATOMIC_RELAXED);
	spare_cx[i] = spare_cx[last];
	__atomic_store_n(&nspares, last, __ATOMIC_RELEASE);
}

int rt_fdtab_is_spare(int fd)
{
	/* without the lock (every call on a descriptor asks): the entries are
	 * stored atomically; a call racing with the number's reuse by another
	 * thread may see either state, as it would race with the open */
	int n = __atomic_load_n(&nspares, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n && i < RT_FD_SPARES; i++)
		if (__atomic_load_n(&spares[i], __ATOMIC_RELAXED) == fd)
			return 1;
	return 0;
}

int rt_fdtab_spare_put(int fd, int cloexec)
{
	if (!rt_fdtab_is_open(fd))
		return 0;
	rt_lock(&rt_spare_lock);
	int kept = nspares < RT_FD_SPARES && spare_index(fd) < 0;
	if (kept) {
		__atomic_store_n(&spares[nspares], fd, __ATOMIC_RELAXED);
		spare_cx[nspares] = (unsigned char)(cloexec != 0);
		__atomic_store_n(&nspares, nspares + 1, __ATOMIC_RELEASE);
	}
	rt_unlock(&rt_spare_lock);
	return kept;
}

/* The lowest descriptor that is not open. */
static int first_closed(void)
{
	for (int w = 0; w < WORDS; w++) {
		unsigned long v = ~__atomic_load_n(&bits[w], __ATOMIC_ACQUIRE);
		if (v)
			return w * 64 + __builtin_ctzl(v);
	}
	return RT_FD_LIMIT;
}

int rt_fdtab_spare_take(int cloexec)
{
	if (!__atomic_load_n(&nspares, __ATOMIC_ACQUIRE))
		return -1;
	rt_lock(&rt_spare_lock);
	int best = -1;
	for (int i = 0; i < nspares; i++)
		if (best < 0 || spares[i] < spares[best])
			best = i;
	int fd = -1;
	/* the lowest spare, when no number below it is free (every spare is
	 * open: the lowest free number otherwise lies below the lowest spare) */
	if (best >= 0 && spare_cx[best] == (cloexec != 0) && first_closed() > spares[best]) {
		fd = spares[best];
		spare_remove(best);
	}
	rt_unlock(&rt_spare_lock);
	return fd;
}

int rt_fdtab_spares_take_all(int fds[RT_FD_SPARES])
{
	if (!__atomic_load_n(&nspares, __ATOMIC_ACQUIRE))
		return 0;
	rt_lock(&rt_spare_lock);
	int n = nspares;
	memcpy(fds, spares, sizeof spares);
	__atomic_store_n(&nspares, 0, __ATOMIC_RELEASE);
	rt_unlock(&rt_spare_lock);
	return n;
}

/* A dup2/dup3 onto a spare replaces it on the host: it is no longer one. */
static void spare_replaced(int fd)
{
	if (!__atomic_load_n(&nspares, __ATOMIC_ACQUIRE))
		return;
	rt_lock(&rt_spare_lock);
	int i = spare_index(fd);
	if (i >= 0)
		spare_remove(i);
	rt_unlock(&rt_spare_lock);
}

/* Whether a spare lies in [lo, hi]. */
static int spare_in(unsigned long lo, unsigned long hi)
{
	if (!__atomic_load_n(&nspares, __ATOMIC_ACQUIRE))
		return 0;
	rt_lock(&rt_spare_lock);
	int r = 0;
	for (int i = 0; i < nspares; i++)
		r |= (unsigned long)spares[i] >= lo && (unsigned long)spares[i] <= hi;
	rt_unlock(&rt_spare_lock);
	return r;
}

/* Whether call nr returns one new descriptor. */
static int returns_new_fd(long nr)
{
	switch (nr) {
	case __NR_open:
	case __NR_openat:
	case __NR_openat2:
	case __NR_creat:
	case __NR_socket:
	case __NR_accept:
	case __NR_accept4:
	case __NR_dup:
	case __NR_epoll_create:
	case __NR_epoll_create1:
	case __NR_eventfd:
	case __NR_eventfd2:
	case __NR_timerfd_create:
	case __NR_memfd_create:
	case __NR_inotify_init:
	case __NR_inotify_init1:
	case __NR_fanotify_init:
	case __NR_pidfd_open:
	case __NR_pidfd_getfd:
	case __NR_userfaultfd:
	case __NR_perf_event_open:
	case __NR_open_tree:
	case __NR_fsopen:
	case __NR_fspick:
	case __NR_fsmount:
	case __NR_mq_open:
	case __NR_memfd_secret:
	case __NR_open_by_handle_at:
	case __NR_landlock_create_ruleset:
		return 1;
	default:
		return 0;
	}
}

/* Whether a host call may create a descriptor (rt_fdtab_after's calls, and
 * the receiving calls, whose control data may bring some). */
static int creates_fd(long nr, const long *a)
{
	if (returns_new_fd(nr))
		return 1;
	switch (nr) {
	case __NR_signalfd:
	case __NR_signalfd4:
	case __NR_pipe:
	case __NR_pipe2:
	case __NR_socketpair:
	case __NR_recvmsg: /* SCM_RIGHTS: without reading the message */
	case __NR_recvmmsg:
	case __NR_io_uring_setup:
		return 1;
	case __NR_fcntl:
		return a[1] == 0 /* F_DUPFD */ || a[1] == 1030 /* F_DUPFD_CLOEXEC */;
	default:
		return 0;
	}
}

/* Calls fn(fd) for every descriptor /proc/self/fd lists. */
static void scan(void (*fn)(int fd))
{
	long dfd = rt_sys4(__NR_openat, RT_AT_FDCWD, "/proc/self/fd", 0200000 /* O_DIRECTORY */ | RT_O_CLOEXEC, 0);
	if (dfd < 0)
		rt_fatal(RT_EX_OSERR, "cannot list /proc/self/fd: error %ld", -dfd);
	char buf[4096];
	for (;;) {
		long n = rt_sys3(__NR_getdents64, dfd, buf, sizeof buf);
		if (n == -RT_EINTR)
			continue;
		if (n <= 0)
			break;
		if ((size_t)n > sizeof buf)
			rt_fatal(RT_EX_SOFTWARE, "host returned more directory data than asked for /proc/self/fd");
		size_t pos = 0;
		struct rt_dirent d;
		int r;
		while ((r = rt_dirent_next(buf, (size_t)n, &pos, &d)) > 0) {
			long v = rt_parse_ulong(d.name);
			if (v >= 0 && v != dfd && v < RT_FD_LIMIT)
				fn((int)v);
		}
		if (r < 0)
			rt_fatal(RT_EX_SOFTWARE, "host returned a malformed listing of /proc/self/fd");
	}
	rt_sys1(__NR_close, dfd);
}

void rt_fdtab_init(void)
{
	/* hidden stays: shields set up before the program hid theirs */
	memset(bits, 0, sizeof(bits[0]) * (size_t)(top + 1));
	scan(set_open);
}

/* The child's own table, built while no other thread exists; 0 past top
 * between two forks. */
static unsigned long listed[WORDS];
static void mark_listed(int fd)
{
	grow(fd);
	listed[fd / 64] |= 1UL << (fd % 64);
}

void rt_fdtab_fork_child(int (*owned)(int fd))
{
	/* The kernel copies the descriptor table before the memory: another
	 * thread of the parent may have opened or closed a descriptor in
	 * between, so the inherited bitmap can be off by those calls. The
	 * child's table is the kernel's listing, except that a descriptor a
	 * shield holds state for must be in it (else the host lies). */
	scan(mark_listed);
	for (int w = 0; w <= top; w++) {
		unsigned long gone = bits[w] & ~listed[w];
		while (gone) {
			int fd = w * 64 + __builtin_ctzl(gone);
			gone &= gone - 1;
			if (owned && owned(fd))
				rt_fatal(RT_EX_SOFTWARE,
					 "host lists the open descriptors of the forked child without %d, which the "
					 "runtime's shields hold: refusing to continue",
					 fd);
		}
		/* written only where they change: an untouched page is not copied */
		if (bits[w] != listed[w])
			bits[w] = listed[w];
		if (hidden[w] & ~listed[w])
			hidden[w] &= listed[w];
		if (listed[w])
			listed[w] = 0;
	}
}

int rt_fdtab_spares_before(long nr, const long *a, int fds[RT_FD_SPARES])
{
	if (!__atomic_load_n(&nspares, __ATOMIC_ACQUIRE))
		return 0;
	if (creates_fd(nr, a) ||
	    (nr == __NR_close_range && spare_in((unsigned long)(unsigned)a[0], (unsigned long)(unsigned)a[1])))
		return rt_fdtab_spares_take_all(fds);
	if (nr == __NR_dup2 || nr == __NR_dup3)
		spare_replaced((int)a[1]);
	return 0;
}

void rt_fdtab_before(long nr, const long *a)
{
	switch (nr) {
	case __NR_close:
		set_closed(a[0]);
		break;
	case __NR_close_range:
		if (!(a[2] & 4 /* CLOSE_RANGE_CLOEXEC */)) {
			unsigned long lo = (unsigned long)a[0], hi = (unsigned long)a[1];
			for (unsigned long fd = lo; fd <= hi && fd < RT_FD_LIMIT; fd++)
				set_closed((long)fd);
		}
		break;
	}
}

/* Two descriptors the kernel wrote into the application's int[2]. */
static void new_pair(const long p, const char *what)
{
	if (!p)
		return;
	int fds[2];
	memcpy(fds, (const void *)p, sizeof fds);
	rt_fdtab_new(fds[0], what);
	rt_fdtab_new(fds[1], what);
}

void rt_fdtab_after(long nr, const long *a, long r)
{
	if (r < 0)
		return;
	if (returns_new_fd(nr)) {
		rt_fdtab_new(r, "a call that creates a descriptor");
		return;
	}
	switch (nr) {
	case __NR_signalfd:
	case __NR_signalfd4:
		/* the descriptor argument is an int: the kernel reads the low 32
		 * bits of the register (glibc passes -1 zero-extended) */
		if ((int)a[0] == -1)
			rt_fdtab_new(r, "signalfd");
		else if (r != (int)a[0])
			rt_fatal(RT_EX_SOFTWARE,
				 "host returned an impossible result for signalfd: %ld for descriptor %d", r,
				 (int)a[0]);
		break;
	case __NR_fcntl:
		if (a[1] == 0 /* F_DUPFD */ || a[1] == 1030 /* F_DUPFD_CLOEXEC */) {
			if (r < a[2])
				rt_fatal(RT_EX_SOFTWARE,
					 "host returned an impossible result for fcntl(F_DUPFD, %ld): %ld", a[2], r);
			rt_fdtab_new(r, "fcntl(F_DUPFD)");
		}
		break;
	case __NR_dup2:
	case __NR_dup3:
		if (r != a[1])
			rt_fatal(RT_EX_SOFTWARE, "host returned an impossible result for dup2/dup3 to %ld: %ld", a[1],
				 r);
		if (r >= RT_FD_LIMIT)
			rt_fatal(RT_EX_SOFTWARE, "host returned an impossible result for dup2/dup3: %ld out of range",
				 r);
		set_open((int)r); /* replaces whatever was there, as the kernel does */
		break;
	case __NR_pipe:
	case __NR_pipe2:
		if (r == 0)
			new_pair(a[0], "pipe");
		break;
	case __NR_socketpair:
		if (r == 0)
			new_pair(a[3], "socketpair");
		break;
	}
}
