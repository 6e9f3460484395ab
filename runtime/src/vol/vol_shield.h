/* Volume shield (runtime/src/vol): protected volumes (docs/volume.md).
 * What the application writes under a protected volume path is stored in
 * the host directory mounted there, encrypted and authenticated by the
 * format library runtime/lib/vol*.c.
 *
 * Paths reach this shield already resolved: the FS shield treats each
 * protected volume as a mount point and hands every call that reaches one
 * (whatever cwd, dirfd, symlink or ".." led there) to shield_host_path_call,
 * which offers it to this shield's host_path before the host. Calls on the
 * shield's own descriptors (read, write, *at relative to a volume
 * directory, ...) come through its call entry, which runs before the FS
 * shield's.
 *
 * The enclave's processes share the volumes (docs/volume.md, "Volumes
 * shared by the enclave's processes"): the format library's state (struct
 * vol), the open file descriptions and the shield's shared words (struct
 * vs_shared) live in the shared arena (fsv_arena.h), at the same address in
 * every process, and one process-shared lock that survives its holder's
 * death (rlock.h) serializes everything; it is held across host I/O of the
 * volume (the volume's state is one consistent unit). Each process reaches
 * the host directory through its own descriptors (struct vs_mount, private
 * at the same address in every process), and keeps its descriptor table in
 * the arena, so that the descriptors of a process killed before its exit
 * can be dropped by another.
 *
 * Volume fds are backed by sealed memfd placeholders like the FS shield's
 * virtual fds: no host path stands behind them. */
#ifndef SCONE_VOL_SHIELD_H
#define SCONE_VOL_SHIELD_H

#include <stddef.h>
#include <stdint.h>
#include "shield.h"
#include "vol.h"

#define VS_MAX_MOUNTS 16
#define VS_MAX_FDS 1024
#define VS_HOST_FDS 16
/* Dirty data above which a write commits (without a host fsync). */
#define VS_WRITEBACK (32ull << 20)

struct vs_hostfd {
	char name[40];
	int fd;
	uint64_t use;
};

/* A mount's freshness (vol_fresh.c), shared: whichever process commits
 * updates it, whichever process records reads it. */
struct vs_fresh_state {
	uint64_t want;	  /* the version of the last commit */
	uint8_t root[32]; /* its R_V, zero-padded */
	uint64_t done;	  /* the highest version the CAS acknowledged */
	uint64_t last_ms; /* when the recorder last recorded (interval) */
	int failed;	  /* refused: reported once, not recorded again */
};

/* Per process (a copy at the same address in each). */
struct vs_mount {
	char path[VOL_PATH_MAX + 1];
	size_t plen;
	int dirfd; /* the host directory (O_PATH | O_DIRECTORY) */
	struct vol_host host;
	struct vs_hostfd cache[VS_HOST_FDS];
	uint64_t clock;
	uint32_t epoch; /* vs_shared.host_epoch when the cache was last valid */
	struct vol *v;	/* shared */
	/* freshness (vol_fresh.c); fresh is NULL when the CAS does not track
	 * the volume */
	const struct casmsg_volume_fresh *fresh;
	struct vs_fresh_state *fst; /* shared */
};

/* An open file description (shared): the descriptors of every process that
 * name it hold one reference each. */
struct vs_desc {
	struct vs_desc *next, *prev; /* vs_shared.descs */
	uint32_t refs;
	int mount;
	uint64_t id;
	uint64_t off;
	int flags;
	int dir;
	int written;
	int flock;  /* flock(2) held by this description: 0, LOCK_SH (1), LOCK_EX (2) */
	char *path; /* the absolute path it was opened by, for messages (NULL: none) */
};

struct vs_fd {
	int fd;
	struct vs_desc *d;
};

/* One process's volume descriptors (shared, so that another process can
 * drop those of a process killed before its exit). */
struct vs_proc {
	struct vs_proc *next; /* vs_shared.procs */
	int pid;	      /* the host's process id */
	int exited;	      /* passed exit_group: freed once the process is gone */
	int nfds;
	struct vs_fd fds[VS_MAX_FDS];
};

struct fsv_reclock;
struct fsv_reclock_wait;
/* The record locks (fcntl) of one volume file. */
struct vs_lockfile {
	struct vs_lockfile *next;
	int mount;
	uint64_t id;
	struct fsv_reclock *locks;
};

/* What the enclave's processes share (the arena). */
struct vs_shared {
	volatile int lock;			/* the shield's lock (rlock.h) */
	uint32_t flock_seq;			/* futex word: bumped when a flock is released */
	uint32_t reclock_seq;			/* futex word: bumped when a record lock is released */
	uint32_t fresh_seq;			/* the recorder's futex word: bumped per commit */
	uint32_t host_epoch;			/* bumped by every host remove and rename */
	int recorder;				/* the process whose thread records interval volumes (0: none) */
	struct vs_desc *descs;			/* every open description */
	struct vs_proc *procs;			/* every process's descriptors */
	struct vs_lockfile *reclocks;		/* the files with record locks */
	struct fsv_reclock_wait *reclock_waits; /* threads waiting in F_SETLKW (EDEADLK) */
	struct vs_fresh_state fresh[VS_MAX_MOUNTS];
};

struct vs_state {
	int nmounts;
	int pid;       /* this process's host pid */
	int mmap_said; /* a shared writable mmap's refusal was reported */
	uint32_t uid, gid;
	struct vs_shared *sh;
	struct vs_proc *proc;  /* this process's descriptors */
	struct vs_proc *child; /* a fork's, between prepare and parent/child */
	struct vs_mount m[VS_MAX_MOUNTS];
	const struct vol_freshness *fresh; /* NULL: no volume is tracked */
};
/* ---- the files, bottom up: each calls only into files listed before it,
 * never into one listed after it (runtime/archcheck) ---- */

/* vol_state.c: the global state, its lock, reports. vs_state_init
 * allocates the shared part (0 or -ENOMEM). */
extern struct vs_state vs_g;
int vs_state_init(void);
void vs_lock(void);
void vs_unlock(void);
/* Reports a failure of the volume on stderr (or the console shield). */
void vs_report(const struct vs_mount *m, const char *what, long e);

/* vol_fresh.c: freshness (docs/volume.md, "Freshness"). vs_fresh_start
 * (at open) checks the volume against the state the CAS recorded and exits
 * the runtime on a rollback; vs_fresh_committed (after each commit, lock
 * held) records the new state: every-fsync volumes before a barrier
 * returns (sync: -EIO when the CAS does not acknowledge it), interval
 * volumes through the recorder thread (vs_fresh_start_recorder);
 * vs_fresh_flush (at exit) records what is still pending. */
void vs_fresh_start(struct vs_mount *m);
long vs_fresh_committed(struct vs_mount *m, int sync);
int vs_fresh_start_recorder(void);
void vs_fresh_flush(void);
/* At exit: the recorder thread goes with this process. */
void vs_fresh_exit(void);

/* vol_stat.c: fills a kernel struct stat (or statx for __NR_statx) at buf. */
long stat_out_fd(long nr, long buf, const struct vol_attr *a, int mount);

/* vol_host.c: the vol_host of a mount over host system calls. */
void vs_host_init(struct vs_mount *m);
void vs_host_close(struct vs_mount *m);

/* vol_fds.c: the shield's descriptors. vs_flock_released and
 * vs_reclock_released wake the threads waiting in flock and F_SETLKW
 * (vol_fdcalls.c). vs_desc_new: a description with no reference yet, in
 * the shared list (NULL: -ENOMEM). vs_proc_exit drops this process's
 * descriptors; vs_reap those of processes that died without exiting
 * (killed): 1 when some went. vs_proc_fork also frees the tables of
 * processes that exited and are gone, so that forks do not pile them up. */
void vs_flock_released(void);
void vs_reclock_released(void);
struct vs_desc *vs_fd_get(int fd);
struct vs_desc *vs_desc_new(void);
long vs_fd_new(struct vs_desc *d, int cloexec);
void vs_fd_drop(int fd);
void vs_fd_alias(int oldfd, int newfd);
void vs_desc_put(struct vs_desc *d);
void vs_proc_exit(void);
int vs_reap(void);
/* The record-lock list of a volume file (fsv_lock.h), made when create is
 * set (NULL: none, or -ENOMEM). Lock held. */
struct fsv_reclock **vs_reclocks(int mount, uint64_t id, int create);
/* Fork: the child's table (a copy of this process's, its references
 * taken), freed again when the fork failed. */
struct vs_proc *vs_proc_fork(void);
void vs_proc_free(struct vs_proc *p);

/* vol_calls.c: the calls on paths (the table's host_path). */
int vs_host_path(const struct sys_call *c, long *ret);
/* Which mount holds the absolute path p (-1: none); *rel: the rest. */
int vs_mount_of(const char *p, const char **rel);

/* vol_shield.c: the table's other entries. */
int vs_init(const struct shield_env *env);
void vs_fork_prepare(void);
void vs_fork_parent(long pid);
void vs_fork_child(void);
void vs_fd_gone(int fd);
void vs_fd_dup(int oldfd, int newfd);
int vs_owns_fd(int fd);
int vs_code_fd(int fd);

/* vol_fdcalls.c, the top: the calls on the shield's descriptors, the call
 * entry and the shield's table (registered with RT_SHIELD). */
int vs_call(const struct sys_call *c, long *ret);
extern const struct shield_ops vol_shield_ops;

#endif
