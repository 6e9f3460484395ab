/* Start-up of the fast path of rewritten system call sites (fast.h). */
#include "fast.h"
#include "loader.h"
#include "region.h"
#include "trap.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

static void cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

void rt_fast_init(void)
{
	const char *e = rt_getenv("SCONE_FASTPATH");
	if (e && !rt_strcmp(e, "0"))
		return;
	unsigned r[4];
	cpuid(0, 0, r);
	if (r[0] < 0xd)
		return;
	cpuid(7, 0, r);
	int fsgsbase = r[1] & 1;
	cpuid(1, 0, r);
	int osxsave = (r[2] >> 27) & 1;
	if (!fsgsbase || !osxsave)
		return;
	cpuid(0xd, 1, r);
	if (!(r[0] & 2)) /* XSAVEC */
		return;
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	/* x87, SSE, AVX, AVX-512 and PKRU; not AMX (XFD-armed state). */
	unsigned long mask = (((unsigned long)hi << 32) | lo) & 0x2e7UL;
	cpuid(0xd, 0, r);
	if (r[1] > 0x2000 - 64) /* the block's XSAVE area (asm.S RT_FAST_FRAME_OFF) */
		return;
	/* The gate: a `syscall` outside the exempt text, so that it traps. */
	unsigned char *g = rt_region_alloc(RT_PAGE, RT_PAGE);
	if (!g)
		return;
	g[0] = 0x0f, g[1] = 0x05, g[2] = 0x0f, g[3] = 0x0b; /* syscall; ud2 */
	if (rt_sys3(__NR_mprotect, (long)g, RT_PAGE, RT_PROT_READ | RT_PROT_EXEC) < 0)
		return;
	rt_fast_conf.xmask = mask;
	rt_fast_conf.gate = (unsigned long)g;
	rt_fast_conf.fn = rt_fast_syscall;
	rt_loader_stub_entry = (unsigned long)rt_fast_entry;
}
