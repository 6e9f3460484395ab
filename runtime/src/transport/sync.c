/* The sync transport (transport.h): the calling thread executes the call,
 * after the simulated cost of an enclave exit. */
#include "transport.h"
#include "sys.h"

static uint64_t exit_cycles = RT_DEFAULT_EXIT_CYCLES;

void transport_simulate_exit(void)
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

long transport_sync_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	transport_simulate_exit();
	return rt_syscall6(nr, a0, a1, a2, a3, a4, a5);
}

long transport_sync_call_cp(long nr, long a0, long a1, long a2, long a3, long a4, long a5,
			    const volatile unsigned *pending)
{
	transport_simulate_exit();
	return rt_syscall_cp(nr, a0, a1, a2, a3, a4, a5, pending);
}

static int sync_init(uint64_t cycles)
{
	exit_cycles = cycles;
	return 0;
}

const struct transport sync_transport = {
	.name = "sync",
	.init = sync_init,
	.syscall = transport_sync_call,
	.syscall_cp = transport_sync_call_cp,
};
