/* FS shield core: file contents (fsv.h). Image files are read through the
 * backend until written; the first write copies the whole file up into the
 * ephemeral layer, whose bytes count against fs->eph_max. */
#include <string.h>
#include <linux/errno.h>

#include "fsv.h"
#include "fsv_int.h"
#include "rt_alloc.h"
#include "fsv_arena.h"

int fsv_grow(struct fsv *fs, struct fsv_node *n, uint64_t size)
{
	if (size <= n->cap)
		return 0;
	if (size > (1ull << 40))
		return -EFBIG;
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
	while (off < size) {
		long got = fs->ops.pread(fs->img, n->img_ino, n->data + off, (size_t)(size - off), off);
		if (got <= 0) {
			n->size = size;
			return got < 0 ? fsv_img_err(fs, n, got) : -EIO; /* image shorter than its stat */
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
		memcpy(buf, n->data + off, len);
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
	if (off > n->size)
		memset(n->data + n->size, 0, (size_t)(off - n->size));
	memcpy(n->data + off, buf, len);
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
	if (size > n->size) {
		r = fsv_grow(fs, n, size);
		if (r < 0)
			return r;
		memset(n->data + n->size, 0, (size_t)(size - n->size));
	}
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
		memcpy(n->data, data, len);
		n->size = len;
	}
	n->copied = 1;
	*out = n;
	return 0;
}
