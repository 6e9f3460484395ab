/* The few libc entry points that Debian's libbearssl.a references besides
 * the mem* functions (string.c): fortify checks, the stack protector and
 * errno. A failed check is a runtime bug or memory corruption: stop the
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
__attribute__((noreturn)) void __chk_fail(void) { chk_fail("fortify check failure"); }

/* errno lives in the runtime's per-thread block (FS points to it while
 * runtime code runs; see thread.h). */
int *__errno_location(void) { return (int *)(rt_rdfsbase() + RT_TCB_ERRNO_OFF); }
