/* The syscall transports (transport.h): sync, async (async.c). */
#include "transport.h"
#include "async.h"
#include "iago.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

static uint64_t exit_cycles = RT_DEFAULT_EXIT_CYCLES;

static inline void simulate_exit(void)
{
	uint64_t n = exit_cycles;
	if (!n)
		return;
	uint64_t start = rt_rdtsc();
	/* No PAUSE in this loop: under a hypervisor with pause-loop exiting a
	 * PAUSE-heavy wait turns into VM exits and costs far more than asked. */
	while (rt_rdtsc() - start < n)
		__asm__ volatile("" ::: "memory");
}

static long sync_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	simulate_exit();
	return rt_syscall6(nr, a0, a1, a2, a3, a4, a5);
}

static const struct transport transports[] = {
	{"sync", sync_syscall},
	{"async", async_syscall},
};
static const struct transport *cur = &transports[0];

int transport_init(const char *name, uint64_t cycles)
{
	exit_cycles = cycles;
	if (!name || !*name)
		name = "sync";
	for (unsigned i = 0; i < sizeof transports / sizeof transports[0]; i++)
		if (!rt_strcmp(name, transports[i].name)) {
			if (transports[i].syscall == async_syscall) {
				int r = async_init();
				if (r < 0)
					rt_fatal(RT_EX_OSERR, "cannot start the async transport's worker threads: error %d",
						 -r);
			}
			cur = &transports[i];
			return 0;
		}
	return -1;
}

const struct transport *transport_current(void) { return cur; }
uint64_t transport_exit_cycles(void) { return exit_cycles; }

long transport_sync_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	return sync_syscall(nr, a0, a1, a2, a3, a4, a5);
}

void transport_simulate_exit(void) { simulate_exit(); }

void transport_fork_child(void)
{
	if (cur->syscall == async_syscall)
		async_fork_child();
}

void transport_print_stats(void)
{
	if (cur->syscall == async_syscall)
		async_print_stats();
}

long host_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	const long a[6] = {a0, a1, a2, a3, a4, a5};
	rt_host_before(nr, a);
	long r = cur->syscall(nr, a0, a1, a2, a3, a4, a5);
	rt_host_result(nr, a, r); /* descriptors and mappings (iago.h) */
	return r;
}
