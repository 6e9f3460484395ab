/* Bump allocation of pages from the runtime's reserved region (region.h). */
#include "region.h"
#include "sys.h"

static unsigned long reg_lo, reg_hi, reg_next; /* reg_next: atomic bump pointer */

int rt_region_init(unsigned long base, size_t size)
{
	int flags = RT_MAP_PRIVATE | RT_MAP_ANONYMOUS | RT_MAP_NORESERVE;
	if (base)
		flags |= RT_MAP_FIXED_NOREPLACE;
	void *p = rt_mmap((void *)base, size, RT_PROT_NONE, flags, -1, 0);
	if (rt_is_err((long)p) || (base && (unsigned long)p != base))
		return -1;
	reg_lo = reg_next = (unsigned long)p;
	reg_hi = reg_lo + size;
	return 0;
}

static unsigned long bump(size_t len, size_t align)
{
	unsigned long cur = __atomic_load_n(&reg_next, __ATOMIC_RELAXED);
	for (;;) {
		unsigned long start = (cur + align - 1) & ~(align - 1);
		unsigned long end = start + len;
		if (end > reg_hi || end < start)
			return 0;
		if (__atomic_compare_exchange_n(&reg_next, &cur, end, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			return start;
	}
}

void *rt_region_alloc(size_t len, size_t align)
{
	len = (len + RT_PAGE - 1) & ~(RT_PAGE - 1);
	if (align < RT_PAGE)
		align = RT_PAGE;
	unsigned long a = bump(len, align);
	if (!a)
		return 0;
	void *p = rt_mmap((void *)a, len, RT_PROT_READ | RT_PROT_WRITE,
			  RT_MAP_PRIVATE | RT_MAP_ANONYMOUS | RT_MAP_FIXED, -1, 0);
	if ((unsigned long)p != a)
		return 0;
	return p;
}

void *rt_region_reserve(size_t len, size_t align)
{
	len = (len + RT_PAGE - 1) & ~(RT_PAGE - 1);
	if (align < RT_PAGE)
		align = RT_PAGE;
	return (void *)bump(len, align);
}

void *rt_region_map_file(size_t len, int fd)
{
	len = (len + RT_PAGE - 1) & ~(RT_PAGE - 1);
	/* 2 MiB-aligned, so that the kernel maps the page cache's large folios
	 * with PMD entries: a 4 KiB-aligned mapping of the protected FS image
	 * faulted a page table entry at a time (first reads at ~2.2 GB/s
	 * against ~20 GB/s aligned, on this PVM guest; docs/benchmarks.md) */
	unsigned long a = bump(len, 1UL << 21);
	if (!a)
		return 0;
	void *p = rt_mmap((void *)a, len, RT_PROT_READ, RT_MAP_PRIVATE | RT_MAP_FIXED, fd, 0);
	if ((unsigned long)p != a)
		return 0;
	return p;
}

int rt_region_overlaps(unsigned long addr, unsigned long len)
{
	unsigned long end = addr + len;
	if (end < addr)
		return 1;
	if (addr < RT_REGION_END && end > RT_REGION_BASE)
		return 1;
	/* A test reservation placed by the kernel elsewhere. */
	return reg_lo && addr < reg_hi && end > reg_lo;
}
