/* The enclave's heap (runtime/src/core/heap.h): how much anonymous memory
 * a process can map, what RLIMIT_DATA and sysinfo say, and that a forked
 * child has a heap of its own. Prints key=value lines. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1UL << 20)

/* MiB of 1 MiB private writable mappings until ENOMEM (at most cap); the
 * mappings are left in place when keep, else unmapped. */
static unsigned long fill(unsigned long cap, int keep, int *err)
{
	static void *maps[1 << 16];
	unsigned long n = 0;
	*err = 0;
	while (n < cap && n < sizeof maps / sizeof maps[0]) {
		void *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			*err = errno;
			break;
		}
		maps[n++] = p;
	}
	if (!keep)
		for (unsigned long i = 0; i < n; i++)
			munmap(maps[i], MIB);
	return n;
}

int main(void)
{
	struct rlimit rl;
	getrlimit(RLIMIT_DATA, &rl);
	printf("rlimit_cur=%lu rlimit_max=%lu\n", (unsigned long)(rl.rlim_cur / MIB),
	       (unsigned long)(rl.rlim_max / MIB));
	struct sysinfo si;
	sysinfo(&si);
	printf("totalram=%lu\n", (unsigned long)(si.totalram * si.mem_unit / MIB));

	/* ENOMEM that is not the heap's: mprotect of an unmapped page */
	void *gone = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(gone, 4096);
	printf("unmapped_mprotect=%s\n", mprotect(gone, 4096, PROT_READ | PROT_WRITE) ? strerror(errno) : "ok");

	int err;
	unsigned long got = fill(64 * 1024, 0, &err);
	printf("mapped=%lu err=%s\n", got, strerror(err));

	/* address space reserved without access does not count */
	void *res = mmap(NULL, 4 * got * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	printf("reserve=%s\n", res == MAP_FAILED ? strerror(errno) : "ok");
	/* but making it writable does */
	if (res != MAP_FAILED)
		printf("commit=%s\n", mprotect(res, 4 * got * MIB, PROT_READ | PROT_WRITE) ? strerror(errno) : "ok");

	rl.rlim_max = rl.rlim_max + MIB;
	rl.rlim_cur = rl.rlim_max;
	printf("raise=%s\n", setrlimit(RLIMIT_DATA, &rl) ? strerror(errno) : "ok");
	getrlimit(RLIMIT_DATA, &rl);
	rl.rlim_cur = rl.rlim_max / 2;
	printf("lower=%s\n", setrlimit(RLIMIT_DATA, &rl) ? strerror(errno) : "ok");
	unsigned long half = fill(64 * 1024, 0, &err);
	printf("lowered_ratio=%lu\n", got ? 100 * half / got : 0);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_DATA, &rl);

	/* the parent holds half its heap; a child has a whole heap of its own */
	unsigned long held = fill(got / 2, 1, &err);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		unsigned long c = fill(64 * 1024, 0, &err);
		printf("child_ratio=%lu\n", got ? 100 * (c + held) / got : 0);
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return 0;
}
