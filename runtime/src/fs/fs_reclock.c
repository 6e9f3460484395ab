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
 * whose owner no longer runs (rt_task_alive, shared.h) is dropped then.
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
 * begin to wait for each other at the same moment one gets EDEADLK).
 * The commands themselves are fsv_reclock_fcntl's (fsv_lock.h, shared with
 * the volume shield); this file is the FS shield's side of them. */
#include "fs.h"
#include "fsv_arena.h"
#include "fsv_lock.h"
#include "shared.h"

#define FS_RECLOCK_POLL_NS 200000000L

/* The waits of every process (the arena), or this process's without one. */
static struct fsv_reclock_wait *private_waits;

/* ctx: whether a wait ended since the lock was last taken: a killed
 * process's OFD locks go with its descriptions (fs_procs_sweep). */
static void lock(void *ctx)
{
	fs_lock();
	if (*(int *)ctx) {
		*(int *)ctx = 0;
		fs_procs_sweep(0);
	}
}

static void unlock(void *ctx)
{
	(void)ctx;
	fs_unlock();
}

static int file(void *ctx, int fd, struct fsv_reclock_file *rf)
{
	(void)ctx;
	struct fsv_file *f = fsv_fd_get(fs_g.fdt, fd);
	if (!f)
		return -EBADF; /* closed meanwhile by another thread */
	int acc = f->flags & O_ACCMODE;
	*rf = (struct fsv_reclock_file){
		.list = &f->node->reclocks,
		.readable = acc != O_WRONLY,
		.writable = acc == O_WRONLY || acc == O_RDWR,
		.pos = (int64_t)f->off,
		.size = (int64_t)f->node->size,
		.desc = (uint64_t)(uintptr_t)f,
		.pid = (int32_t)FS()->self_pid(FS()->hook_ctx),
	};
	return 0;
}

static void released(void *ctx)
{
	(void)ctx;
	fs_reclock_wake();
}

static long wait(void *ctx, volatile uint32_t *seq, uint32_t val)
{
	*(int *)ctx = 1;
	return shield_app_wait(seq, val, FS_RECLOCK_POLL_NS);
}

int fs_sys_reclock(const struct sys_call *c, long *ret)
{
	int fd = (int)c->a[0];
	long cmd = c->a[1];
	struct fsv_flock *u = (struct fsv_flock *)c->a[2];
	fs_lock();
	struct fsv_file *f = fsv_fd_get(fs_g.fdt, fd);
	int opath = f && (f->flags & O_PATH);
	fs_unlock();
	if (!f)
		return SHIELD_PASS;
	if (opath)
		return shield_done(ret, -EBADF); /* as Linux: fcntl on an O_PATH descriptor */
	struct fsv_flock fl;
	if (!rt_user_ok(u, sizeof fl))
		return shield_done(ret, -EFAULT);
	memcpy(&fl, u, sizeof fl);
	struct fsv_arena_shared *sh = fsv_arena_shared();
	int waited = 0;
	const struct fsv_reclock_ops ops = {
		.ctx = &waited,
		.lock = lock,
		.unlock = unlock,
		.file = file,
		.alive = rt_proc_alive, /* a POSIX owner is a process: alive while a thread of it runs */
		.released = released,
		.wait = wait,
		.seq = fs_reclock_seq(),
		.waits = sh ? &sh->reclock_waits : &private_waits,
	};
	long r = fsv_reclock_fcntl(&ops, fd, cmd, &fl);
	if (r == 0 && (cmd == F_GETLK || cmd == F_OFD_GETLK))
		memcpy(u, &fl, sizeof fl);
	return shield_done(ret, r);
}
