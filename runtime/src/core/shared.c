/* Memory and locks shared by the enclave's processes (shared.h). */
#include <linux/errno.h>
#include "shared.h"
#include "fsv_arena.h"
#include "region.h"
#include "rlock.h"
#include "shield.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"
#include "thread.h"
#include "transport.h"

int rt_task_self(void)
{
	struct rt_thread *t = rt_thread_armed();
	return t ? t->tid : (int)rt_sys0(__NR_gettid); /* start-up, before the thread block is armed */
}

/* The shields' lock words and their ranks (shared.h, lock order). */
#define MAX_RANKED 4
static struct {
	volatile int *w;
	int rank;
	const char *name;
} ranked[MAX_RANKED];
static int nranked;

void rt_shared_lock_rank(volatile int *w, int rank, const char *name)
{
	if (nranked < MAX_RANKED && rank >= 0 && rank < 32)
		ranked[nranked++] = (__typeof__(ranked[0])){w, rank, name};
}

/* Index of w in ranked, or -1. */
static int rank_of(const volatile int *w)
{
	for (int i = 0; i < nranked; i++)
		if (ranked[i].w == w)
			return i;
	return -1;
}

/* Takes (+1) and releases (-1) of shared locks: the count the core checks
 * before the shields' notices (shields.c), and the ranks held, checked
 * against the order. */
static void lock_held(volatile int *w, int delta)
{
	struct rt_thread *t = rt_thread_armed();
	if (!t)
		return;
	t->shared_locks += delta;
	int i = rank_of(w);
	if (i < 0)
		return;
	unsigned bit = 1u << ranked[i].rank;
	if (delta < 0) {
		t->shared_ranks &= ~bit;
		return;
	}
	unsigned later = t->shared_ranks & ~(bit - 1); /* this rank or a later one: held */
	static int told;
	if (later && !__atomic_exchange_n(&told, 1, __ATOMIC_RELAXED)) {
		const char *other = "?";
		for (int k = 0; k < nranked; k++)
			if (later & (1u << ranked[k].rank))
				other = ranked[k].name;
		rt_eprintf("scone-run: internal error: thread %d takes the %s lock of the enclave's shared state "
			   "while it holds the %s lock, against the shields' order; a fork in another thread can "
			   "deadlock with it (please report)\n",
			   t->tid, ranked[i].name, other);
	}
	t->shared_ranks |= bit;
}

/* Whether task id lives, by parse of its /proc/ID/stat line. */
static int stat_alive(int id, int (*parse)(const char *stat, long len))
{
	if (rt_sys2(__NR_kill, id, 0) == -ESRCH)
		return 0;
	char path[32] = "/proc/", num[12];
	int n = 0;
	for (unsigned v = (unsigned)id; v || !n; v /= 10)
		num[n++] = (char)('0' + v % 10);
	size_t p = 6;
	while (n)
		path[p++] = num[--n];
	memcpy(path + p, "/stat", 6);
	long fd = rt_sys4(__NR_openat, RT_AT_FDCWD, path, RT_O_RDONLY | RT_O_CLOEXEC, 0);
	if (fd < 0)
		return 1; /* no /proc: kill said it exists */
	char buf[512];
	long len = rt_sys3(__NR_read, fd, buf, sizeof buf);
	rt_sys1(__NR_close, fd);
	if (len == -ESRCH)
		return 0;
	return len <= 0 ? 1 : parse(buf, len);
}

int rt_task_alive(int tid) { return stat_alive(tid, rlock_stat_alive); }

int rt_proc_alive(int pid) { return stat_alive(pid, rlock_stat_group_alive); }

void rt_task_relax(void) { host_syscall(__NR_sched_yield, 0, 0, 0, 0, 0, 0); }

void rt_task_wait(volatile int *w, int val, unsigned ms)
{
	struct {
		long sec, nsec;
	} ts = {(long)(ms / 1000), (long)(ms % 1000) * 1000000};
	host_syscall(__NR_futex, (long)w, 0 /* FUTEX_WAIT */, val, (long)&ts, 0, 0);
}

void rt_task_wake(volatile int *w) { host_syscall(__NR_futex, (long)w, 1 /* FUTEX_WAKE */, 1, 0, 0, 0); }

static void lock_recovered(int tid)
{
	static const char msg[] = "scone-run: warning: took over a lock of the enclave's shared state (files, "
				  "protected volumes, their allocator) from a process that died holding it; what it "
				  "was changing at that moment may be inconsistent\n";
	(void)tid;
	rt_diag(msg, sizeof msg - 1);
}

/* What thread tid is doing, from /proc/TID/syscall ("NR args... sp pc", or
 * "running"): its first field into buf (at most n-1 bytes). */
static void task_syscall(int tid, char *buf, size_t n)
{
	char path[40];
	rt_snprintf(path, sizeof path, "/proc/%d/syscall", tid);
	rt_snprintf(buf, n, "?");
	long fd = rt_sys4(__NR_openat, RT_AT_FDCWD, path, RT_O_RDONLY | RT_O_CLOEXEC, 0);
	if (fd < 0)
		return;
	long len = rt_sys3(__NR_read, fd, buf, n - 1);
	rt_sys1(__NR_close, fd);
	if (len <= 0) {
		rt_snprintf(buf, n, "?");
		return;
	}
	buf[len] = 0;
	for (long i = 0; i < len; i++)
		if (buf[i] == ' ' || buf[i] == '\n')
			buf[i] = 0;
}

/* A wait for a shared lock that looks stuck (rlock.h): said on stderr, so
 * that a hang names its lock, its holder and what the holder does. */
static void lock_stuck(volatile int *w, int holder, int me)
{
	if (holder == me) {
		rt_eprintf("scone-run: internal error: thread %d waits for a lock of the enclave's shared state (%p) "
			   "that it holds itself; it will wait forever (please report)\n",
			   me, (void *)w);
		return;
	}
	char sc[24];
	task_syscall(holder, sc, sizeof sc);
	rt_eprintf("scone-run: warning: thread %d has slept %d times (up to %d ms each) waiting for a lock of the "
		   "enclave's shared state (%p) that thread %d holds (its system call: %s)\n",
		   me, RLOCK_STUCK_MS / RLOCK_WAIT_MS, RLOCK_WAIT_MS, (void *)w, holder, sc);
}

const struct rlock_ops rt_shared_lock_ops = {
	.self = rt_task_self,
	.alive = rt_task_alive,
	.relax = rt_task_relax,
	.recovered = lock_recovered,
	.wait = rt_task_wait,
	.wake = rt_task_wake,
	.stuck = lock_stuck,
	.held = lock_held,
};

/* Reserve the address range, then replace it with a MAP_SHARED anonymous
 * mapping (NORESERVE: pages are committed when used). */
int rt_shared_setup(uint64_t heap)
{
	uint64_t size = heap > RT_ARENA_MIN ? heap : RT_ARENA_MIN;
	size = (size + RT_PAGE - 1) & ~(RT_PAGE - 1);
	void *base = rt_region_reserve((size_t)size, 1UL << 21);
	if (!base)
		return -ENOMEM;
	void *p = rt_mmap(base, (size_t)size, RT_PROT_READ | RT_PROT_WRITE,
			  RT_MAP_SHARED | RT_MAP_ANONYMOUS | RT_MAP_FIXED | RT_MAP_NORESERVE, -1, 0);
	if (p != base)
		return -ENOMEM;
	return fsv_arena_init(base, (size_t)size, &rt_shared_lock_ops);
}
