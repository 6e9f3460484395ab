/* Blocking round trips between two threads (bench/runtime-blocking.sh):
 * thread A writes a byte into one pipe and reads the answer from another;
 * thread B reads it and writes it back. Every read blocks until the other
 * thread writes, as in a request/response between the threads of a server.
 * "pingpong N": N round trips; prints the nanoseconds per round trip. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int ab[2], ba[2];
static long n;

static void *echo(void *arg)
{
	(void)arg;
	char c;
	for (long i = 0; i < n; i++)
		if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1)
			exit(2);
	return NULL;
}

int main(int argc, char **argv)
{
	n = argc > 1 ? atol(argv[1]) : 20000;
	if (pipe(ab) || pipe(ba))
		return 1;
	pthread_t th;
	if (pthread_create(&th, NULL, echo, NULL))
		return 1;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char c = 'x';
	for (long i = 0; i < n; i++)
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
			return 3;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(th, NULL);
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("%.0f\n", ns / n);
	return 0;
}
