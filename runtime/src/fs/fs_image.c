/* FS shield: the image backend of the virtual file system over the
 * protected FS reader (fsp.h). Every byte it returns was authenticated by
 * fsp; an authentication failure becomes -FSV_EAUTH (EIO + a security event
 * one level up). */
#include <linux/errno.h>
#include "fs.h"
#include "fsp.h"
#include "rtstring.h"

static int err_of(long e)
{
	switch (-e) {
	case FSP_EAUTH:
		return -FSV_EAUTH;
	case FSP_ENOENT:
		return -ENOENT;
	case FSP_ENOTDIR:
		return -ENOTDIR;
	case FSP_EISDIR:
		return -EISDIR;
	case FSP_EINVAL:
		return -EINVAL;
	case FSP_ENOMEM:
		return -ENOMEM;
	case FSP_ERANGE:
		return -ERANGE;
	case FSP_ENODATA:
		return -ENODATA;
	case FSP_ENAMETOOLONG:
		return -ENAMETOOLONG;
	default:
		return -EIO;
	}
}

static uint32_t mode_of_type(uint32_t t)
{
	switch (t) {
	case FSP_T_FILE:
		return FSV_IFREG;
	case FSP_T_DIR:
		return FSV_IFDIR;
	case FSP_T_SYMLINK:
		return FSV_IFLNK;
	case FSP_T_CHR:
		return FSV_IFCHR;
	case FSP_T_BLK:
		return FSV_IFBLK;
	case FSP_T_FIFO:
		return FSV_IFIFO;
	default:
		return 0;
	}
}

static int ino_ok(uint64_t ino) { return ino && ino <= 0xffffffffull; }

static int img_lookup(void *ctx, uint64_t dir, const char *name, size_t len, uint64_t *ino)
{
	uint32_t i;
	if (!ino_ok(dir))
		return -ENOENT;
	int r = fsp_lookup(ctx, (uint32_t)dir, name, len, &i);
	if (r < 0)
		return err_of(r);
	*ino = i;
	return 0;
}

static int img_stat(void *ctx, uint64_t ino, struct fsv_stat *st)
{
	struct fsp_stat s;
	if (!ino_ok(ino))
		return -ENOENT;
	int r = fsp_stat(ctx, (uint32_t)ino, &s);
	if (r < 0)
		return err_of(r);
	memset(st, 0, sizeof(*st));
	st->ino = s.ino;
	uint32_t t = mode_of_type(s.type);
	st->mode = t | (s.mode & 07777);
	st->uid = s.uid;
	st->gid = s.gid;
	st->nlink = s.nlink;
	st->size = s.size;
	st->mtime_sec = st->ctime_sec = s.mtime_sec;
	st->mtime_nsec = st->ctime_nsec = s.mtime_nsec;
	st->rdev_major = s.rdev_major;
	st->rdev_minor = s.rdev_minor;
	st->blksize = s.blksize;
	st->blocks = s.blocks;
	return t ? 0 : -EIO;
}

static long img_pread(void *ctx, uint64_t ino, void *buf, size_t len, uint64_t off)
{
	if (!ino_ok(ino))
		return -ENOENT;
	long r = fsp_pread(ctx, (uint32_t)ino, buf, len, off);
	return r < 0 ? err_of(r) : r;
}

static long img_readlink(void *ctx, uint64_t ino, char *buf, size_t cap)
{
	if (!ino_ok(ino))
		return -ENOENT;
	long r = fsp_readlink(ctx, (uint32_t)ino, buf, cap);
	return r < 0 ? err_of(r) : r;
}

static int img_readdir(void *ctx, uint64_t dir, uint64_t *cookie, uint64_t *ino, char *name, size_t cap, uint32_t *mode)
{
	uint32_t i, t;
	if (!ino_ok(dir))
		return -ENOENT;
	int r = fsp_readdir(ctx, (uint32_t)dir, cookie, &i, name, cap, &t);
	if (r < 0)
		return err_of(r);
	if (r > 0) {
		*ino = i;
		*mode = mode_of_type(t);
	}
	return r;
}

const struct fsv_image_ops fs_image_ops = {img_lookup, img_stat, img_pread, img_readlink, img_readdir};

long fs_image_getxattr(const struct fsp *img, uint64_t ino, const char *name, void *val, size_t cap)
{
	if (!ino_ok(ino))
		return -ENODATA;
	long r = fsp_getxattr(img, (uint32_t)ino, name, strlen(name), val, cap);
	return r < 0 ? err_of(r) : r;
}

long fs_image_listxattr(const struct fsp *img, uint64_t ino, char *buf, size_t cap)
{
	if (!ino_ok(ino))
		return 0;
	long r = fsp_listxattr(img, (uint32_t)ino, buf, cap);
	return r < 0 ? err_of(r) : r;
}
