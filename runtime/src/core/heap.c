/* The enclave's heap in simulation mode (heap.h). The kernel does the
 * counting: the host's RLIMIT_DATA soft limit is set to what the runtime
 * and the program hold when the program starts plus the heap, so the
 * application's own calls fail with ENOMEM where an enclave's would. The
 * hard limit is left alone (the runtime lifts the soft limit again at each
 * execve); the application's view of RLIMIT_DATA is kept here. */
#include "heap.h"
#include "locks.h"
#include "rt_alloc.h"
#include "shield.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

#define RLIMIT_DATA 2
#define RLIM_INFINITY (~0UL)

struct krlimit {
	unsigned long cur, max;
};

struct ksysinfo {
	long uptime;
	unsigned long loads[3];
	unsigned long totalram, freeram, sharedram, bufferram, totalswap, freeswap;
	unsigned short procs, pad;
	unsigned long totalhigh, freehigh;
	unsigned int mem_unit; /* x86-64: no padding after it */
};

static uint64_t heap;		/* 0: not enforced */
static struct krlimit view;	/* the application's RLIMIT_DATA */
static unsigned long base;	/* data bytes of the runtime and the program at start */
static unsigned long host_hard; /* the host's hard limit */
static int enomem_told;

void rt_heap_init(uint64_t h)
{
	heap = h;
	view.cur = view.max = (unsigned long)h;
}

static long host_prlimit(const struct krlimit *set, struct krlimit *get)
{
	return host_syscall(__NR_prlimit64, 0, RLIMIT_DATA, (long)set, (long)get, 0, 0);
}

void rt_heap_before_load(void)
{
	struct krlimit cur;
	if (!heap || host_prlimit(0, &cur) < 0)
		return;
	host_hard = cur.max;
	if (cur.cur != cur.max) {
		cur.cur = cur.max;
		host_prlimit(&cur, 0);
	}
}

/* The kernel's count of the process's data (VmData in /proc/self/status). */
static long data_bytes(void)
{
	size_t len;
	long err = 0;
	char *s = (char *)rt_read_host_file("/proc/self/status", 1 << 16, &len, &err);
	if (!s)
		return err;
	long kb = -RT_EINVAL;
	for (char *p = s; *p; p++) {
		if ((p == s || p[-1] == '\n') && !rt_strncmp(p, "VmData:", 7)) {
			p += 7;
			while (*p == ' ' || *p == '\t')
				p++;
			kb = 0;
			while (*p >= '0' && *p <= '9')
				kb = kb * 10 + (*p++ - '0');
			break;
		}
	}
	rt_free(s);
	return kb < 0 ? kb : kb * 1024;
}

/* The host's soft limit for an application view of cur. */
static void apply(void)
{
	unsigned long want = view.cur == RLIM_INFINITY || base + view.cur < base ? RLIM_INFINITY : base + view.cur;
	if (want > host_hard)
		want = host_hard;
	struct krlimit l = {want, host_hard};
	host_prlimit(&l, 0);
}

void rt_heap_after_load(void)
{
	if (!heap)
		return;
	long d = data_bytes();
	if (d < 0)
		rt_fatal(RT_EX_OSERR,
			 "cannot read the process's memory use (/proc/self/status) to enforce the heap: "
			 "error %ld",
			 -d);
	base = (unsigned long)d;
	view.cur = view.max = (unsigned long)heap;
	apply();
}

void rt_heap_note_enomem(long nr, unsigned long len)
{
	if (!heap || __atomic_load_n(&enomem_told, __ATOMIC_RELAXED))
		return;
	/* ENOMEM has other causes (mprotect of an unmapped range, mremap that
	 * cannot grow in place): only a request past the limit is the heap's */
	struct krlimit l;
	long d = data_bytes();
	if (d < 0 || host_prlimit(0, &l) < 0 || (unsigned long)d + len <= l.cur)
		return;
	if (__atomic_exchange_n(&enomem_told, 1, __ATOMIC_RELAXED))
		return;
	rt_eprintf("scone-run: %s failed with ENOMEM: the enclave's heap (%lu MiB) is used up; convert with a larger "
		   "--heap (docs/runtime.md)\n",
		   rt_sysname(nr), (unsigned long)(heap >> 20));
}

/* Reads (old) and sets (set) the application's RLIMIT_DATA; either may be NULL. */
static long rlimit_call(const struct krlimit *set, struct krlimit *old)
{
	if (set && !rt_user_ok(set, sizeof *set))
		return -RT_EFAULT;
	if (old && !rt_user_ok(old, sizeof *old))
		return -RT_EFAULT;
	struct krlimit n = {0, 0};
	if (set) {
		n = *set;
		if (n.cur > n.max)
			return -RT_EINVAL;
		if (n.max > view.max)
			return -RT_EPERM; /* the enclave's size is fixed: no raising past it */
	}
	rt_lock(&rt_heap_lock);
	if (old)
		*old = view;
	if (set) {
		view = n;
		apply();
	}
	rt_unlock(&rt_heap_lock);
	return 0;
}

static long sysinfo_call(struct ksysinfo *si)
{
	long r = host_syscall(__NR_sysinfo, (long)si, 0, 0, 0, 0, 0);
	if (r < 0 || !rt_user_ok(si, sizeof *si))
		return r;
	unsigned long unit = si->mem_unit ? si->mem_unit : 1, total = (unsigned long)(heap / unit);
	if (si->totalram > total)
		si->totalram = total;
	if (si->freeram > si->totalram)
		si->freeram = si->totalram;
	return r;
}

int rt_heap_dispatch(long nr, const long *a, long *ret)
{
	if (!heap)
		return 0;
	switch (nr) {
	case __NR_getrlimit:
		if (a[0] != RLIMIT_DATA)
			return 0;
		*ret = rlimit_call(0, (struct krlimit *)a[1]);
		return 1;
	case __NR_setrlimit:
		if (a[0] != RLIMIT_DATA)
			return 0;
		if (!a[1]) {
			*ret = -RT_EFAULT;
			return 1;
		}
		*ret = rlimit_call((const struct krlimit *)a[1], 0);
		return 1;
	case __NR_prlimit64:
		/* another process's limit is the host's business (its own runtime
		 * keeps its view) */
		if (a[1] != RLIMIT_DATA || (a[0] && a[0] != rt_sys0(__NR_getpid)))
			return 0;
		*ret = rlimit_call((const struct krlimit *)a[2], (struct krlimit *)a[3]);
		return 1;
	case __NR_sysinfo:
		*ret = sysinfo_call((struct ksysinfo *)a[0]);
		return 1;
	}
	return 0;
}
