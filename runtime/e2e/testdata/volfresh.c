/* A writer on a protected volume for the freshness test (runtime/e2e
 * volfresh_test.go). "add DIR N [MS]": counts the lines of DIR/log.txt,
 * prints "have K", appends N lines, fsyncing each, prints "synced K+N";
 * with MS it then sleeps MS milliseconds and kills itself with SIGKILL (no
 * exit: what the CAS has recorded by then was recorded while the program
 * ran). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[1], "add")) {
		fprintf(stderr, "usage: volfresh add DIR N [MS]\n");
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
	int fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	long n = atol(argv[3]);
	for (long i = 0; i < n; i++) {
		char rec[64];
		int l = snprintf(rec, sizeof rec, "record %ld\n", have + i);
		if (write(fd, rec, (size_t)l) != l || fsync(fd) != 0) {
			perror("write or fsync");
			return 1;
		}
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
