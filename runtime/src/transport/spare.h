/* Whether the machine has a core to spare for the async transport's
 * spinning worker (async.c).
 *
 * A worker that spins while the enclave's other threads and the rest of the
 * machine keep every core busy takes the CPU from them: it answers late,
 * the enclave threads wait for it (and sleep: two exits per call instead
 * of one), and the application runs slower than with the sync transport.
 * The workers therefore sample the number of running threads (the fourth
 * field of /proc/loadavg, machine-wide) every half millisecond while they
 * serve, leave out themselves and the enclave threads that spin for a
 * posted call (they wait for the worker and give way once it answers),
 * and average the rest. When it covers every core the process may run on,
 * the calls go sync for a hold time (~2 ms, doubling up to ~64 ms while
 * the machine stays busy) and the workers sleep. Pure functions: the
 * sampling and the clock are the caller's. */
#ifndef SCONE_SPARE_H
#define SCONE_SPARE_H
#include <stdint.h>

struct spare_load {
	int avg16;     /* threads running besides ours, averaged, x16 */
	uint64_t hold; /* the last hold (TSC ticks); 0 while not busy */
};

/* The running threads in /proc/loadavg's text b[0:n] ("0.52 0.58 0.59
 * 3/150 1234": 3), or -1 when b does not read so. */
int spare_running(const char *b, long n);

/* Folds one sample into l: others threads ran besides the sampler and the
 * enclave threads waiting for it; fresh when the last sample is old (the
 * average starts over, else a new sample weighs 1/4). Returns the hold in
 * TSC ticks (hold_min, doubling while samples keep finding the machine
 * busy, at most hold_max) when the others cover all ncpus cores, else 0
 * (and the next hold starts from half the last). */
uint64_t spare_sample(struct spare_load *l, int others, int ncpus, int fresh, uint64_t hold_min, uint64_t hold_max);
#endif
