/* Thread hand-off cost: two threads take turns through a mutex and two
 * condition variables (each turn wakes the other and waits: two futex
 * waits and wakes per round trip), and thread creation (create + join).
 * Prints "handoff_ns create_ns": ns per round trip and per thread, best of
 * 5 rounds.
 *
 *   handoff [round trips per round] [threads per round] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv[2] = {PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};
static long turn, n;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *player(void *arg)
{
	long me = (long)arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		while (turn % 2 != me && turn < 2 * n)
			pthread_cond_wait(&cv[me], &mu);
		if (turn >= 2 * n)
			break;
		turn++;
		pthread_cond_signal(&cv[1 - me]);
	}
	pthread_cond_signal(&cv[1 - me]);
	pthread_mutex_unlock(&mu);
	return 0;
}

static void *nothing(void *arg) { return arg; }

int main(int argc, char **argv)
{
	n = argc > 1 ? atol(argv[1]) : 20000;
	long m = argc > 2 ? atol(argv[2]) : 2000;
	double best_h = 1e30, best_c = 1e30;
	for (int r = 0; r < 5; r++) {
		turn = 0;
		pthread_t a, b;
		double t0 = now();
		pthread_create(&a, 0, player, (void *)0);
		pthread_create(&b, 0, player, (void *)1);
		pthread_join(a, 0);
		pthread_join(b, 0);
		double h = (now() - t0) / n;
		if (h < best_h)
			best_h = h;
		t0 = now();
		for (long i = 0; i < m; i++) {
			pthread_t t;
			pthread_create(&t, 0, nothing, 0);
			pthread_join(t, 0);
		}
		double c = (now() - t0) / m;
		if (c < best_c)
			best_c = c;
	}
	printf("%.0f %.0f\n", best_h, best_c);
	return 0;
}
