/* fork, vfork and clone without CLONE_VM inside the enclave (fork.c).
 *
 * The runtime issues the host fork itself, from its exempt text, inside the
 * SIGSYS handler: the child is a copy of the process that returns from the
 * same handler frame (on its copy of the thread's runtime signal stack) with
 * RAX = 0. Syscall User Dispatch is NOT inherited by fork on this kernel
 * (tested on 6.18; the sigaltstack is), so the child re-arms it before it
 * returns to the application.
 *
 * The runtime's locks are taken around the host fork (pthread_atfork style):
 * the shields' (shield.h fork hooks, in their order: the FS shield's lock is
 * in the shared arena and only the parent releases it) and the allocator's
 * (private: released in both). */
#ifndef SCONE_FORK_H
#define SCONE_FORK_H
#include <linux/sched.h>
#include "thread.h"

struct rt_fork_req {
	unsigned long flags; /* clone flags without the exit signal */
	int exit_signal;     /* SIGCHLD for fork/vfork */
	unsigned long stack; /* the child's stack pointer, 0: the parent's */
	unsigned long tls;   /* CLONE_SETTLS */
	long ptid, ctid;     /* CLONE_PARENT_SETTID / CLONE_CHILD_*TID pointers */
	long pidfd;	     /* clone3 CLONE_PIDFD pointer */
	int clone3;
};

/* Trap side of fork/vfork/clone(!CLONE_VM or CLONE_VFORK)/clone3(same).
 * Returns the child's pid in the parent, 0 in the child, or -errno. */
long rt_do_fork(struct rt_thread *t, struct kucontext *uc, const struct rt_fork_req *q);

/* clone/clone3 without CLONE_VM or with CLONE_VFORK (clone.h). */
struct rt_clone;
long rt_fork_from_clone(struct rt_thread *t, struct kucontext *uc, const struct rt_clone *cl);

/* The allocator's hooks (alloc.c); the shields' are in their tables. */
void rt_alloc_fork_prepare(void);
void rt_alloc_fork_release(void);
/* thread.c: only the calling thread exists in the child. */
void rt_thread_fork_child(struct rt_thread *self);
#endif
