/* Syscall transport: how a call the shields pass on reaches the host.
 *
 * One ops table per transport, chosen once at start-up (transport_select:
 * from the measured config in sim mode, from the environment in dev mode).
 * `sync` (sync.c, the default): the calling thread executes the system call
 * itself from the runtime's text (exempt from Syscall User Dispatch), after
 * a busy-wait that simulates the cost of an enclave exit + re-entry
 * (EEXIT/EENTER, ~8,000 cycles on SGX1). `async` (async.c): shared-memory
 * slots served by host worker threads; the calls that must run on the
 * calling thread, or may block, go sync.
 *
 * Every host call goes through host_syscall, which also reports the result
 * to the Iago checks of the core (iago.h: descriptors and mappings). */
#ifndef SCONE_TRANSPORT_H
#define SCONE_TRANSPORT_H
#include <stdint.h>

struct transport {
	const char *name;
	/* Starts the transport with the simulated exit cost (TSC ticks, 0:
	 * none): 0 or a negative errno. */
	int (*init)(uint64_t exit_cycles);
	long (*syscall)(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
	/* The application's own blocking call (host_syscall_cp): a call the
	 * calling thread executes itself must return -EINTR instead of
	 * blocking when a signal is queued for the thread (*pending) before it
	 * starts (transport_sync_call_cp); one a worker serves cannot block. */
	long (*syscall_cp)(long nr, long a0, long a1, long a2, long a3, long a4, long a5,
			   const volatile unsigned *pending);
	/* In a forked child (fork.c): only the calling thread exists there. */
	void (*fork_child)(void);
	/* Once the runtime's descriptor table is set up (rt_launch, before the
	 * program): the transport's own descriptors become the runtime's
	 * (rt_fdtab_hide). May be NULL. */
	void (*launched)(void);
	/* SCONE_STATS=1 at exit_group: a line of counters on stderr. */
	void (*print_stats)(void);
	/* Exit-less blocking calls (the mn scheduler parks the calling
	 * user-level thread meanwhile: docs/runtime.md, "Posted blocking
	 * calls"); NULL where the transport has no workers. claim reserves a
	 * slot with a worker free to take it: a ticket (>= 0), or -1 (the
	 * caller then makes the call itself). submit hands nr(a) to a worker
	 * and returns at once. done: 1 with *r once the call returned (the
	 * ticket is free again), else 0. cancel: a signal came for the
	 * waiting thread: the call returns -EINTR soon unless it returned.
	 * bell: a counter the workers bump at each completion of a posted
	 * call; bell_wait sleeps (an enclave exit) while it reads seen, at
	 * most until the timeout (a struct timespec, or 0), cancelled by
	 * *pending; ring bumps it and wakes the sleeper. */
	int (*claim)(void);
	/* Whether a core is spare for the workers now (the async transport's
	 * load samples): a posted call then costs no wake-up of a sleeping
	 * worker. */
	int (*spare)(void);
	void (*submit)(int ticket, long nr, const long *a);
	int (*done)(int ticket, long *r);
	void (*cancel)(int ticket);
	const volatile unsigned *bell;
	void (*bell_wait)(unsigned seen, const void *timeout, const volatile unsigned *pending);
	void (*ring)(void);
};

#define RT_DEFAULT_EXIT_CYCLES 8000

/* Chooses and starts the transport; once. 0, -ENOENT for an unknown name, or
 * the transport's init error. Until then host calls go sync with the
 * default exit cost. */
int transport_select(const char *name, uint64_t exit_cycles);
void transport_fork_child(void);
void transport_launched(void);
void transport_print_stats(void);

long host_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
/* Closes the spare placeholders on the host (core/fdtab.h): before an
 * execve's program starts. Each host call that could otherwise get another
 * descriptor number than the kernel would give closes them first. */
void host_drop_spares(void);
/* The application's own blocking call, passed on by the shields: a signal
 * queued for the thread (*pending) before the call starts makes it return
 * -EINTR instead of blocking (rt_syscall_cp), with either transport (the
 * async one executes such calls on the calling thread). Without it, a
 * signal that lands in the runtime just before the call (the fast path
 * runs with signals unblocked) waits until the call returns: Go's
 * AllThreadsSyscall, which waits for every thread's handler, hung. */
long host_syscall_cp(long nr, long a0, long a1, long a2, long a3, long a4, long a5, const volatile unsigned *pending);

/* Posted calls (the transport table's post, done, cancel), with the
 * core's bookkeeping before and after a host call (descriptors, mappings,
 * non-blocking flags) as host_syscall_cp does. host_post: the ticket, or -1
 * (nothing done: make the call with host_syscall_cp). host_post_done: 1
 * with the result once the call returned. host_can_post: whether the
 * transport posts at all. */
int host_can_post(void);
int host_post_spare(void);
int host_post(long nr, const long *a);
int host_post_done(int ticket, long nr, const long *a, long *r);
void host_post_cancel(int ticket);
/* The workers' completion counter, 0 without posting; sleeping on it and
 * waking its sleeper (transport table's bell_wait, ring). */
const volatile unsigned *host_bell(void);
void host_bell_wait(unsigned seen, const void *timeout, const volatile unsigned *pending);
void host_ring(void);

/* A signal taken by a thread whose runtime block is block: 1 when it is
 * one of the transport's workers (a posted call's cancellation, handled). */
int host_worker_signal(const void *block, void *uc);

/* sync.c, for the transports that fall back to it. */
extern const struct transport sync_transport;
long transport_sync_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
long transport_sync_call_cp(long nr, long a0, long a1, long a2, long a3, long a4, long a5,
			    const volatile unsigned *pending);
/* One simulated exit (the configured cost). */
void transport_simulate_exit(void);
#endif
