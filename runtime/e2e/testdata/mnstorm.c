/* User-level threads (the mn scheduler) under load, compared with a native
 * run: 1,000 threads alive at once (more than any enclave's thread count)
 * meeting at a barrier, then mutex, condition variable and rwlock traffic
 * among all of them; signals sent to specific threads (pthread_kill) must
 * run their handler on that thread; thread ids are distinct. Prints only
 * deterministic totals. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define N 1000
#define SIGT 16

static pthread_barrier_t bar;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long counter, turn, rsum;
static int tids[N];

static void *storm(void *arg)
{
	long id = (long)arg;
	tids[id] = (int)syscall(SYS_gettid);
	pthread_barrier_wait(&bar);
	/* a relay: thread id waits for its turn, then passes it on */
	pthread_mutex_lock(&mu);
	while (turn != id)
		pthread_cond_wait(&cv, &mu);
	counter += id;
	turn++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < 10; i++) {
		if (i % 5 == (int)(id % 5)) {
			pthread_rwlock_wrlock(&rw);
			rsum += 1;
			pthread_rwlock_unlock(&rw);
		} else {
			pthread_rwlock_rdlock(&rw);
			volatile long v = rsum;
			(void)v;
			pthread_rwlock_unlock(&rw);
		}
	}
	return 0;
}

static __thread volatile int mine;
static volatile int handled[SIGT];
static pthread_mutex_t smu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t scv = PTHREAD_COND_INITIALIZER;
static int go_on, ready;

static void on_usr1(int s)
{
	(void)s;
	if (mine >= 0 && mine < SIGT)
		handled[mine]++;
}

static void *target(void *arg)
{
	mine = (int)(long)arg;
	pthread_mutex_lock(&smu);
	ready++;
	pthread_cond_broadcast(&scv);
	while (!go_on)
		pthread_cond_wait(&scv, &smu); /* woken by the signal, waits again */
	pthread_mutex_unlock(&smu);
	return 0;
}

int main(void)
{
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 64 * 1024);
	pthread_barrier_init(&bar, 0, N + 1);
	static pthread_t t[N];
	for (long i = 0; i < N; i++)
		if (pthread_create(&t[i], &at, storm, (void *)i)) {
			printf("pthread_create %ld failed\n", i);
			return 1;
		}
	pthread_barrier_wait(&bar);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], 0);
	int distinct = 1, pid = getpid();
	for (int i = 0; i < N && distinct; i++)
		for (int j = i + 1; j < N; j++)
			if (tids[i] == tids[j] || tids[i] == pid || tids[i] <= 0) {
				distinct = 0;
				break;
			}
	printf("storm: %d threads, relay sum %ld, rwlock writes %ld, thread ids distinct: %s\n", N, counter, rsum,
	       distinct ? "yes" : "no");

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, 0);
	mine = -1;
	pthread_t s[SIGT];
	for (long i = 0; i < SIGT; i++)
		pthread_create(&s[i], 0, target, (void *)i);
	pthread_mutex_lock(&smu);
	while (ready < SIGT)
		pthread_cond_wait(&scv, &smu);
	pthread_mutex_unlock(&smu);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < SIGT; i++)
			pthread_kill(s[i], SIGUSR1);
	/* every signal is handled before its thread may leave */
	for (int spins = 0; spins < 2000; spins++) {
		int all = 1;
		for (int i = 0; i < SIGT; i++)
			if (handled[i] < 1)
				all = 0;
		if (all)
			break;
		usleep(1000);
	}
	pthread_mutex_lock(&smu);
	go_on = 1;
	pthread_cond_broadcast(&scv);
	pthread_mutex_unlock(&smu);
	int right = 0;
	for (int i = 0; i < SIGT; i++) {
		pthread_join(s[i], 0);
		right += handled[i] >= 1;
	}
	printf("signals: %d of %d threads ran their own handler\n", right, SIGT);
	return 0;
}
