/* FS shield core: the nodes of the merged tree (fsv.h): their lifetime,
 * attributes, permissions and paths. Directories are in fsv_dir.c, file
 * contents in fsv_data.c.
 *
 * The tree (nodes, names, entries, file data) is allocated with fsv_sh_*:
 * from the shared arena when the runtime set one up (fsv_arena.h), so every
 * process of the enclave sees the same ephemeral files; so are directory
 * listing snapshots (held by open file descriptions, shared too). The
 * counters next_ino/eph_bytes are reached through fs->next_ino_p and
 * fs->eph_bytes_p for the same reason (fsv_int.h). */
#include <string.h>
#include <linux/errno.h>

#include "fsv.h"
#include "fsv_int.h"
#include "rt_alloc.h"
#include "fsv_arena.h"
#include "fsv_lock.h"

#define EPH_INO_BASE (1ull << 32) /* image inode numbers are 32-bit */

size_t fsv_strlen(const char *s) { return strlen(s); }

int fsv_streq(const char *a, size_t al, const char *b, size_t bl) { return al == bl && memcmp(a, b, al) == 0; }

void fsv_now(struct fsv *fs, int64_t *sec, uint32_t *nsec)
{
	*sec = 0;
	*nsec = 0;
	if (fs->now)
		fs->now(fs->hook_ctx, sec, nsec);
}

void fsv_touch(struct fsv *fs, struct fsv_node *n, int mtime)
{
	fsv_now(fs, &n->ctime_sec, &n->ctime_nsec);
	if (mtime) {
		n->mtime_sec = n->ctime_sec;
		n->mtime_nsec = n->ctime_nsec;
	}
}

char *fsv_dupname(const char *s, size_t len)
{
	char *p = fsv_sh_malloc(len + 1);
	if (p) {
		memcpy(p, s, len);
		p[len] = 0;
	}
	return p;
}

void fsv_ref(struct fsv_node *n)
{
	if (n)
		n->refs++;
}

void fsv_free_ents(struct fsv *fs, struct fsv_node *d)
{
	for (size_t i = 0; i < d->nents; i++) {
		fsv_sh_free(d->ents[i].name);
		if (d->ents[i].node)
			fsv_unref(fs, d->ents[i].node);
	}
	fsv_sh_free(d->ents);
	d->ents = NULL;
	d->nents = d->entcap = 0;
}

/* A regular file's content (a buffer, or chunks and their index:
 * fsv_data.c), given back to the ephemeral layer's count. Every process
 * that maps a file shared holds a reference on it (the runtime's
 * fs_procs.c), so the chunks of one mapped shared go with the last
 * reference too; unless the arena says the references may be incomplete
 * (untracked), or there is no arena: they then stay taken and counted. */
static void body_free(struct fsv *fs, struct fsv_node *n)
{
	const struct fsv_arena_shared *sh = fsv_arena_shared();
	int keep = n->shared && (!sh || sh->untracked);
	size_t kept = 0;
	for (size_t i = 0; i < n->nchunk; i++)
		if (!keep)
			fsv_sh_pages_free(n->chunk[i]);
		else if (n->chunk[i])
			kept += FSV_CHUNK;
	fsv_sh_free(n->chunk);
	fsv_sh_free(n->data);
	n->cap -= kept;
	FSV_EPH_BYTES(fs) = FSV_EPH_BYTES(fs) >= n->cap ? FSV_EPH_BYTES(fs) - n->cap : 0;
	n->cap = n->nchunk = 0;
	n->chunk = NULL;
	n->data = NULL;
}

void fsv_unref(struct fsv *fs, struct fsv_node *n)
{
	if (!n || --n->refs)
		return;
	if (((n->mode & FSV_IFMT) == FSV_IFIFO || (n->mode & FSV_IFMT) == FSV_IFSOCK) && !n->img && fs->host_gone)
		fs->host_gone(fs->hook_ctx, n->ino);
	if ((n->mode & FSV_IFMT) == FSV_IFREG)
		body_free(fs, n);
	else
		fsv_sh_free(n->data);
	fsv_free_ents(fs, n);
	fsv_xattr_free(n);
	fsv_reclock_free(&n->reclocks);
	fsv_sh_free(n->name);
	fsv_sh_free(n);
}

struct fsv_node *fsv_node_new(struct fsv *fs, uint32_t mode)
{
	struct fsv_node *n = fsv_sh_calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->refs = 1;
	n->mode = mode;
	n->uid = fs->uid;
	n->gid = fs->gid;
	n->nlink = (mode & FSV_IFMT) == FSV_IFDIR ? 2 : 1;
	n->ino = FSV_NEXT_INO(fs)++;
	fsv_touch(fs, n, 1);
	n->atime_sec = n->mtime_sec;
	n->atime_nsec = n->mtime_nsec;
	return n;
}

int fsv_img_err(struct fsv *fs, struct fsv_node *n, long err)
{
	if (err != -FSV_EAUTH)
		return (int)err;
	if (fs->on_integrity) {
		char path[FSV_PATH_MAX];
		if (!n || fsv_node_path(fs, n, path, sizeof(path)) < 0)
			memcpy(path, "?", 2);
		fs->on_integrity(fs->hook_ctx, path, (int)err);
	}
	return -EIO;
}

struct fsv_node *fsv_node_from_img(struct fsv *fs, uint64_t ino, int *err)
{
	struct fsv_stat st;
	memset(&st, 0, sizeof(st));
	int r = fs->ops.stat(fs->img, ino, &st);
	if (r < 0) {
		*err = fsv_img_err(fs, NULL, r);
		return NULL;
	}
	struct fsv_node *n = fsv_sh_calloc(1, sizeof(*n));
	if (!n) {
		*err = -ENOMEM;
		return NULL;
	}
	n->refs = 1;
	n->mode = st.mode;
	n->uid = st.uid;
	n->gid = st.gid;
	n->nlink = st.nlink ? st.nlink : 1;
	n->img = 1;
	n->img_ino = ino;
	n->ino = ino;
	n->size = st.size;
	n->atime_sec = n->mtime_sec = n->ctime_sec = st.mtime_sec;
	n->atime_nsec = n->mtime_nsec = n->ctime_nsec = st.mtime_nsec;
	n->rdev_major = st.rdev_major;
	n->rdev_minor = st.rdev_minor;
	return n;
}

int fsv_init(struct fsv *fs, const struct fsv_image_ops *ops, void *img, uint64_t img_root)
{
	if (!fs->next_ino_p)
		fs->next_ino_p = &fs->next_ino;
	if (!fs->eph_bytes_p)
		fs->eph_bytes_p = &fs->eph_bytes;
	FSV_NEXT_INO(fs) = EPH_INO_BASE;
	if (!fs->dev)
		fs->dev = 0x5c0e; /* arbitrary, stable */
	if (img) {
		fs->ops = *ops;
		fs->img = img;
		fs->img_root = img_root;
		int err = 0;
		fs->root = fsv_node_from_img(fs, img_root, &err);
		if (!fs->root)
			return err;
		if (!fsv_is_dir(fs->root))
			return -ENOTDIR;
	} else {
		fs->root = fsv_node_new(fs, FSV_IFDIR | 0755);
		if (!fs->root)
			return -ENOMEM;
		fs->root->uid = fs->root->gid = 0;
	}
	fs->root->parent = fs->root;
	fs->root->name = fsv_dupname("", 0);
	return fs->root->name ? 0 : -ENOMEM;
}

void fsv_destroy(struct fsv *fs)
{
	if (fs->root) {
		fs->root->parent = NULL;
		fsv_unref(fs, fs->root);
		fs->root = NULL;
	}
	for (size_t i = 0; i < fs->nmounts; i++)
		fsv_sh_free(fs->mounts[i]);
	fs->nmounts = 0;
	fsv_sh_free(fs->exe);
	fs->exe = NULL;
}

int fsv_getattr(struct fsv *fs, struct fsv_node *n, struct fsv_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->ino = n->ino;
	st->mode = n->mode;
	st->uid = n->uid;
	st->gid = n->gid;
	st->nlink = n->nlink;
	st->size = fsv_is_dir(n) ? 4096 : n->size;
	st->atime_sec = n->atime_sec;
	st->atime_nsec = n->atime_nsec;
	st->mtime_sec = n->mtime_sec;
	st->mtime_nsec = n->mtime_nsec;
	st->ctime_sec = n->ctime_sec;
	st->ctime_nsec = n->ctime_nsec;
	st->rdev_major = n->rdev_major;
	st->rdev_minor = n->rdev_minor;
	st->blksize = 4096;
	/* Allocation as ext4 and overlayfs report it: whole 4 KiB blocks, in
	 * 512-byte units (du and ls -s totals then match the native image). */
	st->blocks = (st->size + 4095) / 4096 * 8;
	st->dev = fs->dev;
	return 0;
}

int fsv_access(struct fsv *fs, struct fsv_node *n, int mask)
{
	mask &= 7;
	if (!mask)
		return 0;
	if (fs->uid == 0) {
		/* root: everything, except executing a file without any x bit */
		if ((mask & 1) && !fsv_is_dir(n) && !(n->mode & 0111))
			return -EACCES;
		return 0;
	}
	uint32_t bits;
	if (n->uid == fs->uid)
		bits = (n->mode >> 6) & 7;
	else if (n->gid == fs->gid)
		bits = (n->mode >> 3) & 7;
	else
		bits = n->mode & 7;
	return ((uint32_t)mask & bits) == (uint32_t)mask ? 0 : -EACCES;
}

long fsv_readlink(struct fsv *fs, struct fsv_node *n, char *buf, size_t cap)
{
	if ((n->mode & FSV_IFMT) != FSV_IFLNK)
		return -EINVAL;
	if (n->data) {
		size_t l = n->size < cap ? (size_t)n->size : cap;
		memcpy(buf, n->data, l);
		return (long)l;
	}
	long r = fs->ops.readlink(fs->img, n->img_ino, buf, cap);
	if (r < 0)
		return fsv_img_err(fs, n, r);
	if ((size_t)r > cap)
		return -EIO;
	return r;
}

static int owner_or_root(struct fsv *fs, struct fsv_node *n) { return fs->uid == 0 || fs->uid == n->uid ? 0 : -EPERM; }

int fsv_chmod(struct fsv *fs, struct fsv_node *n, uint32_t mode)
{
	int r = owner_or_root(fs, n);
	if (r < 0)
		return r;
	if ((n->mode & FSV_IFMT) == FSV_IFLNK)
		return -EOPNOTSUPP;
	n->mode = (n->mode & FSV_IFMT) | (mode & 07777);
	fsv_touch(fs, n, 0);
	return 0;
}

int fsv_chown(struct fsv *fs, struct fsv_node *n, uint32_t uid, uint32_t gid)
{
	if (fs->uid != 0) {
		if (fs->uid != n->uid || (uid != (uint32_t)-1 && uid != n->uid) ||
		    (gid != (uint32_t)-1 && gid != fs->gid && gid != n->gid))
			return -EPERM;
	}
	if (uid != (uint32_t)-1)
		n->uid = uid;
	if (gid != (uint32_t)-1)
		n->gid = gid;
	fsv_touch(fs, n, 0);
	return 0;
}

int fsv_utimes(struct fsv *fs, struct fsv_node *n, const struct fsv_times *t)
{
	int r = owner_or_root(fs, n);
	if (r < 0 && fsv_access(fs, n, 2) < 0)
		return r;
	if (t->atime_omit && t->mtime_omit)
		return 0; /* like the kernel: nothing changes, not even ctime */
	fsv_touch(fs, n, 0);
	if (!t->atime_omit) {
		n->atime_sec = t->atime_sec;
		n->atime_nsec = t->atime_nsec;
	}
	if (!t->mtime_omit) {
		n->mtime_sec = t->mtime_sec;
		n->mtime_nsec = t->mtime_nsec;
	}
	return 0;
}

long fsv_node_path(struct fsv *fs, struct fsv_node *n, char *buf, size_t cap)
{
	if (cap < 2)
		return -ERANGE;
	size_t pos = cap - 1;
	buf[pos] = 0;
	struct fsv_node *p = n;
	int depth = 0;
	while (p != fs->root) {
		if (!p || p->dead || !p->name || !p->parent || ++depth > FSV_PATH_MAX / 2)
			return -ENOENT;
		size_t l = strlen(p->name);
		if (l + 1 > pos)
			return -ERANGE;
		pos -= l;
		memcpy(buf + pos, p->name, l);
		buf[--pos] = '/';
		p = p->parent;
	}
	if (pos == cap - 1)
		buf[--pos] = '/';
	size_t len = cap - 1 - pos;
	memmove(buf, buf + pos, len + 1);
	return (long)len;
}
