/* File-system shield (fs_*.c): the runtime side of the virtual file system.
 *
 * The portable core lives in runtime/lib/fsv*.c (merged tree of the protected
 * FS image and the in-memory ephemeral layer, path resolution, open file
 * descriptions; host-tested). This side owns the one global instance, its
 * lock, the image backend over fsp.h, virtual fd placeholders and the
 * syscall dispatch. Design and semantics: docs/fs-shield.md.
 *
 * Concurrency: every entry point takes one global spinlock (fs_lock), never
 * held across a host call that may block. State is global; nothing uses FS-
 * relative TLS. */
#ifndef SCONE_FS_H
#define SCONE_FS_H

#include <stddef.h>
#include <stdint.h>
#include "shield.h"
#include "fsv.h"

struct fsp;
struct econfig;

/* Configuration of the FS shield (fs_shield_init fills it from the econfig;
 * fs_shield_configure takes it directly, e.g. for tests and dev tools). */
struct fs_shield_config {
	const char *const *passthrough; /* absolute host paths (mount points) */
	size_t npassthrough;
	size_t ndefault; /* the first ndefault are defaults, skipped when the host lacks them */
	const char *cwd;   /* initial working directory inside the image ("" or NULL: "/") */
	const char *exe;   /* the program's path inside the image (/proc/self/exe) */
	uint32_t uid, gid; /* credentials for permission checks */
	uint64_t eph_max;  /* bytes of ephemeral file content, 0 = unlimited */
	/* Size of the shared arena that holds the ephemeral layer (fsv_arena.h),
	 * so forked processes share it; 0: no arena (private tree, tests). */
	uint64_t arena_size;
};

/* Minimum size of the shared arena of the ephemeral layer (the config's
 * heap_size when larger). Address space only (MAP_NORESERVE). */
#define FS_ARENA_MIN (1ULL << 30)

/* Default passthrough mount points: the kernel's virtual file systems and the
 * files the container engine writes at run time. */
#define FS_DEFAULT_PASSTHROUGH {"/proc", "/dev", "/sys", "/etc/resolv.conf", "/etc/hosts", "/etc/hostname", "/etc/mtab"}

/* shield.h: int fs_shield_init(const struct fsp *img, const struct econfig *cfg);
 * (passthrough = defaults + cfg->volumes, cwd = cfg->cwd, exe =
 * cfg->entrypoint, uid/gid = cfg->uid/gid). img == NULL: dev mode, every
 * call passes to the host. */
int fs_shield_configure(const struct fsp *img, const struct fs_shield_config *cfg);


/* Whether fd is a virtual (FS-shield) descriptor. */
int fs_is_virtual_fd(int fd);
/* Whether the FS shield serves the file system (sim mode; 0 in dev mode). */
int fs_shield_active(void);

/* ---- internal (fs_*.c) ---- */
struct fs_state {
	volatile int lock;
	volatile int *lockp; /* the shared lock in the arena, NULL: lock */
	int enabled;
	const struct fsp *img;
	struct fsv fs;
	struct fsv_fdtab fds;
	struct fsv_node *cwd;              /* NULL: cwd is on the host (cwd_host) */
	char cwd_host[FSV_PATH_MAX];
	uint32_t umask;
	long pid; /* the process's pid, for /proc/<pid> (0: ask the host) */
	struct rt_program prog; /* the running program (fs_program_started) */
};
extern struct fs_state fs_g;

void fs_lock(void);
void fs_unlock(void);

/* fs_image.c: fsv backend over fsp, plus xattrs. */
extern const struct fsv_image_ops fs_image_ops;
long fs_image_getxattr(const struct fsp *img, uint64_t ino, const char *name, void *val, size_t cap);
long fs_image_listxattr(const struct fsp *img, uint64_t ino, char *buf, size_t cap);

/* fs_fd.c: placeholders. Opens a host placeholder for a new virtual fd and
 * installs f there; returns the fd or a negative errno. Lock held. */
long fs_fd_new(struct fsv_file *f, int cloexec);
/* Host fd that the kernel just handed out: drop any stale virtual mapping. */
void fs_fd_forget(int fd);

/* fs_mmap.c: mmap of a virtual fd (lock not held on entry). */
long fs_mmap(const struct sys_call *c);

/* fs_stat.c: kernel struct stat / statx / statfs for a node. */
void fs_fill_stat(void *kstat, const struct fsv_stat *st);
long fs_fill_statx(void *kstatx, const struct fsv_stat *st, unsigned mask);
void fs_fill_statfs(void *kstatfs);

/* User pointer plausibility (non-NULL, no wrap, below the user-space end). */
int fs_user_ok(const void *p, size_t len);

/* console_shield.c: console fd tracking (fds 1/2 and their duplicates). */
void console_fd_dup(int oldfd, int newfd);
void console_fd_close(int fd);
int console_fd_is_console(int fd);
/* Writes a runtime diagnostic line on stderr (as a record when the console
 * shield is on). */
void console_diag(const char *msg, size_t len);

#endif
