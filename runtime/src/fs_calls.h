/* FS shield: internal interface between the system call files
 * (fs_syscalls.c dispatch + helpers, fs_open.c, fs_rw.c, fs_meta.c, fs_ns.c).
 * Handlers named sys_* decide SHIELD_DONE/SHIELD_PASS themselves; p_* serve a
 * resolved path and v_* a virtual fd, under fs_lock (through fs_path_op/fs_fd_op). */
#ifndef SCONE_FS_CALLS_H
#define SCONE_FS_CALLS_H
#include <linux/errno.h>
#include <linux/fcntl.h>
#include "fs.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "rt_alloc.h"
#include "sys.h"

#define DONE(v)                      \
	do {                         \
		*ret = (long)(v);    \
		return SHIELD_DONE;  \
	} while (0)

#define S_ISDIR_(m) (((m) & FSV_IFMT) == FSV_IFDIR)
#define S_ISREG_(m) (((m) & FSV_IFMT) == FSV_IFREG)
#define S_ISLNK_(m) (((m) & FSV_IFMT) == FSV_IFLNK)
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
long fs_v_exdev(const struct sys_call *c, struct fsv_file *f);
int fs_sys_sendfile(const struct sys_call *c, long *ret);
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
