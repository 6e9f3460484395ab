/* Virtual user and group ids (ids.c, sim mode): the config's uid/gid
 * answer getuid and friends; set*id calls change only the virtual ids. */
#ifndef SCONE_IDS_H
#define SCONE_IDS_H
#include <stddef.h>

void rt_ids_init(unsigned uid, unsigned gid);
/* 1 when it handled the call (result in *ret), 0 to pass it on. */
int rt_ids_dispatch(long nr, const long *a, long *ret);
/* The virtual ids as /proc/<pid>/status shows them: real, effective, saved
 * and file-system uid and gid, and up to cap supplementary groups (their
 * number in *ngroups). 0, or -1 when the ids are not virtual (dev mode). */
int rt_ids_snapshot(unsigned uid[4], unsigned gid[4], unsigned *out, size_t cap, size_t *nout);
#endif
