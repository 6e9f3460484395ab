/* FS shield: flock(2) on descriptors of the enclave's files (fs.h).
 *
 * The locks live with the open file descriptions in the shared arena
 * (fsv_flock), so they conflict between the processes of the enclave as
 * between processes on Linux, pass to forked children with the description
 * and go when its last descriptor closes. A blocked flock waits on a futex
 * word in the arena that every release bumps (FUTEX_WAIT without the
 * private flag: the arena is shared memory), as the application's own
 * blocking call: a signal interrupts it (EINTR; the core restarts it for
 * SA_RESTART handlers, as Linux restarts flock). A holder killed by a
 * signal never releases: a flock that finds its lock taken first frees the
 * entries of processes that are gone, with their descriptions
 * (fs_procs.c), and a waiting one looks again every 200 ms. */
#include "fs.h"
#include "fsv_lock.h"
#include "fsv_arena.h"

#define LOCK_SH_ 1
#define LOCK_EX_ 2
#define LOCK_NB_ 4
#define LOCK_UN_ 8
#define FS_FLOCK_POLL_NS 200000000L

int fs_sys_flock(const struct sys_call *c, long *ret)
{
	int fd = (int)c->a[0];
	long op = c->a[1];
	int type = (int)(op & ~(long)LOCK_NB_);
	for (int swept = 0;;) {
		fs_lock();
		struct fsv_file *f = fsv_fd_get(fs_g.fdt, fd);
		if (!f) {
			fs_unlock();
			return SHIELD_PASS;
		}
		if (type != LOCK_SH_ && type != LOCK_EX_ && type != LOCK_UN_) {
			fs_unlock();
			return shield_done(ret, -EINVAL);
		}
		if (f->flags & O_PATH) {
			fs_unlock();
			return shield_done(ret, -EBADF);
		}
		int want = type == LOCK_SH_ ? FSV_FLOCK_SH : type == LOCK_EX_ ? FSV_FLOCK_EX : FSV_FLOCK_UN;
		long r = fsv_flock(FS(), f, want);
		if (r == -EWOULDBLOCK && swept <= 0) {
			/* the holder may have been killed: its descriptions go with
			 * its entry (fs_procs.c), once per call (kill(2) only) and
			 * after each wait (zombies too) */
			fs_procs_sweep(!swept);
			swept = 1;
			r = fsv_flock(FS(), f, want);
		}
		if (r != -EWOULDBLOCK || (op & LOCK_NB_)) {
			fs_unlock();
			return shield_done(ret, r);
		}
		uint32_t s = fsv_wait_mark(fs_flock_seq()); /* before the lock goes: no release is missed */
		fs_unlock();
		/* wait for a release after the one seen (s), or a while (a
		 * holder killed meanwhile releases nothing), then try again */
		long w = shield_app_wait(fs_flock_seq(), s, FS_FLOCK_POLL_NS);
		if (w == -EINTR)
			return shield_done(ret, -EINTR);
		swept = -1;
	}
}
