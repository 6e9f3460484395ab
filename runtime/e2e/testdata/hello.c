/* Prints its arguments, some environment and libc facts; used by the e2e
 * tests to compare a native run with a run under scone-run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>

int main(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, i == 0 ? "(prog)" : argv[i]);
	const char *v = getenv("E2E_VAR");
	printf("E2E_VAR=%s\n", v ? v : "(unset)");
	printf("SCONE_MODE=%s\n", getenv("SCONE_MODE") ? "leaked" : "(stripped)");
	/* malloc: small and large (brk and mmap paths) */
	size_t total = 0;
	for (int i = 0; i < 1000; i++) {
		char *p = malloc(100 + i * 37);
		memset(p, i, 100 + i * 37);
		total += (unsigned char)p[99];
		if (i % 3)
			free(p);
	}
	char *big = malloc(8 << 20);
	memset(big, 1, 8 << 20);
	free(big);
	printf("malloc ok %zu\n", total);
	/* errno from a failing syscall */
	int fd = open("/nonexistent/file", O_RDONLY);
	printf("open failed: fd=%d errno=%d\n", fd, errno);
	/* a file read through the shields */
	FILE *f = fopen("/etc/hostname", "r");
	printf("fopen /etc/hostname: %s\n", f ? "ok" : "failed");
	if (f)
		fclose(f);
	return 3;
}
