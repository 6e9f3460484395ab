/* FS shield: kernel stat / statx / statfs layouts for virtual files. */
#include <linux/stat.h>
#include "fs.h"
#include "rtstring.h"

/* struct stat of x86-64 (arch/x86/include/uapi/asm/stat.h). */
struct kstat64 {
	uint64_t st_dev, st_ino, st_nlink;
	uint32_t st_mode, st_uid, st_gid, pad0;
	uint64_t st_rdev;
	int64_t st_size, st_blksize, st_blocks;
	uint64_t st_atime, st_atime_nsec, st_mtime, st_mtime_nsec, st_ctime, st_ctime_nsec;
	int64_t unused[3];
};
_Static_assert(sizeof(struct kstat64) == 144, "struct stat size");

int fs_host_is_pipe(int fd)
{
	struct kstat64 k;
	long r = shield_call(__NR_fstat, fd, (long)&k, 0, 0, 0, 0);
	if (r < 0)
		return (int)r;
	return (k.st_mode & 0170000) == 0010000; /* S_IFIFO */
}

static uint64_t mkdev(uint32_t major, uint32_t minor)
{
	return ((uint64_t)(major & 0xfffff000u) << 32) | ((uint64_t)(major & 0xfffu) << 8) |
	       ((uint64_t)(minor & 0xffffff00u) << 12) | (minor & 0xffu);
}

void fs_fill_stat(void *kstat, const struct fsv_stat *st)
{
	struct kstat64 k;
	memset(&k, 0, sizeof k);
	k.st_dev = mkdev(0, st->dev & 0xff) | ((uint64_t)(st->dev >> 8) << 8);
	k.st_ino = st->ino;
	k.st_nlink = st->nlink;
	k.st_mode = st->mode;
	k.st_uid = st->uid;
	k.st_gid = st->gid;
	k.st_rdev = mkdev(st->rdev_major, st->rdev_minor);
	k.st_size = (int64_t)st->size;
	k.st_blksize = st->blksize;
	k.st_blocks = (int64_t)st->blocks;
	k.st_atime = (uint64_t)st->atime_sec;
	k.st_atime_nsec = st->atime_nsec;
	k.st_mtime = (uint64_t)st->mtime_sec;
	k.st_mtime_nsec = st->mtime_nsec;
	k.st_ctime = (uint64_t)st->ctime_sec;
	k.st_ctime_nsec = st->ctime_nsec;
	memcpy(kstat, &k, sizeof k);
}

long fs_fill_statx(void *kstatx, const struct fsv_stat *st, unsigned mask)
{
	(void)mask;
	struct statx x;
	memset(&x, 0, sizeof x);
	x.stx_mask = STATX_BASIC_STATS;
	x.stx_blksize = st->blksize;
	x.stx_nlink = st->nlink;
	x.stx_uid = st->uid;
	x.stx_gid = st->gid;
	x.stx_mode = (uint16_t)st->mode;
	x.stx_ino = st->ino;
	x.stx_size = st->size;
	x.stx_blocks = st->blocks;
	x.stx_atime.tv_sec = st->atime_sec;
	x.stx_atime.tv_nsec = st->atime_nsec;
	x.stx_mtime.tv_sec = st->mtime_sec;
	x.stx_mtime.tv_nsec = st->mtime_nsec;
	x.stx_ctime.tv_sec = st->ctime_sec;
	x.stx_ctime.tv_nsec = st->ctime_nsec;
	x.stx_rdev_major = st->rdev_major;
	x.stx_rdev_minor = st->rdev_minor;
	x.stx_dev_major = 0;
	x.stx_dev_minor = st->dev;
	memcpy(kstatx, &x, sizeof x);
	return 0;
}

/* struct statfs of x86-64 (asm-generic/statfs.h, 64-bit longs). */
struct kstatfs64 {
	int64_t f_type, f_bsize;
	uint64_t f_blocks, f_bfree, f_bavail, f_files, f_ffree;
	int32_t f_fsid[2];
	int64_t f_namelen, f_frsize, f_flags, f_spare[4];
};
_Static_assert(sizeof(struct kstatfs64) == 120, "struct statfs size");

void fs_fill_statfs(void *kstatfs)
{
	struct kstatfs64 s;
	memset(&s, 0, sizeof s);
	s.f_type = 0x01021994; /* TMPFS_MAGIC: an in-memory overlay, like tmpfs */
	s.f_bsize = 4096;
	s.f_frsize = 4096;
	s.f_blocks = 1u << 20;
	s.f_bfree = s.f_bavail = 1u << 19;
	s.f_files = 1u << 20;
	s.f_ffree = 1u << 19;
	s.f_fsid[0] = 0x5c0e;
	s.f_namelen = FSV_NAME_MAX;
	s.f_flags = 0x0400 /* ST_RELATIME */;
	memcpy(kstatfs, &s, sizeof s);
}
