/* Per-thread kernel state that must follow the thread (runtime/e2e
 * TestMNPerThreadKeepCaps): 8 threads each set PR_SET_KEEPCAPS to their
 * own value, then read it back many times, sleeping and yielding in
 * between (under the mn scheduler a user-level thread moves between
 * enclave threads); a new thread inherits its creator's. Prints "ok". */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

static int bad;

static void *inherit(void *arg)
{
	if (prctl(PR_GET_KEEPCAPS) != (int)(long)arg)
		__atomic_add_fetch(&bad, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void *worker(void *arg)
{
	int v = (int)(long)arg & 1;
	if (prctl(PR_SET_KEEPCAPS, v))
		__atomic_add_fetch(&bad, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 200; i++) {
		if (i % 3 == 0)
			usleep(100);
		else
			sched_yield();
		if (prctl(PR_GET_KEEPCAPS) != v)
			__atomic_add_fetch(&bad, 1, __ATOMIC_SEQ_CST);
	}
	pthread_t c;
	if (pthread_create(&c, NULL, inherit, (void *)(long)v) || pthread_join(c, NULL))
		__atomic_add_fetch(&bad, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

int main(void)
{
	pthread_t th[8];
	for (long i = 0; i < 8; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)i))
			return 2;
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	if (prctl(PR_SET_KEEPCAPS, 2) != -1)
		bad++;
	printf(bad ? "%d wrong keepcaps\n" : "ok\n", bad);
	return bad != 0;
}
