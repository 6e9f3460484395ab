/* Host-side implementation of the runtime allocation interface for unit tests. */
#include <stdlib.h>
#include "rt_alloc.h"

void *rt_malloc(size_t n) { return malloc(n); }
void *rt_calloc(size_t n, size_t size) { return calloc(n, size); }
void rt_free(void *p) { free(p); }
