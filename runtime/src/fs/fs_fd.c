/* FS shield: virtual fd placeholders.
 *
 * Each virtual fd is backed by a host placeholder so the kernel's fd
 * numbering stays consistent: host fds never collide with virtual ones,
 * dup/dup2/fcntl(F_DUPFD)/close_range/CLOEXEC work on the real numbers, and
 * poll/select/epoll on a virtual fd see an always-ready file (which regular
 * files are).
 *
 * The placeholder is an empty sealed memfd: anonymous, so no host path (a
 * /dev/null the container engine could replace with a file of its own) is
 * ever behind a protected file's descriptor, and sealed against writes and
 * growth, so anything that reached it past the shield would fail instead of
 * handing data to the host.
 *
 * Each process makes one such memfd, its template, moved out of the
 * application's way (a hidden descriptor at FS_TEMPLATE_MIN or above:
 * core/fdtab.h), and each placeholder is a duplicate of it (F_DUPFD: the
 * lowest free number, as open's): one host call per open instead of two.
 * The duplicates share one open file description, whose state the shield
 * never uses (status flags are virtual: fs_v_fcntl; the seals are the
 * same). Where the template cannot be moved up (RLIMIT_NOFILE below it),
 * each placeholder is a memfd of its own, as before.
 *
 * A closed placeholder whose FD_CLOEXEC the shield knows (as opened, never
 * changed since) is kept as a spare (core/fdtab.h) and handed out again by
 * the next open whose number it is: an open and close per request (nginx)
 * then cost no host call. The shield knows the flag from the open's
 * O_CLOEXEC (the fd table's mark); F_SETFD and FIOCLEX/FIONCLEX clear the
 * mark, and so does any other install at the number (dups, SCM_RIGHTS). */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include "fdtab.h"
#include "fs.h"
#include "transport.h"
#include "sys.h"

#define FS_FD_MAX (1 << 20)
#define MFD_CLOEXEC_ 0x0001U
#define MFD_ALLOW_SEALING_ 0x0002U
#define F_ADD_SEALS_ 1033
#define F_SEAL_SEAL_ 0x0001
#define F_SEAL_SHRINK_ 0x0002
#define F_SEAL_GROW_ 0x0004
#define F_SEAL_WRITE_ 0x0008
/* above the protected volumes' directories and the CAS connection */
#define FS_TEMPLATE_MIN 1016

static int template_fd = -1; /* -1: not made yet, -2: none (per-open memfds) */

void fs_fd_forget(int fd)
{
	/* The kernel only hands out a free number: a mapping for it is stale. */
	if (fd >= 0)
		fsv_fd_remove(&fs_g.fs, fs_g.fdt, fd);
}

long fs_fd_sealed_memfd(int cloexec)
{
	long fd = host_syscall(__NR_memfd_create, (long)"scone-vfd", MFD_ALLOW_SEALING_ | (cloexec ? MFD_CLOEXEC_ : 0),
			       0, 0, 0, 0);
	if (fd < 0)
		return fd;
	if (fd >= FS_FD_MAX) { /* Iago: not a plausible descriptor */
		host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
		return -EMFILE;
	}
	long s = host_syscall(__NR_fcntl, fd, F_ADD_SEALS_,
			      F_SEAL_SEAL_ | F_SEAL_SHRINK_ | F_SEAL_GROW_ | F_SEAL_WRITE_, 0, 0, 0);
	if (s < 0) {
		host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
		return s;
	}
	return fd;
}

/* The process's template (made on first use; -1: none). Threads may race
 * to make it: one wins, the others close theirs. A forked child inherits
 * it; an execve's close-on-exec pass leaves it (hidden), the kernel's
 * execve closes it with the rest of the runtime's memory. */
static int fd_template(void)
{
	int t = __atomic_load_n(&template_fd, __ATOMIC_ACQUIRE);
	if (t != -1)
		return t < 0 ? -1 : t;
	long fd = fs_fd_sealed_memfd(1);
	if (fd < 0)
		return -1; /* tried again at the next open */
	long hi = host_syscall(__NR_fcntl, fd, F_DUPFD_CLOEXEC, FS_TEMPLATE_MIN, 0, 0, 0);
	host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
	int want = -1;
	if (hi < FS_TEMPLATE_MIN || hi >= FS_FD_MAX) {
		if (hi >= 0)
			host_syscall(__NR_close, hi, 0, 0, 0, 0, 0);
		__atomic_compare_exchange_n(&template_fd, &want, -2, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
		return -1;
	}
	rt_fdtab_hide((int)hi); /* the runtime's, not the application's */
	if (!__atomic_compare_exchange_n(&template_fd, &want, (int)hi, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		host_syscall(__NR_close, hi, 0, 0, 0, 0, 0);
		return want < 0 ? -1 : want;
	}
	return (int)hi;
}

/* FD_CLOEXEC of the process's virtual descriptors, where the shield knows
 * it: those its open installed (the fd table's mark, which any other
 * install or a remove clears) and whose flag did not change since
 * (fs_fd_cloexec_changed). The value of a marked descriptor is here; the
 * mark bitmap is fs_g.fdt->mark. */
static unsigned long cx_val[FSV_FD_LIVE_WORDS];

void fs_fd_cloexec_changed(int fd) { fsv_fd_unmark(fs_g.fdt, fd); }

int fs_fd_keep_spare(int fd)
{
	if (!fsv_fd_marked(fs_g.fdt, fd))
		return 0;
	unsigned long b = 1UL << ((unsigned)fd % (8 * sizeof(unsigned long)));
	int cloexec = (__atomic_load_n(&cx_val[(unsigned)fd / (8 * sizeof(unsigned long))], __ATOMIC_ACQUIRE) & b) != 0;
	return rt_fdtab_spare_put(fd, cloexec);
}

long fs_fd_placeholder(int cloexec)
{
	long spare = rt_fdtab_spare_take(cloexec);
	if (spare >= 0)
		return spare;
	int t = fd_template();
	if (t < 0)
		return fs_fd_sealed_memfd(cloexec);
	long fd = host_syscall(__NR_fcntl, t, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, 0, 0, 0, 0);
	if (fd >= FS_FD_MAX) { /* Iago: not a plausible descriptor */
		host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
		return -EMFILE;
	}
	return fd;
}

long fs_fd_new(struct fsv_file *f, long fd, int cloexec)
{
	if (fd < 0)
		return fd;
	fs_fd_forget((int)fd);
	int r = fsv_fd_install(&fs_g.fs, fs_g.fdt, (int)fd, f);
	if (r < 0) {
		host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
		return r;
	}
	/* FD_CLOEXEC as opened (fs_fd_keep_spare); installed above, so the
	 * bit is this entry's */
	unsigned long b = 1UL << ((unsigned)fd % (8 * sizeof(unsigned long)));
	unsigned long *w = &cx_val[(unsigned)fd / (8 * sizeof(unsigned long))];
	if (cloexec)
		__atomic_or_fetch(w, b, __ATOMIC_RELEASE);
	else
		__atomic_and_fetch(w, ~b, __ATOMIC_RELEASE);
	fsv_fd_mark(fs_g.fdt, (int)fd);
	return fd;
}
