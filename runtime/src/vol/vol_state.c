/* Volume shield: the bottom file of runtime/src/vol: the shield's global
 * state (vs_g), its lock and the report of a failed volume operation. It
 * calls no other file of the shield; vol_fds.c, vol_host.c, vol_calls.c,
 * vol_fdcalls.c and vol_shield.c build on it (vol_shield.h). */
#include "vol_shield.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"
#include <linux/errno.h>

struct vs_state vs_g;

void vs_lock(void)
{
	while (__atomic_exchange_n(&vs_g.lock, 1, __ATOMIC_ACQUIRE))
		host_syscall(__NR_sched_yield, 0, 0, 0, 0, 0, 0);
}

void vs_unlock(void) { __atomic_store_n(&vs_g.lock, 0, __ATOMIC_RELEASE); }

void vs_report(const struct vs_mount *m, const char *what, long e)
{
	char line[512];
	const char *detail = m && m->v ? vol_err(m->v) : "";
	rt_snprintf(line, sizeof line, "scone-run: protected volume %s: %s failed (error %ld)%s%s\n", m ? m->path : "",
		    what, -e, detail[0] ? ": " : "", detail);
	rt_diag(line, strlen(line));
}

long vs_refuse_forked(const char *path)
{
	if (!vs_g.forked_said) {
		vs_g.forked_said = 1;
		char line[512];
		rt_snprintf(line, sizeof line,
			    "scone-run: protected volume%s%s: refused to a forked child process (EACCES): the volume's "
			    "state lives in the parent's enclave memory. Only the process that opened the volumes may "
			    "use them; programs that write a volume from child processes (postgres, redis BGSAVE) are "
			    "not supported yet (docs/compatibility.md)\n",
			    path ? " " : "", path ? path : "");
		rt_diag(line, strlen(line));
	}
	return -EACCES;
}
