/* ptrace inside the enclave: a forked child's PTRACE_TRACEME (what Go's
 * SysProcAttr.Ptrace and strace-like launchers do) must fail with EPERM.
 * Were it accepted, every system call the child makes (a SIGSYS of
 * Syscall User Dispatch) would stop it for a tracer that does not expect
 * those stops: the child hangs. Prints "ptrace: EPERM" and exits 0. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	alarm(20); /* a stopped child would hang the parent's waitpid */
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		long r = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		int e = errno;
		(void)getpid(); /* a trapped call: stops a traced child */
		_exit(r < 0 && e == EPERM ? 0 : r < 0 ? 10 + e % 100 : 1);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) != pid)
		return 3;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("ptrace: child status %#x\n", status);
		return 1;
	}
	errno = 0;
	long r = ptrace(PTRACE_ATTACH, pid, NULL, NULL); /* the process itself: refused too */
	printf("ptrace: %s\n", r < 0 && errno == EPERM ? "EPERM" : strerror(errno));
	return 0;
}
