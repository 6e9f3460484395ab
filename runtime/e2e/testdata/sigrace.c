/* A signal that arrives just before a blocking call starts must interrupt
 * it, as natively: a thread about to block in read (on an empty pipe), in
 * nanosleep or in a futex wait is sent SIGUSR1 (handler without SA_RESTART)
 * the moment it says so; every call must return EINTR. A signal the
 * runtime queued but did not let cancel the call would leave the thread
 * blocked: the main thread then reports it after a second.
 *
 * A signal may also arrive before the call starts (natively between the
 * store and the syscall instruction; converted also in the stub of a
 * rewritten site): its handler runs and the call then blocks, as Linux
 * allows. That is told apart from a lost signal by the handler's count,
 * and the round is unblocked by a second signal (counted on stderr, so
 * stdout stays comparable). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 1000

static int fds[2];
static volatile int about_to_block, done_round, word, handled;
static volatile pid_t tid;

static void on_usr1(int s)
{
	(void)s;
	__atomic_add_fetch(&handled, 1, __ATOMIC_SEQ_CST);
}

static long block(int kind)
{
	char c;
	struct timespec ts = {30, 0};
	switch (kind) {
	case 0:
		return read(fds[0], &c, 1);
	case 1:
		return nanosleep(&ts, 0);
	default:
		return syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &ts, 0, 0);
	}
}

static void *blocker(void *a)
{
	(void)a;
	tid = (pid_t)syscall(SYS_gettid);
	for (int i = 0; i < 3 * ROUNDS; i++) {
		__atomic_store_n(&about_to_block, 1, __ATOMIC_SEQ_CST);
		long r = block(i % 3);
		if (!(r < 0 && errno == EINTR)) {
			printf("round %d: call %d returned %ld (%s), not EINTR\n", i, i % 3, r, strerror(errno));
			_exit(1);
		}
		__atomic_store_n(&done_round, i + 1, __ATOMIC_SEQ_CST);
	}
	return 0;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1; /* no SA_RESTART: the call returns EINTR */
	sigaction(SIGUSR1, &sa, 0);
	if (pipe(fds))
		return 2;
	pthread_t t;
	pthread_create(&t, 0, blocker, 0);
	int early = 0;
	for (int i = 0; i < 3 * ROUNDS; i++) {
		while (!__atomic_load_n(&about_to_block, __ATOMIC_SEQ_CST))
			;
		__atomic_store_n(&about_to_block, 0, __ATOMIC_SEQ_CST);
		struct timespec start, now;
		clock_gettime(CLOCK_MONOTONIC, &start);
		syscall(SYS_tgkill, getpid(), tid, SIGUSR1);
		while (__atomic_load_n(&done_round, __ATOMIC_SEQ_CST) != i + 1) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - start.tv_sec > 1) {
				if (__atomic_load_n(&handled, __ATOMIC_SEQ_CST) <= i + early) {
					printf("round %d: the signal was lost: call %d still blocked after a second\n",
					       i, i % 3);
					return 1;
				}
				/* handled before the call began: unblock it */
				early++;
				syscall(SYS_tgkill, getpid(), tid, SIGUSR1);
				clock_gettime(CLOCK_MONOTONIC, &start);
			}
		}
	}
	pthread_join(t, 0);
	printf("%d blocking calls interrupted\n", 3 * ROUNDS);
	if (early)
		fprintf(stderr, "%d signals arrived before their call began\n", early);
	return 0;
}
