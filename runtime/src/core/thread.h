/* Per-thread runtime state.
 *
 * Every thread that runs application code owns one naturally aligned block of
 * RT_TBLOCK_SIZE bytes from the runtime region: a struct rt_thread at its base
 * and the thread's runtime signal stack (sigaltstack) above it. The SIGSYS
 * handler finds the block from its stack pointer (rsp & ~(RT_TBLOCK_SIZE-1)),
 * so the runtime never reads the application's FS or GS.
 *
 * GS points to the block from the thread's start (rt_thread_arm): the fast
 * path finds it there, and it is the TCB of BearSSL's and LZ4's stack
 * protector (canary at GS:0x28; Debian builds them for FS:0x28 and the
 * build moves those reads to GS: runtime/tools/canarygs.c) and of
 * __errno_location. So the runtime's code never depends on FS, the
 * application's thread pointer, which the runtime virtualizes (app_fs) and
 * writes only when the application changes it (or at traps, where the
 * kernel lets user space write it cheaply). An application that sets its
 * own GS base (app_gs) gets it while its code runs; the trap puts the block
 * back while the runtime's runs. */
#ifndef SCONE_THREAD_H
#define SCONE_THREAD_H
#include <stdint.h>
#include <stddef.h>
#include "ksig.h"
#include "iago.h"
#include "sys.h"

#define RT_TBLOCK_SIZE (256UL * 1024)
#define RT_TCB_ERRNO_OFF 0x30
#define RT_TCB_CHILD_START_OFF 0x08
#define RT_MAX_PENDING 8

struct rt_pending {
	int sig;
	struct ksiginfo info;
};

struct rt_thread {
	struct rt_thread *self; /* 0x00: TCB self pointer */
	/* 0x08: where a clone child starts (rt_clone_stub calls it with the
	 * block), so that the assembly names no C function */
	void (*child_start)(struct rt_thread *self);
	/* 0x10-0x27: the fast path's hand-over to the trap (fast.c, asm.S):
	 * the result and continuation of a fast call whose queued signals the
	 * trap delivers, and the flag that says so; fast_reenter: the call gave
	 * its enclave thread slot up under the mn scheduler and found none free
	 * after it (the trap waits for one). */
	long fast_result;	 /* 0x10 */
	unsigned long fast_cont; /* 0x18 */
	int fast_deliver;	 /* 0x20 */
	int fast_reenter;
	unsigned long canary; /* 0x28 */
	int err;	      /* 0x30: errno for runtime code */
	int tid;
	unsigned long app_fs;	/* application's FS base */
	volatile int state;	/* 1 = in use, 0 = thread gone, block reusable */
	volatile int in_window; /* signals unblocked around a blocking host call */
	int vsigsys_blocked;	/* the application's (virtual) SIGSYS mask bit */
	struct kstack app_ss;	/* the application's (virtual) sigaltstack */
	unsigned npending;
	struct rt_pending pending[RT_MAX_PENDING];
	struct rt_thread *next;	     /* all blocks ever allocated */
	unsigned long nsyscalls;     /* trapped (Syscall User Dispatch) */
	unsigned long nfast;	     /* served by the fast path (rewritten sites) */
	unsigned long nfast_trapped; /* reached the fast entry, sent to the trap */
	unsigned long nsite[4];	     /* trapped, by the kind of code (sites.h RT_SITE_KINDS; SCONE_STATS=1) */
	long fast_nr;		     /* the fast call whose signals the trap delivers */
	unsigned long rseq_addr;     /* the application's rseq registration (dropped at execve) */
	unsigned long rseq_len, rseq_sig;
	/* The application's GS base (ARCH_SET_GS, or WRGSBASE where the kernel
	 * allows it); 0: none, GS is the block while the application runs too. */
	unsigned long app_gs;
	/* The mn scheduler (sched/rtsched.h): the user-level thread this
	 * enclave thread runs (0: none, or the scheduler is off), and its
	 * idle sleep (a futex word, and the list of sleepers). */
	struct rt_ult *ult;
	volatile int sched_idle;
	int sched_spin; /* idle, still spinning: a wake-up needs no futex call */
	struct rt_thread *sched_idle_next;
	volatile int in_app;	      /* running application code (the preemption tick's test) */
	volatile unsigned long loads; /* ULTs loaded so far (the tick's test) */
	int shared_locks;	      /* locks of the shared state held (shared.c; checked in shields.c) */
	unsigned shared_ranks;	      /* the ranks of the shields' locks among them (shared.h) */
	/* A blocking call posted to the async transport's workers (the mn
	 * scheduler parks the ULT meanwhile: rtsched.h rt_sched_hostcall):
	 * hc_mode RT_HC_* (shields.c decides at the host call), its ticket,
	 * the call and the Iago checks' snapshot, kept for its completion; a
	 * fast call's completion left to the trap at the gate (fast_hostcall). */
	int hc_mode; /* RT_HC_* */
	int hc_ticket;
	int fast_hostcall;
	long hc_a[6];
	struct rt_iago_snap hc_snap;
	/* Start-up frame for a clone child (consumed by rt_sigreturn). */
	struct krt_sigframe child_frame;
};
_Static_assert(offsetof(struct rt_thread, canary) == 0x28, "canary offset");
_Static_assert(offsetof(struct rt_thread, err) == RT_TCB_ERRNO_OFF, "errno offset");
_Static_assert(offsetof(struct rt_thread, child_start) == RT_TCB_CHILD_START_OFF, "child start offset");
/* rt_thread.hc_mode: the trap or the fast path offers the application's
 * blocking call for posting (OFFER); at the host call shields.c posted it
 * (POSTED), or gave the enclave thread slot up for the call made here
 * (LEFT: rt_sched_leave; the caller takes one back). */
#define RT_HC_NONE 0
#define RT_HC_OFFER 1
#define RT_HC_POSTED 2
#define RT_HC_LEFT 3

/* Offsets the fast entry (asm.S) uses. */
#define RT_TCB_FAST_RESULT_OFF 0x10
#define RT_TCB_FAST_CONT_OFF 0x18
#define RT_TCB_FAST_DELIVER_OFF 0x20
#define RT_TCB_APP_FS_OFF 0x38
#define RT_TCB_NPENDING_OFF 0x68
_Static_assert(offsetof(struct rt_thread, fast_result) == RT_TCB_FAST_RESULT_OFF, "fast_result offset");
_Static_assert(offsetof(struct rt_thread, fast_cont) == RT_TCB_FAST_CONT_OFF, "fast_cont offset");
_Static_assert(offsetof(struct rt_thread, fast_deliver) == RT_TCB_FAST_DELIVER_OFF, "fast_deliver offset");
_Static_assert(offsetof(struct rt_thread, app_fs) == RT_TCB_APP_FS_OFF, "app_fs offset");
_Static_assert(offsetof(struct rt_thread, npending) == RT_TCB_NPENDING_OFF, "npending offset");

static inline struct rt_thread *rt_self_from_sp(void)
{
	unsigned long sp;
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	return (struct rt_thread *)(sp & ~(RT_TBLOCK_SIZE - 1));
}

/* The block GS points to (runtime code outside signal handlers, e.g.
 * start-up, before the application may have set its own GS). */
static inline struct rt_thread *rt_self_from_gs(void) { return (struct rt_thread *)rt_rdgsbase(); }

/* The calling thread's block, found through GS, or NULL before it is
 * armed (start-up). GS is the block also on the fast path of rewritten
 * calls, where FS may still be the application's, and is never an address
 * of the runtime's range unless the runtime put it there. */
struct rt_thread *rt_thread_armed(void);

/* Allocates (or reuses) a block, fills the TCB fields. NULL if out of memory. */
struct rt_thread *rt_thread_alloc(void);
/* Installs the block's stack as this thread's sigaltstack and enables SUD. */
int rt_thread_arm(struct rt_thread *t);
/* The top of the block's signal stack. */
static inline void *rt_thread_stack_top(struct rt_thread *t) { return (char *)t + RT_TBLOCK_SIZE; }

/* Maximum number of application threads (config max_threads, the enclave's
 * TCS count); 0 = unlimited. clone beyond it fails with EAGAIN. */
extern unsigned rt_max_threads;

/* Application threads alive (the main thread included). */
unsigned rt_thread_live(void);

/* Trapped system calls so far, all threads (approximate while threads run). */
unsigned long rt_thread_total_syscalls(void);
/* Fast calls (rewritten sites) so far, and those sent on to the trap. */
void rt_thread_total_fast(unsigned long *fast, unsigned long *sent_to_trap);
/* Trapped calls by the kind of code they came from (sites.h), summed. */
void rt_thread_total_sites(unsigned long out[4]);

/* The stack-protector canary of the runtime's code (from rt_random at
 * start-up); every runtime thread block carries it. */
extern unsigned long rt_canary;
/* The real sigaltstack of thread t (its runtime signal stack), as the
 * application must not see it. */
void rt_thread_real_altstack(struct rt_thread *t, struct kstack *ss);

/* Trap-side handling of clone/clone3/exit (thread.c). */
struct rt_clone;
long rt_do_clone(struct rt_thread *t, struct kucontext *uc, struct rt_clone *cl);
__attribute__((noreturn)) void rt_do_thread_exit(struct rt_thread *t, int code);

/* execve from a multi-threaded process (Linux's de_thread). Requests to a
 * thread are a SIGSYS the runtime queues to it (rt_tgsigqueueinfo, the
 * runtime's canary as payload, so nothing from outside is taken for one),
 * taken at its next safe point: between two application instructions, or
 * when its current system call is done.
 *
 * rt_thread_exit_others: every application thread but t and keep (may be
 * NULL) is asked to exit, and waited for; 0. A thread that loses a race
 * with another execve exits here instead, but for the main thread, which
 * gets 1: the winner hands it the new program (RT_REQ_EXEC). rt_thread_request: what a delivered
 * signal asks of t (RT_REQ_*, 0: an ordinary signal). RT_REQ_EXIT: t exits
 * with rt_thread_exit_requested_now. RT_REQ_EXEC: the main thread runs the
 * execve another thread prepared (exec.c), so that the new program runs on
 * the thread whose id is the process id, as on Linux; rt_thread_ask sends
 * such a request to b. rt_thread_leader: the main thread's block (its tid
 * is the process id), NULL when it has exited; rt_thread_others_alive:
 * whether an application thread other than t is alive. */
#define RT_REQ_EXIT 1
#define RT_REQ_EXEC 2
/* The mn scheduler's requests (sched/rtsched.h), taken whether or not an
 * execve runs: a signal is pending on the user-level thread t runs
 * (RT_REQ_POKE); another is runnable and t's has run long (RT_REQ_PREEMPT). */
#define RT_REQ_POKE 3
#define RT_REQ_PREEMPT 4
/* The signal that carries RT_REQ_POKE and RT_REQ_PREEMPT (the runtime's
 * while the mn scheduler runs: signal.c). Not SIGSYS: a standard signal
 * pending when the thread makes a system call would swallow Syscall User
 * Dispatch's SIGSYS for it (the kernel queues one instance of each). */
#define RT_SIG_REQ 64
long rt_thread_exit_others(struct rt_thread *t, struct rt_thread *keep);
int rt_thread_request(const struct rt_thread *t, int sig, const struct ksiginfo *si);
__attribute__((noreturn)) void rt_thread_exit_requested_now(struct rt_thread *t);
void rt_thread_ask(struct rt_thread *b, int req);
struct rt_thread *rt_thread_leader(void);
int rt_thread_others_alive(const struct rt_thread *t);
/* The execve is done (or handed over): requests are no longer taken. */
void rt_thread_exec_done(void);

/* The mn scheduler's enclave threads: a new thread on its own block that
 * starts start(block) with every signal blocked and FS inherited (start
 * arms it); counted among the live threads. Its id, or a negative errno. */
long rt_thread_spawn(void (*start)(struct rt_thread *t));

/* asm.S (hidden: their addresses are taken with RIP-relative lea, no GOT) */
#define RT_ASM_FN __attribute__((visibility("hidden")))
RT_ASM_FN long rt_clone_stub(long nr, long a0, long a1, long a2, long a3, long a4);
RT_ASM_FN __attribute__((noreturn)) void rt_exit_and_release(volatile int *state, int code);
RT_ASM_FN __attribute__((noreturn)) void rt_sigreturn_to(void *uc);
RT_ASM_FN void rt_sigreturn_restorer(void);
RT_ASM_FN __attribute__((noreturn)) void rt_jump_to_entry(unsigned long entry, unsigned long sp);

#endif
