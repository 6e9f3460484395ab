/* Virtual user and group ids (ids.c, sim mode): the config's uid/gid
 * answer getuid and friends; set*id calls change only the virtual ids. */
#ifndef SCONE_IDS_H
#define SCONE_IDS_H

void rt_ids_init(unsigned uid, unsigned gid);
/* 1 when it handled the call (result in *ret), 0 to pass it on. */
int rt_ids_dispatch(long nr, const long *a, long *ret);
#endif
