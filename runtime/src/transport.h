/* Syscall transport: how a call the shields pass on reaches the host.
 *
 * One interface, two implementations. `sync` (the default): the calling
 * thread executes the system call itself from the runtime's text (exempt
 * from Syscall User Dispatch), after a busy-wait that simulates the cost of
 * an enclave exit + re-entry (EEXIT/EENTER, ~8,000 cycles on SGX1).
 * `async` (async.c): shared-memory slots served by host worker threads; the
 * calls that must run on the calling thread, or may block, go sync. */
#ifndef SCONE_TRANSPORT_H
#define SCONE_TRANSPORT_H
#include <stdint.h>

struct transport {
	const char *name;
	long (*syscall)(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
};

/* Selects the transport. exit_cycles: simulated exit cost in TSC ticks
 * (0 disables it). Returns 0, or -1 for an unknown name. */
int transport_init(const char *name, uint64_t exit_cycles);
const struct transport *transport_current(void);
uint64_t transport_exit_cycles(void);

/* The sync path (simulated exit + the call on this thread), for async.c. */
long transport_sync_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
/* One simulated exit (the config's exit_cycles). */
void transport_simulate_exit(void);
/* fork.c, in the child: the async workers do not exist there. */
void transport_fork_child(void);
/* SCONE_STATS=1 at exit_group: the transport's counters (async only). */
void transport_print_stats(void);

long host_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5);

#define RT_DEFAULT_EXIT_CYCLES 8000
#endif
