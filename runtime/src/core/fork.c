/* fork, vfork and clone without CLONE_VM inside the enclave (fork.h).
 *
 * fork: the parent takes the runtime's locks (FS shield, console shield,
 * allocator), issues the host clone from the runtime's text with only the
 * flags the kernel may act on (exit signal, *_SETTID/CHILD_CLEARTID, PIDFD,
 * PARENT, SYSVSEM, IO, UNTRACED, PTRACE) and releases the locks; the child
 * (RAX = 0 in the same SIGSYS handler, on its copy of the runtime signal
 * stack) releases its private copies, opens new console sessions, resets the
 * thread bookkeeping to itself, re-arms Syscall User Dispatch (not inherited
 * by fork on this kernel; the sigaltstack is), applies CLONE_SETTLS /
 * CLONE_CLEAR_SIGHAND / a new stack virtually and returns 0 through the
 * parent's copied frame.
 *
 * vfork and clone(CLONE_VM|CLONE_VFORK) (posix_spawn, system, popen): the
 * child must not share the address space (its emulated execve replaces the
 * process's memory), so it becomes a fork: the child gets a copy and runs on
 * the given stack, which lies in the copy at the same address. As vfork
 * promises, the parent does not return before the child has executed
 * (emulated execve: the close-on-exec pass closes the pipe below) or exited:
 * the parent waits for EOF on a close-on-exec pipe whose write end only the
 * child holds. What glibc's posix_spawn child reports through the shared
 * memory (the exec errno) does not reach the parent: posix_spawn succeeds
 * and a failed exec shows as the child's exit status 127. */
#include <linux/sched.h>
#include "fork.h"
#include "clone.h"
#include "random.h"
#include "fdtab.h"
#include "locks.h"
#include "shield.h"
#include "rtsignal.h"
#include "rtsched.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

#define PID_MAX_LIMIT (1L << 22) /* the kernel's upper bound for pid_max */
#define F_O_CLOEXEC 02000000

/* Flags the host clone may act on as they are. */
#define PASSED                                                                                          \
	(CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_PIDFD | CLONE_PARENT | \
	 CLONE_SYSVSEM | CLONE_IO | CLONE_UNTRACED | CLONE_PTRACE)
/* Flags the runtime emulates (CLONE_VM only together with CLONE_VFORK). */
#define EMULATED (CLONE_SETTLS | CLONE_VFORK | CLONE_VM | CLONE_CLEAR_SIGHAND)

long rt_fork_from_clone(struct rt_thread *t, struct kucontext *uc, const struct rt_clone *cl)
{
	struct rt_fork_req q;
	memset(&q, 0, sizeof q);
	q.clone3 = cl->clone3;
	q.flags = cl->flags;
	q.exit_signal = cl->exit_signal;
	q.stack = cl->stack;
	q.tls = cl->tls;
	q.ptid = cl->ptid;
	q.ctid = cl->ctid;
	q.pidfd = cl->pidfd;
	return rt_do_fork(t, uc, &q);
}

static long host_fork(const struct rt_fork_req *q)
{
	unsigned long hf = q->flags & PASSED;
	/* Issued directly (not through the transport): the clone must run on
	 * this thread, whatever transport serves the other calls. */
	if (q->clone3) {
		struct clone_args ca;
		memset(&ca, 0, sizeof ca);
		ca.flags = hf;
		ca.pidfd = (unsigned long)q->pidfd;
		ca.child_tid = (unsigned long)q->ctid;
		ca.parent_tid = (unsigned long)q->ptid;
		ca.exit_signal = (unsigned long)q->exit_signal;
		return rt_sys2(__NR_clone3, &ca, CLONE_ARGS_SIZE_VER0);
	}
	return rt_sys5(__NR_clone, hf | (unsigned long)(q->exit_signal & 0xff), 0, q->ptid, q->ctid, 0);
}

long rt_do_fork(struct rt_thread *t, struct kucontext *uc, const struct rt_fork_req *q)
{
	unsigned long fl = q->flags;
	if (fl & ~(unsigned long)(PASSED | EMULATED)) {
		rt_eprintf("scone-run: clone flags %#lx (namespaces, CLONE_FILES/FS/THREAD/SIGHAND without CLONE_VM) "
			   "are not supported inside the enclave: refused with ENOSYS\n",
			   fl & ~(unsigned long)(PASSED | EMULATED));
		return -RT_ENOSYS;
	}
	if ((fl & CLONE_VM) && !(fl & CLONE_VFORK))
		return -RT_EINVAL; /* a thread: not ours (thread.c) */
	if ((fl & CLONE_PIDFD) && !q->clone3 && (fl & CLONE_PARENT_SETTID))
		return -RT_EINVAL; /* as the kernel */
	int vfork = (fl & CLONE_VFORK) != 0;
	int pfd[2] = {-1, -1};
	if (vfork) {
		long pr = rt_sys2(__NR_pipe2, pfd, F_O_CLOEXEC);
		if (pr < 0)
			return pr;
		if (pfd[0] < 0 || pfd[1] < 0 || pfd[0] >= (1 << 20) || pfd[1] >= (1 << 20))
			rt_fatal(RT_EX_SOFTWARE, "impossible host result: pipe2 returned fds %d, %d", pfd[0], pfd[1]);
	}

	/* pthread_atfork style: no lock is held by another thread while the
	 * address space is copied. Order: the shields (FS, shared; console),
	 * the core's locks (locks.h), the allocator. */
	rt_shields_fork_prepare();
	rt_locks_fork_prepare();
	rt_alloc_fork_prepare();
	long r = host_fork(q);
	if (r == 0) {
		/* The child: the calling thread only. Its own thread id first:
		 * the shields' process-shared locks, taken below (owns_fd),
		 * record their holder by it (rlock.h), and a child holding one
		 * under its parent's id could not be told dead. */
		t->tid = (int)rt_sys0(__NR_gettid);
		rt_alloc_fork_release();
		rt_locks_fork_release();
		rt_random_fork_child(); /* before any shield wants randomness */
		rt_shields_fork_child();
		t->shared_locks = 0; /* those it took in prepare are the parent's to release */
		t->shared_ranks = 0;
		if (vfork)
			rt_sys1(__NR_close, pfd[0]); /* pfd[1] closes at execve (close-on-exec) or exit */
		/* asks the shields: after their locks are free; after the runtime's
		 * own pipe end is closed (pfd[1] is listed, and closes through the
		 * shields at execve) */
		rt_fdtab_fork_child(rt_shields_own_fd);
		rt_thread_fork_child(t);
		rt_sched_fork_child(t);
		transport_fork_child(); /* async: no worker threads here */
		t->npending = 0;	/* the kernel does not copy pending signals either */
		if (fl & CLONE_SETTLS)
			t->app_fs = q->tls;
		if (fl & CLONE_CLEAR_SIGHAND) {
			struct kstack ss = t->app_ss;
			rt_signals_exec_reset(t); /* caught signals -> SIG_DFL, SIGSYS stays the runtime's */
			t->app_ss = ss;
		}
		if (q->stack)
			uc->uc_mcontext.gregs[KR_RSP] = q->stack;
		return 0;
	}
	/* Iago: a pid is positive and below the kernel's PID_MAX_LIMIT. */
	if (r >= PID_MAX_LIMIT || (r < 0 && r < -4095))
		rt_fatal(RT_EX_SOFTWARE, "impossible host result: fork returned %ld", r);
	rt_alloc_fork_release();
	rt_locks_fork_release();
	rt_shields_fork_parent(r);
	if (vfork) {
		rt_sys1(__NR_close, pfd[1]);
		if (r > 0) {
			char c;
			long n;
			while ((n = rt_sys3(__NR_read, pfd[0], &c, 1)) > 0 || n == -RT_EINTR)
				;
		}
		rt_sys1(__NR_close, pfd[0]);
	}
	return r;
}
