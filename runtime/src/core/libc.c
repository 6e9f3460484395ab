/* The few libc entry points that Debian's libbearssl.a and liblz4.a
 * reference besides the mem* functions (string.c): fortify checks, the
 * stack protector, errno, time, and calloc/free (refused). A failed check is a runtime bug or memory corruption: stop the
 * process. */
#include <stddef.h>
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"
#include "thread.h"

static __attribute__((noreturn)) void chk_fail(const char *what)
{
	rt_fatal(RT_EX_SOFTWARE, "runtime: %s detected, aborting", what);
}

void *__memcpy_chk(void *d, const void *s, size_t n, size_t dlen)
{
	if (n > dlen)
		chk_fail("buffer overflow (memcpy)");
	return memcpy(d, s, n);
}

void *__memmove_chk(void *d, const void *s, size_t n, size_t dlen)
{
	if (n > dlen)
		chk_fail("buffer overflow (memmove)");
	return memmove(d, s, n);
}

void *__memset_chk(void *d, int c, size_t n, size_t dlen)
{
	if (n > dlen)
		chk_fail("buffer overflow (memset)");
	return memset(d, c, n);
}

__attribute__((noreturn)) void __stack_chk_fail(void) { chk_fail("stack smashing"); }

/* Debian's liblz4.a is one object: LZ4_decompress_safe, which the FS reader
 * uses and which allocates nothing, links in LZ4_createStream and friends,
 * which call calloc/free. The runtime never calls them; if anything did, it
 * must not get libc's (or silently the runtime's) allocator. */
__attribute__((noreturn)) void *calloc(size_t n, size_t size)
{
	(void)n;
	(void)size;
	chk_fail("libc calloc call (liblz4's allocating API is not used)");
}

void free(void *p)
{
	if (p != NULL)
		chk_fail("libc free call (liblz4's allocating API is not used)");
}
__attribute__((noreturn)) void __chk_fail(void) { chk_fail("fortify check failure"); }

/* BearSSL's certificate validation asks for the time when it was given
 * none (the network shield always gives it). The host's clock, as for every
 * time in an enclave. */
long time(long *t)
{
	struct {
		long sec, nsec;
	} ts = {0, 0};
	rt_sys2(__NR_clock_gettime, 0 /* CLOCK_REALTIME */, &ts);
	if (t)
		*t = ts.sec;
	return ts.sec;
}

/* errno lives in the runtime's per-thread block, which GS points to while
 * runtime code runs (thread.h); its self pointer is at GS:0. */
int *__errno_location(void)
{
	char *self;
	__asm__("mov %%gs:0, %0" : "=r"(self));
	return (int *)(self + RT_TCB_ERRNO_OFF);
}
