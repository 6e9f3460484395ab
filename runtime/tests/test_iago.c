/* Unit test of the Iago checks (runtime/src/iago.c): impossible host
 * results stop the runtime (rt_fatal, caught here with longjmp), plausible
 * ones pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "../src/iago.c"
#include "../src/region.c"
#include "testutil.h"

static jmp_buf jb;
static char last[256];
void rt_fatal(int code, const char *fmt, ...)
{
	(void)code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last, sizeof last, fmt, ap);
	va_end(ap);
	longjmp(jb, 1);
}

/* 1 when the check stopped the runtime. */
static int stops(long nr, long a0, long a1, long a2, long a3, long ret)
{
	long a[6] = {a0, a1, a2, a3, 0, 0};
	last[0] = 0;
	if (setjmp(jb))
		return 1;
	rt_iago_check(nr, a, ret);
	return 0;
}

int main(void)
{
	CHECK(!stops(__NR_read, 3, 0x1000, 100, 0, 100));
	CHECK(stops(__NR_read, 3, 0x1000, 100, 0, 101) && strstr(last, "more bytes than requested"));
	CHECK(!stops(__NR_read, 3, 0x1000, 100, 0, -4));
	CHECK(stops(__NR_pread64, 3, 0x1000, 10, 0, 4096));
	CHECK(stops(__NR_getdents64, 3, 0x1000, 512, 0, 513));
	CHECK(!stops(__NR_getrandom, 0x1000, 16, 0, 0, 16));
	CHECK(stops(__NR_getrandom, 0x1000, 16, 0, 0, 17));
	CHECK(stops(__NR_readlinkat, -100, 0x1000, 0x2000, 8, 9));
	CHECK(!stops(__NR_readlinkat, -100, 0x1000, 0x2000, 8, 8));
	CHECK(stops(__NR_epoll_wait, 3, 0x1000, 4, -1, 5));
	CHECK(stops(__NR_poll, 0x1000, 2, -1, 0, 3));
	CHECK(stops(__NR_openat, -100, 0x1000, 0, 0, 1L << 40) && strstr(last, "file descriptor"));
	CHECK(!stops(__NR_openat, -100, 0x1000, 0, 0, 5));
	/* mmap: inside the runtime's range, or MAP_FIXED answered elsewhere */
	CHECK(stops(__NR_mmap, 0, 4096, 3, 0x22, 0x7e0100001000L) && strstr(last, "inside the runtime"));
	CHECK(stops(__NR_mmap, 0x10000000, 4096, 3, 0x32, 0x20000000));
	CHECK(!stops(__NR_mmap, 0x10000000, 4096, 3, 0x32, 0x10000000));
	CHECK(!stops(__NR_mmap, 0, 4096, 3, 0x22, 0x7f0000000000L));
	return test_summary("test_iago");
}
