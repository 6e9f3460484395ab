/* Volume shield: the kernel stat / statx layouts of volume files, for the
 * path calls (vol_calls.c) and the descriptor calls (vol_fdcalls.c). Calls
 * no other file of the shield. */
#include <linux/errno.h>
#include "vol_shield.h"
#include "rtstring.h"
#include "sys.h"

static void fill_stat(uint8_t *st, const struct vol_attr *a, int mount)
{
	memset(st, 0, 144);
	uint64_t dev = 0x5c0e0000ull + (uint64_t)mount, nlink = a->nlink, blocks = (a->size + 511) / 512;
	int64_t blksize = VOL_PAGE;
	memcpy(st, &dev, 8);
	memcpy(st + 8, &a->id, 8);
	memcpy(st + 16, &nlink, 8);
	memcpy(st + 24, &a->mode, 4);
	memcpy(st + 28, &a->uid, 4);
	memcpy(st + 32, &a->gid, 4);
	memcpy(st + 48, &a->size, 8);
	memcpy(st + 56, &blksize, 8);
	memcpy(st + 64, &blocks, 8);
	int64_t t[6] = {a->atime, a->atime_ns, a->mtime, a->mtime_ns, a->ctime, a->ctime_ns};
	memcpy(st + 72, t, sizeof t);
}

static void fill_statx(uint8_t *sx, const struct vol_attr *a, int mount)
{
	memset(sx, 0, 256);
	uint32_t mask = 0x7ff, blksize = VOL_PAGE, major = 0x5c0, minor = (uint32_t)mount;
	uint16_t mode = (uint16_t)a->mode;
	uint64_t blocks = (a->size + 511) / 512;
	memcpy(sx, &mask, 4);
	memcpy(sx + 4, &blksize, 4);
	memcpy(sx + 16, &a->nlink, 4);
	memcpy(sx + 20, &a->uid, 4);
	memcpy(sx + 24, &a->gid, 4);
	memcpy(sx + 28, &mode, 2);
	memcpy(sx + 32, &a->id, 8);
	memcpy(sx + 40, &a->size, 8);
	memcpy(sx + 48, &blocks, 8);
	const int64_t s[3] = {a->atime, a->ctime, a->mtime};
	const uint32_t ns[3] = {a->atime_ns, a->ctime_ns, a->mtime_ns};
	const int off[3] = {64, 96, 112};
	for (int i = 0; i < 3; i++) {
		memcpy(sx + off[i], &s[i], 8);
		memcpy(sx + off[i] + 8, &ns[i], 4);
	}
	memcpy(sx + 136, &major, 4);
	memcpy(sx + 140, &minor, 4);
}

long stat_out_fd(long nr, long buf, const struct vol_attr *a, int mount)
{
	size_t n = nr == __NR_statx ? 256 : 144;
	if (!rt_user_ok((void *)buf, n))
		return -EFAULT;
	if (nr == __NR_statx)
		fill_statx((uint8_t *)buf, a, mount);
	else
		fill_stat((uint8_t *)buf, a, mount);
	return 0;
}
