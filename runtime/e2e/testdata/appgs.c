/* A program with its own GS base (arch_prctl(ARCH_SET_GS)), placed so that
 * GS:0x28 lies in a PROT_NONE page: the runtime's code, whose stack-protector
 * canary is at GS:0x28 (runtime/src/core/thread.h), faults unless the
 * runtime puts its block back in GS while it runs. It reads its own file
 * (argv[0]: in sim mode a protected file, every chunk decrypted by BearSSL)
 * at many offsets, in the main thread and in a second one (which inherits
 * GS, as clone does), and checks after each call that GS is still its own
 * and ARCH_GET_GS says so. Prints "appgs ok ..." and exits 0.
 *
 * "appgs threads": 8 threads each set a GS base of their own and take turns
 * (sched_yield, nanosleep, pipe reads that block) 200 times, checking their
 * GS after each call: under the mn scheduler they share one enclave thread,
 * whose GS must follow the user-level thread that runs. Prints "appgs
 * threads ok" and exits 0. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x5a5a00c0ffee5a5aUL

static const char *self_path;
static __thread unsigned long gs_base; /* each thread's (FS-based TLS) */

static unsigned long gs_word(void)
{
	unsigned long v;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(v));
	return v;
}

static int check(const char *who, int i)
{
	unsigned long got = 0;
	unsigned long want = *(const unsigned long *)gs_base;
	if (gs_word() != want || syscall(SYS_arch_prctl, ARCH_GET_GS, &got) != 0 || got != gs_base) {
		printf("%s: GS lost after call %d (GS:0 %#lx, ARCH_GET_GS %#lx, want %#lx)\n", who, i, gs_word(), got,
		       gs_base);
		return 1;
	}
	return 0;
}

/* n reads of 4 KiB at offsets spread over the file; 0 if GS held. */
static int reads(const char *who, int n, long *sum)
{
	int fd = open(self_path, O_RDONLY);
	if (fd < 0 || check(who, -1)) {
		perror("open");
		return 1;
	}
	off_t size = lseek(fd, 0, SEEK_END);
	char buf[4096];
	for (int i = 0; i < n; i++) {
		off_t off = (off_t)((unsigned long)i * 7919 * 4096 % (unsigned long)(size > 4096 ? size - 4096 : 1));
		ssize_t r = pread(fd, buf, sizeof buf, off);
		if (r <= 0 || check(who, i)) {
			close(fd);
			return 1;
		}
		for (ssize_t k = 0; k < r; k++)
			*sum += (unsigned char)buf[k];
		getpid();
		if (check(who, i))
			return 1;
	}
	close(fd);
	return check(who, n);
}

static long thread_sum;
static void *thread_main(void *arg)
{
	gs_base = (unsigned long)arg; /* the GS base clone gave it: the main thread's */
	return (void *)(long)reads("thread", 100, &thread_sum);
}

/* A GS base of the calling thread's own: GS:0 holds MAGIC ^ tag (check
 * compares with what gs_base points to), GS:0x28 lies in a guard page. */
static int own_gs(unsigned long tag)
{
	char *p = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || mprotect(p + 4096, 4096, PROT_NONE)) {
		perror("mmap");
		return 1;
	}
	/* GS:0 and GS:8 readable, GS:0x28 in the guard page */
	gs_base = (unsigned long)p + 4096 - 16;
	*(unsigned long *)gs_base = MAGIC ^ tag;
	if (syscall(SYS_arch_prctl, ARCH_SET_GS, gs_base)) {
		perror("arch_prctl(ARCH_SET_GS)");
		return 1;
	}
	return 0;
}

#define NTURNS 8
static int turn_pipe[NTURNS][2];

/* A thread that failed ends the process: the others would wait for its
 * bytes forever. */
static void quit(void)
{
	fflush(stdout);
	_exit(1);
}

/* Thread i: its own GS, then 200 rounds of calls that switch threads
 * (yield, sleep, a read that waits for thread i-1's byte). */
static void *turns(void *arg)
{
	long i = (long)arg;
	char who[16];
	snprintf(who, sizeof who, "thread %ld", i);
	if (own_gs((unsigned long)i + 1))
		quit();
	for (int k = 0; k < 200; k++) {
		struct timespec ts = {0, 20000};
		char c = 1;
		sched_yield();
		if (check(who, k))
			quit();
		nanosleep(&ts, 0);
		if (check(who, k))
			quit();
		if (write(turn_pipe[(i + 1) % NTURNS][1], &c, 1) != 1 || read(turn_pipe[i][0], &c, 1) != 1) {
			printf("%s: pipe failed\n", who);
			quit();
		}
		if (check(who, k))
			quit();
	}
	return 0;
}

static int threads_mode(void)
{
	pthread_t th[NTURNS];
	for (int i = 0; i < NTURNS; i++)
		if (pipe(turn_pipe[i]))
			return 1;
	for (long i = 0; i < NTURNS; i++)
		if (pthread_create(&th[i], 0, turns, (void *)i))
			return 1;
	int bad = 0;
	for (int i = 0; i < NTURNS; i++) {
		void *ret;
		if (pthread_join(th[i], &ret) || ret)
			bad = 1;
	}
	if (bad)
		return 1;
	printf("appgs threads ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc > 1 && !strcmp(argv[1], "threads"))
		return threads_mode();
	if (own_gs(0))
		return 1;
	long sum = 0;
	if (check("main", -2) || reads("main", 200, &sum))
		return 1;
	pthread_t th;
	void *ret;
	if (pthread_create(&th, 0, thread_main, (void *)gs_base) || pthread_join(th, &ret) || ret) {
		printf("thread failed\n");
		return 1;
	}
	if (check("main", 201))
		return 1;
	printf("appgs ok main %ld thread %ld\n", sum, thread_sum);
	return 0;
}
