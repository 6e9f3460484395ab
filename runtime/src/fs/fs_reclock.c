/* FS shield: POSIX record locks on descriptors of the enclave's files
 * (fs.h): fcntl F_GETLK, F_SETLK, F_SETLKW and the open file description
 * ones F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW; lockf(3) is F_SETLK*
 * underneath.
 *
 * The locks live with the node in the shared arena (fsv_lock.h), so two
 * opens of one file conflict, in one process or two, as on Linux. A POSIX
 * lock belongs to the process (its pid, as getpid gives it): it is not
 * inherited by fork, and goes when the process closes any of its
 * descriptors of the file or exits (fsv_fd.c). An OFD lock belongs to the
 * open file description: forked children and dups share it, and it goes
 * with the description's last descriptor. A process killed before it
 * reaches exit_group cannot drop its POSIX locks: a lock found in the way
 * whose owner no longer runs (fs_task_alive) is dropped then.
 *
 * F_SETLKW waits on a futex word in the arena that every release bumps
 * (FUTEX_WAIT without the private flag: the arena is shared memory), as
 * the application's own blocking call: a signal interrupts it (EINTR; the
 * core restarts it for SA_RESTART handlers, as Linux restarts F_SETLKW).
 * The wait also ends every FS_RECLOCK_POLL_NS, to look again for owners
 * killed meanwhile. A thread about to wait for a POSIX lock records whom
 * it waits for in the arena; when the owner in its way waits, directly or
 * through others, for the thread's own process, it gets EDEADLK instead
 * (Linux's check, made again at every try here, so of two processes that
 * begin to wait for each other at the same moment one gets EDEADLK). */
#include "fs.h"
#include "fsv_arena.h"
#include "fsv_lock.h"

#define FUTEX_WAIT_ 0
#define FS_RECLOCK_POLL_NS 200000000L

/* The waits of every process (the arena), or this process's without one. */
static struct fsv_reclock_wait *private_waits;

static struct fsv_reclock_wait **waits(void)
{
	struct fsv_arena_shared *sh = fsv_arena_shared();
	return sh ? &sh->reclock_waits : &private_waits;
}

static int readable(const struct fsv_file *f) { return (f->flags & O_ACCMODE) != O_WRONLY; }

static int writable(const struct fsv_file *f)
{
	return (f->flags & O_ACCMODE) == O_WRONLY || (f->flags & O_ACCMODE) == O_RDWR;
}

/* c, a lock in n's way: when its owner is a process that no longer runs,
 * drops that process's locks on n and says so. Lock held. */
static int reap(struct fsv_node *n, const struct fsv_reclock *c)
{
	if (c->ofd || c->owner > 0x7fffffff || fs_task_alive((int)c->owner))
		return 0;
	fsv_reclock_drop(&n->reclocks, 0, c->owner);
	fs_reclock_wake();
	return 1;
}

/* One try of cmd with the application's struct flock fl on f: 0 (for
 * F_GETLK: *fl filled as Linux fills it), -EAGAIN when another owner's
 * lock is in the way (copied into *c, with the request's owner in *self),
 * or an error. Lock held. */
static long attempt(struct fsv_file *f, long cmd, struct flock *fl, struct fsv_reclock *c, uint64_t *self)
{
	int ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
	int get = cmd == F_GETLK || cmd == F_OFD_GETLK;
	struct fsv_node *n = f->node;
	if (get && fl->l_type != F_RDLCK && fl->l_type != F_WRLCK)
		return -EINVAL;
	struct fsv_reclock req = {0};
	int r = fsv_reclock_range(fl->l_whence, fl->l_start, fl->l_len, (int64_t)f->off, (int64_t)n->size, &req.start,
				  &req.end);
	if (r < 0)
		return r;
	if (fl->l_type != F_RDLCK && fl->l_type != F_WRLCK && fl->l_type != F_UNLCK)
		return -EINVAL;
	/* as Linux: a read lock needs a descriptor open for reading, a
	 * write lock one open for writing (not for F_GETLK) */
	if (!get && ((fl->l_type == F_RDLCK && !readable(f)) || (fl->l_type == F_WRLCK && !writable(f))))
		return -EBADF;
	if (ofd && fl->l_pid != 0)
		return -EINVAL;
	long pid = FS()->self_pid(FS()->hook_ctx);
	req.type = (uint8_t)fl->l_type;
	req.ofd = (uint8_t)ofd;
	req.owner = ofd ? (uint64_t)(uintptr_t)f : (uint64_t)pid;
	req.pid = ofd ? -1 : (int32_t)pid;
	*self = req.owner;
	if (get) {
		const struct fsv_reclock *k;
		while ((k = fsv_reclock_conflict(n->reclocks, &req)) && reap(n, k))
			;
		fl->l_type = F_UNLCK; /* the only field Linux sets when none is in the way */
		if (k) {
			int64_t start, len;
			fsv_reclock_flock(k, &start, &len);
			fl->l_type = (short)k->type;
			fl->l_whence = 0; /* SEEK_SET */
			fl->l_start = start;
			fl->l_len = len;
			fl->l_pid = k->ofd ? -1 : k->pid;
		}
		return 0;
	}
	for (;;) {
		int released = 0;
		r = fsv_reclock_set(&n->reclocks, &req, c, &released);
		if (r == -EAGAIN && reap(n, c))
			continue;
		if (released)
			fs_reclock_wake();
		return r;
	}
}

int fs_sys_reclock(const struct sys_call *c, long *ret)
{
	int fd = (int)c->a[0];
	long cmd = c->a[1];
	struct flock *u = (struct flock *)c->a[2];
	int wait = cmd == F_SETLKW || cmd == F_OFD_SETLKW;
	fs_lock();
	struct fsv_file *f = fsv_fd_get(&fs_g.fds, fd);
	int opath = f && (f->flags & O_PATH);
	fs_unlock();
	if (!f)
		return SHIELD_PASS;
	if (opath)
		return shield_done(ret, -EBADF); /* as Linux: fcntl on an O_PATH descriptor */
	struct flock fl;
	if (!rt_user_ok(u, sizeof fl))
		return shield_done(ret, -EFAULT);
	memcpy(&fl, u, sizeof fl);
	struct fsv_reclock_wait *w = NULL; /* this thread's record while it waits (arena) */
	long r;
	fs_lock();
	for (;;) {
		if (w)
			fsv_reclock_wait_remove(waits(), w);
		f = fsv_fd_get(&fs_g.fds, fd);
		if (!f) { /* closed meanwhile by another thread */
			r = -EBADF;
			break;
		}
		uint32_t seq = __atomic_load_n(fs_reclock_seq(), __ATOMIC_ACQUIRE);
		struct fsv_reclock in_way = {0};
		uint64_t self = 0;
		r = attempt(f, cmd, &fl, &in_way, &self);
		if (r != -EAGAIN || !wait)
			break;
		if (cmd == F_SETLKW) {
			if (fsv_reclock_deadlock(*waits(), self, &in_way)) {
				r = -EDEADLK;
				break;
			}
			if (!w)
				w = fsv_sh_malloc(sizeof *w); /* none: waits unrecorded */
			if (w) {
				w->owner = self;
				w->blocker = in_way.owner;
				w->blocker_ofd = in_way.ofd;
				fsv_reclock_wait_add(waits(), w);
			}
		}
		fs_unlock();
		/* wait for a release after the one seen (seq), then try again */
		struct {
			long sec, nsec;
		} ts = {0, FS_RECLOCK_POLL_NS};
		long k = shield_app_host_call(__NR_futex, (long)fs_reclock_seq(), FUTEX_WAIT_, seq, (long)&ts, 0, 0);
		fs_lock();
		if (k == -EINTR) {
			r = -EINTR;
			break;
		}
	}
	if (w) {
		fsv_reclock_wait_remove(waits(), w);
		fsv_sh_free(w);
	}
	fs_unlock();
	if (r == 0 && (cmd == F_GETLK || cmd == F_OFD_GETLK))
		memcpy(u, &fl, sizeof fl);
	return shield_done(ret, r);
}
