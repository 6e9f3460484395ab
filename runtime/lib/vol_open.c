/* Protected volumes: the host directory (header, snapshots, log), opening
 * with recovery, commits and checkpoints (docs/volume.md; pkg/volume
 * volume.go and write.go). The top of the format library, beside
 * vol_ops.c: above vol_meta.c and vol_data.c (a commit flushes the files'
 * pages and encodes the nodes); no vol_*.c file calls into it. */
#include "vol_int.h"

long vol_read_all(const struct vol *v, const char *name, uint8_t **out, uint64_t *len)
{
	uint64_t sz;
	long r = v->h->size(v->h->ctx, name, &sz);
	if (r < 0)
		return r;
	if (sz > (1ull << 40))
		return -V_EFBIG;
	uint8_t *b = fsv_sh_malloc(sz ? (size_t)sz : 1);
	if (!b)
		return -V_ENOMEM;
	uint64_t got = 0;
	while (got < sz) {
		r = v->h->pread(v->h->ctx, name, b + got, (size_t)(sz - got), got);
		if (r <= 0)
			break;
		got += (uint64_t)r;
	}
	if (r < 0) {
		fsv_sh_free(b);
		return r;
	}
	*out = b;
	*len = got;
	return 0;
}

static int sealed_snapshot(struct vol *v, uint64_t gen, struct vbuf *out)
{
	struct vbuf m = {0};
	int e = vol_encode_state(v, &m);
	if (e)
		return e;
	uint8_t h[64] = "SCONEVMS";
	p32(h + 8, 1);
	p64(h + 16, gen);
	p64(h + 24, v->version);
	p64(h + 32, m.n);
	out->n = 0;
	if (!(e = vbuf_add(out, h, 64)) && !(e = vbuf_add(out, m.p, m.n))) {
		struct vpos ps;
		vol_pos_init(&ps, v, K_SNAP);
		ps.file = gen;
		ps.index = v->version;
		ps.aux = m.n;
		vol_seal(&v->k, &ps, m.p, out->p + 64, m.n, out->p + 40);
	}
	vol_wipe(m.p, m.n);
	vbuf_free(&m);
	return e;
}

/* Temporary file, fsync, rename, fsync of the directory. */
static int write_atomic(struct vol *v, const char *name, const uint8_t *b, size_t n)
{
	char tmp[48] = ".tmp-";
	memcpy(tmp + 5, name, strlen(name) + 1);
	long r = v->h->remove(v->h->ctx, tmp);
	if (r >= 0)
		r = v->h->pwrite(v->h->ctx, tmp, b, n, 0);
	if (r >= 0)
		r = v->h->sync(v->h->ctx, tmp);
	if (r >= 0)
		r = v->h->rename(v->h->ctx, tmp, name);
	if (r >= 0)
		r = v->h->sync(v->h->ctx, ".");
	return r < 0 ? (int)r : 0;
}

struct scan {
	int other, found_meta, found_hdr;
	uint64_t gen;
	const struct vol *v;
	char names[64][40]; /* leftovers to remove (up to 64 per pass) */
	size_t nnames;
};

static int parse_gen(const char *name, const char *prefix, uint64_t *g)
{
	size_t l = strlen(prefix);
	if (memcmp(name, prefix, l) || strlen(name) != l + 16)
		return 0;
	uint64_t x = 0;
	for (size_t i = l; i < l + 16; i++) {
		char c = name[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return 0;
		x = x << 4 | (uint64_t)d;
	}
	*g = x;
	return 1;
}

static void scan_fn(void *arg, const char *name)
{
	struct scan *s = arg;
	uint64_t g;
	if (parse_gen(name, "meta.", &g)) {
		if (!s->found_meta || g > s->gen)
			s->gen = g;
		s->found_meta = 1;
	} else if (!memcmp(name, "volume", 7)) {
		s->found_hdr = 1;
	} else if (memcmp(name, ".tmp-", 5)) {
		s->other = 1;
	}
}

static int create(struct vol *v, const char *path)
{
	struct scan s = {0};
	long r = v->h->list(v->h->ctx, ".", scan_fn, &s);
	if (r < 0)
		return (int)r;
	if (s.other)
		return vol_seterr(v, "not a protected volume: the directory holds other files and no volume header", 0,
				  0),
		       -V_ENOTDIR;
	if ((r = v->h->random(v->h->ctx, v->volid, 16)) < 0)
		return (int)r;
	struct vnode *root = vnode_new(v, VOL_ROOT_ID);
	if (!root)
		return -V_ENOMEM;
	root->mode = VOL_IFDIR | 0755;
	root->uid = v->uid;
	root->gid = v->gid;
	root->nlink = 2;
	v->h->now(v->h->ctx, &root->at, &root->atn);
	root->mt = root->ct = root->at;
	root->mtn = root->ctn = root->atn;
	v->next_id = 2;
	struct vbuf b = {0};
	int e = sealed_snapshot(v, 0, &b);
	if (!e) {
		char name[32];
		vol_name_meta(name, 0);
		e = write_atomic(v, name, b.p, b.n);
	}
	vbuf_free(&b);
	vnode_drop(v, VOL_ROOT_ID);
	if (e)
		return e;
	size_t pl = strlen(path);
	uint8_t *h = fsv_sh_calloc(1, 64 + pl + 16);
	if (!h)
		return -V_ENOMEM;
	memcpy(h, "SCONEVOL", 8);
	p32(h + 8, 1);
	p32(h + 12, 12);
	memcpy(h + 16, v->volid, 16);
	memcpy(h + 32, v->k.check, 16);
	p32(h + 48, (uint32_t)pl);
	memcpy(h + 64, path, pl);
	struct vpos ps;
	vol_pos_init(&ps, v, K_HEADER);
	ps.aux = 64 + pl;
	vol_mac(&v->k, &ps, h, 64 + pl, h + 64 + pl);
	e = write_atomic(v, "volume", h, 64 + pl + 16);
	fsv_sh_free(h);
	return e;
}

static int parse_header(struct vol *v, const uint8_t *b, uint64_t n)
{
	if (n < 12 || memcmp(b, "SCONEVOL", 8))
		return vol_seterr(v, "volume header: bad magic", 0, 0), -V_EIO;
	if (g32(b + 8) != 1)
		return vol_seterr(v, "volume: unknown format version (this runtime reads version 1)", 0, 0), -V_EPROTO;
	uint32_t pl = n >= 64 ? g32(b + 48) : 0;
	if (n < 64 + 1 + 16 || g32(b + 12) != 12 || pl == 0 || pl > VOL_PATH_MAX || n != 64ull + pl + 16 ||
	    g32(b + 52) || g64(b + 56))
		return vol_seterr(v, "volume header: malformed", 0, 0), -V_EIO;
	memcpy(v->volid, b + 16, 16);
	if (memcmp(b + 32, v->k.check, 16))
		return vol_seterr(v, "wrong volume key: the volume was made with another key or for another path", 0,
				  0),
		       -V_EKEYREJECTED;
	uint8_t s[16];
	struct vpos ps;
	vol_pos_init(&ps, v, K_HEADER);
	ps.aux = 64 + pl;
	vol_mac(&v->k, &ps, b, 64 + pl, s);
	if (memcmp(s, b + 64 + pl, 16))
		return vol_seterr(v, "volume header modified", 0, 0), -V_EIO;
	return 0;
}

static int load_snapshot(struct vol *v)
{
	char name[32];
	vol_name_meta(name, v->gen);
	uint8_t *b;
	uint64_t n;
	long r = vol_read_all(v, name, &b, &n);
	if (r < 0)
		return (int)r;
	int e = 0;
	const char *why = NULL;
	if (n < 64 || memcmp(b, "SCONEVMS", 8))
		e = -V_EIO, why = "not a snapshot";
	else if (g32(b + 8) != 1)
		e = -V_EPROTO, why = "unknown format version";
	else if (g32(b + 12) || g64(b + 56) || g64(b + 16) != v->gen || g64(b + 32) != n - 64)
		e = -V_EIO, why = "header fields do not match the file";
	if (!e) {
		v->version = g64(b + 24);
		struct vpos ps;
		vol_pos_init(&ps, v, K_SNAP);
		ps.file = v->gen;
		ps.index = v->version;
		ps.aux = n - 64;
		if (!vol_unseal(&v->k, &ps, b + 64, b + 64, n - 64, b + 40))
			e = -V_EIO, why = "failed authentication";
		else
			e = vol_decode_state(v, b + 64, n - 64, &why);
	}
	fsv_sh_free(b);
	if (e)
		vol_seterr(v, "volume snapshot modified: ", why, 0);
	return e;
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t x = 0;
	for (size_t i = 0; i < n; i++)
		x |= p[i];
	return !x;
}

static int replay(struct vol *v)
{
	char name[32];
	vol_name_log(name, v->gen);
	uint8_t *b;
	uint64_t n;
	long r = vol_read_all(v, name, &b, &n);
	if (r == -V_ENOENT)
		return 0;
	if (r < 0)
		return (int)r;
	struct vmap window = {0};
	uint64_t off = 0;
	int e = 0;
	const char *why = NULL;
	for (;;) {
		uint64_t rest = n - off;
		if (rest < REC_HDR || all_zero(b + off, REC_HDR))
			break;
		uint32_t typ = g32(b + off + 4);
		uint64_t len = g64(b + off + 8);
		if (memcmp(b + off, "SVLR", 4) || (typ != 1 && typ != 2) || (typ == 1 && len != VOL_PAGE) ||
		    (typ == 2 && len < COMMIT_HDR)) {
			e = -V_EIO, why = "bad record";
			break;
		}
		if (len > rest - REC_HDR)
			break; /* torn tail */
		uint64_t next = off + REC_HDR + len;
		if (typ == 1) {
			if (vmap_put(&window, off, 0, 1)) {
				e = -V_ENOMEM;
				break;
			}
		} else {
			uint8_t *p = b + off + REC_HDR;
			uint64_t ver = g64(p), m = g64(p + 8);
			if (ver != v->version + 1 || m != len - COMMIT_HDR || !all_zero(p + 32, 32)) {
				e = -V_EIO, why = "commit out of sequence";
				break;
			}
			struct vpos ps;
			vol_pos_init(&ps, v, K_COMMIT);
			ps.file = v->gen;
			ps.index = ver;
			memcpy(ps.link, v->root, 16);
			ps.aux = m;
			if (!vol_unseal(&v->k, &ps, p + COMMIT_HDR, p + COMMIT_HDR, m, p + 16)) {
				e = -V_EIO, why = "commit failed authentication";
				break;
			}
			if ((e = vol_apply_commit(v, p + COMMIT_HDR, m, &window, &why)))
				break;
			vmap_free(&window);
			v->version = ver;
			memcpy(v->root, p + 16, 16);
			v->logend = next;
		}
		off = next;
	}
	vmap_free(&window);
	fsv_sh_free(b);
	if (e && why)
		vol_seterr(v, "volume log modified: ", why, 0);
	return e;
}

static void mark_committed(struct vol *v)
{
	for (size_t i = 0; i < v->nodes.cap; i++)
		if (v->nodes.e[i].used) {
			struct vnode *n = (struct vnode *)(uintptr_t)v->nodes.e[i].v;
			n->committed = 1;
			n->csize = n->size;
		}
	v->cnext_id = v->next_id;
}

static void leftovers_fn(void *arg, const char *name)
{
	struct scan *s = arg;
	uint64_t g;
	int drop = !memcmp(name, ".tmp-", 5) || (parse_gen(name, "meta.", &g) && g != s->gen) ||
		   (parse_gen(name, "log.", &g) && g != s->gen);
	if (drop && s->nnames < 64 && strlen(name) < 40)
		memcpy(s->names[s->nnames++], name, strlen(name) + 1);
}

static void orphans_fn(void *arg, const char *name)
{
	struct scan *s = arg;
	uint64_t id = 0;
	char full[40] = "f/";
	int ok = strlen(name) == 16;
	for (size_t i = 0; ok && i < 16; i++) {
		char c = name[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		ok = d >= 0;
		id = id << 4 | (uint64_t)(d < 0 ? 0 : d);
	}
	struct vnode *n = ok ? vnode_get(s->v, id) : NULL;
	if (n && !n->ghost && (n->mode & VOL_IFMT) == VOL_IFREG)
		return;
	if (s->nnames < 64 && strlen(name) < 38) {
		memcpy(full + 2, name, strlen(name) + 1);
		memcpy(s->names[s->nnames++], full, strlen(full) + 1);
	}
}

static int cleanup(struct vol *v)
{
	for (int pass = 0; pass < 2; pass++) {
		for (;;) {
			struct scan *s = fsv_sh_calloc(1, sizeof *s);
			if (!s)
				return -V_ENOMEM;
			s->gen = v->gen;
			s->v = v;
			long r = v->h->list(v->h->ctx, pass ? "f" : ".", pass ? orphans_fn : leftovers_fn, s);
			for (size_t i = 0; r >= 0 && i < s->nnames; i++)
				r = v->h->remove(v->h->ctx, s->names[i]);
			size_t nn = s->nnames;
			fsv_sh_free(s);
			if (r == -V_ENOENT && pass)
				break;
			if (r < 0)
				return (int)r;
			if (nn < 64)
				break;
		}
	}
	char name[32];
	vol_name_log(name, v->gen);
	uint64_t sz;
	if (v->h->size(v->h->ctx, name, &sz) < 0)
		return 0;
	if (sz > v->logend) {
		long r = v->h->truncate(v->h->ctx, name, v->logend);
		if (r < 0)
			return (int)r;
	}
	return v->logend ? vol_checkpoint(v) : 0;
}

int vol_open(struct vol **out, const struct vol_host *h, const uint8_t key[VOL_KEY_SIZE], const char *mount_path,
	     uint32_t uid, uint32_t gid, int readonly, char *err, size_t errlen)
{
	*out = NULL;
	struct vol *v = fsv_sh_calloc(1, sizeof *v);
	if (!v)
		return -V_ENOMEM;
	v->h = h;
	v->ro = readonly;
	v->uid = uid;
	v->gid = gid;
	vol_keys_init(&v->k, key);
	uint8_t *b = NULL;
	uint64_t n;
	long r = vol_read_all(v, "volume", &b, &n);
	if (r == -V_ENOENT && !readonly) {
		r = create(v, mount_path);
		if (r >= 0)
			r = vol_read_all(v, "volume", &b, &n);
	} else if (r == -V_ENOENT) {
		vol_seterr(v, "not a protected volume (no volume header)", 0, 0);
		r = -V_ENOTDIR;
	}
	if (r >= 0)
		r = parse_header(v, b, n);
	fsv_sh_free(b);
	if (r >= 0) {
		struct scan s = {0};
		r = h->list(h->ctx, ".", scan_fn, &s);
		if (r >= 0 && !s.found_meta) {
			vol_seterr(v, "volume snapshot modified: no snapshot in the volume directory", 0, 0);
			r = -V_EIO;
		}
		v->gen = s.gen;
	}
	if (r >= 0)
		r = load_snapshot(v);
	if (r >= 0)
		r = replay(v);
	if (r >= 0) {
		mark_committed(v);
		if (!readonly)
			r = cleanup(v);
	}
	if (r < 0) {
		if (err && errlen) {
			size_t k = 0;
			for (; v->err[k] && k + 1 < errlen; k++)
				err[k] = v->err[k];
			err[k] = 0;
		}
		vol_free(v);
		return (int)r;
	}
	*out = v;
	return 0;
}

void vol_free(struct vol *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nodes.cap; i++)
		if (v->nodes.e[i].used)
			vnode_free((struct vnode *)(uintptr_t)v->nodes.e[i].v);
	vmap_free(&v->nodes);
	vmap_free(&v->logmap);
	fsv_sh_free(v->pend);
	vbuf_free(&v->ops);
	fsv_sh_free(v->drops);
	fsv_sh_free(v->todel);
	fsv_sh_free(v->inplace);
	fsv_sh_free(v->batch);
	vol_cache_free(v);
	fsv_sh_free(v->path);
	vol_keys_wipe(&v->k);
	fsv_sh_free(v);
}

uint64_t vol_version(const struct vol *v, uint8_t root[16])
{
	if (root)
		memcpy(root, v->root, 16);
	return v->version;
}

void vol_id(const struct vol *v, uint8_t id[16]) { memcpy(id, v->volid, 16); }

uint64_t vol_dirty_bytes(const struct vol *v) { return v->dirty_bytes; }
int vol_changed(const struct vol *v) { return v->changed; }

static int remove_todel(struct vol *v)
{
	for (size_t i = 0; i < v->ntodel; i++) {
		char name[32];
		vol_name_page(name, v->todel[i]);
		long r = v->h->remove(v->h->ctx, name);
		if (r < 0)
			return (int)r;
	}
	v->ntodel = 0;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int vol_sync_inplace(struct vol *v)
{
	vsort(v->inplace, v->ninplace, sizeof *v->inplace, cmp_u64);
	for (size_t i = 0; i < v->ninplace; i++) {
		if (i && v->inplace[i] == v->inplace[i - 1])
			continue;
		char name[32];
		vol_name_page(name, v->inplace[i]);
		long r = v->h->sync(v->h->ctx, name);
		if (r < 0 && r != -V_ENOENT) /* a file removed since: nothing to keep */
			return (int)r;
	}
	v->ninplace = 0;
	return 0;
}

int vol_checkpoint(struct vol *v)
{
	char lname[32], pname[32], mname[32];
	vol_name_log(lname, v->gen);
	uint8_t *buf = fsv_sh_malloc(VOL_PAGE);
	if (!buf)
		return -V_ENOMEM;
	/* the files written, each synced once after all its pages */
	uint64_t *ids = fsv_sh_malloc((v->logmap.n + 1) * sizeof *ids);
	if (!ids) {
		fsv_sh_free(buf);
		return -V_ENOMEM;
	}
	size_t nids = 0;
	int e = 0;
	for (size_t i = 0; i < v->logmap.cap && !e; i++) {
		struct vmap_ent *x = &v->logmap.e[i];
		if (!x->used)
			continue;
		struct vnode *n = vnode_get(v, x->a);
		if (!n || n->ghost || n->orphan || (n->mode & VOL_IFMT) != VOL_IFREG)
			continue;
		long r = v->h->pread(v->h->ctx, lname, buf, VOL_PAGE, x->v + REC_HDR);
		if (r >= 0 && r != VOL_PAGE)
			r = -V_EIO;
		vol_name_page(pname, x->a);
		if (r >= 0)
			r = v->h->pwrite(v->h->ctx, pname, buf, VOL_PAGE,
					 vol_node_pos((int)(x->b >> 40), x->b & ((1ull << 40) - 1)) * VOL_PAGE);
		e = r < 0 ? (int)r : 0;
		ids[nids++] = x->a;
	}
	fsv_sh_free(buf);
	vsort(ids, nids, sizeof *ids, cmp_u64);
	for (size_t i = 0; i < nids && !e; i++) {
		if (i && ids[i] == ids[i - 1])
			continue;
		vol_name_page(pname, ids[i]);
		long r = v->h->sync(v->h->ctx, pname);
		e = r < 0 ? (int)r : 0;
	}
	fsv_sh_free(ids);
	/* the snapshot also references what was written in place */
	if (!e)
		e = vol_sync_inplace(v);
	struct vbuf b = {0};
	if (!e)
		e = sealed_snapshot(v, v->gen + 1, &b);
	vol_name_meta(mname, v->gen + 1);
	if (!e)
		e = write_atomic(v, mname, b.p, b.n);
	vbuf_free(&b);
	vol_name_meta(mname, v->gen);
	long r = 0;
	if (!e && (r = v->h->remove(v->h->ctx, lname)) >= 0)
		r = v->h->remove(v->h->ctx, mname);
	if (!e && r < 0)
		e = (int)r;
	if (e) {
		v->dead = 1;
		return e;
	}
	v->gen++;
	vmap_free(&v->logmap);
	v->logend = 0;
	v->log_unsynced = 0;
	return remove_todel(v);
}

/* A durable commit of less than this much data logs it all: one fdatasync
 * (the log's) instead of one more per file written in place. */
#define INPLACE_MIN (256u << 10)

static int commit(struct vol *v, int sync)
{
	int e = 0;
	v->inplace_ok = !sync || v->dirty_bytes >= INPLACE_MIN;
	for (size_t i = 0; i < v->nodes.cap && !e; i++) {
		if (!v->nodes.e[i].used)
			continue;
		struct vnode *n = (struct vnode *)(uintptr_t)v->nodes.e[i].v;
		if (n->orphan || !n->tree)
			continue;
		uint8_t old[16];
		memcpy(old, n->root, 16);
		e = vol_flush(v, n);
		if (memcmp(old, n->root, 16))
			n->touched = 1;
	}
	if (e)
		return e;
	struct vbuf m = {0};
	uint32_t nd = 0;
	uint8_t zero8[8] = {0};
	e = vbuf_add(&m, zero8, 8);
	for (size_t i = 0; i < v->npend && !e; i++) {
		uint8_t r[PAGEREF] = {0};
		p64(r, v->pend[i].off);
		p64(r + 8, v->pend[i].file);
		p32(r + 16, v->pend[i].level);
		p64(r + 24, v->pend[i].index);
		memcpy(r + 32, v->pend[i].s, 16);
		e = vbuf_add(&m, r, PAGEREF);
	}
	if (!e && v->next_id != v->cnext_id) {
		e = vbuf_u32(&m, D_NEXTID) || vbuf_u32(&m, 8) || vbuf_u64(&m, v->next_id) ? -V_ENOMEM : 0;
		nd++;
	}
	size_t ni = 0;
	uint64_t *ids = fsv_sh_malloc((v->nodes.n + 1) * sizeof *ids);
	if (!ids)
		e = -V_ENOMEM;
	for (size_t i = 0; i < v->nodes.cap && !e; i++) {
		struct vnode *n = (struct vnode *)(uintptr_t)v->nodes.e[i].v;
		if (v->nodes.e[i].used && n->touched && !n->orphan && !n->ghost)
			ids[ni++] = n->id;
	}
	if (!e)
		vsort(ids, ni, sizeof *ids, cmp_u64);
	for (size_t i = 0; i < ni && !e; i++) {
		struct vnode *n = vnode_get(v, ids[i]);
		uint8_t rec[INODE_REC];
		vol_put_inode(n, rec, 0);
		size_t tl = (n->mode & VOL_IFMT) == VOL_IFLNK ? n->size : 0;
		e = vbuf_u32(&m, D_INODE) || vbuf_u32(&m, (uint32_t)(INODE_REC + tl)) || vbuf_add(&m, rec, INODE_REC) ||
				    vbuf_add(&m, n->target, tl) ?
			    -V_ENOMEM :
			    0;
		nd++;
	}
	if (!e && v->ops.n) {
		e = vbuf_add(&m, v->ops.p, v->ops.n);
		nd += v->nops;
	}
	for (size_t i = 0; i < v->ndrops && !e; i++) {
		e = vbuf_u32(&m, D_DROP) || vbuf_u32(&m, 8) || vbuf_u64(&m, v->drops[i]) ? -V_ENOMEM : 0;
		nd++;
	}
	fsv_sh_free(ids);
	if (!e && !nd && !v->npend) {
		vbuf_free(&m);
		v->changed = 0;
		/* nothing new, but an earlier commit (a close's) may not be
		 * durable yet: its pages written in place, then the log */
		if (sync && (e = vol_sync_inplace(v)))
			return e;
		if (sync && v->log_unsynced) {
			char ln[32];
			vol_name_log(ln, v->gen);
			long r = v->h->sync(v->h->ctx, ln);
			if (r < 0)
				return (int)r;
			v->log_unsynced = 0;
			return remove_todel(v);
		}
		return 0;
	}
	uint8_t *rec = NULL;
	size_t rl = REC_HDR + COMMIT_HDR + m.n;
	if (!e && !(rec = fsv_sh_calloc(1, rl)))
		e = -V_ENOMEM;
	char lname[32];
	vol_name_log(lname, v->gen);
	/* the pages written in place are durable before the commit naming them */
	if (!e && sync)
		e = vol_sync_inplace(v);
	if (!e) {
		p32(m.p, (uint32_t)v->npend);
		p32(m.p + 4, nd);
		memcpy(rec, "SVLR", 4);
		p32(rec + 4, 2);
		p64(rec + 8, COMMIT_HDR + m.n);
		p64(rec + 16, v->version + 1);
		p64(rec + 24, m.n);
		struct vpos ps;
		vol_pos_init(&ps, v, K_COMMIT);
		ps.file = v->gen;
		ps.index = v->version + 1;
		memcpy(ps.link, v->root, 16);
		ps.aux = m.n;
		vol_seal(&v->k, &ps, m.p, rec + REC_HDR + COMMIT_HDR, m.n, rec + 32);
		long r = v->h->pwrite(v->h->ctx, lname, rec, rl, v->logend);
		if (r >= 0 && sync)
			r = v->h->sync(v->h->ctx, lname);
		if (r >= 0)
			v->log_unsynced = !sync;
		e = r < 0 ? (int)r : 0;
	}
	if (m.p)
		vol_wipe(m.p, m.n);
	vbuf_free(&m);
	if (e) {
		fsv_sh_free(rec);
		return e;
	}
	v->logend += rl;
	v->version++;
	memcpy(v->root, rec + 32, 16);
	fsv_sh_free(rec);
	v->npend = 0;
	v->ops.n = 0;
	v->nops = 0;
	v->ndrops = 0;
	v->changed = 0;
	for (size_t i = 0; i < v->nodes.cap; i++)
		if (v->nodes.e[i].used) {
			struct vnode *n = (struct vnode *)(uintptr_t)v->nodes.e[i].v;
			n->touched = 0;
			if (!n->orphan) {
				n->committed = 1;
				n->csize = n->size;
			}
		}
	v->cnext_id = v->next_id;
	if (sync && (e = remove_todel(v)))
		return e;
	if (v->logend > CHECKPOINT_LOG && !v->orphans)
		return vol_checkpoint(v);
	return 0;
}

int vol_commit(struct vol *v, int sync)
{
	if (v->ro)
		return -30; /* EROFS */
	if (v->dead)
		return -V_EIO;
	int e = commit(v, sync);
	if (e) {
		v->dead = 1;
		if (!v->err[0])
			vol_seterr(v, "commit failed on the host", 0, 0);
	}
	return e;
}
