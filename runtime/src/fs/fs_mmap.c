/* FS shield: mmap of virtual files.
 *
 * The data is copied, never shared with the host: anonymous memory is mapped
 * through the host (read-write), filled with authenticated plaintext from
 * the virtual file, then given the requested protection. MAP_SHARED mappings
 * are private snapshots; a MAP_SHARED mapping with PROT_WRITE is refused with
 * ENODEV (the protected FS does not support shared writable mappings; docs/
 * fs-shield.md), or EACCES when the fd is not open read-write, as Linux does. */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include "fs.h"
#include "region.h"
#include "transport.h"
#include "rtutil.h"
#include "sys.h"

#define MAP_TYPE_ 0x0f
#define MAP_SHARED_VALIDATE_ 0x03
#define MAP_SYNC_ 0x80000
#define MAP_HUGETLB_ 0x40000

long fs_mmap(const struct sys_call *c)
{
	unsigned long addr = (unsigned long)c->a[0], len = (unsigned long)c->a[1];
	int prot = (int)c->a[2], flags = (int)c->a[3], fd = (int)c->a[4];
	long off = c->a[5];
	if (!len || (off & (RT_PAGE - 1)) || off < 0 || len > (1UL << 46))
		return -EINVAL;
	if (flags & MAP_HUGETLB_)
		return -EINVAL;
	int type = flags & MAP_TYPE_;
	int shared = type == RT_MAP_SHARED || type == MAP_SHARED_VALIDATE_;
	if (!shared && type != RT_MAP_PRIVATE)
		return -EINVAL;

	fs_lock();
	struct fsv_file *f = fsv_fd_get(&fs_g.fds, fd);
	long err = 0;
	if (!f || (f->flags & O_PATH))
		err = -EBADF;
	else if ((f->flags & O_ACCMODE) == O_WRONLY)
		err = -EACCES;
	else if (((f->node->mode) & FSV_IFMT) != FSV_IFREG)
		err = -ENODEV;
	else if (shared && (prot & RT_PROT_WRITE))
		err = (f->flags & O_ACCMODE) == O_RDWR ? -ENODEV : -EACCES;
	struct fsv_node *n = err ? NULL : f->node;
	if (n)
		fsv_ref(n);
	fs_unlock();
	if (err)
		return err;

	int aflags = (flags & ~(MAP_TYPE_ | MAP_SYNC_)) | RT_MAP_PRIVATE | RT_MAP_ANONYMOUS;
	long r = host_syscall(__NR_mmap, (long)addr, (long)len, RT_PROT_READ | RT_PROT_WRITE, aflags, -1, 0);
	if (rt_is_err(r))
		goto out_err;
	unsigned long m = (unsigned long)r, mlen = (len + RT_PAGE - 1) & ~(RT_PAGE - 1);
	/* Iago: a host answer outside user space, misaligned, inside the
	 * runtime, or elsewhere than a fixed request is never used. */
	if ((m & (RT_PAGE - 1)) || m + mlen < m || m + mlen > 0x800000000000UL ||
	    ((flags & (RT_MAP_FIXED | RT_MAP_FIXED_NOREPLACE)) && m != addr) || rt_region_overlaps(m, mlen))
		rt_fatal(RT_EX_OSERR, "host returned an invalid mmap address %p for a protected file", (void *)m);

	fs_lock();
	unsigned long done = 0;
	while (done < len) {
		long got = fsv_read(&fs_g.fs, n, (char *)m + done, len - done, (uint64_t)off + done);
		if (got < 0) {
			r = got;
			break;
		}
		if (got == 0)
			break; /* beyond end of file: zero pages */
		done += (unsigned long)got;
	}
	fs_unlock();
	if (rt_is_err(r)) {
		host_syscall(__NR_munmap, (long)m, (long)mlen, 0, 0, 0, 0);
		goto out_err;
	}
	if (prot != (RT_PROT_READ | RT_PROT_WRITE)) {
		long p = host_syscall(__NR_mprotect, (long)m, (long)mlen, prot, 0, 0, 0);
		if (p < 0) {
			host_syscall(__NR_munmap, (long)m, (long)mlen, 0, 0, 0, 0);
			r = p;
			goto out_err;
		}
	}
	fs_lock();
	fsv_unref(&fs_g.fs, n);
	fs_unlock();
	return (long)m;
out_err:
	fs_lock();
	fsv_unref(&fs_g.fs, n);
	fs_unlock();
	return r;
}
