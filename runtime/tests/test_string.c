/* Unit test of the runtime's libc-free string functions (runtime/src/core/string.c)
 * against libc, renamed so both can coexist. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "testutil.h"

/* runtime/src/core/string.c, compiled with these names (runtime.mk). */
void *r_memcpy(void *restrict d, const void *restrict s, size_t n);
void *r_memset(void *d, int c, size_t n);
void *r_memmove(void *d, const void *s, size_t n);
int r_memcmp(const void *a, const void *b, size_t n);
size_t r_strlen(const char *s);
int rt_strcmp(const char *a, const char *b);
int rt_strncmp(const char *a, const char *b, size_t n);

static int sign(int x) { return (x > 0) - (x < 0); }

int main(void)
{
	unsigned char a[300], b[300], x[300], y[300];
	srand(7);
	for (int round = 0; round < 2000; round++) {
		for (int i = 0; i < 300; i++)
			a[i] = (unsigned char)rand();
		size_t off1 = (size_t)rand() % 100, off2 = (size_t)rand() % 100, n = (size_t)rand() % 190;
		/* memcpy */
		memcpy(x, a, 300);
		memcpy(y, a, 300);
		memcpy(x + off1, a + off2, n);
		r_memcpy(y + off1, a + off2, n);
		CHECK(!memcmp(x, y, 300));
		/* memmove, both overlap directions */
		memcpy(x, a, 300);
		memcpy(y, a, 300);
		memmove(x + off1, x + off2, n);
		CHECK(r_memmove(y + off1, y + off2, n) == y + off1);
		CHECK(!memcmp(x, y, 300));
		/* memset */
		memset(x + off1, (int)n, n);
		r_memset(y + off1, (int)n, n);
		CHECK(!memcmp(x, y, 300));
		/* memcmp */
		memcpy(b, a, 300);
		if (n)
			b[off1 + n / 2] ^= (unsigned char)(1 + rand() % 255);
		CHECK(sign(r_memcmp(a, b, off1 + n)) == sign(memcmp(a, b, off1 + n)));
		CHECK(r_memcmp(a, a, 300) == 0);
	}
	CHECK(r_strlen("") == 0);
	CHECK(r_strlen("hello") == 5);
	CHECK(rt_strcmp("abc", "abd") < 0 && rt_strcmp("abd", "abc") > 0 && rt_strcmp("x", "x") == 0);
	CHECK(rt_strncmp("SCONE_X", "SCONE_", 6) == 0 && rt_strncmp("SCONX", "SCONE_", 6) != 0);
	CHECK(rt_strcmp("\xff", "a") > 0);
	return test_summary("test_string");
}
