/* User-level threads (M:N): the mn scheduler (docs/runtime.md, "User-level
 * threads (M:N)").
 *
 * With `scone-build convert --scheduler mn` (dev mode: SCONE_SCHEDULER=mn)
 * the application's threads (clone/clone3 with CLONE_VM|CLONE_THREAD) are
 * user-level threads (ULTs) that the runtime multiplexes onto at most
 * max_threads kernel threads, the enclave threads (the TCS count). A ULT is
 * switched only inside the SIGSYS handler: its whole state is the signal
 * frame's (registers, FPU state, signal mask) plus what the runtime keeps
 * per thread (FS base, virtual sigaltstack and SIGSYS mask bit), and a
 * switch copies one ULT's out of the frame and another's in before the
 * handler returns through rt_sigreturn.
 *
 * Served inside the enclave, without a host call: futexes (but those in
 * MAP_SHARED memory, which other processes may share: they go to the host),
 * sched_yield, nanosleep and clock_nanosleep on the wall and monotonic
 * clocks, the thread identity calls (gettid, set_tid_address, the robust
 * list; rseq answers ENOSYS: the kernel's area is per kernel thread), and
 * tgkill/tkill/rt_tgsigqueueinfo to a ULT (the signal is pending on it and
 * delivered when it runs, interrupting an in-enclave wait). Other calls
 * that block are posted to the async transport's host workers while the
 * ULT parks (rt_sched_hostcall), or, with the sync transport and for what
 * cannot be posted, run on the calling kernel thread with the ULT's signal
 * mask, so signals interrupt them as natively, its enclave thread slot
 * given up meanwhile (rt_sched_leave). An enclave thread with nothing to run sleeps on a host futex
 * with the signals unblocked that some waiting ULT accepts, and hands the
 * signals it takes to such a ULT. */
#ifndef SCONE_RTSCHED_H
#define SCONE_RTSCHED_H
#include "ksig.h"
#include "thread.h"

/* 1 when the mn scheduler runs the application's threads. */
extern int rt_sched_mn;

/* Selects the mn scheduler; t is the main thread (before the application
 * runs). 0 or a negative errno. */
int rt_sched_init(struct rt_thread *t);

/* What rt_sched_trap did with a trapped call. */
#define RT_SCHED_PASS 0	      /* not the scheduler's: dispatch as usual */
#define RT_SCHED_RESULT 1     /* served: *r is the result */
#define RT_SCHED_SWITCHED 2   /* uc now holds the ULT to run (its result set); *r: the call it made */
#define RT_SCHED_EXEC 3	      /* t (the main thread, idle) has another thread's execve to run */
#define RT_SCHED_EXIT_GROUP 4 /* the last ULT exits: the process ends with status *r */

/* A trapped call nr(a) of the ULT running on t, frame uc. */
int rt_sched_trap(struct rt_thread *t, struct kucontext *uc, long nr, long *a, long *r);
/* After RT_SCHED_EXEC when the execve was not taken (a late request): go on
 * idling until a ULT is runnable; same results as rt_sched_trap. */
int rt_sched_resume(struct rt_thread *t, struct kucontext *uc, long *r);
/* Before a trap returns to the ULT on t: signals pending on the ULT that
 * its mask lets through go to t's queue (delivered by the trap), runtime
 * requests (RT_REQ_POKE, RT_REQ_PREEMPT) leave it. 1 when the call *nr
 * (result in uc's RAX) was interrupted by requests only: it is restarted. */
int rt_sched_collect(struct rt_thread *t, struct kucontext *uc, long nr);
/* A runtime request (RT_REQ_POKE, RT_REQ_PREEMPT) that interrupted the
 * application's code on t (FS = the block): the call the ULT now in uc
 * waits in (-1: none, it was preempted), for the delivery of its
 * signals, or RT_SCHED_RESTARTED when that call goes on. */
#define RT_SCHED_RESTARTED (-2)
long rt_sched_interrupt(struct rt_thread *t, struct kucontext *uc, int req);
/* Around a call that may block in the host, made by the ULT on t: leave
 * gives up t's enclave thread slot (TCS) for the call's duration, so
 * another kernel thread may run ULTs in it, as SCONE's host threads serve
 * blocking calls while the enclave threads go on; enter takes one back
 * (result in uc's RAX): 0 when one was free, else the ULT waits in the run
 * queue and uc gets the next to run, with rt_sched_trap's results. */
void rt_sched_leave(struct rt_thread *t);
int rt_sched_enter(struct rt_thread *t, struct kucontext *uc, long nr, long *r);
/* Posted blocking calls (docs/runtime.md "Posted blocking calls"):
 * whether the ULT on t offers nr(a) to the async transport's workers
 * (shields.c then posts it if it reaches the host as it is, else gives
 * the slot up as rt_sched_leave). */
int rt_sched_offer(struct rt_thread *t, long nr, const long *a);
/* The call t->hc_ticket (nr, t->hc_a) was posted for the ULT on t: its
 * result when it returns within a short spin (RT_SCHED_RESULT, *r), else
 * the ULT waits (ULT_HOSTCALL) and uc gets the next to run, with
 * rt_sched_trap's results. A signal for the ULT cancels the call. */
int rt_sched_hostcall(struct rt_thread *t, struct kucontext *uc, long nr, long *r);
/* The same on the fast path (no frame): 1 with *r when the call returned
 * within the spin, else 0 (the trap at the gate parks the ULT). */
int rt_sched_hostcall_quick(struct rt_thread *t, long nr, long *r);
/* Before an execve replaces the program: every posted call is cancelled
 * and waited for (a worker must not write into the new program's memory). */
void rt_sched_drain_hostcalls(void);
/* The fast path's enter (no frame to switch): 1 when a slot was free and t
 * holds it, else 0 (the trap's rt_sched_enter then waits for one). */
int rt_sched_try_enter(struct rt_thread *t);
/* A rewritten site's call nr(a) of the ULT on t, on the fast path
 * (signals not blocked, FS the application's): 1 when served without a
 * switch (*r: the result), e.g. a futex wake, a wait on a word that changed
 * already, gettid, a yield with nothing else runnable; else 0. */
int rt_sched_fast(struct rt_thread *t, long nr, const long *a, long *r);
/* Whether a rewritten site's call nr must take the trap (it may switch). */
int rt_sched_needs_trap(long nr);
/* fork (child): the caller's ULT is the only one; its id is the process's. */
void rt_sched_fork_child(struct rt_thread *t);
/* execve found its program: from here no ULT of the old program runs
 * again and no enclave thread is started, until rt_sched_exec. */
void rt_sched_exec_begin(void);
/* execve's point of no return: the other ULTs are gone; t's ULT starts over
 * as the main thread. */
void rt_sched_exec(struct rt_thread *t);
/* The program's name (comm) after a launch or execve (exec.c): the
 * calling thread's ULT takes it. */
void rt_sched_comm(const char *name);
/* SCONE_STATS=1: a line of counters. */
void rt_sched_print_stats(void);
#endif
