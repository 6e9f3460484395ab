/* Signal frames show rewritten code as the original (docs/rewrite.md,
 * "Signals in rewritten code").
 *
 * A rewritten site runs its displaced instructions and its system call in
 * a stub (pkg/rewrite). A signal handler that reads the interrupted program
 * counter expects the original address: musl's and glibc's (2.41+) thread
 * cancellation compare it with the labels around their cancellable system
 * call, and unwinders (pthread_cancel's forced unwind, backtrace() in a
 * handler, a debugger) look it up in the file's .eh_frame, which knows
 * nothing of stubs. The site table of a stub segment (format version 2)
 * maps each patched range to its stub: deliveries show the original
 * address, and the application's rt_sigreturn maps it back.
 *
 * The tables are copied into runtime memory when a stub segment is mapped
 * and forgotten when it is unmapped, mapped over, or replaced by an
 * execve. */
#ifndef SCONE_STUBMAP_H
#define SCONE_STUBMAP_H

/* A stub segment was mapped at seg, len bytes of it from its file: its
 * site table (version 2) is kept. Version 1 segments have none. */
void rt_stubmap_add(unsigned long seg, unsigned long len);
/* [lo, hi) was unmapped or mapped over: the tables of stub segments in it
 * are dropped. */
void rt_stubmap_forget(unsigned long lo, unsigned long hi);
/* execve: every table goes. */
void rt_stubmap_reset(void);
/* pc in a stub where the original code has an instruction boundary (a
 * displaced instruction, the start of the stub's way into the runtime and
 * its own syscall (both: the syscall not yet made), the instructions after
 * it, the jump back): that original address; any other pc unchanged. */
unsigned long rt_stubmap_to_site(unsigned long pc);
/* pc inside a patched range of the original code (not its middle of the
 * syscall): where the stub runs that instruction (the syscall itself: the
 * stub's fast entry); any other pc unchanged. */
unsigned long rt_stubmap_to_stub(unsigned long pc);
#endif
