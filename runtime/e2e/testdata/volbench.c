/* Throughput and fsync latency of a file system, for the protected volume
 * benchmark (runtime/e2e volbench_test.go). "volbench DIR MIB": writes
 * times 200 rounds of a 4 KiB pwrite and fdatasync on DIR/small (first:
 * a fresh file system), then writes DIR/big (MIB MiB in 1 MiB writes, then
 * fsync) and reads it back in 1 MiB reads, checking every byte. Prints "write_mbps X", "read_mbps Y", "fsync_us
 * Z" (MB = 10^6 bytes). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(uint8_t *b, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < n; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(b + i, &x, 8);
	}
}

static int die(const char *what)
{
	perror(what);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return fprintf(stderr, "usage: volbench DIR MIB\n"), 2;
	long mib = atol(argv[2]);
	char p[4096];
	static uint8_t buf[CHUNK], want[CHUNK];
	snprintf(p, sizeof p, "%s/small", argv[1]);
	int fd;
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return die("open small");
	enum { ROUNDS = 200 };
	double t0 = now();
	for (int i = 0; i < ROUNDS; i++) {
		fill(buf, 4096, (uint64_t)i + 7);
		if (pwrite(fd, buf, 4096, (off_t)i * 4096) != 4096 || fdatasync(fd))
			return die("pwrite/fdatasync");
	}
	double tf = now() - t0;
	close(fd);
	unlink(p);
	snprintf(p, sizeof p, "%s/big", argv[1]);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return die("open big");
	t0 = now();
	for (long i = 0; i < mib; i++) {
		fill(buf, CHUNK, (uint64_t)i);
		if (write(fd, buf, CHUNK) != (ssize_t)CHUNK)
			return die("write");
	}
	if (fsync(fd) || close(fd))
		return die("fsync big");
	double tw = now() - t0;
	if ((fd = open(p, O_RDONLY)) < 0)
		return die("reopen big");
	t0 = now();
	for (long i = 0; i < mib; i++) {
		size_t got = 0;
		while (got < CHUNK) {
			ssize_t r = read(fd, buf + got, CHUNK - got);
			if (r <= 0)
				return die("read");
			got += (size_t)r;
		}
		fill(want, CHUNK, (uint64_t)i);
		if (memcmp(buf, want, CHUNK))
			return fprintf(stderr, "volbench: MiB %ld reads back different\n", i), 1;
	}
	double tr = now() - t0;
	close(fd);
	unlink(p);
	double bytes = (double)mib * CHUNK;
	printf("write_mbps %.1f\nread_mbps %.1f\nfsync_us %.1f\n", bytes / tw / 1e6, bytes / tr / 1e6,
	       tf / ROUNDS * 1e6);
	return 0;
}
