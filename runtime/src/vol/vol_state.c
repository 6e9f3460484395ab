/* Volume shield: the bottom file of runtime/src/vol: the shield's global
 * state (vs_g, private; its shared part vs_g.sh in the arena), its lock and
 * the report of a failed volume operation. It calls no other file of the
 * shield; vol_fds.c, vol_host.c, vol_calls.c, vol_fdcalls.c and
 * vol_shield.c build on it (vol_shield.h). */
#include "vol_shield.h"
#include "fsv_arena.h"
#include "rlock.h"
#include "shared.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"
#include <linux/errno.h>

struct vs_state vs_g;

int vs_state_init(void)
{
	vs_g.sh = fsv_sh_calloc(1, sizeof *vs_g.sh);
	vs_g.proc = fsv_sh_calloc(1, sizeof *vs_g.proc);
	if (!vs_g.sh || !vs_g.proc)
		return -ENOMEM;
	vs_g.pid = (int)host_syscall(__NR_getpid, 0, 0, 0, 0, 0, 0);
	vs_g.proc->pid = vs_g.pid;
	vs_g.sh->procs = vs_g.proc;
	rt_shared_lock_rank(&vs_g.sh->lock, vol_shield_ops.order, "volume shield's");
	return 0;
}

void vs_lock(void) { rlock_lock(&vs_g.sh->lock, &rt_shared_lock_ops); }

void vs_unlock(void) { rlock_unlock(&vs_g.sh->lock, &rt_shared_lock_ops); }

void vs_report(const struct vs_mount *m, const char *what, long e)
{
	char line[512];
	const char *detail = m && m->v ? vol_err(m->v) : "";
	rt_snprintf(line, sizeof line, "scone-run: protected volume %s: %s failed (error %ld)%s%s\n", m ? m->path : "",
		    what, -e, detail[0] ? ": " : "", detail);
	rt_diag(line, strlen(line));
}
