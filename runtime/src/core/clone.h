/* clone/clone3 arguments, decoded once (clone.c) for the dispatcher, which
 * sends threads (CLONE_VM without CLONE_VFORK) to thread.c and processes to
 * fork.c. */
#ifndef SCONE_CLONE_H
#define SCONE_CLONE_H
#include <stddef.h>
#include <linux/sched.h>

struct rt_clone {
	int clone3;
	unsigned long flags; /* without the exit signal (clone) */
	int exit_signal;
	unsigned long stack;	/* the child's stack pointer, 0: the parent's */
	unsigned long tls;	/* CLONE_SETTLS */
	long ptid, ctid, pidfd; /* CLONE_PARENT_SETTID, CLONE_CHILD_*TID, CLONE_PIDFD pointers */
	struct clone_args ca;	/* clone3: the copied arguments */
	size_t casize;		/* clone3: their size (at most sizeof ca) */
	const long *a;		/* the trapped arguments */
};

/* Decodes a trapped clone or clone3; 0 or -EINVAL / -EFAULT. */
long rt_clone_decode(long nr, const long *a, struct rt_clone *out);

/* A thread of this process (CLONE_VM without CLONE_VFORK), else a process. */
static inline int rt_clone_is_thread(const struct rt_clone *c)
{
	return (c->flags & CLONE_VM) && !(c->flags & CLONE_VFORK);
}
#endif
