/* FS shield core: file contents (fsv.h). Image files are read through the
 * backend until written; the first write copies the whole file up into the
 * ephemeral layer, whose bytes count against fs->eph_max. */
#include <string.h>
#include <linux/errno.h>

#include "fsv.h"
#include "fsv_int.h"
#include "rt_alloc.h"
#include "fsv_arena.h"

/* Bytes charged to the ephemeral layer for n (n->cap), within fs->eph_max. */
static int charge(struct fsv *fs, struct fsv_node *n, size_t more)
{
	if (fs->eph_max && FSV_EPH_BYTES(fs) + more > fs->eph_max)
		return -ENOSPC;
	FSV_EPH_BYTES(fs) += more;
	n->cap += more;
	return 0;
}

static void uncharge(struct fsv *fs, struct fsv_node *n, size_t less)
{
	FSV_EPH_BYTES(fs) = FSV_EPH_BYTES(fs) >= less ? FSV_EPH_BYTES(fs) - less : 0;
	n->cap = n->cap >= less ? n->cap - less : 0;
}

/* An index of at least want chunk slots (new slots are holes). */
static int index_grow(struct fsv *fs, struct fsv_node *n, uint64_t want)
{
	if (want <= n->nchunk)
		return 0;
	size_t nc = n->nchunk ? n->nchunk : 16;
	while (nc < want)
		nc *= 2;
	int r = charge(fs, n, (nc - n->nchunk) * sizeof *n->chunk);
	if (r < 0)
		return r;
	uint8_t **p = fsv_sh_calloc(nc, sizeof *p);
	if (!p) {
		uncharge(fs, n, (nc - n->nchunk) * sizeof *n->chunk);
		return -ENOMEM;
	}
	if (n->nchunk)
		memcpy(p, n->chunk, n->nchunk * sizeof *p);
	fsv_sh_free(n->chunk);
	n->chunk = p;
	n->nchunk = nc;
	return 0;
}

/* Chunk i of a chunked file, allocated (zero-filled) when it is a hole. */
static long chunk_alloc(struct fsv *fs, struct fsv_node *n, uint64_t i, uint8_t **out)
{
	if (!n->chunk[i]) {
		int r = charge(fs, n, FSV_CHUNK);
		if (r < 0)
			return r;
		n->chunk[i] = fsv_sh_pages();
		if (!n->chunk[i]) {
			uncharge(fs, n, FSV_CHUNK);
			return -ENOMEM;
		}
	}
	*out = n->chunk[i];
	return 0;
}

/* Zeros over [from, to) of a chunked file's allocated chunks. */
static void zero_range(struct fsv_node *n, uint64_t from, uint64_t to)
{
	while (from < to) {
		uint64_t i = from / FSV_CHUNK, in = from % FSV_CHUNK;
		uint64_t k = FSV_CHUNK - in < to - from ? FSV_CHUNK - in : to - from;
		if (i >= n->nchunk)
			return;
		if (n->chunk[i])
			memset(n->chunk[i] + in, 0, (size_t)k);
		from += k;
	}
}

/* From one buffer to chunks: the buffer's bytes become chunk 0. */
static int to_chunks(struct fsv *fs, struct fsv_node *n, uint64_t size)
{
	int r = index_grow(fs, n, (size + FSV_CHUNK - 1) / FSV_CHUNK);
	if (r < 0)
		return r;
	if (n->size) {
		uint8_t *c;
		long e = chunk_alloc(fs, n, 0, &c);
		if (e < 0) { /* stay one buffer */
			uncharge(fs, n, n->nchunk * sizeof *n->chunk);
			fsv_sh_free(n->chunk);
			n->chunk = NULL;
			n->nchunk = 0;
			return (int)e;
		}
		memcpy(c, n->data, (size_t)n->size);
	}
	size_t old = n->cap - n->nchunk * sizeof *n->chunk - (n->chunk[0] ? FSV_CHUNK : 0);
	fsv_sh_free(n->data);
	n->data = NULL;
	uncharge(fs, n, old);
	return 0;
}

/* Room for size bytes: a buffer grown by doubling up to FSV_CHUNK, then an
 * index whose chunks come when written (fsv_body_write). */
int fsv_grow(struct fsv *fs, struct fsv_node *n, uint64_t size)
{
	if (size > (1ull << 40))
		return -EFBIG;
	if (n->chunk)
		return index_grow(fs, n, (size + FSV_CHUNK - 1) / FSV_CHUNK);
	if (size <= n->cap)
		return 0;
	if (size > FSV_CHUNK)
		return to_chunks(fs, n, size);
	size_t nc = n->cap ? n->cap : 4096;
	while (nc < size)
		nc *= 2;
	if (fs->eph_max && FSV_EPH_BYTES(fs) - n->cap + nc > fs->eph_max) {
		nc = (size_t)size;
		if (FSV_EPH_BYTES(fs) - n->cap + nc > fs->eph_max)
			return -ENOSPC;
	}
	uint8_t *d = fsv_sh_malloc(nc);
	if (!d)
		return -ENOMEM;
	if (n->size)
		memcpy(d, n->data, (size_t)n->size);
	fsv_sh_free(n->data);
	FSV_EPH_BYTES(fs) = FSV_EPH_BYTES(fs) - n->cap + nc;
	n->data = d;
	n->cap = nc;
	return 0;
}

/* len bytes at off of a copied file's content into buf (holes read as zeros);
 * off + len within n->size. */
static void body_read(const struct fsv_node *n, uint8_t *buf, size_t len, uint64_t off)
{
	if (!n->chunk) {
		memcpy(buf, n->data + off, len);
		return;
	}
	while (len) {
		uint64_t i = off / FSV_CHUNK, in = off % FSV_CHUNK;
		size_t k = FSV_CHUNK - in < len ? (size_t)(FSV_CHUNK - in) : len;
		if (i < n->nchunk && n->chunk[i])
			memcpy(buf, n->chunk[i] + in, k);
		else
			memset(buf, 0, k);
		buf += k;
		off += k;
		len -= k;
	}
}

/* buf into the content at off (room made by fsv_grow first). */
static long body_write(struct fsv *fs, struct fsv_node *n, const uint8_t *buf, size_t len, uint64_t off)
{
	if (!n->chunk) {
		if (off > n->size)
			memset(n->data + n->size, 0, (size_t)(off - n->size));
		memcpy(n->data + off, buf, len);
		return 0;
	}
	while (len) {
		uint64_t i = off / FSV_CHUNK, in = off % FSV_CHUNK;
		size_t k = FSV_CHUNK - in < len ? (size_t)(FSV_CHUNK - in) : len;
		uint8_t *c;
		long r = chunk_alloc(fs, n, i, &c);
		if (r < 0)
			return r;
		memcpy(c + in, buf, k);
		buf += k;
		off += k;
		len -= k;
	}
	return 0;
}

/* A new size: growing reads as zeros; shrinking drops whole chunks past it
 * and zeroes the rest of the last one, so that growing again reads zeros.
 * A file mapped shared keeps its chunks: what the mapping wrote past the
 * size is zeroed when the size moves over it. */
static int body_resize(struct fsv *fs, struct fsv_node *n, uint64_t size)
{
	if (size > n->size) {
		int r = fsv_grow(fs, n, size);
		if (r < 0)
			return r;
		if (!n->chunk)
			memset(n->data + n->size, 0, (size_t)(size - n->size));
		else if (n->shared)
			zero_range(n, n->size, size);
		return 0;
	}
	if (!n->chunk)
		return 0;
	if (n->shared) {
		zero_range(n, size, n->size);
		return 0;
	}
	uint64_t keep = (size + FSV_CHUNK - 1) / FSV_CHUNK;
	for (uint64_t i = keep; i < n->nchunk; i++)
		if (n->chunk[i]) {
			fsv_sh_pages_free(n->chunk[i]);
			n->chunk[i] = NULL;
			uncharge(fs, n, FSV_CHUNK);
		}
	if (size % FSV_CHUNK && n->chunk[keep - 1])
		memset(n->chunk[keep - 1] + size % FSV_CHUNK, 0, (size_t)(FSV_CHUNK - size % FSV_CHUNK));
	return 0;
}

int fsv_copy_up(struct fsv *fs, struct fsv_node *n)
{
	if ((n->mode & FSV_IFMT) != FSV_IFREG)
		return fsv_is_dir(n) ? -EISDIR : -EINVAL;
	if (n->copied)
		return 0;
	uint64_t size = n->size;
	n->size = 0;
	int r = fsv_grow(fs, n, size);
	if (r < 0) {
		n->size = size;
		return r;
	}
	uint64_t off = 0;
	uint8_t *buf = n->chunk ? fsv_sh_malloc(FSV_CHUNK) : NULL;
	if (n->chunk && !buf) {
		n->size = size;
		return -ENOMEM;
	}
	while (off < size) {
		size_t want = (size_t)(size - off);
		uint8_t *dst = n->data + off;
		if (buf) {
			want = want > FSV_CHUNK ? FSV_CHUNK : want;
			dst = buf;
		}
		long got = fs->ops.pread(fs->img, n->img_ino, dst, want, off);
		if (got <= 0 || (size_t)got > want) {
			fsv_sh_free(buf);
			n->size = size;
			return got < 0 ? fsv_img_err(fs, n, got) : -EIO; /* image shorter than its stat */
		}
		if (buf) {
			long e = body_write(fs, n, buf, (size_t)got, off);
			if (e < 0) {
				fsv_sh_free(buf);
				n->size = size;
				return (int)e;
			}
		}
		off += (uint64_t)got;
	}
	fsv_sh_free(buf);
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
	if (fsv_is_dir(n))
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
		body_read(n, buf, len, off);
		return (long)len;
	}
	long r = fs->ops.pread(fs->img, n->img_ino, buf, len, off);
	if (r < 0)
		return fsv_img_err(fs, n, r);
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
	if (n->special == FSV_SPECIAL_REPORT_DATA) {
		/* Gramine: exactly the 64 bytes of REPORTDATA */
		if (off != 0 || len != 64 || n->size != 64 || !fs->set_report_data)
			return -EINVAL;
		int r = fs->set_report_data(fs->hook_ctx, buf);
		if (r < 0)
			return r;
		memcpy(n->data, buf, 64);
		return 64;
	}
	if (fsv_is_dir(n))
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
	r = fsv_grow(fs, n, off + len);
	if (r < 0)
		return r;
	if (n->shared && off > n->size)
		zero_range(n, n->size, off);
	long e = body_write(fs, n, buf, len, off);
	if (e < 0)
		return e;
	if (off + len > n->size)
		n->size = off + len;
	fsv_touch(fs, n, 1);
	return (long)len;
}

int fsv_truncate(struct fsv *fs, struct fsv_node *n, uint64_t size)
{
	if (n->special == FSV_SPECIAL_PROC)
		return -EACCES;
	if (n->special == FSV_SPECIAL_REPORT_DATA)
		return 0; /* O_TRUNC: like a device, the content stays */
	if (fsv_is_dir(n))
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
	r = body_resize(fs, n, size);
	if (r < 0)
		return r;
	n->size = size;
	fsv_touch(fs, n, 1);
	return 0;
}

int fsv_anon_file(struct fsv *fs, uint32_t mode, const void *data, size_t len, struct fsv_node **out)
{
	struct fsv_node *n = fsv_node_new(fs, mode);
	if (!n)
		return -ENOMEM;
	if (len) {
		int r = fsv_grow(fs, n, len);
		if (r < 0) {
			fsv_unref(fs, n);
			return r;
		}
		long e = body_write(fs, n, data, len, 0);
		if (e < 0) {
			fsv_unref(fs, n);
			return (int)e;
		}
		n->size = len;
	}
	n->copied = 1;
	*out = n;
	return 0;
}

/* Gives every hole among chunks [first, last) a chunk, all or none: the
 * new chunks are taken first, linked through their first word, and placed
 * only when all were had. A range the arena cannot hold then leaves the
 * file as it was; chunks placed for a shared mapping are never freed
 * (fsv_node.c body_free), so a failed mapping of a large sparse file used
 * to leave the arena full for every process of the enclave. */
static int fill_holes(struct fsv *fs, struct fsv_node *n, uint64_t first, uint64_t last)
{
	uint8_t *taken = NULL;
	for (uint64_t i = first; i < last; i++) {
		if (n->chunk[i])
			continue;
		int r = charge(fs, n, FSV_CHUNK);
		uint8_t *c = r < 0 ? NULL : fsv_sh_pages();
		if (!c) {
			if (!r)
				uncharge(fs, n, FSV_CHUNK);
			while (taken) {
				uint8_t *next;
				memcpy(&next, taken, sizeof next);
				fsv_sh_pages_free(taken);
				uncharge(fs, n, FSV_CHUNK);
				taken = next;
			}
			return r < 0 ? r : -ENOMEM;
		}
		memcpy(c, &taken, sizeof taken);
		taken = c;
	}
	for (uint64_t i = first; i < last; i++) {
		if (n->chunk[i])
			continue;
		n->chunk[i] = taken;
		memcpy(&taken, taken, sizeof taken);
		memset(n->chunk[i], 0, 8); /* the link word */
	}
	return 0;
}

int fsv_share(struct fsv *fs, struct fsv_node *n, uint64_t off, uint64_t len,
	      int (*map)(void *ctx, void *src, size_t len, uint64_t at), void *ctx)
{
	if (n->special || (n->mode & FSV_IFMT) != FSV_IFREG)
		return -ENODEV;
	if ((off | len) % FSV_ARENA_PAGE || !len || off + len < off || off + len > (1ull << 40))
		return -EINVAL;
	int r = fsv_copy_up(fs, n);
	if (r < 0)
		return r;
	uint64_t end = off + len;
	if (!n->chunk)
		r = to_chunks(fs, n, end > n->size ? end : n->size);
	else
		r = index_grow(fs, n, (end + FSV_CHUNK - 1) / FSV_CHUNK);
	if (r < 0)
		return r;
	r = fill_holes(fs, n, off / FSV_CHUNK, (end + FSV_CHUNK - 1) / FSV_CHUNK);
	if (r < 0)
		return r;
	if (!n->shared) {
		/* the bytes past the size may become visible through the mapping */
		n->shared = 1;
		zero_range(n, n->size, (uint64_t)n->nchunk * FSV_CHUNK);
	}
	for (uint64_t at = off; at < end;) {
		uint64_t i = at / FSV_CHUNK, in = at % FSV_CHUNK;
		uint64_t k = FSV_CHUNK - in < end - at ? FSV_CHUNK - in : end - at;
		uint8_t *c;
		long e = chunk_alloc(fs, n, i, &c);
		if (e < 0)
			return (int)e;
		r = map(ctx, c + in, (size_t)k, at - off);
		if (r < 0)
			return r;
		at += k;
	}
	return 0;
}
