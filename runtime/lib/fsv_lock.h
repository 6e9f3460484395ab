/* FS shield core: POSIX record locks (fcntl F_SETLK, F_OFD_SETLK, lockf)
 * on one file: the portable range table.
 *
 * A node's locks (struct fsv_node.reclocks) form one unsorted list of
 * byte ranges, each held by an owner: a process (classic POSIX locks, owner
 * = its pid) or an open file description (OFD locks, owner = the
 * description's address, the same in every process of the enclave since
 * descriptions live in the shared arena). An owner's ranges never overlap
 * and two of its ranges of the same type never touch: setting a lock
 * replaces whatever the owner held in the range, splitting or trimming its
 * other locks, and merges with its adjacent locks of the same type, as
 * Linux's posix_lock_inode does. Two locks conflict when their owners
 * differ (a POSIX and an OFD lock always differ, even in one process),
 * their ranges overlap and one of them is a write lock.
 *
 * Records are allocated with fsv_sh_malloc (fsv_arena.h): in the shared
 * arena when there is one. No globals; the caller serializes calls (its
 * shield's lock). Errors are negative errno values (Linux numbering).
 * Portable (runtime and host tests).
 *
 * fsv_reclock_fcntl, at the end, is the whole of fcntl's record-lock
 * commands over the table, for any shield that keeps files in the arena
 * (the FS shield's ephemeral files, the volume shield's files): the shield
 * supplies its lock, its descriptors and the waiting (struct
 * fsv_reclock_ops). */
#ifndef SCONE_FSV_LOCK_H
#define SCONE_FSV_LOCK_H

#include <stddef.h>
#include <stdint.h>

/* Lock types: the values of struct flock's l_type. */
#define FSV_RECLOCK_RD 0 /* F_RDLCK */
#define FSV_RECLOCK_WR 1 /* F_WRLCK */
#define FSV_RECLOCK_UN 2 /* F_UNLCK */

/* The last byte of a lock "to the end of the file" (l_len 0): Linux's
 * OFFSET_MAX, so the lock covers whatever the file grows to. */
#define FSV_RECLOCK_EOF INT64_MAX

struct fsv_reclock {
	struct fsv_reclock *next;
	int64_t start, end; /* bytes start..end, both included */
	uint64_t owner;	    /* the owner's pid (POSIX) or description address (OFD) */
	int32_t pid;	    /* l_pid as F_GETLK reports it: the owner's pid, -1 for OFD */
	uint8_t type;	    /* FSV_RECLOCK_RD or _WR (a request: also _UN) */
	uint8_t ofd;	    /* 1: owned by an open file description */
};

/* Converts struct flock's l_whence (SEEK_SET 0, SEEK_CUR 1, SEEK_END 2),
 * l_start and l_len against the description's offset pos and the file's
 * size into the bytes *start..*end, as Linux's flock_to_posix_lock: l_len
 * 0 reaches FSV_RECLOCK_EOF, a negative l_len covers the bytes before
 * l_start. 0, -EINVAL (whence, a negative start) or -EOVERFLOW. */
int fsv_reclock_range(int whence, int64_t l_start, int64_t l_len, int64_t pos, int64_t size, int64_t *start,
		      int64_t *end);
/* l_start and l_len of a lock as F_GETLK reports them (l_whence SEEK_SET). */
void fsv_reclock_flock(const struct fsv_reclock *l, int64_t *l_start, int64_t *l_len);

/* The first lock of list that conflicts with req (type _RD or _WR), or
 * NULL: F_GETLK. */
const struct fsv_reclock *fsv_reclock_conflict(const struct fsv_reclock *list, const struct fsv_reclock *req);

/* Applies req (type _RD, _WR or _UN over start..end for its owner) without
 * waiting: 0, with *released set to 1 when some range the owner held went
 * or became a read lock (others may be waiting for it); -EAGAIN when
 * another owner holds a conflicting lock (copied into *conflict when not
 * NULL; nothing changes); -EINVAL for a bad type or range; -ENOMEM. */
int fsv_reclock_set(struct fsv_reclock **list, const struct fsv_reclock *req, struct fsv_reclock *conflict,
		    int *released);

/* Drops every lock of the owner (ofd, owner): how many went. */
size_t fsv_reclock_drop(struct fsv_reclock **list, int ofd, uint64_t owner);

/* Frees the whole list (the node goes). */
void fsv_reclock_free(struct fsv_reclock **list);

/* Who waits for whom, for EDEADLK: one record per thread waiting in
 * F_SETLKW for a POSIX lock, in a list the caller keeps (in the shared
 * arena, for all the enclave's processes). OFD waits are not recorded, as
 * on Linux. */
struct fsv_reclock_wait {
	struct fsv_reclock_wait *next;
	uint64_t owner;	     /* the waiting process (POSIX owner) */
	uint64_t blocker;    /* the owner of the lock in its way */
	uint8_t blocker_ofd; /* ... an open file description */
};
/* Steps through the waits before giving up (Linux's MAX_DEADLK_ITERATIONS). */
#define FSV_RECLOCK_DEADLK_MAX 10
/* Whether POSIX owner waiting for blocker (the owner of lock c) would
 * close a circle: blocker waits for a lock of a process that waits ...
 * for one of owner's (Linux's posix_locks_deadlock). */
int fsv_reclock_deadlock(const struct fsv_reclock_wait *waits, uint64_t owner, const struct fsv_reclock *c);
void fsv_reclock_wait_add(struct fsv_reclock_wait **waits, struct fsv_reclock_wait *w);
/* Takes w out of the list if it is there. */
void fsv_reclock_wait_remove(struct fsv_reclock_wait **waits, struct fsv_reclock_wait *w);

/* ---- release words ----
 * The word the waiters for a lock sleep on (a futex): every release bumps
 * it, and wakes the sleepers only when bit 31 says some thread may sleep
 * on it, which a waiter sets before it sleeps. So a release nobody waits
 * for costs no system call (sqlite unlocks several times per statement).
 * Both calls are made under the shield's lock, so a waiter's mark and a
 * release never cross. */
#define FSV_WAKE_WAITERS 0x80000000u
/* A waiter, lock held: marks the word; the value to sleep on once the
 * lock is released. */
static inline uint32_t fsv_wait_mark(volatile uint32_t *w)
{
	return __atomic_or_fetch(w, FSV_WAKE_WAITERS, __ATOMIC_ACQ_REL);
}
/* A release, lock held: bumps the word; 1 when the sleepers must be woken
 * (FUTEX_WAKE of every waiter). */
static inline int fsv_release(volatile uint32_t *w)
{
	uint32_t old = __atomic_load_n(w, __ATOMIC_ACQUIRE);
	__atomic_store_n(w, ((old & ~FSV_WAKE_WAITERS) + 1) & ~FSV_WAKE_WAITERS, __ATOMIC_RELEASE);
	return (old & FSV_WAKE_WAITERS) != 0;
}

/* ---- fcntl's commands ---- */

/* struct flock as the kernel lays it out (x86-64, 32 bytes). */
struct fsv_flock {
	int16_t l_type, l_whence;
	int64_t l_start, l_len;
	int32_t l_pid;
};

/* The commands: fcntl's F_GETLK (5), F_SETLK (6), F_SETLKW (7) and the
 * open file description ones F_OFD_GETLK (36), F_OFD_SETLK (37),
 * F_OFD_SETLKW (38). */
#define FSV_F_GETLK 5
#define FSV_F_SETLK 6
#define FSV_F_SETLKW 7
#define FSV_F_OFD_GETLK 36
#define FSV_F_OFD_SETLK 37
#define FSV_F_OFD_SETLKW 38

/* What a command needs to know of the descriptor it is made on. */
struct fsv_reclock_file {
	struct fsv_reclock **list; /* the file's locks */
	int readable, writable;	   /* the description's access mode */
	int64_t pos, size;	   /* its offset and the file's size (SEEK_CUR, SEEK_END) */
	uint64_t desc;		   /* the description's address: the owner of its OFD locks */
	int32_t pid;		   /* the calling process: the owner of its POSIX locks */
};

/* The shield's side. */
struct fsv_reclock_ops {
	void *ctx;
	void (*lock)(void *ctx);
	void (*unlock)(void *ctx);
	/* Lock held: fills *f for descriptor fd; 0, or -EBADF when fd no
	 * longer names the shield's file (closed by another thread). */
	int (*file)(void *ctx, int fd, struct fsv_reclock_file *f);
	/* Whether POSIX owner pid still runs (not a zombie): the locks of a
	 * process killed before its exit are dropped when found in the way. */
	int (*alive)(int pid);
	/* Lock held: some lock went; wakes the waiters (fsv_release on *seq). */
	void (*released)(void *ctx);
	/* Lock not held: waits until *seq differs from val, a signal, or a
	 * while (a poll for owners killed meanwhile): -EINTR for a signal,
	 * else 0. */
	long (*wait)(void *ctx, volatile uint32_t *seq, uint32_t val);
	volatile uint32_t *seq;		 /* the release word (fsv_release) */
	struct fsv_reclock_wait **waits; /* every process's waits (EDEADLK) */
};

/* fcntl(fd, cmd, fl) for the commands above, fl in and (F_GETLK) out: 0
 * or a negative errno (-EAGAIN for a conflict, -EDEADLK, -EINTR, -EBADF,
 * -EINVAL, -EOVERFLOW, -ENOMEM). F_SETLKW waits, without the shield's
 * lock, until the lock is free. Called without the lock. */
long fsv_reclock_fcntl(const struct fsv_reclock_ops *ops, int fd, long cmd, struct fsv_flock *fl);

#endif
