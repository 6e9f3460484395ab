/* Protected volumes: the metadata (inodes, directory entries), its rules,
 * the snapshot state encoding and the deltas of commits (docs/volume.md,
 * "Metadata", "Snapshot", "Log"). The node layer: above vol_base.c,
 * vol_map.c and vol_crypto.c, below vol_data.c (file contents of nodes),
 * vol_open.c and vol_ops.c; it calls none of those (the memory of a node,
 * its tag tree included, is freed here). */
#include "vol_int.h"

struct vnode *vnode_get(const struct vol *v, uint64_t id)
{
	uint64_t *p = vmap_get(&v->nodes, id, 0);
	return p ? (struct vnode *)(uintptr_t)*p : NULL;
}

struct vnode *vnode_new(struct vol *v, uint64_t id)
{
	struct vnode *n = fsv_sh_calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->id = id;
	if (vmap_put(&v->nodes, id, 0, (uint64_t)(uintptr_t)n)) {
		fsv_sh_free(n);
		return NULL;
	}
	return n;
}

/* The memory of a file's tag tree and dirty pages (vol_data.c fills it in):
 * part of the node's lifetime, freed with the node or by vol_resize. */
void vol_tree_free(struct ftree *t)
{
	for (size_t i = 0; i < t->tags.cap; i++)
		if (t->tags.e[i].used)
			fsv_sh_free((void *)(uintptr_t)t->tags.e[i].v);
	for (size_t i = 0; i < t->dirty.cap; i++)
		if (t->dirty.e[i].used)
			fsv_sh_free((void *)(uintptr_t)t->dirty.e[i].v);
	vmap_free(&t->tags);
	vmap_free(&t->dirty);
	fsv_sh_free(t);
}

void vnode_free(struct vnode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nents; i++)
		fsv_sh_free(n->ents[i].name);
	fsv_sh_free(n->ents);
	fsv_sh_free(n->target);
	if (n->tree)
		vol_tree_free(n->tree);
	fsv_sh_free(n);
}

int vnode_drop(struct vol *v, uint64_t id)
{
	struct vnode *n = vnode_get(v, id);
	if (!n)
		return 0;
	vmap_del(&v->nodes, id, 0);
	vnode_free(n);
	return 1;
}

int valid_name(const char *n, size_t len)
{
	if (len == 0 || len > VOL_NAME_MAX || (len == 1 && n[0] == '.') || (len == 2 && n[0] == '.' && n[1] == '.'))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (n[i] == '/' || n[i] == 0)
			return 0;
	return 1;
}

struct vent *vent_find(struct vnode *d, const char *name, size_t len)
{
	for (size_t i = 0; i < d->nents; i++)
		if (d->ents[i].len == len && !memcmp(d->ents[i].name, name, len))
			return &d->ents[i];
	return NULL;
}

int vent_add(struct vnode *d, const char *name, size_t len, uint64_t child)
{
	if (d->nents == d->capents) {
		size_t cap = d->capents ? d->capents * 2 : 8;
		struct vent *e = fsv_sh_malloc(cap * sizeof *e);
		if (!e)
			return -V_ENOMEM;
		if (d->nents)
			memcpy(e, d->ents, d->nents * sizeof *e);
		fsv_sh_free(d->ents);
		d->ents = e;
		d->capents = cap;
	}
	char *c = fsv_sh_malloc(len + 1);
	if (!c)
		return -V_ENOMEM;
	memcpy(c, name, len);
	c[len] = 0;
	d->ents[d->nents++] = (struct vent){c, (uint32_t)len, child};
	d->sorted = 0;
	return 0;
}

int vent_del(struct vnode *d, const char *name, size_t len)
{
	struct vent *e = vent_find(d, name, len);
	if (!e)
		return 0;
	fsv_sh_free(e->name);
	size_t i = (size_t)(e - d->ents);
	memmove(e, e + 1, (d->nents - i - 1) * sizeof *e);
	d->nents--;
	return 1;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct vent *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->name, y->name, n);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

void vent_sort(struct vnode *d)
{
	if (!d->sorted)
		vsort(d->ents, d->nents, sizeof *d->ents, cmp_ent);
	d->sorted = 1;
}

static int is_dir(const struct vnode *n) { return (n->mode & VOL_IFMT) == VOL_IFDIR; }

/* The rules of docs/volume.md on the whole state (ghosts: directories
 * that entries named before their inode came; none may remain with
 * entries). */
int vol_validate(struct vol *v, const char **why)
{
	struct vnode *r = vnode_get(v, VOL_ROOT_ID);
	if (!r || r->ghost || !is_dir(r))
		return *why = "no root directory", -V_EIO;
	for (size_t i = 0; i < v->nodes.cap; i++) {
		if (!v->nodes.e[i].used)
			continue;
		struct vnode *n = (struct vnode *)(uintptr_t)v->nodes.e[i].v;
		n->refs = 0;
		n->parent = 0;
	}
	for (size_t i = 0; i < v->nodes.cap; i++) {
		if (!v->nodes.e[i].used)
			continue;
		struct vnode *d = (struct vnode *)(uintptr_t)v->nodes.e[i].v;
		if (d->nents && (d->ghost || !is_dir(d)))
			return *why = "entries in an inode that is not a directory", -V_EIO;
		uint32_t subdirs = 0;
		for (size_t k = 0; k < d->nents; k++) {
			struct vent *e = &d->ents[k];
			if (!valid_name(e->name, e->len))
				return *why = "invalid name", -V_EIO;
			struct vnode *c = vnode_get(v, e->child);
			if (!c || c->ghost)
				return *why = "entry names a missing inode", -V_EIO;
			if (c->id == VOL_ROOT_ID)
				return *why = "entry names the root", -V_EIO;
			c->refs++;
			if (is_dir(c)) {
				if (c->parent)
					return *why = "directory with two entries", -V_EIO;
				c->parent = d->id;
				subdirs++;
			}
		}
		if (is_dir(d) && !d->ghost && d->nlink != 2 + subdirs)
			return *why = "directory nlink", -V_EIO;
	}
	size_t count = 0;
	for (size_t i = 0; i < v->nodes.cap; i++) {
		if (!v->nodes.e[i].used)
			continue;
		struct vnode *n = (struct vnode *)(uintptr_t)v->nodes.e[i].v;
		if (n->ghost)
			continue;
		count++;
		if (n->id >= v->next_id)
			return *why = "inode not below next id", -V_EIO;
		if (is_dir(n)) {
			if (n->id != VOL_ROOT_ID && n->refs != 1)
				return *why = "directory without exactly one entry", -V_EIO;
		} else if (n->refs == 0 || n->nlink != n->refs) {
			return *why = "nlink does not match the entries", -V_EIO;
		}
	}
	for (size_t i = 0; i < v->nodes.cap; i++) { /* every directory reaches the root */
		if (!v->nodes.e[i].used)
			continue;
		struct vnode *n = (struct vnode *)(uintptr_t)v->nodes.e[i].v;
		if (n->ghost || !is_dir(n))
			continue;
		size_t seen = 0;
		for (struct vnode *p = n; p->id != VOL_ROOT_ID; p = vnode_get(v, p->parent))
			if (++seen > count || !p->parent)
				return *why = "directory in a cycle", -V_EIO;
	}
	return 0;
}

int vol_put_inode(const struct vnode *n, uint8_t *b, uint64_t toff)
{
	p64(b, n->id);
	p32(b + 8, n->mode);
	p32(b + 12, n->uid);
	p32(b + 16, n->gid);
	p32(b + 20, n->nlink);
	p64(b + 24, n->size);
	p64(b + 32, (uint64_t)n->at);
	p64(b + 40, (uint64_t)n->mt);
	p64(b + 48, (uint64_t)n->ct);
	p32(b + 56, n->atn);
	p32(b + 60, n->mtn);
	p32(b + 64, n->ctn);
	p32(b + 68, 0);
	memcpy(b + 72, n->root, 16);
	p64(b + 88, toff);
	return 0;
}

int vol_get_inode(const uint8_t *b, struct vnode *n, uint64_t *toff, const char **why)
{
	n->id = g64(b);
	n->mode = g32(b + 8);
	n->uid = g32(b + 12);
	n->gid = g32(b + 16);
	n->nlink = g32(b + 20);
	n->size = g64(b + 24);
	n->at = (int64_t)g64(b + 32);
	n->mt = (int64_t)g64(b + 40);
	n->ct = (int64_t)g64(b + 48);
	n->atn = g32(b + 56);
	n->mtn = g32(b + 60);
	n->ctn = g32(b + 64);
	memcpy(n->root, b + 72, 16);
	*toff = g64(b + 88);
	if (!n->id)
		return *why = "inode id 0", -V_EIO;
	if (n->mode & ~(VOL_IFMT | 07777u))
		return *why = "mode with unknown bits", -V_EIO;
	if (n->atn >= 1000000000u || n->mtn >= 1000000000u || n->ctn >= 1000000000u || g32(b + 68))
		return *why = "inode nanoseconds or reserved field", -V_EIO;
	switch (n->mode & VOL_IFMT) {
	case VOL_IFREG:
		if (n->size > VOL_MAX_FILE || *toff)
			return *why = "file size or target", -V_EIO;
		break;
	case VOL_IFDIR:
		if (n->size || !zero16(n->root) || *toff)
			return *why = "directory with size, root or target", -V_EIO;
		break;
	case VOL_IFLNK:
		if (!n->size || n->size > VOL_PATH_MAX || !zero16(n->root))
			return *why = "symlink target length or root", -V_EIO;
		break;
	default:
		return *why = "inode type", -V_EIO;
	}
	return 0;
}

/* Copies a parsed record into the node of its id (creating it, or
 * filling a ghost); keeps the node's entries. */
static int set_inode(struct vol *v, const struct vnode *src, const uint8_t *target)
{
	struct vnode *n = vnode_get(v, src->id);
	if (!n && !(n = vnode_new(v, src->id)))
		return -V_ENOMEM;
	char *t = NULL;
	if ((src->mode & VOL_IFMT) == VOL_IFLNK) {
		if (!(t = fsv_sh_malloc(src->size + 1)))
			return -V_ENOMEM;
		memcpy(t, target, src->size);
		t[src->size] = 0;
	}
	fsv_sh_free(n->target);
	n->target = t;
	n->mode = src->mode;
	n->uid = src->uid;
	n->gid = src->gid;
	n->nlink = src->nlink;
	n->size = src->size;
	n->at = src->at;
	n->mt = src->mt;
	n->ct = src->ct;
	n->atn = src->atn;
	n->mtn = src->mtn;
	n->ctn = src->ctn;
	memcpy(n->root, src->root, 16);
	n->ghost = 0;
	n->committed = 1;
	n->csize = n->size;
	return 0;
}

static struct vnode *dir_or_ghost(struct vol *v, uint64_t id)
{
	struct vnode *d = vnode_get(v, id);
	if (!d && (d = vnode_new(v, id)))
		d->ghost = 1;
	return d;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Live inodes (not orphans or ghosts), ascending; *n set. */
static uint64_t *live_ids(struct vol *v, size_t *n)
{
	uint64_t *ids = fsv_sh_malloc((v->nodes.n + 1) * sizeof *ids);
	if (!ids)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < v->nodes.cap; i++) {
		if (!v->nodes.e[i].used)
			continue;
		struct vnode *x = (struct vnode *)(uintptr_t)v->nodes.e[i].v;
		if (!x->ghost && !x->orphan)
			ids[k++] = x->id;
	}
	vsort(ids, k, sizeof *ids, cmp_u64);
	*n = k;
	return ids;
}

int vol_encode_state(struct vol *v, struct vbuf *b)
{
	size_t ni;
	uint64_t *ids = live_ids(v, &ni);
	if (!ids)
		return -V_ENOMEM;
	size_t nd = 0;
	for (size_t i = 0; i < ni; i++)
		nd += vnode_get(v, ids[i])->nents;
	struct vbuf strs = {0};
	int e = 0;
	size_t fixed = 64 + ni * INODE_REC + nd * DIRENT_REC;
	b->n = 0;
	{
		uint8_t *tmp = fsv_sh_calloc(1, fixed);
		if (!tmp) {
			fsv_sh_free(ids);
			return -V_ENOMEM;
		}
		memcpy(tmp, "VOLSTATE", 8);
		p64(tmp + 8, v->next_id);
		p64(tmp + 16, ni);
		p64(tmp + 24, nd);
		memcpy(tmp + 40, v->root, 16);
		size_t doff = 64 + ni * INODE_REC;
		for (size_t i = 0; i < ni && !e; i++) {
			struct vnode *d = vnode_get(v, ids[i]);
			vent_sort(d);
			for (size_t k = 0; k < d->nents && !e; k++) {
				uint8_t *r = tmp + doff;
				p64(r, d->id);
				p64(r + 8, d->ents[k].child);
				p32(r + 16, (uint32_t)strs.n);
				p32(r + 20, d->ents[k].len);
				e = vbuf_add(&strs, d->ents[k].name, d->ents[k].len);
				doff += DIRENT_REC;
			}
		}
		for (size_t i = 0; i < ni && !e; i++) {
			struct vnode *n = vnode_get(v, ids[i]);
			uint64_t toff = 0;
			if ((n->mode & VOL_IFMT) == VOL_IFLNK) {
				toff = strs.n;
				e = vbuf_add(&strs, n->target, n->size);
			}
			vol_put_inode(n, tmp + 64 + i * INODE_REC, toff);
		}
		p64(tmp + 32, strs.n);
		if (!e)
			e = vbuf_add(b, tmp, fixed);
		if (!e)
			e = vbuf_add(b, strs.p, strs.n);
		fsv_sh_free(tmp);
	}
	vbuf_free(&strs);
	fsv_sh_free(ids);
	return e;
}

int vol_decode_state(struct vol *v, const uint8_t *b, size_t len, const char **why)
{
	if (len < 64 || memcmp(b, "VOLSTATE", 8))
		return *why = "state: bad magic", -V_EIO;
	v->next_id = g64(b + 8);
	uint64_t ni = g64(b + 16), nd = g64(b + 24), sl = g64(b + 32);
	memcpy(v->root, b + 40, 16);
	if (g64(b + 56))
		return *why = "state: reserved field", -V_EIO;
	uint64_t rest = len - 64;
	if (ni > rest / INODE_REC || nd > rest / DIRENT_REC || ni * INODE_REC + nd * DIRENT_REC + sl != rest)
		return *why = "state: counts do not match the length", -V_EIO;
	const uint8_t *strs = b + len - sl;
	const uint8_t *p = b + 64;
	uint64_t last = 0;
	for (uint64_t i = 0; i < ni; i++, p += INODE_REC) {
		struct vnode n = {0};
		uint64_t toff;
		int e = vol_get_inode(p, &n, &toff, why);
		if (e)
			return e;
		if (n.id <= last)
			return *why = "state: inodes not in ascending order", -V_EIO;
		last = n.id;
		const uint8_t *t = NULL;
		if ((n.mode & VOL_IFMT) == VOL_IFLNK) {
			if (toff > sl || n.size > sl - toff || has_nul(strs + toff, n.size))
				return *why = "state: symlink target", -V_EIO;
			t = strs + toff;
		} else if (toff) {
			return *why = "state: target offset", -V_EIO;
		}
		if ((e = set_inode(v, &n, t)))
			return e;
	}
	uint64_t pd = 0;
	const uint8_t *pn = NULL;
	uint32_t pl = 0;
	for (uint64_t i = 0; i < nd; i++, p += DIRENT_REC) {
		uint64_t d = g64(p), c = g64(p + 8);
		uint64_t no = g32(p + 16), nl = g32(p + 20);
		if (no > sl || nl > sl - no)
			return *why = "state: entry name out of range", -V_EIO;
		const uint8_t *name = strs + no;
		if (i > 0) {
			size_t m = nl < pl ? nl : pl;
			int c2 = memcmp(name, pn, m);
			if (d < pd || (d == pd && (c2 < 0 || (c2 == 0 && nl <= pl))))
				return *why = "state: entries not in ascending order", -V_EIO;
		}
		pd = d, pn = name, pl = (uint32_t)nl;
		struct vnode *dn = dir_or_ghost(v, d);
		if (!dn || vent_add(dn, (const char *)name, nl, c))
			return -V_ENOMEM;
	}
	return vol_validate(v, why);
}

/* Applies one commit's metadata (decoded and checked as pkg/volume's
 * decodeCommit) to the state; window: the PAGE records of the commit. */
int vol_apply_commit(struct vol *v, const uint8_t *m, size_t len, const struct vmap *window, const char **why)
{
	if (len < 8)
		return *why = "commit metadata too short", -V_EIO;
	uint64_t np = g32(m), nd = g32(m + 4);
	if (np > (len - 8) / PAGEREF)
		return *why = "page count too large", -V_EIO;
	const uint8_t *r = m + 8;
	for (uint64_t i = 0; i < np; i++, r += PAGEREF) {
		uint64_t off = g64(r), file = g64(r + 8), idx = g64(r + 24);
		uint32_t lvl = g32(r + 16);
		if (g32(r + 20) || lvl > MAXDEPTH || (int64_t)off < 0 || !file)
			return *why = "bad page reference", -V_EIO;
		if (!vmap_get(window, off, 0))
			return *why = "page reference is not a page record of the commit", -V_EIO;
		if (vmap_put(&v->logmap, file, (uint64_t)lvl << 40 | idx, off))
			return -V_ENOMEM;
	}
	const uint8_t *end = m + len;
	for (uint64_t i = 0; i < nd; i++) {
		if (end - r < 8)
			return *why = "delta truncated", -V_EIO;
		uint32_t t = g32(r), l = g32(r + 4);
		if ((uint64_t)l > (uint64_t)(end - r - 8))
			return *why = "delta truncated", -V_EIO;
		const uint8_t *body = r + 8;
		r += 8 + l;
		int e = 0;
		switch (t) {
		case D_INODE: {
			struct vnode n = {0};
			uint64_t toff;
			if (l < INODE_REC)
				return *why = "short inode", -V_EIO;
			if ((e = vol_get_inode(body, &n, &toff, why)))
				return e;
			size_t tl = l - INODE_REC;
			int lnk = (n.mode & VOL_IFMT) == VOL_IFLNK;
			if (toff || (lnk && tl != n.size) || (!lnk && tl) || has_nul(body + INODE_REC, tl))
				return *why = "bad symlink target", -V_EIO;
			if (n.id >= v->next_id)
				return *why = "inode not below next id", -V_EIO;
			e = set_inode(v, &n, body + INODE_REC);
			break;
		}
		case D_DROP:
		case D_NEXTID: {
			if (l != 8)
				return *why = "bad delta length", -V_EIO;
			uint64_t id = g64(body);
			if (t == D_NEXTID) {
				if (id < v->next_id)
					return *why = "next id goes back", -V_EIO;
				v->next_id = id;
				break;
			}
			struct vnode *n = vnode_get(v, id);
			if (!n || n->ghost || id == VOL_ROOT_ID)
				return *why = "drop of a missing inode", -V_EIO;
			vnode_drop(v, id);
			break;
		}
		case D_LINK: {
			if (l < 17 || !valid_name((const char *)body + 16, l - 16))
				return *why = "bad link delta", -V_EIO;
			struct vnode *d = dir_or_ghost(v, g64(body));
			if (!d)
				return -V_ENOMEM;
			if (vent_find(d, (const char *)body + 16, l - 16))
				return *why = "link over an existing entry", -V_EIO;
			e = vent_add(d, (const char *)body + 16, l - 16, g64(body + 8));
			break;
		}
		case D_UNLINK: {
			if (l < 9)
				return *why = "bad unlink delta", -V_EIO;
			struct vnode *d = vnode_get(v, g64(body));
			if (!d || !vent_del(d, (const char *)body + 8, l - 8))
				return *why = "unlink of a missing entry", -V_EIO;
			break;
		}
		default:
			return *why = "unknown delta type", -V_EIO;
		}
		if (e)
			return e;
	}
	if (r != end)
		return *why = "bytes after the last delta", -V_EIO;
	/* ghosts without entries were directories created and removed within
	 * the commit */
	for (int again = 1; again;) {
		again = 0;
		for (size_t i = 0; i < v->nodes.cap; i++) {
			if (!v->nodes.e[i].used)
				continue;
			struct vnode *n = (struct vnode *)(uintptr_t)v->nodes.e[i].v;
			if (n->ghost && !n->nents) {
				vnode_drop(v, n->id);
				again = 1;
				break;
			}
		}
	}
	return vol_validate(v, why);
}
