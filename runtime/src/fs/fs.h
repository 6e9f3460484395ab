/* File-system shield (runtime/src/fs): the runtime side of the virtual file
 * system. One header for the subsystem: its table for the core (shield.h)
 * and the interface between its files.
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
#include <linux/errno.h>
#include <linux/fcntl.h>
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "rt_alloc.h"
#include "sys.h"

struct fsp;
struct econfig;

/* Configuration of the FS shield (fs_shield_init fills it from the econfig;
 * fs_shield_configure takes it directly, e.g. for tests and dev tools). */
struct fs_shield_config {
	const char *const *passthrough; /* absolute host paths (mount points) */
	size_t npassthrough;
	size_t ndefault;   /* the first ndefault are defaults, skipped when the host lacks them */
	const char *cwd;   /* initial working directory inside the image ("" or NULL: "/") */
	const char *exe;   /* the program's path inside the image (/proc/self/exe) */
	uint32_t uid, gid; /* credentials for permission checks */
	uint64_t eph_max;  /* bytes of ephemeral file content, 0 = unlimited */
};

/* Default passthrough mount points: the kernel's virtual file systems and the
 * files the container engine writes at run time. */
#define FS_DEFAULT_PASSTHROUGH                                                                          \
	{                                                                                               \
		"/proc", "/dev", "/sys", "/etc/resolv.conf", "/etc/hosts", "/etc/hostname", "/etc/mtab" \
	}

/* The shield's table (registered with RT_SHIELD): init takes the protected
 * FS image and the config (passthrough = defaults + cfg->volumes, cwd =
 * cfg->cwd, exe = cfg->entrypoint, uid/gid = cfg->uid/gid). Without init
 * (dev mode) every call passes to the host. */
extern const struct shield_ops fs_shield_ops;
/* The dispatcher (fs_syscalls.c): the table's call. */
int fs_shield(const struct sys_call *c, long *ret);
/* fs_shield.c: the table's other entries. */
int fs_shield_init(const struct shield_env *env);
void fs_fork_prepare(void);
void fs_fork_parent(long pid);
void fs_fork_child(void);
void fs_program_started(const struct rt_program *p);
int fs_shield_configure(const struct fsp *img, const struct fs_shield_config *cfg);

/* Whether fd is a virtual (FS-shield) descriptor. */
int fs_is_virtual_fd(int fd);

/* ---- internal (fs_*.c) ---- */
struct fs_state {
	volatile int lock;
	volatile int *lockp; /* the shared lock in the arena, NULL: lock */
	int enabled;
	const struct fsp *img;
	struct fsv fs;
	struct fsv_fdtab *fdt; /* the fd table: in this process's entry in the arena (fs_procs.c), else fds_own */
	struct fsv_fdtab fds_own;
	struct fsv_node *cwd; /* NULL: cwd is on the host (cwd_host) */
	char cwd_host[FSV_PATH_MAX];
	uint32_t umask;
	long pid;			  /* the process's pid, for /proc/<pid> (0: ask the host) */
	struct rt_program prog;		  /* the running program (fs_program_started) */
	const struct rt_attestation *att; /* /dev/attestation (shield_env), or NULL */
	struct fs_proc *proc;		  /* this process's entry in the arena (fs_procs.c), or NULL */
	struct fs_proc *child;		  /* the entry of the child a fork in flight makes */
	struct fsv_fdtab child_fds;	  /* its table, when the arena had no room for an entry */
};
extern struct fs_state fs_g;

void fs_lock(void);
void fs_unlock(void);

/* fs_image.c: fsv backend over fsp, plus xattrs. */
extern const struct fsv_image_ops fs_image_ops;
long fs_image_getxattr(const struct fsp *img, uint64_t ino, const char *name, void *val, size_t cap);
long fs_image_listxattr(const struct fsp *img, uint64_t ino, char *buf, size_t cap);

/* fs_fd.c: placeholders. A host placeholder for a new virtual fd (a host
 * call: made without the lock, which the enclave's processes share). */
long fs_fd_placeholder(int cloexec);
/* An empty sealed memfd of its own (not a duplicate of the template): a
 * host call, lock not held. */
long fs_fd_sealed_memfd(int cloexec);
/* Installs f at placeholder fd (closed on failure; a negative fd is passed
 * through), whose FD_CLOEXEC is cloexec; returns the fd or a negative
 * errno. Lock held. */
long fs_fd_new(struct fsv_file *f, long fd, int cloexec);
/* A virtual descriptor's FD_CLOEXEC may have changed on the host
 * (F_SETFD, FIOCLEX): the shield no longer knows it. */
void fs_fd_cloexec_changed(int fd);
/* The application closes virtual descriptor fd: 1 when its placeholder is
 * kept as a spare (core/fdtab.h: its FD_CLOEXEC is known), 0 when the
 * caller closes it on the host. Lock held, before fd leaves the table: a
 * dup2 onto fd that passes the shield once the table no longer has it
 * finds the spare and takes it over (fdtab.h), never the other way. */
int fs_fd_keep_spare(int fd);
/* Host fd that the kernel just handed out: drop any stale virtual mapping. */
void fs_fd_forget(int fd);

/* fs_hostnode.c: FIFO and socket nodes backed by host FIFOs and sockets in
 * a private host directory. The host path of node ino into buf
 * (FS_HOST_NODE_PATH_MAX bytes), making the directory when make (lock
 * held); whether a host path is one of those (and its node's ino); mknod
 * of a FIFO at r (lock held); the hook of struct fsv (lock held); opening
 * node ino's host FIFO with the application's flags (lock NOT held: it
 * blocks as on Linux), a host fd or -errno; the last process of the
 * enclave exits (lock held). */
#define FS_HOST_NODE_PATH_MAX 96 /* the directory (< 64) + '/' + 16 hex digits */
long fs_host_node_path(uint64_t ino, char *buf, int make);
int fs_is_host_node_path(const char *p, uint64_t *ino);
/* The path socket node ino was bound to (getsockname's answer), kept
 * until the node is freed: set (lock held; 0 or -ENOMEM) and looked up
 * (lock held; NULL if none). */
int fs_host_node_set_name(uint64_t ino, const char *path);
const char *fs_host_node_name(uint64_t ino);
long fs_fifo_mknod(struct fsv_res *r, uint32_t perm);
void fs_host_node_gone(void *ctx, uint64_t ino);
long fs_fifo_open(uint64_t ino, long flags);
void fs_host_nodes_exit(void);

/* The kernel's struct msghdr (x86-64), for sendmsg and recvmsg. */
struct kmsghdr {
	void *name;
	int namelen;
	void *iov;
	size_t iovlen;
	void *control;
	size_t controllen;
	int flags;
};

/* The kernel's struct mmsghdr, for sendmmsg and recvmmsg. */
struct kmmsghdr {
	struct kmsghdr hdr;
	unsigned len;
};

/* fs_sock.c: unix sockets bound to a path (AF_UNIX with a pathname):
 * bind, connect, sendto, sendmsg resolve the path like any other;
 * getsockname and getpeername answer the application's path. */
int fs_sys_bind(const struct sys_call *c, long *ret);
int fs_sys_connect(const struct sys_call *c, long *ret);
int fs_sys_sendto(const struct sys_call *c, long *ret);
int fs_sys_sendmsg(const struct sys_call *c, long *ret);
int fs_sys_sendmmsg(const struct sys_call *c, long *ret);
int fs_sys_sockname(const struct sys_call *c, long *ret);

/* fs_scm.c: descriptors of the enclave's files passed with SCM_RIGHTS.
 * fs_scm_virtual: whether msghdr m passes any. fs_scm_send sends m on
 * socket fd (sendmsg's flags) when it passes any (*handled = 1, the
 * result), else *handled = 0 and nothing is sent. fs_scm_received maps
 * the ones a received message m brought; recvmsg and recvmmsg call it. */
int fs_scm_virtual(const struct kmsghdr *m);
long fs_scm_send(long fd, const struct kmsghdr *m, long flags, int *handled);
void fs_scm_received(const struct kmsghdr *m);
int fs_sys_recvmsg(const struct sys_call *c, long *ret);
int fs_sys_recvmmsg(const struct sys_call *c, long *ret);

/* fs_flock.c: flock between the enclave's processes. The word its waiters
 * sleep on, bumped at every release (fs_shield.c). */
int fs_sys_flock(const struct sys_call *c, long *ret);
volatile uint32_t *fs_flock_seq(void);

/* fs_reclock.c: fcntl's record locks (F_GETLK, F_SETLK, F_SETLKW and the
 * F_OFD_* ones) between the enclave's processes; fs_sys_fcntl hands them
 * over. fs_shield.c: the word its waiters sleep on, bumped and woken by
 * fs_reclock_wake at every release (lock held). */
int fs_sys_reclock(const struct sys_call *c, long *ret);
volatile uint32_t *fs_reclock_seq(void);
void fs_reclock_wake(void);

/* fs_mmap.c: mmap of a virtual fd (lock not held on entry). */
long fs_mmap(const struct sys_call *c);
/* mremap of a virtual file's shared mapping (its own memory). */
int fs_sys_mremap(const struct sys_call *c, long *ret);

/* fs_procs.c: the enclave's processes, in the arena. Each entry holds the
 * process's fd table and one reference on every file the process maps
 * shared (the file's chunks stay until no mapping may show them), and
 * says whether the process ran exit_group. Lock held.
 * attach: this process's entry, when the arena is set up (0 or -ENOMEM).
 * maps_hold: the process maps n shared (a reference the first time; 0 or
 * -ENOMEM). maps_get: the file of key k (rt_vma_alias) the process holds,
 * with a reference for the caller, or NULL. maps_release: n's reference
 * goes if no mapping of the process may show it any more
 * (rt_vma_alias_held); maps_drain: the same for every file whose mapping
 * a munmap, mremap or mmap MAP_FIXED ended (fs_lock).
 * fork_prepare/parent/child: the child's entry, a copy of the parent's
 * (maps and fd table) with references of its own (made in the parent;
 * the child takes it).
 * exit: the process ran exit_group; entries of processes that are gone
 * (also killed ones, which never run it) are freed with their references,
 * and the last process removes what backs the FIFO and socket nodes. */
struct fs_proc;
int fs_procs_attach(void);
int fs_maps_hold(struct fsv_node *n);
struct fsv_node *fs_maps_get(uint64_t k);
void fs_maps_release(struct fsv_node *n);
void fs_maps_drain(void);
void fs_procs_fork_prepare(void);
void fs_procs_fork_parent(long pid);
void fs_procs_fork_child(void);
void fs_procs_exit(void);
/* Frees the entries of processes that are gone now (a flock or F_SETLKW
 * may find a killed process's lock in its way); quick: only those kill(2)
 * says are gone (reaped by their parent), not zombies (/proc). */
void fs_procs_sweep(int quick);

/* fs_stat.c: kernel struct stat / statx / statfs for a node. */
void fs_fill_stat(void *kstat, const struct fsv_stat *st);
long fs_fill_statx(void *kstatx, const struct fsv_stat *st, unsigned mask);
void fs_fill_statfs(void *kstatfs);

/* ---- the system call files (fs_syscalls.c dispatch, fs_path.c helpers,
 * fs_open.c, fs_rw.c, fs_meta.c, fs_ns.c). Handlers named fs_sys_* decide
 * SHIELD_DONE/SHIELD_PASS themselves; fs_p_* serve a resolved path and
 * fs_v_* a virtual fd, under fs_lock (through fs_path_op/fs_fd_op). */
#define S_ISDIR_(m) (((m)&FSV_IFMT) == FSV_IFDIR)
#define S_ISREG_(m) (((m)&FSV_IFMT) == FSV_IFREG)
#define S_ISLNK_(m) (((m)&FSV_IFMT) == FSV_IFLNK)
#define UTIME_NOW_ ((1l << 30) - 1l)
#define UTIME_OMIT_ ((1l << 30) - 2l)
#define IOV_MAX_ 1024
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif

struct kiovec {
	void *base;
	size_t len;
};

static inline struct fsv *FS(void) { return &fs_g.fs; }

typedef long (*path_fn)(const struct sys_call *c, struct fsv_res *r);
typedef long (*fd_fn)(const struct sys_call *c, struct fsv_file *f);

long fs_path_len(const char *p);
int fs_lookup_at(int dirfd, const char *path, int flags, struct fsv_res *r);
long fs_host_at(const struct sys_call *c, int dirfd_idx, int path_idx, const char *hp);
int fs_path_op(const struct sys_call *c, long *ret, int dirfd_idx, int path_idx, int rflags, path_fn virt);
int fs_fd_op(const struct sys_call *c, long *ret, int fd, fd_fn virt);
int fs_sys_open(const struct sys_call *c, long *ret, int dirfd, const char *path, long flags, uint32_t mode);
int fs_sys_openat2(const struct sys_call *c, long *ret);
int fs_sys_close(const struct sys_call *c, long *ret);
int fs_sys_close_range(const struct sys_call *c, long *ret);
int fs_sys_dup(const struct sys_call *c, long *ret);
long fs_v_fcntl(const struct sys_call *c, struct fsv_file *f);
int fs_sys_fcntl(const struct sys_call *c, long *ret);
long fs_v_ioctl(const struct sys_call *c, struct fsv_file *f);
long fs_v_read(const struct sys_call *c, struct fsv_file *f);
long fs_v_lseek(const struct sys_call *c, struct fsv_file *f);
long fs_v_getdents(const struct sys_call *c, struct fsv_file *f);
long fs_v_zero(const struct sys_call *c, struct fsv_file *f);
long fs_v_fallocate(const struct sys_call *c, struct fsv_file *f);
/* fs_copy.c: copies between descriptors through a runtime buffer */
int fs_sys_sendfile(const struct sys_call *c, long *ret);
int fs_sys_copy_file_range(const struct sys_call *c, long *ret);
int fs_sys_splice(const struct sys_call *c, long *ret); /* splice and tee */
/* 1 when the host (or another shield's) descriptor fd is a pipe, 0 when
 * not, or a negative errno (fs_stat.c). */
int fs_host_is_pipe(int fd);
long fs_v_fstat(const struct sys_call *c, struct fsv_file *f);
long fs_p_stat(const struct sys_call *c, struct fsv_res *r);
int fs_sys_stat(const struct sys_call *c, long *ret);
long fs_p_readlink(const struct sys_call *c, struct fsv_res *r);
int fs_sys_readlink(const struct sys_call *c, long *ret);
long fs_p_access(const struct sys_call *c, struct fsv_res *r);
int fs_sys_access(const struct sys_call *c, long *ret);
long fs_p_chmod(const struct sys_call *c, struct fsv_res *r);
long fs_p_chown(const struct sys_call *c, struct fsv_res *r);
long fs_p_truncate(const struct sys_call *c, struct fsv_res *r);
long fs_v_ftruncate(const struct sys_call *c, struct fsv_file *f);
long fs_v_fchmod(const struct sys_call *c, struct fsv_file *f);
long fs_v_fchown(const struct sys_call *c, struct fsv_file *f);
long fs_p_utimes(const struct sys_call *c, struct fsv_res *r);
int fs_sys_utimensat(const struct sys_call *c, long *ret);
long fs_p_statfs(const struct sys_call *c, struct fsv_res *r);
long fs_v_fstatfs(const struct sys_call *c, struct fsv_file *f);
long fs_p_xattr(const struct sys_call *c, struct fsv_res *r);
long fs_v_xattr(const struct sys_call *c, struct fsv_file *f);
long fs_p_refuse(const struct sys_call *c, struct fsv_res *r);
int fs_sys_chdir(const struct sys_call *c, long *ret);
int fs_sys_fchdir(const struct sys_call *c, long *ret);
int fs_sys_getcwd(const struct sys_call *c, long *ret);
long fs_p_mkdir(const struct sys_call *c, struct fsv_res *r);
long fs_p_mknod(const struct sys_call *c, struct fsv_res *r);
long fs_p_unlink(const struct sys_call *c, struct fsv_res *r);
long fs_p_symlink(const struct sys_call *c, struct fsv_res *r);
int fs_sys_symlink(const struct sys_call *c, long *ret);
int fs_sys_two(const struct sys_call *c, long *ret);
int fs_sys_umask(const struct sys_call *c, long *ret);

#endif
