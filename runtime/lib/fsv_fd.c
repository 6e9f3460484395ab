/* FS shield core: open file descriptions and the virtual fd table (fsv.h). */
#include <string.h>
#include <linux/errno.h>
#include <linux/fcntl.h>

#include "fsv.h"
#include "fsv_arena.h"
#include "fsv_lock.h"
#include "rt_alloc.h"

/* Open file descriptions (and their directory snapshot and chunk cache)
 * live in the shared arena when there is one (fsv_arena.h): after a fork,
 * parent and child share them like the kernel shares open file
 * descriptions (offset, flags). The fd table itself is per process. */

#define BIT_W(fd) ((unsigned)(fd) / (8 * sizeof(unsigned long)))
#define BIT_B(fd) (1UL << ((unsigned)(fd) % (8 * sizeof(unsigned long))))

static void bit_set(unsigned long *map, int fd, int on)
{
	if (!map || fd < 0 || fd >= FSV_FD_LIMIT)
		return;
	if (on)
		__atomic_or_fetch(&map[BIT_W(fd)], BIT_B(fd), __ATOMIC_RELEASE);
	else
		__atomic_and_fetch(&map[BIT_W(fd)], ~BIT_B(fd), __ATOMIC_RELEASE);
}

/* fd's entry changed: live or not, and unmarked either way. */
static void live_set(struct fsv_fdtab *t, int fd, int on)
{
	bit_set(t->live, fd, on);
	bit_set(t->mark, fd, 0);
}

void fsv_fd_mark(struct fsv_fdtab *t, int fd) { bit_set(t->mark, fd, 1); }

void fsv_fd_unmark(struct fsv_fdtab *t, int fd) { bit_set(t->mark, fd, 0); }

int fsv_fd_marked(const struct fsv_fdtab *t, int fd)
{
	if (!t->mark || fd < 0 || fd >= FSV_FD_LIMIT)
		return 0;
	return (__atomic_load_n(&t->mark[BIT_W(fd)], __ATOMIC_ACQUIRE) & BIT_B(fd)) != 0;
}

struct fsv_file *fsv_file_new(struct fsv_node *node, uint32_t flags)
{
	struct fsv_file *f = fsv_sh_calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->refs = 1;
	f->flags = flags;
	f->node = node;
	fsv_ref(node);
	return f;
}

void fsv_file_ref(struct fsv_file *f) { f->refs++; }

static void flock_drop(struct fsv *fs, struct fsv_file *f)
{
	for (struct fsv_file **p = &f->node->flockers; *p; p = &(*p)->flock_next) {
		if (*p == f) {
			*p = f->flock_next;
			break;
		}
	}
	f->flock = 0;
	f->flock_next = NULL;
	if (fs->flock_released)
		fs->flock_released(fs->hook_ctx);
}

int fsv_flock(struct fsv *fs, struct fsv_file *f, int op)
{
	if (op == FSV_FLOCK_UN) {
		if (f->flock)
			flock_drop(fs, f);
		return 0;
	}
	if (op != FSV_FLOCK_SH && op != FSV_FLOCK_EX)
		return -EINVAL;
	for (struct fsv_file *g = f->node->flockers; g; g = g->flock_next) {
		if (g != f && (op == FSV_FLOCK_EX || g->flock == FSV_FLOCK_EX)) {
			if (f->flock && f->flock != op)
				flock_drop(fs, f);
			return -EWOULDBLOCK;
		}
	}
	if (!f->flock) {
		f->flock_next = f->node->flockers;
		f->node->flockers = f;
	}
	int weaker = f->flock == FSV_FLOCK_EX && op == FSV_FLOCK_SH;
	f->flock = (uint8_t)op;
	if (weaker && fs->flock_released)
		fs->flock_released(fs->hook_ctx);
	return 0;
}

/* The process drops one of its descriptors of f's file: its POSIX locks
 * on the file go, whatever description they were taken through (Linux's
 * close semantics). */
static void reclock_fd_gone(struct fsv *fs, struct fsv_file *f)
{
	if (!f->node->reclocks || !fs->self_pid)
		return;
	if (fsv_reclock_drop(&f->node->reclocks, 0, (uint64_t)fs->self_pid(fs->hook_ctx)) && fs->reclock_released)
		fs->reclock_released(fs->hook_ctx);
}

void fsv_file_unref(struct fsv *fs, struct fsv_file *f)
{
	if (!f || --f->refs)
		return;
	if (f->flock)
		flock_drop(fs, f);
	/* the description's OFD locks */
	if (f->node->reclocks && fsv_reclock_drop(&f->node->reclocks, 1, (uint64_t)(uintptr_t)f) &&
	    fs->reclock_released)
		fs->reclock_released(fs->hook_ctx);
	if (f->dir_valid)
		fsv_list_free(&f->dir);
	fsv_sh_free(f->cache);
	fsv_unref(fs, f->node);
	fsv_sh_free(f);
}

int fsv_fd_install(struct fsv *fs, struct fsv_fdtab *t, int fd, struct fsv_file *f)
{
	if (fd < 0 || fd >= FSV_FD_LIMIT)
		return -EBADF;
	if ((size_t)fd >= t->cap) {
		size_t nc = t->cap ? t->cap : 64;
		while (nc <= (size_t)fd)
			nc *= 2;
		struct fsv_file **nv = fsv_sh_calloc(nc, sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		if (t->cap)
			memcpy(nv, t->v, t->cap * sizeof(*nv));
		fsv_sh_free(t->v);
		t->v = nv;
		t->cap = nc;
	}
	fsv_file_ref(f);
	struct fsv_file *old = t->v[fd];
	t->v[fd] = f;
	live_set(t, fd, 1);
	if (old) {
		reclock_fd_gone(fs, old);
		fsv_file_unref(fs, old);
	} else
		t->count++;
	return 0;
}

struct fsv_file *fsv_fd_get(const struct fsv_fdtab *t, int fd)
{
	if (fd < 0 || (size_t)fd >= t->cap)
		return NULL;
	return t->v[fd];
}

int fsv_fd_remove(struct fsv *fs, struct fsv_fdtab *t, int fd)
{
	struct fsv_file *f = fsv_fd_get(t, fd);
	if (!f)
		return 0;
	t->v[fd] = NULL;
	live_set(t, fd, 0);
	t->count--;
	reclock_fd_gone(fs, f);
	fsv_file_unref(fs, f);
	return 1;
}

void fsv_fd_destroy(struct fsv *fs, struct fsv_fdtab *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		if (t->v[i]) {
			live_set(t, (int)i, 0);
			reclock_fd_gone(fs, t->v[i]);
			fsv_file_unref(fs, t->v[i]);
		}
	}
	fsv_sh_free(t->v);
	t->v = NULL;
	t->cap = t->count = 0;
}

void fsv_fd_orphan(struct fsv *fs, struct fsv_fdtab *t, uint64_t owner)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct fsv_file *f = t->v[i];
		if (!f)
			continue;
		if (f->node->reclocks && fsv_reclock_drop(&f->node->reclocks, 0, owner) && fs->reclock_released)
			fs->reclock_released(fs->hook_ctx);
		fsv_file_unref(fs, f);
	}
	fsv_sh_free(t->v);
	t->v = NULL;
	t->cap = t->count = 0;
}

static int readable(const struct fsv_file *f) { return !(f->flags & O_PATH) && (f->flags & O_ACCMODE) != O_WRONLY; }

static int writable(const struct fsv_file *f)
{
	return !(f->flags & O_PATH) && ((f->flags & O_ACCMODE) == O_WRONLY || (f->flags & O_ACCMODE) == O_RDWR);
}

/* Reads image content chunk-aligned: whole chunks go straight to the
 * caller's buffer, pieces of a chunk come from the description's cache of
 * its last authenticated chunk (image content never changes), so small or
 * unaligned reads authenticate each chunk once instead of once per read. */
static long cached_read(struct fsv *fs, struct fsv_file *f, void *buf, size_t len, uint64_t off)
{
	struct fsv_node *n = f->node;
	if (!fs->chunk || n->copied || !n->img || (n->mode & FSV_IFMT) != FSV_IFREG) {
		if (f->cache && n->copied) {
			fsv_sh_free(f->cache);
			f->cache = NULL;
			f->cache_len = 0;
		}
		return fsv_read(fs, n, buf, len, off);
	}
	if (off >= n->size || !len)
		return 0;
	if (len > n->size - off)
		len = (size_t)(n->size - off);
	const uint64_t mask = (uint64_t)fs->chunk - 1;
	size_t done = 0;
	while (done < len) {
		uint64_t p = off + done;
		if (!(p & mask) && len - done >= fs->chunk) {
			size_t whole = (size_t)((len - done) & ~mask);
			long r = fsv_read(fs, n, (uint8_t *)buf + done, whole, p);
			if (r <= 0)
				return done ? (long)done : r;
			done += (size_t)r;
			if ((size_t)r < whole)
				break;
			continue;
		}
		if (!f->cache || p < f->cache_off || p >= f->cache_off + f->cache_len) {
			if (!f->cache && !(f->cache = fsv_sh_malloc(fs->chunk)))
				return done ? (long)done : fsv_read(fs, n, (uint8_t *)buf, len, off);
			uint64_t base = p & ~mask;
			f->cache_len = 0;
			long r = fsv_read(fs, n, f->cache, fs->chunk, base);
			if (r <= 0)
				return done ? (long)done : r;
			f->cache_off = base;
			f->cache_len = (size_t)r;
			if (p >= base + (uint64_t)r)
				break; /* shorter than the stat said: end of data */
		}
		size_t k = (size_t)(f->cache_off + f->cache_len - p);
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)buf + done, f->cache + (p - f->cache_off), k);
		done += k;
	}
	return (long)done;
}

long fsv_file_read(struct fsv *fs, struct fsv_file *f, void *buf, size_t len, int64_t pos)
{
	if (!readable(f))
		return -EBADF;
	if ((f->node->mode & FSV_IFMT) == FSV_IFDIR)
		return -EISDIR;
	uint64_t off = pos < 0 ? f->off : (uint64_t)pos;
	long r = cached_read(fs, f, buf, len, off);
	if (r > 0 && pos < 0)
		f->off += (uint64_t)r;
	return r;
}

long fsv_file_write(struct fsv *fs, struct fsv_file *f, const void *buf, size_t len, int64_t pos)
{
	if (!writable(f))
		return -EBADF;
	uint64_t off = pos < 0 ? f->off : (uint64_t)pos;
	/* Linux: O_APPEND appends even for pwrite */
	if (f->flags & O_APPEND)
		off = f->node->size;
	long r = fsv_write(fs, f->node, buf, len, off);
	if (r >= 0 && pos < 0)
		f->off = off + (uint64_t)r;
	return r;
}

int64_t fsv_file_seek(struct fsv *fs, struct fsv_file *f, int64_t off, int whence)
{
	(void)fs;
	if (f->flags & O_PATH)
		return -EBADF;
	int64_t base;
	uint64_t size = f->node->size;
	int isdir = (f->node->mode & FSV_IFMT) == FSV_IFDIR;
	switch (whence) {
	case 0: /* SEEK_SET */
		base = 0;
		break;
	case 1: /* SEEK_CUR */
		base = (int64_t)f->off;
		break;
	case 2: /* SEEK_END */
		if (isdir)
			return -EINVAL;
		base = (int64_t)size;
		break;
	case 3: /* SEEK_DATA */
	case 4: /* SEEK_HOLE */
		if (isdir || off < 0 || (uint64_t)off >= size)
			return -ENXIO;
		if (whence == 4)
			off = (int64_t)size;
		f->off = (uint64_t)off;
		return off;
	default:
		return -EINVAL;
	}
	if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
		return -EINVAL;
	int64_t n = base + off;
	if (isdir && n == 0 && f->dir_valid) {
		fsv_list_free(&f->dir);
		f->dir_valid = 0; /* rewinddir: take a fresh snapshot */
	}
	f->off = (uint64_t)n;
	return n;
}

long fsv_file_getdents(struct fsv *fs, struct fsv_file *f, void *buf, size_t len)
{
	if (f->flags & O_PATH)
		return -EBADF;
	if ((f->node->mode & FSV_IFMT) != FSV_IFDIR)
		return -ENOTDIR;
	if (!f->dir_valid) {
		int r = fsv_list(fs, f->node, &f->dir);
		if (r < 0)
			return r;
		f->dir_valid = 1;
	}
	uint8_t *p = buf;
	size_t used = 0;
	while (f->off < f->dir.n) {
		const struct fsv_dirent *e = &f->dir.e[f->off];
		size_t nl = strlen(e->name);
		size_t reclen = (19 + nl + 1 + 7) & ~(size_t)7;
		if (used + reclen > len) {
			if (used == 0)
				return -EINVAL;
			break;
		}
		uint8_t *d = p + used;
		memset(d, 0, reclen);
		uint64_t ino = e->ino;
		int64_t next = (int64_t)f->off + 1;
		uint16_t rl = (uint16_t)reclen;
		memcpy(d, &ino, 8);
		memcpy(d + 8, &next, 8);
		memcpy(d + 16, &rl, 2);
		d[18] = e->type;
		memcpy(d + 19, e->name, nl);
		used += reclen;
		f->off++;
	}
	return (long)used;
}
