/* Unit test of the async transport's view of the machine's load
 * (runtime/src/transport/spare.c): reading /proc/loadavg's running count,
 * and when the samples say there is no core to spare, for how long. */
#include <string.h>
#include "spare.h"
#include "testutil.h"

static void test_running(void)
{
	static const struct {
		const char *in;
		int want;
	} cases[] = {
		{"0.52 0.58 0.59 3/150 1234\n", 3},
		{"12.00 8.10 4.33 17/1021 99999\n", 17},
		{"0.00 0.00 0.00 0/1 1", 0},
		{"0.00 0.00 0.00 1234567/2000000 1", -1}, /* absurd: not a count */
		{"0.52 0.58 0.59 3", -1},		  /* cut before the slash */
		{"0.52 0.58 0.59 /150 1234", -1},	  /* no digits */
		{"0.52 0.58 0.59 x3/150", -1},
		{"0.52 0.58", -1},
		{"", -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int got = spare_running(cases[i].in, (long)strlen(cases[i].in));
		CHECK_MSG(got == cases[i].want, "%s: got %d, want %d", cases[i].in, got, cases[i].want);
	}
	/* the length bounds the read: the same text cut short */
	const char *t = "0.52 0.58 0.59 3/150 1234";
	CHECK_EQ(spare_running(t, 16), -1);
	CHECK_EQ(spare_running(t, 17), 3);
}

enum { MIN = 100, MAX = 1600 };

static void test_sample(void)
{
	struct spare_load l;
	memset(&l, 0, sizeof l);
	/* two cores, one other thread running: a core to spare */
	CHECK_EQ(spare_sample(&l, 1, 2, 1, MIN, MAX), 0);
	CHECK_EQ(l.avg16, 16);
	/* the others cover both cores: busy, the hold doubles while it lasts */
	CHECK_EQ(spare_sample(&l, 2, 2, 1, MIN, MAX), MIN);
	CHECK_EQ(spare_sample(&l, 3, 2, 0, MIN, MAX), 2 * MIN);
	CHECK_EQ(spare_sample(&l, 3, 2, 0, MIN, MAX), 4 * MIN);
	CHECK_EQ(spare_sample(&l, 3, 2, 0, MIN, MAX), 8 * MIN);
	CHECK_EQ(spare_sample(&l, 3, 2, 0, MIN, MAX), MAX);
	CHECK_EQ(spare_sample(&l, 3, 2, 0, MIN, MAX), MAX);
	/* one idle sample after a gap (fresh): spare, the next hold is shorter */
	CHECK_EQ(spare_sample(&l, 0, 2, 1, MIN, MAX), 0);
	CHECK_EQ(l.hold, MAX / 2);
	CHECK_EQ(spare_sample(&l, 4, 2, 1, MIN, MAX), MAX);
	/* the average: samples weigh 1/4, one idle sample does not undo a busy
	 * machine (threads blocked on I/O show as not running between requests) */
	memset(&l, 0, sizeof l);
	CHECK(spare_sample(&l, 6, 2, 1, MIN, MAX) != 0);
	CHECK(spare_sample(&l, 0, 2, 0, MIN, MAX) != 0);  /* avg 4.5 */
	CHECK(spare_sample(&l, 0, 2, 0, MIN, MAX) != 0);  /* avg ~3.4 */
	CHECK(spare_sample(&l, 0, 2, 0, MIN, MAX) != 0);  /* avg ~2.5 */
	CHECK_EQ(spare_sample(&l, 0, 2, 0, MIN, MAX), 0); /* avg ~1.9: spare */
	/* a busy average rises over samples: from idle, 3 others on 2 cores */
	memset(&l, 0, sizeof l);
	CHECK_EQ(spare_sample(&l, 0, 2, 1, MIN, MAX), 0);
	CHECK_EQ(spare_sample(&l, 3, 2, 0, MIN, MAX), 0);   /* 0.75 */
	CHECK_EQ(spare_sample(&l, 3, 2, 0, MIN, MAX), 0);   /* 1.31 */
	CHECK_EQ(spare_sample(&l, 3, 2, 0, MIN, MAX), 0);   /* 1.73 */
	CHECK_EQ(spare_sample(&l, 3, 2, 0, MIN, MAX), MIN); /* 2.0 */
	/* negative counts (the waiting threads outnumber a stale running
	 * count) and zero CPUs are clamped */
	memset(&l, 0, sizeof l);
	CHECK_EQ(spare_sample(&l, -5, 0, 1, MIN, MAX), 0);
	CHECK_EQ(l.avg16, 0);
	CHECK_EQ(spare_sample(&l, 1, 0, 1, MIN, MAX), MIN);
}

int main(void)
{
	test_running();
	test_sample();
	return test_summary("test_spare");
}
