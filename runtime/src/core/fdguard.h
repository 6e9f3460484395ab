/* The application's calls on descriptors that are open on the host but not
 * in its view (fdtab.h): spare placeholders, free numbers to the
 * application, and the runtime's own descriptors (rt_fdtab_hide). To the
 * application both are closed: a call on one fails with EBADF, poll
 * reports POLLNVAL for it, select fails with EBADF; close_range closes
 * around the runtime's own, and dup2/dup3 onto one of them is refused
 * (EBUSY). Checked before any shield sees the call (shields.c). */
#ifndef SCONE_FDGUARD_H
#define SCONE_FDGUARD_H

/* Whether fd is open on the host but closed in the application's view. */
int rt_fd_closed_in_view(long fd);

/* The rest of an application call's way (the shields, then the host),
 * for the calls made in its place; they do not block. */
typedef long (*rt_fd_call_fn)(long nr, const long *a);

/* 1 with *ret when the call was served here, 0 to go on. */
int rt_fd_guard(long nr, const long *a, long *ret, rt_fd_call_fn call);

/* A getdents64 that no shield served, before it goes to the host: 1 with
 * *ret when it listed the process's own descriptor directory, leaving out
 * the numbers closed in the application's view; 0 to go on. */
int rt_fd_listing(const long *a, long *ret);

#endif
