/* FS shield: system call dispatch (fs_shield, shield.h).
 *
 * Path calls are resolved in the virtual tree (fsv_resolve): a virtual
 * result is served here, a path under a passthrough mount is re-issued to
 * the host with the resolved absolute path, a path relative to a host dirfd
 * passes unchanged. Fd calls on virtual fds are served here; host fds pass.
 * Everything runs under fs_lock, which is dropped before any host call that
 * may block. See docs/fs-shield.md. */
#include "fs_calls.h"

/* A user path: -EFAULT, -ENAMETOOLONG, or its length. */
long fs_path_len(const char *p)
{
	if (!fs_user_ok(p, 1))
		return -EFAULT;
	for (long i = 0; i < FSV_PATH_MAX; i++)
		if (!p[i])
			return i;
	return -ENAMETOOLONG;
}

/* Resolution of (dirfd, path). Returns 0 (virtual: r->node / r->dir), 1 (host
 * path in r->host_path), 2 (relative to a host dirfd: pass unchanged) or a
 * negative errno. Lock held. */
int fs_lookup_at(int dirfd, const char *path, int flags, struct fsv_res *r)
{
	long pl = fs_path_len(path);
	if (pl < 0)
		return (int)pl;
	struct fsv_start st = {NULL, NULL};
	if (path[0] != '/') {
		if (dirfd == AT_FDCWD) {
			if (fs_g.cwd)
				st.node = fs_g.cwd;
			else
				st.host_dir = fs_g.cwd_host;
		} else {
			struct fsv_file *f = fsv_fd_get(&fs_g.fds, dirfd);
			if (!f)
				return 2;
			if (!pl)
				return -ENOENT;
			if (!S_ISDIR_(f->node->mode))
				return -ENOTDIR;
			st.node = f->node;
		}
	}
	int e = fsv_resolve(FS(), &st, path, flags, r);
	if (e < 0)
		return e;
	return r->host ? 1 : 0;
}

long fs_host_at(const struct sys_call *c, int dirfd_idx, int path_idx, const char *hp)
{
	long a[6];
	for (int i = 0; i < 6; i++)
		a[i] = c->a[i];
	if (dirfd_idx >= 0)
		a[dirfd_idx] = AT_FDCWD;
	a[path_idx] = (long)hp;
	return host_syscall(c->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}


/* Generic path call: resolve, then serve (virt, lock held) or hand to the host. */
int fs_path_op(const struct sys_call *c, long *ret, int dirfd_idx, int path_idx, int rflags, path_fn virt)
{
	struct fsv_res r;
	int dirfd = dirfd_idx >= 0 ? (int)c->a[dirfd_idx] : AT_FDCWD;
	fs_lock();
	int k = fs_lookup_at(dirfd, (const char *)c->a[path_idx], rflags, &r);
	if (k == 2) {
		fs_unlock();
		return SHIELD_PASS;
	}
	if (k == 1) {
		fs_unlock();
		DONE(fs_host_at(c, dirfd_idx, path_idx, r.host_path));
	}
	if (k < 0) {
		fs_unlock();
		DONE(k);
	}
	long v = virt(c, &r);
	fsv_res_put(FS(), &r);
	fs_unlock();
	DONE(v);
}

int fs_fd_op(const struct sys_call *c, long *ret, int fd, fd_fn virt)
{
	fs_lock();
	struct fsv_file *f = fsv_fd_get(&fs_g.fds, fd);
	if (!f) {
		fs_unlock();
		return SHIELD_PASS;
	}
	long v = virt(c, f);
	fs_unlock();
	DONE(v);
}

int fs_shield(const struct sys_call *c, long *ret)
{
	if (!fs_g.enabled)
		return SHIELD_PASS;
	if (c->nr == __NR_exit_group && fs_g.lockp) {
		/* The descriptions and the cwd are shared with the other processes
		 * (arena): drop this process's references so that files removed
		 * meanwhile are freed (the kernel closes the placeholders). */
		fs_lock();
		fsv_fd_destroy(FS(), &fs_g.fds);
		if (fs_g.cwd) {
			fsv_unref(FS(), fs_g.cwd);
			fs_g.cwd = fs_g.fs.root;
			fsv_ref(fs_g.cwd);
		}
		fs_unlock();
		return SHIELD_PASS;
	}
	const long *a = c->a;
	switch (c->nr) {
	case __NR_open:
		return fs_sys_open(c, ret, AT_FDCWD, (const char *)a[0], a[1], (uint32_t)a[2]);
	case __NR_creat:
		return fs_sys_open(c, ret, AT_FDCWD, (const char *)a[0], O_CREAT | O_WRONLY | O_TRUNC, (uint32_t)a[1]);
	case __NR_openat:
		return fs_sys_open(c, ret, (int)a[0], (const char *)a[1], a[2], (uint32_t)a[3]);
	case __NR_openat2:
		return fs_sys_openat2(c, ret);
	case __NR_close:
		return fs_sys_close(c, ret);
	case __NR_close_range:
		return fs_sys_close_range(c, ret);
	case __NR_read:
	case __NR_pread64:
	case __NR_readv:
	case __NR_preadv:
	case __NR_preadv2:
	case __NR_write:
	case __NR_pwrite64:
	case __NR_writev:
	case __NR_pwritev:
	case __NR_pwritev2:
		return fs_fd_op(c, ret, (int)a[0], fs_v_read);
	case __NR_lseek:
		return fs_fd_op(c, ret, (int)a[0], fs_v_lseek);
	case __NR_getdents:
	case __NR_getdents64:
		return fs_fd_op(c, ret, (int)a[0], fs_v_getdents);
	case __NR_fstat:
		return fs_fd_op(c, ret, (int)a[0], fs_v_fstat);
	case __NR_stat:
	case __NR_lstat:
	case __NR_newfstatat:
	case __NR_statx:
		return fs_sys_stat(c, ret);
	case __NR_readlink:
	case __NR_readlinkat:
		return fs_sys_readlink(c, ret);
	case __NR_access:
	case __NR_faccessat:
	case __NR_faccessat2:
		return fs_sys_access(c, ret);
	case __NR_chdir:
		return fs_sys_chdir(c, ret);
	case __NR_fchdir:
		return fs_sys_fchdir(c, ret);
	case __NR_getcwd:
		return fs_sys_getcwd(c, ret);
	case __NR_mkdir:
		return fs_path_op(c, ret, -1, 0, FSV_PARENT, fs_p_mkdir);
	case __NR_mkdirat:
		return fs_path_op(c, ret, 0, 1, FSV_PARENT, fs_p_mkdir);
	case __NR_mknod:
		return fs_path_op(c, ret, -1, 0, FSV_PARENT, fs_p_mknod);
	case __NR_mknodat:
		return fs_path_op(c, ret, 0, 1, FSV_PARENT, fs_p_mknod);
	case __NR_unlink:
	case __NR_rmdir:
		return fs_path_op(c, ret, -1, 0, FSV_PARENT, fs_p_unlink);
	case __NR_unlinkat:
		return fs_path_op(c, ret, 0, 1, FSV_PARENT, fs_p_unlink);
	case __NR_symlink:
	case __NR_symlinkat:
		return fs_sys_symlink(c, ret);
	case __NR_rename:
	case __NR_renameat:
	case __NR_renameat2:
	case __NR_link:
	case __NR_linkat:
		return fs_sys_two(c, ret);
	case __NR_chmod:
		return fs_path_op(c, ret, -1, 0, FSV_FOLLOW, fs_p_chmod);
	case __NR_fchmodat:
		return fs_path_op(c, ret, 0, 1, FSV_FOLLOW, fs_p_chmod);
	case __NR_fchmodat2:
		return fs_path_op(c, ret, 0, 1, (a[3] & AT_SYMLINK_NOFOLLOW) ? 0 : FSV_FOLLOW, fs_p_chmod);
	case __NR_fchmod:
		return fs_fd_op(c, ret, (int)a[0], fs_v_fchmod);
	case __NR_chown:
		return fs_path_op(c, ret, -1, 0, FSV_FOLLOW, fs_p_chown);
	case __NR_lchown:
		return fs_path_op(c, ret, -1, 0, 0, fs_p_chown);
	case __NR_fchownat:
		return fs_path_op(c, ret, 0, 1, (a[4] & AT_SYMLINK_NOFOLLOW) ? 0 : FSV_FOLLOW, fs_p_chown);
	case __NR_fchown:
		return fs_fd_op(c, ret, (int)a[0], fs_v_fchown);
	case __NR_truncate:
		return fs_path_op(c, ret, -1, 0, FSV_FOLLOW, fs_p_truncate);
	case __NR_ftruncate:
		return fs_fd_op(c, ret, (int)a[0], fs_v_ftruncate);
	case __NR_utime:
	case __NR_utimes:
		return fs_path_op(c, ret, -1, 0, FSV_FOLLOW, fs_p_utimes);
	case __NR_futimesat:
		return fs_path_op(c, ret, 0, 1, FSV_FOLLOW, fs_p_utimes);
	case __NR_utimensat:
		return fs_sys_utimensat(c, ret);
	case __NR_statfs:
		return fs_path_op(c, ret, -1, 0, FSV_FOLLOW, fs_p_statfs);
	case __NR_fstatfs:
		return fs_fd_op(c, ret, (int)a[0], fs_v_fstatfs);
	case __NR_getxattr:
	case __NR_listxattr:
	case __NR_setxattr:
	case __NR_removexattr:
		return fs_path_op(c, ret, -1, 0, FSV_FOLLOW, fs_p_xattr);
	case __NR_lgetxattr:
	case __NR_llistxattr:
	case __NR_lsetxattr:
	case __NR_lremovexattr:
		return fs_path_op(c, ret, -1, 0, 0, fs_p_xattr);
	case __NR_fgetxattr:
	case __NR_flistxattr:
	case __NR_fsetxattr:
	case __NR_fremovexattr:
		return fs_fd_op(c, ret, (int)a[0], fs_v_xattr);
	case __NR_inotify_add_watch:
		return fs_path_op(c, ret, -1, 1, FSV_FOLLOW, fs_p_refuse);
	case __NR_name_to_handle_at:
		return fs_path_op(c, ret, 0, 1, FSV_FOLLOW, fs_p_refuse);
	case __NR_chroot:
	case __NR_acct:
		if (!a[0])
			return SHIELD_PASS;
		return fs_path_op(c, ret, -1, 0, FSV_FOLLOW, fs_p_refuse);
	case __NR_dup:
	case __NR_dup2:
	case __NR_dup3:
		return fs_sys_dup(c, ret);
	case __NR_fcntl:
		return fs_sys_fcntl(c, ret);
	case __NR_ioctl:
		return fs_fd_op(c, ret, (int)a[0], fs_v_ioctl);
	case __NR_fsync:
	case __NR_fdatasync:
	case __NR_syncfs:
	case __NR_fadvise64:
	case __NR_readahead:
	case __NR_sync_file_range:
	case __NR_flock:
		return fs_fd_op(c, ret, (int)a[0], fs_v_zero);
	case __NR_fallocate:
		return fs_fd_op(c, ret, (int)a[0], fs_v_fallocate);
	case __NR_copy_file_range:
	case __NR_splice:
	case __NR_tee: {
		int r = fs_fd_op(c, ret, (int)a[0], fs_v_exdev);
		if (r == SHIELD_PASS && c->nr != __NR_tee)
			r = fs_fd_op(c, ret, (int)a[2], fs_v_exdev);
		if (r == SHIELD_PASS && c->nr == __NR_tee)
			r = fs_fd_op(c, ret, (int)a[1], fs_v_exdev);
		return r;
	}
	case __NR_sendfile:
		return fs_sys_sendfile(c, ret);
	case __NR_mmap:
		if (a[3] & 0x20 /* MAP_ANONYMOUS */)
			return SHIELD_PASS;
		{
			fs_lock();
			int v = fsv_fd_get(&fs_g.fds, (int)a[4]) != NULL;
			fs_unlock();
			if (!v)
				return SHIELD_PASS;
		}
		DONE(fs_mmap(c));
	case __NR_umask:
		return fs_sys_umask(c, ret);
	default:
		return SHIELD_PASS;
	}
}
