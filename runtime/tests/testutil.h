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
#include <string.h>

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

/* Mutation campaigns over parsers of untrusted input (there is no libFuzzer
 * here: gcc): a seeded generator, so a failure reproduces, and mutations
 * of a valid input that keep to one buffer. Each mutated input is handed
 * to the parser in a heap block of exactly its length, so that the
 * sanitizers of the test build (address, undefined) catch a read past it. */
static inline uint64_t test_rand(uint64_t *s)
{
	/* xorshift64* */
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Mutates buf[0:len] in place (capacity cap) with one to four edits: a bit
 * flip, a byte set to 0, 0xff, 0x80, 0x7f or a random value, a run of
 * bytes overwritten, a cut at a random length, a slice duplicated or
 * removed. Returns the new length (<= cap). */
static inline size_t test_mutate(uint8_t *buf, size_t len, size_t cap, uint64_t *s)
{
	static const uint8_t special[] = {0, 0xff, 0x80, 0x7f, 0xc0, 0x3f, '\r', '\n', ':', ' '};
	for (int k = 1 + (int)(test_rand(s) % 4); k > 0; k--) {
		size_t at = len ? (size_t)(test_rand(s) % len) : 0;
		switch (test_rand(s) % 7) {
		case 0:
			if (len)
				buf[at] ^= (uint8_t)(1u << (test_rand(s) % 8));
			break;
		case 1:
			if (len)
				buf[at] = special[test_rand(s) % sizeof special];
			break;
		case 2:
			if (len)
				buf[at] = (uint8_t)test_rand(s);
			break;
		case 3: /* a run overwritten */
			for (size_t i = at, n = 1 + test_rand(s) % 8; i < len && n; i++, n--)
				buf[i] = (uint8_t)test_rand(s);
			break;
		case 4: /* cut */
			len = at;
			break;
		case 5: { /* a slice duplicated after itself */
			size_t n = 1 + (size_t)(test_rand(s) % 16);
			if (at + n > len)
				n = len - at;
			if (len + n <= cap) {
				memmove(buf + at + 2 * n, buf + at + n, len - at - n);
				memcpy(buf + at + n, buf + at, n);
				len += n;
			}
			break;
		}
		default: { /* a slice removed */
			size_t n = 1 + (size_t)(test_rand(s) % 16);
			if (at + n > len)
				n = len - at;
			memmove(buf + at, buf + at + n, len - at - n);
			len -= n;
		}
		}
	}
	return len;
}

/* A copy of buf[0:len] in a block of exactly len bytes (for the sanitizers;
 * at least 1 byte allocated). Free with free. */
static inline uint8_t *test_exact(const uint8_t *buf, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	if (p == NULL)
		abort();
	memcpy(p, buf, len);
	return p;
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
