/* execve from a process with two threads: refused under scone-run (ENOSYS),
 * works natively. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void *idle(void *a)
{
	(void)a;
	pause();
	return 0;
}

int main(void)
{
	pthread_t t;
	pthread_create(&t, 0, idle, 0);
	char *argv[] = {"/bin/echo", "exec from a thread worked", 0};
	execv(argv[0], argv);
	printf("execv failed: %s\n", strerror(errno));
	return 1;
}
