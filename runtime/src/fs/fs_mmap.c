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
 * a descriptor not open read-write is EACCES, as Linux has it.
 *
 * The host's mremap of such a mapping would be wrong when it grows it (or
 * maps its pages again with an old size of 0): the kernel extends a
 * mapping with the pages that follow in the arena, another file's or free
 * ones, not the file's next bytes. Each shared mapping is recorded
 * (rt_vma_alias_add, core/vma.c) with its file and offset; mremap of a
 * recorded range is served here: the new range is mapped as mmap maps it,
 * in place where it can grow there, else elsewhere (MREMAP_MAYMOVE) or at
 * the fixed target, and the old range then unmapped. sqlite maps its
 * database so with PRAGMA mmap_size and grows the mapping with mremap. */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include "fs.h"
#include "fsv_arena.h"
#include "mmapcopy.h"
#include "rtutil.h"
#include "sys.h"
#include "transport.h"
#include "vma.h"

#define MREMAP_MAYMOVE_ 1
#define MREMAP_FIXED_ 2
#define MREMAP_DONTUNMAP_ 4

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
	if (!r && prot != (RT_PROT_READ | RT_PROT_WRITE))
		r = host_syscall(__NR_mprotect, m, (long)mlen, prot, 0, 0, 0);
	/* recorded for mremap; the process holds the file while a record of
	 * it lives (fs_procs.c), both under the lock a fork takes */
	if (!r)
		r = fs_maps_hold(n);
	if (!r && rt_vma_alias_add((unsigned long)m, (unsigned long)m + mlen, (uint64_t)(uintptr_t)n, (uint64_t)c->a[5],
				   prot))
		r = -ENOMEM; /* as Linux past vm.max_map_count */
	fs_unlock();
	if (r < 0) {
		host_syscall(__NR_munmap, m, (long)mlen, 0, 0, 0, 0);
		fs_lock();
		fs_maps_release(n);
		fs_unlock();
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
	struct fsv_file *f = fsv_fd_get(fs_g.fdt, fd);
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

/* Maps len bytes of node n from off shared at addr (flags: MAP_FIXED,
 * MAP_FIXED_NOREPLACE or 0), as mmap does. */
static long share_at(struct fsv_node *n, unsigned long addr, unsigned long len, uint64_t off, int prot, int flags)
{
	const struct sys_call c = {__NR_mmap, {(long)addr, (long)len, prot, RT_MAP_SHARED | flags, -1, (long)off}};
	return share(&c, n);
}

int fs_sys_mremap(const struct sys_call *c, long *ret)
{
	unsigned long old = (unsigned long)c->a[0], to = (unsigned long)c->a[4];
	unsigned long olen = ((unsigned long)c->a[1] + RT_PAGE - 1) & ~(RT_PAGE - 1);
	unsigned long nlen = ((unsigned long)c->a[2] + RT_PAGE - 1) & ~(RT_PAGE - 1);
	long flags = c->a[3];
	if ((old & (RT_PAGE - 1)) || !nlen || olen > (1UL << 46) || nlen > (1UL << 46) ||
	    (flags & ~(long)(MREMAP_MAYMOVE_ | MREMAP_FIXED_ | MREMAP_DONTUNMAP_)) ||
	    ((flags & MREMAP_FIXED_) && !(flags & MREMAP_MAYMOVE_)))
		return SHIELD_PASS; /* the host's EINVAL */
	uint64_t key, off;
	int prot;
	int k = rt_vma_alias(old, old + (olen ? olen : RT_PAGE), &key, &off, &prot);
	if (!k)
		return SHIELD_PASS; /* not a file's own memory */
	if (flags & MREMAP_DONTUNMAP_)
		return shield_done(ret, -EINVAL); /* private anonymous mappings only, on Linux */
	if (!(flags & MREMAP_FIXED_) && olen && nlen <= olen) {
		/* shrinking in place (across several mappings too, as Linux) */
		long r = nlen < olen ? host_syscall(__NR_munmap, (long)(old + nlen), (long)(olen - nlen), 0, 0, 0, 0) :
				       0;
		return shield_done(ret, r < 0 ? r : (long)old);
	}
	if (k < 0)
		return shield_done(ret, -EFAULT); /* growing or moving: the old range must be one mapping */
	if ((flags & MREMAP_FIXED_) && ((to & (RT_PAGE - 1)) || (to < old + olen && old < to + nlen)))
		return shield_done(ret, -EINVAL);
	/* the file, held while the work lasts (another thread may unmap the
	 * range, and the process let the file go) */
	fs_lock();
	struct fsv_node *n = fs_maps_get(key);
	fs_unlock();
	if (!n)
		return shield_done(ret, -EFAULT);
	long r;
	if (flags & MREMAP_FIXED_) {
		r = share_at(n, to, nlen, off, prot, RT_MAP_FIXED);
	} else if (olen && !rt_is_err(share_at(n, old + olen, nlen - olen, off + olen, prot, RT_MAP_FIXED_NOREPLACE))) {
		r = (long)old; /* in place: the range after the mapping was free */
		olen = 0;
	} else {
		r = (flags & MREMAP_MAYMOVE_) ? share_at(n, 0, nlen, off, prot, 0) : -ENOMEM;
	}
	if (!rt_is_err(r) && olen) /* moved: an old size of 0 keeps the old mapping */
		host_syscall(__NR_munmap, (long)old, (long)olen, 0, 0, 0, 0);
	fs_lock();
	fsv_unref(&fs_g.fs, n);
	fs_unlock();
	return shield_done(ret, r);
}
