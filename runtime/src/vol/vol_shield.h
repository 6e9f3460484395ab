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
 * shield's. One spinlock serializes everything; it is held across host
 * I/O of the volume (the volume's state is one consistent unit).
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

struct vs_mount {
	char path[VOL_PATH_MAX + 1];
	size_t plen;
	int dirfd; /* the host directory (O_PATH | O_DIRECTORY) */
	struct vol_host host;
	struct vs_hostfd cache[VS_HOST_FDS];
	uint64_t clock;
	struct vol *v;
	/* freshness (vol_fresh.c); fresh is NULL when the CAS does not track
	 * the volume */
	const struct casmsg_volume_fresh *fresh;
	uint64_t fresh_want;	/* the version of the last commit */
	uint8_t fresh_root[32]; /* its R_V, zero-padded */
	uint64_t fresh_done;	/* the highest version the CAS acknowledged */
	uint64_t fresh_last_ms; /* when the recorder last recorded (interval) */
	int fresh_failed;	/* refused: reported once, not recorded again */
};

struct vs_desc {
	uint32_t refs;
	int mount;
	uint64_t id;
	uint64_t off;
	int flags;
	int dir;
	int written;
	int flock; /* flock(2) held by this description: 0, LOCK_SH (1), LOCK_EX (2) */
};

struct vs_fd {
	int fd;
	struct vs_desc *d;
};

struct vs_state {
	volatile int lock;
	int nmounts;
	int forked;		/* a forked child: volumes are the parent's */
	int forked_said;	/* the child's refusal was reported */
	int mmap_said;		/* a shared writable mmap's refusal was reported */
	volatile int flock_seq; /* futex word: bumped when a flock is released */
	uint32_t uid, gid;
	struct vs_mount m[VS_MAX_MOUNTS];
	struct vs_fd fds[VS_MAX_FDS];
	int nfds;
	const struct vol_freshness *fresh; /* NULL: no volume is tracked */
	volatile int fresh_seq;		   /* the recorder's futex word: bumped per commit */
};
/* ---- the files, bottom up: each calls only into files listed before it,
 * never into one listed after it (runtime/archcheck) ---- */

/* vol_state.c: the global state, its lock, reports. */
extern struct vs_state vs_g;
void vs_lock(void);
void vs_unlock(void);
/* Reports a failure of the volume on stderr (or the console shield). */
void vs_report(const struct vs_mount *m, const char *what, long e);
/* A forked child's volume call: -EACCES, said once per process. */
long vs_refuse_forked(const char *path);

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

/* vol_stat.c: fills a kernel struct stat (or statx for __NR_statx) at buf. */
long stat_out_fd(long nr, long buf, const struct vol_attr *a, int mount);

/* vol_host.c: the vol_host of a mount over host system calls. */
void vs_host_init(struct vs_mount *m);
void vs_host_close(struct vs_mount *m);

/* vol_fds.c: the shield's descriptors. vs_flock_released wakes the
 * threads waiting in flock (vol_fdcalls.c). */
void vs_flock_released(void);
struct vs_desc *vs_fd_get(int fd);
long vs_fd_new(struct vs_desc *d, int cloexec);
void vs_fd_drop(int fd);
void vs_fd_alias(int oldfd, int newfd);
void vs_desc_put(struct vs_desc *d);

/* vol_calls.c: the calls on paths (the table's host_path). */
int vs_host_path(const struct sys_call *c, long *ret);
/* Which mount holds the absolute path p (-1: none); *rel: the rest. */
int vs_mount_of(const char *p, const char **rel);

/* vol_shield.c: the table's other entries. */
int vs_init(const struct shield_env *env);
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
