/* Stress: 1000 short-lived threads in waves (runtime block reuse), each
 * doing blocking calls (pipe read, nanosleep, condvar wait) while the main
 * thread bombards them with SIGUSR1 (SA_RESTART handler) via
 * pthread_kill. Prints only deterministic totals. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WAVES 125
#define PER 8

static volatile sig_atomic_t handled;
static void on_usr1(int s)
{
	(void)s;
	handled = 1;
}

struct job {
	int rd, wr;
	long result;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	char c;
	ssize_t n;
	do
		n = read(j->rd, &c, 1); /* SA_RESTART: never EINTR */
	while (n < 0 && errno == EINTR);
	struct timespec ts = {0, 200000};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	j->result = n == 1 ? c : -1;
	return 0;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, 0);
	long total = 0, created = 0;
	for (int w = 0; w < WAVES; w++) {
		pthread_t t[PER];
		struct job j[PER];
		for (int i = 0; i < PER; i++) {
			int p[2];
			if (pipe(p))
				return 1;
			j[i].rd = p[0];
			j[i].wr = p[1];
			if (pthread_create(&t[i], 0, worker, &j[i]))
				return 2;
			created++;
		}
		for (int k = 0; k < 3; k++)
			for (int i = 0; i < PER; i++)
				pthread_kill(t[i], SIGUSR1);
		for (int i = 0; i < PER; i++) {
			char c = (char)(1 + (w + i) % 100);
			if (write(j[i].wr, &c, 1) != 1)
				return 3;
		}
		for (int i = 0; i < PER; i++) {
			pthread_join(t[i], 0);
			total += j[i].result;
			close(j[i].rd);
			close(j[i].wr);
		}
	}
	printf("threads=%ld total=%ld handler-ran=%d\n", created, total, (int)handled);
	return 0;
}
