/* Host test of runtime/lib/getdents.c: real getdents64 output parses; every
 * malformed record a lying host could write is refused. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "getdents.h"
#include "testutil.h"

static size_t put(unsigned char *b, size_t pos, uint64_t ino, uint16_t reclen, const char *name)
{
	memset(b + pos, 0, reclen);
	memcpy(b + pos, &ino, 8);
	memcpy(b + pos + 16, &reclen, 2);
	b[pos + 18] = 8; /* DT_REG */
	memcpy(b + pos + 19, name, strlen(name));
	return pos + reclen;
}

int main(void)
{
	/* the kernel's own records */
	int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	unsigned char kb[4096];
	long n = syscall(SYS_getdents64, fd, kb, sizeof kb);
	close(fd);
	CHECK(n > 0);
	size_t pos = 0;
	struct rt_dirent d;
	int count = 0, dot = 0;
	while (rt_dirent_next(kb, (size_t)n, &pos, &d) > 0) {
		count++;
		dot += d.namelen == 1 && d.name[0] == '.';
	}
	CHECK(pos == (size_t)n && count >= 4 && dot == 1);

	unsigned char b[256];
	size_t len = put(b, 0, 1, 24, "a");
	len = put(b, len, 2, 32, "longer-nm");
	CHECK_EQ(rt_dirent_check(b, len), 0);
	CHECK_EQ(rt_dirent_check(b, 0), 0);

	struct {
		const char *what;
		size_t off; /* byte to change */
		int value;  /* -1: truncate the buffer at off instead */
	} bad[] = {
		{"reclen 0", 16, 0},
		{"reclen below the header", 16, 8},
		{"reclen past the buffer", 16, 200},
		{"reclen not a multiple of 8", 16, 23},
		{"name without NUL", 20, 'x'},
		{"empty name", 19, 0},
		{"buffer ends inside a header", 30, -1},
		{"buffer ends inside a record", 40, -1},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned char c[256];
		memcpy(c, b, sizeof c);
		size_t clen = len;
		if (bad[i].value < 0) {
			clen = bad[i].off;
		} else if (bad[i].off == 16) {
			uint16_t v = (uint16_t)bad[i].value;
			memcpy(c + 16, &v, 2);
		} else if (bad[i].off == 20) {
			memset(c + 19, 'x', 5); /* the first record's whole name area */
		} else {
			c[bad[i].off] = (unsigned char)bad[i].value;
		}
		if (rt_dirent_check(c, clen) != -1) {
			fprintf(stderr, "accepted: %s\n", bad[i].what);
			test_failures++;
		}
	}
	/* every truncation of a good buffer is either the end or refused, never a read past it */
	for (size_t l = 0; l <= len; l++) {
		int r = rt_dirent_check(b, l);
		CHECK(r == 0 ? (l == 0 || l == 24 || l == len) : r == -1);
	}
	/* mutations of the kernel's records: a walk reads only inside the
	 * buffer (the sanitizers), every name it yields ends with its NUL
	 * inside the record, and check agrees with the walk */
	uint64_t rs = 3;
	int wellformed = 0;
	for (int round = 0; round < 40000; round++) {
		unsigned char m[4096 + 64];
		memcpy(m, kb, (size_t)n);
		size_t ml = test_mutate(m, (size_t)n, sizeof m, &rs);
		uint8_t *in = test_exact(m, ml);
		size_t p = 0;
		int r;
		while ((r = rt_dirent_next(in, ml, &p, &d)) > 0)
			CHECK_MSG(d.name >= (const char *)in && d.name + d.namelen < (const char *)in + ml &&
					  d.name[d.namelen] == 0 && d.namelen > 0,
				  "round %d: name outside the buffer", round);
		CHECK_MSG(p <= ml, "round %d: position %zu past %zu", round, p, ml);
		CHECK_MSG(rt_dirent_check(in, ml) == (r == 0 ? 0 : -1), "round %d: check and walk disagree", round);
		wellformed += r == 0;
		free(in);
	}
	printf("test_getdents: 40000 mutated buffers, %d well-formed\n", wellformed);
	return test_summary("test_getdents");
}
