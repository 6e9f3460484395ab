/* readfile FILE...: prints each file's size and FNV-1a 64 hash, then its
 * contents (musl test image; default FILE /usr/local/share/musl-demo/data.txt). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int readfile(const char *path) {
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "readfile: opening %s: %s\n", path, strerror(errno));
		return 1;
	}
	static char buf[1 << 20];
	size_t len = 0;
	ssize_t n;
	while (len < sizeof buf && (n = read(fd, buf + len, sizeof buf - len)) > 0)
		len += (size_t)n;
	close(fd);
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)buf[i];
		h *= 1099511628211ULL;
	}
	printf("%s: %zu bytes fnv1a64 %016llx\n", path, len, (unsigned long long)h);
	fwrite(buf, 1, len, stdout);
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 2)
		return readfile("/usr/local/share/musl-demo/data.txt");
	int rc = 0;
	for (int i = 1; i < argc; i++)
		rc |= readfile(argv[i]);
	return rc;
}
