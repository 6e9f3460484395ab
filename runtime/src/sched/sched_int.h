/* The mn scheduler's internals, shared by its files: sched_core.c (ULT
 * records, run queue, switching, idle enclave threads, timed waits, signal
 * routing), sched_futex.c (in-enclave futexes) and sched_calls.c (the calls
 * it serves). Everything below is guarded by one lock (rt_sched_lock). */
#ifndef SCONE_SCHED_INT_H
#define SCONE_SCHED_INT_H
#include <stdint.h>
#include "ksig.h"
#include "thread.h"

enum ult_state {
	ULT_RUNNING,  /* on an enclave thread (on) */
	ULT_RUNNABLE, /* in the run queue */
	ULT_WAITING,  /* on a wait list (a futex) and/or timed */
	ULT_HOSTCALL, /* its blocking call posted to a host worker (the hostcall list) */
};

struct ult_list {
	struct rt_ult *head, *tail;
};

struct rt_ult {
	struct rt_ult *all_next;      /* every ULT (all) */
	struct rt_ult *prev, *next;   /* the run queue or a wait list */
	struct ult_list *list;	      /* the list it is on, or 0 */
	struct rt_ult *tprev, *tnext; /* the timed waits */
	int timed;		      /* on the timed waits, deadline set */
	int vtid;		      /* the thread id the application sees */
	int state;		      /* enum ult_state */
	int interruptible;	      /* a waiting ULT a signal wakes with -EINTR */
	struct rt_thread *on;	      /* the enclave thread running it */
	struct kucontext uc;	      /* registers and mask while not running */
	int has_fp;		      /* fp holds the FPU state (else: a clean one) */
	unsigned long app_fs;	      /* FS base */
	unsigned long app_gs;	      /* GS base (ARCH_SET_GS; 0: none of its own) */
	int vsigsys_blocked;	      /* the virtual SIGSYS mask bit */
	struct kstack app_ss;	      /* the virtual sigaltstack */
	unsigned long clear_tid;      /* set_tid_address / CLONE_CHILD_CLEARTID */
	unsigned long robust_head;    /* set_robust_list */
	unsigned long robust_len;
	int keepcaps;		 /* prctl PR_SET_KEEPCAPS: per thread, as natively */
	char name[16];		 /* PR_SET_NAME: per thread (the program's file name at first: rt_sched_comm) */
	long park_nr;		 /* the call it waits in (signal restart) */
	unsigned long wait_addr; /* futex word */
	uint32_t wait_bitset;
	uint64_t deadline;	 /* CLOCK_MONOTONIC ns, when timed */
	unsigned long sleep_rem; /* nanosleep's rem (interrupted: time left) */
	unsigned npending;
	struct rt_pending pending[RT_MAX_PENDING];
	/* ULT_HOSTCALL: the transport's ticket, the call's arguments and the
	 * Iago checks' snapshot (park_nr: the call); a signal cancelled it */
	int hc_ticket;
	int hc_cancelled;
	long hc_a[6];
	struct rt_iago_snap hc_snap;
	unsigned char *fp; /* 64-byte aligned, fp_cap bytes */
	void *fp_alloc;
};

struct sched_stats {
	unsigned long switches, parks, preempts, slot_waits, spin_wakes, futex_waits, futex_wakes, yields, idle_sleeps,
		kicks, spawns, ults, fast, hostcalls, hostcall_quick, bell_sleeps, post_idle, post_busy;
};

extern struct rt_lock rt_sched_lock;
extern struct sched_stats sched_stats;

static inline struct rt_ult *cur_ult(const struct rt_thread *t) { return t->ult; }

void sched_lock(void);
void sched_unlock(void);

/* CLOCK_MONOTONIC now, in ns. */
uint64_t sched_now(void);
/* A timespec timeout (futex, nanosleep) as a CLOCK_MONOTONIC deadline in ns
 * in *out: relative, or absolute on CLOCK_REALTIME (realtime) or the
 * monotonic clock; 1 when an absolute one already passed, 0 with no
 * timeout (ts NULL). 0, -EINVAL or -EFAULT. */
long sched_deadline(const void *ts, int absolute, int realtime, uint64_t *out);

/* A new ULT record (not yet on any list), or 0 when out of memory. */
struct rt_ult *ult_new(void);
/* The ULT with thread id vtid, or 0 (lock held). */
struct rt_ult *ult_find(int vtid);
/* Live ULTs (lock held). */
unsigned ult_count(void);
/* Lock held: a free thread id for a new ULT; u joins the live ULTs. */
int sched_next_vtid(void);
void sched_add(struct rt_ult *u);

/* Lock held: makes u runnable with result r in RAX; an idle enclave thread
 * is woken, or a new one started within max_threads. */
void sched_make_runnable(struct rt_ult *u, long r);
/* Lock held: u (waiting) off its list and the timed waits. */
void sched_unwait(struct rt_ult *u);
/* Whether a ULT waits in the run queue (a hint: read without the lock). */
int sched_runnable(void);
/* Lock held: the list operations. */
void ult_list_push(struct ult_list *l, struct rt_ult *u);
void ult_list_remove(struct rt_ult *u);

/* Lock held; the ULT running on t stops: saved from uc and, with wait set,
 * put on list l (may be 0) with deadline (0: none) as waiting in call nr;
 * else (wait == 0) put at the run queue's tail. Then the next ULT is
 * loaded into uc, idling until there is one; the lock is released. The
 * result is rt_sched_trap's (RT_SCHED_SWITCHED or RT_SCHED_EXEC). */
int sched_park(struct rt_thread *t, struct kucontext *uc, long nr, int wait, struct ult_list *l, uint64_t deadline,
	       long *r);
/* Lock held; the ULT on t has exited (its record is freed): the next one is
 * loaded; the lock is released. Exits the process when it was the last. */
int sched_exit_current(struct rt_thread *t, struct kucontext *uc, int code, long *r);
/* Lock held: queues signal sig on u (interrupting an in-enclave wait when
 * u's mask lets it through; poking the enclave thread running u). */
void sched_signal_ult(struct rt_ult *u, int sig, const struct ksiginfo *si);

/* Posted calls that returned since the last look: their ULTs become
 * runnable (lock not held; cheap when none did). */
void sched_reap_hint(void);

/* sched_futex.c: FUTEX_* on private memory (lock not held). */
int sched_futex(struct rt_thread *t, struct kucontext *uc, const long *a, long *r);
/* Lock held: wakes up to n waiters on addr; the number woken. */
int sched_futex_wake_locked(unsigned long addr, int n, uint32_t bitset);
#endif
