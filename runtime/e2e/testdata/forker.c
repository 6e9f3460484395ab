/* Calls fork() (fork works inside the enclave: fork_test.go, TestForkerRuns). */
#include <stdio.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>

int main(void)
{
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	if (p < 0) {
		printf("fork failed: %s\n", strerror(errno));
		return 1;
	}
	printf("fork succeeded\n");
	return 0;
}
