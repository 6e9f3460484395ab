/* Allocation interface used by the portable modules in runtime/lib.
 * In the runtime it is the runtime's own mmap-backed allocator (never libc's
 * malloc, never brk); in host unit tests runtime/tests/host_shim.c maps it to
 * malloc/free. */
#ifndef SCONE_RT_ALLOC_H
#define SCONE_RT_ALLOC_H
#include <stddef.h>

void *rt_malloc(size_t n);
void *rt_calloc(size_t n, size_t size);
void rt_free(void *p);

#endif
