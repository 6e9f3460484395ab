/* Address range sets (ivset.h). */
#include <string.h>
#include <linux/errno.h>

#include "ivset.h"
#include "rt_alloc.h"

/* Index of the first interval whose end is >= lo (the first that can touch
 * or follow [lo, ...)). */
static size_t first_end_ge(const struct rt_ivset *s, uint64_t lo)
{
	size_t a = 0, b = s->n;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (s->v[m][1] < lo)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

static int reserve(struct rt_ivset *s, size_t need)
{
	if (need <= s->cap)
		return 0;
	size_t cap = s->cap ? s->cap * 2 : 64;
	while (cap < need)
		cap *= 2;
	uint64_t(*v)[2] = rt_malloc(cap * sizeof *v);
	if (!v)
		return -ENOMEM;
	if (s->n)
		memcpy(v, s->v, s->n * sizeof *v);
	rt_free(s->v);
	s->v = v;
	s->cap = cap;
	return 0;
}

int rt_ivset_add(struct rt_ivset *s, uint64_t lo, uint64_t hi)
{
	if (lo >= hi)
		return 0;
	size_t i = first_end_ge(s, lo); /* intervals [i, j) touch or overlap [lo, hi] */
	size_t j = i;
	while (j < s->n && s->v[j][0] <= hi)
		j++;
	if (i == j) { /* insert */
		if (reserve(s, s->n + 1))
			return -ENOMEM;
		memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof *s->v);
		s->v[i][0] = lo;
		s->v[i][1] = hi;
		s->n++;
		return 0;
	}
	uint64_t nlo = s->v[i][0] < lo ? s->v[i][0] : lo;
	uint64_t nhi = s->v[j - 1][1] > hi ? s->v[j - 1][1] : hi;
	s->v[i][0] = nlo;
	s->v[i][1] = nhi;
	memmove(s->v + i + 1, s->v + j, (s->n - j) * sizeof *s->v);
	s->n -= j - i - 1;
	return 0;
}

int rt_ivset_remove(struct rt_ivset *s, uint64_t lo, uint64_t hi)
{
	if (lo >= hi)
		return 0;
	size_t i = first_end_ge(s, lo);
	if (i < s->n && s->v[i][1] == lo)
		i++; /* ends exactly at lo: untouched */
	if (i == s->n || s->v[i][0] >= hi)
		return 0;
	if (s->v[i][0] < lo && s->v[i][1] > hi) { /* a hole in one interval: split */
		if (reserve(s, s->n + 1))
			return -ENOMEM;
		memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof *s->v);
		s->n++;
		s->v[i][1] = lo;
		s->v[i + 1][0] = hi;
		return 0;
	}
	if (s->v[i][0] < lo) { /* keep the head of the first */
		s->v[i][1] = lo;
		i++;
	}
	size_t j = i;
	while (j < s->n && s->v[j][1] <= hi)
		j++; /* wholly removed */
	if (j < s->n && s->v[j][0] < hi)
		s->v[j][0] = hi; /* keep the tail of the last */
	memmove(s->v + i, s->v + j, (s->n - j) * sizeof *s->v);
	s->n -= j - i;
	return 0;
}

int rt_ivset_overlaps(const struct rt_ivset *s, uint64_t lo, uint64_t hi)
{
	if (lo >= hi)
		return 0;
	size_t i = first_end_ge(s, lo + 1); /* first interval ending after lo */
	return i < s->n && s->v[i][0] < hi;
}

void rt_ivset_free(struct rt_ivset *s)
{
	rt_free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
