/* Volume shield: descriptors. A volume fd is a sealed memfd placeholder
 * (as the FS shield's, fs_fd.c) mapped to an open file description;
 * duplicates share the description (offset, flags). Lock held. Above
 * vol_state.c only; the call files and vol_shield.c build on it. */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/futex.h>
#include "vol_shield.h"
#include "transport.h"
#include "rt_alloc.h"
#include "sys.h"

#define MFD_CLOEXEC_ 0x0001U
#define MFD_ALLOW_SEALING_ 0x0002U
#define F_ADD_SEALS_ 1033
#define SEALS_ (0x0001 | 0x0002 | 0x0004 | 0x0008)

struct vs_desc *vs_fd_get(int fd)
{
	for (int i = 0; i < vs_g.nfds; i++)
		if (vs_g.fds[i].fd == fd)
			return vs_g.fds[i].d;
	return NULL;
}

void vs_flock_released(void)
{
	__atomic_add_fetch(&vs_g.flock_seq, 1, __ATOMIC_SEQ_CST);
	host_syscall(__NR_futex, (long)&vs_g.flock_seq, FUTEX_WAKE_PRIVATE, 0x7fffffff, 0, 0, 0);
}

void vs_desc_put(struct vs_desc *d)
{
	if (--d->refs)
		return;
	struct vs_mount *m = &vs_g.m[d->mount];
	if (d->flock) /* the last descriptor of the description: its flock goes */
		vs_flock_released();
	if (!d->dir && m->v) {
		if (d->written && !vs_g.forked) {
			long e = vol_commit(m->v, 0); /* close of a written file: a commit */
			if (e)
				vs_report(m, "commit at close", e);
			else
				vs_fresh_committed(m, 1);
		}
		vol_release(m->v, d->id);
	}
	rt_free(d);
}

static int add(int fd, struct vs_desc *d)
{
	if (vs_g.nfds == VS_MAX_FDS)
		return -EMFILE;
	vs_g.fds[vs_g.nfds++] = (struct vs_fd){fd, d};
	d->refs++;
	return 0;
}

long vs_fd_new(struct vs_desc *d, int cloexec)
{
	long fd = host_syscall(__NR_memfd_create, (long)"scone-vol", MFD_ALLOW_SEALING_ | (cloexec ? MFD_CLOEXEC_ : 0),
			       0, 0, 0, 0);
	if (fd < 0)
		return fd;
	if (fd >= (1 << 20) || host_syscall(__NR_fcntl, fd, F_ADD_SEALS_, SEALS_, 0, 0, 0) < 0) {
		host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
		return -EIO;
	}
	vs_fd_drop((int)fd); /* a stale mapping of a number the kernel reused */
	int e = add((int)fd, d);
	if (e) {
		host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
		return e;
	}
	return fd;
}

void vs_fd_drop(int fd)
{
	for (int i = 0; i < vs_g.nfds; i++)
		if (vs_g.fds[i].fd == fd) {
			struct vs_desc *d = vs_g.fds[i].d;
			vs_g.fds[i] = vs_g.fds[--vs_g.nfds];
			vs_desc_put(d);
			return;
		}
}

void vs_fd_alias(int oldfd, int newfd)
{
	struct vs_desc *d = vs_fd_get(oldfd);
	if (oldfd == newfd)
		return;
	vs_fd_drop(newfd);
	if (d && add(newfd, d))
		vs_report(NULL, "too many volume descriptors", -EMFILE);
}
