/* risky: imports fork, execve, system, posix_spawn, dlopen (never called unless argv[1] is given). */
#include <dlfcn.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
	if (argc < 2)
		return 0;
	pid_t pid = fork();
	if (pid == 0) {
		char *args[] = {"/bin/true", NULL};
		execve(args[0], args, environ);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
	void *h = dlopen(argv[1], RTLD_NOW);
	printf("%p %d\n", h, system("true"));
	return 0;
}
