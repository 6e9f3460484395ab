/* The syscall trap: SIGSYS handler (Syscall User Dispatch), dispatch to the
 * runtime's own emulation (threads, signals, memory, process), then the
 * shields, then the transport. Also the virtual signal layer (signal.c). */
#ifndef SCONE_TRAP_H
#define SCONE_TRAP_H
#include "ksig.h"
#include "thread.h"

/* The SUD exempt range: the runtime's whole text ([__executable_start, etext)). */
extern unsigned long rt_text_lo, rt_text_hi;
extern unsigned long rt_canary;

/* Path of the running application's program, answered for /proc/self/exe. */
extern const char *rt_app_exe;
/* SCONE_STATS=1: print the number of trapped system calls at exit_group. */
extern int rt_stats;

/* Installs the SIGSYS handler and records the initial signal dispositions.
 * Call once, before the first thread is armed. 0 or negative errno. */
int rt_trap_init(void);
long rt_dispatch(struct rt_thread *t, struct kucontext *uc, long nr, long *a);
void rt_thread_real_altstack(struct rt_thread *t, struct kstack *ss);

/* signal.c: the application's view of signals. */
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
int rt_syscall_may_block(long nr);
/* execve: caught signals back to SIG_DFL, the virtual sigaltstack dropped. */
void rt_signals_exec_reset(struct rt_thread *t);

/* exec.c: execve inside the process (see exec.c). */
long rt_do_execve(struct rt_thread *t, struct kucontext *uc, const char *path, char *const *argv, char *const *envp);
/* Closes close-on-exec descriptors through the shields. */
void rt_close_on_exec(void);
/* argv[0] as execvp finds it: itself when it contains '/', else the first
 * executable PATH entry (PATH from envp) through the shields; NULL if none. */
const char *rt_resolve_command(const char *argv0, char **envp);

/* ids.c: virtual user/group ids (sim mode). rt_ids_dispatch returns 1 when
 * it handled the call (result in *ret). */
void rt_ids_init(unsigned uid, unsigned gid);
int rt_ids_dispatch(long nr, const long *a, long *ret);


/* mem.c */
void rt_mem_set_brk(unsigned long start);
long rt_mem_brk(unsigned long req);
/* Refuses calls that would touch the runtime's mappings; 0 = allowed. */
long rt_mem_precheck(long nr, const long *a);
/* Iago check of a host result for mmap/mremap; fatal when it points into the runtime. */
void rt_mem_postcheck(long nr, const long *a, long ret);
#endif
