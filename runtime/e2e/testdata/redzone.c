/* A leaf function that keeps 16 values in its red zone (the 128 bytes
 * below the stack pointer) across a system call site: a rewritten site
 * whose stub pushed a return address there would corrupt them. Prints the
 * number of corrupted slots over many calls (0 expected) while a timer
 * signal interrupts the loop. Exit 0 when none was corrupted. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile long ticks;

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

/* getppid (110) through an inline `syscall`, preceded by a 5-byte
 * `mov $110,%eax`: the rewriter patches exactly this site. */
__attribute__((noinline)) long leaf_getppid(long seed, long *bad)
{
	long r, b;
	__asm__ volatile("xor %%ecx, %%ecx\n"
			 "1: lea (%[seed],%%rcx), %%r8\n"
			 "mov %%r8, -128(%%rsp,%%rcx,8)\n"
			 "inc %%ecx\n"
			 "cmp $16, %%ecx\n"
			 "jb 1b\n"
			 "mov $110, %%eax\n"
			 "syscall\n"
			 "mov %%rax, %[r]\n"
			 "xor %%ecx, %%ecx\n"
			 "xor %[b], %[b]\n"
			 "2: lea (%[seed],%%rcx), %%r8\n"
			 "cmp %%r8, -128(%%rsp,%%rcx,8)\n"
			 "je 3f\n"
			 "inc %[b]\n"
			 "3: inc %%ecx\n"
			 "cmp $16, %%ecx\n"
			 "jb 2b\n"
			 : [r] "=&r"(r), [b] "=&r"(b)
			 : [seed] "r"(seed)
			 : "rax", "rcx", "r8", "r11", "memory", "cc");
	*bad += b;
	return r;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, 0);
	struct itimerval it = {{0, 200}, {0, 200}};
	setitimer(ITIMER_REAL, &it, 0);
	long bad = 0, wrong = 0;
	long ppid = getppid();
	for (long i = 0; i < 200000; i++)
		if (leaf_getppid(i * 131, &bad) != ppid)
			wrong++;
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, 0);
	printf("corrupted red-zone slots: %ld\nwrong results: %ld\nsignals: %s\n", bad, wrong,
	       ticks > 0 ? "delivered" : "none");
	return bad || wrong || !ticks;
}
