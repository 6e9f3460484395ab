/* A process-shared lock that survives the death of its holder.
 *
 * The lock word holds the holder's thread id (0: free) and RLOCK_WAITERS
 * when a thread may sleep on it. A waiter spins, yielding the CPU between
 * rounds (ops->relax), then marks the word and sleeps on it (ops->wait: a
 * futex wait that ends every RLOCK_WAIT_MS); unlock wakes one sleeper when
 * the word was marked. A
 * waiter that has waited a while asks whether the holder still lives
 * (ops->alive); when it does not (killed inside its critical section, e.g.
 * SIGKILL right after a fork), the waiter takes the lock over from it, and
 * ops->recovered reports that the data the lock protects may be
 * half-updated. Without this, one process dying at the wrong moment would
 * make every other process of the enclave wait forever. Sleeping instead
 * of spinning matters when the holder does host I/O (a protected volume's
 * fsync): spinning waiters took the CPU the holder needed (postgres's
 * backends, 2 cores: rlock_lock was 27% of all CPU time).
 *
 * Thread ids are the host's (gettid): the processes of one container share
 * a pid namespace. A recycled id could make a dead holder look alive (the
 * wait then lasts until that thread ends); it cannot make a live one look
 * dead. Portable (runtime and host tests): the ops do the system calls. */
#ifndef SCONE_RLOCK_H
#define SCONE_RLOCK_H

struct rlock_ops {
	/* The calling thread's id (> 0). */
	int (*self)(void);
	/* 0 when thread tid no longer runs (gone, or a zombie). */
	int (*alive)(int tid);
	/* Gives the CPU away for a moment (when wait is NULL). */
	void (*relax)(void);
	/* Optional: the lock was taken over from dead thread tid. */
	void (*recovered)(int tid);
	/* Optional (else relax): sleeps while *w == val, at most ms
	 * milliseconds (a futex wait on shared memory: no private flag). */
	void (*wait)(volatile int *w, int val, unsigned ms);
	/* Wakes one thread sleeping on w (with wait). */
	void (*wake)(volatile int *w);
	/* Optional, diagnostics only (the wait goes on): called at most once
	 * per rlock_lock that sleeps, at once when the holder is the caller
	 * itself (me: one thread taking the lock twice, which waits forever),
	 * else after RLOCK_STUCK_MS / RLOCK_WAIT_MS sleeps of the waiter (with
	 * wait): about RLOCK_STUCK_MS when one live holder keeps the lock,
	 * sooner when releases wake the waiter and others win the lock. */
	void (*stuck)(volatile int *w, int holder, int me);
	/* Optional: the calling thread took (+1) or released (-1) lock w, for
	 * its account of the locks it holds (checks of the lock order: the
	 * runtime's shared.c). Called after taking, before releasing. */
	void (*held)(volatile int *w, int delta);
};

#define RLOCK_WAITERS 0x40000000 /* thread ids are below 2^22 (PID_MAX_LIMIT) */
/* A waiter spins RLOCK_SPINS times between yields, yields RLOCK_YIELDS
 * times, then sleeps: it looks again every RLOCK_WAIT_MS and checks the
 * holder's life every RLOCK_CHECK_EVERY looks (RLOCK_YIELDS without
 * wait), the first time when it starts to sleep. */
#define RLOCK_SPINS 1000
#define RLOCK_WAIT_MS 20
#define RLOCK_CHECK_EVERY 5
#define RLOCK_YIELDS 1024
#define RLOCK_STUCK_MS 10000

void rlock_lock(volatile int *w, const struct rlock_ops *ops);
/* 1 when taken, 0 when held by someone else (no waiting, no takeover). */
int rlock_trylock(volatile int *w, const struct rlock_ops *ops);
void rlock_unlock(volatile int *w, const struct rlock_ops *ops);
/* The holder's thread id (0: free). */
static inline int rlock_holder(const volatile int *w) { return *w & ~RLOCK_WAITERS; }

/* Parses the state letter of a /proc/TID/stat line ("pid (comm) S ..."):
 * 1 for a live state, 0 for a zombie or dead one (Z, X, x) or a line that
 * does not parse. comm may hold spaces and parentheses. */
int rlock_stat_alive(const char *stat, long len);
/* The same line of a process's leader: 1 while a thread of the process
 * may run (a live state, or a zombie leader whose num_threads, field 20,
 * counts others beside itself: the leader ended with pthread_exit), 0 for
 * a zombie or dead leader alone. A line that does not parse says 1: a
 * caller frees what the process held only when it is sure. */
int rlock_stat_group_alive(const char *stat, long len);
#endif
