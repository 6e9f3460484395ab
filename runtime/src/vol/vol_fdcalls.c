/* Volume shield: the calls on the shield's own descriptors (data, seek,
 * stat, sync, listings, duplicates, *at relative to a volume directory),
 * the shield's call entry (vs_call) and its table (vol_shield_ops). The
 * top file of runtime/src/vol, as fs_syscalls.c is of the FS shield: the
 * table names the entries of vol_calls.c and vol_shield.c, and nothing
 * below refers back up to it. */
#include <linux/errno.h>
#include <linux/futex.h>
#include <linux/fcntl.h>
#include "vol_shield.h"
#include "fsv_lock.h"
#include "mmapcopy.h"
#include "shared.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "rt_alloc.h"
#include "sys.h"

#define AT_EMPTY_PATH_ 0x1000
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#define SEEK_DATA_ 3
#define SEEK_HOLE_ 4
#define F_GETLK_ 5
#define F_SETLK_ 6
#define F_SETLKW_ 7
#define F_OFD_GETLK_ 36
#define F_OFD_SETLK_ 37
#define F_OFD_SETLKW_ 38

struct kiov {
	void *base;
	size_t len;
};

static long rw(struct vs_desc *d, int write, const struct kiov *iov, long n, long off)
{
	struct vs_mount *m = &vs_g.m[d->mount];
	if (d->dir)
		return -EISDIR;
	int acc = d->flags & O_ACCMODE;
	if (write ? acc == O_RDONLY : acc == O_WRONLY)
		return -EBADF;
	if (n < 0 || n > 1024)
		return -EINVAL;
	uint64_t pos = off >= 0 ? (uint64_t)off : d->off;
	if (write && off < 0 && (d->flags & O_APPEND)) {
		struct vol_attr a;
		if (vol_getattr(m->v, d->id, &a) == 0)
			pos = a.size;
	}
	long total = 0;
	for (long i = 0; i < n; i++) {
		if (!iov[i].len)
			continue;
		if (!rt_user_ok(iov[i].base, iov[i].len))
			return total ? total : -EFAULT;
		long r = write ? vol_write(m->v, d->id, iov[i].base, iov[i].len, pos) :
				 vol_read(m->v, d->id, iov[i].base, iov[i].len, pos);
		if (r < 0) {
			vs_report(m, write ? "write" : "read", r);
			return total ? total : r;
		}
		total += r;
		pos += (uint64_t)r;
		if ((size_t)r < iov[i].len)
			break;
	}
	if (off < 0)
		d->off = pos;
	if (write && total) {
		d->written = 1;
		if (vol_dirty_bytes(m->v) > VS_WRITEBACK) {
			long e = vol_commit(m->v, 0);
			if (e)
				vs_report(m, "commit (write-back)", e);
			else
				vs_fresh_committed(m, 0);
		}
	}
	return total;
}

/* ---- record locks (fcntl F_GETLK, F_SETLK, F_SETLKW, F_OFD_*; lockf)
 * on volume files: fsv_reclock_fcntl over a per-file list in the shared
 * arena, with the FS shield's rules (fs_reclock.c): POSIX locks belong to
 * the process, go when it closes any descriptor of the file (vol_fds.c)
 * and are not inherited; OFD locks belong to the description. ---- */
#define RECLOCK_POLL_NS 200000000L

static void rl_lock(void *ctx)
{
	(void)ctx;
	vs_lock();
}

static void rl_unlock(void *ctx)
{
	(void)ctx;
	vs_unlock();
}

static int rl_file(void *ctx, int fd, struct fsv_reclock_file *f)
{
	(void)ctx;
	struct vs_desc *d = vs_fd_get(fd);
	if (!d)
		return -EBADF; /* closed meanwhile by another thread */
	struct vol_attr at = {0};
	if (!d->dir && vol_getattr(vs_g.m[d->mount].v, d->id, &at))
		return -EIO;
	struct fsv_reclock **list = vs_reclocks(d->mount, d->id, 1);
	if (!list)
		return -ENOLCK; /* as Linux when no lock record can be allocated */
	int acc = d->flags & O_ACCMODE;
	*f = (struct fsv_reclock_file){
		.list = list,
		.readable = acc != O_WRONLY,
		.writable = acc == O_WRONLY || acc == O_RDWR,
		.pos = (int64_t)d->off,
		.size = (int64_t)at.size,
		.desc = (uint64_t)(uintptr_t)d,
		.pid = vs_g.pid,
	};
	return 0;
}

static void rl_released(void *ctx)
{
	(void)ctx;
	vs_reclock_released();
}

static long rl_wait(void *ctx, volatile uint32_t *seq, uint32_t val)
{
	(void)ctx;
	return shield_app_wait(seq, val, RECLOCK_POLL_NS);
}

static int lock_cmd(long cmd)
{
	return cmd == F_GETLK_ || cmd == F_SETLK_ || cmd == F_SETLKW_ || cmd == F_OFD_GETLK_ || cmd == F_OFD_SETLK_ ||
	       cmd == F_OFD_SETLKW_;
}

/* Called without the shield's lock. */
static long reclock_call(int fd, long cmd, long arg)
{
	struct fsv_flock fl;
	if (!rt_user_ok((void *)arg, sizeof fl))
		return -EFAULT;
	memcpy(&fl, (void *)arg, sizeof fl);
	const struct fsv_reclock_ops ops = {
		.lock = rl_lock,
		.unlock = rl_unlock,
		.file = rl_file,
		.alive = rt_task_alive,
		.released = rl_released,
		.wait = rl_wait,
		.seq = &vs_g.sh->reclock_seq,
		.waits = &vs_g.sh->reclock_waits,
	};
	long r = fsv_reclock_fcntl(&ops, fd, cmd, &fl);
	if (r == 0 && (cmd == F_GETLK_ || cmd == F_OFD_GETLK_))
		memcpy((void *)arg, &fl, sizeof fl);
	return r;
}

#define FALLOC_KEEP_SIZE 0x01
#define FALLOC_PUNCH_HOLE 0x02
#define FALLOC_ZERO_RANGE 0x10

/* fallocate: the format has no preallocation (and no holes: a page of
 * zeros is a page), so mode 0 extends the size with zeros, KEEP_SIZE alone
 * has nothing to do, and PUNCH_HOLE / ZERO_RANGE write zeros, as Linux
 * shows them afterwards. COLLAPSE/INSERT_RANGE and the rest: EOPNOTSUPP. */
static long fallocate(struct vs_desc *d, long mode, long off, long len)
{
	struct vs_mount *m = &vs_g.m[d->mount];
	if (d->dir)
		return -EISDIR;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if ((d->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if ((unsigned long)off + (unsigned long)len > VOL_MAX_FILE)
		return -EFBIG;
	struct vol_attr at;
	long e = vol_getattr(m->v, d->id, &at);
	if (e)
		return e;
	uint64_t end = (uint64_t)off + (uint64_t)len;
	int keep = (mode & FALLOC_KEEP_SIZE) != 0;
	switch (mode & ~FALLOC_KEEP_SIZE) {
	case 0:
		if (keep || end <= at.size)
			return 0;
		d->written = 1;
		return vol_truncate(m->v, d->id, end);
	case FALLOC_PUNCH_HOLE:
	case FALLOC_ZERO_RANGE: {
		if ((mode & FALLOC_PUNCH_HOLE) && !keep)
			return -EOPNOTSUPP; /* as Linux: a hole needs KEEP_SIZE */
		/* zeros written inside the file, the size extended beyond it */
		static const uint8_t zero[VOL_PAGE];
		uint64_t stop = end < at.size ? end : at.size;
		d->written = 1;
		for (uint64_t p = (uint64_t)off; p < stop;) {
			size_t k = stop - p < VOL_PAGE ? (size_t)(stop - p) : VOL_PAGE;
			long r = vol_write(m->v, d->id, zero, k, p);
			if (r < 0)
				return r;
			p += (uint64_t)r;
			if (vol_dirty_bytes(m->v) > VS_WRITEBACK) {
				if ((r = vol_commit(m->v, 0)))
					return r;
				vs_fresh_committed(m, 0);
			}
		}
		if (!keep && end > at.size)
			return vol_truncate(m->v, d->id, end);
		return 0;
	}
	default:
		return -EOPNOTSUPP;
	}
}

struct mmap_src {
	int mount;
	uint64_t id;
};

static long mmap_fill(void *ctx, void *dst, size_t n, uint64_t off)
{
	const struct mmap_src *src = ctx;
	vs_lock();
	long got = vol_read(vs_g.m[src->mount].v, src->id, dst, n, off);
	vs_unlock();
	return got;
}

/* mmap of a volume file: a private copy of its authenticated pages
 * (core/mmapcopy.c); MAP_SHARED read-only mappings are snapshots, as the FS
 * shield's. A shared writable mapping is refused (ENODEV, said once): the
 * host's page cache only sees ciphertext, so nothing could share the
 * plaintext pages. The file stays held while it is copied. */
static long vs_mmap(const struct sys_call *c)
{
	long v = rt_mmap_valid(c);
	if (v)
		return v;
	int prot = (int)c->a[2];
	vs_lock();
	struct vs_desc *d = vs_fd_get((int)c->a[4]);
	long err = 0;
	if (!d || (d->flags & O_PATH))
		err = -EBADF;
	else if ((d->flags & O_ACCMODE) == O_WRONLY)
		err = -EACCES;
	else if (d->dir)
		err = -ENODEV;
	else if (rt_mmap_shared(c) && (prot & RT_PROT_WRITE)) {
		err = (d->flags & O_ACCMODE) == O_RDWR ? -ENODEV : -EACCES;
		if (err == -ENODEV && !vs_g.mmap_said) {
			vs_g.mmap_said = 1;
			char line[1024];
			rt_snprintf(
				line, sizeof line,
				"scone-run: protected volume %s: a shared writable mmap of a volume file (%s) is refused "
				"(ENODEV): the host holds only ciphertext, so no page cache can share the plaintext. "
				"Use read/write (sqlite: PRAGMA mmap_size=0, its default), or keep the file outside "
				"the protected volume\n",
				vs_g.m[d->mount].path, d->path ? d->path : "name unknown");
			rt_diag(line, strlen(line));
		}
	}
	struct mmap_src src = {0, 0};
	if (!err) {
		src.mount = d->mount;
		src.id = d->id;
		vol_hold(vs_g.m[d->mount].v, d->id);
	}
	vs_unlock();
	if (err)
		return err;
	long r = rt_mmap_copy(c, mmap_fill, &src, 0);
	vs_lock();
	vol_release(vs_g.m[src.mount].v, src.id);
	vs_unlock();
	return r;
}

#define LOCK_SH_ 1
#define LOCK_EX_ 2
#define LOCK_NB_ 4
#define LOCK_UN_ 8

/* Whether another description of d's file, in any process, holds a flock
 * that conflicts with type (LOCK_SH_ or LOCK_EX_). A conflicting one that
 * only processes killed before their exit still held goes with them
 * (vs_reap), as Linux drops it when the killed process's files close. */
static int flock_conflict(const struct vs_desc *d, int type)
{
	for (int tries = 0; tries < 2; tries++) {
		const struct vs_desc *o = vs_g.sh->descs;
		while (o && !(o != d && o->flock && o->mount == d->mount && o->id == d->id &&
			      (type == LOCK_EX_ || o->flock == LOCK_EX_)))
			o = o->next;
		if (!o || tries || !vs_reap())
			return o != NULL;
	}
	return 1;
}

/* flock(2) on a volume file, served in the enclave: the lock belongs to
 * the open file description, two opens of one file conflict as on Linux,
 * and it goes with the description's last descriptor (vs_desc_put). A
 * blocked request waits on a futex for a release (the shield's lock is
 * not held meanwhile); a signal is delivered once the lock is taken. */
static long vs_flock(struct vs_desc *d, long op)
{
	int nb = (op & LOCK_NB_) != 0, type = (int)(op & ~LOCK_NB_);
	if (type == LOCK_UN_) {
		if (d->flock) {
			d->flock = 0;
			vs_flock_released();
		}
		return 0;
	}
	if (type != LOCK_SH_ && type != LOCK_EX_)
		return -EINVAL;
	if (!flock_conflict(d, type)) {
		d->flock = type;
		return 0;
	}
	if (nb)
		return -EWOULDBLOCK;
	if (d->flock) { /* as Linux: a conversion that must wait drops the old lock first */
		d->flock = 0;
		vs_flock_released();
	}
	d->refs++; /* kept while the shield's lock is not held */
	while (flock_conflict(d, type)) {
		uint32_t seq = fsv_wait_mark(&vs_g.sh->flock_seq);
		vs_unlock();
		struct {
			long s, ns;
		} ts = {0, 100000000};
		host_syscall(__NR_futex, (long)&vs_g.sh->flock_seq, FUTEX_WAIT, seq, (long)&ts, 0, 0);
		vs_lock();
	}
	d->flock = type;
	vs_desc_put(d);
	return 0;
}

static long sync_fd(struct vs_desc *d)
{
	struct vs_mount *m = &vs_g.m[d->mount];
	long e = vol_commit(m->v, 1);
	if (e)
		vs_report(m, "fsync", e);
	else
		e = vs_fresh_committed(m, 1);
	return e;
}

static long getdents(struct vs_desc *d, uint8_t *buf, size_t n)
{
	struct vs_mount *m = &vs_g.m[d->mount];
	if (!d->dir)
		return -ENOTDIR;
	if (!rt_user_ok(buf, n))
		return -EFAULT;
	size_t o = 0;
	for (;;) {
		const char *name = ".";
		size_t nl = 1;
		uint64_t id = d->id;
		uint32_t mode = 0040000;
		if (d->off == 1) {
			name = "..";
			nl = 2;
		} else if (d->off >= 2) {
			int k = vol_dirent(m->v, d->id, (size_t)(d->off - 2), &name, &nl, &id, &mode);
			if (k < 0)
				return o ? (long)o : k;
			if (!k)
				break;
		}
		size_t rl = (19 + nl + 1 + 7) & ~(size_t)7;
		if (o + rl > n)
			return o ? (long)o : -EINVAL;
		uint64_t next = d->off + 1;
		uint16_t r16 = (uint16_t)rl;
		memset(buf + o, 0, rl);
		memcpy(buf + o, &id, 8);
		memcpy(buf + o + 8, &next, 8);
		memcpy(buf + o + 16, &r16, 2);
		buf[o + 18] = (uint8_t)((mode >> 12) & 15);
		memcpy(buf + o + 19, name, nl);
		o += rl;
		d->off = next;
	}
	return (long)o;
}

/* The absolute path of a volume directory inode (for *at calls relative
 * to a volume directory fd): 0, or -ENAMETOOLONG / -ENOENT. */
static long dir_path(const struct vs_mount *m, uint64_t id, char *out, size_t cap)
{
	char tmp[VOL_PATH_MAX + 1];
	size_t end = sizeof tmp - 1;
	tmp[end] = 0;
	for (int depth = 0; id != VOL_ROOT_ID; depth++) {
		if (depth > 2048)
			return -ELOOP;
		uint64_t parent;
		if (vol_lookup(m->v, id, "..", 2, &parent))
			return -ENOENT;
		const char *nm;
		size_t nl, i;
		uint64_t cid;
		uint32_t mode;
		for (i = 0; vol_dirent(m->v, parent, i, &nm, &nl, &cid, &mode) == 1; i++)
			if (cid == id)
				break;
		if (cid != id || nl + 1 > end)
			return -ENOENT;
		end -= nl;
		memcpy(tmp + end, nm, nl);
		tmp[--end] = '/';
		id = parent;
	}
	size_t rl = sizeof tmp - 1 - end;
	if (m->plen + rl + 1 > cap)
		return -ENAMETOOLONG;
	memcpy(out, m->path, m->plen);
	memcpy(out + m->plen, tmp + end, rl + 1);
	return 0;
}

/* *at calls relative to a volume directory: re-issued with the absolute
 * path through every shield (shield_call), as if the application had
 * spelled it out. */
static long at_call(const struct sys_call *c, int dfi, int pi)
{
	struct vs_desc *d = vs_fd_get((int)c->a[dfi]);
	const char *p = (const char *)c->a[pi];
	if (!rt_user_ok(p, 1))
		return -EFAULT;
	if (!d->dir && !(p[0] == 0))
		return -ENOTDIR;
	static char buf[2 * (VOL_PATH_MAX + 1)];
	long e = dir_path(&vs_g.m[d->mount], d->id, buf, VOL_PATH_MAX + 1);
	if (e)
		return e;
	size_t bl = strlen(buf), pl = strlen(p);
	if (bl + 1 + pl > VOL_PATH_MAX)
		return -ENAMETOOLONG;
	buf[bl] = '/';
	memcpy(buf + bl + 1, p, pl + 1);
	char path[VOL_PATH_MAX + 1];
	memcpy(path, buf, bl + pl + 2);
	long a[6];
	for (int i = 0; i < 6; i++)
		a[i] = c->a[i];
	a[dfi] = AT_FDCWD;
	a[pi] = (long)path;
	vs_unlock();
	long r = shield_call(c->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	vs_lock();
	return r;
}

static long fd_call(const struct sys_call *c, struct vs_desc *d, long *handled)
{
	struct vs_mount *m = &vs_g.m[d->mount];
	const long *a = c->a;
	struct vol_attr at;
	*handled = 1;
	switch (c->nr) {
	case __NR_read:
	case __NR_write: {
		struct kiov v = {(void *)a[1], (size_t)a[2]};
		return rw(d, c->nr == __NR_write, &v, 1, -1);
	}
	case __NR_pread64:
	case __NR_pwrite64: {
		struct kiov v = {(void *)a[1], (size_t)a[2]};
		return a[3] < 0 ? -EINVAL : rw(d, c->nr == __NR_pwrite64, &v, 1, a[3]);
	}
	case __NR_readv:
	case __NR_writev:
	case __NR_preadv:
	case __NR_pwritev:
	case __NR_preadv2:
	case __NR_pwritev2: {
		if (a[2] < 0 || a[2] > 1024 || !rt_user_ok((void *)a[1], (size_t)a[2] * sizeof(struct kiov)))
			return -EINVAL;
		int w = c->nr == __NR_writev || c->nr == __NR_pwritev || c->nr == __NR_pwritev2;
		long off = c->nr == __NR_readv || c->nr == __NR_writev ? -1 : a[3];
		if ((c->nr == __NR_preadv || c->nr == __NR_pwritev) && off < 0)
			return -EINVAL;
		return rw(d, w, (const struct kiov *)a[1], a[2], off);
	}
	case __NR_lseek: {
		if (vol_getattr(m->v, d->id, &at))
			return -EIO;
		int64_t base = a[2] == 0 ? 0 : a[2] == 1 ? (int64_t)d->off : a[2] == 2 ? (int64_t)at.size : -1;
		if (a[2] == SEEK_DATA_ || a[2] == SEEK_HOLE_) {
			if (a[1] < 0 || (uint64_t)a[1] >= at.size)
				return -ENXIO;
			d->off = a[2] == SEEK_DATA_ ? (uint64_t)a[1] : at.size;
			return (long)d->off;
		}
		if (base < 0 || (a[1] < 0 && -a[1] > base))
			return -EINVAL;
		if (d->dir && (base + a[1]) != 0 && a[2] != 0)
			return -EINVAL;
		d->off = (uint64_t)(base + a[1]);
		return (long)d->off;
	}
	case __NR_fstat:
		return vol_getattr(m->v, d->id, &at) ? -EIO : stat_out_fd(__NR_fstat, a[1], &at, d->mount);
	case __NR_ftruncate:
		if (d->dir)
			return -EISDIR;
		if ((d->flags & O_ACCMODE) == O_RDONLY || a[1] < 0)
			return -EINVAL;
		d->written = 1;
		return vol_truncate(m->v, d->id, (uint64_t)a[1]);
	case __NR_fsync:
	case __NR_fdatasync:
	case __NR_syncfs:
	case __NR_sync_file_range:
		return sync_fd(d);
	case __NR_fadvise64:
	case __NR_readahead:
		return 0;
	case __NR_getdents64:
		return getdents(d, (uint8_t *)a[1], (size_t)a[2]);
	case __NR_getdents:
		return -ENOSYS;
	case __NR_fchmod: {
		uint32_t md = (uint32_t)a[1];
		return vol_setattr(m->v, d->id, &md, NULL, NULL, NULL, NULL, NULL, NULL);
	}
	case __NR_fchown: {
		uint32_t u = (uint32_t)a[1], g = (uint32_t)a[2];
		return vol_setattr(m->v, d->id, NULL, u == (uint32_t)-1 ? NULL : &u, g == (uint32_t)-1 ? NULL : &g,
				   NULL, NULL, NULL, NULL);
	}
	case __NR_fcntl:
		switch (a[1]) {
		case F_GETFL:
			return d->flags;
		case F_SETFL:
			d->flags = (d->flags & ~(O_APPEND | O_NONBLOCK)) | ((int)a[2] & (O_APPEND | O_NONBLOCK));
			return 0;
		default:
			*handled = 0; /* FD flags, dups, POSIX locks: on the placeholder */
			return 0;
		}
	case __NR_flock:
		return vs_flock(d, a[1]);
	case __NR_fallocate:
		return fallocate(d, a[1], a[2], a[3]);
	case __NR_copy_file_range:
	case __NR_splice:
	case __NR_tee:
	case __NR_fsetxattr:
	case __NR_fgetxattr:
	case __NR_flistxattr:
	case __NR_fremovexattr:
		return -EOPNOTSUPP;
	case __NR_ioctl:
		return -ENOTTY;
	case __NR_fstatfs:
		return -ENOSYS;
	default:
		*handled = 0;
		return 0;
	}
}

/* Whether fd is a volume fd; the result in *r when served. */
static int own(long fd) { return fd >= 0 && fd < (1 << 20) && vs_fd_get((int)fd) != NULL; }

static int dup_call(const struct sys_call *c, long *ret)
{
	long r = host_syscall(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
	if (r >= 0 && r != c->a[0]) {
		if (r >= (1 << 20) || ((c->nr == __NR_dup2 || c->nr == __NR_dup3) && r != c->a[1]))
			return shield_done(ret, -EIO);
		vs_fd_alias((int)c->a[0], (int)r);
		vs_unlock();
		rt_fd_dup(&vol_shield_ops, (int)c->a[0], (int)r);
		return shield_done(ret, r);
	}
	vs_unlock();
	return shield_done(ret, r);
}

int vs_call(const struct sys_call *c, long *ret)
{
	const long *a = c->a;
	long nr = c->nr;
	if (!vs_g.nmounts)
		return SHIELD_PASS;
	if (nr == __NR_exit_group) {
		/* this process's descriptors go (the last reference of a written
		 * description commits), then whatever else changed: the volume's
		 * state is shared, so the process that exits commits it */
		vs_lock();
		vs_proc_exit();
		for (int i = 0; i < vs_g.nmounts; i++)
			if (vs_g.m[i].v && vol_changed(vs_g.m[i].v)) {
				long e = vol_commit(vs_g.m[i].v, 0);
				if (e)
					vs_report(&vs_g.m[i], "commit at exit", e);
				else
					vs_fresh_committed(&vs_g.m[i], 0);
			}
		vs_fresh_flush();
		vs_fresh_exit();
		vs_unlock();
		return SHIELD_PASS;
	}
	/* *at relative to a volume directory */
	int dfi = -1, pi = -1;
	switch (nr) {
	case __NR_openat:
	case __NR_openat2:
	case __NR_newfstatat:
	case __NR_statx:
	case __NR_faccessat:
	case __NR_faccessat2:
	case __NR_mkdirat:
	case __NR_unlinkat:
	case __NR_readlinkat:
	case __NR_fchmodat:
	case __NR_fchmodat2:
	case __NR_fchownat:
	case __NR_utimensat:
	case __NR_mknodat:
	case __NR_renameat:
	case __NR_renameat2:
	case __NR_linkat:
		dfi = 0, pi = 1;
		break;
	case __NR_symlinkat:
		dfi = 1, pi = 2;
		break;
	default:
		break;
	}
	vs_lock();
	if ((nr == __NR_renameat || nr == __NR_renameat2 || nr == __NR_linkat) && own(a[2])) {
		vs_unlock();
		return shield_done(ret, -EXDEV); /* a volume directory as the new dirfd: rare; refused clearly */
	}
	if (dfi >= 0 && own(a[dfi])) {
		const char *p = (const char *)a[pi];
		int empty = rt_user_ok(p, 1) && !p[0];
		if (empty && (nr == __NR_newfstatat || nr == __NR_statx) &&
		    (a[nr == __NR_statx ? 2 : 3] & AT_EMPTY_PATH_)) {
			struct vs_desc *d = vs_fd_get((int)a[dfi]);
			struct vol_attr at;
			long r = vol_getattr(vs_g.m[d->mount].v, d->id, &at) ?
					 -EIO :
					 stat_out_fd(nr, nr == __NR_statx ? a[4] : a[2], &at, d->mount);
			vs_unlock();
			return shield_done(ret, r);
		}
		if (rt_user_ok(p, 1) && p[0] == '/') {
			vs_unlock();
			return SHIELD_PASS; /* absolute: dirfd ignored */
		}
		long r = at_call(c, dfi, pi);
		vs_unlock();
		return shield_done(ret, r);
	}
	if (nr == __NR_fchdir && own(a[0])) {
		struct vs_desc *d = vs_fd_get((int)a[0]);
		static char path[VOL_PATH_MAX + 1];
		long e = d->dir ? dir_path(&vs_g.m[d->mount], d->id, path, sizeof path) : -ENOTDIR;
		vs_unlock();
		return shield_done(ret, e ? e : shield_call(__NR_chdir, (long)path, 0, 0, 0, 0, 0));
	}
	if (nr == __NR_mmap && own(a[4])) {
		vs_unlock();
		return shield_done(ret, vs_mmap(c));
	}
	if ((nr == __NR_sendfile && (own(a[0]) || own(a[1]))) || (nr == __NR_copy_file_range && own(a[2]))) {
		vs_unlock();
		return shield_done(ret, -EINVAL);
	}
	if (nr == __NR_close && own(a[0])) {
		vs_fd_drop((int)a[0]);
		vs_unlock();
		return SHIELD_PASS; /* the host closes the placeholder */
	}
	if (nr == __NR_close_range) {
		for (int i = vs_g.proc->nfds - 1; i >= 0; i--) {
			unsigned long fd = (unsigned long)vs_g.proc->fds[i].fd;
			if (fd >= (unsigned long)a[0] && fd <= (unsigned long)a[1] && !(a[2] & 4 /* CLOEXEC */))
				vs_fd_drop((int)fd);
		}
		vs_unlock();
		return SHIELD_PASS;
	}
	if ((nr == __NR_dup || nr == __NR_dup2 || nr == __NR_dup3) && own(a[0]))
		return dup_call(c, ret);
	if (nr == __NR_fcntl && own(a[0]) && (a[1] == F_DUPFD || a[1] == F_DUPFD_CLOEXEC))
		return dup_call(c, ret);
	if (nr == __NR_fcntl && own(a[0]) && lock_cmd(a[1])) {
		int opath = (vs_fd_get((int)a[0])->flags & O_PATH) != 0;
		vs_unlock();
		return shield_done(ret, opath ? -EBADF : reclock_call((int)a[0], a[1], a[2]));
	}
	if ((nr == __NR_dup2 || nr == __NR_dup3) && own(a[1])) {
		vs_fd_drop((int)a[1]); /* a host fd over a volume fd */
		vs_unlock();
		return SHIELD_PASS;
	}
	if (nr >= 0 && own(a[0]) && nr != __NR_fchdir) {
		struct vs_desc *d = vs_fd_get((int)a[0]);
		long handled;
		long r = fd_call(c, d, &handled);
		vs_unlock();
		return handled ? shield_done(ret, r) : SHIELD_PASS;
	}
	vs_unlock();
	return SHIELD_PASS;
}

static int vs_active(void) { return vs_g.nmounts > 0; }

/* The shield's table: vs_call (above) is its call entry, vs_host_path
 * (vol_calls.c) its path entry, vol_shield.c has the others. */
const struct shield_ops vol_shield_ops = {
	.name = "vol",
	.order = 5,
	.init = vs_init,
	.call = vs_call,
	.active = vs_active,
	.fork_prepare = vs_fork_prepare,
	.fork_parent = vs_fork_parent,
	.fork_child = vs_fork_child,
	.fd_gone = vs_fd_gone,
	.fd_dup = vs_fd_dup,
	.owns_fd = vs_owns_fd,
	.code_fd = vs_code_fd,
	.host_path = vs_host_path,
};
RT_SHIELD(vol_shield_ops);
