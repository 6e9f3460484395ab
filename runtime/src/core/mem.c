/* Memory system calls: brk emulation and checks that keep the application
 * away from the runtime's own mappings (region.h).
 *
 * brk is emulated (the kernel's brk area of scone-run sits after the
 * runtime's bss, not after the program): at load time up to RT_BRK_RESERVE
 * bytes after the program's highest segment are reserved (PROT_NONE,
 * NORESERVE, so no memory is committed and mmap(NULL) never lands there),
 * and brk moves inside that reservation by remapping pages read-write or
 * back to PROT_NONE. When nothing can be reserved the break stays put, as
 * the kernel's brk does when blocked, and libc malloc falls back to mmap.
 * The runtime itself never uses brk. */
#include "mem.h"
#include "heap.h"
#include "locks.h"
#include "region.h"
#include "shield.h"
#include "vma.h"
#include "transport.h"
#include "rtutil.h"
#include "sys.h"

#define RT_BRK_RESERVE (1UL << 30)

static unsigned long brk_start, brk_cur, brk_limit;

void rt_mem_set_brk(unsigned long start)
{
	brk_start = brk_cur = brk_limit = (start + RT_PAGE - 1) & ~(RT_PAGE - 1);
	for (unsigned long size = RT_BRK_RESERVE; size >= (16UL << 20); size >>= 2) {
		if (rt_region_overlaps(brk_start, size))
			continue;
		long r = host_syscall(__NR_mmap, (long)brk_start, (long)size, RT_PROT_NONE,
				      RT_MAP_PRIVATE | RT_MAP_ANONYMOUS | RT_MAP_NORESERVE | RT_MAP_FIXED_NOREPLACE, -1,
				      0);
		if (r == (long)brk_start) {
			brk_limit = brk_start + size;
			return;
		}
		if (!rt_is_err(r)) /* kernels without NOREPLACE: never keep a misplaced map */
			host_syscall(__NR_munmap, r, (long)size, 0, 0, 0, 0);
	}
}

long rt_mem_brk(unsigned long req)
{
	rt_lock(&rt_brk_lock);
	long ret = (long)brk_cur;
	if (!req || req < brk_start || req > brk_limit)
		goto out;
	unsigned long cur_top = (brk_cur + RT_PAGE - 1) & ~(RT_PAGE - 1);
	unsigned long new_top = (req + RT_PAGE - 1) & ~(RT_PAGE - 1);
	if (new_top != cur_top) {
		int grow = new_top > cur_top;
		unsigned long lo = grow ? cur_top : new_top, len = grow ? new_top - cur_top : cur_top - new_top;
		/* Inside our own reservation: MAP_FIXED replaces only brk pages. */
		long r = host_syscall(
			__NR_mmap, (long)lo, (long)len, grow ? RT_PROT_READ | RT_PROT_WRITE : RT_PROT_NONE,
			RT_MAP_PRIVATE | RT_MAP_ANONYMOUS | RT_MAP_FIXED | (grow ? 0 : RT_MAP_NORESERVE), -1, 0);
		if (r != (long)lo) {
			if (r == -RT_ENOMEM)
				rt_heap_note_enomem(__NR_brk, len);
			goto out;
		}
	}
	brk_cur = req;
	ret = (long)req;
out:
	rt_unlock(&rt_brk_lock);
	return ret;
}

static long refuse(const char *what, unsigned long addr, unsigned long len)
{
	rt_eprintf("scone-run: refused %s of [%p, +%lx): overlaps the runtime's memory\n", what, (void *)addr, len);
	return -RT_EINVAL;
}

/* Code from the host never runs inside the enclave (shield.h rt_code_fd_ok). */
static long host_code(const char *what)
{
	static int warned;
	if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		rt_eprintf("scone-run: refused %s with EACCES: code from the host never runs inside the enclave "
			   "(load code from the protected image)\n",
			   what);
	return -RT_EACCES;
}

long rt_mem_precheck(long nr, const long *a)
{
	unsigned long addr = (unsigned long)a[0], len = (unsigned long)a[1];
	switch (nr) {
	case __NR_mmap:
		if ((a[3] & (RT_MAP_FIXED | RT_MAP_FIXED_NOREPLACE)) && rt_region_overlaps(addr, len))
			return refuse("mmap(MAP_FIXED)", addr, len);
		if ((a[2] & RT_PROT_EXEC) && !(a[3] & RT_MAP_ANONYMOUS) && !rt_code_fd_ok((int)a[4]))
			return host_code("mmap(PROT_EXEC) of a host file");
		return 0;
	case __NR_munmap:
		return rt_region_overlaps(addr, len) ? refuse("munmap", addr, len) : 0;
	case __NR_mprotect:
	case __NR_pkey_mprotect:
		if (rt_region_overlaps(addr, len))
			return refuse("mprotect", addr, len);
		if ((a[2] & RT_PROT_EXEC) && rt_vma_host_file(addr, len))
			return host_code("mprotect(PROT_EXEC) of a host file's mapping");
		return 0;
	case __NR_madvise:
		return rt_region_overlaps(addr, len) ? refuse("madvise", addr, len) : 0;
	case __NR_mremap:
		if (rt_region_overlaps(addr, len))
			return refuse("mremap", addr, len);
		if ((a[3] & 2 /* MREMAP_FIXED */) && rt_region_overlaps((unsigned long)a[4], (unsigned long)a[2]))
			return refuse("mremap(MREMAP_FIXED)", (unsigned long)a[4], (unsigned long)a[2]);
		return 0;
	}
	return 0;
}

void rt_mem_postcheck(long nr, const long *a, long ret)
{
	if (rt_is_err(ret))
		return;
	unsigned long len = 0;
	if (nr == __NR_mmap)
		len = (unsigned long)a[1];
	else if (nr == __NR_mremap)
		len = (unsigned long)a[2];
	else
		return;
	if (rt_region_overlaps((unsigned long)ret, len))
		rt_fatal(RT_EX_SOFTWARE, "host returned a mapping inside the runtime (%p): refusing to continue",
			 (void *)ret);
}
