/* Per-thread kernel state that must follow the thread (runtime/e2e
 * TestMNPerThreadState): the main thread is named after the program file
 * (as the kernel names it at execve); 8 threads each set PR_SET_KEEPCAPS
 * and PR_SET_NAME to their own values, then read them back many times,
 * sleeping and yielding in between (under the mn scheduler a user-level
 * thread moves between enclave threads); a new thread inherits its
 * creator's. Prints "ok". */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static int bad;

static void fail(const char *what)
{
	if (__atomic_add_fetch(&bad, 1, __ATOMIC_SEQ_CST) <= 3)
		printf("%s\n", what);
}

static int name_is(const char *want)
{
	char got[16] = {0};
	return prctl(PR_GET_NAME, got) == 0 && !strcmp(got, want);
}

static void *inherit(void *arg)
{
	int v = (int)(long)arg;
	char want[16];
	snprintf(want, sizeof want, "worker-%d", v);
	if (prctl(PR_GET_KEEPCAPS) != (v & 1))
		fail("keepcaps not inherited");
	if (!name_is(want))
		fail("name not inherited");
	return NULL;
}

static void *worker(void *arg)
{
	int v = (int)(long)arg;
	char want[16];
	snprintf(want, sizeof want, "worker-%d", v);
	if (prctl(PR_SET_KEEPCAPS, v & 1) || prctl(PR_SET_NAME, want))
		fail("set");
	for (int i = 0; i < 200; i++) {
		if (i % 3 == 0)
			usleep(100);
		else
			sched_yield();
		if (prctl(PR_GET_KEEPCAPS) != (v & 1))
			fail("keepcaps read back");
		if (!name_is(want))
			fail("name read back");
	}
	pthread_t c;
	if (pthread_create(&c, NULL, inherit, arg) || pthread_join(c, NULL))
		fail("inherit thread");
	return NULL;
}

int main(int argc, char **argv)
{
	(void)argc;
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	char want[16];
	snprintf(want, sizeof want, "%s", base);
	if (!name_is(want))
		fail("main thread not named after the program");
	pthread_t th[8];
	for (long i = 0; i < 8; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)i))
			return 2;
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	if (prctl(PR_SET_KEEPCAPS, 2) != -1)
		fail("keepcaps 2 accepted");
	if (prctl(PR_GET_NAME, (char *)8) != -1)
		fail("PR_GET_NAME into a bad buffer");
	if (!name_is(want))
		fail("main thread renamed");
	if (bad)
		printf("%d wrong\n", bad);
	else
		printf("ok\n");
	return bad != 0;
}
