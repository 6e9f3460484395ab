/* FS shield: read, write, seek, getdents64 and other data calls (fs_calls.h). */
#include "fs.h"

/* ---- read / write ---- */

static long rw_iov(struct fsv_file *f, const struct kiovec *iov, long cnt, int64_t pos, int wr)
{
	if (cnt < 0 || cnt > IOV_MAX_)
		return -EINVAL;
	if (!rt_user_ok(iov, (size_t)cnt * sizeof *iov))
		return -EFAULT;
	long total = 0;
	for (long i = 0; i < cnt; i++) {
		if (!iov[i].len)
			continue;
		if (!rt_user_ok(iov[i].base, iov[i].len))
			return total ? total : -EFAULT;
		int64_t p = pos < 0 ? -1 : pos + total;
		long r = wr ? fsv_file_write(FS(), f, iov[i].base, iov[i].len, p) :
			      fsv_file_read(FS(), f, iov[i].base, iov[i].len, p);
		if (r < 0)
			return total ? total : r;
		total += r;
		if ((size_t)r < iov[i].len)
			break;
	}
	return total;
}

long fs_v_read(const struct sys_call *c, struct fsv_file *f)
{
	void *buf = (void *)c->a[1];
	size_t n = (size_t)c->a[2];
	if (n && !rt_user_ok(buf, n))
		return -EFAULT;
	switch (c->nr) {
	case __NR_read:
		return fsv_file_read(FS(), f, buf, n, -1);
	case __NR_pread64:
		return c->a[3] < 0 ? -EINVAL : fsv_file_read(FS(), f, buf, n, c->a[3]);
	case __NR_write:
		return fsv_file_write(FS(), f, buf, n, -1);
	case __NR_pwrite64:
		return c->a[3] < 0 ? -EINVAL : fsv_file_write(FS(), f, buf, n, c->a[3]);
	case __NR_readv:
	case __NR_writev:
		return rw_iov(f, (const struct kiovec *)c->a[1], c->a[2], -1, c->nr == __NR_writev);
	case __NR_preadv:
	case __NR_pwritev:
		if (c->a[3] < 0)
			return -EINVAL;
		return rw_iov(f, (const struct kiovec *)c->a[1], c->a[2], c->a[3], c->nr == __NR_pwritev);
	case __NR_preadv2:
	case __NR_pwritev2:
		if (c->a[3] < -1)
			return -EINVAL;
		return rw_iov(f, (const struct kiovec *)c->a[1], c->a[2], c->a[3], c->nr == __NR_pwritev2);
	}
	return -ENOSYS;
}

long fs_v_lseek(const struct sys_call *c, struct fsv_file *f)
{
	return (long)fsv_file_seek(FS(), f, c->a[1], (int)c->a[2]);
}

long fs_v_getdents(const struct sys_call *c, struct fsv_file *f)
{
	if (c->nr != __NR_getdents64) {
		rt_refuse_once(c->nr, "ENOSYS",
			       "the 32-bit-inode getdents on files of the image; use getdents64 (any libc does)");
		return -ENOSYS;
	}
	if (!rt_user_ok((void *)c->a[1], (size_t)c->a[2]))
		return -EFAULT;
	return fsv_file_getdents(FS(), f, (void *)c->a[1], (size_t)(unsigned)c->a[2]);
}

long fs_v_zero(const struct sys_call *c, struct fsv_file *f)
{
	(void)c;
	(void)f;
	return 0;
}

long fs_v_fallocate(const struct sys_call *c, struct fsv_file *f)
{
	if (c->a[1] != 0)
		return -EOPNOTSUPP;
	if (c->a[2] < 0 || c->a[3] <= 0)
		return -EINVAL;
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	uint64_t end = (uint64_t)c->a[2] + (uint64_t)c->a[3];
	return end > f->node->size ? fsv_truncate(FS(), f->node, end) : 0;
}
