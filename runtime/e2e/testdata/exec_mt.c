/* execve from a process with several threads (Linux's de_thread): the other
 * threads are gone and the new program runs. The threads are in the states
 * a program's threads usually are: blocked in a read, asleep, waiting on a
 * futex (pthread_cond_wait), spinning in application code, and one creating
 * threads. With "from-thread" the execve comes from a thread, not the main
 * thread; with "twice", two threads call execve at once (one wins); with
 * "with-main", the main thread and another one at once (the new program
 * runs on the main thread whichever wins, as Linux's de_thread moves the
 * winner to the process id). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char *self;

static int fds[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static volatile int spin_seen;

static void *reader(void *a)
{
	char c;
	(void)a;
	return (void *)(long)read(fds[0], &c, 1);
}

static void *sleeper(void *a)
{
	(void)a;
	struct timespec ts = {3600, 0};
	nanosleep(&ts, 0);
	return 0;
}

static void *waiter(void *a)
{
	(void)a;
	pthread_mutex_lock(&mu);
	for (;;)
		pthread_cond_wait(&cv, &mu);
	return 0;
}

static void *spinner(void *a)
{
	(void)a;
	for (;;)
		spin_seen++;
	return 0;
}

static void *idle(void *a)
{
	(void)a;
	pause();
	return 0;
}

static void *spawner(void *a)
{
	(void)a;
	for (;;) {
		pthread_t t;
		if (pthread_create(&t, 0, idle, 0) == 0)
			pthread_detach(t);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, 0);
	}
	return 0;
}

static void *execer(void *a)
{
	char *argv[] = {self, "after-exec", (char *)a, 0};
	execv(argv[0], argv);
	printf("execv failed: %s\n", strerror(errno));
	fflush(stdout);
	_exit(1);
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc > 2 && !strcmp(argv[1], "after-exec")) {
		/* the new program runs on the main thread, as after Linux's
		 * execve: its thread id is the process id, and the process's
		 * /proc files are there */
		FILE *m = fopen("/proc/self/maps", "r");
		char line[256];
		int maps = m && fgets(line, sizeof line, m) != 0;
		printf("%s; main thread: %s; /proc/self/maps: %s\n", argv[2],
		       syscall(SYS_gettid) == getpid() ? "yes" : "no", maps ? "readable" : "empty");
		return 0;
	}
	pthread_t t;
	void *(*fns[])(void *) = {reader, sleeper, waiter, spinner, spawner};
	if (pipe(fds))
		return 2;
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
		if (pthread_create(&t, 0, fns[i], 0))
			return 2;
	while (!spin_seen)
		sched_yield();
	struct timespec ts = {0, 20000000};
	nanosleep(&ts, 0); /* let them block */
	if (argc > 1 && !strcmp(argv[1], "from-thread")) {
		pthread_create(&t, 0, execer, "exec from a thread worked");
		pthread_join(t, 0);
		return 1;
	}
	if (argc > 1 && !strcmp(argv[1], "twice")) {
		pthread_t u;
		pthread_create(&t, 0, execer, "exec from a thread worked");
		pthread_create(&u, 0, execer, "exec from a thread worked");
		pthread_join(t, 0);
		return 1;
	}
	if (argc > 1 && !strcmp(argv[1], "with-main"))
		pthread_create(&t, 0, execer, "exec from a thread worked");
	execer("exec from a thread worked");
	return 1;
}
