/* The runtime core's private spinlocks (one process each), in one table so
 * that fork can take them all (locks.c).
 *
 * A lock another thread holds when one thread forks stays held forever in
 * the child, where that thread does not exist: fork takes every lock below,
 * in this order, before the host fork and releases them in both processes
 * (pthread_atfork style). The order is the nesting order: a lock earlier in
 * the list may be held while a later one is taken (brk calls the host,
 * whose result updates the mapping set), never the other way round. The
 * shields' locks come before all of these, the allocator's after. */
#ifndef SCONE_LOCKS_H
#define SCONE_LOCKS_H
#include "sys.h"

struct rt_lock {
	volatile int word;
};

extern struct rt_lock rt_sched_lock;  /* sched/: the mn scheduler's state */
extern struct rt_lock rt_brk_lock;    /* mem.c: the emulated brk */
extern struct rt_lock rt_heap_lock;   /* heap.c: the application's RLIMIT_DATA */
extern struct rt_lock rt_ids_lock;    /* ids.c: virtual user and group ids */
extern struct rt_lock rt_sigact_lock; /* signal.c: the application's signal actions */
extern struct rt_lock rt_vma_lock;    /* vma.c: the application's live mappings */
extern struct rt_lock rt_random_lock; /* random.c: the DRBG */
extern struct rt_lock rt_spare_lock;  /* fdtab.c: spare placeholders (no call while held) */
extern struct rt_lock rt_sites_lock;  /* sites.c: where trapped calls come from (SCONE_STATS) */
extern struct rt_lock rt_stubs_lock;  /* stubmap.c: the stub segments' site tables */

/* A holder the kernel preempted keeps the lock for a whole time slice:
 * after RT_LOCK_SPINS pauses a waiter yields its CPU (to the holder, where
 * threads outnumber the cores) instead of spinning on. */
#define RT_LOCK_SPINS 256
static inline void rt_lock(struct rt_lock *l)
{
	while (__atomic_exchange_n(&l->word, 1, __ATOMIC_ACQUIRE)) {
		unsigned n = 0;
		while (__atomic_load_n(&l->word, __ATOMIC_RELAXED)) {
			if (++n % RT_LOCK_SPINS == 0)
				rt_sys0(__NR_sched_yield);
			else
				__builtin_ia32_pause();
		}
	}
}

static inline void rt_unlock(struct rt_lock *l) { __atomic_store_n(&l->word, 0, __ATOMIC_RELEASE); }

/* fork (fork.c): take every lock in order; release them in the parent and,
 * in the child, where no other thread survived to hold them. */
void rt_locks_fork_prepare(void);
void rt_locks_fork_release(void);
#endif
