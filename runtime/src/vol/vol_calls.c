/* Volume shield: the system calls on paths. vs_host_path serves calls the
 * FS shield resolved to a path under a protected volume (vs_call in
 * vol_fdcalls.c serves calls on the shield's own descriptors). What is not
 * served is refused with an errno an application can handle, never passed
 * to the host (docs/compatibility.md). Above vol_state.c, vol_stat.c and
 * vol_fds.c; only the table (vol_fdcalls.c) refers to vs_host_path. */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include "vol_shield.h"
#include "fsv_arena.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "rt_alloc.h"
#include "sys.h"

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#define AT_EMPTY_PATH_ 0x1000
#define AT_SYMLINK_FOLLOW_ 0x400
#define AT_REMOVEDIR_ 0x200
#define RENAME_NOREPLACE_ 1
#define O_TMPFILE_ 020200000
#define UTIME_NOW_ ((1l << 30) - 1l)
#define UTIME_OMIT_ ((1l << 30) - 2l)
#define S_IFMT_ 0170000u
#define S_IFREG_ 0100000u
#define S_IFDIR_ 0040000u

int vs_mount_of(const char *p, const char **rel)
{
	if (!rt_user_ok(p, 1) || p[0] != '/')
		return -1;
	for (int i = 0; i < vs_g.nmounts; i++) {
		const struct vs_mount *m = &vs_g.m[i];
		if (!memcmp(p, m->path, m->plen) && (p[m->plen] == 0 || p[m->plen] == '/')) {
			*rel = p + m->plen;
			while (**rel == '/')
				(*rel)++;
			return i;
		}
	}
	return -1;
}

static uint32_t umask_now(void)
{
	long u = host_syscall(__NR_umask, 022, 0, 0, 0, 0, 0);
	host_syscall(__NR_umask, u, 0, 0, 0, 0, 0);
	return (uint32_t)u & 0777;
}

/* Calls that change names (unlink, rename, mkdir, links...). */
static int changes_names(long nr)
{
	switch (nr) {
	case __NR_unlink:
	case __NR_unlinkat:
	case __NR_rmdir:
	case __NR_rename:
	case __NR_renameat:
	case __NR_renameat2:
	case __NR_mkdir:
	case __NR_mkdirat:
	case __NR_link:
	case __NR_linkat:
	case __NR_symlink:
	case __NR_symlinkat:
		return 1;
	}
	return 0;
}

/* A change of names is committed at once, without a host fsync: on Linux
 * it is in the kernel the moment the call returns, so it survives the
 * process being killed, and programs build on that. sqlite's commit in its
 * default journal mode is the unlink of its journal: left in memory until
 * the next commit, a kill -9 would bring the journal back and sqlite would
 * roll back a transaction it had reported committed. */
static void commit_names(struct vs_mount *m)
{
	long e = vol_commit(m->v, 0);
	if (e)
		vs_report(m, "commit (names)", e);
	else
		vs_fresh_committed(m, 0);
}

/* ---- opening ---- */
static long do_open(int mi, const char *rel, long flags, uint32_t mode)
{
	struct vs_mount *m = &vs_g.m[mi];
	struct vol *v = m->v;
	if ((flags & O_TMPFILE_) == O_TMPFILE_)
		return -EOPNOTSUPP;
	uint64_t dir, id;
	char name[VOL_NAME_MAX + 1];
	size_t nl;
	int follow = !(flags & O_NOFOLLOW);
	long e = vol_walk(v, rel, follow, &dir, &id, name, &nl);
	if (e)
		return e;
	int acc = (int)(flags & O_ACCMODE);
	struct vol_attr a;
	if (id) {
		if ((flags & O_CREAT) && (flags & O_EXCL))
			return -EEXIST;
		if ((e = vol_getattr(v, id, &a)))
			return e;
		if ((a.mode & S_IFMT_) == 0120000u)
			return -ELOOP; /* O_NOFOLLOW on a symlink */
		if ((a.mode & S_IFMT_) == S_IFDIR_ && (acc != O_RDONLY || (flags & O_TRUNC)))
			return -EISDIR;
		if ((flags & O_DIRECTORY) && (a.mode & S_IFMT_) != S_IFDIR_)
			return -ENOTDIR;
		if ((flags & O_TRUNC) && acc != O_RDONLY && (a.mode & S_IFMT_) == S_IFREG_ &&
		    (e = vol_truncate(v, id, 0)))
			return e;
	} else {
		if (!(flags & O_CREAT))
			return -ENOENT;
		if (flags & O_DIRECTORY)
			return -EINVAL;
		if ((e = vol_create(v, dir, name, nl, S_IFREG_ | (mode & 07777 & ~umask_now()), vs_g.uid, vs_g.gid,
				    &id)))
			return e;
		vol_getattr(v, id, &a);
		commit_names(&vs_g.m[mi]); /* a new name, as the calls below */
	}
	struct vs_desc *d = vs_desc_new();
	if (!d)
		return -ENOMEM;
	size_t rl = strlen(rel);
	if ((d->path = fsv_sh_malloc(m->plen + 1 + rl + 1))) {
		memcpy(d->path, m->path, m->plen);
		d->path[m->plen] = '/';
		memcpy(d->path + m->plen + 1, rel, rl + 1);
	}
	d->mount = mi;
	d->id = id;
	d->flags = (int)flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC);
	d->dir = (a.mode & S_IFMT_) == S_IFDIR_;
	d->written = !id || (flags & O_TRUNC);
	if (!d->dir)
		vol_hold(v, id);
	long fd = vs_fd_new(d, (flags & O_CLOEXEC) != 0);
	if (fd < 0) {
		d->refs = 1;
		vs_desc_put(d);
	}
	return fd;
}

/* ---- the calls on resolved paths ---- */
struct pcall {
	long nr;
	signed char p0, p1; /* path arguments (-1: none) */
};
static const struct pcall pcalls[] = {
	{__NR_open, 0, -1},	{__NR_creat, 0, -1},	  {__NR_openat, 1, -1},	     {__NR_openat2, 1, -1},
	{__NR_stat, 0, -1},	{__NR_lstat, 0, -1},	  {__NR_newfstatat, 1, -1},  {__NR_statx, 1, -1},
	{__NR_access, 0, -1},	{__NR_faccessat, 1, -1},  {__NR_faccessat2, 1, -1},  {__NR_mkdir, 0, -1},
	{__NR_mkdirat, 1, -1},	{__NR_rmdir, 0, -1},	  {__NR_unlink, 0, -1},	     {__NR_unlinkat, 1, -1},
	{__NR_rename, 0, 1},	{__NR_renameat, 1, 3},	  {__NR_renameat2, 1, 3},    {__NR_link, 0, 1},
	{__NR_linkat, 1, 3},	{__NR_symlink, 1, -1},	  {__NR_symlinkat, 2, -1},   {__NR_chdir, 0, -1},
	{__NR_truncate, 0, -1}, {__NR_chmod, 0, -1},	  {__NR_fchmodat, 1, -1},    {__NR_fchmodat2, 1, -1},
	{__NR_chown, 0, -1},	{__NR_lchown, 0, -1},	  {__NR_fchownat, 1, -1},    {__NR_utimensat, 1, -1},
	{__NR_readlink, 0, -1}, {__NR_readlinkat, 1, -1}, {__NR_statfs, 0, -1},	     {__NR_mknod, 0, -1},
	{__NR_mknodat, 1, -1},	{__NR_utimes, 0, -1},	  {__NR_utime, 0, -1},	     {__NR_futimesat, 1, -1},
	{__NR_getxattr, 0, -1}, {__NR_lgetxattr, 0, -1},  {__NR_listxattr, 0, -1},   {__NR_llistxattr, 0, -1},
	{__NR_setxattr, 0, -1}, {__NR_lsetxattr, 0, -1},  {__NR_removexattr, 0, -1}, {__NR_lremovexattr, 0, -1},
};

/* link/linkat within the volume mi: a hard link to the file at r0 (the
 * symlink itself unless linkat's AT_SYMLINK_FOLLOW) named r1. */
static long link_call(const struct sys_call *c, int mi, const char *r0, const char *r1)
{
	unsigned long fl = c->nr == __NR_linkat ? (unsigned long)c->a[4] : 0;
	if (fl & ~(unsigned long)(AT_SYMLINK_FOLLOW_ | AT_EMPTY_PATH_))
		return -EINVAL;
	struct vol *v = vs_g.m[mi].v;
	uint64_t od, oi, nd, ni;
	char on[VOL_NAME_MAX + 1], nn[VOL_NAME_MAX + 1];
	size_t ol, nl;
	long e = vol_walk(v, r0, (fl & AT_SYMLINK_FOLLOW_) != 0, &od, &oi, on, &ol);
	if (!e && !oi)
		e = -ENOENT;
	if (!e)
		e = vol_walk(v, r1, 0, &nd, &ni, nn, &nl);
	if (!e && ni)
		e = -EEXIST;
	if (!e)
		e = vol_link(v, oi, nd, nn, nl);
	return e;
}

static long two_call(const struct sys_call *c, int p0, int p1)
{
	const char *r0, *r1;
	int m0 = vs_mount_of((const char *)c->a[p0], &r0), m1 = vs_mount_of((const char *)c->a[p1], &r1);
	if (m0 != m1 || m0 < 0)
		return -EXDEV;
	if (c->nr == __NR_link || c->nr == __NR_linkat)
		return link_call(c, m0, r0, r1);
	unsigned long fl = c->nr == __NR_renameat2 ? (unsigned long)c->a[4] : 0;
	if (fl & ~(unsigned long)RENAME_NOREPLACE_)
		return -EINVAL; /* RENAME_EXCHANGE, RENAME_WHITEOUT */
	struct vol *v = vs_g.m[m0].v;
	uint64_t od, oi, nd, ni;
	char on[VOL_NAME_MAX + 1], nn[VOL_NAME_MAX + 1];
	size_t ol, nl;
	long e = vol_walk(v, r0, 0, &od, &oi, on, &ol);
	if (!e && !oi)
		e = -ENOENT;
	if (!e)
		e = vol_walk(v, r1, 0, &nd, &ni, nn, &nl);
	if (!e && (!ol || !nl))
		e = -EBUSY; /* the volume's root */
	if (!e)
		e = vol_rename(v, od, on, ol, nd, nn, nl, (fl & RENAME_NOREPLACE_) != 0);
	return e;
}

static long path_call(const struct sys_call *c, int mi, const char *rel, int pi)
{
	struct vol *v = vs_g.m[mi].v;
	const long *a = c->a;
	long nr = c->nr;
	uint64_t dir, id;
	char name[VOL_NAME_MAX + 1];
	size_t nl;
	struct vol_attr at;
	long e;
	switch (nr) {
	case __NR_open:
		return do_open(mi, rel, a[1], (uint32_t)a[2]);
	case __NR_creat:
		return do_open(mi, rel, O_CREAT | O_WRONLY | O_TRUNC, (uint32_t)a[1]);
	case __NR_openat:
		return do_open(mi, rel, a[2], (uint32_t)a[3]);
	case __NR_openat2: {
		uint64_t how[3] = {0};
		if ((unsigned long)a[3] < 24 || !rt_user_ok((void *)a[2], 24))
			return -EINVAL;
		memcpy(how, (void *)a[2], 24);
		return how[2] ? -ENOSYS : do_open(mi, rel, (long)how[0], (uint32_t)how[1]);
	}
	case __NR_stat:
	case __NR_lstat:
	case __NR_newfstatat:
	case __NR_statx: {
		int nofollow = nr == __NR_lstat ||
			       ((nr == __NR_newfstatat || nr == __NR_statx) && (a[nr == __NR_statx ? 2 : 3] & 0x100));
		if ((e = vol_walk(v, rel, !nofollow, &dir, &id, name, &nl)) || (!id && (e = -ENOENT)) ||
		    (e = vol_getattr(v, id, &at)))
			return e;
		return stat_out_fd(nr, nr == __NR_statx ? a[4] : a[pi + 1], &at, mi);
	}
	case __NR_access:
	case __NR_faccessat:
	case __NR_faccessat2:
	case __NR_readlink:
	case __NR_readlinkat:
	case __NR_chdir:
		if ((e = vol_walk(v, rel, nr != __NR_readlink && nr != __NR_readlinkat, &dir, &id, name, &nl)))
			return e;
		if (!id)
			return -ENOENT;
		if (nr == __NR_readlink || nr == __NR_readlinkat) {
			char *buf = (char *)a[pi + 1];
			size_t n = (size_t)a[pi + 2];
			return rt_user_ok(buf, n) ? vol_readlink(v, id, buf, n) : -EFAULT;
		}
		if (nr == __NR_chdir) {
			if ((e = vol_getattr(v, id, &at)))
				return e;
			return (at.mode & S_IFMT_) == S_IFDIR_ ? 0 : -ENOTDIR; /* the FS shield records the path */
		}
		return 0;
	case __NR_mkdir:
	case __NR_mkdirat:
		if ((e = vol_walk(v, rel, 0, &dir, &id, name, &nl)))
			return e;
		if (id)
			return -EEXIST;
		return vol_create(v, dir, name, nl, S_IFDIR_ | ((uint32_t)a[pi + 1] & 07777 & ~umask_now()), vs_g.uid,
				  vs_g.gid, &id);
	case __NR_rmdir:
	case __NR_unlink:
	case __NR_unlinkat:
		if ((e = vol_walk(v, rel, 0, &dir, &id, name, &nl)))
			return e;
		if (!id)
			return -ENOENT;
		if (!nl)
			return -EBUSY;
		return vol_remove(v, dir, name, nl,
				  nr == __NR_rmdir || (nr == __NR_unlinkat && (a[2] & AT_REMOVEDIR_)));
	case __NR_truncate:
		if ((e = vol_walk(v, rel, 1, &dir, &id, name, &nl)) || (!id && (e = -ENOENT)))
			return e;
		return a[1] < 0 ? -EINVAL : vol_truncate(v, id, (uint64_t)a[1]);
	case __NR_chmod:
	case __NR_fchmodat:
	case __NR_fchmodat2:
	case __NR_chown:
	case __NR_lchown:
	case __NR_fchownat: {
		int nofollow = nr == __NR_lchown || (nr == __NR_fchownat && (a[4] & 0x100));
		if ((e = vol_walk(v, rel, !nofollow, &dir, &id, name, &nl)) || (!id && (e = -ENOENT)))
			return e;
		if (nr == __NR_chmod || nr == __NR_fchmodat || nr == __NR_fchmodat2) {
			uint32_t md = (uint32_t)a[pi + 1];
			return vol_setattr(v, id, &md, NULL, NULL, NULL, NULL, NULL, NULL);
		}
		uint32_t u = (uint32_t)a[pi + 1], g = (uint32_t)a[pi + 2];
		return vol_setattr(v, id, NULL, u == (uint32_t)-1 ? NULL : &u, g == (uint32_t)-1 ? NULL : &g, NULL,
				   NULL, NULL, NULL);
	}
	case __NR_utimensat: {
		if ((e = vol_walk(v, rel, !(a[3] & 0x100), &dir, &id, name, &nl)) || (!id && (e = -ENOENT)))
			return e;
		int64_t ts[4] = {0, UTIME_NOW_, 0, UTIME_NOW_}, now[2] = {0, 0};
		if (a[2] && !rt_user_ok((void *)a[2], 32))
			return -EFAULT;
		if (a[2])
			memcpy(ts, (void *)a[2], 32);
		host_syscall(__NR_clock_gettime, 0, (long)now, 0, 0, 0, 0);
		int64_t s[2];
		uint32_t ns[2];
		for (int i = 0; i < 2; i++) {
			if (ts[2 * i + 1] == UTIME_NOW_) {
				s[i] = now[0];
				ns[i] = (uint32_t)now[1];
			} else if (ts[2 * i + 1] != UTIME_OMIT_) {
				if (ts[2 * i + 1] < 0 || ts[2 * i + 1] >= 1000000000)
					return -EINVAL;
				s[i] = ts[2 * i];
				ns[i] = (uint32_t)ts[2 * i + 1];
			}
		}
		return vol_setattr(v, id, NULL, NULL, NULL, ts[1] == UTIME_OMIT_ ? NULL : &s[0], &ns[0],
				   ts[3] == UTIME_OMIT_ ? NULL : &s[1], &ns[1]);
	}
	case __NR_statfs: {
		if (!rt_user_ok((void *)a[1], 120))
			return -EFAULT;
		uint64_t sf[15] = {0x01021994 /* TMPFS_MAGIC */,
				   VOL_PAGE,
				   1u << 28,
				   1u << 27,
				   1u << 27,
				   1u << 24,
				   1u << 23,
				   0,
				   VOL_NAME_MAX,
				   VOL_PAGE,
				   0,
				   0,
				   0,
				   0,
				   0};
		memcpy((void *)a[1], sf, 120);
		return 0;
	}
	case __NR_symlink:
	case __NR_symlinkat: {
		const char *target = (const char *)a[0];
		size_t tl = 0;
		while (tl <= VOL_PATH_MAX && rt_user_ok(target + tl, 1) && target[tl])
			tl++;
		if (!rt_user_ok(target + tl, 1))
			return -EFAULT;
		if (tl > VOL_PATH_MAX)
			return -ENAMETOOLONG;
		if ((e = vol_walk(v, rel, 0, &dir, &id, name, &nl)))
			return e;
		if (id || !nl)
			return -EEXIST;
		return vol_symlink(v, dir, name, nl, target, tl, vs_g.uid, vs_g.gid, &id);
	}
	case __NR_mknod:
	case __NR_mknodat:
		return -EPERM; /* docs/compatibility.md */
	case __NR_getxattr:
	case __NR_lgetxattr:
	case __NR_setxattr:
	case __NR_lsetxattr:
	case __NR_removexattr:
	case __NR_lremovexattr:
	case __NR_listxattr:
	case __NR_llistxattr:
	case __NR_utimes:
	case __NR_utime:
	case __NR_futimesat:
	default:
		return -EOPNOTSUPP;
	}
}

/* The pathname of the AF_UNIX address the FS shield hands on with a
 * resolved host path (bind, connect, sendto, sendmsg), or NULL. */
static const char *sun_path(const struct sys_call *c)
{
	const void *sa = NULL;
	long len = 0;
	if (c->nr == __NR_bind || c->nr == __NR_connect) {
		sa = (const void *)c->a[1];
		len = c->a[2];
	} else if (c->nr == __NR_sendto) {
		sa = (const void *)c->a[4];
		len = c->a[5];
	} else if (c->nr == __NR_sendmsg && c->a[1]) {
		const struct {
			void *name;
			int namelen;
		} *m = (const void *)c->a[1];
		sa = m->name;
		len = m->namelen;
	}
	const char *p = (const char *)sa + 2;
	if (!sa || len <= 3 || len > 110 || *(const uint16_t *)sa != 1 /* AF_UNIX */ || p[(size_t)len - 3])
		return NULL; /* the FS shield's addresses are NUL-terminated */
	return p;
}

int vs_host_path(const struct sys_call *c, long *ret)
{
	const char *sp = sun_path(c);
	const char *srel;
	if (sp && vs_mount_of(sp, &srel) >= 0) /* a socket cannot live in a volume */
		return shield_done(ret, c->nr == __NR_bind ? -EPERM : -ECONNREFUSED);
	for (size_t i = 0; i < sizeof pcalls / sizeof pcalls[0]; i++) {
		if (pcalls[i].nr != c->nr)
			continue;
		const char *rel;
		int p0 = pcalls[i].p0, p1 = pcalls[i].p1;
		int m0 = vs_mount_of((const char *)c->a[p0], &rel);
		const char *rel1;
		int m1 = p1 >= 0 ? vs_mount_of((const char *)c->a[p1], &rel1) : -1;
		if (m0 < 0 && m1 < 0)
			return SHIELD_PASS;
		vs_lock();
		long r = p1 >= 0 ? two_call(c, p0, p1) : path_call(c, m0, rel, p0);
		if (r >= 0 && changes_names(c->nr))
			commit_names(&vs_g.m[m0 >= 0 ? m0 : m1]);
		vs_unlock();
		return shield_done(ret, r);
	}
	return SHIELD_PASS;
}
