/* FS shield: helpers of the system call handlers (fs.h): user paths,
 * resolution relative to a dirfd, re-issuing a call to the host with a
 * resolved path, and the generic path and fd operations. */
#include "fs.h"

/* A user path: -EFAULT, -ENAMETOOLONG, or its length. */
long fs_path_len(const char *p)
{
	if (!rt_user_ok(p, 1))
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
			struct fsv_file *f = fsv_fd_get(fs_g.fdt, dirfd);
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
	return shield_host_path_call(&fs_shield_ops, c->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
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
		return shield_done(ret, fs_host_at(c, dirfd_idx, path_idx, r.host_path));
	}
	if (k < 0) {
		fs_unlock();
		return shield_done(ret, k);
	}
	long v = virt(c, &r);
	fsv_res_put(FS(), &r);
	fs_unlock();
	return shield_done(ret, v);
}

int fs_fd_op(const struct sys_call *c, long *ret, int fd, fd_fn virt)
{
	if (!fsv_fd_maybe(fs_g.fdt, fd))
		return SHIELD_PASS;
	fs_lock();
	struct fsv_file *f = fsv_fd_get(fs_g.fdt, fd);
	if (!f) {
		fs_unlock();
		return SHIELD_PASS;
	}
	long v = virt(c, f);
	fs_unlock();
	return shield_done(ret, v);
}
