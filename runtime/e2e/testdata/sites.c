/* System calls from each kind of code the runtime tells apart (runtime/e2e
 * TestTrappedSitesByKind, SCONE_STATS): "sites N" makes N getppid calls
 * through libc (sites the rewriter rewrites), N from a function with an
 * indirect jump (its site is left: the jump's targets cannot be proven), and
 * N from code generated at run time (an anonymous mapping made
 * executable). Prints "ok" when every call returned the parent's id. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A getppid whose function holds a register-indirect jmp. */
__attribute__((noinline)) static long left_getppid(void)
{
	long r;
	__asm__ volatile("lea 1f(%%rip), %%rdx\n\t"
			 "jmp *%%rdx\n"
			 "1:\tsyscall"
			 : "=a"(r)
			 : "a"((long)SYS_getppid)
			 : "rcx", "r11", "rdx", "memory");
	return r;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100;
	pid_t want = getppid();
	int bad = 0;
	/* mov $SYS_getppid, %eax; syscall; ret */
	static const unsigned char code[] = {0xb8, SYS_getppid, 0, 0, 0, 0x0f, 0x05, 0xc3};
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return 2;
	memcpy(page, code, sizeof code);
	if (mprotect(page, 4096, PROT_READ | PROT_EXEC))
		return 3;
	long (*jit)(void) = (long (*)(void))page;
	for (long i = 0; i < n; i++) {
		bad += syscall(SYS_getppid) != want;
		bad += left_getppid() != want;
		bad += jit() != want;
	}
	printf(bad ? "%d wrong answers\n" : "ok\n", bad);
	return bad != 0;
}
