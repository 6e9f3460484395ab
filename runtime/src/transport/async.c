/* The async syscall transport (async.h).
 *
 * Shared memory: ASYNC_NSLOTS request/response slots (one cache line each).
 * An enclave thread claims a FREE slot (CAS), writes nr + arguments, marks it
 * REQUEST and bumps `nreq`; a worker takes it (CAS REQUEST -> RUNNING),
 * executes the call with a raw `syscall` from the runtime's text, stores the
 * result and marks it DONE. The enclave thread spins briefly on the slot
 * (ENCLAVE_SPIN cycles), then sleeps on a futex on the slot's state word.
 *
 * Workers: at most one worker spins (it keeps the `spinner` token while it
 * serves, until it has been idle for WORKER_SPIN cycles) watching `nreq`;
 * the others sleep on a futex (`wseq`). An enclave thread wakes a sleeping
 * worker only when no worker spins or requests queue up (nreq > 1). A call
 * no worker took within RETRACT_CYCLES is taken back and executed sync; when
 * workers keep answering late (CPU contention), calls go sync for a while
 * (back-off). Before that happens, the workers watch the machine's load
 * (spare.h): when the threads running besides them and the enclave threads
 * waiting for them cover every core, a spinning worker would only take CPU
 * from them, so calls go sync for a hold time and the workers sleep
 * instead of spinning. Which calls may go async: async_must_be_sync (thread context;
 * potentially blocking unless provably not, e.g. I/O on a descriptor known
 * to be non-blocking: nb_track).
 *
 * Cost model (sim mode). Every futex call an enclave thread makes here (waking
 * a sleeping worker, sleeping until its result is posted) is a direct system
 * call from the enclave thread, which on SGX hardware is an enclave exit: each
 * one pays the simulated exit cost (exit_cycles) and is counted (SCONE_STATS=1).
 * A call that a spinning worker answers while the enclave thread spins costs
 * no exit. The workers' own system calls and futex wakes run outside the
 * enclave and cost nothing extra. Calls that go sync pay the sync exit cost.
 *
 * In sim mode the worker reads and writes the application's buffers directly
 * (one address space). On hardware the slots and buffers would have to be
 * copied to untrusted memory (as SCONE does); results are checked either way
 * (trap.c applies the Iago checks after the transport). */
#include "async.h"
#include "nonblock.h"
#include "spare.h"
#include "fdtab.h"
#include "ithread.h"
#include "transport.h"
#include "rtsignal.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

#define ASYNC_NSLOTS 64
#define ASYNC_MAX_WORKERS 16 /* SCONE_ASYNC_WORKERS: the workers started with the runtime */
#define ASYNC_WORKER_CAP 64  /* with the ones started for posted calls */
#define MAX_POSTED 48	     /* posted calls at once: the other slots stay for the quick calls */
#define ENCLAVE_SPIN 20000UL /* cycles an enclave thread spins before sleeping (~2.5 exits) */
#define WORKER_SPIN \
	1000000UL /* cycles an idle worker spins before sleeping (~400 us: more
				* than a futex wake-up of a sleeping thread takes on this VM) */

#define RETRACT_CYCLES 2600000UL /* a call no worker took after this long (~1 ms)... */
#define RETRACT_NS 1000000L	 /* ...is taken back and executed sync */
#define BACKOFF_AFTER 4		 /* consecutive async calls that needed an exit... */
#define BACKOFF_CALLS 256	 /* ...send this many calls sync, doubling while */
#define BACKOFF_MAX 8192	 /* probes keep failing, up to this many */

#define SAMPLE_CYCLES 1300000UL	    /* ~0.5 ms between two samples of the machine's load */
#define HOLD_MIN_CYCLES 5200000UL   /* calls go sync for ~2 ms after a sample found no spare core, */
#define HOLD_MAX_CYCLES 166400000UL /* doubling while samples keep finding none, up to ~64 ms */

#define LOAD_FD_MIN 1000 /* /proc/loadavg's descriptor: 1000-1007 are free of the runtime's others */

#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129

enum { S_FREE, S_CLAIMED, S_REQUEST, S_RUNNING, S_DONE };

struct slot {
	int state;
	int waiter; /* the enclave thread sleeps (or is about to) on state */
	long nr;
	long a[6];
	long ret;
	/* A posted call (transport.h claim/submit): the enclave thread does
	 * not wait on the slot; its result is collected later (done). */
	int posted;
	volatile unsigned cancel; /* a signal came for the waiting thread: the call returns -EINTR */
	int wtid;		  /* the worker executing it (for the cancelling signal) */
} __attribute__((aligned(64)));

/* A worker: a runtime-internal thread (core/ithread.h) serving slots. */
struct worker {
	int tid;
	unsigned idx;
	const void *block;	   /* its block (async_worker_signal) */
	struct slot *volatile cur; /* the posted call it executes, or 0 */
	int sig_on;		   /* RT_SIG_REQ unblocked: its posted calls can be cancelled */
};

static struct {
	struct slot slots[ASYNC_NSLOTS];
	int nreq __attribute__((aligned(64)));	  /* published, not yet taken */
	int spinner __attribute__((aligned(64))); /* 1: an idle worker is spinning */
	int sleepers;
	int wseq;
	int started __attribute__((aligned(64))); /* 0 none, 1 starting, 2 running */
	unsigned nworkers, nworkers_init;	  /* now; at start-up (SCONE_ASYNC_WORKERS) */
	struct worker w[ASYNC_WORKER_CAP];
	/* posted calls */
	int nposted __attribute__((aligned(64)));   /* claimed, not yet returned */
	int growing;				    /* an enclave thread starts a worker */
	unsigned bell __attribute__((aligned(64))); /* bumped at each completion of a posted call */
	int bell_waiters;
	unsigned long n_posted, n_post_full, n_cancels, n_grown;
	/* statistics */
	unsigned long n_async __attribute__((aligned(64)));
	unsigned long n_sync, n_full, n_wakes, n_sleeps, n_backoff, n_retracted;
	int misses __attribute__((aligned(64))); /* consecutive calls that needed an exit */
	int backoff;				 /* calls still to go sync */
	int backoff_len;			 /* the next back-off */
	uint64_t last_end;			 /* TSC at the end of the last async call */
	/* the machine's load, sampled by the workers (busy_machine) */
	uint64_t sync_until __attribute__((aligned(64))); /* TSC: calls go sync until then */
	uint64_t last_sample;
	int sampling; /* a worker is sampling: load is its */
	struct spare_load load;
	int load_fd, ncpus; /* /proc/loadavg (-1: not sampled); the CPUs we may run on */
	unsigned long n_nospare, n_samples, n_busy;
} A;

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void count(unsigned long *c) { __atomic_add_fetch(c, 1, __ATOMIC_RELAXED); }

static long futex(int *uaddr, int op, int val) { return rt_sys6(__NR_futex, uaddr, op, val, 0, 0, 0); }

int async_must_be_sync(long nr, const long *a)
{
	switch (nr) {
	/* thread identity and per-thread kernel state */
	case __NR_gettid:
	case __NR_getpid:
	case __NR_set_tid_address:
	case __NR_set_robust_list:
	case __NR_get_robust_list:
	case __NR_rseq:
	case __NR_sigaltstack:
	case __NR_arch_prctl:
	case __NR_prctl:
	case __NR_rt_sigprocmask:
	case __NR_rt_sigpending:
	case __NR_rt_sigtimedwait:
	case __NR_rt_sigsuspend:
	case __NR_rt_sigreturn:
	case __NR_rt_sigaction:
	case __NR_sched_yield:
	case __NR_sched_setaffinity:
	case __NR_sched_getaffinity:
	case __NR_sched_setscheduler:
	case __NR_sched_getscheduler:
	case __NR_sched_setparam:
	case __NR_sched_getparam:
	case __NR_sched_setattr:
	case __NR_sched_getattr:
	case __NR_setpriority:
	case __NR_getpriority:
	case __NR_ioprio_set:
	case __NR_ioprio_get:
	case __NR_capget:
	case __NR_capset:
	case __NR_getrusage:
	case __NR_getcpu:
	case __NR_timer_create:
	case __NR_unshare:
	case __NR_setns:
	case __NR_seccomp:
	case __NR_personality:
	case __NR_set_mempolicy:
	case __NR_get_mempolicy:
	case __NR_perf_event_open:
	case __NR_ptrace:
	case __NR_setuid:
	case __NR_setgid:
	case __NR_setreuid:
	case __NR_setregid:
	case __NR_setresuid:
	case __NR_setresgid:
	case __NR_setfsuid:
	case __NR_setfsgid:
	case __NR_setgroups:
	/* signals sent to the caller's own process/thread are delivered before
	 * the call returns natively */
	case __NR_kill:
	case __NR_tkill:
	case __NR_tgkill:
	case __NR_rt_sigqueueinfo:
	case __NR_rt_tgsigqueueinfo:
	case __NR_pidfd_send_signal:
	/* process and thread life cycle (the core handles them; never a worker) */
	case __NR_clone:
	case __NR_clone3:
	case __NR_fork:
	case __NR_vfork:
	case __NR_execve:
	case __NR_execveat:
	case __NR_exit:
	case __NR_exit_group:
		return 1;
	case __NR_clock_gettime:
	case __NR_clock_getres:
		return a[0] < 0 || a[0] == 3; /* CLOCK_THREAD_CPUTIME_ID, per-thread CPU clocks */
	}
	/* Potentially blocking calls stay on the calling thread: there the
	 * application's signals interrupt them as natively (trap.c's window),
	 * and a blocked call never ties up a worker (no deadlock with a fixed
	 * number of workers, e.g. futex WAIT waiting for a WAKE queued behind it). */
	if (rt_syscall_may_block(nr))
		return !rt_call_nonblocking(nr, a);
	return 0;
}

/* ---- workers ---- */

/* Whether the machine has no core to spare for a spinning worker
 * (spare.h): sampled at most every SAMPLE_CYCLES by one worker at a time.
 * When busy, calls go sync until sync_until and the workers do not spin. */
static int busy_machine(uint64_t now)
{
	uint64_t last = __atomic_load_n(&A.last_sample, __ATOMIC_RELAXED);
	if (A.load_fd < 0 || now - last < SAMPLE_CYCLES ||
	    !__atomic_compare_exchange_n(&A.last_sample, &last, now, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return now < __atomic_load_n(&A.sync_until, __ATOMIC_RELAXED);
	/* one sampler at a time, also when one was descheduled for a period */
	if (__atomic_exchange_n(&A.sampling, 1, __ATOMIC_ACQUIRE))
		return now < __atomic_load_n(&A.sync_until, __ATOMIC_RELAXED);
	char b[128];
	long n = rt_sys4(__NR_pread64, A.load_fd, b, sizeof b, 0);
	int running = n > 0 ? spare_running(b, n) : -1;
	if (running < 0) {
		__atomic_store_n(&A.sampling, 0, __ATOMIC_RELEASE);
		return 0;
	}
	/* the enclave threads spinning for a posted call wait for us */
	int waiting = 0;
	for (unsigned i = 0; i < ASYNC_NSLOTS; i++)
		waiting += __atomic_load_n(&A.slots[i].state, __ATOMIC_RELAXED) >= S_REQUEST &&
			   !__atomic_load_n(&A.slots[i].waiter, __ATOMIC_RELAXED);
	count(&A.n_samples);
	uint64_t hold = spare_sample(&A.load, running - 1 - waiting, A.ncpus, now - last > 8 * SAMPLE_CYCLES,
				     HOLD_MIN_CYCLES, HOLD_MAX_CYCLES);
	if (hold)
		count(&A.n_busy);
	__atomic_store_n(&A.sync_until, hold ? now + hold : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&A.sampling, 0, __ATOMIC_RELEASE);
	return hold != 0;
}

static struct slot *take(unsigned *cursor)
{
	if (!__atomic_load_n(&A.nreq, __ATOMIC_ACQUIRE))
		return 0;
	for (unsigned k = 0; k < ASYNC_NSLOTS; k++) {
		struct slot *s = &A.slots[(*cursor + k) % ASYNC_NSLOTS];
		int want = S_REQUEST;
		if (__atomic_load_n(&s->state, __ATOMIC_RELAXED) == S_REQUEST &&
		    __atomic_compare_exchange_n(&s->state, &want, S_RUNNING, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			__atomic_sub_fetch(&A.nreq, 1, __ATOMIC_ACQ_REL);
			*cursor = (*cursor + k + 1) % ASYNC_NSLOTS;
			return s;
		}
	}
	return 0;
}

/* A posted call, which may block: a cancellation point (core/sys.h
 * rt_syscall_cp) on the slot's cancel flag, which the enclave side sets
 * before it sends RT_SIG_REQ to this worker (async_cancel). A request
 * meant for an earlier call (stale) interrupts this one with EINTR while
 * its flag is clear: it is restarted. */
static void serve_posted(struct worker *w, struct slot *s)
{
	if (!w->sig_on) {
		uint64_t m = ~KSIGBIT(RT_SIG_REQ);
		rt_sys4(__NR_rt_sigprocmask, KSIG_SETMASK, &m, 0, 8);
		w->sig_on = 1;
	}
	w->cur = s;
	__atomic_store_n(&s->wtid, w->tid, __ATOMIC_SEQ_CST);
	long r;
	do
		r = rt_syscall_cp(s->nr, s->a[0], s->a[1], s->a[2], s->a[3], s->a[4], s->a[5], &s->cancel);
	while (r == -RT_EINTR && !__atomic_load_n(&s->cancel, __ATOMIC_SEQ_CST));
	w->cur = 0;
	s->ret = r;
	__atomic_sub_fetch(&A.nposted, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&s->state, S_DONE, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&A.bell, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&A.bell_waiters, __ATOMIC_SEQ_CST))
		futex((int *)&A.bell, FUTEX_WAKE_PRIVATE, 1 << 30);
}

static void serve(struct worker *w, struct slot *s)
{
	if (s->posted) {
		serve_posted(w, s);
		return;
	}
	long r;
	do /* a stale cancelling request (serve_posted) is no reason to fail a call */
		r = rt_syscall6(s->nr, s->a[0], s->a[1], s->a[2], s->a[3], s->a[4], s->a[5]);
	while (r == -RT_EINTR && w->sig_on);
	s->ret = r;
	__atomic_store_n(&s->state, S_DONE, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&s->waiter, __ATOMIC_SEQ_CST))
		futex(&s->state, FUTEX_WAKE_PRIVATE, 1);
}

static void worker_main(void *arg)
{
	struct worker *w = arg;
	w->tid = (int)rt_sys0(__NR_gettid);
	w->block = rt_self_from_sp();
	unsigned cursor = w->idx * (ASYNC_NSLOTS / ASYNC_MAX_WORKERS);
	for (;;) {
		struct slot *s;
		while ((s = take(&cursor)))
			serve(w, s);
		/* One worker at a time spins, keeping the token while it serves,
		 * until it has been idle for WORKER_SPIN cycles; the others sleep. */
		int zero = 0;
		if (!busy_machine(rt_rdtsc()) &&
		    __atomic_compare_exchange_n(&A.spinner, &zero, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
			uint64_t t0 = rt_rdtsc();
			for (;;) {
				if ((s = take(&cursor)) && s->posted) {
					/* it may block: the token goes first, or calls
					 * posted meanwhile would wait for this one */
					__atomic_store_n(&A.spinner, 0, __ATOMIC_SEQ_CST);
					if (__atomic_load_n(&A.nreq, __ATOMIC_SEQ_CST) &&
					    __atomic_load_n(&A.sleepers, __ATOMIC_SEQ_CST)) {
						__atomic_add_fetch(&A.wseq, 1, __ATOMIC_SEQ_CST);
						futex(&A.wseq, FUTEX_WAKE_PRIVATE, 1);
					}
					serve(w, s);
					break;
				}
				if (s) {
					serve(w, s);
					t0 = rt_rdtsc();
					continue;
				}
				uint64_t now = rt_rdtsc();
				if (now - t0 >= WORKER_SPIN || busy_machine(now))
					break;
				cpu_relax();
			}
			if (!s) /* else given up before a posted call */
				__atomic_store_n(&A.spinner, 0, __ATOMIC_SEQ_CST);
		}
		__atomic_add_fetch(&A.sleepers, 1, __ATOMIC_SEQ_CST);
		int seq = __atomic_load_n(&A.wseq, __ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&A.nreq, __ATOMIC_SEQ_CST))
			futex(&A.wseq, FUTEX_WAIT_PRIVATE, seq);
		__atomic_sub_fetch(&A.sleepers, 1, __ATOMIC_SEQ_CST);
	}
}

/* Starts worker i (its thread id, or a negative errno). */
static long start_worker(unsigned i)
{
	A.w[i].idx = i;
	A.w[i].sig_on = 0;
	A.w[i].cur = 0;
	return rt_ithread_start(worker_main, &A.w[i]);
}

static int start_workers(void)
{
	for (unsigned i = 0; i < A.nworkers; i++) {
		long r = start_worker(i);
		if (r < 0)
			return (int)r;
	}
	return 0;
}

static unsigned default_cpus(void)
{
	unsigned long mask[16];
	memset(mask, 0, sizeof mask);
	long n = rt_sys3(__NR_sched_getaffinity, 0, sizeof mask, mask);
	unsigned cpus = 0;
	if (n > 0)
		for (long i = 0; i < n / 8; i++)
			cpus += (unsigned)__builtin_popcountl(mask[i]);
	return cpus ? cpus : 1;
}

static unsigned default_workers(void)
{
	unsigned cpus = default_cpus();
	return cpus < 4 ? cpus : 4;
}

/* /proc/loadavg for busy_machine, at a high number out of the application's
 * way (before the program runs: the low one it had is free again); -1 when
 * it cannot be read (no /proc) or moved (a descriptor limit of 1,000 or
 * less): the workers then spin as before, the back-off still applies. */
static int open_load(void)
{
	long fd = rt_sys4(__NR_openat, RT_AT_FDCWD, "/proc/loadavg", RT_O_RDONLY | RT_O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	long hi = rt_sys3(__NR_fcntl, fd, 1030 /* F_DUPFD_CLOEXEC */, LOAD_FD_MIN);
	rt_sys1(__NR_close, fd);
	return hi < 0 ? -1 : (int)hi;
}

static void async_launched(void)
{
	if (A.load_fd >= 0)
		rt_fdtab_hide(A.load_fd); /* the runtime's, not the application's */
}

static int async_init(uint64_t exit_cycles)
{
	int s = sync_transport.init(exit_cycles); /* the calls that go sync */
	if (s < 0)
		return s;
	if (__atomic_load_n(&A.started, __ATOMIC_ACQUIRE))
		return 0;
	const char *v = rt_getenv("SCONE_ASYNC_WORKERS");
	long n = default_workers();
	if (v && *v) {
		n = rt_parse_ulong(v);
		if (n < 1 || n > ASYNC_MAX_WORKERS)
			rt_fatal(RT_EX_USAGE, "SCONE_ASYNC_WORKERS=%s: expected 1..%d worker threads", v,
				 ASYNC_MAX_WORKERS);
	}
	A.nworkers = A.nworkers_init = (unsigned)n;
	A.ncpus = (int)default_cpus();
	A.load_fd = open_load();
	A.started = 1;
	int r = start_workers();
	if (r < 0)
		return r;
	__atomic_store_n(&A.started, 2, __ATOMIC_RELEASE);
	return 0;
}

static void async_fork_child(void)
{
	if (!__atomic_load_n(&A.started, __ATOMIC_ACQUIRE))
		return;
	/* Requests of threads that do not exist in the child are dropped. */
	for (unsigned i = 0; i < ASYNC_NSLOTS; i++) {
		A.slots[i].waiter = 0;
		A.slots[i].posted = 0;
		A.slots[i].state = S_FREE;
	}
	A.nreq = 0;
	A.nposted = 0;
	A.nworkers = A.nworkers_init; /* the ones started for posted calls are the parent's */
	A.bell_waiters = 0;
	A.growing = 0;
	A.spinner = 0;
	A.sleepers = 0;
	A.sampling = 0; /* a worker of the parent may have been sampling */
	__atomic_store_n(&A.started, 3 /* restart at the first async call */, __ATOMIC_RELEASE);
}

/* ---- enclave side ---- */

static struct slot *claim(void)
{
	unsigned start = (unsigned)((rt_rdtsc() ^ ((unsigned long)rt_self_from_sp() >> 18)) % ASYNC_NSLOTS);
	for (unsigned k = 0; k < ASYNC_NSLOTS; k++) {
		struct slot *s = &A.slots[(start + k) % ASYNC_NSLOTS];
		int want = S_FREE;
		if (__atomic_load_n(&s->state, __ATOMIC_RELAXED) == S_FREE &&
		    __atomic_compare_exchange_n(&s->state, &want, S_CLAIMED, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return s;
	}
	return 0;
}

/* Fills the claimed slot s with nr(a) and hands it to the workers; the
 * number of exits that took (a sleeping worker woken). */
static int publish(struct slot *s, long nr, const long *a)
{
	s->nr = nr;
	for (int i = 0; i < 6; i++)
		s->a[i] = a[i];
	s->waiter = 0;
	__atomic_store_n(&s->state, S_REQUEST, __ATOMIC_RELEASE);
	int q = __atomic_add_fetch(&A.nreq, 1, __ATOMIC_SEQ_CST);
	if ((q > 1 || !__atomic_load_n(&A.spinner, __ATOMIC_SEQ_CST)) &&
	    __atomic_load_n(&A.sleepers, __ATOMIC_SEQ_CST)) {
		/* No worker is watching, or requests queue up behind the
		 * spinning one: wake one (a direct call: an exit). */
		count(&A.n_wakes);
		transport_simulate_exit();
		__atomic_add_fetch(&A.wseq, 1, __ATOMIC_SEQ_CST);
		futex(&A.wseq, FUTEX_WAKE_PRIVATE, 1);
		return 1;
	}
	return 0;
}

static long async_call(const long *a, long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	int st = __atomic_load_n(&A.started, __ATOMIC_ACQUIRE);
	if (st == 3) { /* forked child: restart the workers once */
		if (__atomic_compare_exchange_n(&A.started, &st, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			st = start_workers() < 0 ? 0 : 2;
			__atomic_store_n(&A.started, st, __ATOMIC_RELEASE);
		}
	}
	struct slot *s;
	if (st != 2 || async_must_be_sync(nr, a)) {
		count(&A.n_sync);
		return transport_sync_call(nr, a0, a1, a2, a3, a4, a5);
	}
	if (rt_rdtsc() < __atomic_load_n(&A.sync_until, __ATOMIC_RELAXED)) {
		count(&A.n_nospare);
		return transport_sync_call(nr, a0, a1, a2, a3, a4, a5);
	}
	/* Back-off: when the workers keep not answering within the spin
	 * (CPU contention: the spinning worker is descheduled), every async call
	 * costs a wake-up and a sleep (two exits) plus the scheduling delay; a
	 * sync call costs one exit. Go sync for a while, then probe again. */
	if (__atomic_load_n(&A.backoff, __ATOMIC_RELAXED) > 0 &&
	    __atomic_sub_fetch(&A.backoff, 1, __ATOMIC_RELAXED) >= 0) {
		count(&A.n_backoff);
		return transport_sync_call(nr, a0, a1, a2, a3, a4, a5);
	}
	if (!(s = claim())) {
		count(&A.n_full);
		return transport_sync_call(nr, a0, a1, a2, a3, a4, a5);
	}
	count(&A.n_async);
	s->posted = 0;
	int exits = publish(s, nr, a);
	uint64_t t0 = rt_rdtsc();
	int v, retracted = 0;
	while ((v = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE)) != S_DONE) {
		uint64_t dt = rt_rdtsc() - t0;
		if (dt < ENCLAVE_SPIN) {
			cpu_relax();
			continue;
		}
		if (v == S_REQUEST && dt >= RETRACT_CYCLES) {
			/* No worker took the call in time (all busy or descheduled):
			 * take it back and execute it on this thread. */
			int want = S_REQUEST;
			if (__atomic_compare_exchange_n(&s->state, &want, S_CLAIMED, 0, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED)) {
				__atomic_sub_fetch(&A.nreq, 1, __ATOMIC_ACQ_REL);
				retracted = 1;
				break;
			}
			continue;
		}
		__atomic_store_n(&s->waiter, 1, __ATOMIC_SEQ_CST);
		v = __atomic_load_n(&s->state, __ATOMIC_SEQ_CST);
		if (v == S_DONE)
			break;
		/* Sleeping until the worker posts the result: an exit. While the
		 * call is not taken, sleep at most until the retraction time. */
		count(&A.n_sleeps);
		exits++;
		transport_simulate_exit();
		struct {
			long sec, nsec;
		} ts = {0, RETRACT_NS};
		rt_sys6(__NR_futex, &s->state, FUTEX_WAIT_PRIVATE, v, v == S_REQUEST ? (long)&ts : 0, 0, 0);
	}
	long r;
	if (retracted) {
		count(&A.n_full);
		count(&A.n_retracted);
		exits++;
		r = transport_sync_call(nr, a0, a1, a2, a3, a4, a5);
	} else {
		r = __atomic_load_n(&s->ret, __ATOMIC_ACQUIRE); /* read once */
	}
	s->waiter = 0;
	__atomic_store_n(&s->state, S_FREE, __ATOMIC_RELEASE);
	/* A call after an idle gap finds the workers asleep: that exit is
	 * expected, not contention, and does not count as a miss. */
	uint64_t now = rt_rdtsc();
	uint64_t last = __atomic_exchange_n(&A.last_end, now, __ATOMIC_RELAXED);
	if (!exits) {
		__atomic_store_n(&A.misses, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&A.backoff_len, 0, __ATOMIC_RELAXED);
	} else if (t0 - last < WORKER_SPIN && __atomic_add_fetch(&A.misses, 1, __ATOMIC_RELAXED) >= BACKOFF_AFTER) {
		int len = __atomic_load_n(&A.backoff_len, __ATOMIC_RELAXED);
		len = len < BACKOFF_CALLS ? BACKOFF_CALLS : len >= BACKOFF_MAX ? BACKOFF_MAX : 2 * len;
		__atomic_store_n(&A.backoff_len, len, __ATOMIC_RELAXED);
		__atomic_store_n(&A.misses, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&A.backoff, len, __ATOMIC_RELAXED);
	}
	return r;
}

static long async_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	const long a[6] = {a0, a1, a2, a3, a4, a5};
	return async_call(a, nr, a0, a1, a2, a3, a4, a5);
}

/* A call that may block runs on the calling thread (async_must_be_sync),
 * as a cancellation point; the others cannot block and take the queues. */
static long async_syscall_cp(long nr, long a0, long a1, long a2, long a3, long a4, long a5,
			     const volatile unsigned *pending)
{
	const long a[6] = {a0, a1, a2, a3, a4, a5};
	if (!async_must_be_sync(nr, a))
		return async_call(a, nr, a0, a1, a2, a3, a4, a5);
	count(&A.n_sync);
	return transport_sync_call_cp(nr, a0, a1, a2, a3, a4, a5, pending);
}

/* ---- posted calls (transport.h claim .. ring) ---- */

/* A worker more for posted calls, which may block in it: as many workers
 * as posted calls plus one, so that quick calls always find one. 1 when
 * there are enough. */
static int enough_workers(int posted)
{
	for (;;) {
		unsigned n = __atomic_load_n(&A.nworkers, __ATOMIC_ACQUIRE);
		if ((unsigned)posted < n)
			return 1;
		if (n >= ASYNC_WORKER_CAP)
			return 0;
		int zero = 0;
		if (!__atomic_compare_exchange_n(&A.growing, &zero, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			cpu_relax(); /* another enclave thread starts one */
			continue;
		}
		/* one more (concurrent posters may each need theirs: the loop) */
		n = A.nworkers;
		long r = 0;
		if ((unsigned)posted >= n) {
			transport_simulate_exit(); /* clone from the enclave: an exit */
			r = start_worker(n);
			if (r >= 0) {
				__atomic_store_n(&A.nworkers, n + 1, __ATOMIC_RELEASE);
				count(&A.n_grown);
			}
		}
		__atomic_store_n(&A.growing, 0, __ATOMIC_RELEASE);
		if (r < 0)
			return 0;
	}
}

static int async_spare(void) { return rt_rdtsc() >= __atomic_load_n(&A.sync_until, __ATOMIC_RELAXED); }

static int async_claim(void)
{
	if (__atomic_load_n(&A.started, __ATOMIC_ACQUIRE) != 2)
		return -1; /* not started, or a forked child before its first async call */
	int posted = __atomic_add_fetch(&A.nposted, 1, __ATOMIC_SEQ_CST);
	struct slot *s = 0;
	if (posted > MAX_POSTED || !enough_workers(posted) || !(s = claim())) {
		__atomic_sub_fetch(&A.nposted, 1, __ATOMIC_SEQ_CST);
		count(&A.n_post_full);
		return -1;
	}
	s->posted = 1;
	s->cancel = 0;
	s->wtid = 0;
	return (int)(s - A.slots);
}

static void async_submit(int k, long nr, const long *a)
{
	count(&A.n_posted);
	publish(&A.slots[k], nr, a);
}

static int async_done(int k, long *r)
{
	struct slot *s = &A.slots[k];
	if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != S_DONE)
		return 0;
	*r = __atomic_load_n(&s->ret, __ATOMIC_ACQUIRE);
	s->posted = 0;
	__atomic_store_n(&s->state, S_FREE, __ATOMIC_RELEASE);
	return 1;
}

static void async_ring(void);

static void async_cancel(int k)
{
	struct slot *s = &A.slots[k];
	count(&A.n_cancels);
	__atomic_store_n(&s->cancel, 1, __ATOMIC_SEQ_CST);
	int want = S_REQUEST;
	if (__atomic_compare_exchange_n(&s->state, &want, S_RUNNING, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
		/* no worker took it yet: it returns -EINTR without running */
		__atomic_sub_fetch(&A.nreq, 1, __ATOMIC_ACQ_REL);
		s->ret = -RT_EINTR;
		__atomic_sub_fetch(&A.nposted, 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&s->state, S_DONE, __ATOMIC_SEQ_CST);
		async_ring(); /* as a worker announces a completion */
		return;
	}
	/* Taken: the worker either sees the flag before its call starts
	 * (rt_syscall_cp), or has published its thread id for the signal
	 * that interrupts the call (both sides store, then load). */
	int tid = __atomic_load_n(&s->wtid, __ATOMIC_SEQ_CST);
	if (tid && __atomic_load_n(&s->state, __ATOMIC_SEQ_CST) == S_RUNNING)
		transport_sync_call(__NR_tgkill, rt_sys0(__NR_getpid), tid, RT_SIG_REQ, 0, 0, 0);
}

static void async_bell_wait(unsigned seen, const void *timeout, const volatile unsigned *pending)
{
	static const volatile unsigned none;
	if (!pending)
		pending = &none;
	__atomic_add_fetch(&A.bell_waiters, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&A.bell, __ATOMIC_SEQ_CST) == seen)
		transport_sync_call_cp(__NR_futex, (long)&A.bell, FUTEX_WAIT_PRIVATE, (int)seen, (long)timeout, 0, 0,
				       pending);
	__atomic_sub_fetch(&A.bell_waiters, 1, __ATOMIC_SEQ_CST);
}

static void async_ring(void)
{
	__atomic_add_fetch(&A.bell, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&A.bell_waiters, __ATOMIC_SEQ_CST))
		transport_sync_call(__NR_futex, (long)&A.bell, FUTEX_WAKE_PRIVATE, 1 << 30, 0, 0, 0);
}

int async_worker_signal(const void *block, void *ucv)
{
	struct kucontext *uc = ucv;
	unsigned n = __atomic_load_n(&A.nworkers, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = &A.w[i];
		if (w->block != block)
			continue;
		/* between the flag's check and the call: the call must not start */
		struct slot *s = w->cur;
		unsigned long *g = uc->uc_mcontext.gregs;
		if (s && __atomic_load_n(&s->cancel, __ATOMIC_SEQ_CST) && g[KR_RIP] >= (unsigned long)rt_cp_begin &&
		    g[KR_RIP] <= (unsigned long)rt_cp_syscall)
			g[KR_RIP] = (unsigned long)rt_cp_cancel;
		return 1;
	}
	return 0;
}

static void async_print_stats(void)
{
	rt_eprintf(
		"scone-run: stats: transport async: %u workers, %lu calls served by workers, %lu sync "
		"(thread-context or potentially blocking), %lu sync (no free slot or no worker in time), %lu sync (back-off), "
		"%lu sync (no spare core: %lu of %lu load samples), %lu worker wake-ups, %lu enclave sleeps; exits: %lu\n",
		A.nworkers, A.n_async - A.n_retracted, A.n_sync, A.n_full, A.n_backoff, A.n_nospare, A.n_busy,
		A.n_samples, A.n_wakes, A.n_sleeps,
		A.n_sync + A.n_full + A.n_backoff + A.n_nospare + A.n_wakes + A.n_sleeps);
	if (A.n_posted || A.n_post_full)
		rt_eprintf("scone-run: stats: posted blocking calls: %lu served by workers while their threads were "
			   "parked, %lu made by the calling thread (no slot or worker free), %lu cancelled by signals, "
			   "%lu workers started for them\n",
			   A.n_posted, A.n_post_full, A.n_cancels, A.n_grown);
}

const struct transport async_transport = {
	.name = "async",
	.init = async_init,
	.syscall = async_syscall,
	.syscall_cp = async_syscall_cp,
	.fork_child = async_fork_child,
	.launched = async_launched,
	.print_stats = async_print_stats,
	.claim = async_claim,
	.spare = async_spare,
	.submit = async_submit,
	.done = async_done,
	.cancel = async_cancel,
	.bell = &A.bell,
	.bell_wait = async_bell_wait,
	.ring = async_ring,
};
