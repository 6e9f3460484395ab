/* A signal to a thread blocked in a host call interrupts it (runtime/e2e
 * TestSignalInterruptsBlockedThread): a thread blocks in read on an empty
 * pipe (the raw system call, as Go's syscall.Read); the main thread sends
 * it SIGUSR1 (tgkill) and waits, yielding, until the handler has run, as
 * Go's AllThreadsSyscall does; then it writes a byte, and the reader's
 * read (restarted: SA_RESTART) gets it. Every other round the signal is
 * sent at once, so that it may land just before the read starts, where
 * the runtime must not let the call block with the signal queued.
 * "sigread N": N rounds. Prints "ok". */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fds[2];
static volatile int handled, reader_tid, ready;

static void on_usr1(int sig)
{
	(void)sig;
	__atomic_add_fetch(&handled, 1, __ATOMIC_SEQ_CST);
}

static void *reader(void *arg)
{
	long rounds = (long)arg;
	reader_tid = (int)syscall(SYS_gettid);
	for (long i = 0; i < rounds; i++) {
		char c;
		__atomic_store_n(&ready, 1, __ATOMIC_SEQ_CST);
		long r = syscall(SYS_read, fds[0], &c, 1);
		if (r != 1 || c != 'x') {
			printf("round %ld: read returned %ld\n", i, r);
			exit(1);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 20;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGUSR1, &sa, NULL) || pipe(fds))
		return 2;
	pthread_t th;
	if (pthread_create(&th, NULL, reader, (void *)rounds))
		return 3;
	for (long i = 0; i < rounds; i++) {
		while (!__atomic_load_n(&ready, __ATOMIC_SEQ_CST))
			sched_yield();
		__atomic_store_n(&ready, 0, __ATOMIC_SEQ_CST);
		if (i % 2)
			usleep(2000); /* the reader is in its read by now; else the
				       * signal may come just before it starts */
		int before = handled;
		if (syscall(SYS_tgkill, getpid(), reader_tid, SIGUSR1))
			return 4;
		while (__atomic_load_n(&handled, __ATOMIC_SEQ_CST) == before)
			sched_yield(); /* as Go's AllThreadsSyscall waits */
		if (write(fds[1], "x", 1) != 1)
			return 5;
	}
	pthread_join(th, NULL);
	printf("ok\n");
	return 0;
}
