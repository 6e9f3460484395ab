/* A process-shared spinlock that survives the death of its holder.
 *
 * The lock word holds the holder's thread id (0: free). A waiter that has
 * waited a while asks whether the holder still lives (ops->alive); when it
 * does not (killed inside its critical section, e.g. SIGKILL right after a
 * fork), the waiter takes the lock over from it, and ops->recovered reports
 * that the data the lock protects may be half-updated. Without this, one
 * process dying at the wrong moment would make every other process of the
 * enclave spin forever.
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
	/* Gives the CPU away for a moment. */
	void (*relax)(void);
	/* Optional: the lock was taken over from dead thread tid. */
	void (*recovered)(int tid);
};

/* Spins before a waiter yields, and yields between liveness checks. */
#define RLOCK_SPINS 1000
#define RLOCK_YIELDS 64

void rlock_lock(volatile int *w, const struct rlock_ops *ops);
/* 1 when taken, 0 when held by someone else (no waiting, no takeover). */
int rlock_trylock(volatile int *w, const struct rlock_ops *ops);
void rlock_unlock(volatile int *w);

/* Parses the state letter of a /proc/TID/stat line ("pid (comm) S ..."):
 * 1 for a live state, 0 for a zombie or dead one (Z, X, x) or a line that
 * does not parse. comm may hold spaces and parentheses. */
int rlock_stat_alive(const char *stat, long len);
#endif
