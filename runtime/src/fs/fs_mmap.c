/* FS shield: mmap of virtual files.
 *
 * The data is copied, never shared with the host: anonymous memory is mapped
 * through the host (read-write), filled with authenticated plaintext from
 * the virtual file, then given the requested protection (core/mmapcopy.c).
 * MAP_SHARED mappings
 * are private snapshots; a MAP_SHARED mapping with PROT_WRITE is refused with
 * ENODEV (the protected FS does not support shared writable mappings; docs/
 * fs-shield.md), or EACCES when the fd is not open read-write, as Linux does. */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include "fs.h"
#include "mmapcopy.h"
#include "rtutil.h"
#include "sys.h"

static long fill(void *ctx, void *dst, size_t n, uint64_t off)
{
	fs_lock();
	long got = fsv_read(&fs_g.fs, ctx, dst, n, off);
	fs_unlock();
	return got;
}

long fs_mmap(const struct sys_call *c)
{
	int prot = (int)c->a[2], fd = (int)c->a[4];
	int shared = rt_mmap_shared(c);
	long v = rt_mmap_valid(c);
	if (v)
		return v;
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
	long r = rt_mmap_copy(c, fill, n);
	fs_lock();
	fsv_unref(&fs_g.fs, n);
	fs_unlock();
	return r;
}
