/* The application's view of signals (signal.c): virtual dispositions, mask
 * and sigaltstack; delivery of host signals to the application's handlers
 * through a frame the runtime builds. */
#ifndef SCONE_RTSIGNAL_H
#define SCONE_RTSIGNAL_H
#include <stdint.h>
#include "ksig.h"
#include "thread.h"

int rt_signals_init(void);
long rt_sig_action(int sig, const struct ksigaction *act, struct ksigaction *oact, unsigned long size);
long rt_sig_procmask(struct rt_thread *t, struct kucontext *uc, int how, const uint64_t *set, uint64_t *oset,
		     unsigned long size);
long rt_sig_altstack(struct rt_thread *t, struct kucontext *uc, const struct kstack *ss, struct kstack *old);
/* Delivers the signals queued while a blocking host call ran (and restarts
 * the call when every queued signal's handler has SA_RESTART). */
void rt_signals_after_syscall(struct rt_thread *t, struct kucontext *uc, long nr);
/* Queues (interrupted inside the runtime) or delivers a signal to the
 * application; also used for a SIGSYS that did not come from SUD. */
void rt_signal_forward(struct rt_thread *t, struct kucontext *uc, int sig, const struct ksiginfo *si);
/* The application's rt_sigreturn (trapped; the handlers the runtime
 * delivers to return through the application's restorer): the state in the
 * frame at the application's stack pointer goes into uc, as the kernel's
 * rt_sigreturn would restore it. Returns the restored RAX. */
long rt_sig_return(struct rt_thread *t, struct kucontext *uc);
/* Whether a signal frame uc interrupted the application's own code (not
 * the runtime's text, not the fast path's gate). */
int rt_signal_interrupted_app(const struct kucontext *uc);
/* 1 when the call may block in the host (signals are unblocked around it). */
int rt_syscall_may_block(long nr);
/* execve: caught signals back to SIG_DFL, the virtual sigaltstack dropped. */
void rt_signals_exec_reset(struct rt_thread *t);
#endif
