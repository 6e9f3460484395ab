/* FS shield: mmap of virtual files.
 *
 * Private mappings, and shared ones of an image file not written yet and
 * open read-only, are copies: anonymous memory is mapped through the host
 * (read-write), filled with authenticated plaintext from the virtual file,
 * then given the requested protection (core/mmapcopy.c).
 *
 * Other MAP_SHARED mappings show the file's own memory: its content lives
 * in the arena every process of the enclave maps shared (core/shared.c), in
 * page-aligned chunks (fsv_share), and each chunk of the range is aliased
 * into the mapping with mremap(old_size = 0), which makes a second mapping
 * of the same shared pages. Writes through the mapping, write(2) and read(2)
 * then see each other, in every process of the enclave, as with a file of
 * the kernel's page cache. The host sees nothing new: the pages were
 * already the arena's. Without the arena (dev mode) a shared writable
 * mapping is refused with ENODEV. On SGX hardware enclave pages cannot be
 * aliased, and there too it would be refused. A shared writable mapping of
 * a descriptor not open read-write is EACCES, as Linux has it. */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include "fs.h"
#include "fsv_arena.h"
#include "mmapcopy.h"
#include "rtutil.h"
#include "sys.h"
#include "transport.h"

#define MREMAP_MAYMOVE_ 1
#define MREMAP_FIXED_ 2

static long fill(void *ctx, void *dst, size_t n, uint64_t off)
{
	fs_lock();
	long got = fsv_read(&fs_g.fs, ctx, dst, n, off);
	fs_unlock();
	return got;
}

/* One piece of the file's memory at its place in the mapping. */
static int alias(void *ctx, void *src, size_t len, uint64_t at)
{
	unsigned long dst = *(unsigned long *)ctx + (unsigned long)at;
	long r = host_syscall(__NR_mremap, (long)src, 0, (long)len, MREMAP_MAYMOVE_ | MREMAP_FIXED_, (long)dst, 0);
	if (rt_is_err(r))
		return (int)r;
	if ((unsigned long)r != dst) /* Iago: a fixed move lands where asked or fails */
		rt_fatal(RT_EX_OSERR, "host placed a shared file mapping at %p, not at %p", (void *)r, (void *)dst);
	return 0;
}

static long share(const struct sys_call *c, struct fsv_node *n)
{
	unsigned long len = (unsigned long)c->a[1], mlen = (len + RT_PAGE - 1) & ~(RT_PAGE - 1);
	int prot = (int)c->a[2];
	long m = rt_mmap_reserve(c, RT_PROT_NONE, 0);
	if (rt_is_err(m))
		return m;
	unsigned long dst = (unsigned long)m;
	fs_lock();
	long r = fsv_share(&fs_g.fs, n, (uint64_t)c->a[5], mlen, alias, &dst);
	fs_unlock();
	if (!r && prot != (RT_PROT_READ | RT_PROT_WRITE))
		r = host_syscall(__NR_mprotect, m, (long)mlen, prot, 0, 0, 0);
	if (r < 0) {
		host_syscall(__NR_munmap, m, (long)mlen, 0, 0, 0, 0);
		return r == -ENOSPC || r == -EFBIG ? -ENOMEM : r;
	}
	return m;
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
	int acc = f ? f->flags & O_ACCMODE : 0, alias_it = 0;
	if (!f || (f->flags & O_PATH))
		err = -EBADF;
	else if (acc == O_WRONLY)
		err = -EACCES;
	else if (((f->node->mode) & FSV_IFMT) != FSV_IFREG)
		err = -ENODEV;
	else if (shared && (prot & RT_PROT_WRITE) && acc != O_RDWR)
		err = -EACCES;
	else if (shared && fsv_arena_active() && !f->node->special)
		/* an image file opened read-only and never written cannot change
		 * under the mapping: a copy serves it without copying it up */
		alias_it = f->node->copied || acc == O_RDWR;
	if (!err && shared && (prot & RT_PROT_WRITE) && !alias_it)
		err = -ENODEV; /* no arena, or a file the runtime answers itself */
	struct fsv_node *n = err ? NULL : f->node;
	/* an image file not copied up never changes: its image inode names
	 * its bytes (a remapping over a pristine copy keeps it, mmapcopy.h) */
	uint64_t key = n && n->img && !n->copied && !n->special ? n->img_ino : 0;
	if (n)
		fsv_ref(n);
	fs_unlock();
	if (err)
		return err;
	long r = alias_it ? share(c, n) : rt_mmap_copy(c, fill, n, key);
	fs_lock();
	fsv_unref(&fs_g.fs, n);
	fs_unlock();
	return r;
}
