/* A writer on a protected volume for the crash test (runtime/e2e
 * volcrash_test.go). "append DIR": checks DIR/log.txt, whose lines must be
 * "record 0", "record 1", ... without a gap or a torn line, and DIR/state,
 * which must name a record the log holds; prints "start K" (the records
 * found), then appends records forever, fsyncing each and printing
 * "synced N" once fsync returned, and after each record replaces DIR/state
 * atomically (write a temporary file, fsync, rename). The test kills it at
 * a random moment; every record it reported synced must be there the next
 * time. "check DIR" only checks and prints "start K".
 *
 * "append-big DIR" also writes, before record k's line, a new file DIR/b<k>
 * of BIG bytes (the volume writes the pages of a new file in place, not in
 * its log: another crash path) and fsyncs it, and after the line removes
 * DIR/b<k-4>; the check then also wants b<i> whole for the last records i
 * (k-3 to k-1); "check-big DIR" checks both. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[1 << 22];

#define BIG (320 << 10)
static char big[BIG];

static void pattern(long k, char *b)
{
	for (size_t i = 0; i < BIG; i++)
		b[i] = (char)('a' + (k * 7 + (long)(i / 4096)) % 26);
}

/* Whether DIR/b<k> holds pattern(k). */
static int big_ok(const char *dir, long k)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/b%ld", dir, k);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return 0;
	static char want[BIG];
	ssize_t n = 0, r;
	while (n < BIG && (r = read(fd, big + n, BIG - (size_t)n)) > 0)
		n += r;
	close(fd);
	pattern(k, want);
	return n == BIG && !memcmp(big, want, BIG);
}

static long check(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/log.txt", dir);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	ssize_t n = 0, r;
	while ((r = read(fd, buf + n, sizeof buf - 1 - (size_t)n)) > 0)
		n += r;
	close(fd);
	if (r < 0)
		return -1;
	buf[n] = 0;
	long k = 0;
	for (char *l = buf; *l;) {
		char *e = strchr(l, '\n');
		char want[32];
		snprintf(want, sizeof want, "record %ld", k);
		if (!e || (size_t)(e - l) != strlen(want) || memcmp(l, want, strlen(want))) {
			printf("CORRUPT log.txt at record %ld: %.40s\n", k, l);
			return -1;
		}
		k++;
		l = e + 1;
	}
	snprintf(p, sizeof p, "%s/state", dir);
	fd = open(p, O_RDONLY);
	if (fd >= 0) {
		char s[32] = {0};
		ssize_t sn = read(fd, s, sizeof s - 1);
		close(fd);
		long v = sn > 0 ? strtol(s, 0, 10) : -1;
		if (v < 0 || v >= k) {
			printf("CORRUPT state %s with %ld records\n", s, k);
			return -1;
		}
	}
	return k;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	const char *dir = argv[2];
	long k = check(dir);
	if (k < 0)
		return 1;
	int bigmode = !strcmp(argv[1], "append-big") || !strcmp(argv[1], "check-big");
	for (long i = k > 3 ? k - 3 : 0; bigmode && i < k; i++)
		if (!big_ok(dir, i)) {
			printf("CORRUPT b%ld with %ld records\n", i, k);
			return 1;
		}
	printf("start %ld\n", k);
	fflush(stdout);
	if (!strncmp(argv[1], "check", 5))
		return 0;
	char p[4096], tmp[4096], st[4096];
	snprintf(p, sizeof p, "%s/log.txt", dir);
	snprintf(tmp, sizeof tmp, "%s/state.tmp", dir);
	snprintf(st, sizeof st, "%s/state", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd < 0)
		return 1;
	for (;; k++) {
		char rec[32];
		if (bigmode) {
			char bp[4096];
			snprintf(bp, sizeof bp, "%s/b%ld", dir, k);
			pattern(k, big);
			int b = open(bp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			if (b < 0 || write(b, big, BIG) != BIG || fsync(b) != 0 || close(b) != 0)
				return 1;
		}
		int n = snprintf(rec, sizeof rec, "record %ld\n", k);
		if (write(fd, rec, (size_t)n) != n || fsync(fd) != 0)
			return 1;
		printf("synced %ld\n", k);
		fflush(stdout);
		if (bigmode && k >= 4) {
			char bp[4096];
			snprintf(bp, sizeof bp, "%s/b%ld", dir, k - 4);
			if (unlink(bp) != 0)
				return 1;
		}
		int t = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		n = snprintf(rec, sizeof rec, "%ld", k);
		if (t < 0 || write(t, rec, (size_t)n) != n || fsync(t) != 0 || close(t) != 0 || rename(tmp, st) != 0)
			return 1;
	}
}
