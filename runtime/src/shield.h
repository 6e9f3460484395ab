/* Interface between the syscall trap (dispatch) and the shields.
 *
 * The trap decodes a trapped system call into a struct sys_call and offers it
 * to the shields in order (file system, console, network). A shield either
 * handles the call completely (SHIELD_DONE, result in *ret, a negative errno on
 * failure) or passes it on (SHIELD_PASS). Calls no shield handles go to the
 * host through the syscall transport (transport.h: host_syscall).
 *
 * The loader and the runtime itself open and map the application's files
 * through shield_call(), the same path a trapped call takes, so the loader
 * never needs to know where a file lives.
 *
 * Calling context (trap.c): a shield runs on the calling thread's runtime
 * signal stack (256 KiB, thread.h), with FS pointing at the runtime's
 * per-thread block (stack-protector canary and errno for BearSSL), all
 * signals blocked except around calls that may block (rt_syscall_may_block),
 * and possibly on many threads at once. Calls the runtime core emulates
 * itself never reach the shields: rt_sigaction, rt_sigprocmask, sigaltstack,
 * clone/clone3/fork/vfork/execve/exit, arch_prctl(ARCH_SET_FS/GET_FS),
 * brk, readlink(at) of /proc/self/exe. mmap/munmap/mprotect/mremap/madvise
 * reach the shields after the runtime checked they do not touch its memory.
 * To allocate address space inside the runtime's protected range, use
 * rt_region_alloc / rt_region_map_file (region.h). */
#ifndef SCONE_SHIELD_H
#define SCONE_SHIELD_H

#include <stdint.h>

struct sys_call {
	long nr;
	long a[6];
};

enum { SHIELD_PASS = 0, SHIELD_DONE = 1 };

struct fsp;
struct econfig;

/* File-system shield (fs_*.c). */
int fs_shield(const struct sys_call *c, long *ret);
/* Called once in sim mode before the application is loaded, with the opened,
 * authenticated protected FS image (NULL in dev mode) and the verified
 * config. Returns 0 or a negative errno (start-up then fails). */
int fs_shield_init(const struct fsp *img, const struct econfig *cfg);

/* Console shield (console_shield.c). */
int console_shield(const struct sys_call *c, long *ret);
/* Called once in sim mode with the 32-byte FS key (sub-keys are derived from
 * it, contracts.md) and the verified config. 0 or a negative errno. */
int console_shield_init(const uint8_t fs_key[32], const struct econfig *cfg);

/* A program starts (launch or execve): its path inside the image and where
 * its argument and environment strings are, as the kernel records them for
 * /proc/self/cmdline and /proc/self/environ. */
struct rt_program {
	const char *exe;
	const char *arg_start, *arg_end, *env_start, *env_end;
};
/* Tells the core and the shields (trap.c). */
void rt_program_started(const struct rt_program *p);
/* The FS shield's part: /proc/self/exe, environ and cmdline answer for p. */
void fs_program_started(const struct rt_program *p);

/* Whether a shield holds state for descriptor fd (a virtual file, a
 * shielded console). */
int rt_shields_own_fd(int fd);
/* Whether code may be loaded, executed or mapped executable from fd: a
 * file of the protected image or of the in-enclave file system, never a
 * host file (a volume, /dev/shm, a memfd). Always in dev mode. */
int rt_code_fd_ok(int fd);

/* Runs a call through the shields and then the transport; returns the result
 * (negative errno on failure). Implemented by the trap/dispatch code. */
long shield_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5);

/* Set when the linked shields are the weak no-shield fallbacks
 * (shield_fallback.c); 0 once a real shield's init ran. */
extern int rt_shields_are_fallback;

#endif
