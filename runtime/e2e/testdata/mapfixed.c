/* Tries to map over, unmap and re-protect the runtime's address range
 * (0x7e0000000000...): under scone-run each must fail with EINVAL. */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>

int main(void)
{
	void *rt = (void *)0x7e0000000000UL;
	void *p = mmap(rt, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("mmap MAP_FIXED: %s\n", p == MAP_FAILED && errno == EINVAL ? "EINVAL" : "mapped");
	int r = munmap((char *)rt + 0x100000000UL, 4096);
	printf("munmap: %s\n", r && errno == EINVAL ? "EINVAL" : "done");
	r = mprotect(rt, 4096, PROT_READ | PROT_WRITE);
	printf("mprotect: %s\n", r && errno == EINVAL ? "EINVAL" : "done");
	p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("ordinary mmap: %s\n", p != MAP_FAILED ? "ok" : "failed");
	return 0;
}
