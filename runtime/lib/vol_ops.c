/* Protected volumes: the namespace (lookups, path walk, create, remove,
 * rename, attributes, listings) and open-file lifetimes (pkg/volume fs.go
 * and write.go). */
#include "vol_int.h"

static int is_dir(const struct vnode *n) { return (n->mode & VOL_IFMT) == VOL_IFDIR; }

static struct vnode *live(const struct vol *v, uint64_t id)
{
	struct vnode *n = vnode_get(v, id);
	return n && !n->ghost ? n : NULL;
}

static void now(struct vol *v, int64_t *s, uint32_t *ns) { v->h->now(v->h->ctx, s, ns); }

static void touch(struct vol *v, struct vnode *n, int mtime)
{
	now(v, &n->ct, &n->ctn);
	if (mtime) {
		n->mt = n->ct;
		n->mtn = n->ctn;
	}
	n->touched = 1;
	v->changed = 1;
}

int vol_lookup(struct vol *v, uint64_t dir, const char *name, size_t nlen, uint64_t *id)
{
	struct vnode *d = live(v, dir);
	if (!d)
		return -V_ENOENT;
	if (!is_dir(d))
		return -V_ENOTDIR;
	if (nlen == 1 && name[0] == '.') {
		*id = dir;
		return 0;
	}
	if (nlen == 2 && name[0] == '.' && name[1] == '.') {
		*id = dir == VOL_ROOT_ID ? dir : d->parent;
		return 0;
	}
	if (nlen > VOL_NAME_MAX)
		return -V_ENAMETOOLONG;
	struct vent *e = vent_find(d, name, nlen);
	if (!e)
		return -V_ENOENT;
	*id = e->child;
	return 0;
}

/* Parents of directories: kept in vnode.parent by vol_validate and by
 * every link of a directory. */
int vol_walk(struct vol *v, const char *path, int follow, uint64_t *dir, uint64_t *id, char name[VOL_NAME_MAX + 1],
	     size_t *nlen)
{
	char *buf = fsv_sh_malloc(2 * (VOL_PATH_MAX + 1));
	if (!buf)
		return -V_ENOMEM;
	size_t pl = strlen(path);
	(void)follow;
	if (pl > VOL_PATH_MAX) {
		fsv_sh_free(buf);
		return -V_ENAMETOOLONG;
	}
	memcpy(buf, path, pl + 1);
	const char *p = buf;
	uint64_t cur = VOL_ROOT_ID;
	int links = 0, e = 0;
	*dir = VOL_ROOT_ID;
	*id = VOL_ROOT_ID;
	name[0] = 0;
	*nlen = 0;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *c = p;
		while (*p && *p != '/')
			p++;
		size_t cl = (size_t)(p - c);
		const char *rest = p;
		while (*rest == '/')
			rest++;
		int last = !*rest;
		uint64_t child;
		e = vol_lookup(v, cur, c, cl, &child);
		if (e == -V_ENOENT && last) {
			*dir = cur;
			*id = 0;
			if (cl > VOL_NAME_MAX)
				e = -V_ENAMETOOLONG;
			else
				e = valid_name(c, cl) ? 0 : -V_ENOENT;
			if (!e) {
				memcpy(name, c, cl);
				name[cl] = 0;
				*nlen = cl;
			}
			break;
		}
		if (e)
			break;
		struct vnode *n = live(v, child);
		if (n && (n->mode & VOL_IFMT) == VOL_IFLNK && (!last || follow || *p == '/')) {
			if (++links > 40) {
				e = -V_ELOOP;
				break;
			}
			/* the target, then the rest, in the second half of buf */
			char *nb = buf + VOL_PATH_MAX + 1;
			const char *t = n->target;
			size_t tl = n->size;
			if (t[0] == '/') {
				size_t ml = v->path ? strlen(v->path) : 0;
				if (!ml || tl < ml || memcmp(t, v->path, ml) || (t[ml] != '/' && t[ml] != 0)) {
					e = -V_EXDEV;
					break;
				}
				t += ml;
				tl -= ml;
				cur = VOL_ROOT_ID;
			}
			size_t rl = strlen(p);
			if (tl + rl + 1 > VOL_PATH_MAX) {
				e = -V_ENAMETOOLONG;
				break;
			}
			memmove(nb, t, tl);
			memmove(nb + tl, p, rl + 1);
			memmove(buf, nb, tl + rl + 1);
			p = buf;
			continue;
		}
		if (last) {
			*dir = cur;
			*id = child;
			if (cl <= VOL_NAME_MAX) {
				memcpy(name, c, cl);
				name[cl] = 0;
				*nlen = cl;
			}
			break;
		}
		if (!n || !is_dir(n)) {
			e = -V_ENOTDIR;
			break;
		}
		cur = child;
		*dir = cur;
		*id = cur;
	}
	fsv_sh_free(buf);
	return e;
}

int vol_getattr(struct vol *v, uint64_t id, struct vol_attr *a)
{
	struct vnode *n = live(v, id);
	if (!n)
		return -V_ENOENT;
	*a = (struct vol_attr){n->id, n->mode, n->uid, n->gid, n->nlink, n->size,
			       n->at, n->mt,   n->ct,  n->atn, n->mtn,	 n->ctn};
	if (n->orphan)
		a->nlink = 0;
	return 0;
}

int vol_setattr(struct vol *v, uint64_t id, const uint32_t *mode, const uint32_t *uid, const uint32_t *gid,
		const int64_t *atime, const uint32_t *atime_ns, const int64_t *mtime, const uint32_t *mtime_ns)
{
	struct vnode *n = live(v, id);
	if (!n)
		return -V_ENOENT;
	if (v->dead)
		return -V_EIO;
	if (mode)
		n->mode = (n->mode & VOL_IFMT) | (*mode & 07777);
	if (uid)
		n->uid = *uid;
	if (gid)
		n->gid = *gid;
	touch(v, n, 0);
	if (atime) {
		n->at = *atime;
		n->atn = *atime_ns;
	}
	if (mtime) {
		n->mt = *mtime;
		n->mtn = *mtime_ns;
	}
	return 0;
}

static int add_op(struct vol *v, uint32_t type, uint64_t dir, const uint64_t *child, const char *name, size_t nl)
{
	size_t l = 8 + (child ? 8 : 0) + nl;
	int e = vbuf_u32(&v->ops, type) || vbuf_u32(&v->ops, (uint32_t)l) || vbuf_u64(&v->ops, dir) ||
		(child && vbuf_u64(&v->ops, *child)) || vbuf_add(&v->ops, name, nl);
	if (e)
		return -V_ENOMEM;
	v->nops++;
	return 0;
}

static int link(struct vol *v, struct vnode *d, const char *name, size_t nl, struct vnode *n)
{
	if (vent_add(d, name, nl, n->id) || add_op(v, D_LINK, d->id, &n->id, name, nl))
		return v->dead = 1, -V_ENOMEM;
	if (is_dir(n)) {
		d->nlink++;
		n->parent = d->id;
	}
	touch(v, d, 1);
	return 0;
}

static int unlink(struct vol *v, struct vnode *d, const char *name, size_t nl, struct vnode *n)
{
	vent_del(d, name, nl);
	if (add_op(v, D_UNLINK, d->id, NULL, name, nl))
		return v->dead = 1, -V_ENOMEM;
	if (is_dir(n))
		d->nlink--;
	touch(v, d, 1);
	return 0;
}

static int push(uint64_t **a, size_t *n, size_t *cap, uint64_t x)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		uint64_t *p = fsv_sh_malloc(c * sizeof *p);
		if (!p)
			return -V_ENOMEM;
		if (*n)
			memcpy(p, *a, *n * sizeof *p);
		fsv_sh_free(*a);
		*a = p;
		*cap = c;
	}
	(*a)[(*n)++] = x;
	return 0;
}

/* The inode is gone from the namespace: a DROP if committed; freed now,
 * or at the last vol_release while open. */
static int gone(struct vol *v, struct vnode *n)
{
	if (n->committed && push(&v->drops, &v->ndrops, &v->capdrops, n->id))
		return v->dead = 1, -V_ENOMEM;
	n->committed = 0;
	if (n->opens) {
		n->orphan = 1;
		v->orphans++;
		return 0;
	}
	if ((n->mode & VOL_IFMT) == VOL_IFREG && push(&v->todel, &v->ntodel, &v->captodel, n->id))
		return v->dead = 1, -V_ENOMEM;
	if (n->tree) {
		for (size_t i = 0; i < n->tree->dirty.cap; i++)
			if (n->tree->dirty.e[i].used)
				v->dirty_bytes -= VOL_PAGE;
	}
	vnode_drop(v, n->id);
	return 0;
}

static int drop_link(struct vol *v, struct vnode *n)
{
	if (is_dir(n))
		n->nlink = 0;
	else {
		n->nlink--;
		touch(v, n, 0);
	}
	return n->nlink ? 0 : gone(v, n);
}

/* The checks vol_create, vol_link and vol_symlink share for a new name. */
static int new_name(struct vol *v, struct vnode *d, const char *name, size_t nlen)
{
	if (v->ro)
		return -30;
	if (v->dead)
		return -V_EIO;
	if (!d)
		return -V_ENOENT;
	if (!is_dir(d))
		return -V_ENOTDIR;
	if (!valid_name(name, nlen))
		return nlen > VOL_NAME_MAX ? -V_ENAMETOOLONG : -V_EINVAL;
	if (vent_find(d, name, nlen))
		return -V_EEXIST;
	return 0;
}

int vol_create(struct vol *v, uint64_t dir, const char *name, size_t nlen, uint32_t mode, uint32_t uid, uint32_t gid,
	       uint64_t *id)
{
	struct vnode *d = live(v, dir);
	int e = new_name(v, d, name, nlen);
	if (e)
		return e;
	uint32_t t = mode & VOL_IFMT;
	if (t != VOL_IFREG && t != VOL_IFDIR)
		return -V_EINVAL;
	struct vnode *n = vnode_new(v, v->next_id);
	if (!n)
		return -V_ENOMEM;
	v->next_id++;
	n->mode = mode & (VOL_IFMT | 07777);
	n->uid = uid;
	n->gid = gid;
	n->nlink = t == VOL_IFDIR ? 2 : 1;
	touch(v, n, 1);
	n->at = n->mt;
	n->atn = n->mtn;
	*id = n->id;
	return link(v, d, name, nlen, n);
}

int vol_link(struct vol *v, uint64_t id, uint64_t dir, const char *name, size_t nlen)
{
	struct vnode *d = live(v, dir), *n = live(v, id);
	int e = new_name(v, d, name, nlen);
	if (e)
		return e;
	if (!n || n->orphan)
		return -V_ENOENT; /* unlinked while open: Linux refuses a link to it */
	if (is_dir(n))
		return -V_EPERM;
	if (n->nlink >= 0xffff)
		return -V_EMLINK;
	n->nlink++;
	touch(v, n, 0);
	return link(v, d, name, nlen, n);
}

int vol_symlink(struct vol *v, uint64_t dir, const char *name, size_t nlen, const char *target, size_t tlen,
		uint32_t uid, uint32_t gid, uint64_t *id)
{
	struct vnode *d = live(v, dir);
	int e = new_name(v, d, name, nlen);
	if (e)
		return e;
	if (tlen == 0)
		return -V_ENOENT; /* symlink(2) of an empty target */
	if (tlen > VOL_PATH_MAX)
		return -V_ENAMETOOLONG;
	for (size_t i = 0; i < tlen; i++)
		if (!target[i])
			return -V_EINVAL;
	char *t = fsv_sh_malloc(tlen);
	if (!t)
		return -V_ENOMEM;
	struct vnode *n = vnode_new(v, v->next_id);
	if (!n) {
		fsv_sh_free(t);
		return -V_ENOMEM;
	}
	v->next_id++;
	memcpy(t, target, tlen);
	n->target = t;
	n->size = tlen;
	n->mode = VOL_IFLNK | 0777;
	n->uid = uid;
	n->gid = gid;
	n->nlink = 1;
	touch(v, n, 1);
	n->at = n->mt;
	n->atn = n->mtn;
	*id = n->id;
	return link(v, d, name, nlen, n);
}

int vol_remove(struct vol *v, uint64_t dir, const char *name, size_t nlen, int rmdir)
{
	struct vnode *d = live(v, dir);
	if (v->ro)
		return -30;
	if (v->dead)
		return -V_EIO;
	if (!d)
		return -V_ENOENT;
	struct vent *e = vent_find(d, name, nlen);
	if (!e)
		return -V_ENOENT;
	struct vnode *n = live(v, e->child);
	if (!n)
		return -V_EIO;
	if (rmdir && !is_dir(n))
		return -V_ENOTDIR;
	if (!rmdir && is_dir(n))
		return -V_EISDIR;
	if (is_dir(n) && n->nents)
		return -V_ENOTEMPTY;
	int r = unlink(v, d, name, nlen, n);
	return r ? r : drop_link(v, n);
}

int vol_rename(struct vol *v, uint64_t odir, const char *oname, size_t olen, uint64_t ndir, const char *nname,
	       size_t nlen, int noreplace)
{
	struct vnode *od = live(v, odir), *nd = live(v, ndir);
	if (v->ro)
		return -30;
	if (v->dead)
		return -V_EIO;
	if (!od || !nd)
		return -V_ENOENT;
	if (!is_dir(nd))
		return -V_ENOTDIR;
	struct vent *oe = vent_find(od, oname, olen);
	if (!oe)
		return -V_ENOENT;
	if (!valid_name(nname, nlen))
		return nlen > VOL_NAME_MAX ? -V_ENAMETOOLONG : -V_EINVAL;
	struct vnode *n = live(v, oe->child);
	struct vent *ne = vent_find(nd, nname, nlen);
	struct vnode *m = ne ? live(v, ne->child) : NULL;
	if (!n)
		return -V_EIO;
	if (m == n)
		return 0;
	if (m && noreplace)
		return -V_EEXIST;
	if (is_dir(n)) /* not into itself */
		for (struct vnode *p = nd;; p = live(v, p->parent)) {
			if (!p)
				return -V_EIO;
			if (p == n)
				return -V_EINVAL;
			if (p->id == VOL_ROOT_ID)
				break;
		}
	if (m) {
		if (is_dir(n) && !is_dir(m))
			return -V_ENOTDIR;
		if (!is_dir(n) && is_dir(m))
			return -V_EISDIR;
		if (is_dir(m) && m->nents)
			return -V_ENOTEMPTY;
		int r = unlink(v, nd, nname, nlen, m);
		if (!r)
			r = drop_link(v, m);
		if (r)
			return r;
	}
	char tmp[VOL_NAME_MAX];
	memcpy(tmp, oname, olen); /* oname may point into the entry */
	int r = unlink(v, od, tmp, olen, n);
	if (!r)
		r = link(v, nd, nname, nlen, n);
	if (!r)
		touch(v, n, 0);
	return r;
}

long vol_readlink(struct vol *v, uint64_t id, char *buf, size_t len)
{
	struct vnode *n = live(v, id);
	if (!n)
		return -V_ENOENT;
	if ((n->mode & VOL_IFMT) != VOL_IFLNK)
		return -V_EINVAL;
	size_t k = n->size < len ? (size_t)n->size : len;
	memcpy(buf, n->target, k);
	return (long)k;
}

int vol_dirent(struct vol *v, uint64_t dir, size_t i, const char **name, size_t *nlen, uint64_t *id, uint32_t *mode)
{
	struct vnode *d = live(v, dir);
	if (!d)
		return -V_ENOENT;
	if (!is_dir(d))
		return -V_ENOTDIR;
	vent_sort(d);
	if (i >= d->nents)
		return 0;
	struct vnode *c = live(v, d->ents[i].child);
	*name = d->ents[i].name;
	*nlen = d->ents[i].len;
	*id = d->ents[i].child;
	*mode = c ? c->mode : 0;
	return 1;
}

void vol_hold(struct vol *v, uint64_t id)
{
	struct vnode *n = live(v, id);
	if (n)
		n->opens++;
}

void vol_release(struct vol *v, uint64_t id)
{
	struct vnode *n = live(v, id);
	if (!n || !n->opens)
		return;
	if (--n->opens || !n->orphan)
		return;
	v->orphans--;
	n->orphan = 0;
	n->opens = 0;
	n->committed = 0;
	gone(v, n);
}

int vol_truncate(struct vol *v, uint64_t id, uint64_t size)
{
	struct vnode *n = live(v, id);
	if (v->ro)
		return -30;
	if (v->dead)
		return -V_EIO;
	if (!n)
		return -V_ENOENT;
	if (is_dir(n))
		return -V_EISDIR;
	if ((n->mode & VOL_IFMT) != VOL_IFREG)
		return -V_EINVAL;
	touch(v, n, 1);
	return vol_resize(v, n, size);
}
