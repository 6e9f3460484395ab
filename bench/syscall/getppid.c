/* Per-call cost of a trivial system call (getppid), for the runtime
 * benchmark (bench/runtime-syscall.sh). Prints nanoseconds per call, the
 * best of several rounds (timings here are noisy). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	double best = 1e30;
	for (int r = 0; r < rounds; r++) {
		double a = now_ns();
		for (long i = 0; i < n; i++)
			syscall(SYS_getppid);
		double per = (now_ns() - a) / n;
		if (per < best)
			best = per;
	}
	printf("%.1f\n", best);
	return 0;
}
