/* FS shield: global state, lock, initialisation and hooks (fs.h). */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include "fs.h"
#include "fdguard.h"
#include "ids.h"
#include "casmsg.h"
#include "econfig.h"
#include "fsp.h"
#include "fsv_arena.h"
#include "fsv_lock.h"
#include "vma.h"
#include "region.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"
#include "random.h"
#include "rlock.h"
#include "shared.h"
#include "thread.h"

struct fs_state fs_g = {.fdt = &fs_g.fds_own};

/* The fd table's live bitmap (fsv.h): calls on descriptors that are not
 * the shield's (sockets, pipes, host files: most of a server's calls) pass
 * without the lock the enclave's processes share. 128 KiB of address
 * space; a page is touched per 32,768 descriptors in use. */
static unsigned long fs_live[FSV_FD_LIVE_WORDS];
/* The fd table's marks: descriptors whose FD_CLOEXEC the shield knows
 * (fs_fd.c, spare placeholders). */
static unsigned long fs_mark[FSV_FD_LIVE_WORDS];

/* The lock word: in the shared arena once it exists (one lock for every
 * process of the enclave, since they share the tree), else fs_g.lock. It
 * holds the holder's thread id, and survives the holder's death (rlock.h):
 * a process killed inside the shield must not hang the others. */
static volatile int *lock_word(void) { return fs_g.lockp ? fs_g.lockp : &fs_g.lock; }

/* Taking the lock first lets go of the files whose shared mappings a
 * munmap, mremap or mmap MAP_FIXED of this process ended (fs_procs.c). */
void fs_lock(void)
{
	rlock_lock(lock_word(), &rt_shared_lock_ops);
	if (fs_g.proc && rt_vma_alias_lost_any())
		fs_maps_drain();
}

void fs_unlock(void) { rlock_unlock(lock_word(), &rt_shared_lock_ops); }

/* The shared arena (shared.h, mapped by the core before the shields
 * start): the lock word and the ephemeral layer's counters live there. */
static void arena_attach(void)
{
	struct fsv_arena_shared *sh = fsv_arena_shared();
	fs_g.lockp = &sh->fs_lock;
	rt_shared_lock_rank(fs_g.lockp, fs_shield_ops.order, "FS shield's");
	fs_g.fs.next_ino_p = &sh->next_ino;
	fs_g.fs.eph_bytes_p = &sh->eph_bytes;
	fs_procs_attach(); /* else the enclave is untracked (fs_procs.c) */
}

/* ---- fork (fork.h) ----
 * The tree and the open file descriptions are shared (arena), the fd table
 * and the cwd are per process: the child's copy of the table holds one
 * description reference per fd and its cwd a node reference, which the
 * shared reference counts must include, as its entry in the arena holds
 * one for each file it maps shared (fs_procs.c). They are taken in the
 * parent, under the lock, before the host fork (so nothing can be freed in
 * between); the parent alone releases the shared lock. */
static void fork_refs(int add)
{
	for (size_t i = 0; i < fs_g.fdt->cap; i++) {
		struct fsv_file *f = fs_g.fdt->v[i];
		if (!f)
			continue;
		if (add)
			fsv_file_ref(f);
		else
			fsv_file_unref(&fs_g.fs, f);
	}
	if (fs_g.cwd)
		add ? fsv_ref(fs_g.cwd) : fsv_unref(&fs_g.fs, fs_g.cwd);
}

void fs_fork_prepare(void)
{
	if (!fs_g.enabled)
		return;
	fs_lock();
	if (fs_g.lockp) {
		fork_refs(1);
		fs_procs_fork_prepare();
	}
}

void fs_fork_parent(long pid)
{
	if (!fs_g.enabled)
		return;
	if (fs_g.lockp && pid <= 0)
		fork_refs(0);
	if (fs_g.lockp)
		fs_procs_fork_parent(pid);
	fs_unlock();
}

void fs_fork_child(void)
{
	fs_g.pid = 0; /* a new process */
	if (fs_g.lockp)
		fs_procs_fork_child();
	/* With the arena the lock is the parent's to release; without one
	 * (never in sim mode) the child owns a private copy. */
	if (fs_g.enabled && !fs_g.lockp)
		fs_unlock();
}

static void hook_now(void *ctx, int64_t *sec, uint32_t *nsec)
{
	(void)ctx;
	struct {
		long sec, nsec;
	} ts = {0, 0};
	host_syscall(__NR_clock_gettime, 0 /* CLOCK_REALTIME */, (long)&ts, 0, 0, 0, 0);
	*sec = ts.sec;
	*nsec = (uint32_t)(ts.nsec >= 0 && ts.nsec < 1000000000 ? ts.nsec : 0);
}

static void hook_integrity(void *ctx, const char *path, int err)
{
	(void)ctx;
	(void)err;
	char msg[FSV_PATH_MAX + 128];
	int n = rt_snprintf(msg, sizeof msg,
			    "scone-run: integrity violation in %s: protected FS data failed authentication (EIO)\n",
			    path);
	if (n > 0)
		rt_diag(msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

static struct fsv_node *hook_fd_node(void *ctx, int fd)
{
	(void)ctx;
	struct fsv_file *f = fsv_fd_get(fs_g.fdt, fd);
	if (!f)
		return NULL;
	fsv_ref(f->node);
	return f->node;
}

static int hook_fd_closed(void *ctx, int fd)
{
	(void)ctx;
	return rt_fd_closed_in_view(fd);
}

int fs_is_virtual_fd(int fd)
{
	if (!fs_g.enabled || !fsv_fd_maybe(fs_g.fdt, fd))
		return 0;
	fs_lock();
	int v = fsv_fd_get(fs_g.fdt, fd) != NULL;
	fs_unlock();
	return v;
}

void fs_program_started(const struct rt_program *p)
{
	if (!fs_g.enabled)
		return;
	fs_lock();
	fs_g.prog = *p;
	if (p->exe && p->exe[0] == '/')
		fsv_set_exe(&fs_g.fs, p->exe);
	fs_unlock();
}

/* Hooks of the core for /proc and /dev (fsv_magic.c). Lock held. */
static long hook_self_pid(void *ctx)
{
	(void)ctx;
	if (!fs_g.pid)
		fs_g.pid = host_syscall(__NR_getpid, 0, 0, 0, 0, 0, 0);
	return fs_g.pid;
}

/* The application's own environ/cmdline: its live strings, as the kernel
 * shows its processes' (never the runtime's initial stack, whose
 * environment held the key). */
/* /proc/self/status: the host's, with the Uid, Gid and Groups lines of the
 * virtual ids (core/ids.c). Built under the lock into a static buffer; the
 * caller copies it. NULL data when the ids are the host's. */
static char status_buf[8192];

static void put_num(char *b, size_t cap, size_t *o, unsigned long v)
{
	char t[24];
	int n = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && *o < cap)
		b[(*o)++] = t[--n];
}

static void status_data(const char **data, size_t *len)
{
	unsigned uid[4], gid[4], groups[64];
	size_t ng, o = 0, cap = sizeof status_buf;
	*data = NULL;
	*len = 0;
	if (rt_ids_snapshot(uid, gid, groups, sizeof groups / sizeof groups[0], &ng) < 0)
		return;
	char host[sizeof status_buf];
	long fd = host_syscall(__NR_openat, AT_FDCWD, (long)"/proc/self/status", O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return;
	long n = host_syscall(__NR_read, fd, (long)host, sizeof host, 0, 0, 0);
	host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
	if (n <= 0 || (size_t)n > sizeof host)
		return;
	for (size_t i = 0; i < (size_t)n;) {
		size_t e = i;
		while (e < (size_t)n && host[e] != '\n')
			e++;
		const char *l = host + i;
		size_t ll = e - i;
		const unsigned *ids = ll >= 4 && !memcmp(l, "Uid:", 4) ? uid :
				      ll >= 4 && !memcmp(l, "Gid:", 4) ? gid :
									 NULL;
		if (ids || (ll >= 7 && !memcmp(l, "Groups:", 7))) {
			const char *key = ids == uid ? "Uid:" : ids == gid ? "Gid:" : "Groups:";
			for (const char *k = key; *k && o < cap; k++)
				status_buf[o++] = *k;
			for (size_t j = 0; j < (ids ? 4 : ng); j++) {
				if (o < cap)
					status_buf[o++] = ids ? '\t' : j ? ' ' : '\t';
				put_num(status_buf, cap, &o, ids ? ids[j] : groups[j]);
			}
			if (!ids && o < cap)
				status_buf[o++] = ' '; /* Linux ends the list with a space */
		} else {
			for (size_t j = 0; j < ll && o < cap; j++)
				status_buf[o++] = l[j];
		}
		if (e < (size_t)n && o < cap)
			status_buf[o++] = '\n';
		i = e + 1;
	}
	*data = status_buf;
	*len = o;
}

/* The word flock waiters sleep on (fs_flock.c), bumped by every release
 * (the hook of struct fsv, lock held). */
static uint32_t private_flock_seq; /* without an arena */

volatile uint32_t *fs_flock_seq(void)
{
	struct fsv_arena_shared *sh = fsv_arena_shared();
	return sh ? &sh->flock_seq : &private_flock_seq;
}

/* A release (lock held): bumps the waiters' word w and, when a waiter
 * marked it (fsv_lock.h), wakes every waiter (in any process: w may be in
 * the arena, so no FUTEX_PRIVATE_FLAG). */
static void release_wake(volatile uint32_t *w)
{
	if (fsv_release(w))
		host_syscall(__NR_futex, (long)w, 1 /* FUTEX_WAKE */, 0x7fffffff, 0, 0, 0);
}

static void hook_flock_released(void *ctx)
{
	(void)ctx;
	release_wake(fs_flock_seq());
}

/* The word record lock waiters sleep on (fs_reclock.c), bumped by every
 * release (lock held). */
static uint32_t private_reclock_seq; /* without an arena */

volatile uint32_t *fs_reclock_seq(void)
{
	struct fsv_arena_shared *sh = fsv_arena_shared();
	return sh ? &sh->reclock_seq : &private_reclock_seq;
}

void fs_reclock_wake(void) { release_wake(fs_reclock_seq()); }

static void hook_reclock_released(void *ctx)
{
	(void)ctx;
	fs_reclock_wake();
}

static void hook_proc_data(void *ctx, int which, const char **data, size_t *len)
{
	(void)ctx;
	if (which == FSV_PROC_STATUS) {
		status_data(data, len);
		return;
	}
	const struct rt_program *p = &fs_g.prog;
	const char *s = which == FSV_PROC_ENVIRON ? p->env_start : p->arg_start;
	const char *e = which == FSV_PROC_ENVIRON ? p->env_end : p->arg_end;
	*data = s;
	*len = s && e > s ? (size_t)(e - s) : 0;
}

static int hook_random(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	rt_random(buf, len);
	return 0;
}

static long hook_attestation(void *ctx, int which, uint8_t *buf)
{
	(void)ctx;
	return fs_g.att->read(which, buf, FSV_ATT_MAX);
}

static int hook_set_report_data(void *ctx, const uint8_t data[64])
{
	(void)ctx;
	return fs_g.att->set_report_data(data);
}

int fs_shield_configure(const struct fsp *img, const struct fs_shield_config *cfg)
{
	memset(&fs_g, 0, sizeof fs_g);
	fs_g.fdt = &fs_g.fds_own;
	fs_g.fdt->live = fs_live;
	fs_g.fdt->mark = fs_mark;
	long um = host_syscall(__NR_umask, 022, 0, 0, 0, 0, 0);
	host_syscall(__NR_umask, um, 0, 0, 0, 0, 0);
	fs_g.umask = um >= 0 ? (uint32_t)um & 0777 : 022;
	if (!img)
		return 0; /* dev mode: the host's file system */
	struct fsv *fs = &fs_g.fs;
	if (fsv_arena_active())
		arena_attach();
	fs->uid = cfg->uid;
	fs->gid = cfg->gid;
	fs->eph_max = cfg->eph_max;
	fs->hook_ctx = &fs_g;
	fs->now = hook_now;
	fs->on_integrity = hook_integrity;
	fs->fd_node = hook_fd_node;
	fs->fd_closed = hook_fd_closed;
	fs->self_pid = hook_self_pid;
	fs->proc_data = hook_proc_data;
	fs->random = hook_random;
	fs->host_gone = fs_host_node_gone;
	fs->flock_released = hook_flock_released;
	fs->reclock_released = hook_reclock_released;
	fs_g.img = img;
	fs->chunk = fsp_chunk_size(img);
	int r = fsv_init(fs, &fs_image_ops, (void *)img, fsp_root_ino(img));
	if (r < 0)
		return r;
	for (size_t i = 0; i < cfg->npassthrough; i++) {
		/* The host decides whether a mount point is a file or a directory;
		 * a default one the host lacks (a run without /etc/hosts) is
		 * skipped so the image's file stays visible. Configured volumes
		 * always shadow the image. */
		uint8_t st[144] = {0};
		long hs = host_syscall(__NR_newfstatat, AT_FDCWD, (long)cfg->passthrough[i], (long)st, 0, 0, 0);
		uint32_t mode = 0;
		memcpy(&mode, st + 24, sizeof mode); /* st_mode of struct stat (x86-64) */
		if (hs < 0 && i < cfg->ndefault)
			continue;
		int is_dir = hs < 0 || (mode & FSV_IFMT) == FSV_IFDIR;
		r = fsv_add_mount(fs, cfg->passthrough[i], is_dir);
		if (r < 0) {
			rt_eprintf("scone-run: passthrough path %s: error %d\n", cfg->passthrough[i], -r);
			return r;
		}
	}
	if (cfg->exe && cfg->exe[0] && (r = fsv_set_exe(fs, cfg->exe)) < 0)
		return r;
	fs_g.cwd = fs->root;
	fsv_ref(fs_g.cwd);
	fs_g.enabled = 1;
	/* The working directory is set by the launcher through chdir (exec.c). */
	return 0;
}

/* The CAS policy's files (docs/cas.md): into the ephemeral layer, owned by
 * the application's user, before the program runs. */
static int place_files(const struct shield_env *env)
{
	uint32_t uid = env->cfg ? env->cfg->uid : 0, gid = env->cfg ? env->cfg->gid : 0;
	for (size_t i = 0; i < env->nfiles; i++) {
		const struct casmsg_file *f = &env->files[i];
		int r = fsv_place_file(FS(), f->path, f->mode, uid, gid, f->data, f->len);
		if (r == -EXDEV)
			rt_eprintf(
				"scone-run: the CAS policy grants the file %s, which would be on the host (a passthrough "
				"path or volume): refusing to write a secret there; change the policy's path\n",
				f->path);
		else if (r < 0)
			rt_eprintf("scone-run: cannot place the CAS policy's file %s into the enclave's file system: "
				   "error %d\n",
				   f->path, -r);
		if (r < 0)
			return r;
	}
	return 0;
}

int fs_shield_init(const struct shield_env *env)
{
	const struct fsp *img = env->fs;
	const struct econfig *cfg = env->cfg;
	static const char *const defaults[] = FS_DEFAULT_PASSTHROUGH;
	const size_t nd = sizeof defaults / sizeof defaults[0];
	const char *paths[nd + FSV_MAX_MOUNTS];
	size_t n = 0;
	for (size_t i = 0; i < nd; i++)
		paths[n++] = defaults[i];
	/* protected volumes are mount points too: what reaches them goes
	 * through shield_host_path_call to the volume shield */
	for (size_t i = 0; cfg && i < cfg->nvolumes && n < nd + FSV_MAX_MOUNTS; i++)
		paths[n++] = cfg->volumes[i];
	for (size_t i = 0; cfg && i < cfg->npvolumes && n < nd + FSV_MAX_MOUNTS; i++)
		paths[n++] = cfg->pvolumes[i];
	if (cfg && cfg->nvolumes + cfg->npvolumes + nd > FSV_MAX_MOUNTS) {
		rt_eprintf("scone-run: too many volumes (%lu, at most %lu)\n",
			   (unsigned long)(cfg->nvolumes + cfg->npvolumes), (unsigned long)(FSV_MAX_MOUNTS - nd));
		return -E2BIG;
	}
	struct fs_shield_config c = {
		.passthrough = paths,
		.npassthrough = n,
		.ndefault = nd,
		.cwd = cfg ? cfg->cwd : NULL,
		.exe = cfg ? cfg->entrypoint : NULL,
		.uid = cfg ? cfg->uid : 0,
		.gid = cfg ? cfg->gid : 0,
	};
	int r = fs_shield_configure(img, &c);
	if (r < 0)
		return r;
	if (img && env->attestation) {
		fs_g.att = env->attestation;
		fs_g.fs.attestation = hook_attestation;
		fs_g.fs.set_report_data = hook_set_report_data;
	}
	return place_files(env);
}
