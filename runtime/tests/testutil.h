/* Shared scaffolding of the host unit tests (runtime/tests/test_*.c): a
 * failure counter, CHECK/CHECK_EQ, read_file and the summary line.
 *
 * Each test is its own program, so the counter is per test. Tests that
 * #include runtime/src files (renaming symbols around them) include this
 * header after those files and their #undefs. */
#ifndef SCONE_TESTUTIL_H
#define SCONE_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Number of failed checks so far. */
static int test_failures;

/* Counts and reports a failed check, going on with the test. */
#define CHECK(c)                                                                              \
	do {                                                                                  \
		if (!(c)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
			test_failures++;                                                      \
		}                                                                             \
	} while (0)

/* CHECK with a printf-style message naming the case. */
#define CHECK_MSG(c, ...)                                                                     \
	do {                                                                                  \
		if (!(c)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #c); \
			fprintf(stderr, __VA_ARGS__);                                         \
			fputc('\n', stderr);                                                  \
			test_failures++;                                                      \
		}                                                                             \
	} while (0)

/* CHECK(a == b) for integers, printing both values when they differ. */
#define CHECK_EQ(a, b)                                                                                   \
	do {                                                                                             \
		long _a = (long)(a), _b = (long)(b);                                                     \
		if (_a != _b) {                                                                          \
			fprintf(stderr, "%s:%d: %s == %ld, want %ld\n", __FILE__, __LINE__, #a, _a, _b); \
			test_failures++;                                                                 \
		}                                                                                        \
	} while (0)

/* The whole file at path (malloc'd, *len bytes), or NULL when it cannot be
 * opened. Paths are relative to the repository root, where the tests run. */
static inline uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			buf = realloc(buf, cap);
			if (buf == NULL)
				abort();
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		if (r == 0)
			break;
		n += r;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* Prints the test's final line, "NAME: ok" (stdout) or "NAME: N failures"
 * (stderr), and returns the exit status for main. */
static inline int test_summary(const char *name)
{
	if (test_failures) {
		fprintf(stderr, "%s: %d failures\n", name, test_failures);
		return 1;
	}
	printf("%s: ok\n", name);
	return 0;
}

#endif
