/* I/O micro-benchmarks run natively and inside scone-run (bench/runtime-io.sh):
 *   iobench hello                 start-up probe: print and exit
 *   iobench pwrite FILE N         N pwrite(4 KiB) calls, prints ns per call
 *   iobench seq FILE              sequential read in 1 MiB reads, prints MB/s
 *   iobench rand FILE N           N random 4 KiB preads, prints us per read */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	if (argc >= 2 && !strcmp(argv[1], "hello")) {
		puts("hello");
		return 0;
	}
	if (argc < 3)
		return 2;
	static char buf[1 << 20];
	if (!strcmp(argv[1], "pwrite")) {
		long n = argc > 3 ? atol(argv[3]) : 100000;
		int fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) { perror("open"); return 1; }
		memset(buf, 'x', 4096);
		double t = now();
		for (long i = 0; i < n; i++)
			if (pwrite(fd, buf, 4096, (i % 256) * 4096) != 4096) { perror("pwrite"); return 1; }
		printf("%.3f\n", (now() - t) * 1e6 / n);
		return 0;
	}
	int fd = open(argv[2], O_RDONLY);
	if (fd < 0) { perror("open"); return 1; }
	off_t size = lseek(fd, 0, SEEK_END);
	if (!strcmp(argv[1], "seq")) {
		lseek(fd, 0, SEEK_SET);
		double t = now();
		long total = 0;
		ssize_t r;
		while ((r = read(fd, buf, sizeof buf)) > 0)
			total += r;
		if (total != size) { fprintf(stderr, "short read\n"); return 1; }
		printf("%.1f\n", total / (now() - t) / 1e6);
		return 0;
	}
	if (!strcmp(argv[1], "rand")) {
		long n = argc > 3 ? atol(argv[3]) : 20000;
		unsigned long x = 88172645463325252UL;
		double t = now();
		for (long i = 0; i < n; i++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			off_t off = (off_t)(x % (unsigned long)(size / 4096)) * 4096;
			if (pread(fd, buf, 4096, off) != 4096) { perror("pread"); return 1; }
		}
		printf("%.3f\n", (now() - t) * 1e6 / n);
		return 0;
	}
	return 2;
}
