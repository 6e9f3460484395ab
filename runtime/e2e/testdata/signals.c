/* Signals: a handler on the thread stack, one on a sigaltstack, SA_RESTART
 * semantics across a blocking read, sigprocmask, a SIGSEGV handler that
 * longjmps out, and an interval timer interrupting a blocking pause. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/time.h>
#include <fenv.h>

static volatile sig_atomic_t got_usr1, got_usr2, got_alrm, on_alt;
static char altstack[64 * 1024];
static sigjmp_buf jb;

static volatile int handler_round;
static void h_usr1(int s)
{
	(void)s;
	got_usr1++;
	handler_round = fegetround();
}
static void h_usr2(int s)
{
	(void)s;
	char here;
	on_alt = &here >= altstack && &here < altstack + sizeof altstack;
	got_usr2++;
}
static void h_alrm(int s)
{
	(void)s;
	got_alrm++;
}
static int pfd[2];
static volatile sig_atomic_t got_alrm2;
static void h_alrm2(int s)
{
	(void)s;
	if (++got_alrm2 == 2)
		write(pfd[1], "x", 1);
}
static volatile sig_atomic_t got_sys;
static void h_sys(int s)
{
	(void)s;
	got_sys++;
}
static void h_segv(int s)
{
	(void)s;
	siglongjmp(jb, 1);
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	fesetround(FE_UPWARD);
	raise(SIGUSR1);
	int after = fegetround();
	fesetround(FE_TONEAREST);
	printf("usr1 delivered: %d, handler rounding reset: %d, restored after: %d\n", got_usr1,
	       handler_round == FE_TONEAREST, after == FE_UPWARD);

	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
	if (sigaltstack(&ss, NULL))
		perror("sigaltstack");
	sa.sa_handler = h_usr2;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR2, &sa, NULL);
	raise(SIGUSR2);
	printf("usr2 delivered: %d on altstack: %d\n", got_usr2, on_alt);

	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	raise(SIGUSR1);
	printf("usr1 while blocked: %d\n", got_usr1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	printf("usr1 after unblock: %d\n", got_usr1);

	/* SIGSYS is the runtime's: the application's view must still be native */
	sa.sa_handler = h_sys;
	sa.sa_flags = 0;
	sigaction(SIGSYS, &sa, NULL);
	struct sigaction cur;
	sigaction(SIGSYS, NULL, &cur);
	raise(SIGSYS);
	sigset_t sys, now;
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	sigprocmask(SIG_BLOCK, &sys, NULL);
	sigprocmask(SIG_BLOCK, NULL, &now);
	int blocked = sigismember(&now, SIGSYS);
	sigprocmask(SIG_UNBLOCK, &sys, NULL);
	printf("SIGSYS: handler readback %d, delivered %d, mask shows blocked %d\n", cur.sa_handler == h_sys, got_sys,
	       blocked);

	sa.sa_handler = h_segv;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	if (!sigsetjmp(jb, 1)) {
		*(volatile int *)8 = 1;
		printf("no fault?\n");
	} else {
		printf("SIGSEGV caught\n");
	}

	sa.sa_handler = h_alrm;
	sa.sa_flags = 0;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 0}, {0, 20000}};
	setitimer(ITIMER_REAL, &it, NULL);
	pause(); /* interrupted by SIGALRM while blocked in the host call */
	printf("alarm delivered during pause: %d\n", got_alrm);

	if (pipe(pfd))
		return 1;
	sa.sa_handler = h_alrm2;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval rep = {{0, 20000}, {0, 20000}};
	setitimer(ITIMER_REAL, &rep, NULL);
	char c = 0;
	ssize_t n = read(pfd[0], &c, 1); /* restarted after the first SIGALRM */
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	printf("restarted read: n=%zd c=%c alarms>=2: %d\n", n, c, got_alrm2 >= 2);
	return 0;
}
