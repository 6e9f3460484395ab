/* The application's memory calls (mem.c): brk emulated in the runtime's
 * range, and the checks that keep mmap/munmap/mprotect/mremap/madvise off the
 * runtime's own mappings. */
#ifndef SCONE_MEM_H
#define SCONE_MEM_H

void rt_mem_set_brk(unsigned long start);
long rt_mem_brk(unsigned long req);
/* Refuses calls that would touch the runtime's mappings; 0 = allowed. */
long rt_mem_precheck(long nr, const long *a);
/* Iago check of a host result for mmap/mremap; fatal when it points into the runtime. */
void rt_mem_postcheck(long nr, const long *a, long ret);
#endif
