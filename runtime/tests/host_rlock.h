/* rlock ops for host unit tests (libc: gettid, kill, /proc, sched_yield). */
#ifndef SCONE_HOST_RLOCK_H
#define SCONE_HOST_RLOCK_H
#include "rlock.h"
extern const struct rlock_ops host_rlock_ops;
/* Takeovers host_rlock_ops reported (recovered). */
extern volatile int host_rlock_recoveries;
#endif
