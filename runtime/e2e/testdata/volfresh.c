/* A writer on a protected volume for the freshness test (runtime/e2e
 * volfresh_test.go). "add DIR N [MS]": counts the lines of DIR/log.txt,
 * prints "have K", appends N lines, fsyncing each, prints "synced K+N";
 * with MS it then sleeps MS milliseconds and kills itself with SIGKILL (no
 * exit: what the CAS has recorded by then was recorded while the program
 * ran). "forkadd DIR N [MS]" does the same from a forked child that starts
 * writing once the parent has exited (the volume, and recording its
 * state, passed on to a process the parent left behind). "twoadd DIR N"
 * appends N lines from the parent and N from a forked child at the same
 * time, each fsyncing every line, and prints "synced K+2N" once both are
 * done. */
#include <sys/wait.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "add") && strcmp(argv[1], "forkadd") && strcmp(argv[1], "twoadd"))) {
		fprintf(stderr, "usage: volfresh add|forkadd|twoadd DIR N [MS]\n");
		return 2;
	}
	char p[4096];
	snprintf(p, sizeof p, "%s/log.txt", argv[2]);
	long have = 0;
	FILE *f = fopen(p, "r");
	if (f) {
		int c;
		while ((c = fgetc(f)) != EOF)
			have += c == '\n';
		fclose(f);
	}
	printf("have %ld\n", have);
	fflush(stdout);
	if (!strcmp(argv[1], "forkadd")) {
		pid_t parent = getpid(), pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid > 0)
			return 0;
		while (getppid() == parent) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	int fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	long n = atol(argv[3]);
	pid_t child = 0;
	if (!strcmp(argv[1], "twoadd")) {
		fflush(stdout);
		child = fork();
		if (child < 0) {
			perror("fork");
			return 1;
		}
	}
	for (long i = 0; i < n; i++) {
		char rec[64];
		int l = snprintf(rec, sizeof rec, "record %ld\n", have + i);
		if (write(fd, rec, (size_t)l) != l || fsync(fd) != 0) {
			perror("write or fsync");
			return 1;
		}
	}
	if (child == 0 && !strcmp(argv[1], "twoadd"))
		return close(fd) == 0 ? 0 : 1;
	if (child > 0) {
		int st = 0;
		if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "the child failed: status %#x\n", st);
			return 1;
		}
		n *= 2;
	}
	printf("synced %ld\n", have + n);
	fflush(stdout);
	if (argc > 4) {
		long ms = atol(argv[4]);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
		kill(getpid(), SIGKILL);
	}
	return close(fd) == 0 ? 0 : 1;
}
