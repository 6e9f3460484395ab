/* Many threads blocked in the host at once (runtime/e2e
 * TestMNPostedBlockingCalls): "mnpost N" starts N threads, each blocked on
 * its own pipe (even ones in read, odd ones in poll, then read) and one
 * in accept on a listening unix socket; the main thread waits until all
 * of them have started, sleeps 50 ms so that they are blocked, then wakes
 * them one by one (a byte each, a connection) and joins them. Under the
 * mn scheduler with the async transport their calls are posted to host
 * workers while the user-level threads park: they hold no enclave thread
 * and no kernel thread of the scheduler. Prints what each thread read and
 * "done". */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAXN 64

static int pipes[MAXN][2];
static char got[MAXN];
static int started, lsock;

static void *reader(void *arg)
{
	long i = (long)arg;
	__atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
	if (i % 2) {
		struct pollfd p = {.fd = pipes[i][0], .events = POLLIN};
		if (poll(&p, 1, -1) != 1 || !(p.revents & POLLIN)) {
			printf("thread %ld: poll failed\n", i);
			exit(1);
		}
	}
	if (read(pipes[i][0], &got[i], 1) != 1) {
		printf("thread %ld: read failed\n", i);
		exit(1);
	}
	return NULL;
}

static void *acceptor(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
	int c = accept(lsock, NULL, NULL);
	char b = 0;
	if (c < 0 || read(c, &b, 1) != 1) {
		printf("accept failed\n");
		exit(1);
	}
	printf("accepted %c\n", b);
	close(c);
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 16;
	if (n < 1 || n > MAXN)
		return 2;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "/tmp/mnpost-%d.sock", (int)getpid());
	unlink(a.sun_path);
	lsock = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lsock < 0 || bind(lsock, (struct sockaddr *)&a, sizeof a) || listen(lsock, 4))
		return 3;
	pthread_t th[MAXN + 1];
	for (long i = 0; i < n; i++)
		if (pipe(pipes[i]) || pthread_create(&th[i], NULL, reader, (void *)i))
			return 4;
	if (pthread_create(&th[n], NULL, acceptor, NULL))
		return 5;
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < n + 1)
		usleep(1000);
	struct timespec ts = {0, 50000000};
	nanosleep(&ts, NULL);
	for (long i = 0; i < n; i++) {
		char c = (char)('a' + i % 26);
		if (write(pipes[i][1], &c, 1) != 1)
			return 6;
	}
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) || write(c, "z", 1) != 1)
		return 7;
	for (long i = 0; i <= n; i++)
		pthread_join(th[i], NULL);
	close(c);
	unlink(a.sun_path);
	printf("read %.*s\ndone\n", (int)n, got);
	return 0;
}
