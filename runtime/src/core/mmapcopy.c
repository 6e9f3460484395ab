/* mmap by copy (mmapcopy.h). */
#include <linux/errno.h>
#include "mmapcopy.h"
#include "region.h"
#include "shield.h"
#include "transport.h"
#include "vma.h"
#include "rtutil.h"
#include "rtstring.h"
#include "sys.h"

#define MAP_TYPE_ 0x0f
#define MAP_SHARED_VALIDATE_ 0x03
#define MAP_SYNC_ 0x80000
#define MAP_HUGETLB_ 0x40000
#define MAP_POPULATE_ 0x8000
#define MAP_DENYWRITE_ 0x0800
#define MAP_EXECUTABLE_ 0x1000
#define MAP_NORESERVE_ 0x4000
#define MADV_HUGEPAGE_ 14
#define MADV_POPULATE_WRITE_ 23
#define HUGE_ (2UL << 20)

/* A private mapping MAP_FIXED of key's bytes from off over a pristine copy
 * of the same bytes: that copy is kept, with the protection asked for. */
static long reuse(const struct sys_call *c, uint64_t key)
{
	unsigned long addr = (unsigned long)c->a[0], len = (unsigned long)c->a[1];
	int prot = (int)c->a[2], flags = (int)c->a[3];
	const int plain =
		RT_MAP_PRIVATE | RT_MAP_FIXED | MAP_DENYWRITE_ | MAP_EXECUTABLE_ | MAP_NORESERVE_ | MAP_POPULATE_;
	if (!key || (flags & ~plain) || (flags & MAP_TYPE_) != RT_MAP_PRIVATE || !(flags & RT_MAP_FIXED) ||
	    (addr & (RT_PAGE - 1)) || addr + len < addr)
		return 0;
	unsigned long hi = (addr + len + RT_PAGE - 1) & ~(RT_PAGE - 1);
	if (!rt_vma_pristine(addr, hi, key, (uint64_t)c->a[5]))
		return 0;
	/* mprotect with PROT_WRITE ends the range's pristine state itself
	 * (rt_vma_before) */
	return host_syscall(__NR_mprotect, (long)addr, (long)(hi - addr), prot, 0, 0, 0) == 0;
}

int rt_mmap_shared(const struct sys_call *c)
{
	int type = (int)c->a[3] & MAP_TYPE_;
	return type == RT_MAP_SHARED || type == MAP_SHARED_VALIDATE_;
}

long rt_mmap_valid(const struct sys_call *c)
{
	unsigned long len = (unsigned long)c->a[1];
	int flags = (int)c->a[3];
	long off = c->a[5];
	if (!len || (off & (RT_PAGE - 1)) || off < 0 || len > (1UL << 46) || (flags & MAP_HUGETLB_))
		return -EINVAL;
	if (!rt_mmap_shared(c) && (flags & MAP_TYPE_) != RT_MAP_PRIVATE)
		return -EINVAL;
	return 0;
}

long rt_mmap_reserve(const struct sys_call *c, int prot, int populate)
{
	unsigned long addr = (unsigned long)c->a[0], len = (unsigned long)c->a[1];
	int flags = (int)c->a[3];
	int aflags = (flags & ~(MAP_TYPE_ | MAP_SYNC_ | MAP_POPULATE_)) | RT_MAP_PRIVATE | RT_MAP_ANONYMOUS |
		     (populate ? MAP_POPULATE_ : 0);
	long r = host_syscall(__NR_mmap, (long)addr, (long)len, prot, aflags, -1, 0);
	if (rt_is_err(r))
		return r;
	unsigned long m = (unsigned long)r, mlen = (len + RT_PAGE - 1) & ~(RT_PAGE - 1);
	/* Iago: a host answer outside user space, misaligned, inside the
	 * runtime, or elsewhere than a fixed request is never used. */
	if ((m & (RT_PAGE - 1)) || m + mlen < m || m + mlen > 0x800000000000UL ||
	    ((flags & (RT_MAP_FIXED | RT_MAP_FIXED_NOREPLACE)) && m != addr) || rt_region_overlaps(m, mlen))
		rt_fatal(RT_EX_OSERR, "host returned an invalid mmap address %p for a protected file", (void *)m);
	return r;
}

/* Copies of HUGE_MIN_ or more go on transparent huge pages where the host
 * has them: where page tables are shadowed by the host, the first write to
 * a populated small page costs ~7.6 us, to a populated huge page ~1.2 us
 * per 4 KiB (docs/benchmarks.md). A mapping placed by the runtime starts on
 * a 2 MiB boundary and is reserved up to the next one, so that even a
 * library smaller than 2 MiB fills one huge page; the reserved tail is
 * unmapped once the copy is written (splitting the huge page then keeps its
 * pages mapped). A mapping the call places (MAP_FIXED, a hint) gets huge
 * pages where it covers whole 2 MiB blocks. Returns the address, a
 * negative errno, or 0 when the caller reserves as usual; *tail is the
 * reserved length past mlen. */
#define HUGE_MIN_ (128UL << 10)

int rt_mmap_huge(void)
{
	/* -1: unknown yet; written once, the same by every thread */
	static int huge = -1;
	if (huge >= 0)
		return huge;
	char b[96] = {0};
	long fd = host_syscall(__NR_openat, RT_AT_FDCWD, (long)"/sys/kernel/mm/transparent_hugepage/enabled",
			       RT_O_RDONLY | RT_O_CLOEXEC, 0, 0, 0);
	long n = fd < 0 ? -1 : host_syscall(__NR_read, fd, (long)b, (long)sizeof b - 1, 0, 0, 0);
	if (fd >= 0)
		host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
	/* "always [madvise] never": huge pages unless [never] is chosen (an
	 * unreadable file: none; a host's lie only changes the speed) */
	int never = 0;
	for (long i = 0; i + 7 <= n && !never; i++)
		never = !rt_strncmp(b + i, "[never]", 7);
	huge = n > 0 && !never;
	return huge;
}

static unsigned long reserve_huge(const struct sys_call *c, unsigned long mlen, unsigned long *tail)
{
	int flags = (int)c->a[3];
	*tail = 0;
	if (mlen < HUGE_MIN_ || !rt_mmap_huge())
		return 0;
	if (c->a[0] || (flags & (RT_MAP_FIXED | RT_MAP_FIXED_NOREPLACE))) {
		/* where the call asks (a hint too) */
		long r = rt_mmap_reserve(c, RT_PROT_READ | RT_PROT_WRITE, 0);
		if (rt_is_err(r))
			return (unsigned long)r;
		unsigned long lo = ((unsigned long)r + HUGE_ - 1) & ~(HUGE_ - 1),
			      hi = ((unsigned long)r + mlen) & ~(HUGE_ - 1);
		if (lo < hi) /* whole 2 MiB blocks */
			host_syscall(__NR_madvise, (long)lo, (long)(hi - lo), MADV_HUGEPAGE_, 0, 0, 0);
		return (unsigned long)r;
	}
	unsigned long rlen = (mlen + HUGE_ - 1) & ~(HUGE_ - 1);
	struct sys_call big = *c;
	big.a[1] = (long)(rlen + HUGE_ - RT_PAGE);
	long r = rt_mmap_reserve(&big, RT_PROT_READ | RT_PROT_WRITE, 0);
	if (rt_is_err(r))
		return 0;
	unsigned long m = (unsigned long)r, a = (m + HUGE_ - 1) & ~(HUGE_ - 1), end = m + rlen + HUGE_ - RT_PAGE;
	if (a > m)
		host_syscall(__NR_munmap, (long)m, (long)(a - m), 0, 0, 0, 0);
	if (end > a + rlen)
		host_syscall(__NR_munmap, (long)(a + rlen), (long)(end - a - rlen), 0, 0, 0, 0);
	host_syscall(__NR_madvise, (long)a, (long)rlen, MADV_HUGEPAGE_, 0, 0, 0);
	*tail = rlen - mlen;
	return a;
}

long rt_mmap_copy(const struct sys_call *c, long (*fill)(void *ctx, void *dst, size_t n, uint64_t off), void *ctx,
		  uint64_t key)
{
	unsigned long len = (unsigned long)c->a[1];
	int prot = (int)c->a[2];
	long off = c->a[5];
	long v = rt_mmap_valid(c);
	if (v)
		return v;
	if (reuse(c, key))
		return c->a[0];
	/* every page up to the file's end is written next: the kernel maps
	 * them in one go, not one page fault each (a fault costs 14 us where
	 * the host shadows page tables, populating 0.75 us a page;
	 * docs/benchmarks.md); large copies on huge pages (reserve_huge) */
	unsigned long mlen = (len + RT_PAGE - 1) & ~(RT_PAGE - 1), tail;
	long r = (long)reserve_huge(c, mlen, &tail);
	if (rt_is_err(r))
		return r;
	if (r) {
		host_syscall(__NR_madvise, r, (long)(mlen + tail), MADV_POPULATE_WRITE_, 0, 0, 0);
	} else {
		r = rt_mmap_reserve(c, RT_PROT_READ | RT_PROT_WRITE, 1);
		if (rt_is_err(r))
			return r;
	}
	unsigned long m = (unsigned long)r;
	unsigned long done = 0;
	while (done < len) {
		long got = fill(ctx, (char *)m + done, len - done, (uint64_t)off + done);
		if (got < 0) {
			host_syscall(__NR_munmap, (long)m, (long)(mlen + tail), 0, 0, 0, 0);
			return got;
		}
		if (got == 0)
			break; /* beyond the end of the file: zero pages */
		done += (unsigned long)got;
	}
	if (tail)
		host_syscall(__NR_munmap, (long)(m + mlen), (long)tail, 0, 0, 0, 0);
	if (prot != (RT_PROT_READ | RT_PROT_WRITE)) {
		long p = host_syscall(__NR_mprotect, (long)m, (long)mlen, prot, 0, 0, 0);
		if (p < 0) {
			host_syscall(__NR_munmap, (long)m, (long)mlen, 0, 0, 0, 0);
			return p;
		}
	}
	if (key && !(prot & RT_PROT_WRITE) && !rt_mmap_shared(c))
		rt_vma_pristine_add(m, m + mlen, key, (uint64_t)off);
	return (long)m;
}
