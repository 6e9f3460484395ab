/* FS shield: virtual fd placeholders.
 *
 * Each virtual fd is backed by a host placeholder (/dev/null opened O_RDWR)
 * so the kernel's fd numbering stays consistent: host fds never collide with
 * virtual ones, dup/dup2/fcntl(F_DUPFD)/close_range/CLOEXEC work on the real
 * numbers, and poll/select/epoll on a virtual fd see an always-ready file
 * (which regular files are). */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include "fs.h"
#include "transport.h"
#include "sys.h"

#define FS_FD_MAX (1 << 20)

void fs_fd_forget(int fd)
{
	/* The kernel only hands out a free number: a mapping for it is stale. */
	if (fd >= 0)
		fsv_fd_remove(&fs_g.fs, &fs_g.fds, fd);
}

long fs_fd_new(struct fsv_file *f, int cloexec)
{
	long fd = host_syscall(__NR_openat, AT_FDCWD, (long)"/dev/null", O_RDWR | (cloexec ? O_CLOEXEC : 0), 0,
			       0, 0);
	if (fd < 0)
		return fd;
	if (fd >= FS_FD_MAX) { /* Iago: not a plausible descriptor */
		host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
		return -EMFILE;
	}
	fs_fd_forget((int)fd);
	int r = fsv_fd_install(&fs_g.fs, &fs_g.fds, (int)fd, f);
	if (r < 0) {
		host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
		return r;
	}
	return fd;
}
