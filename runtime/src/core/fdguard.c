/* The application's calls on descriptors that are open on the host but
 * not in its view (fdguard.h). */
#include <linux/errno.h>
#include "fdguard.h"
#include "fdtab.h"
#include "getdents.h"
#include "shield.h"
#include "rt_alloc.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"
#include "transport.h"

#define POLLNVAL_ 0x020

struct kpollfd {
	int fd;
	short events, revents;
};

/* Open on the host, closed in the application's view. */
static int not_apps(long fd)
{
	return fd >= 0 && fd < RT_FD_LIMIT && (rt_fdtab_is_spare((int)fd) || rt_fdtab_hidden((int)fd));
}

int rt_fd_closed_in_view(long fd) { return not_apps(fd); }

/* The directory descriptor of an *at call, or -1 where the kernel ignores
 * it (an absolute path). */
static long at_dirfd(long fd, const char *path) { return path && rt_user_ok(path, 1) && path[0] == '/' ? -1 : fd; }

/* The descriptor argument of the common calls on one descriptor, which
 * must be the application's, or -1. */
static long fd_arg(long nr, const long *a)
{
	switch (nr) {
	case __NR_read:
	case __NR_write:
	case __NR_readv:
	case __NR_writev:
	case __NR_pread64:
	case __NR_pwrite64:
	case __NR_preadv:
	case __NR_pwritev:
	case __NR_preadv2:
	case __NR_pwritev2:
	case __NR_lseek:
	case __NR_fstat:
	case __NR_getdents64:
	case __NR_fsync:
	case __NR_fdatasync:
	case __NR_ftruncate:
	case __NR_fchmod:
	case __NR_fchown:
	case __NR_fstatfs:
	case __NR_flock:
	case __NR_fadvise64:
	case __NR_fchdir:
	case __NR_fcntl:
	case __NR_ioctl:
	case __NR_close:
	/* the source of a dup: the host would duplicate the placeholder
	 * (Python's test_os TestInvalidFD.test_dup2) */
	case __NR_dup:
	case __NR_dup2:
	case __NR_dup3:
	case __NR_fallocate:
	case __NR_sync_file_range:
	case __NR_readahead:
	case __NR_fgetxattr:
	case __NR_fsetxattr:
	case __NR_flistxattr:
	case __NR_fremovexattr:
	/* socket calls: a closed number is EBADF, not the memfd's ENOTSOCK */
	case __NR_bind:
	case __NR_connect:
	case __NR_listen:
	case __NR_accept:
	case __NR_accept4:
	case __NR_shutdown:
	case __NR_getsockname:
	case __NR_getpeername:
	case __NR_getsockopt:
	case __NR_setsockopt:
	case __NR_sendto:
	case __NR_recvfrom:
	case __NR_sendmsg:
	case __NR_recvmsg:
		return a[0];
	case __NR_sendfile:
	case __NR_tee:
		return not_apps(a[0]) ? a[0] : a[1];
	case __NR_splice:
	case __NR_copy_file_range:
		return not_apps(a[0]) ? a[0] : a[2];
	case __NR_epoll_wait:
	case __NR_epoll_pwait:
	case __NR_epoll_pwait2:
		return a[0];
	/* the *at calls: their directory, unless the path is absolute (a
	 * NULL path of utimensat, an empty one with AT_EMPTY_PATH: the
	 * descriptor itself) */
	case __NR_newfstatat:
	case __NR_statx:
	case __NR_openat:
	case __NR_openat2:
	case __NR_mkdirat:
	case __NR_mknodat:
	case __NR_unlinkat:
	case __NR_readlinkat:
	case __NR_fchmodat:
	case __NR_fchownat:
	case __NR_faccessat:
	case __NR_faccessat2:
	case __NR_utimensat:
	case __NR_execveat:
	case __NR_name_to_handle_at:
		return at_dirfd(a[0], (const char *)a[1]);
	case __NR_symlinkat:
		return at_dirfd(a[1], (const char *)a[2]);
	case __NR_renameat:
	case __NR_renameat2:
	case __NR_linkat:
		return not_apps(at_dirfd(a[0], (const char *)a[1])) ? a[0] : at_dirfd(a[2], (const char *)a[3]);
	case __NR_mmap:
		return (a[3] & 0x20 /* MAP_ANONYMOUS */) ? -1 : a[4];
	default:
		return -1;
	}
}

/* Digits at *p up to a non-digit: their value (-1 without any), *p moved
 * past them. */
static long digits(const char **p)
{
	long v = -1;
	for (; **p >= '0' && **p <= '9' && v < (1L << 40); (*p)++)
		v = (v < 0 ? 0 : v * 10) + (**p - '0');
	return v;
}

/* Whether host descriptor fd is a directory of the process's own
 * descriptors: /proc/<pid>/fd, /proc/<pid>/fdinfo or the same under
 * /proc/<pid>/task/<tid> of its own pid
 * (the threads share the table), whatever name opened it (/proc/self/fd,
 * /dev/fd, /proc/thread-self/fd). One host call, two when it looks so. */
static int own_fd_dir(long fd)
{
	char path[32], t[64];
	rt_snprintf(path, sizeof path, "/proc/self/fd/%ld", fd);
	long n = host_syscall(__NR_readlinkat, RT_AT_FDCWD, (long)path, (long)t, sizeof t - 1, 0, 0);
	if (n <= 6 || n >= (long)sizeof t - 1)
		return 0;
	t[n] = 0;
	const char *p = t + 6;
	if (rt_strncmp(t, "/proc/", 6))
		return 0;
	long pid = digits(&p);
	if (pid < 0)
		return 0;
	if (!rt_strncmp(p, "/task/", 6)) {
		p += 6;
		if (digits(&p) < 0)
			return 0;
	}
	if (rt_strcmp(p, "/fd") && rt_strcmp(p, "/fdinfo"))
		return 0;
	return pid == host_syscall(__NR_getpid, 0, 0, 0, 0, 0, 0);
}

/* Leaves the records of closed numbers out of the n bytes of getdents64
 * records at buf: the new length, or -EIO for records the host cannot
 * have made. A kept record's d_off becomes that of the records left out
 * after it, so that a seek to it goes on past them. */
static long drop_closed(char *buf, long n)
{
	size_t pos = 0, w = 0;
	long prev = -1;
	struct rt_dirent d;
	int k;
	for (;;) {
		size_t at = pos;
		if ((k = rt_dirent_next(buf, (size_t)n, &pos, &d)) <= 0)
			break;
		long v = rt_parse_ulong(d.name);
		if (v >= 0 && not_apps(v)) {
			if (prev >= 0)
				memcpy(buf + prev + 8, &d.off, sizeof d.off);
		} else {
			if (w != at)
				memmove(buf + w, buf + at, pos - at);
			prev = (long)w;
			w += pos - at;
		}
	}
	return k < 0 ? -EIO : (long)w;
}

/* getdents64 of the process's own descriptor directory: the numbers that
 * are closed in the application's view (spares, the runtime's own) are
 * not listed. A buffer of nothing but those is read past, not returned
 * empty (which would say the end). */
int rt_fd_listing(const long *a, long *ret)
{
	long fd = a[0];
	char *buf = (char *)a[1];
	unsigned long cap = (unsigned long)a[2];
	/* spares come from the FS shield's template, one of the runtime's
	 * own: without any, nothing to leave out (dev mode) */
	if (fd < 0 || fd >= RT_FD_LIMIT || rt_fdtab_next_hidden(0) < 0 || !rt_fdtab_is_open((int)fd) ||
	    cap > (1UL << 30) || !rt_user_ok(buf, cap) || !own_fd_dir(fd))
		return 0;
	for (;;) {
		long n = host_syscall(__NR_getdents64, fd, (long)buf, (long)cap, 0, 0, 0);
		if (n > (long)cap)
			n = -EIO;
		if (n <= 0) {
			*ret = n; /* the end, or the host's error */
			return 1;
		}
		n = drop_closed(buf, n);
		if (n) {
			*ret = n;
			return 1;
		}
	}
}

/* poll and ppoll over a set that names closed numbers: those get
 * POLLNVAL, which counts as ready, so the call returns at once with the
 * others as the host sees them now (a ppoll with a zero timeout, which
 * does not block). */
static int poll_closed(const long *a, long *ret, rt_fd_call_fn call)
{
	struct kpollfd *fds = (struct kpollfd *)a[0];
	unsigned long n = (unsigned long)a[1];
	if (!n || n > (1u << 20) || !rt_user_ok(fds, n * sizeof *fds))
		return 0; /* the host's answer (EINVAL, EFAULT) */
	unsigned long i;
	for (i = 0; i < n && !not_apps(fds[i].fd); i++)
		;
	if (i == n)
		return 0;
	struct kpollfd *h = rt_malloc(n * sizeof *h + n);
	if (!h) {
		*ret = -ENOMEM;
		return 1;
	}
	unsigned char *closed = (unsigned char *)(h + n);
	for (i = 0; i < n; i++) {
		h[i] = fds[i];
		closed[i] = (unsigned char)not_apps(h[i].fd);
		if (closed[i])
			h[i].fd = -1; /* the host leaves it out */
	}
	static const struct {
		long sec, nsec;
	} now;
	const long pa[6] = {(long)h, (long)n, (long)&now, 0, 8, 0};
	long r = call(__NR_ppoll, pa);
	if (r >= 0) {
		r = 0;
		for (i = 0; i < n; i++) {
			fds[i].revents = closed[i] ? POLLNVAL_ : h[i].revents;
			r += fds[i].revents != 0;
		}
	}
	rt_free(h);
	*ret = r;
	return 1;
}

/* select and pselect6 fail with EBADF when a set names a closed number. */
static int select_closed(const long *a, long *ret)
{
	long nfds = a[0];
	if (nfds <= 0 || nfds > RT_FD_LIMIT)
		return 0;
	size_t words = ((size_t)nfds + 63) / 64;
	for (int k = 1; k <= 3; k++) {
		const unsigned long *set = (const unsigned long *)a[k];
		if (!set || !rt_user_ok(set, words * 8))
			continue; /* the host's EFAULT */
		for (size_t w = 0; w < words; w++) {
			unsigned long v = set[w];
			if (w == words - 1 && nfds % 64)
				v &= (1UL << (nfds % 64)) - 1;
			for (; v; v &= v - 1)
				if (not_apps((long)(w * 64 + (size_t)__builtin_ctzl(v)))) {
					*ret = -EBADF;
					return 1;
				}
		}
	}
	return 0;
}

/* close_range is made around the runtime's own descriptors, piece by
 * piece through the shields. */
int rt_fd_guard(long nr, const long *a, long *ret, rt_fd_call_fn call)
{
	if (not_apps(fd_arg(nr, a))) {
		*ret = -EBADF; /* closed, as far as the application can tell */
		return 1;
	}
	switch (nr) {
	case __NR_epoll_ctl:
		if (!not_apps(a[0]) && !not_apps(a[2]))
			return 0;
		*ret = -EBADF;
		return 1;
	case __NR_poll:
	case __NR_ppoll:
		return poll_closed(a, ret, call);
	case __NR_select:
	case __NR_pselect6:
		return select_closed(a, ret);
	case __NR_dup2:
	case __NR_dup3:
		if (!rt_fdtab_hidden((int)a[1]) || a[0] == a[1])
			return 0;
		*ret = -EBUSY; /* as Linux while the number is being opened: try another */
		return 1;
	case __NR_close_range: {
		unsigned long lo = (unsigned long)(unsigned)a[0], hi = (unsigned long)(unsigned)a[1];
		int h = lo < RT_FD_LIMIT ? rt_fdtab_next_hidden((int)lo) : -1;
		if (h < 0 || (unsigned long)h > hi || lo > hi)
			return 0;
		long r = 0;
		for (unsigned long from = lo; from <= hi;) {
			h = from < RT_FD_LIMIT ? rt_fdtab_next_hidden((int)from) : -1;
			unsigned long stop = h < 0 || (unsigned long)h > hi ? hi + 1 : (unsigned long)h; /* exclusive */
			if (stop > from) {
				const long ca[6] = {(long)from, (long)(stop - 1), a[2], 0, 0, 0};
				long k = call(nr, ca);
				if (k < 0 && !r)
					r = k;
			}
			if (stop > hi)
				break;
			from = stop + 1;
		}
		*ret = r;
		return 1;
	}
	default:
		return 0;
	}
}
