/* Signals arriving while system calls run, for the runtime's fast path of
 * rewritten sites: a timer interrupts a loop of calls (each must return its
 * own result and every signal must reach the handler), then a blocking read
 * is interrupted by a handler with SA_RESTART (the read is restarted and
 * gets the byte the handler wrote) and by one without (EINTR). Prints what
 * it saw; exit 0 when all is as natively. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile long ticks;
static int pfd[2];

static void on_tick(int sig)
{
	(void)sig;
	ticks++;
}

static void on_alarm_write(int sig)
{
	(void)sig;
	char c = 'x';
	if (write(pfd[1], &c, 1) != 1)
		_exit(3);
}

static void set(int sig, void (*h)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigaction(sig, &sa, 0);
}

int main(void)
{
	int fail = 0;
	set(SIGALRM, on_tick, SA_RESTART);
	struct itimerval it = {{0, 100}, {0, 100}}, off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &it, 0);
	pid_t pid = getpid(), ppid = getppid();
	long wrong = 0;
	for (long i = 0; i < 300000; i++)
		if ((i & 1 ? getpid() : getppid()) != (i & 1 ? pid : ppid))
			wrong++;
	setitimer(ITIMER_REAL, &off, 0);
	printf("loop: wrong results %ld, signals %s\n", wrong, ticks > 0 ? "delivered" : "none");
	fail |= wrong != 0 || ticks == 0;

	if (pipe(pfd))
		return 2;
	set(SIGALRM, on_alarm_write, SA_RESTART);
	struct itimerval once = {{0, 0}, {0, 20000}};
	setitimer(ITIMER_REAL, &once, 0);
	char c = 0;
	ssize_t n = read(pfd[0], &c, 1);
	printf("SA_RESTART read: %zd %c\n", n, n == 1 ? c : '-');
	fail |= n != 1 || c != 'x';

	set(SIGALRM, on_tick, 0);
	setitimer(ITIMER_REAL, &once, 0);
	n = read(pfd[0], &c, 1);
	int e = errno;
	printf("no SA_RESTART read: %zd %s\n", n, n < 0 && e == EINTR ? "EINTR" : "?");
	fail |= !(n < 0 && e == EINTR);
	return fail;
}
