/* Declarations of the runtime's libc-free string functions. */
#ifndef SCONE_RTSTRING_H
#define SCONE_RTSTRING_H
#include <stddef.h>
void *memcpy(void *restrict d, const void *restrict s, size_t n);
void *memset(void *d, int c, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int rt_strcmp(const char *a, const char *b);
int rt_strncmp(const char *a, const char *b, size_t n);
/* memset(p, 0, n) that the compiler cannot drop (for secrets). */
static inline void rt_memzero(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
}
#endif
