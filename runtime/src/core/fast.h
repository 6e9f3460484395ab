/* The fast path of rewritten system call sites (docs/rewrite.md; the
 * rewrite itself: pkg/rewrite).
 *
 * scone-build rewrites the `syscall` instructions it can prove into jumps to
 * per-site stubs in a segment of the program's file; a stub calls the
 * address in the segment's slot, which the loader fills with rt_fast_entry
 * (asm.S). The entry finds the thread's runtime block through GS (set by
 * rt_thread_arm), switches to the block's stack and FS and runs
 * rt_fast_syscall (trap.c): the trap's dispatch without a
 * signal. Calls that need the trap's signal frame (clone, fork, vfork,
 * execve, rt_sigreturn, the signal mask, sigaltstack, exit) go back to the
 * stub, whose own `syscall` traps. Signals arriving meanwhile are queued or
 * delivered by where they land (rt_signal_forward, signal.c); queued ones
 * are delivered by a trap at the gate (rt_sigsys, trap.c). */
#ifndef SCONE_FAST_H
#define SCONE_FAST_H
#include "ksig.h"
#include "thread.h"

struct rt_fast_frame;
/* What rt_fast_syscall returns to rt_fast_entry. */
#define RT_FAST_SERVED 0 /* the result is in the frame */
#define RT_FAST_TRAP 1	 /* not served: the stub's syscall traps */
#define RT_FAST_GATE 2	 /* served, the trap at the gate finishes (as for queued signals) */

/* Filled once by rt_fast_init; read by rt_fast_entry (asm.S owns it). */
struct rt_fast_conf {
	int (*fn)(struct rt_fast_frame *f, struct rt_thread *t); /* rt_fast_syscall (trap.c) */
	unsigned long gate;					 /* a `syscall; ud2` page outside the exempt text */
	unsigned long xmask;					 /* XSAVEC components */
};
extern struct rt_fast_conf rt_fast_conf;

/* The frame rt_fast_entry builds on the block's stack. */
struct rt_fast_frame {
	long rax, rdi, rsi, rdx, r10, r8, r9;
	unsigned long app_rsp;
};

/* Turns the fast path on unless SCONE_FASTPATH=0 or the CPU lacks XSAVEC or
 * FSGSBASE: maps the gate and tells the loader to fill stub slots. Before
 * any program is loaded. */
void rt_fast_init(void);

/* asm.S (hidden: RIP-relative addresses) */
RT_ASM_FN void rt_fast_entry(void);
RT_ASM_FN void rt_fast_head_end(void);
RT_ASM_FN void rt_fast_tail(void);
RT_ASM_FN void rt_fast_ret(void);
RT_ASM_FN void rt_fast_vsave(struct rt_thread *t);
RT_ASM_FN void rt_fast_vrestore(struct rt_thread *t);
#endif
