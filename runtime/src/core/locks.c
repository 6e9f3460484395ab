/* The runtime core's private locks and their fork handling (locks.h). */
#include "locks.h"

struct rt_lock rt_sched_lock, rt_brk_lock, rt_heap_lock, rt_ids_lock, rt_sigact_lock, rt_vma_lock, rt_random_lock,
	rt_spare_lock, rt_sites_lock, rt_stubs_lock;

/* Nesting order (locks.h). */
static struct rt_lock *const fork_order[] = {
	&rt_sched_lock, &rt_brk_lock,	 &rt_heap_lock,	 &rt_ids_lock,	 &rt_sigact_lock,
	&rt_vma_lock,	&rt_random_lock, &rt_spare_lock, &rt_sites_lock, &rt_stubs_lock,
};

void rt_locks_fork_prepare(void)
{
	for (unsigned i = 0; i < sizeof fork_order / sizeof fork_order[0]; i++)
		rt_lock(fork_order[i]);
}

void rt_locks_fork_release(void)
{
	for (unsigned i = sizeof fork_order / sizeof fork_order[0]; i-- > 0;)
		rt_unlock(fork_order[i]);
}
