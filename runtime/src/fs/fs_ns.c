/* FS shield: working directory, mkdir/mknod/unlink/symlink/rename/link, umask (fs_calls.h). */
#include "fs.h"

/* ---- working directory ---- */

static void set_cwd_node(struct fsv_node *n)
{
	fsv_ref(n);
	if (fs_g.cwd)
		fsv_unref(FS(), fs_g.cwd);
	fs_g.cwd = n;
}

int fs_sys_chdir(const struct sys_call *c, long *ret)
{
	struct fsv_res r;
	fs_lock();
	int k = fs_lookup_at(AT_FDCWD, (const char *)c->a[0], FSV_FOLLOW, &r);
	if (k == 0) {
		long v = 0;
		if (!S_ISDIR_(r.node->mode))
			v = -ENOTDIR;
		else if ((v = fsv_access(FS(), r.node, 1)) == 0)
			set_cwd_node(r.node);
		fsv_res_put(FS(), &r);
		fs_unlock();
		return shield_done(ret, v);
	}
	if (k < 0 || k == 2) {
		fs_unlock();
		return shield_done(ret, k < 0 ? k : -ENOENT);
	}
	fs_unlock();
	long v = shield_host_path_call(&fs_shield_ops, __NR_chdir, (long)r.host_path, 0, 0, 0, 0, 0);
	if (v == 0) {
		fs_lock();
		if (fs_g.cwd)
			fsv_unref(FS(), fs_g.cwd);
		fs_g.cwd = NULL;
		memcpy(fs_g.cwd_host, r.host_path, strlen(r.host_path) + 1);
		fs_unlock();
	}
	return shield_done(ret, v);
}

int fs_sys_fchdir(const struct sys_call *c, long *ret)
{
	int fd = (int)c->a[0];
	fs_lock();
	struct fsv_file *f = fsv_fd_get(fs_g.fdt, fd);
	if (f) {
		long v = 0;
		if (!S_ISDIR_(f->node->mode))
			v = -ENOTDIR;
		else if ((v = fsv_access(FS(), f->node, 1)) == 0)
			set_cwd_node(f->node);
		fs_unlock();
		return shield_done(ret, v);
	}
	fs_unlock();
	long v = host_syscall(__NR_fchdir, fd, 0, 0, 0, 0, 0);
	if (v == 0) {
		char tmp[FSV_PATH_MAX];
		long n = host_syscall(__NR_getcwd, (long)tmp, sizeof tmp, 0, 0, 0, 0);
		if (n <= 0 || n > FSV_PATH_MAX || tmp[0] != '/')
			return shield_done(ret, -EIO); /* Iago: the host's answer is unusable */
		tmp[n - 1] = 0;
		fs_lock();
		if (fs_g.cwd)
			fsv_unref(FS(), fs_g.cwd);
		fs_g.cwd = NULL;
		memcpy(fs_g.cwd_host, tmp, (size_t)n);
		fs_unlock();
	}
	return shield_done(ret, v);
}

/* The working directory: the enclave's node, or the host path chdir went
 * to (cwd_host). The host's own cwd is not asked: a protected volume's
 * directories are the volume shield's, and chdir into one changes no host
 * directory (the host's cwd would still name the one before). */
int fs_sys_getcwd(const struct sys_call *c, long *ret)
{
	char *buf = (char *)c->a[0];
	size_t size = (size_t)c->a[1];
	fs_lock();
	if (!fs_g.cwd && !fs_g.cwd_host[0]) {
		fs_unlock();
		return SHIELD_PASS;
	}
	char path[FSV_PATH_MAX];
	long n;
	if (fs_g.cwd) {
		n = fsv_node_path(FS(), fs_g.cwd, path, sizeof path);
	} else {
		n = (long)strlen(fs_g.cwd_host);
		memcpy(path, fs_g.cwd_host, (size_t)n + 1);
	}
	fs_unlock();
	if (n < 0)
		return shield_done(ret, n == -ERANGE ? -ENAMETOOLONG : -ENOENT);
	if ((size_t)n + 1 > size)
		return shield_done(ret, -ERANGE);
	if (!rt_user_ok(buf, (size_t)n + 1))
		return shield_done(ret, -EFAULT);
	memcpy(buf, path, (size_t)n + 1);
	return shield_done(ret, n + 1);
}

/* ---- namespace changes ---- */

long fs_p_mkdir(const struct sys_call *c, struct fsv_res *r)
{
	uint32_t mode = (uint32_t)(c->nr == __NR_mkdir ? c->a[1] : c->a[2]);
	if (r->node)
		return -EEXIST;
	return fsv_create(FS(), r->dir, r->name, r->namelen, FSV_IFDIR | (mode & 07777 & ~fs_g.umask), NULL, NULL);
}

long fs_p_mknod(const struct sys_call *c, struct fsv_res *r)
{
	uint32_t mode = (uint32_t)(c->nr == __NR_mknod ? c->a[1] : c->a[2]);
	if (r->node)
		return -EEXIST;
	if (r->trailing_slash)
		return -ENOENT; /* only mkdir creates "name/" */
	if ((mode & FSV_IFMT) == FSV_IFIFO)
		return fs_fifo_mknod(r, mode & 07777 & ~fs_g.umask);
	if ((mode & FSV_IFMT) && (mode & FSV_IFMT) != FSV_IFREG)
		return -EPERM; /* devices and sockets cannot live in the ephemeral layer */
	return fsv_create(FS(), r->dir, r->name, r->namelen, FSV_IFREG | (mode & 07777 & ~fs_g.umask), NULL, NULL);
}

long fs_p_unlink(const struct sys_call *c, struct fsv_res *r)
{
	int rmdir = c->nr == __NR_rmdir || (c->nr == __NR_unlinkat && (c->a[2] & AT_REMOVEDIR));
	if (!r->node)
		return -ENOENT;
	if (r->dot)
		return rmdir ? (r->namelen == 1 ? -EINVAL : -ENOTEMPTY) : -EISDIR;
	if (!rmdir && r->trailing_slash)
		return S_ISDIR_(r->node->mode) ? -EISDIR : -ENOTDIR;
	return fsv_remove(FS(), r->dir, r->name, r->namelen, rmdir);
}

long fs_p_symlink(const struct sys_call *c, struct fsv_res *r)
{
	const char *target = (const char *)c->a[0];
	long tl = fs_path_len(target);
	if (tl < 0)
		return tl;
	if (tl == 0)
		return -ENOENT;
	if (r->node)
		return -EEXIST;
	if (r->trailing_slash)
		return -ENOENT; /* only mkdir creates "name/" */
	return fsv_create(FS(), r->dir, r->name, r->namelen, FSV_IFLNK | 0777, target, NULL);
}

int fs_sys_symlink(const struct sys_call *c, long *ret)
{
	if (c->nr == __NR_symlink)
		return fs_path_op(c, ret, -1, 1, FSV_PARENT | FSV_CREATE, fs_p_symlink);
	return fs_path_op(c, ret, 1, 2, FSV_PARENT | FSV_CREATE, fs_p_symlink);
}

/* Two-path calls (rename, link): resolve both; mixed host/virtual is EXDEV. */
int fs_sys_two(const struct sys_call *c, long *ret)
{
	int od = AT_FDCWD, nd = AT_FDCWD, oi, ni, odi = -1, ndi = -1;
	int oflags = FSV_PARENT, nflags = FSV_PARENT;
	unsigned rflags = 0;
	switch (c->nr) {
	case __NR_rename:
	case __NR_link:
		oi = 0;
		ni = 1;
		break;
	default: /* renameat, renameat2, linkat: (olddirfd, old, newdirfd, new, flags) */
		od = (int)c->a[0];
		nd = (int)c->a[2];
		odi = 0;
		ndi = 2;
		oi = 1;
		ni = 3;
		if (c->nr == __NR_renameat2)
			rflags = (unsigned)c->a[4];
		break;
	}
	int link = c->nr == __NR_link || c->nr == __NR_linkat;
	if (link) {
		oflags = (c->nr == __NR_linkat && (c->a[4] & AT_SYMLINK_FOLLOW)) ? FSV_FOLLOW : 0;
		nflags = FSV_PARENT | FSV_CREATE;
		if (c->nr == __NR_linkat && (c->a[4] & AT_EMPTY_PATH))
			return shield_done(
				ret, -ENOENT); /* linking an fd by AT_EMPTY_PATH: not supported on the protected FS */
	}
	struct fsv_res two[2], *ro = &two[0], *rn = &two[1]; /* 9 KiB of the 256 KiB signal stack */
	fs_lock();
	int ko = fs_lookup_at(od, (const char *)c->a[oi], oflags, ro);
	int kn = ko < 0 ? 0 : fs_lookup_at(nd, (const char *)c->a[ni], nflags, rn);
	long v;
	int res = SHIELD_DONE;
	if (ko < 0 || kn < 0) {
		v = ko < 0 ? ko : kn;
		if (ko == 0)
			fsv_res_put(FS(), ro);
	} else if (ko == 0 && kn == 0) {
		if (link) {
			if (!ro->node)
				v = -ENOENT;
			else if (rn->node)
				v = -EEXIST;
			else if (rn->trailing_slash)
				v = -ENOENT; /* only mkdir creates "name/" */
			else
				v = fsv_link(FS(), ro->node, rn->dir, rn->name, rn->namelen);
		} else if (!ro->node) {
			v = -ENOENT;
		} else if (ro->dot || rn->dot) {
			v = -EBUSY;
		} else {
			v = fsv_rename(FS(), ro->dir, ro->name, ro->namelen, rn->dir, rn->name, rn->namelen, rflags);
		}
		fsv_res_put(FS(), ro);
		fsv_res_put(FS(), rn);
	} else {
		if (ko == 0)
			fsv_res_put(FS(), ro);
		if (kn == 0)
			fsv_res_put(FS(), rn);
		if (ko == 2 && kn == 2)
			res = SHIELD_PASS;
		else if (ko == 0 || kn == 0)
			v = -EXDEV;
		else {
			/* both on the host */
			fs_unlock();
			long a[6];
			for (int i = 0; i < 6; i++)
				a[i] = c->a[i];
			if (ko == 1) {
				a[oi] = (long)ro->host_path;
				if (odi >= 0)
					a[odi] = AT_FDCWD;
			}
			if (kn == 1) {
				a[ni] = (long)rn->host_path;
				if (ndi >= 0)
					a[ndi] = AT_FDCWD;
			}
			v = shield_host_path_call(&fs_shield_ops, c->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
			return shield_done(ret, v);
		}
	}
	fs_unlock();
	if (res == SHIELD_PASS)
		return SHIELD_PASS;
	return shield_done(ret, v);
}

int fs_sys_umask(const struct sys_call *c, long *ret)
{
	host_syscall(__NR_umask, c->a[0] & 0777, 0, 0, 0, 0, 0);
	fs_lock();
	long old = fs_g.umask;
	fs_g.umask = (uint32_t)c->a[0] & 0777;
	fs_unlock();
	return shield_done(ret, old);
}
