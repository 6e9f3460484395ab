/* The process's open file descriptors, as the runtime has seen them open
 * (a bitmap, one bit per fd below RT_FD_LIMIT).
 *
 * Every host call that creates descriptors goes through host_syscall
 * (transport.h), which reports its result here: a descriptor the host
 * hands out must be free, so an answer with a number already in use (stdout,
 * or a protected file's placeholder, whose shield state would silently be
 * replaced) is an Iago attack and stops the runtime. close and close_range
 * clear the bits before the host call, so a concurrent open can never be
 * mistaken for a reuse. The table is per process (fork copies it) and shared
 * by the threads. */
#ifndef SCONE_FDTAB_H
#define SCONE_FDTAB_H

#define RT_FD_LIMIT (1 << 20) /* the kernel's nr_open maximum */

/* Records the descriptors open at start-up (/proc/self/fd). */
void rt_fdtab_init(void);
/* In a forked child: the table becomes the child's (see fdtab.c); owned(fd)
 * says whether a shield holds state for fd, which must still be open. */
void rt_fdtab_fork_child(int (*owned)(int fd));
/* Before / after a host call (transport.c). */
void rt_fdtab_before(long nr, const long *a);
void rt_fdtab_after(long nr, const long *a, long r);
/* A descriptor the kernel created (SCM_RIGHTS): fatal if it is already
 * open or out of range. what names the call for the message. */
void rt_fdtab_new(long fd, const char *what);
int rt_fdtab_is_open(int fd);
/* The first open descriptor >= from, or -1. */
int rt_fdtab_next(int from);

/* The runtime's own descriptors (a protected volume's host directory and
 * files, the connection to the CAS): open in the process but not the
 * application's. The shields' entry (shields.c) keeps the application's
 * calls off them: close is EBADF as for a descriptor that is not open,
 * close_range and the close-on-exec pass of an execve leave them, dup2
 * and dup3 onto one are refused. The mark goes when the runtime closes
 * the descriptor. */
void rt_fdtab_hide(int fd);
int rt_fdtab_hidden(int fd);
/* The first hidden descriptor >= from, or -1. */
int rt_fdtab_next_hidden(int from);
#endif
