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
 * never needs to know where a file lives. */
#ifndef SCONE_SHIELD_H
#define SCONE_SHIELD_H

#include <stdint.h>

struct sys_call {
	long nr;
	long a[6];
};

enum { SHIELD_PASS = 0, SHIELD_DONE = 1 };

/* File-system shield (fs_*.c). */
int fs_shield(const struct sys_call *c, long *ret);
/* Console shield (console_shield.c). */
int console_shield(const struct sys_call *c, long *ret);

/* Runs a call through the shields and then the transport; returns the result
 * (negative errno on failure). Implemented by the trap/dispatch code. */
long shield_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5);

#endif
