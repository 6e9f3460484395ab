/* What the enclave's processes share (sim mode): the shared arena that the
 * FS and volume shields allocate their state from (fsv_arena.h), and the
 * thread ids and liveness checks that their process-shared locks use
 * (rlock.h).
 *
 * The arena is mapped once, before the shields start and before the
 * application can fork, so it is at the same address in every process of
 * the enclave (fork copies the mapping, it does not move it). */
#ifndef SCONE_SHARED_H
#define SCONE_SHARED_H
#include <stdint.h>

/* Minimum size of the shared arena (the config's heap size when larger).
 * Address space only (MAP_NORESERVE): pages are committed when used. */
#define RT_ARENA_MIN (1ULL << 30)

/* Maps the arena (max(heap, RT_ARENA_MIN) bytes) inside the runtime's
 * region and hands it to fsv_arena_init: 0 or a negative errno. Once, at
 * start-up, before the shields' init. */
int rt_shared_setup(uint64_t heap);

/* The calling thread's host id (> 0), cheap: from its thread block when
 * armed, else gettid. */
int rt_task_self(void);
/* Whether thread (or process) tid runs: it exists and is not a zombie (a
 * process killed while its parent waits is one until the parent reaps
 * it). When it cannot tell, it says alive. */
int rt_task_alive(int tid);
/* Whether process pid may still run a thread (so its memory may still be
 * mapped): it exists and is not a zombie whose last thread has ended (a
 * leader that ended alone while other threads run is a zombie too). When
 * it cannot tell, it says alive. */
int rt_proc_alive(int pid);
/* Gives the CPU away for a moment. */
void rt_task_relax(void);
struct rlock_ops;
/* The ops of the process-shared locks (rlock.h) of the FS shield, the
 * volume shield and the arena: these thread ids, liveness, sleep and
 * wake-up, and a warning when a lock is taken over from a dead holder. */
extern const struct rlock_ops rt_shared_lock_ops;

/* Lock order. The shields' locks of the shared state are taken in the
 * shields' order (shield.h order: a fork takes them all that way), so a
 * thread holding one never takes one of a shield that comes earlier, or
 * the same one again. A shield names its lock word once, at start-up, with
 * its order as the rank; a taking against the order is said once per
 * process as an internal error (the tests fail on it), since two threads
 * doing it the two ways wait for each other forever. Unnamed locks (the
 * arena's, a leaf) are not checked. */
void rt_shared_lock_rank(volatile int *w, int rank, const char *name);

/* A process-shared lock's sleep and wake-up (rlock.h ops wait and wake):
 * a futex on shared memory, without the private flag. */
void rt_task_wait(volatile int *w, int val, unsigned ms);
void rt_task_wake(volatile int *w);

#endif
