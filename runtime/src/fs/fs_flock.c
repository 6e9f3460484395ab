/* FS shield: flock(2) on descriptors of the enclave's files (fs.h).
 *
 * The locks live with the open file descriptions in the shared arena
 * (fsv_flock), so they conflict between the processes of the enclave as
 * between processes on Linux, pass to forked children with the description
 * and go when its last descriptor closes. A blocked flock waits on a futex
 * word in the arena that every release bumps (FUTEX_WAIT without the
 * private flag: the arena is shared memory), as the application's own
 * blocking call: a signal interrupts it (EINTR; the core restarts it for
 * SA_RESTART handlers, as Linux restarts flock). */
#include "fs.h"
#include "fsv_lock.h"
#include "fsv_arena.h"

#define LOCK_SH_ 1
#define LOCK_EX_ 2
#define LOCK_NB_ 4
#define LOCK_UN_ 8
#define FUTEX_WAIT_ 0

int fs_sys_flock(const struct sys_call *c, long *ret)
{
	int fd = (int)c->a[0];
	long op = c->a[1];
	int type = (int)(op & ~(long)LOCK_NB_);
	for (;;) {
		fs_lock();
		struct fsv_file *f = fsv_fd_get(&fs_g.fds, fd);
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
		long r = fsv_flock(FS(), f,
				   type == LOCK_SH_ ? FSV_FLOCK_SH :
				   type == LOCK_EX_ ? FSV_FLOCK_EX :
						      FSV_FLOCK_UN);
		if (r != -EWOULDBLOCK || (op & LOCK_NB_)) {
			fs_unlock();
			return shield_done(ret, r);
		}
		uint32_t s = fsv_wait_mark(fs_flock_seq()); /* before the lock goes: no release is missed */
		fs_unlock();
		/* wait for a release after the one seen (s), then try again */
		long w = shield_app_host_call(__NR_futex, (long)fs_flock_seq(), FUTEX_WAIT_, s, 0, 0, 0);
		if (w == -EINTR)
			return shield_done(ret, -EINTR);
	}
}
