/* FS shield: system call dispatch (fs_shield, shield.h): one table entry per
 * system call number says how the shield serves it (a handler of its own, an
 * fd call, a path call).
 *
 * Path calls are resolved in the virtual tree (fsv_resolve): a virtual
 * result is served here, a path under a passthrough mount is re-issued to
 * the host with the resolved absolute path, a path relative to a host dirfd
 * passes unchanged. Fd calls on virtual fds are served here; host fds pass.
 * Everything runs under fs_lock, which is dropped before any host call that
 * may block. See docs/fs-shield.md. */
#include "fs.h"
#include "fsv_arena.h"

/* ---- calls the table cannot describe with one entry ---- */

/* exit_group: the descriptions and the cwd are shared with the other
 * processes (arena): drop this process's references so that files removed
 * meanwhile are freed (the kernel closes the placeholders). Those of its
 * shared mappings go once it is gone, and the last process removes what
 * backs the FIFO and socket nodes on the host (fs_procs.c). */
static int sys_exit_group(const struct sys_call *c, long *ret)
{
	(void)c;
	(void)ret;
	if (!fs_g.lockp)
		return SHIELD_PASS;
	fs_lock();
	fsv_fd_destroy(FS(), fs_g.fdt);
	if (fs_g.cwd) {
		fsv_unref(FS(), fs_g.cwd);
		fs_g.cwd = fs_g.fs.root;
		fsv_ref(fs_g.cwd);
	}
	fs_procs_exit();
	fs_unlock();
	return SHIELD_PASS;
}

static int sys_open(const struct sys_call *c, long *ret)
{
	return fs_sys_open(c, ret, AT_FDCWD, (const char *)c->a[0], c->a[1], (uint32_t)c->a[2]);
}

static int sys_creat(const struct sys_call *c, long *ret)
{
	return fs_sys_open(c, ret, AT_FDCWD, (const char *)c->a[0], O_CREAT | O_WRONLY | O_TRUNC, (uint32_t)c->a[1]);
}

static int sys_openat(const struct sys_call *c, long *ret)
{
	return fs_sys_open(c, ret, (int)c->a[0], (const char *)c->a[1], c->a[2], (uint32_t)c->a[3]);
}

/* chroot(NULL), acct(NULL): nothing to resolve (acct(NULL) turns it off). */
static int sys_path_or_null(const struct sys_call *c, long *ret)
{
	if (!c->a[0])
		return SHIELD_PASS;
	return fs_path_op(c, ret, -1, 0, FSV_FOLLOW, fs_p_refuse);
}

static int sys_mmap(const struct sys_call *c, long *ret)
{
	if ((c->a[3] & 0x20 /* MAP_ANONYMOUS */) || !fsv_fd_maybe(fs_g.fdt, (int)c->a[4]))
		return SHIELD_PASS;
	fs_lock();
	int v = fsv_fd_get(fs_g.fdt, (int)c->a[4]) != NULL;
	fs_unlock();
	if (!v)
		return SHIELD_PASS;
	return shield_done(ret, fs_mmap(c));
}

/* ---- the table ---- */

enum { CALL_NONE, CALL_SYS, CALL_FD, CALL_PATH };

/* How the shield serves one system call number. */
struct fs_call {
	uint8_t kind;
	int8_t dirfd;	/* CALL_PATH: the dirfd argument, -1: AT_FDCWD */
	int8_t path;	/* CALL_PATH: the path argument */
	int8_t atflags; /* CALL_PATH: the argument with AT_SYMLINK_NOFOLLOW, 0: none */
	int rflags;	/* CALL_PATH: fsv_resolve flags (FSV_FOLLOW is cleared by
			 * AT_SYMLINK_NOFOLLOW in the atflags argument) */
	union {
		int (*sys)(const struct sys_call *c, long *ret); /* CALL_SYS */
		fd_fn fd;					 /* CALL_FD: the fd is a0 */
		path_fn path;					 /* CALL_PATH */
	} fn;
};

/* clang-format off */
#define SYS(f) { .kind = CALL_SYS, .fn.sys = (f) }
#define FD(f) { .kind = CALL_FD, .fn.fd = (f) }
#define PATH(d, p, fl, f) { .kind = CALL_PATH, .dirfd = (d), .path = (p), .rflags = (fl), .fn.path = (f) }
#define PATH_AT(p, at, f) { .kind = CALL_PATH, .dirfd = 0, .path = (p), .atflags = (at), .rflags = FSV_FOLLOW, .fn.path = (f) }
/* clang-format on */

static const struct fs_call fs_calls[] = {
	[__NR_exit_group] = SYS(sys_exit_group),
	/* descriptors */
	[__NR_open] = SYS(sys_open),
	[__NR_creat] = SYS(sys_creat),
	[__NR_openat] = SYS(sys_openat),
	[__NR_openat2] = SYS(fs_sys_openat2),
	[__NR_close] = SYS(fs_sys_close),
	[__NR_close_range] = SYS(fs_sys_close_range),
	[__NR_dup] = SYS(fs_sys_dup),
	[__NR_dup2] = SYS(fs_sys_dup),
	[__NR_dup3] = SYS(fs_sys_dup),
	[__NR_fcntl] = SYS(fs_sys_fcntl),
	[__NR_ioctl] = FD(fs_v_ioctl),
	/* data */
	[__NR_read] = FD(fs_v_read),
	[__NR_pread64] = FD(fs_v_read),
	[__NR_readv] = FD(fs_v_read),
	[__NR_preadv] = FD(fs_v_read),
	[__NR_preadv2] = FD(fs_v_read),
	[__NR_write] = FD(fs_v_read),
	[__NR_pwrite64] = FD(fs_v_read),
	[__NR_writev] = FD(fs_v_read),
	[__NR_pwritev] = FD(fs_v_read),
	[__NR_pwritev2] = FD(fs_v_read),
	[__NR_lseek] = FD(fs_v_lseek),
	[__NR_getdents] = FD(fs_v_getdents),
	[__NR_getdents64] = FD(fs_v_getdents),
	[__NR_ftruncate] = FD(fs_v_ftruncate),
	[__NR_fallocate] = FD(fs_v_fallocate),
	[__NR_fsync] = FD(fs_v_zero),
	[__NR_fdatasync] = FD(fs_v_zero),
	[__NR_syncfs] = FD(fs_v_zero),
	[__NR_fadvise64] = FD(fs_v_zero),
	[__NR_readahead] = FD(fs_v_zero),
	[__NR_sync_file_range] = FD(fs_v_zero),
	[__NR_flock] = SYS(fs_sys_flock),
	[__NR_copy_file_range] = SYS(fs_sys_copy_file_range),
	[__NR_splice] = SYS(fs_sys_splice),
	[__NR_tee] = SYS(fs_sys_splice),
	[__NR_sendfile] = SYS(fs_sys_sendfile),
	[__NR_mmap] = SYS(sys_mmap),
	[__NR_mremap] = SYS(fs_sys_mremap),
	/* unix sockets bound to a path */
	[__NR_bind] = SYS(fs_sys_bind),
	[__NR_connect] = SYS(fs_sys_connect),
	[__NR_sendto] = SYS(fs_sys_sendto),
	[__NR_sendmsg] = SYS(fs_sys_sendmsg),
	[__NR_sendmmsg] = SYS(fs_sys_sendmmsg),
	[__NR_recvmsg] = SYS(fs_sys_recvmsg),
	[__NR_recvmmsg] = SYS(fs_sys_recvmmsg),
	[__NR_getsockname] = SYS(fs_sys_sockname),
	[__NR_getpeername] = SYS(fs_sys_sockname),
	/* metadata */
	[__NR_fstat] = FD(fs_v_fstat),
	[__NR_stat] = SYS(fs_sys_stat),
	[__NR_lstat] = SYS(fs_sys_stat),
	[__NR_newfstatat] = SYS(fs_sys_stat),
	[__NR_statx] = SYS(fs_sys_stat),
	[__NR_readlink] = SYS(fs_sys_readlink),
	[__NR_readlinkat] = SYS(fs_sys_readlink),
	[__NR_access] = SYS(fs_sys_access),
	[__NR_faccessat] = SYS(fs_sys_access),
	[__NR_faccessat2] = SYS(fs_sys_access),
	[__NR_chmod] = PATH(-1, 0, FSV_FOLLOW, fs_p_chmod),
	[__NR_fchmodat] = PATH(0, 1, FSV_FOLLOW, fs_p_chmod),
	[__NR_fchmodat2] = PATH_AT(1, 3, fs_p_chmod),
	[__NR_fchmod] = FD(fs_v_fchmod),
	[__NR_chown] = PATH(-1, 0, FSV_FOLLOW, fs_p_chown),
	[__NR_lchown] = PATH(-1, 0, 0, fs_p_chown),
	[__NR_fchownat] = PATH_AT(1, 4, fs_p_chown),
	[__NR_fchown] = FD(fs_v_fchown),
	[__NR_truncate] = PATH(-1, 0, FSV_FOLLOW, fs_p_truncate),
	[__NR_utime] = PATH(-1, 0, FSV_FOLLOW, fs_p_utimes),
	[__NR_utimes] = PATH(-1, 0, FSV_FOLLOW, fs_p_utimes),
	[__NR_futimesat] = PATH(0, 1, FSV_FOLLOW, fs_p_utimes),
	[__NR_utimensat] = SYS(fs_sys_utimensat),
	[__NR_statfs] = PATH(-1, 0, FSV_FOLLOW, fs_p_statfs),
	[__NR_fstatfs] = FD(fs_v_fstatfs),
	[__NR_getxattr] = PATH(-1, 0, FSV_FOLLOW, fs_p_xattr),
	[__NR_listxattr] = PATH(-1, 0, FSV_FOLLOW, fs_p_xattr),
	[__NR_setxattr] = PATH(-1, 0, FSV_FOLLOW, fs_p_xattr),
	[__NR_removexattr] = PATH(-1, 0, FSV_FOLLOW, fs_p_xattr),
	[__NR_lgetxattr] = PATH(-1, 0, 0, fs_p_xattr),
	[__NR_llistxattr] = PATH(-1, 0, 0, fs_p_xattr),
	[__NR_lsetxattr] = PATH(-1, 0, 0, fs_p_xattr),
	[__NR_lremovexattr] = PATH(-1, 0, 0, fs_p_xattr),
	[__NR_fgetxattr] = FD(fs_v_xattr),
	[__NR_flistxattr] = FD(fs_v_xattr),
	[__NR_fsetxattr] = FD(fs_v_xattr),
	[__NR_fremovexattr] = FD(fs_v_xattr),
	/* the namespace */
	[__NR_chdir] = SYS(fs_sys_chdir),
	[__NR_fchdir] = SYS(fs_sys_fchdir),
	[__NR_getcwd] = SYS(fs_sys_getcwd),
	[__NR_umask] = SYS(fs_sys_umask),
	[__NR_mkdir] = PATH(-1, 0, FSV_PARENT | FSV_CREATE, fs_p_mkdir),
	[__NR_mkdirat] = PATH(0, 1, FSV_PARENT | FSV_CREATE, fs_p_mkdir),
	[__NR_mknod] = PATH(-1, 0, FSV_PARENT | FSV_CREATE, fs_p_mknod),
	[__NR_mknodat] = PATH(0, 1, FSV_PARENT | FSV_CREATE, fs_p_mknod),
	[__NR_unlink] = PATH(-1, 0, FSV_PARENT, fs_p_unlink),
	[__NR_rmdir] = PATH(-1, 0, FSV_PARENT, fs_p_unlink),
	[__NR_unlinkat] = PATH(0, 1, FSV_PARENT, fs_p_unlink),
	[__NR_symlink] = SYS(fs_sys_symlink),
	[__NR_symlinkat] = SYS(fs_sys_symlink),
	[__NR_rename] = SYS(fs_sys_two),
	[__NR_renameat] = SYS(fs_sys_two),
	[__NR_renameat2] = SYS(fs_sys_two),
	[__NR_link] = SYS(fs_sys_two),
	[__NR_linkat] = SYS(fs_sys_two),
	/* paths the image must not leak to the host */
	[__NR_inotify_add_watch] = PATH(-1, 1, FSV_FOLLOW, fs_p_refuse),
	[__NR_name_to_handle_at] = PATH(0, 1, FSV_FOLLOW, fs_p_refuse),
	[__NR_chroot] = SYS(sys_path_or_null),
	[__NR_acct] = SYS(sys_path_or_null),
};

int fs_shield(const struct sys_call *c, long *ret)
{
	if (!fs_g.enabled || c->nr < 0 || (unsigned long)c->nr >= sizeof(fs_calls) / sizeof(fs_calls[0]))
		return SHIELD_PASS;
	const struct fs_call *e = &fs_calls[c->nr];
	switch (e->kind) {
	case CALL_SYS:
		return e->fn.sys(c, ret);
	case CALL_FD:
		return fs_fd_op(c, ret, (int)c->a[0], e->fn.fd);
	case CALL_PATH: {
		int rflags = e->rflags;
		if (e->atflags && (c->a[e->atflags] & AT_SYMLINK_NOFOLLOW))
			rflags &= ~FSV_FOLLOW;
		return fs_path_op(c, ret, e->dirfd, e->path, rflags, e->fn.path);
	}
	default:
		return SHIELD_PASS;
	}
}

/* Code may be loaded only from the protected image or the in-enclave file
 * system (shield.h rt_code_fd_ok); in dev mode the shield has no opinion. */
static int fs_code_fd(int fd)
{
	if (!fs_g.enabled)
		return -1;
	return fs_is_virtual_fd(fd);
}

static int fs_owns_fd(int fd) { return fs_is_virtual_fd(fd); }

static int fs_active(void) { return fs_g.enabled; }

const struct shield_ops fs_shield_ops = {
	.name = "fs",
	.order = 10,
	.init = fs_shield_init,
	.call = fs_shield,
	.active = fs_active,
	.fork_prepare = fs_fork_prepare,
	.fork_parent = fs_fork_parent,
	.fork_child = fs_fork_child,
	.program = fs_program_started,
	.owns_fd = fs_owns_fd,
	.code_fd = fs_code_fd,
};
RT_SHIELD(fs_shield_ops);
