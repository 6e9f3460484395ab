/* The machine's load as the async transport sees it (spare.h). */
#include "spare.h"

int spare_running(const char *b, long n)
{
	long i = 0;
	for (int f = 0; f < 3; f++) { /* three load averages, each followed by one space */
		while (i < n && b[i] != ' ')
			i++;
		if (i >= n)
			return -1;
		i++;
	}
	int r = 0, digits = 0;
	for (; i < n && b[i] >= '0' && b[i] <= '9'; i++, digits++)
		if ((r = r * 10 + (b[i] - '0')) > 1000000) /* not a thread count */
			return -1;
	if (!digits || i >= n || b[i] != '/')
		return -1;
	return r;
}

uint64_t spare_sample(struct spare_load *l, int others, int ncpus, int fresh, uint64_t hold_min, uint64_t hold_max)
{
	if (others < 0)
		others = 0;
	if (others > 1 << 20)
		others = 1 << 20;
	if (ncpus < 1)
		ncpus = 1;
	l->avg16 = fresh ? 16 * others : (3 * l->avg16 + 16 * others) / 4;
	if (l->avg16 < 16 * ncpus) {
		l->hold /= 2;
		return 0;
	}
	uint64_t h = l->hold;
	h = h < hold_min ? hold_min : h >= hold_max / 2 ? hold_max : 2 * h;
	l->hold = h;
	return h;
}
