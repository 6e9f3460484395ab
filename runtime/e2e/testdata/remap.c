/* Remapping a file over a mapping of the same file (what dynamic loaders
 * do with each segment over their whole-file mapping), and the calls that
 * must make a remapping read the file again: a mapping at the same offset
 * sees the file's bytes, never what was written into an earlier mapping
 * (after mprotect to writable, through a writable MAP_FIXED mapping, after
 * madvise(MADV_DONTNEED)), nor another offset's. argv[1]: the file, at
 * least 4 pages (the program itself). Prints one line per case. */
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

static int fd;
static long pg;
static unsigned char want[4][65536];

/* Whether the page at p holds the file's page n. */
static const char *same(const unsigned char *p, int n) { return memcmp(p, want[n], (size_t)pg) ? "DIFFERS" : "file"; }

static unsigned char *fixed(unsigned char *at, int prot, int n)
{
	void *r = mmap(at, (size_t)pg, prot, MAP_PRIVATE | MAP_FIXED, fd, n * pg);
	return r == MAP_FAILED ? NULL : r;
}

int main(int argc, char **argv)
{
	pg = sysconf(_SC_PAGESIZE);
	if (argc < 2 || pg > 65536 || (fd = open(argv[1], O_RDONLY)) < 0)
		return 2;
	for (int n = 0; n < 4; n++)
		if (pread(fd, want[n], (size_t)pg, n * pg) != pg)
			return 2;
	unsigned char *m = mmap(NULL, 4 * (size_t)pg, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return 2;
	printf("whole mapping: %s %s %s %s\n", same(m, 0), same(m + pg, 1), same(m + 2 * pg, 2), same(m + 3 * pg, 3));
	/* a segment over the whole mapping at its offset, executable */
	if (!fixed(m + pg, PROT_READ | PROT_EXEC, 1))
		return 3;
	printf("segment at its offset: %s\n", same(m + pg, 1));
	/* made writable, written, read-only again: the remapping reads the file */
	if (mprotect(m + pg, (size_t)pg, PROT_READ | PROT_WRITE))
		return 3;
	memset(m + pg, 'X', 16);
	mprotect(m + pg, (size_t)pg, PROT_READ);
	if (!fixed(m + pg, PROT_READ, 1))
		return 3;
	printf("after a write through mprotect: %s\n", same(m + pg, 1));
	/* another offset over it */
	if (!fixed(m + 2 * pg, PROT_READ, 3))
		return 3;
	printf("another offset: page 3 %s\n", same(m + 2 * pg, 3));
	/* a writable mapping over it, written, then read-only at its offset */
	unsigned char *w = fixed(m + 3 * pg, PROT_READ | PROT_WRITE, 3);
	if (!w)
		return 3;
	printf("writable over it: %s\n", same(w, 3));
	memset(w, 'Y', 16);
	if (!fixed(m + 3 * pg, PROT_READ, 3))
		return 3;
	printf("after a write through a writable mapping: %s\n", same(m + 3 * pg, 3));
	/* advised away (private: the pages become zeros, natively the file's) */
	madvise(m, (size_t)pg, MADV_DONTNEED);
	if (!fixed(m, PROT_READ, 0))
		return 3;
	printf("after madvise: %s\n", same(m, 0));
	/* unmapped, mapped again elsewhere, then over at its offset */
	munmap(m, 4 * (size_t)pg);
	m = mmap(NULL, 2 * (size_t)pg, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED || !fixed(m + pg, PROT_READ, 1))
		return 3;
	printf("mapped again: %s %s\n", same(m, 0), same(m + pg, 1));
	return 0;
}
