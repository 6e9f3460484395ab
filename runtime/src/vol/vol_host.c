/* Volume shield: the host directory of a mount, as the vol_host of the
 * format library, over host system calls (a small cache of open host
 * files, so page reads cost one pread). Each process has its own
 * descriptors: a remove or rename by any process bumps the shared epoch,
 * and a process whose cache is older than the epoch empties it, so that
 * no process reads a name through a descriptor of the file it used to
 * name (write_atomic renames a new file over an old one). Calls no other
 * file of the shield; vol_shield.c sets it up at start-up. */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include "vol_shield.h"
#include "transport.h"
#include "fdtab.h"
#include "random.h"
#include "rtstring.h"
#include "sys.h"

#define O_PATH_ 010000000

/* A host name changed: the other processes' caches are stale (this one's
 * was kept current by forget). */
static void names_changed(struct vs_mount *m)
{
	uint32_t e = __atomic_add_fetch(&vs_g.sh->host_epoch, 1, __ATOMIC_SEQ_CST);
	if (m->epoch == e - 1)
		m->epoch = e;
}

static long hfd(struct vs_mount *m, const char *name, int create)
{
	uint32_t e = __atomic_load_n(&vs_g.sh->host_epoch, __ATOMIC_SEQ_CST);
	if (m->epoch != e) {
		vs_host_close(m);
		m->epoch = e;
	}
	size_t nl = strlen(name);
	struct vs_hostfd *lru = &m->cache[0];
	for (int i = 0; i < VS_HOST_FDS; i++) {
		struct vs_hostfd *c = &m->cache[i];
		if (c->fd > 0 && nl < sizeof c->name && !rt_strcmp(c->name, name)) {
			c->use = ++m->clock;
			return c->fd;
		}
		if (c->use < lru->use)
			lru = c;
	}
	if (nl >= sizeof lru->name)
		return -ENAMETOOLONG;
	long fd = host_syscall(__NR_openat, m->dirfd, (long)name, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600, 0,
			       0);
	if (fd == -ENOENT && create && name[0] == 'f' && name[1] == '/') {
		host_syscall(__NR_mkdirat, m->dirfd, (long)"f", 0700, 0, 0, 0);
		fd = host_syscall(__NR_openat, m->dirfd, (long)name, O_RDWR | O_CLOEXEC | O_CREAT, 0600, 0, 0);
	}
	if (fd < 0)
		return fd;
	rt_fdtab_hide((int)fd); /* the runtime's, not the application's */
	if (lru->fd > 0)
		host_syscall(__NR_close, lru->fd, 0, 0, 0, 0, 0);
	memcpy(lru->name, name, nl + 1);
	lru->fd = (int)fd;
	lru->use = ++m->clock;
	return fd;
}

static void forget(struct vs_mount *m, const char *name)
{
	for (int i = 0; i < VS_HOST_FDS; i++)
		if (m->cache[i].fd > 0 && !rt_strcmp(m->cache[i].name, name)) {
			host_syscall(__NR_close, m->cache[i].fd, 0, 0, 0, 0, 0);
			m->cache[i].fd = 0;
			m->cache[i].name[0] = 0;
		}
}

static long h_pread(void *c, const char *name, void *buf, size_t n, uint64_t off)
{
	long fd = hfd(c, name, 0);
	if (fd < 0)
		return fd;
	size_t got = 0;
	while (got < n) {
		long r =
			host_syscall(__NR_pread64, fd, (long)buf + (long)got, (long)(n - got), (long)(off + got), 0, 0);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		if ((size_t)r > n - got) /* Iago: never more than asked */
			return -EIO;
		got += (size_t)r;
	}
	return (long)got;
}

static long h_pwrite(void *c, const char *name, const void *buf, size_t n, uint64_t off)
{
	long fd = hfd(c, name, 1);
	if (fd < 0)
		return fd;
	size_t done = 0;
	while (done < n) {
		long r = host_syscall(__NR_pwrite64, fd, (long)buf + (long)done, (long)(n - done), (long)(off + done),
				      0, 0);
		if (r < 0)
			return r;
		if (r == 0 || (size_t)r > n - done)
			return -EIO;
		done += (size_t)r;
	}
	return (long)done;
}

static long h_size(void *c, const char *name, uint64_t *sz)
{
	struct vs_mount *m = c;
	uint8_t st[144];
	long r = host_syscall(__NR_newfstatat, m->dirfd, (long)name, (long)st, 0, 0, 0);
	if (r < 0)
		return r;
	int64_t s;
	memcpy(&s, st + 48, 8); /* st_size (x86-64) */
	if (s < 0)
		return -EIO;
	*sz = (uint64_t)s;
	return 0;
}

static long h_sync(void *c, const char *name)
{
	struct vs_mount *m = c;
	if (name[0] == '.' && !name[1])
		return host_syscall(__NR_fsync, m->dirfd, 0, 0, 0, 0, 0) == -EBADF ? 0 : 0;
	long fd = hfd(c, name, 0);
	return fd < 0 ? fd : host_syscall(__NR_fdatasync, fd, 0, 0, 0, 0, 0);
}

static long h_truncate(void *c, const char *name, uint64_t sz)
{
	long fd = hfd(c, name, 0);
	return fd < 0 ? fd : host_syscall(__NR_ftruncate, fd, (long)sz, 0, 0, 0, 0);
}

static long h_remove(void *c, const char *name)
{
	struct vs_mount *m = c;
	forget(m, name);
	long r = host_syscall(__NR_unlinkat, m->dirfd, (long)name, 0, 0, 0, 0);
	names_changed(m);
	return r == -ENOENT ? 0 : r;
}

static long h_rename(void *c, const char *a, const char *b)
{
	struct vs_mount *m = c;
	forget(m, a);
	forget(m, b);
	long r = host_syscall(__NR_renameat, m->dirfd, (long)a, m->dirfd, (long)b, 0, 0);
	names_changed(m);
	return r;
}

static long h_list(void *c, const char *dir, void (*fn)(void *, const char *), void *arg)
{
	struct vs_mount *m = c;
	long fd = host_syscall(__NR_openat, m->dirfd, (long)dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return fd;
	static uint8_t buf[8192];
	long r;
	while ((r = host_syscall(__NR_getdents64, fd, (long)buf, sizeof buf, 0, 0, 0)) > 0) {
		for (long o = 0; o + 19 < r;) {
			uint16_t rl;
			memcpy(&rl, buf + o + 16, 2);
			if (rl < 20 || o + rl > r) { /* Iago: records inside the buffer */
				r = -EIO;
				break;
			}
			const char *nm = (const char *)buf + o + 19;
			size_t max = (size_t)rl - 19, k = 0;
			while (k < max && nm[k])
				k++;
			if (k < max && rt_strcmp(nm, ".") && rt_strcmp(nm, ".."))
				fn(arg, nm);
			o += rl;
		}
		if (r < 0)
			break;
	}
	host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
	return r < 0 ? r : 0;
}

static void h_now(void *c, int64_t *s, uint32_t *ns)
{
	(void)c;
	int64_t ts[2] = {0, 0};
	host_syscall(__NR_clock_gettime, 0, (long)ts, 0, 0, 0, 0);
	*s = ts[0];
	*ns = ts[1] >= 0 && ts[1] < 1000000000 ? (uint32_t)ts[1] : 0;
}

static long h_random(void *c, void *buf, size_t n)
{
	(void)c;
	rt_random(buf, n);
	return 0;
}

void vs_host_init(struct vs_mount *m)
{
	m->host = (struct vol_host){m,	      h_pread,	h_pwrite, h_size, h_sync,  h_truncate,
				    h_remove, h_rename, h_list,	  h_now,  h_random};
}

void vs_host_close(struct vs_mount *m)
{
	for (int i = 0; i < VS_HOST_FDS; i++)
		if (m->cache[i].fd > 0) {
			host_syscall(__NR_close, m->cache[i].fd, 0, 0, 0, 0, 0);
			m->cache[i].fd = 0;
			m->cache[i].name[0] = 0;
		}
}
