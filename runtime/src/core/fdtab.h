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
 * application's. fdguard.c keeps the application's calls off them: they
 * are closed in its view (EBADF, POLLNVAL), close_range and the
 * close-on-exec pass of an execve leave them, dup2 and dup3 onto one are
 * refused. The mark goes when the runtime closes the descriptor. */
void rt_fdtab_hide(int fd);
int rt_fdtab_hidden(int fd);
/* The first hidden descriptor >= from, or -1. */
int rt_fdtab_next_hidden(int from);

/* Spare placeholders. The FS shield gives each virtual descriptor a host
 * placeholder (a sealed empty memfd) that holds its number; closing it and
 * making a new one cost two host calls per open file (nginx: one per
 * request each). A closed placeholder may instead be kept as a spare: open
 * on the host, free in the application's view, and handed out again by the
 * next open of a virtual file when its number is the lowest the
 * application could get (what the kernel would hand out). So that no other
 * descriptor gets another number than the kernel would give it, the spares
 * are closed on the host before any call that creates a descriptor (the
 * calls rt_fdtab_after checks, F_DUPFD, a recvmsg that may receive some, a
 * close_range over one) and before an execve's close-on-exec pass; a dup2
 * onto one replaces it. The application's calls on a spare's number fail
 * with EBADF (fdguard.c), as for a closed descriptor.
 * At most RT_FD_SPARES per process. */
#define RT_FD_SPARES 4
/* Keeps fd (a placeholder the application just closed, FD_CLOEXEC
 * cloexec) as a spare: 1 when kept (do not close it), 0 when not. */
int rt_fdtab_spare_put(int fd, int cloexec);
/* A spare with FD_CLOEXEC cloexec whose number is the lowest free one in
 * the application's view, now the caller's; -1 when there is none. */
int rt_fdtab_spare_take(int cloexec);
/* Whether fd is a spare (free in the application's view). */
int rt_fdtab_is_spare(int fd);
/* Every spare, now the caller's to close on the host: their count. */
int rt_fdtab_spares_take_all(int fds[RT_FD_SPARES]);
/* Before host call nr: the spares to close first (their count; the
 * transport closes them, host_drop_spares), or none; a dup2/dup3 onto one
 * makes it the call's. */
int rt_fdtab_spares_before(long nr, const long *a, int fds[RT_FD_SPARES]);
#endif
