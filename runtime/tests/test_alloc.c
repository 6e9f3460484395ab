/* Unit test of the runtime allocator (runtime/src/core/alloc.c + region.c),
 * built under ASan/UBSan with its symbols renamed (t_malloc, ...:
 * runtime.mk) so it does not clash with host_shim.c's rt_malloc. Covers
 * size classes, reuse, alignment, calloc overflow, large blocks and
 * concurrent use from several threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "region.h"
#include "testutil.h"

void *t_malloc(size_t n);
void *t_calloc(size_t n, size_t size);
void t_free(void *p);

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(unsigned long)arg;
	void *held[64] = {0};
	size_t sizes[64] = {0};
	for (int i = 0; i < 20000; i++) {
		int k = rand_r(&seed) % 64;
		if (held[k]) {
			unsigned char *p = held[k];
			for (size_t j = 0; j < sizes[k]; j++)
				if (p[j] != (unsigned char)k) {
					test_failures++;
					break;
				}
			t_free(held[k]);
			held[k] = 0;
		} else {
			size_t n = (size_t)(rand_r(&seed) % 3 == 0 ? rand_r(&seed) % 20000 : rand_r(&seed) % 300);
			held[k] = t_malloc(n);
			if (!held[k]) {
				test_failures++;
				continue;
			}
			memset(held[k], k, n);
			sizes[k] = n;
		}
	}
	for (int k = 0; k < 64; k++)
		t_free(held[k]);
	return 0;
}

int main(void)
{
	CHECK(rt_region_init(0, 1UL << 32) == 0);

	/* every size returns 16-byte aligned, distinct, usable memory */
	void *ps[300];
	for (int i = 0; i < 300; i++) {
		size_t n = (size_t)i * 29;
		ps[i] = t_malloc(n);
		CHECK(ps[i] != NULL);
		CHECK(((unsigned long)ps[i] & 15) == 0);
		CHECK(rt_region_overlaps((unsigned long)ps[i], n ? n : 1));
		memset(ps[i], i & 0xff, n);
	}
	for (int i = 0; i < 300; i++) {
		unsigned char *p = ps[i];
		for (size_t j = 0; j < (size_t)i * 29; j++)
			if (p[j] != (unsigned char)(i & 0xff)) {
				CHECK(!"overlapping blocks");
				break;
			}
	}
	for (int i = 0; i < 300; i++)
		t_free(ps[i]);

	/* freed small blocks are reused */
	void *a = t_malloc(40);
	t_free(a);
	void *b = t_malloc(33);
	CHECK(a == b);
	t_free(b);

	/* large blocks: reused after free, memory returned zeroed by calloc */
	char *l = t_malloc(1 << 20);
	memset(l, 0xab, 1 << 20);
	t_free(l);
	char *c = t_calloc(1, 1 << 20);
	CHECK(c != NULL);
	int zero = 1;
	for (int i = 0; i < (1 << 20); i++)
		zero &= c[i] == 0;
	CHECK(zero);
	t_free(c);

	/* Past 4 MiB of free large runs (kept with their pages: the first
	 * three here), freed runs return their pages; both kinds are reused,
	 * with their contents (a kept run's old bytes, a returned one's zeros)
	 * never handed out by calloc. */
	enum { NBIG = 8, BIG = 1 << 20 };
	char *big[NBIG], *again[NBIG];
	for (int i = 0; i < NBIG; i++) {
		big[i] = t_malloc(BIG);
		CHECK(big[i] != NULL);
		memset(big[i], 0x5a, BIG);
	}
	for (int i = 0; i < NBIG; i++)
		t_free(big[i]);
	int reused = 0, zeroed = 1;
	for (int i = 0; i < NBIG; i++) {
		again[i] = t_calloc(1, BIG);
		CHECK(again[i] != NULL);
		for (int k = 0; k < NBIG; k++)
			reused += again[i] == big[k];
		for (int j = 0; j < BIG; j += 511)
			zeroed &= again[i][j] == 0;
	}
	CHECK(reused == NBIG);
	CHECK(zeroed);
	for (int i = 0; i < NBIG; i++)
		t_free(again[i]);
	/* rt_malloc's large runs are zero too, kept ones included */
	zeroed = 1;
	for (int i = 0; i < NBIG; i++) {
		again[i] = t_malloc(BIG);
		CHECK(again[i] != NULL);
		for (int j = 0; j < BIG; j += 509)
			zeroed &= again[i][j] == 0;
		memset(again[i], 0x77, BIG);
	}
	for (int i = 0; i < NBIG; i++)
		t_free(again[i]);
	char *z = t_malloc(BIG);
	CHECK(z != NULL);
	for (int j = 0; j < BIG; j += 509)
		zeroed &= z[j] == 0;
	CHECK(zeroed);
	t_free(z);

	/* calloc overflow and free(NULL) */
	CHECK(t_calloc((size_t)1 << 62, 16) == NULL);
	t_free(NULL);

	/* concurrent use */
	pthread_t th[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], 0, worker, (void *)(i + 1));
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], 0);
	CHECK(test_failures == 0);

	return test_summary("test_alloc");
}
