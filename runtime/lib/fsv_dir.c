/* FS shield core: directories of the merged tree (fsv.h): entries and
 * whiteouts, lookup (image entries are materialized on first use), create,
 * link, remove, rename, and listing snapshots. */
#include <string.h>
#include <linux/errno.h>

#include "fsv.h"
#include "fsv_int.h"
#include "rt_alloc.h"
#include "fsv_arena.h"

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
		char *nm = fsv_dupname(name, len);
		if (!nm)
			return -ENOMEM;
		d->ents[d->nents].name = nm;
		d->ents[d->nents].len = (uint32_t)len;
		d->ents[d->nents].node = n;
		d->nents++;
	}
	if (n) {
		char *nm = fsv_dupname(name, len);
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
	if (!fsv_is_dir(dir))
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
		return r == -FSV_EAUTH ? fsv_img_err(fs, dir, r) : (r == -ENOTDIR ? -ENOTDIR : -ENOENT);
	int err = 0;
	struct fsv_node *n = fsv_node_from_img(fs, ino, &err);
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

static int dir_writable(struct fsv *fs, struct fsv_node *dir)
{
	if (!fsv_is_dir(dir))
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

int fsv_create(struct fsv *fs, struct fsv_node *dir, const char *name, size_t len, uint32_t mode, const char *target,
	       struct fsv_node **out)
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
	struct fsv_node *n = fsv_node_new(fs, type | (mode & 07777));
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
		n->data = (uint8_t *)fsv_dupname(target, tl);
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
	fsv_touch(fs, dir, 1);
	if (out) {
		fsv_ref(n);
		*out = n;
	}
	return 0;
}

int fsv_link(struct fsv *fs, struct fsv_node *n, struct fsv_node *dir, const char *name, size_t len)
{
	if (fsv_is_dir(n))
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
	fsv_touch(fs, n, 0);
	fsv_touch(fs, dir, 1);
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
static void unlink_entry(struct fsv *fs, struct fsv_node *dir, const char *name, size_t len, struct fsv_node *n)
{
	long i = find_dent(dir, name, len);
	if (fsv_is_dir(n)) {
		n->dead = 1;
		n->nlink = 0;
		fsv_free_ents(fs, n);
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
	if (fsv_is_dir(n) || (n->parent == dir && n->name && fsv_streq(n->name, strlen(n->name), name, len)))
		n->parent = NULL;
	fsv_touch(fs, n, 0);
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
	if (rmdir && !fsv_is_dir(n))
		r = -ENOTDIR;
	else if (!rmdir && fsv_is_dir(n))
		r = -EISDIR;
	else if (n == fs->root)
		r = -EBUSY;
	else if (rmdir && (r = dir_empty(fs, n)) >= 0)
		r = r ? 0 : -ENOTEMPTY;
	if (r == 0 && (dir->mode & 01000) && fs->uid != 0 && fs->uid != n->uid && fs->uid != dir->uid)
		r = -EPERM;
	if (r == 0) {
		unlink_entry(fs, dir, name, len, n);
		fsv_touch(fs, dir, 1);
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

int fsv_rename(struct fsv *fs, struct fsv_node *od, const char *on, size_t ol, struct fsv_node *nd, const char *nn,
	       size_t nl, unsigned flags)
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
	if ((fsv_is_dir(src) && is_ancestor(fs, src, nd)) || (dst && fsv_is_dir(dst) && is_ancestor(fs, dst, od))) {
		r = -EINVAL;
		goto out;
	}
	if (flags & 2) {
		/* exchange: both entries stay, their nodes swap */
		fsv_ref(src);
		fsv_ref(dst);
		if ((r = set_dent(fs, nd, nn, nl, src)) < 0 || (r = set_dent(fs, od, on, ol, dst)) < 0)
			goto out;
		if (fsv_is_dir(src) != fsv_is_dir(dst) && od != nd) {
			if (fsv_is_dir(src)) {
				nd->nlink++;
				od->nlink--;
			} else {
				od->nlink++;
				nd->nlink--;
			}
		}
		fsv_touch(fs, od, 1);
		fsv_touch(fs, nd, 1);
		goto out;
	}
	if (dst) {
		if (fsv_is_dir(src) && !fsv_is_dir(dst)) {
			r = -ENOTDIR;
			goto out;
		}
		if (!fsv_is_dir(src) && fsv_is_dir(dst)) {
			r = -EISDIR;
			goto out;
		}
		if (fsv_is_dir(dst)) {
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
	if (fsv_is_dir(src)) {
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
	if (fsv_is_dir(src))
		od->nlink--;
	fsv_touch(fs, src, 0);
	fsv_touch(fs, od, 1);
	fsv_touch(fs, nd, 1);
out:
	fsv_unref(fs, src);
	if (dst)
		fsv_unref(fs, dst);
	return r;
}

/* ---- directory listings ---- */

static int list_add(struct fsv_dirlist *l, size_t *cap, uint64_t ino, uint32_t mode, const char *name, size_t len)
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
	if (!fsv_is_dir(dir))
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
					r = fsv_img_err(fs, dir, k);
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
