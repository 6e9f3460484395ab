/* brk/sbrk: grow by 64 MiB, touch it, shrink by 32 MiB (brk emulation). */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <unistd.h>
#include <string.h>
int main(void)
{
	char *a = sbrk(0);
	char *b = sbrk(64 << 20);
	char *c = sbrk(0);
	if (b != (void *)-1)
		memset(b, 1, 64 << 20);
	sbrk(-(32 << 20));
	char *d = sbrk(0);
	printf("grow ok=%d moved=%ld shrink=%ld\n", b != (void *)-1, (long)(c - a), (long)(c - d));
	return 0;
}
