/* FS shield core: the merged tree of image and ephemeral nodes (fsv.h). */
#include <string.h>
#include <linux/errno.h>

#include "fsv.h"
#include "fsv_arena.h"
#include "rt_alloc.h"

/* The tree (nodes, names, entries, file data) is allocated with fsv_sh_*:
 * from the shared arena when the runtime set one up (fsv_arena.h), so every
 * process of the enclave sees the same ephemeral files; so are directory
 * listing snapshots (held by open file descriptions, shared too). The
 * counters next_ino/eph_bytes are reached through fs->next_ino_p and
 * fs->eph_bytes_p for the same reason. */
#define NEXT_INO(fs) (*(fs)->next_ino_p)
#define EPH_BYTES(fs) (*(fs)->eph_bytes_p)

#define EPH_INO_BASE (1ull << 32) /* image inode numbers are 32-bit */

size_t fsv_strlen(const char *s) { return strlen(s); }

int fsv_streq(const char *a, size_t al, const char *b, size_t bl)
{
	return al == bl && memcmp(a, b, al) == 0;
}

static int is_dir(const struct fsv_node *n) { return (n->mode & FSV_IFMT) == FSV_IFDIR; }

static void now(struct fsv *fs, int64_t *sec, uint32_t *nsec)
{
	*sec = 0;
	*nsec = 0;
	if (fs->now)
		fs->now(fs->hook_ctx, sec, nsec);
}

static void touch(struct fsv *fs, struct fsv_node *n, int mtime)
{
	now(fs, &n->ctime_sec, &n->ctime_nsec);
	if (mtime) {
		n->mtime_sec = n->ctime_sec;
		n->mtime_nsec = n->ctime_nsec;
	}
}

static char *dupname(const char *s, size_t len)
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

static void free_ents(struct fsv *fs, struct fsv_node *d)
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

void fsv_unref(struct fsv *fs, struct fsv_node *n)
{
	if (!n || --n->refs)
		return;
	if (n->data) {
		if ((n->mode & FSV_IFMT) == FSV_IFREG && EPH_BYTES(fs) >= n->cap)
			EPH_BYTES(fs) -= n->cap;
		fsv_sh_free(n->data);
	}
	free_ents(fs, n);
	fsv_sh_free(n->name);
	fsv_sh_free(n);
}

static struct fsv_node *node_new(struct fsv *fs, uint32_t mode)
{
	struct fsv_node *n = fsv_sh_calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->refs = 1;
	n->mode = mode;
	n->uid = fs->uid;
	n->gid = fs->gid;
	n->nlink = (mode & FSV_IFMT) == FSV_IFDIR ? 2 : 1;
	n->ino = NEXT_INO(fs)++;
	touch(fs, n, 1);
	return n;
}

static int img_err(struct fsv *fs, struct fsv_node *n, long err)
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

static struct fsv_node *node_from_img(struct fsv *fs, uint64_t ino, int *err)
{
	struct fsv_stat st;
	memset(&st, 0, sizeof(st));
	int r = fs->ops.stat(fs->img, ino, &st);
	if (r < 0) {
		*err = img_err(fs, NULL, r);
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
	n->mtime_sec = n->ctime_sec = st.mtime_sec;
	n->mtime_nsec = n->ctime_nsec = st.mtime_nsec;
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
	NEXT_INO(fs) = EPH_INO_BASE;
	if (!fs->dev)
		fs->dev = 0x5c0e; /* arbitrary, stable */
	if (img) {
		fs->ops = *ops;
		fs->img = img;
		fs->img_root = img_root;
		int err = 0;
		fs->root = node_from_img(fs, img_root, &err);
		if (!fs->root)
			return err;
		if (!is_dir(fs->root))
			return -ENOTDIR;
	} else {
		fs->root = node_new(fs, FSV_IFDIR | 0755);
		if (!fs->root)
			return -ENOMEM;
		fs->root->uid = fs->root->gid = 0;
	}
	fs->root->parent = fs->root;
	fs->root->name = dupname("", 0);
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

static long find_dent(const struct fsv_node *d, const char *name, size_t len)
{
	for (size_t i = 0; i < d->nents; i++)
		if (fsv_streq(d->ents[i].name, d->ents[i].len, name, len))
			return (long)i;
	return -1;
}

/* Sets the entry name in d to n (NULL: whiteout), taking over one reference
 * of n. Replaces an existing entry (dropping its reference). */
static int set_dent(struct fsv *fs, struct fsv_node *d, const char *name, size_t len, struct fsv_node *n)
{
	long i = find_dent(d, name, len);
	if (i >= 0) {
		struct fsv_node *old = d->ents[i].node;
		d->ents[i].node = n;
		if (old)
			fsv_unref(fs, old);
	} else {
		if (d->nents == d->entcap) {
			size_t nc = d->entcap ? d->entcap * 2 : 8;
			struct fsv_dent *ne = fsv_sh_malloc(nc * sizeof(*ne));
			if (!ne)
				return -ENOMEM;
			if (d->nents)
				memcpy(ne, d->ents, d->nents * sizeof(*ne));
			fsv_sh_free(d->ents);
			d->ents = ne;
			d->entcap = nc;
		}
		char *nm = dupname(name, len);
		if (!nm)
			return -ENOMEM;
		d->ents[d->nents].name = nm;
		d->ents[d->nents].len = (uint32_t)len;
		d->ents[d->nents].node = n;
		d->nents++;
	}
	if (n) {
		char *nm = dupname(name, len);
		if (!nm)
			return -ENOMEM; /* entry is set; only the back-pointer name is stale */
		fsv_sh_free(n->name);
		n->name = nm;
		n->parent = d;
	}
	return 0;
}

static void drop_dent(struct fsv *fs, struct fsv_node *d, long i)
{
	struct fsv_node *old = d->ents[i].node;
	fsv_sh_free(d->ents[i].name);
	d->ents[i] = d->ents[d->nents - 1];
	d->nents--;
	if (old)
		fsv_unref(fs, old);
}

int fsv_lookup(struct fsv *fs, struct fsv_node *dir, const char *name, size_t len, struct fsv_node **out)
{
	*out = NULL;
	if (!is_dir(dir))
		return -ENOTDIR;
	if (dir->dead)
		return -ENOENT;
	if (len > FSV_NAME_MAX)
		return -ENAMETOOLONG;
	long i = find_dent(dir, name, len);
	if (i >= 0) {
		if (!dir->ents[i].node)
			return -ENOENT;
		*out = dir->ents[i].node;
		fsv_ref(*out);
		return 0;
	}
	if (!dir->img || dir->opaque)
		return -ENOENT;
	uint64_t ino;
	int r = fs->ops.lookup(fs->img, dir->img_ino, name, len, &ino);
	if (r < 0)
		return r == -FSV_EAUTH ? img_err(fs, dir, r) : (r == -ENOTDIR ? -ENOTDIR : -ENOENT);
	int err = 0;
	struct fsv_node *n = node_from_img(fs, ino, &err);
	if (!n)
		return err;
	r = set_dent(fs, dir, name, len, n); /* the entry owns the first reference */
	if (r < 0) {
		fsv_unref(fs, n);
		return r;
	}
	fsv_ref(n);
	*out = n;
	return 0;
}

int fsv_getattr(struct fsv *fs, struct fsv_node *n, struct fsv_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->ino = n->ino;
	st->mode = n->mode;
	st->uid = n->uid;
	st->gid = n->gid;
	st->nlink = n->nlink;
	st->size = is_dir(n) ? 4096 : n->size;
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
		if ((mask & 1) && !is_dir(n) && !(n->mode & 0111))
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

static int dir_writable(struct fsv *fs, struct fsv_node *dir)
{
	if (!is_dir(dir))
		return -ENOTDIR;
	if (dir->dead)
		return -ENOENT;
	return fsv_access(fs, dir, 3);
}

/* 0 when dir has no entry name, -EEXIST when it has, or the lookup's error. */
static int name_free(struct fsv *fs, struct fsv_node *dir, const char *name, size_t len)
{
	struct fsv_node *ex;
	int r = fsv_lookup(fs, dir, name, len, &ex);
	if (r == 0) {
		fsv_unref(fs, ex);
		return -EEXIST;
	}
	return r == -ENOENT ? 0 : r;
}

int fsv_create(struct fsv *fs, struct fsv_node *dir, const char *name, size_t len, uint32_t mode,
	       const char *target, struct fsv_node **out)
{
	if (out)
		*out = NULL;
	int r = dir_writable(fs, dir);
	if (r < 0)
		return r;
	if (len == 0)
		return -ENOENT;
	if ((r = name_free(fs, dir, name, len)) < 0)
		return r;
	uint32_t type = mode & FSV_IFMT;
	if (!type)
		type = FSV_IFREG;
	struct fsv_node *n = node_new(fs, type | (mode & 07777));
	if (!n)
		return -ENOMEM;
	if (type == FSV_IFREG)
		n->copied = 1;
	if (type == FSV_IFLNK) {
		size_t tl = target ? strlen(target) : 0;
		if (tl == 0 || tl >= FSV_PATH_MAX) {
			fsv_unref(fs, n);
			return tl ? -ENAMETOOLONG : -ENOENT;
		}
		n->data = (uint8_t *)dupname(target, tl);
		if (!n->data) {
			fsv_unref(fs, n);
			return -ENOMEM;
		}
		n->size = tl;
		n->mode = FSV_IFLNK | 0777;
	}
	if (type == FSV_IFDIR && (dir->mode & 02000))
		n->mode |= 02000;
	if (dir->mode & 02000)
		n->gid = dir->gid;
	r = set_dent(fs, dir, name, len, n);
	if (r < 0) {
		fsv_unref(fs, n);
		return r;
	}
	if (type == FSV_IFDIR)
		dir->nlink++;
	touch(fs, dir, 1);
	if (out) {
		fsv_ref(n);
		*out = n;
	}
	return 0;
}

int fsv_link(struct fsv *fs, struct fsv_node *n, struct fsv_node *dir, const char *name, size_t len)
{
	if (is_dir(n))
		return -EPERM;
	int r = dir_writable(fs, dir);
	if (r < 0)
		return r;
	if ((r = name_free(fs, dir, name, len)) < 0)
		return r;
	if (n->dead && n->nlink == 0)
		return -ENOENT;
	/* An image file linked elsewhere must keep one identity: copy it up so
	 * both names share the ephemeral content. */
	if ((n->mode & FSV_IFMT) == FSV_IFREG && (r = fsv_copy_up(fs, n)) < 0)
		return r;
	struct fsv_node *keep_parent = n->parent;
	char *keep_name = n->name;
	n->name = NULL;
	fsv_ref(n);
	r = set_dent(fs, dir, name, len, n);
	if (r < 0) {
		fsv_unref(fs, n);
		n->name = keep_name;
		return r;
	}
	/* The node keeps its first name as its path. */
	fsv_sh_free(n->name);
	n->name = keep_name;
	n->parent = keep_parent;
	n->nlink++;
	touch(fs, n, 0);
	touch(fs, dir, 1);
	return 0;
}

static int dir_empty(struct fsv *fs, struct fsv_node *d)
{
	struct fsv_dirlist l;
	int r = fsv_list(fs, d, &l);
	if (r < 0)
		return r;
	size_t n = l.n;
	fsv_list_free(&l);
	return n <= 2 ? 1 : 0;
}

/* Unlinks entry i of dir (node n, referenced by the caller too). */
static void unlink_entry(struct fsv *fs, struct fsv_node *dir, const char *name, size_t len,
			 struct fsv_node *n)
{
	long i = find_dent(dir, name, len);
	if (is_dir(n)) {
		n->dead = 1;
		n->nlink = 0;
		free_ents(fs, n);
		dir->nlink--;
	} else if (n->nlink) {
		n->nlink--;
		if (!n->nlink)
			n->dead = 1;
	}
	/* The node's back-pointer names this entry: it no longer holds (the
	 * directory may be freed later). A removed node has no path; a file
	 * still linked elsewhere loses its path too (its other names are not
	 * recorded). A removed directory has no parent: ".." fails (ENOENT). */
	if (is_dir(n) || (n->parent == dir && n->name && fsv_streq(n->name, strlen(n->name), name, len)))
		n->parent = NULL;
	touch(fs, n, 0);
	if (i < 0)
		return;
	if (dir->img && !dir->opaque) {
		struct fsv_node *old = dir->ents[i].node;
		dir->ents[i].node = NULL; /* whiteout */
		if (old)
			fsv_unref(fs, old);
	} else {
		drop_dent(fs, dir, i);
	}
}

int fsv_remove(struct fsv *fs, struct fsv_node *dir, const char *name, size_t len, int rmdir)
{
	int r = dir_writable(fs, dir);
	if (r < 0)
		return r;
	struct fsv_node *n;
	r = fsv_lookup(fs, dir, name, len, &n);
	if (r < 0)
		return r;
	if (rmdir && !is_dir(n))
		r = -ENOTDIR;
	else if (!rmdir && is_dir(n))
		r = -EISDIR;
	else if (n == fs->root)
		r = -EBUSY;
	else if (rmdir && (r = dir_empty(fs, n)) >= 0)
		r = r ? 0 : -ENOTEMPTY;
	if (r == 0 && (dir->mode & 01000) && fs->uid != 0 && fs->uid != n->uid && fs->uid != dir->uid)
		r = -EPERM;
	if (r == 0) {
		unlink_entry(fs, dir, name, len, n);
		touch(fs, dir, 1);
	}
	fsv_unref(fs, n);
	return r;
}

static int is_ancestor(struct fsv *fs, struct fsv_node *a, struct fsv_node *d)
{
	for (struct fsv_node *p = d; p; p = p->parent) {
		if (p == a)
			return 1;
		if (p == fs->root)
			break;
	}
	return 0;
}

int fsv_rename(struct fsv *fs, struct fsv_node *od, const char *on, size_t ol, struct fsv_node *nd,
	       const char *nn, size_t nl, unsigned flags)
{
	if (flags & ~3u || flags == 3)
		return -EINVAL;
	int r = dir_writable(fs, od);
	if (r == 0)
		r = dir_writable(fs, nd);
	if (r < 0)
		return r;
	struct fsv_node *src, *dst = NULL;
	r = fsv_lookup(fs, od, on, ol, &src);
	if (r < 0)
		return r;
	r = fsv_lookup(fs, nd, nn, nl, &dst);
	if (r < 0 && r != -ENOENT)
		goto out;
	r = 0;
	if ((flags & 2) && !dst) {
		r = -ENOENT;
		goto out;
	}
	if ((flags & 1) && dst) {
		r = -EEXIST;
		goto out;
	}
	if (src == dst) /* same object (or hard links of it): nothing to do */
		goto out;
	if (src == fs->root || dst == fs->root) {
		r = -EBUSY;
		goto out;
	}
	if ((is_dir(src) && is_ancestor(fs, src, nd)) || (dst && is_dir(dst) && is_ancestor(fs, dst, od))) {
		r = -EINVAL;
		goto out;
	}
	if (flags & 2) {
		/* exchange: both entries stay, their nodes swap */
		fsv_ref(src);
		fsv_ref(dst);
		if ((r = set_dent(fs, nd, nn, nl, src)) < 0 || (r = set_dent(fs, od, on, ol, dst)) < 0)
			goto out;
		if (is_dir(src) != is_dir(dst) && od != nd) {
			if (is_dir(src)) {
				nd->nlink++;
				od->nlink--;
			} else {
				od->nlink++;
				nd->nlink--;
			}
		}
		touch(fs, od, 1);
		touch(fs, nd, 1);
		goto out;
	}
	if (dst) {
		if (is_dir(src) && !is_dir(dst)) {
			r = -ENOTDIR;
			goto out;
		}
		if (!is_dir(src) && is_dir(dst)) {
			r = -EISDIR;
			goto out;
		}
		if (is_dir(dst)) {
			r = dir_empty(fs, dst);
			if (r <= 0) {
				r = r < 0 ? r : -ENOTEMPTY;
				goto out;
			}
			r = 0;
		}
		unlink_entry(fs, nd, nn, nl, dst);
	}
	/* Link src under the new name, then remove the old entry. */
	fsv_ref(src);
	r = set_dent(fs, nd, nn, nl, src);
	if (r < 0)
		goto out;
	if (is_dir(src)) {
		nd->nlink++;
	}
	long i = find_dent(od, on, ol);
	if (i >= 0) {
		struct fsv_node *old = od->ents[i].node;
		if (od->img && !od->opaque)
			od->ents[i].node = NULL;
		else {
			fsv_sh_free(od->ents[i].name);
			od->ents[i] = od->ents[od->nents - 1];
			od->nents--;
		}
		if (old)
			fsv_unref(fs, old);
	}
	if (is_dir(src))
		od->nlink--;
	touch(fs, src, 0);
	touch(fs, od, 1);
	touch(fs, nd, 1);
out:
	fsv_unref(fs, src);
	if (dst)
		fsv_unref(fs, dst);
	return r;
}

static int grow(struct fsv *fs, struct fsv_node *n, uint64_t size)
{
	if (size <= n->cap)
		return 0;
	if (size > (1ull << 40))
		return -EFBIG;
	size_t nc = n->cap ? n->cap : 4096;
	while (nc < size)
		nc *= 2;
	if (fs->eph_max && EPH_BYTES(fs) - n->cap + nc > fs->eph_max) {
		nc = (size_t)size;
		if (EPH_BYTES(fs) - n->cap + nc > fs->eph_max)
			return -ENOSPC;
	}
	uint8_t *d = fsv_sh_malloc(nc);
	if (!d)
		return -ENOMEM;
	if (n->size)
		memcpy(d, n->data, (size_t)n->size);
	fsv_sh_free(n->data);
	EPH_BYTES(fs) = EPH_BYTES(fs) - n->cap + nc;
	n->data = d;
	n->cap = nc;
	return 0;
}

int fsv_copy_up(struct fsv *fs, struct fsv_node *n)
{
	if ((n->mode & FSV_IFMT) != FSV_IFREG)
		return is_dir(n) ? -EISDIR : -EINVAL;
	if (n->copied)
		return 0;
	uint64_t size = n->size;
	n->size = 0;
	int r = grow(fs, n, size);
	if (r < 0) {
		n->size = size;
		return r;
	}
	uint64_t off = 0;
	while (off < size) {
		long got = fs->ops.pread(fs->img, n->img_ino, n->data + off, (size_t)(size - off), off);
		if (got <= 0) {
			n->size = size;
			return got < 0 ? img_err(fs, n, got) : -EIO; /* image shorter than its stat */
		}
		off += (uint64_t)got;
	}
	n->size = size;
	n->copied = 1;
	return 0;
}

long fsv_read(struct fsv *fs, struct fsv_node *n, void *buf, size_t len, uint64_t off)
{
	if (n->special == FSV_SPECIAL_RANDOM) {
		if (len > 0x2000000) /* the kernel's urandom reads at most 32 MiB at once */
			len = 0x2000000;
		int r = fs->random ? fs->random(fs->hook_ctx, buf, len) : -ENODEV;
		return r < 0 ? r : (long)len;
	}
	if (is_dir(n))
		return -EISDIR;
	if ((n->mode & FSV_IFMT) != FSV_IFREG)
		return -EINVAL;
	if (off >= n->size || len == 0)
		return 0;
	if (len > n->size - off)
		len = (size_t)(n->size - off);
	if (len > 0x7ffff000)
		len = 0x7ffff000;
	if (n->copied) {
		memcpy(buf, n->data + off, len);
		return (long)len;
	}
	long r = fs->ops.pread(fs->img, n->img_ino, buf, len, off);
	if (r < 0)
		return img_err(fs, n, r);
	if ((size_t)r > len) /* backend contract violated: never trust it */
		return -EIO;
	return r;
}

long fsv_write(struct fsv *fs, struct fsv_node *n, const void *buf, size_t len, uint64_t off)
{
	if (n->special == FSV_SPECIAL_RANDOM)
		return (long)len; /* like /dev/urandom: accepted, mixes nothing the host sees */
	if (n->special == FSV_SPECIAL_PROC)
		return -EACCES;
	if (is_dir(n))
		return -EISDIR;
	if ((n->mode & FSV_IFMT) != FSV_IFREG)
		return -EINVAL;
	int r = fsv_copy_up(fs, n);
	if (r < 0)
		return r;
	if (len == 0)
		return 0;
	if (len > 0x7ffff000)
		len = 0x7ffff000;
	if (off + len < off)
		return -EFBIG;
	r = grow(fs, n, off + len);
	if (r < 0)
		return r;
	if (off > n->size)
		memset(n->data + n->size, 0, (size_t)(off - n->size));
	memcpy(n->data + off, buf, len);
	if (off + len > n->size)
		n->size = off + len;
	touch(fs, n, 1);
	return (long)len;
}

int fsv_truncate(struct fsv *fs, struct fsv_node *n, uint64_t size)
{
	if (n->special == FSV_SPECIAL_PROC)
		return -EACCES;
	if (is_dir(n))
		return -EISDIR;
	if ((n->mode & FSV_IFMT) != FSV_IFREG)
		return -EINVAL;
	if (!n->copied && size == 0) {
		n->copied = 1; /* nothing to copy */
		n->size = 0;
	}
	int r = fsv_copy_up(fs, n);
	if (r < 0)
		return r;
	if (size > n->size) {
		r = grow(fs, n, size);
		if (r < 0)
			return r;
		memset(n->data + n->size, 0, (size_t)(size - n->size));
	}
	n->size = size;
	touch(fs, n, 1);
	return 0;
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
		return img_err(fs, n, r);
	if ((size_t)r > cap)
		return -EIO;
	return r;
}

static int owner_or_root(struct fsv *fs, struct fsv_node *n)
{
	return fs->uid == 0 || fs->uid == n->uid ? 0 : -EPERM;
}

int fsv_chmod(struct fsv *fs, struct fsv_node *n, uint32_t mode)
{
	int r = owner_or_root(fs, n);
	if (r < 0)
		return r;
	if ((n->mode & FSV_IFMT) == FSV_IFLNK)
		return -EOPNOTSUPP;
	n->mode = (n->mode & FSV_IFMT) | (mode & 07777);
	touch(fs, n, 0);
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
	touch(fs, n, 0);
	return 0;
}

int fsv_utimes(struct fsv *fs, struct fsv_node *n, int64_t sec, uint32_t nsec)
{
	int r = owner_or_root(fs, n);
	if (r < 0 && fsv_access(fs, n, 2) < 0)
		return r;
	touch(fs, n, 0);
	n->mtime_sec = sec;
	n->mtime_nsec = nsec;
	return 0;
}

int fsv_anon_file(struct fsv *fs, uint32_t mode, const void *data, size_t len, struct fsv_node **out)
{
	struct fsv_node *n = node_new(fs, mode);
	if (!n)
		return -ENOMEM;
	if (len) {
		int r = grow(fs, n, len);
		if (r < 0) {
			fsv_unref(fs, n);
			return r;
		}
		memcpy(n->data, data, len);
		n->size = len;
	}
	n->copied = 1;
	*out = n;
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

/* ---- directory listings ---- */

static int list_add(struct fsv_dirlist *l, size_t *cap, uint64_t ino, uint32_t mode, const char *name,
		    size_t len)
{
	if (l->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct fsv_dirent *ne = fsv_sh_malloc(nc * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		if (l->n)
			memcpy(ne, l->e, l->n * sizeof(*ne));
		fsv_sh_free(l->e);
		l->e = ne;
		*cap = nc;
	}
	char *nm = fsv_sh_malloc(len + 1); /* shared, like the description that holds the snapshot */
	if (!nm)
		return -ENOMEM;
	memcpy(nm, name, len);
	nm[len] = 0;
	l->e[l->n].ino = ino;
	l->e[l->n].type = (uint8_t)((mode & FSV_IFMT) >> 12);
	l->e[l->n].name = nm;
	l->n++;
	return 0;
}

int fsv_list(struct fsv *fs, struct fsv_node *dir, struct fsv_dirlist *out)
{
	out->e = NULL;
	out->n = 0;
	if (!is_dir(dir))
		return -ENOTDIR;
	if (dir->dead)
		return -ENOENT;
	size_t cap = 0;
	int r = list_add(out, &cap, dir->ino, FSV_IFDIR, ".", 1);
	if (r == 0)
		r = list_add(out, &cap, dir->parent ? dir->parent->ino : dir->ino, FSV_IFDIR, "..", 2);
	uint8_t *seen = NULL;
	if (r == 0 && dir->nents && !(seen = rt_calloc(dir->nents, 1)))
		r = -ENOMEM;
	if (r == 0 && dir->img && !dir->opaque) {
		uint64_t cookie = 0, ino;
		uint32_t mode;
		char *name = rt_malloc(FSV_NAME_MAX + 1);
		if (!name)
			r = -ENOMEM;
		while (r == 0) {
			int k = fs->ops.readdir(fs->img, dir->img_ino, &cookie, &ino, name, FSV_NAME_MAX + 1, &mode);
			if (k <= 0) {
				if (k < 0)
					r = img_err(fs, dir, k);
				break;
			}
			size_t len = strlen(name);
			long i = find_dent(dir, name, len);
			if (i >= 0) {
				seen[i] = 1;
				struct fsv_node *n = dir->ents[i].node;
				if (n)
					r = list_add(out, &cap, n->ino, n->mode, name, len);
			} else {
				r = list_add(out, &cap, ino, mode, name, len);
			}
		}
		rt_free(name);
	}
	for (size_t i = 0; r == 0 && i < dir->nents; i++)
		if (!seen[i] && dir->ents[i].node)
			r = list_add(out, &cap, dir->ents[i].node->ino, dir->ents[i].node->mode, dir->ents[i].name,
				     dir->ents[i].len);
	rt_free(seen);
	if (r < 0)
		fsv_list_free(out);
	return r;
}

void fsv_list_free(struct fsv_dirlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		fsv_sh_free(l->e[i].name);
	fsv_sh_free(l->e);
	l->e = NULL;
	l->n = 0;
}
