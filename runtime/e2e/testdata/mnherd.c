/* Idle enclave threads and timed waits under the mn scheduler
 * (runtime/e2e TestMNTimekeeper): one thread sleeps 1 ms at a time while
 * others wait on a condition variable that the main thread signals every
 * 20 ms, so that their enclave threads go idle again and again while a
 * timed wait exists. Only one idle thread should wake for each deadline.
 *   mnherd [waiters] [sleeps] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int gen, stop, nsleeps = 200;

static void *sleeper(void *a)
{
	(void)a;
	struct timespec ts = {0, 1000000};
	for (int i = 0; i < nsleeps; i++)
		nanosleep(&ts, 0);
	return 0;
}

static void *waiter(void *a)
{
	(void)a;
	pthread_mutex_lock(&m);
	int g = gen;
	while (!stop) {
		while (gen == g && !stop)
			pthread_cond_wait(&cv, &m);
		g = gen;
	}
	pthread_mutex_unlock(&m);
	return 0;
}

int main(int argc, char **argv)
{
	int k = argc > 1 ? atoi(argv[1]) : 14;
	nsleeps = argc > 2 ? atoi(argv[2]) : 200;
	if (k < 1 || k > 64 || nsleeps < 1) {
		fprintf(stderr, "usage: mnherd [waiters 1..64] [sleeps]\n");
		return 2;
	}
	pthread_t s, w[64];
	if (pthread_create(&s, 0, sleeper, 0))
		return 1;
	for (int i = 0; i < k; i++)
		if (pthread_create(&w[i], 0, waiter, 0))
			return 1;
	for (int r = 0; r < 10; r++) {
		struct timespec ts = {0, 20000000};
		nanosleep(&ts, 0);
		pthread_mutex_lock(&m);
		gen++;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&m);
	}
	pthread_join(s, 0);
	pthread_mutex_lock(&m);
	stop = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&m);
	for (int i = 0; i < k; i++)
		pthread_join(w[i], 0);
	printf("%d waiters, %d sleeps: done\n", k, nsleeps);
	return 0;
}
