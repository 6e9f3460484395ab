/* The runtime's address-space region.
 *
 * The runtime is linked at RT_REGION_BASE (runtime.mk/build.sh:
 * -Ttext-segment). At start-up it reserves [RT_HEAP_BASE, RT_REGION_END) with
 * PROT_NONE and takes all of its own memory from there (allocator arenas,
 * per-thread blocks, the mapped fs.img). So "the runtime's own mappings" is
 * one range, [RT_REGION_BASE, RT_REGION_END), which the memory checks refuse
 * to let the application map over, unmap or re-protect. */
#ifndef SCONE_REGION_H
#define SCONE_REGION_H
#include <stddef.h>
#include <stdint.h>

#define RT_REGION_BASE 0x7e0000000000UL
#define RT_HEAP_BASE 0x7e0100000000UL
#define RT_REGION_END 0x7e1000000000UL

/* hint = 0: let the kernel place the reservation (host unit tests). */
int rt_region_init(unsigned long base, size_t size);
/* Zeroed read-write pages, `align` a power of two >= 4096. NULL when full. */
void *rt_region_alloc(size_t len, size_t align);
/* Address space only (still PROT_NONE): the caller maps it with MAP_FIXED
 * (e.g. a MAP_SHARED arena). NULL when full. */
void *rt_region_reserve(size_t len, size_t align);
/* Maps `len` bytes of fd read-only inside the region, 2 MiB-aligned.
 * NULL on failure. */
void *rt_region_map_file(size_t len, int fd);
/* Whether [addr, addr+len) intersects the runtime's range. */
int rt_region_overlaps(unsigned long addr, unsigned long len);
#endif
