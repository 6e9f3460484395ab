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
 * handing data to the host. */
#include <linux/errno.h>
#include <linux/fcntl.h>
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

void fs_fd_forget(int fd)
{
	/* The kernel only hands out a free number: a mapping for it is stale. */
	if (fd >= 0)
		fsv_fd_remove(&fs_g.fs, &fs_g.fds, fd);
}

long fs_fd_new(struct fsv_file *f, int cloexec)
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
	fs_fd_forget((int)fd);
	int r = fsv_fd_install(&fs_g.fs, &fs_g.fds, (int)fd, f);
	if (r < 0) {
		host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
		return r;
	}
	return fd;
}
