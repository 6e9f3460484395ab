/* A set of address ranges: sorted, disjoint, merged half-open intervals
 * [lo, hi). The runtime keeps the application's live mappings in one
 * (mem.c) so that a host that answers mmap with memory already in use
 * (an Iago attack: a "fresh" buffer aliasing the application's data) is
 * caught. Allocates with rt_malloc/rt_free; no global state; the caller
 * serializes access. */
#ifndef SCONE_IVSET_H
#define SCONE_IVSET_H
#include <stddef.h>
#include <stdint.h>

struct rt_ivset {
	uint64_t (*v)[2];
	size_t n, cap;
};

/* Union with [lo, hi); 0 or -ENOMEM. An empty range changes nothing. */
int rt_ivset_add(struct rt_ivset *s, uint64_t lo, uint64_t hi);
/* Difference with [lo, hi) (may split an interval); 0 or -ENOMEM. */
int rt_ivset_remove(struct rt_ivset *s, uint64_t lo, uint64_t hi);
/* Whether [lo, hi) intersects the set. */
int rt_ivset_overlaps(const struct rt_ivset *s, uint64_t lo, uint64_t hi);
void rt_ivset_free(struct rt_ivset *s);
#endif
