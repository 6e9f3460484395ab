/* Protected volumes: file contents, the pages and the tag tree
 * (docs/volume.md, "Files: pages and the tag tree"; pkg/volume pages.go).
 * The data layer: builds on the nodes of vol_meta.c and on vol_base.c;
 * vol_open.c (commits) and vol_ops.c build on it. */
#include "vol_int.h"

uint64_t vol_npages(uint64_t size) { return (size + VOL_PAGE - 1) / VOL_PAGE; }

int vol_depth(uint64_t n)
{
	int d = 0;
	for (uint64_t cover = 1; cover < n; cover <<= FANLOG2)
		d++;
	return d;
}

static uint64_t count(uint64_t n, int l) { return n ? ((n - 1) >> (FANLOG2 * (unsigned)l)) + 1 : 0; }

static uint64_t data_pos(uint64_t i)
{
	uint64_t p = i;
	for (unsigned l = 1; l <= MAXDEPTH; l++)
		p += (i >> (FANLOG2 * l)) + 1;
	return p;
}

uint64_t vol_node_pos(int l, uint64_t j)
{
	return l == 0 ? data_pos(j) : data_pos(j << (FANLOG2 * (unsigned)l)) - (uint64_t)l;
}

static struct ftree *tree(struct vnode *n)
{
	if (!n->tree)
		n->tree = fsv_sh_calloc(1, sizeof *n->tree);
	return n->tree;
}

static void pos(const struct vol *v, struct vpos *p, uint64_t id, int l, uint64_t j)
{
	vol_pos_init(p, v, l ? K_TAG : K_DATA);
	p->level = (uint32_t)l;
	p->file = id;
	p->index = j;
}

static int auth_fail(struct vol *v, const char *what, const struct vnode *n, uint64_t j)
{
	char num[48];
	size_t k = 0;
	char tmp[24];
	int t = 0;
	uint64_t x = j;
	do
		tmp[t++] = (char)('0' + x % 10);
	while ((x /= 10) && t < 24);
	while (t)
		num[k++] = tmp[--t];
	num[k] = 0;
	(void)n;
	vol_seterr(v, what, num, ": volume data modified or missing on the host");
	return -V_EIO;
}

/* Ciphertext of node (l, j) of file id: the log's copy, else in place. */
static int read_node(struct vol *v, const struct vnode *n, int l, uint64_t j, uint8_t *buf)
{
	uint64_t *off = vmap_get(&v->logmap, n->id, (uint64_t)l << 40 | j);
	char name[32];
	long r;
	if (off) {
		vol_name_log(name, v->gen);
		r = v->h->pread(v->h->ctx, name, buf, VOL_PAGE, *off + REC_HDR);
	} else {
		vol_name_page(name, n->id);
		r = v->h->pread(v->h->ctx, name, buf, VOL_PAGE, vol_node_pos(l, j) * VOL_PAGE);
	}
	if (r == VOL_PAGE)
		return 0;
	if (r < 0 && r != -V_ENOENT)
		return (int)r;
	return auth_fail(v, l ? "tag page missing: " : "page missing: ", n, j);
}

static struct tagpage *load_tag(struct vol *v, struct vnode *n, int l, uint64_t j, int *err);

/* The seal of node (l, j) (l = 0: a data page). */
static int entry_of(struct vol *v, struct vnode *n, int l, uint64_t j, uint8_t s[16])
{
	uint64_t np = vol_npages(n->size);
	if (j >= count(np, l)) {
		memset(s, 0, 16);
		return 0;
	}
	if (l == vol_depth(np)) {
		memcpy(s, n->root, 16);
		return 0;
	}
	int e = 0;
	struct tagpage *tp = load_tag(v, n, l + 1, j >> FANLOG2, &e);
	if (!tp)
		return e;
	memcpy(s, tp->e + (j & (FANOUT - 1)) * TAG, 16);
	return 0;
}

static struct tagpage *load_tag(struct vol *v, struct vnode *n, int l, uint64_t j, int *err)
{
	struct ftree *t = tree(n);
	if (!t) {
		*err = -V_ENOMEM;
		return NULL;
	}
	uint64_t *p = vmap_get(&t->tags, (uint64_t)l, j);
	if (p)
		return (struct tagpage *)(uintptr_t)*p;
	uint8_t s[16];
	if ((*err = entry_of(v, n, l, j, s)))
		return NULL;
	struct tagpage *tp = fsv_sh_calloc(1, sizeof *tp);
	if (!tp) {
		*err = -V_ENOMEM;
		return NULL;
	}
	if (!zero16(s)) {
		struct vpos ps;
		pos(v, &ps, n->id, l, j);
		if ((*err = read_node(v, n, l, j, tp->e)) ||
		    (!vol_unseal(&v->k, &ps, tp->e, tp->e, VOL_PAGE, s) &&
		     (*err = auth_fail(v, "tag page failed authentication: ", n, j)))) {
			fsv_sh_free(tp);
			return NULL;
		}
	}
	if (vmap_put(&t->tags, (uint64_t)l, j, (uint64_t)(uintptr_t)tp)) {
		fsv_sh_free(tp);
		*err = -V_ENOMEM;
		return NULL;
	}
	return tp;
}

/* Plaintext of data page i into buf. */
/* The clean-page cache: CACHE_PAGES slots (4 MiB), CLOCK replacement. */
#define CACHE_PAGES 1024u

struct vslot {
	uint64_t id, index;
	uint8_t tag[16];
	int used, ref;
};
struct vcache {
	struct vmap map; /* (id, index) -> slot */
	struct vslot slot[CACHE_PAGES];
	uint32_t hand;
	uint8_t *pages; /* CACHE_PAGES * VOL_PAGE */
};

void vol_cache_free(struct vol *v)
{
	struct vcache *c = v->cache;
	if (!c)
		return;
	vol_wipe(c->pages, (size_t)CACHE_PAGES * VOL_PAGE);
	fsv_sh_free(c->pages);
	vmap_free(&c->map);
	fsv_sh_free(c);
	v->cache = NULL;
}

/* Copies page (id, i) to buf if the cache holds it verified against tag. */
static int cache_get(struct vol *v, uint64_t id, uint64_t i, const uint8_t tag[16], uint8_t *buf)
{
	struct vcache *c = v->cache;
	uint64_t *k = c ? vmap_get(&c->map, id, i) : NULL;
	if (!k)
		return 0;
	struct vslot *sl = &c->slot[*k];
	if (memcmp(sl->tag, tag, 16))
		return 0;
	memcpy(buf, c->pages + *k * VOL_PAGE, VOL_PAGE);
	sl->ref = 1;
	return 1;
}

/* Keeps a copy of the verified page (id, i); best effort. */
static void cache_put(struct vol *v, uint64_t id, uint64_t i, const uint8_t tag[16], const uint8_t *page)
{
	struct vcache *c = v->cache;
	if (!c) {
		c = fsv_sh_calloc(1, sizeof *c);
		if (!c)
			return;
		if (!(c->pages = fsv_sh_malloc((size_t)CACHE_PAGES * VOL_PAGE))) {
			fsv_sh_free(c);
			return;
		}
		v->cache = c;
	}
	uint64_t *k = vmap_get(&c->map, id, i);
	uint32_t at;
	if (k) {
		at = (uint32_t)*k;
	} else {
		for (;;) { /* CLOCK: the first slot not referenced since the hand passed */
			struct vslot *sl = &c->slot[c->hand];
			if (!sl->used || !sl->ref)
				break;
			sl->ref = 0;
			c->hand = (c->hand + 1) % CACHE_PAGES;
		}
		at = c->hand;
		c->hand = (c->hand + 1) % CACHE_PAGES;
		struct vslot *old = &c->slot[at];
		if (old->used)
			vmap_del(&c->map, old->id, old->index);
		if (vmap_put(&c->map, id, i, at)) {
			old->used = 0;
			return;
		}
	}
	struct vslot *sl = &c->slot[at];
	sl->id = id;
	sl->index = i;
	memcpy(sl->tag, tag, 16);
	sl->used = sl->ref = 1;
	memcpy(c->pages + (size_t)at * VOL_PAGE, page, VOL_PAGE);
}

static int read_page(struct vol *v, struct vnode *n, uint64_t i, uint8_t *buf)
{
	struct ftree *t = tree(n);
	if (!t)
		return -V_ENOMEM;
	uint64_t *d = vmap_get(&t->dirty, 0, i);
	if (d) {
		memcpy(buf, (void *)(uintptr_t)*d, VOL_PAGE);
		return 0;
	}
	uint8_t s[16];
	int e = entry_of(v, n, 0, i, s);
	if (e)
		return e;
	if (zero16(s)) {
		memset(buf, 0, VOL_PAGE);
		return 0;
	}
	if (cache_get(v, n->id, i, s, buf))
		return 0;
	if ((e = read_node(v, n, 0, i, buf)))
		return e;
	struct vpos ps;
	pos(v, &ps, n->id, 0, i);
	if (!vol_unseal(&v->k, &ps, buf, buf, VOL_PAGE, s))
		return auth_fail(v, "page failed authentication: ", n, i);
	cache_put(v, n->id, i, s, buf);
	return 0;
}

long vol_read(struct vol *v, uint64_t id, void *buf, size_t len, uint64_t off)
{
	struct vnode *n = vnode_get(v, id);
	if (!n || n->ghost)
		return -V_ENOENT;
	if ((n->mode & VOL_IFMT) != VOL_IFREG)
		return -V_EISDIR;
	if (off >= n->size)
		return 0;
	if (len > n->size - off)
		len = (size_t)(n->size - off);
	uint8_t *page = fsv_sh_malloc(VOL_PAGE);
	if (!page)
		return -V_ENOMEM;
	size_t done = 0;
	while (done < len) {
		uint64_t at = off + done;
		int e = read_page(v, n, at / VOL_PAGE, page);
		if (e) { /* never a short count that hides a failure */
			vol_wipe(page, VOL_PAGE);
			fsv_sh_free(page);
			return e;
		}
		size_t po = (size_t)(at % VOL_PAGE), k = VOL_PAGE - po;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)buf + done, page + po, k);
		done += k;
	}
	vol_wipe(page, VOL_PAGE);
	fsv_sh_free(page);
	return (long)done;
}

/* The dirty page i (read or zeroed first): NULL on error (*err). */
static uint8_t *dirty_page(struct vol *v, struct vnode *n, uint64_t i, int whole, int *err)
{
	struct ftree *t = tree(n);
	if (!t) {
		*err = -V_ENOMEM;
		return NULL;
	}
	uint64_t *d = vmap_get(&t->dirty, 0, i);
	if (d)
		return (uint8_t *)(uintptr_t)*d;
	uint8_t *p = fsv_sh_malloc(VOL_PAGE);
	if (!p) {
		*err = -V_ENOMEM;
		return NULL;
	}
	if (whole)
		memset(p, 0, VOL_PAGE);
	else if ((*err = read_page(v, n, i, p))) {
		fsv_sh_free(p);
		return NULL;
	}
	if (vmap_put(&t->dirty, 0, i, (uint64_t)(uintptr_t)p)) {
		fsv_sh_free(p);
		*err = -V_ENOMEM;
		return NULL;
	}
	v->dirty_bytes += VOL_PAGE;
	return p;
}

static void drop_dirty(struct vol *v, struct ftree *t, uint64_t i)
{
	uint64_t *d = vmap_get(&t->dirty, 0, i);
	if (!d)
		return;
	vol_wipe((void *)(uintptr_t)*d, VOL_PAGE);
	fsv_sh_free((void *)(uintptr_t)*d);
	vmap_del(&t->dirty, 0, i);
	v->dirty_bytes -= VOL_PAGE;
}

int vol_resize(struct vol *v, struct vnode *n, uint64_t s1)
{
	if (s1 > VOL_MAX_FILE)
		return -V_EFBIG;
	struct ftree *t = tree(n);
	if (!t)
		return -V_ENOMEM;
	uint64_t np0 = vol_npages(n->size), np1 = vol_npages(s1);
	int d0 = vol_depth(np0), d1 = vol_depth(np1), e = 0;
	if (s1 >= n->size) {
		for (int l = d0 + 1; l <= d1; l++) {
			struct tagpage *tp = fsv_sh_calloc(1, sizeof *tp);
			if (!tp)
				return -V_ENOMEM;
			tp->dirty = 1;
			if (l == d0 + 1)
				memcpy(tp->e, n->root, 16);
			uint64_t *old = vmap_get(&t->tags, (uint64_t)l, 0);
			if (old)
				fsv_sh_free((void *)(uintptr_t)*old);
			if (vmap_put(&t->tags, (uint64_t)l, 0, (uint64_t)(uintptr_t)tp)) {
				fsv_sh_free(tp);
				return -V_ENOMEM;
			}
		}
		n->size = s1;
		return 0;
	}
	if (np1 == 0) {
		for (size_t i = 0; i < t->dirty.cap; i++)
			if (t->dirty.e[i].used)
				v->dirty_bytes -= VOL_PAGE;
		vol_tree_free(t);
		n->tree = NULL;
		memset(n->root, 0, 16);
		n->size = 0;
		return 0;
	}
	if (s1 % VOL_PAGE) {
		uint8_t *p = dirty_page(v, n, np1 - 1, 0, &e);
		if (!p)
			return e;
		memset(p + s1 % VOL_PAGE, 0, VOL_PAGE - s1 % VOL_PAGE);
	}
	for (int again = 1; again;) {
		again = 0;
		for (size_t i = 0; i < t->dirty.cap; i++)
			if (t->dirty.e[i].used && t->dirty.e[i].b >= np1) {
				drop_dirty(v, t, t->dirty.e[i].b);
				again = 1;
				break;
			}
	}
	uint8_t root[16];
	memcpy(root, n->root, 16);
	if (d1 < d0 && (e = entry_of(v, n, d1, 0, root)))
		return e;
	struct tagpage *cuts[MAXDEPTH + 1] = {0};
	uint64_t from[MAXDEPTH + 1] = {0};
	for (int l = 1; l <= d1; l++) {
		uint64_t c = count(np1, l - 1);
		if (!(cuts[l] = load_tag(v, n, l, (c - 1) >> FANLOG2, &e)))
			return e;
		from[l] = c & (FANOUT - 1);
	}
	memcpy(n->root, root, 16);
	for (int again = 1; again;) {
		again = 0;
		for (size_t i = 0; i < t->tags.cap; i++) {
			struct vmap_ent *x = &t->tags.e[i];
			if (!x->used)
				continue;
			int l = (int)x->a;
			if (l > d1 || x->b >= count(np1, l)) {
				fsv_sh_free((void *)(uintptr_t)x->v);
				vmap_del(&t->tags, x->a, x->b);
				again = 1;
				break;
			}
		}
	}
	for (int l = 1; l <= d1; l++) {
		if (!from[l])
			continue;
		for (uint64_t i = from[l]; i < FANOUT; i++)
			if (!zero16(cuts[l]->e + i * TAG)) {
				memset(cuts[l]->e + i * TAG, 0, TAG);
				cuts[l]->dirty = 1;
			}
	}
	n->size = s1;
	return 0;
}

long vol_write(struct vol *v, uint64_t id, const void *buf, size_t len, uint64_t off)
{
	struct vnode *n = vnode_get(v, id);
	if (v->dead)
		return -V_EIO;
	if (!n || n->ghost)
		return -V_ENOENT;
	if ((n->mode & VOL_IFMT) != VOL_IFREG)
		return -V_EISDIR;
	uint64_t end = off + len;
	if (end < off || end > VOL_MAX_FILE)
		return -V_EFBIG;
	int e;
	if (end > n->size && (e = vol_resize(v, n, end)))
		return e;
	size_t done = 0;
	while (done < len) {
		uint64_t at = off + done;
		size_t po = (size_t)(at % VOL_PAGE), k = VOL_PAGE - po;
		if (k > len - done)
			k = len - done;
		uint8_t *p = dirty_page(v, n, at / VOL_PAGE, po == 0 && k == VOL_PAGE, &e);
		if (!p)
			return done ? (long)done : e;
		memcpy(p + po, (const uint8_t *)buf + done, k);
		done += k;
	}
	v->changed = 1;
	return (long)done;
}

/* Whether node (l, j) of n may be written in place (docs/volume.md,
 * "Writing"): no committed state references its place (the file is new
 * since the last commit, or (l, j) lies beyond its committed size or above
 * its committed depth) and the log holds no copy of it (a replay would
 * take that one). */
static int fresh_place(const struct vol *v, const struct vnode *n, int l, uint64_t j)
{
	if (!v->inplace_ok || n->ghost || vmap_get(&v->logmap, n->id, (uint64_t)l << 40 | j))
		return 0;
	if (!n->committed)
		return 1;
	uint64_t cnp = vol_npages(n->csize);
	return l > vol_depth(cnp) || j >= count(cnp, l);
}

#define BATCH_PAGES 64u

/* Writes the batch of consecutive in-place pages (if any). */
static int flush_batch(struct vol *v)
{
	if (!v->batch_n)
		return 0;
	char pname[32];
	vol_name_page(pname, v->batch_id);
	size_t len = (size_t)v->batch_n * VOL_PAGE;
	long r = v->h->pwrite(v->h->ctx, pname, v->batch, len, v->batch_pos * VOL_PAGE);
	v->batch_n = 0;
	if (r < 0)
		return (int)r;
	return r == (long)len ? 0 : -V_EIO;
}

/* Adds a sealed page at position pos of file id to the batch, writing the
 * batch first when the page does not extend it. */
static int batch_page(struct vol *v, uint64_t id, uint64_t pos, const uint8_t *ct)
{
	if (v->batch_n && (v->batch_id != id || v->batch_pos + v->batch_n != pos || v->batch_n == BATCH_PAGES)) {
		int e = flush_batch(v);
		if (e)
			return e;
	}
	if (!v->batch && !(v->batch = fsv_sh_malloc((size_t)BATCH_PAGES * VOL_PAGE)))
		return -V_ENOMEM;
	if (!v->batch_n) {
		v->batch_id = id;
		v->batch_pos = pos;
	}
	memcpy(v->batch + (size_t)v->batch_n * VOL_PAGE, ct, VOL_PAGE);
	v->batch_n++;
	return 0;
}

/* A sealed node at a fresh place is written in place (synced before the
 * next durable commit); at a committed place it goes to the log as a PAGE
 * record, listed by the next commit: a committed place is never
 * overwritten before a checkpoint. */
static int write_node(struct vol *v, const struct vnode *n, int l, uint64_t j, const uint8_t *ct, const uint8_t s[16])
{
	uint64_t id = n->id;
	if (fresh_place(v, n, l, j)) {
		int e = batch_page(v, id, vol_node_pos(l, j), ct);
		if (e)
			return e;
		if (!v->ninplace || v->inplace[v->ninplace - 1] != id) {
			if (v->ninplace == v->capinplace) {
				size_t cap = v->capinplace ? v->capinplace * 2 : 16;
				uint64_t *p = fsv_sh_malloc(cap * sizeof *p);
				if (!p)
					return -V_ENOMEM;
				if (v->ninplace)
					memcpy(p, v->inplace, v->ninplace * sizeof *p);
				fsv_sh_free(v->inplace);
				v->inplace = p;
				v->capinplace = cap;
			}
			v->inplace[v->ninplace++] = id;
		}
		return 0;
	}
	uint8_t hdr[REC_HDR] = "SVLR";
	p32(hdr + 4, 1);
	p64(hdr + 8, VOL_PAGE);
	char name[32];
	vol_name_log(name, v->gen);
	long r = v->h->pwrite(v->h->ctx, name, hdr, REC_HDR, v->logend);
	if (r >= 0)
		r = v->h->pwrite(v->h->ctx, name, ct, VOL_PAGE, v->logend + REC_HDR);
	if (r < 0)
		return (int)r;
	if (v->npend == v->cappend) {
		size_t cap = v->cappend ? v->cappend * 2 : 64;
		struct pageref *p = fsv_sh_malloc(cap * sizeof *p);
		if (!p)
			return -V_ENOMEM;
		if (v->npend)
			memcpy(p, v->pend, v->npend * sizeof *p);
		fsv_sh_free(v->pend);
		v->pend = p;
		v->cappend = cap;
	}
	struct pageref *pr = &v->pend[v->npend++];
	pr->off = v->logend;
	pr->file = id;
	pr->level = (uint32_t)l;
	pr->index = j;
	memcpy(pr->s, s, 16);
	if (vmap_put(&v->logmap, id, (uint64_t)l << 40 | j, v->logend))
		return -V_ENOMEM;
	v->logend += REC_HDR + VOL_PAGE;
	return 0;
}

static int set_entry(struct vol *v, struct vnode *n, int d, int l, uint64_t j, const uint8_t s[16])
{
	if (l == d) {
		memcpy(n->root, s, 16);
		return 0;
	}
	int e = 0;
	struct tagpage *tp = load_tag(v, n, l + 1, j >> FANLOG2, &e);
	if (!tp)
		return e;
	memcpy(tp->e + (j & (FANOUT - 1)) * TAG, s, 16);
	tp->dirty = 1;
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The keys b of the entries of m with a == a (and, for tags, dirty). */
static uint64_t *keys_of(const struct vmap *m, uint64_t a, int tags, size_t *k)
{
	uint64_t *ks = fsv_sh_malloc((m->n + 1) * sizeof *ks);
	*k = 0;
	if (!ks)
		return NULL;
	for (size_t i = 0; i < m->cap; i++) {
		const struct vmap_ent *x = &m->e[i];
		if (x->used && x->a == a && (!tags || ((struct tagpage *)(uintptr_t)x->v)->dirty))
			ks[(*k)++] = x->b;
	}
	return ks;
}

/* Seals the dirty pages of n bottom-up and sets its root. */
int vol_flush(struct vol *v, struct vnode *n)
{
	struct ftree *t = n->tree;
	if (!t)
		return 0;
	int d = vol_depth(vol_npages(n->size)), e = 0;
	uint8_t *ct = fsv_sh_malloc(VOL_PAGE);
	if (!ct)
		return -V_ENOMEM;
	uint8_t s[16];
	struct vpos ps;
	for (int l = 0; l <= d && !e; l++) {
		size_t k;
		uint64_t *js = keys_of(l ? &t->tags : &t->dirty, (uint64_t)l, l > 0, &k);
		if (!js) {
			e = -V_ENOMEM;
			break;
		}
		vsort(js, k, sizeof *js, cmp_key); /* consecutive pages, one write */
		for (size_t i = 0; i < k && !e; i++) {
			uint64_t j = js[i];
			uint64_t *p = vmap_get(l ? &t->tags : &t->dirty, (uint64_t)l, j);
			const uint8_t *plain = l ? ((struct tagpage *)(uintptr_t)*p)->e : (uint8_t *)(uintptr_t)*p;
			pos(v, &ps, n->id, l, j);
			vol_seal(&v->k, &ps, plain, ct, VOL_PAGE, s);
			if (l)
				((struct tagpage *)(uintptr_t)*p)->dirty = 0;
			else
				drop_dirty(v, t, j);
			if (!(e = write_node(v, n, l, j, ct, s)))
				e = set_entry(v, n, d, l, j, s);
		}
		fsv_sh_free(js);
	}
	fsv_sh_free(ct);
	int f = flush_batch(v);
	return e ? e : f;
}
