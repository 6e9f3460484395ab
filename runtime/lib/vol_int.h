/* What the vol_*.c files share (vol.h is the interface).
 *
 * Layers (a file calls only into the files below it, never up):
 *   vol_open.c, vol_ops.c   the volume: open, commits, checkpoints; the
 *                           namespace and open-file lifetimes
 *   vol_data.c              file contents: pages and the tag tree
 *   vol_meta.c              nodes: inodes, directory entries, state, deltas
 *   vol_base.c, vol_map.c,  host file names, the error text, seal positions;
 *   vol_crypto.c            maps and buffers; keys and the seal */
#ifndef SCONE_VOL_INT_H
#define SCONE_VOL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <bearssl.h>
#include "vol.h"
#include "fsv_arena.h"

#ifndef EIO
#define EIO 5
#endif
#define V_EPERM 1
#define V_ENOENT 2
#define V_EIO 5
#define V_ENOMEM 12
#define V_EBUSY 16
#define V_EEXIST 17
#define V_EXDEV 18
#define V_ENOTDIR 20
#define V_EISDIR 21
#define V_EINVAL 22
#define V_EFBIG 27
#define V_ENAMETOOLONG 36
#define V_ENOTEMPTY 39
#define V_EMLINK 31
#define V_ELOOP 40
#define V_EPROTO 71
#define V_EKEYREJECTED 129

#define FANOUT 256u
#define FANLOG2 8u
#define MAXDEPTH 4
#define TAG 16
#define REC_HDR 16
#define COMMIT_HDR 64
#define PAGEREF 48
#define INODE_REC 96
#define DIRENT_REC 24
#define CHECKPOINT_LOG (64ull << 20)

enum { K_HEADER = 1, K_DATA = 2, K_TAG = 3, K_SNAP = 4, K_COMMIT = 5 };
enum { D_INODE = 1, D_DROP = 2, D_LINK = 3, D_UNLINK = 4, D_NEXTID = 5 };

/* ---- vol_map.c: hash map (two u64 keys -> u64), growable buffer, sort ---- */
struct vmap_ent {
	uint64_t a, b, v;
	int used;
};
struct vmap {
	struct vmap_ent *e;
	size_t cap, n;
};
uint64_t *vmap_get(const struct vmap *m, uint64_t a, uint64_t b);
int vmap_put(struct vmap *m, uint64_t a, uint64_t b, uint64_t v);
int vmap_del(struct vmap *m, uint64_t a, uint64_t b);
void vmap_free(struct vmap *m);
/* Iteration: index i from 0 while < cap; entries with used set. */

struct vbuf {
	uint8_t *p;
	size_t n, cap;
};
int vbuf_add(struct vbuf *b, const void *p, size_t n);
int vbuf_u32(struct vbuf *b, uint32_t v);
int vbuf_u64(struct vbuf *b, uint64_t v);
void vbuf_free(struct vbuf *b);
void vsort(void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *));

static inline uint32_t g32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t g64(const uint8_t *p) { return g32(p) | (uint64_t)g32(p + 4) << 32; }
static inline void p32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void p64(uint8_t *p, uint64_t v)
{
	p32(p, (uint32_t)v);
	p32(p + 4, (uint32_t)(v >> 32));
}
static inline int has_nul(const void *p, size_t n)
{
	const uint8_t *q = p;
	for (size_t i = 0; i < n; i++)
		if (!q[i])
			return 1;
	return 0;
}

static inline int zero16(const uint8_t *p)
{
	uint8_t x = 0;
	for (int i = 0; i < 16; i++)
		x |= p[i];
	return x == 0;
}

/* ---- vol_crypto.c ---- */
union vol_ctr {
	const br_block_ctr_class *vtable;
	br_aes_x86ni_ctr_keys ni;
	br_aes_ct64_ctr_keys ct64;
};
struct vol_keys {
	uint8_t check[16];
	union vol_ctr k1, k2, ke;
	br_ghash gh;
};
struct vpos {
	uint32_t kind, level;
	uint8_t vol[16];
	uint64_t file, index;
	uint8_t link[16];
	uint64_t aux;
};
void vol_keys_init(struct vol_keys *k, const uint8_t key[32]);
void vol_keys_wipe(struct vol_keys *k);
void vol_mac(const struct vol_keys *k, const struct vpos *p, const uint8_t *m, size_t n, uint8_t s[16]);
void vol_seal(const struct vol_keys *k, const struct vpos *p, const uint8_t *m, uint8_t *dst, size_t n, uint8_t s[16]);
/* dst may be c; on failure dst is wiped: 1 authentic, 0 not. */
int vol_unseal(const struct vol_keys *k, const struct vpos *p, const uint8_t *c, uint8_t *dst, size_t n,
	       const uint8_t s[16]);
void vol_keystream(const struct vol_keys *k, const uint8_t iv[16], uint8_t *data, size_t n);
void vol_wipe(void *p, size_t n);

/* ---- the volume ---- */
struct tagpage {
	uint8_t e[VOL_PAGE];
	int dirty;
};
struct ftree {
	struct vmap tags;  /* (level, index) -> struct tagpage * */
	struct vmap dirty; /* (0, page) -> uint8_t[VOL_PAGE] plaintext */
};
struct vent {
	char *name;
	uint32_t len;
	uint64_t child;
};
struct vnode {
	uint64_t id;
	uint32_t mode, uid, gid, nlink;
	uint64_t size;
	int64_t at, mt, ct;
	uint32_t atn, mtn, ctn;
	uint8_t root[16];
	char *target;	   /* symlinks */
	struct vent *ents; /* directories */
	size_t nents, capents;
	int sorted;
	uint64_t parent; /* directories: the one naming it (0: none yet) */
	struct ftree *tree;
	/* writer state */
	int touched, committed, ghost, orphan;
	uint64_t csize; /* the size in the last committed state (when committed) */
	uint32_t opens, refs;
};
struct pageref {
	uint64_t off, file;
	uint32_t level;
	uint64_t index;
	uint8_t s[16];
};
struct vol {
	const struct vol_host *h;
	struct vol_keys k;
	uint8_t volid[16];
	char *path;
	int ro;
	int dead;
	char err[256];
	uint32_t uid, gid;

	uint64_t gen, version;
	uint8_t root[16];
	uint64_t next_id, cnext_id;
	struct vmap nodes; /* (id, 0) -> struct vnode * */

	struct vmap logmap; /* (file, level << 40 | index) -> PAGE record offset */
	uint64_t logend;
	struct pageref *pend;
	size_t npend, cappend;
	struct vbuf ops; /* LINK/UNLINK deltas since the last commit */
	uint32_t nops;
	uint64_t *drops; /* committed inodes gone since the last commit */
	size_t ndrops, capdrops;
	uint64_t *todel; /* host files to remove after the next durable commit */
	size_t ntodel, captodel;
	int log_unsynced; /* the log holds a commit not synced yet (a close's) */
	uint64_t dirty_bytes;
	/* files with pages written in place since the last durable commit:
	 * synced before the next durable commit or checkpoint */
	uint64_t *inplace;
	size_t ninplace, capinplace;
	int inplace_ok; /* this commit may write fresh places in place */
	/* authenticated plaintext of clean pages, each kept with the tag it
	 * was verified against: a lookup hits only when the tree still names
	 * that tag, so a changed page can never be served stale (vol_data.c) */
	struct vcache *cache;
	/* consecutive in-place pages of one file, written with one pwrite */
	uint8_t *batch;
	uint64_t batch_id, batch_pos;
	uint32_t batch_n;
	int changed;
	uint32_t orphans;
};

/* ---- vol_base.c ---- */
void vol_seterr(struct vol *v, const char *a, const char *b, const char *c);
void vol_name_meta(char out[32], uint64_t gen);
void vol_name_log(char out[32], uint64_t gen);
void vol_name_page(char out[32], uint64_t id);
void vol_pos_init(struct vpos *p, const struct vol *v, uint32_t kind);
/* ---- vol_meta.c ---- */
struct vnode *vnode_get(const struct vol *v, uint64_t id);
struct vnode *vnode_new(struct vol *v, uint64_t id); /* NULL: -ENOMEM */
void vnode_free(struct vnode *n);
void vol_tree_free(struct ftree *t);
int vnode_drop(struct vol *v, uint64_t id);
struct vent *vent_find(struct vnode *d, const char *name, size_t len);
int vent_add(struct vnode *d, const char *name, size_t len, uint64_t child);
int vent_del(struct vnode *d, const char *name, size_t len);
void vent_sort(struct vnode *d);
int valid_name(const char *n, size_t len);
int vol_validate(struct vol *v, const char **why);
int vol_encode_state(struct vol *v, struct vbuf *b);
int vol_decode_state(struct vol *v, const uint8_t *b, size_t n, const char **why);
int vol_put_inode(const struct vnode *n, uint8_t *b, uint64_t toff);
int vol_get_inode(const uint8_t *b, struct vnode *n, uint64_t *toff, const char **why);
int vol_apply_commit(struct vol *v, const uint8_t *m, size_t n, const struct vmap *window, const char **why);
/* ---- vol_data.c ---- */
void vol_cache_free(struct vol *v);
uint64_t vol_npages(uint64_t size);
int vol_depth(uint64_t n);
uint64_t vol_node_pos(int l, uint64_t j);
int vol_flush(struct vol *v, struct vnode *n);
int vol_resize(struct vol *v, struct vnode *n, uint64_t s1);
/* ---- vol_open.c ---- */
int vol_checkpoint(struct vol *v);
/* Syncs the files of v->inplace (missing ones are skipped) and empties it. */
int vol_sync_inplace(struct vol *v);
long vol_read_all(const struct vol *v, const char *name, uint8_t **out, uint64_t *len);

#endif
