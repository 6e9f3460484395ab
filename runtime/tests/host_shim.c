/* Host-side implementation of the runtime allocation interface for unit tests. */
#include <stdlib.h>
#include "rt_alloc.h"

void *rt_malloc(size_t n) { return malloc(n); }
void *rt_calloc(size_t n, size_t size) { return calloc(n, size); }
void rt_free(void *p) { free(p); }

/* rlock ops for host tests (host_rlock.h). */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <time.h>
#include <errno.h>
#include <sys/syscall.h>
#include "host_rlock.h"

volatile int host_rlock_recoveries;

static int h_self(void) { return (int)syscall(SYS_gettid); }

static int h_alive(int tid)
{
	if (kill(tid, 0) < 0 && errno == ESRCH)
		return 0;
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	long n = read(fd, buf, sizeof buf);
	close(fd);
	return n <= 0 ? 1 : rlock_stat_alive(buf, n);
}

static void h_relax(void) { sched_yield(); }
static void h_recovered(int tid)
{
	(void)tid;
	__atomic_add_fetch(&host_rlock_recoveries, 1, __ATOMIC_SEQ_CST);
}

static void h_wait(volatile int *w, int val, unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	syscall(SYS_futex, w, 0 /* FUTEX_WAIT */, val, &ts, NULL, 0);
}

static void h_wake(volatile int *w) { syscall(SYS_futex, w, 1 /* FUTEX_WAKE */, 1, NULL, NULL, 0); }

const struct rlock_ops host_rlock_ops = {
	.self = h_self, .alive = h_alive, .relax = h_relax, .recovered = h_recovered, .wait = h_wait, .wake = h_wake};
