/* Iago checks: results of system calls served by the host are checked
 * against what was asked before the application (or the runtime) uses them.
 * An impossible answer means a hostile or broken host: the runtime stops
 * rather than let the application act on it.
 *
 * Two layers:
 *  - rt_host_result (called by host_syscall for every host call, the
 *    shields' own included): the open descriptor table (fdtab.h) and the
 *    live mappings (vma.h);
 *  - rt_iago_pre / rt_iago_check around each application call the shields
 *    pass to the host: lengths, counts, address and option lengths, the
 *    records of getdents64, the control messages of recvmsg (and the
 *    descriptors they carry). rt_iago_pre records what the check needs from
 *    before the call (the caller's buffer sizes, which the host could
 *    otherwise rewrite) and may lower a count the check cannot follow. */
#ifndef SCONE_IAGO_H
#define SCONE_IAGO_H
#include <stdint.h>

#define RT_IAGO_MMSG 64 /* recvmmsg: messages checked per call (vlen is capped to it) */

struct rt_iago_snap {
	unsigned long total;		  /* readv & co: sum of the iovec lengths */
	unsigned long len;		  /* getsockopt: optlen; recvmsg: msg_controllen */
	unsigned long mlen[RT_IAGO_MMSG]; /* recvmmsg: each message's iovec total */
	unsigned long mctl[RT_IAGO_MMSG]; /* recvmmsg: each message's msg_controllen */
	int ok;				  /* the pointers were plausible */
};

void rt_iago_pre(long nr, long *a, struct rt_iago_snap *s);
void rt_iago_check(long nr, const long *a, long ret, const struct rt_iago_snap *s);
void rt_host_before(long nr, const long *a);
void rt_host_result(long nr, const long *a, long ret);
#endif
