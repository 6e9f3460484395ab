/* Volume shield: start-up (keys, host directories, opening the volumes),
 * fork and the descriptor hooks: the entries of the shield's table
 * (vol_fdcalls.c) other than its call and host_path entries. Above
 * vol_state.c (state, lock), vol_fds.c and vol_host.c; only the table
 * refers to these entries. */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include "vol_shield.h"
#include "casmsg.h"
#include "econfig.h"
#include "fdtab.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

#define O_PATH_ 010000000

/* The volume key (docs/volume.md, "Keys"): the key the CAS policy grants
 * for the volume's path (grants.volume_keys, handed in as
 * env->volume_keys), else derived from the FS key per path. Returns 1 for
 * a granted key, 0 for a derived one. */
static int volume_key(const struct shield_env *env, const char *path, uint8_t key[32])
{
	for (size_t i = 0; i < env->nvolume_keys; i++) {
		if (!rt_strcmp(env->volume_keys[i].path, path)) {
			memcpy(key, env->volume_keys[i].key, 32);
			return 1;
		}
	}
	vol_derive_key(env->fs_key, path, key);
	return 0;
}

int vs_init(const struct shield_env *env)
{
	const struct econfig *cfg = env->cfg;
	if (!cfg || !cfg->npvolumes)
		return 0;
	if (!env->fs_key)
		return -EINVAL;
	int se = vs_state_init();
	if (se)
		return se;
	vs_g.uid = cfg->uid;
	vs_g.gid = cfg->gid;
	vs_g.fresh = env->freshness;
	for (size_t i = 0; env->freshness && i < env->freshness->nvols; i++) {
		const char *p = env->freshness->vols[i].path;
		size_t k = 0;
		while (k < cfg->npvolumes && rt_strcmp(cfg->pvolumes[k], p))
			k++;
		if (k == cfg->npvolumes)
			rt_eprintf("scone-run: the CAS policy tracks volume %s, but this image has no protected volume "
				   "there (scone-build convert --protected-volume %s); nothing is recorded for it\n",
				   p, p);
	}
	for (size_t i = 0; i < cfg->npvolumes && i < VS_MAX_MOUNTS; i++) {
		struct vs_mount *m = &vs_g.m[i];
		const char *p = cfg->pvolumes[i];
		m->fst = &vs_g.sh->fresh[i];
		m->plen = strlen(p);
		memcpy(m->path, p, m->plen + 1);
		/* the host directory: the container engine mounts one there; without
		 * one it is created (the data then lives in the container) */
		long fd = host_syscall(__NR_open, (long)p, O_PATH_ | O_DIRECTORY | O_CLOEXEC, 0, 0, 0, 0);
		if (fd == -ENOENT) {
			char tmp[VOL_PATH_MAX + 1];
			memcpy(tmp, p, m->plen + 1);
			for (size_t k = 1; k <= m->plen; k++)
				if (tmp[k] == '/' || tmp[k] == 0) {
					char c = tmp[k];
					tmp[k] = 0;
					host_syscall(__NR_mkdir, (long)tmp, 0700, 0, 0, 0, 0);
					tmp[k] = c;
				}
			fd = host_syscall(__NR_open, (long)p, O_PATH_ | O_DIRECTORY | O_CLOEXEC, 0, 0, 0, 0);
		}
		if (fd < 0) {
			rt_eprintf("scone-run: protected volume %s: cannot open the host directory (error %ld)\n", p,
				   -fd);
			return (int)fd;
		}
		/* a high number, out of the application's way */
		long hi = host_syscall(__NR_fcntl, fd, F_DUPFD_CLOEXEC, 1000 - 16 * VS_MAX_MOUNTS + (long)i * 16, 0, 0,
				       0);
		if (hi >= 0) {
			host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
			fd = hi;
		}
		m->dirfd = (int)fd;
		rt_fdtab_hide(m->dirfd); /* the runtime's, not the application's */
		vs_host_init(m);
		uint8_t key[32];
		volume_key(env, p, key);
		char err[256] = "";
		int e = vol_open(&m->v, &m->host, key, p, cfg->uid, cfg->gid, 0, err, sizeof err);
		rt_memzero(key, sizeof key);
		if (e) {
			rt_eprintf("scone-run: protected volume %s: %s (error %d); the volume is refused\n", p,
				   err[0] ? err : "cannot open", -e);
			return e;
		}
		vs_g.nmounts = (int)i + 1;
		vs_fresh_start(m);
	}
	int r = vs_fresh_start_recorder();
	if (r < 0)
		rt_eprintf("scone-run: cannot start the thread that records the protected volumes' state (error "
			   "%d)\n",
			   -r);
	return r;
}

/* ---- fork ----
 * The volumes' state and the descriptions are shared (arena); the child
 * gets a copy of the parent's descriptor table, its references taken in
 * the parent under the shared lock before the host fork, so that nothing
 * can go in between. The parent alone releases the lock (the child waits
 * for it like any other process). The child's copy of the CAS connection
 * is the parent's TLS session: it is dropped, and the child opens its own
 * when it first records. */
void vs_fork_prepare(void)
{
	if (!vs_g.nmounts)
		return;
	vs_lock();
	vs_g.child = vs_proc_fork();
}

void vs_fork_parent(long pid)
{
	if (!vs_g.nmounts)
		return;
	struct vs_proc *c = vs_g.child;
	vs_g.child = NULL;
	if (c && pid > 0)
		c->pid = (int)pid;
	else if (c)
		vs_proc_free(c);
	vs_unlock();
}

void vs_fork_child(void)
{
	if (!vs_g.nmounts)
		return;
	if (!vs_g.child)
		rt_fatal(RT_EX_SOFTWARE, "protected volumes: no shared memory left for a forked process's "
					 "descriptor table (raise the enclave's heap: scone-build convert --heap)");
	vs_g.proc = vs_g.child;
	vs_g.child = NULL;
	vs_g.pid = (int)host_syscall(__NR_getpid, 0, 0, 0, 0, 0, 0);
	if (vs_g.fresh && vs_g.fresh->ops->forked)
		vs_g.fresh->ops->forked(vs_g.fresh->ctx);
}

void vs_fd_gone(int fd)
{
	if (!vs_g.nmounts)
		return;
	vs_lock();
	vs_fd_drop(fd);
	vs_unlock();
}

void vs_fd_dup(int oldfd, int newfd)
{
	if (!vs_g.nmounts)
		return;
	vs_lock();
	if (vs_fd_get(oldfd))
		vs_fd_alias(oldfd, newfd);
	else
		vs_fd_drop(newfd);
	vs_unlock();
}

int vs_owns_fd(int fd)
{
	if (!vs_g.nmounts)
		return 0;
	vs_lock();
	int r = vs_fd_get(fd) != NULL;
	vs_unlock();
	return r;
}

int vs_code_fd(int fd) { return vs_owns_fd(fd) ? 0 : -1; }
