/* Per-call cost of brk(0) through a raw syscall, for the runtime benchmark
 * (bench/runtime-syscall.sh): scone-run emulates brk, so on a rewritten
 * site the call never leaves the runtime and the time is the fast path's
 * own (entry, dispatch, return). Prints nanoseconds per call, the best of
 * several rounds. */
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
			syscall(SYS_brk, 0);
		double per = (now_ns() - a) / n;
		if (per < best)
			best = per;
	}
	printf("%.1f\n", best);
	return 0;
}
