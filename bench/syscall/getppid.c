/* Per-call cost of a trivial system call (getppid), for the runtime
 * benchmark (bench/runtime-syscall.sh). Prints nanoseconds per call, the
 * best of several rounds (timings here are noisy).
 *   getppid [calls per round] [rounds] [threads]
 * With several threads each makes the calls of a round at once, and the
 * time per call is the round's wall time over all their calls (the
 * inverse of the calls per second of the process). */
#include <pthread.h>
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

static long n = 100000;

static void *calls(void *arg)
{
	(void)arg;
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return 0;
}

int main(int argc, char **argv)
{
	n = argc > 1 ? atol(argv[1]) : 100000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	int threads = argc > 3 ? atoi(argv[3]) : 1;
	if (n < 1 || rounds < 1 || threads < 1 || threads > 64) {
		fprintf(stderr, "usage: getppid [calls per round] [rounds] [threads, 1..64]\n");
		return 2;
	}
	pthread_t t[64];
	double best = 1e30;
	for (int r = 0; r < rounds; r++) {
		double a = now_ns();
		if (threads == 1) {
			calls(0);
		} else {
			for (int i = 0; i < threads; i++)
				if (pthread_create(&t[i], 0, calls, 0) != 0) {
					perror("pthread_create");
					return 1;
				}
			for (int i = 0; i < threads; i++)
				pthread_join(t[i], 0);
		}
		double per = (now_ns() - a) / ((double)n * threads);
		if (per < best)
			best = per;
	}
	printf("%.1f\n", best);
	return 0;
}
