/* FS shield: system call dispatch (fs_shield, shield.h).
 *
 * Path calls are resolved in the virtual tree (fsv_resolve): a virtual
 * result is served here, a path under a passthrough mount is re-issued to
 * the host with the resolved absolute path, a path relative to a host dirfd
 * passes unchanged. Fd calls on virtual fds are served here; host fds pass.
 * Everything runs under fs_lock, which is dropped before any host call that
 * may block. See docs/fs-shield.md. */
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

static struct fsv *FS(void) { return &fs_g.fs; }

/* A user path: -EFAULT, -ENAMETOOLONG, or its length. */
static long path_len(const char *p)
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
static int lookup_at(int dirfd, const char *path, int flags, struct fsv_res *r)
{
	long pl = path_len(path);
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

static long host_at(const struct sys_call *c, int dirfd_idx, int path_idx, const char *hp)
{
	long a[6];
	for (int i = 0; i < 6; i++)
		a[i] = c->a[i];
	if (dirfd_idx >= 0)
		a[dirfd_idx] = AT_FDCWD;
	a[path_idx] = (long)hp;
	return host_syscall(c->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

typedef long (*path_fn)(const struct sys_call *c, struct fsv_res *r);
typedef long (*fd_fn)(const struct sys_call *c, struct fsv_file *f);

/* Generic path call: resolve, then serve (virt, lock held) or hand to the host. */
static int path_op(const struct sys_call *c, long *ret, int dirfd_idx, int path_idx, int rflags, path_fn virt)
{
	struct fsv_res r;
	int dirfd = dirfd_idx >= 0 ? (int)c->a[dirfd_idx] : AT_FDCWD;
	fs_lock();
	int k = lookup_at(dirfd, (const char *)c->a[path_idx], rflags, &r);
	if (k == 2) {
		fs_unlock();
		return SHIELD_PASS;
	}
	if (k == 1) {
		fs_unlock();
		DONE(host_at(c, dirfd_idx, path_idx, r.host_path));
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

static int fd_op(const struct sys_call *c, long *ret, int fd, fd_fn virt)
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

/* ---- open / close ---- */

/* The fd that a host path re-opens (/dev/stdout, /dev/fd/N, /proc/self/fd/N),
 * or -1. */
static int std_stream_of(const char *p)
{
	if (!rt_strcmp(p, "/dev/stdin"))
		return 0;
	if (!rt_strcmp(p, "/dev/stdout"))
		return 1;
	if (!rt_strcmp(p, "/dev/stderr"))
		return 2;
	static const char *const pre[] = {"/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/"};
	for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
		size_t l = strlen(pre[i]);
		if (rt_strncmp(p, pre[i], l))
			continue;
		long v = 0;
		const char *q = p + l;
		if (!*q)
			return -1;
		for (; *q; q++) {
			if (*q < '0' || *q > '9' || v > 1 << 20)
				return -1;
			v = v * 10 + (*q - '0');
		}
		return (int)v;
	}
	return -1;
}

static long do_open(int dirfd, const char *path, long flags, uint32_t mode, long *hostfd, int *pass)
{
	struct fsv_res r;
	*pass = 0;
	*hostfd = -1;
	if (flags & 020000000 /* __O_TMPFILE */)
		return -EOPNOTSUPP;
	int creat = (flags & O_CREAT) != 0;
	int follow = !(flags & O_NOFOLLOW) && !(creat && (flags & O_EXCL));
	int k = lookup_at(dirfd, path, (follow ? FSV_FOLLOW : 0) | (creat ? FSV_PARENT : 0), &r);
	if (k == 2) {
		*pass = 1;
		return 0;
	}
	if (k == 1) {
		fs_unlock();
		int src = std_stream_of(r.host_path);
		long fd;
		if (src >= 0 && console_fd_is_console(src)) {
			/* /dev/stdout and friends on a shielded console: a duplicate, so
			 * the records stay one sequential stream (a re-opened file
			 * would start writing at offset 0) */
			fd = host_syscall(__NR_fcntl, src, (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0, 0, 0, 0);
			if (fd >= 0)
				console_fd_dup(src, (int)fd);
		} else {
			fd = host_syscall(__NR_openat, AT_FDCWD, (long)r.host_path, flags, mode, 0, 0);
			if (fd >= 0)
				console_fd_close((int)fd);
		}
		fs_lock();
		if (fd >= 0)
			fs_fd_forget((int)fd);
		*hostfd = fd;
		return fd;
	}
	if (k < 0)
		return k;
	struct fsv_node *n = r.node, *created = NULL;
	long err = 0;
	int acc = (int)(flags & O_ACCMODE);
	if (!n) {
		if (r.trailing_slash)
			err = -EISDIR;
		else
			err = fsv_create(FS(), r.dir, r.name, r.namelen, FSV_IFREG | (mode & 07777 & ~fs_g.umask), NULL,
					 &created);
		n = created;
	} else if (flags & O_PATH) {
		if (S_ISLNK_(n->mode) && !(flags & O_NOFOLLOW))
			err = -ELOOP;
		else if ((flags & O_DIRECTORY) && !S_ISDIR_(n->mode))
			err = -ENOTDIR;
	} else {
		if (creat && (flags & O_EXCL))
			err = -EEXIST;
		else if (S_ISLNK_(n->mode))
			err = -ELOOP;
		else if ((flags & O_DIRECTORY) && !S_ISDIR_(n->mode))
			err = -ENOTDIR;
		else if (S_ISDIR_(n->mode) && (acc != O_RDONLY || creat || (flags & O_TRUNC)))
			err = -EISDIR;
		else if (!S_ISDIR_(n->mode) && !S_ISREG_(n->mode))
			err = -ENXIO; /* device or FIFO node inside the image */
		else {
			int want = acc == O_RDONLY ? 4 : acc == O_WRONLY ? 2 : 6;
			if (flags & O_TRUNC)
				want |= 2;
			err = fsv_access(FS(), n, want);
			if (!err && (flags & O_TRUNC) && acc != O_RDONLY && S_ISREG_(n->mode))
				err = fsv_truncate(FS(), n, 0);
		}
	}
	long fd = err;
	if (!err) {
		uint32_t keep = (uint32_t)(flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC));
		if (flags & O_PATH)
			keep &= O_PATH | O_DIRECTORY | O_NOFOLLOW;
		struct fsv_file *f = fsv_file_new(n, keep | O_LARGEFILE);
		if (!f) {
			fd = -ENOMEM;
		} else {
			fd = fs_fd_new(f, (flags & O_CLOEXEC) != 0);
			fsv_file_unref(FS(), f);
			if (fd >= 0)
				console_fd_close((int)fd);
		}
	}
	if (created)
		fsv_unref(FS(), created);
	fsv_res_put(FS(), &r);
	return fd;
}

static int sys_open(const struct sys_call *c, long *ret, int dirfd, const char *path, long flags, uint32_t mode)
{
	long hostfd;
	int pass;
	fs_lock();
	long v = do_open(dirfd, path, flags, mode, &hostfd, &pass);
	fs_unlock();
	(void)c;
	if (pass)
		return SHIELD_PASS;
	DONE(v);
}

static int sys_openat2(const struct sys_call *c, long *ret)
{
	struct {
		uint64_t flags, mode, resolve;
	} how;
	if (!fs_user_ok((void *)c->a[2], 24))
		DONE(-EFAULT);
	if ((size_t)c->a[3] < sizeof how)
		DONE(-EINVAL);
	memcpy(&how, (void *)c->a[2], sizeof how);
	if (how.flags >> 32 || how.mode & ~07777ull)
		DONE(-EINVAL);
	if (!how.resolve)
		return sys_open(c, ret, (int)c->a[0], (const char *)c->a[1], (long)how.flags, (uint32_t)how.mode);
	fs_lock();
	struct fsv_res r;
	int k = lookup_at((int)c->a[0], (const char *)c->a[1], 0, &r);
	if (k == 0)
		fsv_res_put(FS(), &r);
	fs_unlock();
	if (k == 1 || k == 2)
		return SHIELD_PASS; /* on the host: the kernel applies the RESOLVE_* flags */
	/* RESOLVE_* on the protected FS: not implemented; callers fall back to openat */
	DONE(-ENOSYS);
}

static int sys_close(const struct sys_call *c, long *ret)
{
	int fd = (int)c->a[0];
	fs_lock();
	int v = fsv_fd_remove(FS(), &fs_g.fds, fd);
	fs_unlock();
	if (!v)
		return SHIELD_PASS;
	host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
	DONE(0);
}

static int sys_close_range(const struct sys_call *c, long *ret)
{
	(void)ret;
	unsigned first = (unsigned)c->a[0], last = (unsigned)c->a[1];
	if (!(c->a[2] & 4 /* CLOSE_RANGE_CLOEXEC */) && first <= last) {
		fs_lock();
		for (size_t fd = first; fd < fs_g.fds.cap && fd <= last; fd++)
			fsv_fd_remove(FS(), &fs_g.fds, (int)fd);
		fs_unlock();
	}
	return SHIELD_PASS; /* the host closes the placeholders; the console shield sees it too */
}

/* ---- read / write ---- */

static long rw_iov(struct fsv_file *f, const struct kiovec *iov, long cnt, int64_t pos, int wr)
{
	if (cnt < 0 || cnt > IOV_MAX_)
		return -EINVAL;
	if (!fs_user_ok(iov, (size_t)cnt * sizeof *iov))
		return -EFAULT;
	long total = 0;
	for (long i = 0; i < cnt; i++) {
		if (!iov[i].len)
			continue;
		if (!fs_user_ok(iov[i].base, iov[i].len))
			return total ? total : -EFAULT;
		int64_t p = pos < 0 ? -1 : pos + total;
		long r = wr ? fsv_file_write(FS(), f, iov[i].base, iov[i].len, p)
			    : fsv_file_read(FS(), f, iov[i].base, iov[i].len, p);
		if (r < 0)
			return total ? total : r;
		total += r;
		if ((size_t)r < iov[i].len)
			break;
	}
	return total;
}

static long v_read(const struct sys_call *c, struct fsv_file *f)
{
	void *buf = (void *)c->a[1];
	size_t n = (size_t)c->a[2];
	if (n && !fs_user_ok(buf, n))
		return -EFAULT;
	switch (c->nr) {
	case __NR_read:
		return fsv_file_read(FS(), f, buf, n, -1);
	case __NR_pread64:
		return c->a[3] < 0 ? -EINVAL : fsv_file_read(FS(), f, buf, n, c->a[3]);
	case __NR_write:
		return fsv_file_write(FS(), f, buf, n, -1);
	case __NR_pwrite64:
		return c->a[3] < 0 ? -EINVAL : fsv_file_write(FS(), f, buf, n, c->a[3]);
	case __NR_readv:
	case __NR_writev:
		return rw_iov(f, (const struct kiovec *)c->a[1], c->a[2], -1, c->nr == __NR_writev);
	case __NR_preadv:
	case __NR_pwritev:
		if (c->a[3] < 0)
			return -EINVAL;
		return rw_iov(f, (const struct kiovec *)c->a[1], c->a[2], c->a[3], c->nr == __NR_pwritev);
	case __NR_preadv2:
	case __NR_pwritev2:
		if (c->a[3] < -1)
			return -EINVAL;
		return rw_iov(f, (const struct kiovec *)c->a[1], c->a[2], c->a[3], c->nr == __NR_pwritev2);
	}
	return -ENOSYS;
}

static long v_lseek(const struct sys_call *c, struct fsv_file *f)
{
	return (long)fsv_file_seek(FS(), f, c->a[1], (int)c->a[2]);
}

static long v_getdents(const struct sys_call *c, struct fsv_file *f)
{
	if (c->nr != __NR_getdents64)
		return -ENOSYS; /* legacy getdents on the protected FS: use getdents64 */
	if (!fs_user_ok((void *)c->a[1], (size_t)c->a[2]))
		return -EFAULT;
	return fsv_file_getdents(FS(), f, (void *)c->a[1], (size_t)(unsigned)c->a[2]);
}

/* ---- stat family ---- */

static long stat_node(struct fsv_node *n, void *buf, int statx, unsigned mask)
{
	struct fsv_stat st;
	fsv_getattr(FS(), n, &st);
	if (!fs_user_ok(buf, statx ? 256 : 144))
		return -EFAULT;
	if (statx)
		return fs_fill_statx(buf, &st, mask);
	fs_fill_stat(buf, &st);
	return 0;
}

static long v_fstat(const struct sys_call *c, struct fsv_file *f) { return stat_node(f->node, (void *)c->a[1], 0, 0); }

static long p_stat(const struct sys_call *c, struct fsv_res *r)
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
		struct fsv_file *f = fsv_fd_get(&fs_g.fds, dirfd);
		n = f ? f->node : NULL;
	}
	if (!n) {
		fs_unlock();
		return SHIELD_PASS;
	}
	long v = stat_node(n, buf, statx, statx ? (unsigned)c->a[3] : 0);
	fs_unlock();
	DONE(v);
}

static int sys_stat(const struct sys_call *c, long *ret)
{
	switch (c->nr) {
	case __NR_stat:
		return path_op(c, ret, -1, 0, FSV_FOLLOW, p_stat);
	case __NR_lstat:
		return path_op(c, ret, -1, 0, 0, p_stat);
	case __NR_newfstatat: {
		const char *p = (const char *)c->a[1];
		if ((c->a[3] & AT_EMPTY_PATH) && fs_user_ok(p, 1) && !p[0])
			return empty_path_fd(c, ret, (int)c->a[0], (void *)c->a[2], 0);
		return path_op(c, ret, 0, 1, (c->a[3] & AT_SYMLINK_NOFOLLOW) ? 0 : FSV_FOLLOW, p_stat);
	}
	default: { /* statx */
		const char *p = (const char *)c->a[1];
		if ((c->a[2] & AT_EMPTY_PATH) && fs_user_ok(p, 1) && !p[0])
			return empty_path_fd(c, ret, (int)c->a[0], (void *)c->a[4], 1);
		return path_op(c, ret, 0, 1, (c->a[2] & AT_SYMLINK_NOFOLLOW) ? 0 : FSV_FOLLOW, p_stat);
	}
	}
}

/* ---- readlink / access ---- */

static long p_readlink(const struct sys_call *c, struct fsv_res *r)
{
	int at = c->nr == __NR_readlinkat;
	char *buf = (char *)c->a[at + 1];
	long size = c->a[at + 2];
	if (size <= 0)
		return -EINVAL;
	if (!fs_user_ok(buf, (size_t)size))
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
	struct fsv_file *f = fsv_fd_get(&fs_g.fds, (int)fd);
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
		DONE(-EINVAL);
	if (!fs_user_ok(buf, (size_t)size))
		DONE(-EFAULT);
	if (n > size)
		n = size;
	memcpy(buf, path, (size_t)n);
	DONE(n);
}

static int sys_readlink(const struct sys_call *c, long *ret)
{
	int at = c->nr == __NR_readlinkat;
	struct fsv_res r;
	fs_lock();
	int k = lookup_at(at ? (int)c->a[0] : AT_FDCWD, (const char *)c->a[at], 0, &r);
	if (k == 0) {
		long v = p_readlink(c, &r);
		fsv_res_put(FS(), &r);
		fs_unlock();
		DONE(v);
	}
	fs_unlock();
	if (k == 2)
		return SHIELD_PASS;
	if (k < 0)
		DONE(k);
	if (magic_fd_readlink(c, ret, r.host_path) == SHIELD_DONE)
		return SHIELD_DONE;
	DONE(host_at(c, at ? 0 : -1, at, r.host_path));
}

static long p_access(const struct sys_call *c, struct fsv_res *r)
{
	int mode = (int)(c->nr == __NR_access ? c->a[1] : c->a[2]);
	if (mode & ~7)
		return -EINVAL;
	return fsv_access(FS(), r->node, mode);
}

static int sys_access(const struct sys_call *c, long *ret)
{
	if (c->nr == __NR_access)
		return path_op(c, ret, -1, 0, FSV_FOLLOW, p_access);
	int flags = c->nr == __NR_faccessat2 ? (int)c->a[3] : 0;
	return path_op(c, ret, 0, 1, (flags & AT_SYMLINK_NOFOLLOW) ? 0 : FSV_FOLLOW, p_access);
}

/* ---- working directory ---- */

static void set_cwd_node(struct fsv_node *n)
{
	fsv_ref(n);
	if (fs_g.cwd)
		fsv_unref(FS(), fs_g.cwd);
	fs_g.cwd = n;
}

static int sys_chdir(const struct sys_call *c, long *ret)
{
	struct fsv_res r;
	fs_lock();
	int k = lookup_at(AT_FDCWD, (const char *)c->a[0], FSV_FOLLOW, &r);
	if (k == 0) {
		long v = 0;
		if (!S_ISDIR_(r.node->mode))
			v = -ENOTDIR;
		else if ((v = fsv_access(FS(), r.node, 1)) == 0)
			set_cwd_node(r.node);
		fsv_res_put(FS(), &r);
		fs_unlock();
		DONE(v);
	}
	if (k < 0 || k == 2) {
		fs_unlock();
		DONE(k < 0 ? k : -ENOENT);
	}
	fs_unlock();
	long v = host_syscall(__NR_chdir, (long)r.host_path, 0, 0, 0, 0, 0);
	if (v == 0) {
		fs_lock();
		if (fs_g.cwd)
			fsv_unref(FS(), fs_g.cwd);
		fs_g.cwd = NULL;
		memcpy(fs_g.cwd_host, r.host_path, strlen(r.host_path) + 1);
		fs_unlock();
	}
	DONE(v);
}

static int sys_fchdir(const struct sys_call *c, long *ret)
{
	int fd = (int)c->a[0];
	fs_lock();
	struct fsv_file *f = fsv_fd_get(&fs_g.fds, fd);
	if (f) {
		long v = 0;
		if (!S_ISDIR_(f->node->mode))
			v = -ENOTDIR;
		else if ((v = fsv_access(FS(), f->node, 1)) == 0)
			set_cwd_node(f->node);
		fs_unlock();
		DONE(v);
	}
	fs_unlock();
	long v = host_syscall(__NR_fchdir, fd, 0, 0, 0, 0, 0);
	if (v == 0) {
		char tmp[FSV_PATH_MAX];
		long n = host_syscall(__NR_getcwd, (long)tmp, sizeof tmp, 0, 0, 0, 0);
		if (n <= 0 || n > FSV_PATH_MAX || tmp[0] != '/')
			DONE(-EIO); /* Iago: the host's answer is unusable */
		tmp[n - 1] = 0;
		fs_lock();
		if (fs_g.cwd)
			fsv_unref(FS(), fs_g.cwd);
		fs_g.cwd = NULL;
		memcpy(fs_g.cwd_host, tmp, (size_t)n);
		fs_unlock();
	}
	DONE(v);
}

static int sys_getcwd(const struct sys_call *c, long *ret)
{
	char *buf = (char *)c->a[0];
	size_t size = (size_t)c->a[1];
	fs_lock();
	if (!fs_g.cwd) {
		fs_unlock();
		return SHIELD_PASS;
	}
	char path[FSV_PATH_MAX];
	long n = fsv_node_path(FS(), fs_g.cwd, path, sizeof path);
	fs_unlock();
	if (n < 0)
		DONE(n == -ERANGE ? -ENAMETOOLONG : -ENOENT);
	if ((size_t)n + 1 > size)
		DONE(-ERANGE);
	if (!fs_user_ok(buf, (size_t)n + 1))
		DONE(-EFAULT);
	memcpy(buf, path, (size_t)n + 1);
	DONE(n + 1);
}

/* ---- namespace changes ---- */

static long p_mkdir(const struct sys_call *c, struct fsv_res *r)
{
	uint32_t mode = (uint32_t)(c->nr == __NR_mkdir ? c->a[1] : c->a[2]);
	if (r->node)
		return -EEXIST;
	return fsv_create(FS(), r->dir, r->name, r->namelen, FSV_IFDIR | (mode & 07777 & ~fs_g.umask), NULL, NULL);
}

static long p_mknod(const struct sys_call *c, struct fsv_res *r)
{
	uint32_t mode = (uint32_t)(c->nr == __NR_mknod ? c->a[1] : c->a[2]);
	if (r->node)
		return -EEXIST;
	if ((mode & FSV_IFMT) && (mode & FSV_IFMT) != FSV_IFREG)
		return -EPERM; /* devices, FIFOs and sockets cannot live in the ephemeral layer */
	return fsv_create(FS(), r->dir, r->name, r->namelen, FSV_IFREG | (mode & 07777 & ~fs_g.umask), NULL, NULL);
}

static long p_unlink(const struct sys_call *c, struct fsv_res *r)
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

static long p_symlink(const struct sys_call *c, struct fsv_res *r)
{
	const char *target = (const char *)c->a[0];
	long tl = path_len(target);
	if (tl < 0)
		return tl;
	if (tl == 0)
		return -ENOENT;
	if (r->node)
		return -EEXIST;
	return fsv_create(FS(), r->dir, r->name, r->namelen, FSV_IFLNK | 0777, target, NULL);
}

static int sys_symlink(const struct sys_call *c, long *ret)
{
	if (c->nr == __NR_symlink)
		return path_op(c, ret, -1, 1, FSV_PARENT, p_symlink);
	return path_op(c, ret, 1, 2, FSV_PARENT, p_symlink);
}

/* Two-path calls (rename, link): resolve both; mixed host/virtual is EXDEV. */
static int sys_two(const struct sys_call *c, long *ret)
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
		if (c->nr == __NR_linkat && (c->a[4] & AT_EMPTY_PATH))
			DONE(-ENOENT); /* linking an fd by AT_EMPTY_PATH: not supported on the protected FS */
	}
	struct fsv_res *ro = rt_malloc(2 * sizeof *ro), *rn;
	if (!ro)
		DONE(-ENOMEM);
	rn = ro + 1;
	fs_lock();
	int ko = lookup_at(od, (const char *)c->a[oi], oflags, ro);
	int kn = ko < 0 ? 0 : lookup_at(nd, (const char *)c->a[ni], nflags, rn);
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
			v = host_syscall(c->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
			rt_free(ro);
			DONE(v);
		}
	}
	fs_unlock();
	rt_free(ro);
	if (res == SHIELD_PASS)
		return SHIELD_PASS;
	DONE(v);
}

/* ---- attributes ---- */

static long p_chmod(const struct sys_call *c, struct fsv_res *r)
{
	uint32_t mode = (uint32_t)(c->nr == __NR_chmod ? c->a[1] : c->a[2]);
	return fsv_chmod(FS(), r->node, mode);
}

static long p_chown(const struct sys_call *c, struct fsv_res *r)
{
	int at = c->nr == __NR_fchownat;
	return fsv_chown(FS(), r->node, (uint32_t)c->a[at + 1], (uint32_t)c->a[at + 2]);
}

static long p_truncate(const struct sys_call *c, struct fsv_res *r)
{
	if (c->a[1] < 0)
		return -EINVAL;
	if (S_ISDIR_(r->node->mode))
		return -EISDIR;
	long e = fsv_access(FS(), r->node, 2);
	return e ? e : fsv_truncate(FS(), r->node, (uint64_t)c->a[1]);
}

static long v_ftruncate(const struct sys_call *c, struct fsv_file *f)
{
	if (c->a[1] < 0)
		return -EINVAL;
	int acc = (int)(f->flags & O_ACCMODE);
	if ((f->flags & O_PATH) || acc == O_RDONLY)
		return (f->flags & O_PATH) ? -EBADF : -EINVAL;
	return fsv_truncate(FS(), f->node, (uint64_t)c->a[1]);
}

static long v_fchmod(const struct sys_call *c, struct fsv_file *f) { return fsv_chmod(FS(), f->node, (uint32_t)c->a[1]); }

static long v_fchown(const struct sys_call *c, struct fsv_file *f)
{
	return fsv_chown(FS(), f->node, (uint32_t)c->a[1], (uint32_t)c->a[2]);
}

/* Times: (sec, nsec) of the new mtime from the call, or omit. */
static long set_times(struct fsv_node *n, const struct sys_call *c)
{
	int64_t sec;
	uint32_t nsec;
	sec = 0;
	nsec = 0;
	if (FS()->now)
		FS()->now(FS()->hook_ctx, &sec, &nsec);
	switch (c->nr) {
	case __NR_utimensat: {
		const long *ts = (const long *)c->a[2];
		if (ts) {
			if (!fs_user_ok(ts, 32))
				return -EFAULT;
			if (ts[3] == UTIME_OMIT_)
				return 0;
			if (ts[3] != UTIME_NOW_) {
				if (ts[3] < 0 || ts[3] > 999999999)
					return -EINVAL;
				sec = ts[2];
				nsec = (uint32_t)ts[3];
			}
		}
		break;
	}
	case __NR_utimes:
	case __NR_futimesat: {
		const long *tv = (const long *)c->a[c->nr == __NR_futimesat ? 2 : 1];
		if (tv) {
			if (!fs_user_ok(tv, 32))
				return -EFAULT;
			sec = tv[2];
			nsec = (uint32_t)(tv[3] * 1000);
		}
		break;
	}
	case __NR_utime: {
		const long *ub = (const long *)c->a[1];
		if (ub) {
			if (!fs_user_ok(ub, 16))
				return -EFAULT;
			sec = ub[1];
			nsec = 0;
		}
		break;
	}
	}
	return fsv_utimes(FS(), n, sec, nsec);
}

static long p_utimes(const struct sys_call *c, struct fsv_res *r) { return set_times(r->node, c); }

static int sys_utimensat(const struct sys_call *c, long *ret)
{
	if (!c->a[1]) { /* futimens(fd) */
		fs_lock();
		struct fsv_file *f = fsv_fd_get(&fs_g.fds, (int)c->a[0]);
		long v = f ? set_times(f->node, c) : 0;
		fs_unlock();
		if (!f)
			return SHIELD_PASS;
		DONE(v);
	}
	return path_op(c, ret, 0, 1, (c->a[3] & AT_SYMLINK_NOFOLLOW) ? 0 : FSV_FOLLOW, p_utimes);
}

static long p_statfs(const struct sys_call *c, struct fsv_res *r)
{
	(void)r;
	if (!fs_user_ok((void *)c->a[1], 120))
		return -EFAULT;
	fs_fill_statfs((void *)c->a[1]);
	return 0;
}

static long v_fstatfs(const struct sys_call *c, struct fsv_file *f)
{
	(void)f;
	return p_statfs(c, NULL);
}

/* ---- xattrs ---- */

static long xattr_get(struct fsv_node *n, const char *name, void *val, size_t cap)
{
	if (path_len(name) <= 0)
		return -ERANGE;
	if (cap && !fs_user_ok(val, cap))
		return -EFAULT;
	if (!n->img || !fs_g.img)
		return -ENODATA;
	return fs_image_getxattr(fs_g.img, n->img_ino, name, val, cap);
}

static long xattr_list(struct fsv_node *n, char *buf, size_t cap)
{
	if (cap && !fs_user_ok(buf, cap))
		return -EFAULT;
	if (!n->img || !fs_g.img)
		return 0;
	return fs_image_listxattr(fs_g.img, n->img_ino, buf, cap);
}

static long p_xattr(const struct sys_call *c, struct fsv_res *r)
{
	switch (c->nr) {
	case __NR_getxattr:
	case __NR_lgetxattr:
		return xattr_get(r->node, (const char *)c->a[1], (void *)c->a[2], (size_t)c->a[3]);
	case __NR_listxattr:
	case __NR_llistxattr:
		return xattr_list(r->node, (char *)c->a[1], (size_t)c->a[2]);
	default: /* set/remove */
		return -EOPNOTSUPP;
	}
}

static long v_xattr(const struct sys_call *c, struct fsv_file *f)
{
	switch (c->nr) {
	case __NR_fgetxattr:
		return xattr_get(f->node, (const char *)c->a[1], (void *)c->a[2], (size_t)c->a[3]);
	case __NR_flistxattr:
		return xattr_list(f->node, (char *)c->a[1], (size_t)c->a[2]);
	default:
		return -EOPNOTSUPP;
	}
}

static long p_refuse(const struct sys_call *c, struct fsv_res *r)
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

/* ---- descriptors ---- */

static int sys_dup(const struct sys_call *c, long *ret)
{
	int old = (int)c->a[0];
	fs_lock();
	struct fsv_file *f = fsv_fd_get(&fs_g.fds, old);
	int newfd = c->nr == __NR_dup ? -1 : (int)c->a[1];
	int new_virtual = newfd >= 0 && fsv_fd_get(&fs_g.fds, newfd) != NULL;
	if (!f && !new_virtual) {
		fs_unlock();
		return SHIELD_PASS; /* host fds only: the console shield tracks duplicates */
	}
	if (f && old == newfd) {
		fs_unlock();
		DONE(c->nr == __NR_dup3 ? -EINVAL : newfd);
	}
	if (f)
		fsv_file_ref(f);
	fs_unlock();
	long r = host_syscall(c->nr, c->a[0], c->a[1], c->a[2], 0, 0, 0);
	fs_lock();
	if (r >= 0 && ((newfd >= 0 && r != newfd) || r >= (1 << 20))) {
		/* Iago: the host did not do what was asked */
		fs_unlock();
		if (f)
			fsv_file_unref(FS(), f);
		DONE(-EIO);
	}
	if (r >= 0) {
		if (f)
			r = fsv_fd_install(FS(), &fs_g.fds, (int)r, f) < 0 ? -ENOMEM : r;
		else
			fsv_fd_remove(FS(), &fs_g.fds, (int)r);
	}
	if (f)
		fsv_file_unref(FS(), f);
	fs_unlock();
	if (r >= 0) {
		if (f)
			console_fd_close((int)r);
		else
			console_fd_dup(old, (int)r);
	}
	DONE(r);
}

static long v_fcntl(const struct sys_call *c, struct fsv_file *f)
{
	const uint32_t setfl = O_APPEND | O_NONBLOCK | O_NOATIME | O_DIRECT | 020000 /* O_ASYNC */;
	switch (c->a[1]) {
	case F_GETFL:
		return (long)(f->flags & ~(uint32_t)(O_DIRECTORY | O_NOFOLLOW));
	case F_SETFL:
		f->flags = (f->flags & ~setfl) | ((uint32_t)c->a[2] & setfl);
		return 0;
	default:
		return 1L << 40; /* marker: host */
	}
}

static int sys_fcntl(const struct sys_call *c, long *ret)
{
	int fd = (int)c->a[0];
	fs_lock();
	struct fsv_file *f = fsv_fd_get(&fs_g.fds, fd);
	if (!f) {
		fs_unlock();
		return SHIELD_PASS;
	}
	long v = v_fcntl(c, f);
	if (v != 1L << 40) {
		fs_unlock();
		DONE(v);
	}
	int dup = c->a[1] == F_DUPFD || c->a[1] == F_DUPFD_CLOEXEC;
	if (dup)
		fsv_file_ref(f);
	fs_unlock();
	/* F_GETFD/F_SETFD, locks, F_DUPFD*: on the placeholder */
	long r = host_syscall(__NR_fcntl, fd, c->a[1], c->a[2], 0, 0, 0);
	if (dup) {
		fs_lock();
		if (r >= (1 << 20) || (r >= 0 && r < c->a[2])) {
			fs_unlock();
			fsv_file_unref(FS(), f);
			DONE(-EIO);
		}
		if (r >= 0 && fsv_fd_install(FS(), &fs_g.fds, (int)r, f) < 0)
			r = -ENOMEM;
		fsv_file_unref(FS(), f);
		fs_unlock();
		if (r >= 0)
			console_fd_close((int)r);
	}
	DONE(r);
}

static long v_ioctl(const struct sys_call *c, struct fsv_file *f)
{
	switch ((unsigned long)c->a[1]) {
	case 0x5451: /* FIOCLEX */
	case 0x5450: /* FIONCLEX */
		return host_syscall(__NR_ioctl, c->a[0], c->a[1], 0, 0, 0, 0);
	case 0x5421: { /* FIONBIO */
		const int *p = (const int *)c->a[2];
		if (!fs_user_ok(p, sizeof *p))
			return -EFAULT;
		f->flags = *p ? f->flags | O_NONBLOCK : f->flags & ~(uint32_t)O_NONBLOCK;
		return 0;
	}
	case 0x541B: { /* FIONREAD */
		int *p = (int *)c->a[2];
		if (!fs_user_ok(p, sizeof *p))
			return -EFAULT;
		if (!S_ISREG_(f->node->mode))
			return -ENOTTY;
		uint64_t left = f->node->size > f->off ? f->node->size - f->off : 0;
		*p = left > 0x7fffffff ? 0x7fffffff : (int)left;
		return 0;
	}
	default:
		return -ENOTTY;
	}
}

static long v_zero(const struct sys_call *c, struct fsv_file *f)
{
	(void)c;
	(void)f;
	return 0;
}

static long v_fallocate(const struct sys_call *c, struct fsv_file *f)
{
	if (c->a[1] != 0)
		return -EOPNOTSUPP;
	if (c->a[2] < 0 || c->a[3] <= 0)
		return -EINVAL;
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	uint64_t end = (uint64_t)c->a[2] + (uint64_t)c->a[3];
	return end > f->node->size ? fsv_truncate(FS(), f->node, end) : 0;
}

static long v_exdev(const struct sys_call *c, struct fsv_file *f)
{
	(void)f;
	return c->nr == __NR_copy_file_range ? -EXDEV : -EINVAL;
}

/* sendfile with a virtual end: copy through a runtime buffer. The output
 * goes through shield_call so the console shield sees writes to stdout. */
static int sys_sendfile(const struct sys_call *c, long *ret)
{
	int out = (int)c->a[0], in = (int)c->a[1];
	long *offp = (long *)c->a[2];
	size_t count = (size_t)c->a[3];
	fs_lock();
	struct fsv_file *fi = fsv_fd_get(&fs_g.fds, in), *fo = fsv_fd_get(&fs_g.fds, out);
	fs_unlock();
	if (!fi && !fo)
		return SHIELD_PASS;
	if (offp && !fs_user_ok(offp, sizeof *offp))
		DONE(-EFAULT);
	const size_t chunk = 64 << 10;
	char *buf = rt_malloc(chunk);
	if (!buf)
		DONE(-ENOMEM);
	long off = offp ? *offp : -1;
	if (offp && off < 0) {
		rt_free(buf);
		DONE(-EINVAL);
	}
	size_t done = 0;
	long err = 0;
	while (done < count) {
		size_t want = count - done < chunk ? count - done : chunk;
		long got;
		if (off >= 0)
			got = shield_call(__NR_pread64, in, (long)buf, (long)want, off, 0, 0);
		else
			got = shield_call(__NR_read, in, (long)buf, (long)want, 0, 0, 0);
		if (got <= 0) {
			err = got;
			break;
		}
		if ((size_t)got > want) { /* Iago */
			err = -EIO;
			break;
		}
		long put = 0;
		while (put < got) {
			long w = shield_call(__NR_write, out, (long)(buf + put), got - put, 0, 0, 0);
			if (w <= 0 || w > got - put) {
				err = w < 0 ? w : -EIO;
				break;
			}
			put += w;
		}
		done += (size_t)put;
		if (off >= 0)
			off += put;
		if (err || (size_t)got < want)
			break;
	}
	rt_free(buf);
	if (offp)
		*offp = off;
	DONE(done ? (long)done : err);
}

static int sys_umask(const struct sys_call *c, long *ret)
{
	host_syscall(__NR_umask, c->a[0] & 0777, 0, 0, 0, 0, 0);
	fs_lock();
	long old = fs_g.umask;
	fs_g.umask = (uint32_t)c->a[0] & 0777;
	fs_unlock();
	DONE(old);
}

int fs_shield(const struct sys_call *c, long *ret)
{
	if (!fs_g.enabled)
		return SHIELD_PASS;
	const long *a = c->a;
	switch (c->nr) {
	case __NR_open:
		return sys_open(c, ret, AT_FDCWD, (const char *)a[0], a[1], (uint32_t)a[2]);
	case __NR_creat:
		return sys_open(c, ret, AT_FDCWD, (const char *)a[0], O_CREAT | O_WRONLY | O_TRUNC, (uint32_t)a[1]);
	case __NR_openat:
		return sys_open(c, ret, (int)a[0], (const char *)a[1], a[2], (uint32_t)a[3]);
	case __NR_openat2:
		return sys_openat2(c, ret);
	case __NR_close:
		return sys_close(c, ret);
	case __NR_close_range:
		return sys_close_range(c, ret);
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
		return fd_op(c, ret, (int)a[0], v_read);
	case __NR_lseek:
		return fd_op(c, ret, (int)a[0], v_lseek);
	case __NR_getdents:
	case __NR_getdents64:
		return fd_op(c, ret, (int)a[0], v_getdents);
	case __NR_fstat:
		return fd_op(c, ret, (int)a[0], v_fstat);
	case __NR_stat:
	case __NR_lstat:
	case __NR_newfstatat:
	case __NR_statx:
		return sys_stat(c, ret);
	case __NR_readlink:
	case __NR_readlinkat:
		return sys_readlink(c, ret);
	case __NR_access:
	case __NR_faccessat:
	case __NR_faccessat2:
		return sys_access(c, ret);
	case __NR_chdir:
		return sys_chdir(c, ret);
	case __NR_fchdir:
		return sys_fchdir(c, ret);
	case __NR_getcwd:
		return sys_getcwd(c, ret);
	case __NR_mkdir:
		return path_op(c, ret, -1, 0, FSV_PARENT, p_mkdir);
	case __NR_mkdirat:
		return path_op(c, ret, 0, 1, FSV_PARENT, p_mkdir);
	case __NR_mknod:
		return path_op(c, ret, -1, 0, FSV_PARENT, p_mknod);
	case __NR_mknodat:
		return path_op(c, ret, 0, 1, FSV_PARENT, p_mknod);
	case __NR_unlink:
	case __NR_rmdir:
		return path_op(c, ret, -1, 0, FSV_PARENT, p_unlink);
	case __NR_unlinkat:
		return path_op(c, ret, 0, 1, FSV_PARENT, p_unlink);
	case __NR_symlink:
	case __NR_symlinkat:
		return sys_symlink(c, ret);
	case __NR_rename:
	case __NR_renameat:
	case __NR_renameat2:
	case __NR_link:
	case __NR_linkat:
		return sys_two(c, ret);
	case __NR_chmod:
		return path_op(c, ret, -1, 0, FSV_FOLLOW, p_chmod);
	case __NR_fchmodat:
		return path_op(c, ret, 0, 1, FSV_FOLLOW, p_chmod);
	case __NR_fchmodat2:
		return path_op(c, ret, 0, 1, (a[3] & AT_SYMLINK_NOFOLLOW) ? 0 : FSV_FOLLOW, p_chmod);
	case __NR_fchmod:
		return fd_op(c, ret, (int)a[0], v_fchmod);
	case __NR_chown:
		return path_op(c, ret, -1, 0, FSV_FOLLOW, p_chown);
	case __NR_lchown:
		return path_op(c, ret, -1, 0, 0, p_chown);
	case __NR_fchownat:
		return path_op(c, ret, 0, 1, (a[4] & AT_SYMLINK_NOFOLLOW) ? 0 : FSV_FOLLOW, p_chown);
	case __NR_fchown:
		return fd_op(c, ret, (int)a[0], v_fchown);
	case __NR_truncate:
		return path_op(c, ret, -1, 0, FSV_FOLLOW, p_truncate);
	case __NR_ftruncate:
		return fd_op(c, ret, (int)a[0], v_ftruncate);
	case __NR_utime:
	case __NR_utimes:
		return path_op(c, ret, -1, 0, FSV_FOLLOW, p_utimes);
	case __NR_futimesat:
		return path_op(c, ret, 0, 1, FSV_FOLLOW, p_utimes);
	case __NR_utimensat:
		return sys_utimensat(c, ret);
	case __NR_statfs:
		return path_op(c, ret, -1, 0, FSV_FOLLOW, p_statfs);
	case __NR_fstatfs:
		return fd_op(c, ret, (int)a[0], v_fstatfs);
	case __NR_getxattr:
	case __NR_listxattr:
	case __NR_setxattr:
	case __NR_removexattr:
		return path_op(c, ret, -1, 0, FSV_FOLLOW, p_xattr);
	case __NR_lgetxattr:
	case __NR_llistxattr:
	case __NR_lsetxattr:
	case __NR_lremovexattr:
		return path_op(c, ret, -1, 0, 0, p_xattr);
	case __NR_fgetxattr:
	case __NR_flistxattr:
	case __NR_fsetxattr:
	case __NR_fremovexattr:
		return fd_op(c, ret, (int)a[0], v_xattr);
	case __NR_inotify_add_watch:
		return path_op(c, ret, -1, 1, FSV_FOLLOW, p_refuse);
	case __NR_name_to_handle_at:
		return path_op(c, ret, 0, 1, FSV_FOLLOW, p_refuse);
	case __NR_chroot:
	case __NR_acct:
		if (!a[0])
			return SHIELD_PASS;
		return path_op(c, ret, -1, 0, FSV_FOLLOW, p_refuse);
	case __NR_dup:
	case __NR_dup2:
	case __NR_dup3:
		return sys_dup(c, ret);
	case __NR_fcntl:
		return sys_fcntl(c, ret);
	case __NR_ioctl:
		return fd_op(c, ret, (int)a[0], v_ioctl);
	case __NR_fsync:
	case __NR_fdatasync:
	case __NR_syncfs:
	case __NR_fadvise64:
	case __NR_readahead:
	case __NR_sync_file_range:
	case __NR_flock:
		return fd_op(c, ret, (int)a[0], v_zero);
	case __NR_fallocate:
		return fd_op(c, ret, (int)a[0], v_fallocate);
	case __NR_copy_file_range:
	case __NR_splice:
	case __NR_tee: {
		int r = fd_op(c, ret, (int)a[0], v_exdev);
		if (r == SHIELD_PASS && c->nr != __NR_tee)
			r = fd_op(c, ret, (int)a[2], v_exdev);
		if (r == SHIELD_PASS && c->nr == __NR_tee)
			r = fd_op(c, ret, (int)a[1], v_exdev);
		return r;
	}
	case __NR_sendfile:
		return sys_sendfile(c, ret);
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
		return sys_umask(c, ret);
	default:
		return SHIELD_PASS;
	}
}
