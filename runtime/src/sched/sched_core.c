/* The mn scheduler's core (rtsched.h, sched_int.h): ULT records, the run
 * queue, switching in the SIGSYS frame, the enclave threads and their idle
 * sleep, timed waits and the routing of signals to ULTs. */
#include "rtsched.h"
#include "sched_int.h"
#include "locks.h"
#include "rtsignal.h"
#include "transport.h"
#include "ithread.h"
#include "shield.h"
#include "rt_alloc.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

int rt_sched_mn;
struct sched_stats sched_stats;

static struct rt_ult *all;	       /* every live ULT */
static unsigned nults;		       /* their number */
static struct ult_list runq;	       /* runnable ULTs, FIFO */
static struct rt_ult *timed;	       /* ULTs with a deadline */
static struct rt_thread *idle_threads; /* enclave threads asleep in idle() */
/* The idle enclave thread whose sleep ends at the earliest deadline of the
 * timed waits (tk_deadline), or 0: the others sleep without a timeout, so
 * that a deadline wakes one thread, not every idle one (memcached's
 * threads sleep ~1 ms at a time; with dozens of idle enclave threads each
 * deadline woke them all). */
static struct rt_thread *timekeeper;
static uint64_t tk_deadline;
static unsigned nthreads = 1; /* kernel threads of the scheduler (the main thread included) */
static unsigned active = 1;   /* of them holding an enclave thread slot (TCS): not in a blocking host call, not spare */
static struct rt_thread *spares;	 /* threads without a slot, asleep until one is free */
static unsigned max_threads;		 /* their limit (the TCS count) */
static int next_vtid;			 /* the next ULT's thread id */
static size_t fp_cap;			 /* bytes of an FPU state image */
static struct rt_thread *ethreads[1024]; /* the enclave threads */
static unsigned long seen_loads[1024];	 /* their loads at the last tick */
static volatile int tick_word;		 /* the ticker sleeps on it */
static int ticker_on;			 /* the ticker thread runs (this process) */
static int tick_asleep;			 /* it sleeps on tick_word: tick_start wakes it */
/* Posted blocking calls: the ULTs waiting for one (ULT_HOSTCALL), the
 * workers' completion count (the transport's bell) when they were last
 * looked at, and the idle enclave thread that sleeps on the bell (at most
 * one; the others sleep on their own word). */
static struct ult_list hostcalls;
static unsigned bell_seen;
static struct rt_thread *reaper;
/* SCONE_ASYNC_POST: 0 never post; 1 (the default) when another ULT is
 * runnable and a core is spare for the workers; 2 whenever the call can be
 * posted (docs/runtime.md, "Posted blocking calls"). */
static int post_mode = 1;
/* An execve is under way (rt_sched_exec_begin .. rt_sched_exec): no ULT
 * of the old program runs again and no enclave thread is started. Else
 * the tick, ending a timed wait once the execve had emptied the process,
 * started a thread (free slots) that ran the old program's code while it
 * was unmapped. */
static int exec_frozen;

/* Time slice: a ULT that ran application code for a whole tick while
 * another was runnable is preempted. */
#define TICK_NS 10000000L

/* How long an idle enclave thread spins before it sleeps (an exit): about
 * the simulated cost of two exits at the default 8,000 cycles each. */
#define IDLE_SPIN_CYCLES 20000

/* Thread ids of ULTs other than the first: above the kernel's largest
 * (PID_MAX_LIMIT, 2^22), so that none is ever a real thread's. */
#define VTID_BASE (1 << 22)

void sched_lock(void) { rt_lock(&rt_sched_lock); }
void sched_unlock(void) { rt_unlock(&rt_sched_lock); }

uint64_t sched_now(void)
{
	struct {
		long sec, nsec;
	} ts = {0, 0};
	rt_sys2(__NR_clock_gettime, 1 /* CLOCK_MONOTONIC */, &ts);
	return (uint64_t)ts.sec * 1000000000ULL + (uint64_t)ts.nsec;
}

struct kts {
	long sec, nsec;
};

long sched_deadline(const void *tsp, int absolute, int realtime, uint64_t *out)
{
	const struct kts *ts = tsp;
	*out = 0;
	if (!ts)
		return 0;
	if (!rt_user_ok(ts, sizeof *ts))
		return -RT_EFAULT;
	struct kts v = *ts;
	if (v.sec < 0 || v.nsec < 0 || v.nsec >= 1000000000L)
		return -RT_EINVAL;
	uint64_t d = (uint64_t)v.sec * 1000000000ULL + (uint64_t)v.nsec, now = sched_now();
	if (!absolute) {
		*out = now + d;
		return 0;
	}
	if (realtime) {
		struct kts rt = {0, 0};
		rt_sys2(__NR_clock_gettime, 0 /* CLOCK_REALTIME */, &rt);
		uint64_t rnow = (uint64_t)rt.sec * 1000000000ULL + (uint64_t)rt.nsec;
		*out = d > rnow ? now + (d - rnow) : 1;
		return 0;
	}
	*out = d > now ? d : 1;
	return 0;
}

/* ---- records and lists ---- */

struct rt_ult *ult_new(void)
{
	struct rt_ult *u = rt_calloc(1, sizeof *u);
	if (!u)
		return 0;
	u->fp_alloc = rt_malloc(fp_cap + 64);
	if (!u->fp_alloc) {
		rt_free(u);
		return 0;
	}
	u->fp = (unsigned char *)(((unsigned long)u->fp_alloc + 63) & ~63UL);
	u->app_ss.ss_flags = KSS_DISABLE;
	u->park_nr = -1;
	return u;
}

static void ult_free(struct rt_ult *u)
{
	rt_free(u->fp_alloc);
	rt_free(u);
}

struct rt_ult *ult_find(int vtid)
{
	for (struct rt_ult *u = all; u; u = u->all_next)
		if (u->vtid == vtid)
			return u;
	return 0;
}

unsigned ult_count(void) { return nults; }

static void all_add(struct rt_ult *u)
{
	u->all_next = all;
	all = u;
	nults++;
}

static void all_remove(struct rt_ult *u)
{
	for (struct rt_ult **p = &all; *p; p = &(*p)->all_next)
		if (*p == u) {
			*p = u->all_next;
			nults--;
			return;
		}
}

void ult_list_push(struct ult_list *l, struct rt_ult *u)
{
	u->list = l;
	u->next = 0;
	u->prev = l->tail;
	if (l->tail)
		l->tail->next = u;
	else
		l->head = u;
	l->tail = u;
}

void ult_list_remove(struct rt_ult *u)
{
	struct ult_list *l = u->list;
	if (!l)
		return;
	if (u->prev)
		u->prev->next = u->next;
	else
		l->head = u->next;
	if (u->next)
		u->next->prev = u->prev;
	else
		l->tail = u->prev;
	u->prev = u->next = 0;
	u->list = 0;
}

static void tick_start(void);
static void timed_add(struct rt_ult *u, uint64_t deadline)
{
	if (!idle_threads)
		tick_start(); /* no enclave thread waits for the deadline */
	/* else the deadlines are covered before the next ULT runs
	 * (cover_deadlines), or the caller becomes the timekeeper in idle() */
	u->deadline = deadline;
	u->timed = 1;
	u->tprev = 0;
	u->tnext = timed;
	if (timed)
		timed->tprev = u;
	timed = u;
}

static void timed_remove(struct rt_ult *u)
{
	if (!u->timed)
		return;
	if (u->tprev)
		u->tprev->tnext = u->tnext;
	else
		timed = u->tnext;
	if (u->tnext)
		u->tnext->tprev = u->tprev;
	u->tprev = u->tnext = 0;
	u->timed = 0;
}

void sched_unwait(struct rt_ult *u)
{
	ult_list_remove(u);
	timed_remove(u);
}

/* ---- enclave threads ---- */

static void ethread_add(struct rt_thread *t)
{
	for (unsigned i = 0; i < sizeof ethreads / sizeof ethreads[0]; i++)
		if (!ethreads[i]) {
			ethreads[i] = t;
			seen_loads[i] = t->loads;
			return;
		}
}

static void ethread_remove(struct rt_thread *t)
{
	for (unsigned i = 0; i < sizeof ethreads / sizeof ethreads[0]; i++)
		if (ethreads[i] == t)
			ethreads[i] = 0;
}

/* The preemption tick (an internal thread): while ULTs wait in the run
 * queue with every enclave thread busy, an enclave thread that ran the same
 * ULT in application code for a whole tick is asked to switch
 * (RT_REQ_PREEMPT, taken between two application instructions). It also
 * ends the timed waits whose deadline passed while no enclave thread was
 * idle to wait for them. It sleeps on tick_word while nothing waits. */
static uint64_t expire(int self);
static void reap(int self);
static void ticker(void *arg)
{
	(void)arg;
	for (;;) {
		sched_lock();
		if (!exec_frozen) {
			expire(0); /* deadlines no idle enclave thread waits for */
			reap(0);   /* posted calls no idle enclave thread waits for */
		}
		if (exec_frozen || (!runq.head && (!timed || idle_threads) && (!hostcalls.head || reaper))) {
			int w = tick_word;
			tick_asleep = 1;
			sched_unlock();
			rt_sys4(__NR_futex, &tick_word, 0 /* FUTEX_WAIT */ | 128, w, 0);
			continue;
		}
		for (unsigned i = 0; i < sizeof ethreads / sizeof ethreads[0]; i++) {
			struct rt_thread *x = ethreads[i];
			if (!x)
				continue;
			unsigned long l = x->loads;
			if (x->ult && x->in_app && l == seen_loads[i])
				rt_thread_ask(x, RT_REQ_PREEMPT);
			seen_loads[i] = l;
		}
		sched_unlock();
		struct {
			long sec, nsec;
		} ts = {0, TICK_NS};
		rt_sys2(__NR_nanosleep, &ts, 0);
	}
}

/* Lock held: ULTs wait for an enclave thread; the tick must run. */
static void tick_start(void)
{
	if (!ticker_on) {
		if (rt_ithread_start(ticker, 0) < 0)
			return;
		ticker_on = 1;
	}
	tick_word++; /* a ticker about to sleep sees it change */
	if (tick_asleep) {
		tick_asleep = 0;
		rt_sys3(__NR_futex, &tick_word, 1 /* FUTEX_WAKE */ | 128, 1);
	}
}

static __attribute__((noreturn)) void thread_main(struct rt_thread *c);

/* Lock held: the idle thread at *pp leaves the idle list, woken. Its
 * roles (timekeeper, reaper) stay its own until it gives them up itself
 * (idle, drop_roles), so that they are always handed on. */
static void wake_idle(struct rt_thread **pp)
{
	struct rt_thread *x = *pp;
	*pp = x->sched_idle_next;
	__atomic_store_n(&x->sched_idle, 0, __ATOMIC_RELEASE);
	if (x->sched_spin) { /* it sees the store: no exit */
		sched_stats.spin_wakes++;
		return;
	}
	sched_stats.kicks++;
	if (x == reaper) { /* it sleeps on the bell */
		host_ring();
		return;
	}
	transport_sync_call(__NR_futex, (long)&x->sched_idle, 1 /* FUTEX_WAKE */ | 128, 1, 0, 0, 0);
}

/* Lock held, before a ULT runs and when a thread leaves idle (drop_roles);
 * d: the earliest deadline of the timed waits, or 0. A deadline no idle
 * thread sleeps for (a ULT that parked while another was runnable added
 * it, or the timekeeper went to run a ULT) gets one: an idle thread is
 * woken as the timekeeper, or with none idle the tick keeps time. */
static void cover_deadlines(uint64_t d)
{
	if (!d || (timekeeper && tk_deadline <= d))
		return;
	if (!idle_threads) {
		tick_start(); /* every enclave thread is busy: the tick keeps time */
		return;
	}
	struct rt_thread **pp = &idle_threads;
	if (timekeeper) /* it sleeps for a later deadline: it wakes and re-arms */
		while (*pp && *pp != timekeeper)
			pp = &(*pp)->sched_idle_next;
	if (*pp) {
		/* the role is its own from now: the next cover finds it
		 * covered, and it hands it on if it runs a ULT instead */
		struct rt_thread *x = *pp;
		wake_idle(pp);
		timekeeper = x;
		tk_deadline = d;
	}
}

/* Lock held: one more ULT is runnable; an enclave thread should take it. */
static void wake_one(void)
{
	if (exec_frozen)
		return;
	struct rt_thread **pp = &idle_threads;
	if (*pp) {
		/* not the timekeeper or the reaper while another idle thread
		 * can go: they keep sleeping for the deadline, the bell */
		while ((*pp == timekeeper || *pp == reaper) && (*pp)->sched_idle_next)
			pp = &(*pp)->sched_idle_next;
		wake_idle(pp); /* a timekeeper or reaper hands its role on (drop_roles) */
		return;
	}
	if (active >= max_threads) {
		tick_start();
		return;
	}
	struct rt_thread *x = spares;
	if (x) {
		spares = x->sched_idle_next;
		__atomic_store_n(&x->sched_idle, 0, __ATOMIC_RELEASE);
		active++;
		sched_stats.kicks++;
		transport_sync_call(__NR_futex, (long)&x->sched_idle, 1 /* FUTEX_WAKE */ | 128, 1, 0, 0, 0);
		return;
	}
	nthreads++;
	active++;
	if (rt_thread_spawn(thread_main) < 0) {
		nthreads--;
		active--;
		return;
	}
	sched_stats.spawns++;
}

int sched_runnable(void) { return __atomic_load_n(&runq.head, __ATOMIC_RELAXED) != 0; }

/* Lock held: u joins the run queue with result r in RAX. */
static void enqueue(struct rt_ult *u, long r)
{
	u->uc.uc_mcontext.gregs[KR_RAX] = (unsigned long)r;
	u->state = ULT_RUNNABLE;
	u->interruptible = 0;
	ult_list_push(&runq, u);
}

void sched_make_runnable(struct rt_ult *u, long r)
{
	enqueue(u, r);
	wake_one();
}

/* Lock held: ULTs whose posted call returned become runnable, after the
 * checks a host result gets (transport.h host_post_done, iago.h). self:
 * as expire's. */
static void reap(int self)
{
	if (!hostcalls.head)
		return;
	unsigned b = __atomic_load_n(host_bell(), __ATOMIC_ACQUIRE);
	if (b == bell_seen)
		return;
	bell_seen = b; /* a completion after this load bumps the bell again */
	for (struct rt_ult *u = hostcalls.head, *n; u; u = n) {
		n = u->next;
		long r;
		if (!host_post_done(u->hc_ticket, u->park_nr, u->hc_a, &r))
			continue;
		rt_iago_check(u->park_nr, u->hc_a, r, &u->hc_snap);
		ult_list_remove(u);
		if (self) {
			enqueue(u, r);
			self = 0;
		} else {
			sched_make_runnable(u, r);
		}
	}
}

void sched_reap_hint(void)
{
	if (!__atomic_load_n(&hostcalls.head, __ATOMIC_RELAXED) ||
	    __atomic_load_n(host_bell(), __ATOMIC_RELAXED) == __atomic_load_n(&bell_seen, __ATOMIC_RELAXED))
		return;
	sched_lock();
	reap(0);
	sched_unlock();
}

/* Lock held: ULTs whose deadline passed become runnable; returns the
 * earliest deadline of the timed waits left, or 0. self: the caller (an
 * enclave thread with an empty run queue) takes the first of them itself,
 * so only the others wake idle threads. */
static uint64_t expire(int self)
{
	if (!timed)
		return 0;
	uint64_t now = sched_now(), left = 0;
	for (struct rt_ult *u = timed, *n; u; u = n) {
		n = u->tnext;
		if (u->deadline > now) {
			if (!left || u->deadline < left)
				left = u->deadline;
			continue;
		}
		sched_unwait(u);
		long r = -110; /* ETIMEDOUT: a futex wait */
		if (u->park_nr == __NR_nanosleep || u->park_nr == __NR_clock_nanosleep)
			r = 0;
		if (self) { /* the caller runs it next: no other thread is woken for it */
			enqueue(u, r);
			self = 0;
		} else {
			sched_make_runnable(u, r);
		}
	}
	return left;
}

static int blocks(const struct rt_ult *u, uint64_t mask, int sig)
{
	if (sig == KSIGSYS)
		return u->vsigsys_blocked;
	return (mask & KSIGBIT(sig)) != 0;
}

/* Whether a signal pending on u would interrupt a wait under mask. */
static int deliverable(const struct rt_ult *u, uint64_t mask)
{
	for (unsigned i = 0; i < u->npending; i++)
		if (!blocks(u, mask, u->pending[i].sig))
			return 1;
	return 0;
}

/* nanosleep's rem: the time left until deadline. */
static void write_rem(const struct rt_ult *u, uint64_t deadline)
{
	if (!u->sleep_rem)
		return;
	uint64_t now = sched_now(), left = deadline > now ? deadline - now : 0;
	long *rem = (long *)u->sleep_rem;
	rem[0] = (long)(left / 1000000000ULL);
	rem[1] = (long)(left % 1000000000ULL);
}

void sched_signal_ult(struct rt_ult *u, int sig, const struct ksiginfo *si)
{
	if (u->npending < RT_MAX_PENDING) {
		u->pending[u->npending].sig = sig;
		u->pending[u->npending].info = *si;
		u->npending++;
	}
	if (u->state == ULT_WAITING && u->interruptible && !blocks(u, u->uc.uc_sigmask, sig)) {
		if (u->timed) /* nanosleep: the time left */
			write_rem(u, u->deadline);
		sched_unwait(u);
		sched_make_runnable(u, -RT_EINTR);
		return;
	}
	if (u->state == ULT_HOSTCALL && !u->hc_cancelled && !blocks(u, u->uc.uc_sigmask, sig)) {
		u->hc_cancelled = 1; /* it returns -EINTR (or its result) soon, then the signal is delivered */
		host_post_cancel(u->hc_ticket);
		return;
	}
	if (u->state == ULT_RUNNING && u->on && u->on != rt_self_from_sp())
		rt_thread_ask(u->on, RT_REQ_POKE);
}

/* Lock held: a signal an enclave thread took while idle goes to the ULT
 * that would natively take it: one waiting with the signal unblocked, else
 * any not running with it unblocked, else the first (pending there until
 * it unblocks the signal). */
static void route_signal(int sig, const struct ksiginfo *si)
{
	struct rt_ult *pick = 0;
	for (struct rt_ult *u = all; u; u = u->all_next) {
		if (u->state == ULT_RUNNING || blocks(u, u->uc.uc_sigmask, sig))
			continue;
		if ((u->state == ULT_WAITING && u->interruptible) || u->state == ULT_HOSTCALL) {
			pick = u;
			break;
		}
		if (!pick)
			pick = u;
	}
	if (!pick)
		for (pick = all; pick && pick->all_next; pick = pick->all_next)
			; /* the oldest: the main thread, while it lives */
	if (pick)
		sched_signal_ult(pick, sig, si);
}

static void drop_roles(struct rt_thread *t);

/* Lock held: what an idle enclave thread took (t->pending). 0, or
 * RT_SCHED_EXEC with that request left queued. */
static int route_pending(struct rt_thread *t)
{
	unsigned keep = 0;
	for (unsigned i = 0; i < t->npending; i++) {
		struct rt_pending *p = &t->pending[i];
		switch (rt_thread_request(t, p->sig, &p->info)) {
		case RT_REQ_EXIT:
			nthreads--;
			active--;
			ethread_remove(t);
			drop_roles(t);
			sched_unlock();
			rt_thread_exit_requested_now(t);
		case RT_REQ_EXEC:
			t->pending[keep++] = *p;
			continue;
		case RT_REQ_POKE:
		case RT_REQ_PREEMPT:
			continue;
		}
		route_signal(p->sig, &p->info);
	}
	t->npending = keep;
	return keep ? RT_SCHED_EXEC : 0;
}

/* The signals some ULT not running accepts: an idle enclave thread takes
 * them for it. SIGSYS: the runtime's requests. */
static uint64_t idle_allowed(void)
{
	uint64_t allow = KSIGBIT(KSIGSYS) | KSIGBIT(RT_SIG_REQ);
	for (struct rt_ult *u = all; u; u = u->all_next)
		if (u->state != ULT_RUNNING)
			allow |= ~u->uc.uc_sigmask;
	return allow & ~(KSIGBIT(KSIGKILL) | KSIGBIT(KSIGSTOP));
}

/* Lock held: t leaves the idle list by itself (not woken by wake_one). */
static void unlist_idle(struct rt_thread *t)
{
	for (struct rt_thread **p = &idle_threads; *p; p = &(*p)->sched_idle_next)
		if (*p == t) {
			*p = t->sched_idle_next;
			break;
		}
	t->sched_idle = 0;
}

/* Lock held: the earliest deadline of the timed waits, or 0. */
static uint64_t earliest(void)
{
	uint64_t d = 0;
	for (struct rt_ult *u = timed; u; u = u->tnext)
		if (!d || u->deadline < d)
			d = u->deadline;
	return d;
}

/* Lock held: ULTs wait for posted calls and no thread watches the bell:
 * an idle thread is woken as the reaper (it sleeps on the bell when it
 * idles again, or hands the role on when it runs a ULT instead), or with
 * none idle the tick looks at the bell besides the busy threads. */
static void hand_bell(void)
{
	struct rt_thread **pp = &idle_threads;
	while (*pp && *pp == timekeeper && (*pp)->sched_idle_next)
		pp = &(*pp)->sched_idle_next;
	if (*pp) {
		struct rt_thread *x = *pp;
		wake_idle(pp); /* on its own word: not yet the reaper */
		reaper = x;
	} else {
		tick_start();
	}
}

/* Lock held: t leaves idle() (to run a ULT, for an execve, to exit); its
 * roles go to another thread. A role an idle thread would take sleeps
 * with no holder otherwise: a deadline no one wakes for, a posted call
 * whose completion no one sees. Also when t held none: the thread woken
 * to take one may have found a ULT to run instead. */
static void drop_roles(struct rt_thread *t)
{
	if (timekeeper == t)
		timekeeper = 0;
	if (reaper == t)
		reaper = 0;
	if (timed && !timekeeper)
		cover_deadlines(earliest());
	if (hostcalls.head && !reaper)
		hand_bell();
}

/* Lock held (and held again on return): t sleeps until a ULT is runnable,
 * a deadline passes or a signal arrives. 0 when the run queue has a ULT,
 * else RT_SCHED_EXEC. */
static int idle(struct rt_thread *t)
{
	for (;;) {
		reap(!runq.head);
		uint64_t deadline = expire(!runq.head);
		if (runq.head && !exec_frozen) {
			drop_roles(t);
			return 0;
		}
		uint64_t allow = idle_allowed();
		/* one idle thread watches the workers' bell while ULTs wait for
		 * posted calls */
		int bell = hostcalls.head && (!reaper || reaper == t);
		if (bell)
			reaper = t;
		else if (reaper == t)
			reaper = 0; /* nothing posted is outstanding */
		unsigned seen = bell_seen;
		/* one idle thread keeps time: this one, unless another already
		 * sleeps for this deadline or an earlier one */
		if (deadline && (!timekeeper || timekeeper == t || deadline < tk_deadline)) {
			timekeeper = t;
			tk_deadline = deadline;
		} else {
			if (timekeeper == t)
				timekeeper = 0; /* no timed wait is left */
			deadline = 0;
		}
		t->sched_idle = 1;
		t->sched_idle_next = idle_threads;
		idle_threads = t;
		/* A bounded spin first: work that comes within it costs no
		 * enclave exit on either side (no futex wait, no wake). */
		t->sched_spin = 1;
		sched_unlock();
		uint64_t t0 = rt_rdtsc();
		while (__atomic_load_n(&t->sched_idle, __ATOMIC_ACQUIRE) && rt_rdtsc() - t0 < IDLE_SPIN_CYCLES &&
		       (!bell || __atomic_load_n(host_bell(), __ATOMIC_ACQUIRE) == seen))
			__builtin_ia32_pause();
		sched_lock();
		t->sched_spin = 0;
		/* Woken (off the list: a ULT is runnable, or a role needs a
		 * holder), or a posted call returned during the spin: the next
		 * round runs a ULT (its roles handed on) or decides them again. */
		if (!t->sched_idle)
			continue;
		if (bell && __atomic_load_n(host_bell(), __ATOMIC_ACQUIRE) != seen) {
			unlist_idle(t);
			continue;
		}
		sched_stats.idle_sleeps++;
		sched_unlock();

		struct {
			long sec, nsec;
		} ts, *tp = 0;
		if (deadline) {
			uint64_t now = sched_now(), d = deadline > now ? deadline - now : 0;
			ts.sec = (long)(d / 1000000000ULL);
			ts.nsec = (long)(d % 1000000000ULL);
			tp = &ts;
		}
		uint64_t mask = ~allow, all_blocked = ~0ULL;
		rt_sys4(__NR_rt_sigprocmask, KSIG_SETMASK, &mask, 0, 8);
		if (bell) {
			sched_stats.bell_sleeps++;
			host_bell_wait(seen, tp, &t->npending);
		} else {
			transport_sync_call_cp(__NR_futex, (long)&t->sched_idle, 0 /* FUTEX_WAIT */ | 128, 1, (long)tp,
					       0, 0, &t->npending);
		}
		rt_sys4(__NR_rt_sigprocmask, KSIG_SETMASK, &all_blocked, 0, 8);

		sched_lock();
		if (t->sched_idle) /* not woken by wake_one: off the list */
			unlist_idle(t);
		if (t->npending) {
			int s = route_pending(t);
			if (s) {
				drop_roles(t);
				return s;
			}
		}
	}
}

/* ---- switching ---- */

static void save(struct rt_thread *t, struct rt_ult *u, const struct kucontext *uc)
{
	u->uc = *uc;
	const unsigned char *f = uc->uc_mcontext.fpregs;
	u->has_fp = 0;
	if (f) {
		size_t n = 512;
		if (*(const uint32_t *)(f + 464) == FP_XSTATE_MAGIC1)
			n = *(const uint32_t *)(f + 468);
		if (n > fp_cap)
			rt_fatal(RT_EX_SOFTWARE,
				 "mn scheduler: an FPU state of %zu bytes exceeds the %zu bytes reserved", n, fp_cap);
		memcpy(u->fp, f, n);
		u->has_fp = 1;
	}
	u->app_fs = t->app_fs;
	u->app_gs = t->app_gs;
	u->vsigsys_blocked = t->vsigsys_blocked;
	u->app_ss = t->app_ss;
	u->on = 0;
	t->ult = 0;
}

static void load(struct rt_thread *t, struct rt_ult *u, struct kucontext *uc)
{
	*uc = u->uc;
	uc->uc_link = 0;
	rt_thread_real_altstack(t, &uc->uc_stack);
	/* the kernel restores the FPU state from the record (64-byte aligned,
	 * as XRSTOR wants); a ULT never run yet starts with a clean one */
	uc->uc_mcontext.fpregs = u->has_fp ? u->fp : 0;
	t->app_fs = u->app_fs;
	t->app_gs = u->app_gs; /* the trap's return writes it (trap.c) */
	t->vsigsys_blocked = u->vsigsys_blocked;
	t->app_ss = u->app_ss;
	u->state = ULT_RUNNING;
	u->on = t;
	t->ult = u;
	t->loads++;
}

/* Lock held: the next runnable ULT into uc (idling until there is one);
 * the lock is released. */
static int run_next(struct rt_thread *t, struct kucontext *uc, struct rt_ult *prev, long *r)
{
	for (;;) {
		reap(!runq.head);
		uint64_t d = expire(!runq.head);
		struct rt_ult *n = exec_frozen ? 0 : runq.head;
		if (n) {
			ult_list_remove(n);
			cover_deadlines(d);
			load(t, n, uc);
			if (n != prev)
				sched_stats.switches++;
			*r = n->park_nr;
			n->park_nr = -1;
			sched_unlock();
			return RT_SCHED_SWITCHED;
		}
		int s = idle(t);
		if (s) {
			sched_unlock();
			return s;
		}
	}
}

int sched_park(struct rt_thread *t, struct kucontext *uc, long nr, int wait, struct ult_list *l, uint64_t deadline,
	       long *r)
{
	struct rt_ult *u = t->ult;
	if (wait && deliverable(u, uc->uc_sigmask)) {
		/* a signal came before the wait began: it interrupts it at once */
		if (nr == __NR_nanosleep || nr == __NR_clock_nanosleep)
			write_rem(u, deadline);
		uc->uc_mcontext.gregs[KR_RAX] = (unsigned long)-RT_EINTR;
		sched_unlock();
		*r = nr;
		return RT_SCHED_SWITCHED;
	}
	save(t, u, uc);
	u->park_nr = nr;
	if (wait) {
		u->state = ULT_WAITING;
		u->interruptible = 1;
		if (l)
			ult_list_push(l, u);
		if (deadline)
			timed_add(u, deadline);
		sched_stats.parks++;
	} else {
		u->state = ULT_RUNNABLE;
		ult_list_push(&runq, u);
	}
	return run_next(t, uc, u, r);
}

void rt_sched_leave(struct rt_thread *t)
{
	(void)t;
	sched_lock();
	active--;
	if (runq.head || (timed && !idle_threads) || (hostcalls.head && !reaper))
		wake_one(); /* the slot runs the others, or waits for their deadlines, posted calls */
	sched_unlock();
}

/* Lock held (and again on return): t has no slot; it sleeps until a slot
 * is free for it (wake_one counts it active) or a request comes. 0 or
 * RT_SCHED_EXEC. */
static int spare(struct rt_thread *t)
{
	for (;;) {
		t->sched_idle = 1;
		t->sched_idle_next = spares;
		spares = t;
		sched_unlock();
		uint64_t mask = ~(KSIGBIT(KSIGSYS) | KSIGBIT(RT_SIG_REQ)), all_blocked = ~0ULL;
		rt_sys4(__NR_rt_sigprocmask, KSIG_SETMASK, &mask, 0, 8);
		transport_sync_call_cp(__NR_futex, (long)&t->sched_idle, 0 /* FUTEX_WAIT */ | 128, 1, 0, 0, 0,
				       &t->npending);
		rt_sys4(__NR_rt_sigprocmask, KSIG_SETMASK, &all_blocked, 0, 8);
		sched_lock();
		if (!t->sched_idle)
			return 0; /* given a slot */
		for (struct rt_thread **p = &spares; *p; p = &(*p)->sched_idle_next)
			if (*p == t) {
				*p = t->sched_idle_next;
				break;
			}
		t->sched_idle = 0;
		if (t->npending) {
			active++; /* route_pending's exit gives a slot back */
			int s = route_pending(t);
			active--;
			if (s)
				return s;
		}
	}
}

int rt_sched_try_enter(struct rt_thread *t)
{
	(void)t;
	sched_lock();
	int ok = active < max_threads;
	if (ok)
		active++;
	sched_unlock();
	return ok;
}

int rt_sched_enter(struct rt_thread *t, struct kucontext *uc, long nr, long *r)
{
	sched_lock();
	if (active < max_threads) {
		active++;
		sched_unlock();
		return 0;
	}
	/* every slot is taken: the ULT waits in the run queue with its
	 * result, and the signals that came for it during the call */
	struct rt_ult *u = t->ult;
	unsigned keep = 0, moved = 0, tokens = 0;
	for (unsigned i = 0; i < t->npending; i++) {
		int q = rt_thread_request(t, t->pending[i].sig, &t->pending[i].info);
		if (q == RT_REQ_EXEC || q == RT_REQ_EXIT)
			t->pending[keep++] = t->pending[i];
		else if (q)
			tokens++;
		else if (u->npending < RT_MAX_PENDING)
			u->pending[u->npending++] = t->pending[i], moved++;
	}
	t->npending = keep;
	unsigned long *g = uc->uc_mcontext.gregs;
	long park_nr = nr;
	if (tokens && !moved && (long)g[KR_RAX] == -RT_EINTR) {
		/* only the runtime interrupted the call: it goes on when the
		 * ULT runs again (as rt_sched_collect does) */
		g[KR_RIP] -= 2;
		g[KR_RAX] = (unsigned long)nr;
		park_nr = -1;
	}
	save(t, u, uc);
	u->park_nr = park_nr; /* its signals' restart is decided when it runs */
	u->state = ULT_RUNNABLE;
	ult_list_push(&runq, u);
	sched_stats.slot_waits++;
	wake_one(); /* an idle enclave thread holds the slot it could run in */
	int s = spare(t);
	if (s) {
		sched_unlock();
		return s;
	}
	return run_next(t, uc, u, r);
}

int rt_sched_resume(struct rt_thread *t, struct kucontext *uc, long *r)
{
	sched_lock();
	return run_next(t, uc, 0, r);
}

int sched_exit_current(struct rt_thread *t, struct kucontext *uc, int code, long *r)
{
	(void)code;
	struct rt_ult *u = t->ult;
	all_remove(u);
	t->ult = 0;
	ult_free(u);
	return run_next(t, uc, 0, r);
}

/* A new enclave thread: armed, it runs ULTs from the run queue. */
static void thread_main(struct rt_thread *c)
{
	rt_wrfsbase((unsigned long)c);
	int e = rt_thread_arm(c);
	if (e < 0)
		rt_fatal(RT_EX_OSERR, "cannot arm a new enclave thread (sigaltstack/Syscall User Dispatch): error %d",
			 -e);
	struct kucontext *uc = &c->child_frame.uc;
	long nr;
	sched_lock();
	ethread_add(c);
	if (run_next(c, uc, 0, &nr) != RT_SCHED_SWITCHED)
		rt_fatal(RT_EX_SOFTWARE,
			 "mn scheduler: an execve request reached an enclave thread other than the main one");
	/* nr: the call the ULT waits in (its restart when a signal ended it) */
	if (!rt_sched_collect(c, uc, nr) && c->npending)
		rt_signals_after_syscall(c, uc, nr);
	rt_wrfsbase(c->app_fs);
	if (c->app_gs)
		rt_wrgsbase(c->app_gs);
	c->in_app = 1;
	rt_sigreturn_to(uc);
}

/* ---- signals of the running ULT ---- */

int rt_sched_collect(struct rt_thread *t, struct kucontext *uc, long nr)
{
	unsigned keep = 0, tokens = 0;
	for (unsigned i = 0; i < t->npending; i++) {
		int q = rt_thread_request(t, t->pending[i].sig, &t->pending[i].info);
		if (q == RT_REQ_POKE || q == RT_REQ_PREEMPT)
			tokens++;
		else
			t->pending[keep++] = t->pending[i];
	}
	t->npending = keep;
	struct rt_ult *u = t->ult;
	if (u && __atomic_load_n(&u->npending, __ATOMIC_RELAXED)) {
		sched_lock();
		unsigned k = 0;
		for (unsigned i = 0; i < u->npending; i++) {
			if (!blocks(u, uc->uc_sigmask, u->pending[i].sig) && t->npending < RT_MAX_PENDING)
				t->pending[t->npending++] = u->pending[i];
			else
				u->pending[k++] = u->pending[i];
		}
		u->npending = k;
		sched_unlock();
	}
	unsigned long *g = uc->uc_mcontext.gregs;
	if (tokens && !t->npending && nr >= 0 && (long)g[KR_RAX] == -RT_EINTR && rt_syscall_may_block(nr)) {
		/* only the runtime interrupted the call: it goes on */
		g[KR_RIP] -= 2;
		g[KR_RAX] = (unsigned long)nr;
		return 1;
	}
	return 0;
}

long rt_sched_interrupt(struct rt_thread *t, struct kucontext *uc, int req)
{
	long nr = -1;
	if (req == RT_REQ_PREEMPT && t->ult && __atomic_load_n(&runq.head, __ATOMIC_RELAXED)) {
		sched_lock();
		if (runq.head) {
			sched_stats.preempts++;
			sched_park(t, uc, -1, 0, 0, 0, &nr); /* a ULT is runnable: no idling, the lock is released */
		} else {
			sched_unlock();
		}
	}
	return rt_sched_collect(t, uc, nr) ? RT_SCHED_RESTARTED : nr;
}

/* ---- posted blocking calls ---- */

/* The calls a host worker may make for a ULT: they act on descriptors,
 * memory or processes the workers share, not on the calling kernel
 * thread. Not: calls with a signal mask argument (ppoll, pselect6,
 * epoll_pwait(2) with one: the mask is the calling thread's for the
 * call's duration), calls that create descriptors by path (the spare
 * placeholders' numbering, fdtab.h), ioctl. */
static int postable(long nr, const long *a)
{
	switch (nr) {
	case __NR_read:
	case __NR_readv:
	case __NR_pread64:
	case __NR_preadv:
	case __NR_preadv2:
	case __NR_write:
	case __NR_writev:
	case __NR_pwrite64:
	case __NR_pwritev:
	case __NR_pwritev2:
	case __NR_recvfrom:
	case __NR_recvmsg:
	case __NR_recvmmsg:
	case __NR_sendto:
	case __NR_sendmsg:
	case __NR_sendmmsg:
	case __NR_sendfile:
	case __NR_splice:
	case __NR_tee:
	case __NR_accept:
	case __NR_accept4:
	case __NR_connect:
	case __NR_poll:
	case __NR_select:
	case __NR_epoll_wait:
	case __NR_wait4:
	case __NR_waitid:
	case __NR_flock:
	case __NR_fcntl: /* F_SETLKW, F_OFD_SETLKW: the others do not block */
	case __NR_msgrcv:
	case __NR_msgsnd:
	case __NR_semop:
	case __NR_semtimedop:
	case __NR_mq_timedreceive:
	case __NR_mq_timedsend:
	case __NR_futex: /* on shared memory: the others are served in the enclave */
	case __NR_pause:
		return 1;
	case __NR_ppoll:
	case __NR_epoll_pwait:
	case __NR_epoll_pwait2:
		return !a[3];
	case __NR_pselect6:
		return !a[5];
	}
	return 0;
}

int rt_sched_offer(struct rt_thread *t, long nr, const long *a)
{
	if (!post_mode || !t->ult || !host_can_post() || !postable(nr, a))
		return 0;
	if (post_mode == 2)
		return 1;
	/* With nothing else to run the enclave thread would sleep (an exit)
	 * until the call returns: the call made here costs the same, without
	 * a worker's wake-up and hand-back. Without a spare core every post
	 * wakes a sleeping worker (an exit) and adds two hand-overs between
	 * threads that wait for a CPU. */
	if (!sched_runnable()) {
		__atomic_add_fetch(&sched_stats.post_idle, 1, __ATOMIC_RELAXED);
		return 0;
	}
	if (!host_post_spare()) {
		__atomic_add_fetch(&sched_stats.post_busy, 1, __ATOMIC_RELAXED);
		return 0;
	}
	return 1;
}

/* Cycles a posted call may take before its ULT parks: a call that does
 * not block (an event loop's epoll_wait with events ready) returns within
 * a few microseconds, and the ULT goes on without a switch. */
#define HOSTCALL_SPIN_CYCLES 20000

int rt_sched_hostcall_quick(struct rt_thread *t, long nr, long *r)
{
	uint64_t t0 = rt_rdtsc();
	do {
		if (host_post_done(t->hc_ticket, nr, t->hc_a, r)) {
			rt_iago_check(nr, t->hc_a, *r, &t->hc_snap);
			__atomic_add_fetch(&sched_stats.hostcall_quick, 1, __ATOMIC_RELAXED);
			return 1;
		}
		__builtin_ia32_pause();
	} while (!sched_runnable() && rt_rdtsc() - t0 < HOSTCALL_SPIN_CYCLES);
	return 0;
}

/* The call t->hc_ticket, cancelled and waited for without a switch. */
static long hostcall_cancel_wait(struct rt_thread *t, long nr)
{
	long r;
	host_post_cancel(t->hc_ticket);
	for (;;) {
		unsigned b = __atomic_load_n(host_bell(), __ATOMIC_ACQUIRE);
		if (host_post_done(t->hc_ticket, nr, t->hc_a, &r))
			break;
		struct kts ts = {0, 1000000};
		host_bell_wait(b, &ts, 0);
	}
	rt_iago_check(nr, t->hc_a, r, &t->hc_snap);
	return r;
}

/* Lock held, a ULT parked in a posted call: someone must watch the bell.
 * With nothing else to run, the caller idles and does; else hand_bell. */
static void watch_bell(void)
{
	if (reaper || !runq.head)
		return;
	hand_bell();
}

int rt_sched_hostcall(struct rt_thread *t, struct kucontext *uc, long nr, long *r)
{
	struct rt_ult *u = t->ult;
	if (rt_sched_hostcall_quick(t, nr, r))
		return RT_SCHED_RESULT;
	sched_lock();
	/* Done by now? Checked under the lock, as reap does: a completion the
	 * bell announced before the ULT is on the list is seen here. */
	if (host_post_done(t->hc_ticket, nr, t->hc_a, r)) {
		sched_unlock();
		rt_iago_check(nr, t->hc_a, *r, &t->hc_snap);
		return RT_SCHED_RESULT;
	}
	if (deliverable(u, uc->uc_sigmask)) {
		/* a signal for it came before it could park: the call ends now */
		sched_unlock();
		*r = hostcall_cancel_wait(t, nr);
		return RT_SCHED_RESULT;
	}
	save(t, u, uc);
	u->park_nr = nr;
	u->hc_ticket = t->hc_ticket;
	u->hc_cancelled = 0;
	memcpy(u->hc_a, t->hc_a, sizeof u->hc_a);
	u->hc_snap = t->hc_snap;
	u->state = ULT_HOSTCALL;
	u->interruptible = 1;
	ult_list_push(&hostcalls, u);
	sched_stats.hostcalls++;
	watch_bell();
	return run_next(t, uc, u, r);
}

void rt_sched_drain_hostcalls(void)
{
	if (!rt_sched_mn)
		return;
	sched_lock();
	for (struct rt_ult *u = hostcalls.head; u; u = u->next)
		if (!u->hc_cancelled) {
			u->hc_cancelled = 1;
			host_post_cancel(u->hc_ticket);
		}
	while (hostcalls.head) {
		unsigned b = __atomic_load_n(host_bell(), __ATOMIC_ACQUIRE);
		for (struct rt_ult *u = hostcalls.head, *n; u; u = n) {
			n = u->next;
			long r;
			if (host_post_done(u->hc_ticket, u->park_nr, u->hc_a, &r))
				ult_list_remove(u); /* its ULT goes with the old program */
		}
		if (!hostcalls.head)
			break;
		sched_unlock();
		struct kts ts = {0, 1000000};
		host_bell_wait(b, &ts, 0);
		sched_lock();
	}
	sched_unlock();
}

/* ---- set-up, fork, execve ---- */

static size_t xsave_size(void)
{
	unsigned a = 0xd, b = 0, c = 0, d = 0;
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	size_t n = b > c ? b : c;
	return (n < 1024 ? 1024 : n) + 64;
}

int rt_sched_init(struct rt_thread *t)
{
	fp_cap = xsave_size();
	max_threads = rt_max_threads ? rt_max_threads : 4;
	const char *p = rt_getenv("SCONE_ASYNC_POST");
	if (p && *p) {
		if ((p[0] != '0' && p[0] != '1' && p[0] != '2') || p[1])
			rt_fatal(RT_EX_USAGE, "SCONE_ASYNC_POST=%s: expected 0 (never), 1 (when it pays) or 2 (always)",
				 p);
		post_mode = p[0] - '0';
	}
	struct rt_ult *u = ult_new();
	if (!u)
		return -RT_ENOMEM;
	u->vtid = (int)rt_sys0(__NR_getpid);
	next_vtid = VTID_BASE;
	u->state = ULT_RUNNING;
	u->on = t;
	rt_sys2(__NR_prctl, 16 /* PR_GET_NAME */, (long)u->name); /* until rt_sched_comm */
	t->ult = u;
	all_add(u);
	ethread_add(t);
	rt_sched_mn = 1;
	return 0;
}

int sched_next_vtid(void)
{
	if (next_vtid >= 0x3fffffff)
		next_vtid = VTID_BASE;
	while (ult_find(next_vtid))
		next_vtid++;
	return next_vtid++;
}

void sched_add(struct rt_ult *u) { all_add(u); }

/* Only t survives (a forked child, an execve): the other ULTs go. */
static void only(struct rt_thread *t)
{
	struct rt_ult *keep = t->ult;
	if (!keep) {
		keep = all;
		if (keep) {
			all = keep->all_next;
			sched_unwait(keep);
		}
	}
	for (struct rt_ult *u = all, *n; u; u = n) {
		n = u->all_next;
		if (u != keep) {
			sched_unwait(u); /* off the futex wait lists too */
			ult_free(u);
		}
	}
	all = 0;
	nults = 0;
	exec_frozen = 0;
	runq.head = runq.tail = 0;
	timed = 0;
	idle_threads = 0;
	timekeeper = 0;
	reaper = 0;
	hostcalls.head = hostcalls.tail = 0;
	spares = 0;
	nthreads = 1;
	active = 1;
	memset(ethreads, 0, sizeof ethreads);
	ethread_add(t);
	if (!keep && !(keep = ult_new()))
		rt_fatal(RT_EX_OSERR, "out of memory");
	keep->list = 0;
	keep->timed = 0;
	keep->state = ULT_RUNNING;
	keep->on = t;
	keep->npending = 0;
	keep->vtid = (int)rt_sys0(__NR_getpid);
	t->ult = keep;
	all_add(keep);
}

void rt_sched_fork_child(struct rt_thread *t)
{
	if (rt_sched_mn) {
		only(t);
		ticker_on = 0; /* internal threads do not survive fork */
		tick_asleep = 0;
	}
}

void rt_sched_exec_begin(void)
{
	if (!rt_sched_mn)
		return;
	sched_lock();
	exec_frozen = 1;
	sched_unlock();
}

void rt_sched_exec(struct rt_thread *t)
{
	if (!rt_sched_mn)
		return;
	sched_lock();
	only(t);
	t->ult->clear_tid = 0;
	t->ult->robust_head = 0;
	t->ult->keepcaps = 0; /* execve clears SECBIT_KEEP_CAPS */
	sched_unlock();
}

void rt_sched_comm(const char *name)
{
	struct rt_thread *t = rt_self_from_gs(); /* the block: at launch (not armed yet) and in the trap */
	if (!rt_sched_mn || !t || t->self != t || !t->ult)
		return;
	size_t n = 0;
	while (n < sizeof t->ult->name - 1 && name[n]) {
		t->ult->name[n] = name[n];
		n++;
	}
	t->ult->name[n] = 0;
}

void rt_sched_print_stats(void)
{
	struct sched_stats s = sched_stats;
	rt_eprintf(
		"scone-run: stats: mn scheduler: %lu user-level threads created, %u kernel threads (%lu started) for "
		"%u enclave threads, %lu switches, %lu parks (%lu futex waits, %lu futex wake calls, %lu yields), %lu "
		"preemptions, %lu waits for a free enclave thread after a blocking call, %lu wake-ups of spinning idle "
		"threads, %lu idle sleeps (%lu of them on the workers' bell), %lu wake-ups of sleeping threads, %lu calls "
		"served on the fast path without a trap, %lu posted blocking calls waited for parked, %lu returned "
		"within the spin, %lu made by the calling thread as nothing else was runnable, %lu as no core was "
		"spare\n",
		s.ults, nthreads, s.spawns, max_threads, s.switches, s.parks, s.futex_waits, s.futex_wakes, s.yields,
		s.preempts, s.slot_waits, s.spin_wakes, s.idle_sleeps, s.bell_sleeps, s.kicks, s.fast, s.hostcalls,
		s.hostcall_quick, s.post_idle, s.post_busy);
}
