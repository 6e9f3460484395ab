/* FS shield: stat family, readlink, access, attributes, statfs, xattrs (fs_calls.h). */
#include "fs.h"

/* ---- stat family ---- */

static long stat_node(struct fsv_node *n, void *buf, int statx, unsigned mask)
{
	struct fsv_stat st;
	fsv_getattr(FS(), n, &st);
	if (!rt_user_ok(buf, statx ? 256 : 144))
		return -EFAULT;
	if (statx)
		return fs_fill_statx(buf, &st, mask);
	fs_fill_stat(buf, &st);
	return 0;
}

long fs_v_fstat(const struct sys_call *c, struct fsv_file *f) { return stat_node(f->node, (void *)c->a[1], 0, 0); }

long fs_p_stat(const struct sys_call *c, struct fsv_res *r)
{
	switch (c->nr) {
	case __NR_stat:
	case __NR_lstat:
		return stat_node(r->node, (void *)c->a[1], 0, 0);
	case __NR_newfstatat:
		return stat_node(r->node, (void *)c->a[2], 0, 0);
	default: /* statx */
		return stat_node(r->node, (void *)c->a[4], 1, (unsigned)c->a[3]);
	}
}

/* *at calls with AT_EMPTY_PATH and "": the object is dirfd itself. */
static int empty_path_fd(const struct sys_call *c, long *ret, int dirfd, void *buf, int statx)
{
	fs_lock();
	struct fsv_node *n = NULL;
	if (dirfd == AT_FDCWD)
		n = fs_g.cwd;
	else {
		struct fsv_file *f = fsv_fd_get(fs_g.fdt, dirfd);
		n = f ? f->node : NULL;
	}
	if (!n) {
		fs_unlock();
		return SHIELD_PASS;
	}
	long v = stat_node(n, buf, statx, statx ? (unsigned)c->a[3] : 0);
	fs_unlock();
	return shield_done(ret, v);
}

int fs_sys_stat(const struct sys_call *c, long *ret)
{
	switch (c->nr) {
	case __NR_stat:
		return fs_path_op(c, ret, -1, 0, FSV_FOLLOW, fs_p_stat);
	case __NR_lstat:
		return fs_path_op(c, ret, -1, 0, 0, fs_p_stat);
	case __NR_newfstatat: {
		const char *p = (const char *)c->a[1];
		if ((c->a[3] & AT_EMPTY_PATH) && rt_user_ok(p, 1) && !p[0])
			return empty_path_fd(c, ret, (int)c->a[0], (void *)c->a[2], 0);
		return fs_path_op(c, ret, 0, 1, (c->a[3] & AT_SYMLINK_NOFOLLOW) ? 0 : FSV_FOLLOW, fs_p_stat);
	}
	default: { /* statx */
		const char *p = (const char *)c->a[1];
		if ((c->a[2] & AT_EMPTY_PATH) && rt_user_ok(p, 1) && !p[0])
			return empty_path_fd(c, ret, (int)c->a[0], (void *)c->a[4], 1);
		return fs_path_op(c, ret, 0, 1, (c->a[2] & AT_SYMLINK_NOFOLLOW) ? 0 : FSV_FOLLOW, fs_p_stat);
	}
	}
}

/* ---- readlink / access ---- */

long fs_p_readlink(const struct sys_call *c, struct fsv_res *r)
{
	int at = c->nr == __NR_readlinkat;
	char *buf = (char *)c->a[at + 1];
	long size = c->a[at + 2];
	if (size <= 0)
		return -EINVAL;
	if (!rt_user_ok(buf, (size_t)size))
		return -EFAULT;
	if (!S_ISLNK_(r->node->mode))
		return -EINVAL;
	return fsv_readlink(FS(), r->node, buf, (size_t)size);
}

/* readlink of /proc/self/fd/N (or /dev/fd/N) for a virtual fd: its path. */
static int magic_fd_readlink(const struct sys_call *c, long *ret, const char *hp)
{
	int at = c->nr == __NR_readlinkat;
	const char *p = hp;
	if (!rt_strncmp(p, "/proc/self/fd/", 14))
		p += 14;
	else if (!rt_strncmp(p, "/dev/fd/", 8))
		p += 8;
	else
		return SHIELD_PASS;
	long fd = 0;
	if (!*p)
		return SHIELD_PASS;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || fd > 1 << 24)
			return SHIELD_PASS;
		fd = fd * 10 + (*p - '0');
	}
	char path[FSV_PATH_MAX + 16];
	fs_lock();
	struct fsv_file *f = fsv_fd_get(fs_g.fdt, (int)fd);
	long n = f ? fsv_node_path(FS(), f->node, path, FSV_PATH_MAX) : -1;
	if (f && n < 0 && f->node->name) { /* removed: like the kernel, "(deleted)" */
		n = rt_snprintf(path, sizeof path, "/%s (deleted)", f->node->name);
	}
	fs_unlock();
	if (!f)
		return SHIELD_PASS;
	char *buf = (char *)c->a[at + 1];
	long size = c->a[at + 2];
	if (size <= 0)
		return shield_done(ret, -EINVAL);
	if (!rt_user_ok(buf, (size_t)size))
		return shield_done(ret, -EFAULT);
	if (n > size)
		n = size;
	memcpy(buf, path, (size_t)n);
	return shield_done(ret, n);
}

int fs_sys_readlink(const struct sys_call *c, long *ret)
{
	int at = c->nr == __NR_readlinkat;
	struct fsv_res r;
	fs_lock();
	int k = fs_lookup_at(at ? (int)c->a[0] : AT_FDCWD, (const char *)c->a[at], 0, &r);
	if (k == 0) {
		long v = fs_p_readlink(c, &r);
		fsv_res_put(FS(), &r);
		fs_unlock();
		return shield_done(ret, v);
	}
	fs_unlock();
	if (k == 2)
		return SHIELD_PASS;
	if (k < 0)
		return shield_done(ret, k);
	if (magic_fd_readlink(c, ret, r.host_path) == SHIELD_DONE)
		return SHIELD_DONE;
	return shield_done(ret, fs_host_at(c, at ? 0 : -1, at, r.host_path));
}

long fs_p_access(const struct sys_call *c, struct fsv_res *r)
{
	int mode = (int)(c->nr == __NR_access ? c->a[1] : c->a[2]);
	if (mode & ~7)
		return -EINVAL;
	return fsv_access(FS(), r->node, mode);
}

int fs_sys_access(const struct sys_call *c, long *ret)
{
	if (c->nr == __NR_access)
		return fs_path_op(c, ret, -1, 0, FSV_FOLLOW, fs_p_access);
	int flags = c->nr == __NR_faccessat2 ? (int)c->a[3] : 0;
	/* the kernel refuses unknown flags before any lookup */
	if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return shield_done(ret, -EINVAL);
	return fs_path_op(c, ret, 0, 1, (flags & AT_SYMLINK_NOFOLLOW) ? 0 : FSV_FOLLOW, fs_p_access);
}

/* ---- attributes ---- */

long fs_p_chmod(const struct sys_call *c, struct fsv_res *r)
{
	uint32_t mode = (uint32_t)(c->nr == __NR_chmod ? c->a[1] : c->a[2]);
	return fsv_chmod(FS(), r->node, mode);
}

long fs_p_chown(const struct sys_call *c, struct fsv_res *r)
{
	int at = c->nr == __NR_fchownat;
	return fsv_chown(FS(), r->node, (uint32_t)c->a[at + 1], (uint32_t)c->a[at + 2]);
}

long fs_p_truncate(const struct sys_call *c, struct fsv_res *r)
{
	if (c->a[1] < 0)
		return -EINVAL;
	if (S_ISDIR_(r->node->mode))
		return -EISDIR;
	long e = fsv_access(FS(), r->node, 2);
	return e ? e : fsv_truncate(FS(), r->node, (uint64_t)c->a[1]);
}

long fs_v_ftruncate(const struct sys_call *c, struct fsv_file *f)
{
	if (c->a[1] < 0)
		return -EINVAL;
	int acc = (int)(f->flags & O_ACCMODE);
	if ((f->flags & O_PATH) || acc == O_RDONLY)
		return (f->flags & O_PATH) ? -EBADF : -EINVAL;
	return fsv_truncate(FS(), f->node, (uint64_t)c->a[1]);
}

long fs_v_fchmod(const struct sys_call *c, struct fsv_file *f) { return fsv_chmod(FS(), f->node, (uint32_t)c->a[1]); }

long fs_v_fchown(const struct sys_call *c, struct fsv_file *f)
{
	return fsv_chown(FS(), f->node, (uint32_t)c->a[1], (uint32_t)c->a[2]);
}

/* One timespec of utimensat (UTIME_NOW, UTIME_OMIT or a time). */
static int times_ts(const long *ts, int64_t now_sec, uint32_t now_nsec, int64_t *sec, uint32_t *nsec, uint8_t *omit)
{
	*omit = 0;
	if (ts[1] == UTIME_OMIT_) {
		*omit = 1;
		return 0;
	}
	if (ts[1] == UTIME_NOW_) {
		*sec = now_sec;
		*nsec = now_nsec;
		return 0;
	}
	if (ts[1] < 0 || ts[1] > 999999999)
		return -EINVAL;
	*sec = ts[0];
	*nsec = (uint32_t)ts[1];
	return 0;
}

/* Times: the new access and modification times from the call (NULL times:
 * both now). */
static long set_times(struct fsv_node *n, const struct sys_call *c)
{
	int64_t now_sec = 0;
	uint32_t now_nsec = 0;
	if (FS()->now)
		FS()->now(FS()->hook_ctx, &now_sec, &now_nsec);
	struct fsv_times t = {now_sec, now_sec, now_nsec, now_nsec, 0, 0};
	switch (c->nr) {
	case __NR_utimensat: {
		const long *ts = (const long *)c->a[2];
		if (ts) {
			if (!rt_user_ok(ts, 32))
				return -EFAULT;
			int r = times_ts(ts, now_sec, now_nsec, &t.atime_sec, &t.atime_nsec, &t.atime_omit);
			if (r == 0)
				r = times_ts(ts + 2, now_sec, now_nsec, &t.mtime_sec, &t.mtime_nsec, &t.mtime_omit);
			if (r < 0)
				return r;
		}
		break;
	}
	case __NR_utimes:
	case __NR_futimesat: {
		const long *tv = (const long *)c->a[c->nr == __NR_futimesat ? 2 : 1];
		if (tv) {
			if (!rt_user_ok(tv, 32))
				return -EFAULT;
			if (tv[1] < 0 || tv[1] > 999999 || tv[3] < 0 || tv[3] > 999999)
				return -EINVAL;
			t.atime_sec = tv[0];
			t.atime_nsec = (uint32_t)(tv[1] * 1000);
			t.mtime_sec = tv[2];
			t.mtime_nsec = (uint32_t)(tv[3] * 1000);
		}
		break;
	}
	case __NR_utime: {
		const long *ub = (const long *)c->a[1];
		if (ub) {
			if (!rt_user_ok(ub, 16))
				return -EFAULT;
			t.atime_sec = ub[0];
			t.mtime_sec = ub[1];
			t.atime_nsec = t.mtime_nsec = 0;
		}
		break;
	}
	}
	return fsv_utimes(FS(), n, &t);
}

long fs_p_utimes(const struct sys_call *c, struct fsv_res *r) { return set_times(r->node, c); }

int fs_sys_utimensat(const struct sys_call *c, long *ret)
{
	if (!c->a[1]) { /* futimens(fd) */
		fs_lock();
		struct fsv_file *f = fsv_fd_get(fs_g.fdt, (int)c->a[0]);
		long v = f ? set_times(f->node, c) : 0;
		fs_unlock();
		if (!f)
			return SHIELD_PASS;
		return shield_done(ret, v);
	}
	return fs_path_op(c, ret, 0, 1, (c->a[3] & AT_SYMLINK_NOFOLLOW) ? 0 : FSV_FOLLOW, fs_p_utimes);
}

long fs_p_statfs(const struct sys_call *c, struct fsv_res *r)
{
	(void)r;
	if (!rt_user_ok((void *)c->a[1], 120))
		return -EFAULT;
	fs_fill_statfs((void *)c->a[1]);
	return 0;
}

long fs_v_fstatfs(const struct sys_call *c, struct fsv_file *f)
{
	(void)f;
	return fs_p_statfs(c, NULL);
}

/* ---- xattrs ----
 * Read from the image until the node has its own list (fsv_xattr.c); the
 * first change copies the image's attributes in. Namespaces as Linux:
 * user.* on regular files and directories with write permission, trusted.*
 * and security.* for the (virtual) root; system.* (ACLs) is not stored. */

static long xattr_get(struct fsv_node *n, const char *name, void *val, size_t cap)
{
	if (fs_path_len(name) <= 0)
		return -ERANGE;
	if (cap && !rt_user_ok(val, cap))
		return -EFAULT;
	if (n->xattrs_own)
		return fsv_xattr_get(n, name, val, cap);
	if (!n->img || !fs_g.img)
		return -ENODATA;
	return fs_image_getxattr(fs_g.img, n->img_ino, name, val, cap);
}

static long xattr_list(struct fsv_node *n, char *buf, size_t cap)
{
	if (cap && !rt_user_ok(buf, cap))
		return -EFAULT;
	if (n->xattrs_own)
		return fsv_xattr_list(n, buf, cap);
	if (!n->img || !fs_g.img)
		return 0;
	return fs_image_listxattr(fs_g.img, n->img_ino, buf, cap);
}

static int has_prefix(const char *s, const char *p) { return !rt_strncmp(s, p, strlen(p)); }

/* The image's attributes into the node's own list, once. */
static long xattr_own(struct fsv_node *n)
{
	if (n->xattrs_own)
		return 0;
	if (n->img && fs_g.img) {
		long len = fs_image_listxattr(fs_g.img, n->img_ino, NULL, 0);
		char *names = len > 0 ? rt_malloc((size_t)len) : NULL;
		uint8_t *val = len > 0 ? rt_malloc(FSV_XATTR_SIZE_MAX) : NULL;
		if (len > 0 && (!names || !val)) {
			rt_free(names);
			rt_free(val);
			return -ENOMEM;
		}
		long e = len > 0 ? fs_image_listxattr(fs_g.img, n->img_ino, names, (size_t)len) : 0;
		for (long o = 0; e > 0 && o < e; o += (long)strlen(names + o) + 1) {
			long vl = fs_image_getxattr(fs_g.img, n->img_ino, names + o, val, FSV_XATTR_SIZE_MAX);
			if (vl < 0 || (vl = fsv_xattr_set(n, names + o, val, (size_t)vl, 0)) < 0) {
				e = vl;
				break;
			}
		}
		rt_free(names);
		rt_free(val);
		if (e < 0)
			return e;
	}
	n->xattrs_own = 1;
	return 0;
}

static long xattr_change(struct fsv_node *n, const char *name, const void *val, size_t len, long flags, int remove)
{
	long nl = fs_path_len(name);
	if (nl <= 0 || nl > FSV_XATTR_NAME_MAX)
		return nl < 0 && nl != -ENAMETOOLONG ? nl : -ERANGE;
	if (!remove && (flags & ~(long)(FSV_XATTR_CREATE | FSV_XATTR_REPLACE)))
		return -EINVAL;
	if (!remove && len > FSV_XATTR_SIZE_MAX)
		return -E2BIG;
	if (!remove && len && !rt_user_ok(val, len))
		return -EFAULT;
	if (n->special)
		return -EOPNOTSUPP;
	if (has_prefix(name, "user.")) {
		if (!S_ISREG_(n->mode) && !S_ISDIR_(n->mode))
			return -EPERM;
		long a = fsv_access(FS(), n, 2);
		if (a < 0)
			return a;
	} else if (has_prefix(name, "trusted.") || has_prefix(name, "security.")) {
		if (FS()->uid != 0)
			return -EPERM;
	} else {
		return -EOPNOTSUPP; /* system.* (ACLs) and unknown namespaces */
	}
	long e = xattr_own(n);
	if (e < 0)
		return e;
	return remove ? fsv_xattr_remove(n, name) : fsv_xattr_set(n, name, val, len, (int)flags);
}

long fs_p_xattr(const struct sys_call *c, struct fsv_res *r)
{
	switch (c->nr) {
	case __NR_getxattr:
	case __NR_lgetxattr:
		return xattr_get(r->node, (const char *)c->a[1], (void *)c->a[2], (size_t)c->a[3]);
	case __NR_listxattr:
	case __NR_llistxattr:
		return xattr_list(r->node, (char *)c->a[1], (size_t)c->a[2]);
	case __NR_setxattr:
	case __NR_lsetxattr:
		return xattr_change(r->node, (const char *)c->a[1], (const void *)c->a[2], (size_t)c->a[3], c->a[4], 0);
	default: /* removexattr, lremovexattr */
		return xattr_change(r->node, (const char *)c->a[1], NULL, 0, 0, 1);
	}
}

long fs_v_xattr(const struct sys_call *c, struct fsv_file *f)
{
	switch (c->nr) {
	case __NR_fgetxattr:
		return xattr_get(f->node, (const char *)c->a[1], (void *)c->a[2], (size_t)c->a[3]);
	case __NR_flistxattr:
		return xattr_list(f->node, (char *)c->a[1], (size_t)c->a[2]);
	case __NR_fsetxattr:
		return xattr_change(f->node, (const char *)c->a[1], (const void *)c->a[2], (size_t)c->a[3], c->a[4], 0);
	default: /* fremovexattr */
		return xattr_change(f->node, (const char *)c->a[1], NULL, 0, 0, 1);
	}
}

long fs_p_refuse(const struct sys_call *c, struct fsv_res *r)
{
	(void)r;
	switch (c->nr) {
	case __NR_inotify_add_watch:
	case __NR_name_to_handle_at:
		return -EOPNOTSUPP;
	default: /* chroot, acct, ... on the protected FS */
		return -EPERM;
	}
}
