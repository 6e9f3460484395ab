/* The syscall trap (trap.c): the SIGSYS handler of Syscall User Dispatch and
 * the dispatch of a trapped call to the runtime's own emulation (threads,
 * signals, memory, processes, ids), then the shields (shield.h), then the
 * transport (transport.h). */
#ifndef SCONE_TRAP_H
#define SCONE_TRAP_H
#include "ksig.h"
#include "thread.h"

/* The SUD exempt range: the runtime's whole text ([__executable_start, etext)). */
extern unsigned long rt_text_lo, rt_text_hi;
/* SCONE_STATS=1: print the number of trapped system calls at exit_group. */
extern int rt_stats;

/* Installs the SIGSYS handler and records the initial signal dispositions.
 * Call once, before the first thread is armed. 0 or negative errno. */
int rt_trap_init(void);
/* uc: the SIGSYS frame, or 0 for a fast call (fast.h). */
long rt_dispatch(struct rt_thread *t, struct kucontext *uc, long nr, long *a);
struct rt_fast_frame;
/* The fast path's dispatch (fast.h): 0 served, 1 to the trap. */
int rt_fast_syscall(struct rt_fast_frame *f, struct rt_thread *t);
#endif
