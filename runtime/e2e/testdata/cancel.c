/* pthread_cancel and pthread_exit: deferred cancellation of threads blocked
 * in read, nanosleep and pthread_cond_wait, asynchronous cancellation of a
 * computing thread, and pthread_exit from a nested call; cleanup handlers
 * (pthread_cleanup_push) and, with -fexceptions, cleanup attributes in the
 * frames the unwinder passes must run. With glibc also backtrace() in a
 * signal handler that interrupted a blocked read: the unwinder must get
 * through the signal frame to the function that called read. The output is
 * compared with the native run's. */
#define _GNU_SOURCE 1
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <time.h>
#include <signal.h>
#ifdef __GLIBC__
#include <dlfcn.h>
#include <execinfo.h>
#endif

static int pipefd[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static volatile int handlers, frames;
static volatile int started;

static void handler(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&handlers, 1, __ATOMIC_SEQ_CST);
}
static void frame_done(int *p)
{
	(void)p;
	__atomic_add_fetch(&frames, 1, __ATOMIC_SEQ_CST);
}
static void unlock(void *m) { pthread_mutex_unlock(m); }

static __attribute__((noinline)) void blocked_read(void)
{
	int guard __attribute__((cleanup(frame_done))) = 0;
	(void)guard;
	char c;
	__atomic_store_n(&started, 1, __ATOMIC_SEQ_CST);
	ssize_t n = read(pipefd[0], &c, 1);
	printf("read returned %zd (not cancelled)\n", n);
}

static void *t_read(void *a)
{
	(void)a;
	pthread_cleanup_push(handler, 0);
	blocked_read();
	pthread_cleanup_pop(0);
	return 0;
}

static __attribute__((noinline)) void sleeper(void)
{
	int guard __attribute__((cleanup(frame_done))) = 0;
	(void)guard;
	__atomic_store_n(&started, 1, __ATOMIC_SEQ_CST);
	struct timespec ts = {30, 0};
	nanosleep(&ts, 0);
}

static void *t_sleep(void *a)
{
	(void)a;
	pthread_cleanup_push(handler, 0);
	sleeper();
	pthread_cleanup_pop(0);
	return 0;
}

static void *t_cond(void *a)
{
	(void)a;
	int guard __attribute__((cleanup(frame_done))) = 0;
	(void)guard;
	pthread_mutex_lock(&mu);
	pthread_cleanup_push(unlock, &mu);
	pthread_cleanup_push(handler, 0);
	__atomic_store_n(&started, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pthread_cond_wait(&cv, &mu);
	pthread_cleanup_pop(0);
	pthread_cleanup_pop(0);
	return 0;
}

static volatile unsigned long spins;
static void *t_async(void *a)
{
	(void)a;
	int guard __attribute__((cleanup(frame_done))) = 0;
	(void)guard;
	pthread_cleanup_push(handler, 0);
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, 0);
	__atomic_store_n(&started, 1, __ATOMIC_SEQ_CST);
	for (;;)
		spins++;
	pthread_cleanup_pop(0);
	return 0;
}

static __attribute__((noinline)) void nested_exit(int depth)
{
	int guard __attribute__((cleanup(frame_done))) = 0;
	(void)guard;
	if (depth == 0)
		pthread_exit((void *)42);
	nested_exit(depth - 1);
}

static void *t_exit(void *a)
{
	(void)a;
	pthread_cleanup_push(handler, 0);
	nested_exit(3);
	pthread_cleanup_pop(0);
	return 0;
}

static int run(const char *name, void *(*fn)(void *), int cancel, int want_frames)
{
	handlers = frames = started = 0;
	pthread_t th;
	if (pthread_create(&th, 0, fn, 0)) {
		printf("%s: pthread_create failed\n", name);
		return 1;
	}
	if (cancel) {
		while (!__atomic_load_n(&started, __ATOMIC_SEQ_CST))
			sched_yield();
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, 0); /* let it block */
		pthread_cancel(th);
	}
	void *ret;
	pthread_join(th, &ret);
	const char *r = ret == PTHREAD_CANCELED ? "PTHREAD_CANCELED" : ret == (void *)42 ? "42" : "other";
	printf("%s: result %s, cleanup handlers %d, frames unwound %d\n", name, r, handlers, frames);
	(void)want_frames;
	return 0;
}

#ifdef __GLIBC__
static volatile int bt_found, bt_frames;
static void bt_handler(int sig)
{
	(void)sig;
	void *pcs[32];
	int n = backtrace(pcs, 32);
	bt_frames = n;
	for (int i = 0; i < n; i++) {
		Dl_info di;
		if (dladdr(pcs[i], &di) && di.dli_sname && !strcmp(di.dli_sname, "bt_waiter"))
			bt_found = 1;
	}
}

__attribute__((noinline)) void bt_waiter(void)
{
	char c;
	__atomic_store_n(&started, 1, __ATOMIC_SEQ_CST);
	(void)read(pipefd[0], &c, 1); /* interrupted (SA_RESTART): goes on, then gets the byte */
}

static void *t_bt(void *a)
{
	(void)a;
	bt_waiter();
	return 0;
}

static void backtrace_in_handler(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = bt_handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, 0);
	started = 0;
	pthread_t th;
	pthread_create(&th, 0, t_bt, 0);
	while (!__atomic_load_n(&started, __ATOMIC_SEQ_CST))
		sched_yield();
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, 0);
	pthread_kill(th, SIGUSR1);
	while (!bt_frames)
		sched_yield();
	if (write(pipefd[1], "x", 1) != 1)
		return;
	pthread_join(th, 0);
	printf("backtrace in a handler: reaches the interrupted function: %s\n", bt_found ? "yes" : "no");
}
#endif

int main(void)
{
	setvbuf(stdout, 0, _IONBF, 0);
	if (pipe(pipefd))
		return 2;
	int bad = 0;
	bad |= run("read", t_read, 1, 1);
	bad |= run("nanosleep", t_sleep, 1, 1);
	bad |= run("cond_wait", t_cond, 1, 1);
	bad |= run("async", t_async, 1, 1);
	bad |= run("pthread_exit", t_exit, 0, 4);
#ifdef __GLIBC__
	backtrace_in_handler();
#endif
	return bad;
}
