/* Calls that may block (rt_syscall_may_block) but provably do not with
 * their arguments: I/O on a descriptor known to be non-blocking, MSG_DONTWAIT,
 * zero timeouts, WNOHANG, futex wakes, fcntl other than the lock waits.
 *
 * O_NONBLOCK is tracked per descriptor from the host calls of this process
 * (host_syscall reports each result): socket/accept4/open/pipe2/eventfd2/...
 * flags, fcntl F_SETFL, ioctl FIONBIO, dup*, close. Descriptors it has not
 * seen count as blocking. The async transport sends such calls to its
 * workers; the mn scheduler keeps them on the fast path without giving up
 * the enclave thread (rtsched.h). */
#ifndef SCONE_NONBLOCK_H
#define SCONE_NONBLOCK_H

/* 1 when nr(a) cannot block. */
int rt_call_nonblocking(long nr, const long *a);
/* A host call's result r, for the descriptors' O_NONBLOCK. */
void rt_nb_track(long nr, const long *a, long r);
#endif
