/* Host test of runtime/lib/ivset.c against a bitmap model: random adds and
 * removes, and every overlap query, agree; intervals stay sorted, disjoint
 * and merged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ivset.h"
#include "testutil.h"

#define N 512

static unsigned char model[N];

static int model_overlaps(unsigned lo, unsigned hi)
{
	for (unsigned i = lo; i < hi; i++)
		if (model[i])
			return 1;
	return 0;
}

static void check_invariants(const struct rt_ivset *s)
{
	unsigned char seen[N];
	memset(seen, 0, sizeof seen);
	for (size_t i = 0; i < s->n; i++) {
		CHECK(s->v[i][0] < s->v[i][1]);
		if (i)
			CHECK(s->v[i - 1][1] < s->v[i][0]); /* disjoint and not touching: merged */
		for (uint64_t a = s->v[i][0]; a < s->v[i][1] && a < N; a++)
			seen[a] = 1;
	}
	CHECK(memcmp(seen, model, N) == 0);
}

int main(void)
{
	struct rt_ivset s = {0};
	srand(7);
	for (int step = 0; step < 20000; step++) {
		unsigned lo = (unsigned)rand() % N, hi = lo + (unsigned)rand() % 40;
		if (hi > N)
			hi = N;
		if (rand() % 3) {
			CHECK_EQ(rt_ivset_add(&s, lo, hi), 0);
			for (unsigned i = lo; i < hi; i++)
				model[i] = 1;
		} else {
			CHECK_EQ(rt_ivset_remove(&s, lo, hi), 0);
			for (unsigned i = lo; i < hi; i++)
				model[i] = 0;
		}
		if (step % 97 == 0)
			check_invariants(&s);
		unsigned qlo = (unsigned)rand() % N, qhi = qlo + (unsigned)rand() % 20;
		if (qhi > N)
			qhi = N;
		if (rt_ivset_overlaps(&s, qlo, qhi) != model_overlaps(qlo, qhi)) {
			fprintf(stderr, "overlaps(%u, %u) disagrees with the model\n", qlo, qhi);
			test_failures++;
			break;
		}
	}
	check_invariants(&s);
	/* the whole 64-bit range and empty ranges */
	rt_ivset_free(&s);
	CHECK_EQ(rt_ivset_add(&s, 0x7f0000000000ull, 0x800000000000ull), 0);
	CHECK(rt_ivset_overlaps(&s, 0x7fffffffe000ull, 0x7ffffffff000ull));
	CHECK(!rt_ivset_overlaps(&s, 0x1000, 0x2000));
	CHECK(!rt_ivset_overlaps(&s, 0x7f0000000000ull, 0x7f0000000000ull));
	CHECK_EQ(rt_ivset_remove(&s, 0x7f0000001000ull, 0x7f0000002000ull), 0);
	CHECK(s.n == 2 && !rt_ivset_overlaps(&s, 0x7f0000001000ull, 0x7f0000002000ull));
	rt_ivset_free(&s);
	return test_summary("test_ivset");
}
