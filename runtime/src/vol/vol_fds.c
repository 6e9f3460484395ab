/* Volume shield: descriptors. A volume fd is a sealed memfd placeholder
 * (as the FS shield's, fs_fd.c) mapped, in the process's table, to an open
 * file description; duplicates, and the copies a fork makes, share the
 * description (offset, flags, flock). Tables and descriptions are in the
 * shared arena. Lock held. Above vol_state.c only; the call files and
 * vol_shield.c build on it. */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/futex.h>
#include "vol_shield.h"
#include "fsv_arena.h"
#include "fsv_lock.h"
#include "shared.h"
#include "transport.h"
#include "sys.h"

#define MFD_CLOEXEC_ 0x0001U
#define MFD_ALLOW_SEALING_ 0x0002U
#define F_ADD_SEALS_ 1033
#define SEALS_ (0x0001 | 0x0002 | 0x0004 | 0x0008)

struct vs_desc *vs_fd_get(int fd)
{
	struct vs_proc *p = vs_g.proc;
	for (int i = 0; i < p->nfds; i++)
		if (p->fds[i].fd == fd)
			return p->fds[i].d;
	return NULL;
}

/* A release of a lock others may wait for, in any process: the word is
 * shared memory, so the futex calls go without FUTEX_PRIVATE_FLAG; the
 * wake only when a waiter marked the word (fsv_lock.h). */
static void wake(uint32_t *word)
{
	if (fsv_release(word))
		host_syscall(__NR_futex, (long)word, FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
}

void vs_flock_released(void) { wake(&vs_g.sh->flock_seq); }

void vs_reclock_released(void) { wake(&vs_g.sh->reclock_seq); }

static struct vs_lockfile **lockfile(int mount, uint64_t id)
{
	struct vs_lockfile **q = &vs_g.sh->reclocks;
	while (*q && ((*q)->mount != mount || (*q)->id != id))
		q = &(*q)->next;
	return q;
}

struct fsv_reclock **vs_reclocks(int mount, uint64_t id, int create)
{
	struct vs_lockfile **q = lockfile(mount, id);
	if (!*q && create) {
		struct vs_lockfile *l = fsv_sh_calloc(1, sizeof *l);
		if (!l)
			return NULL;
		l->mount = mount;
		l->id = id;
		*q = l;
	}
	return *q ? &(*q)->locks : NULL;
}

/* The record locks of owner (ofd, owner) on d's file go: a POSIX owner's
 * when its process closes any descriptor of the file, an OFD owner's with
 * the description. */
static void reclocks_gone(const struct vs_desc *d, int ofd, uint64_t owner)
{
	struct vs_lockfile **q = lockfile(d->mount, d->id);
	struct vs_lockfile *l = *q;
	if (!l)
		return;
	if (fsv_reclock_drop(&l->locks, ofd, owner))
		vs_reclock_released();
	if (!l->locks) {
		*q = l->next;
		fsv_sh_free(l);
	}
}

struct vs_desc *vs_desc_new(void)
{
	struct vs_desc *d = fsv_sh_calloc(1, sizeof *d);
	if (!d)
		return NULL;
	struct vs_shared *sh = vs_g.sh;
	d->next = sh->descs;
	if (d->next)
		d->next->prev = d;
	sh->descs = d;
	return d;
}

void vs_desc_put(struct vs_desc *d)
{
	if (--d->refs)
		return;
	struct vs_mount *m = &vs_g.m[d->mount];
	if (d->flock) /* the last descriptor of the description: its flock goes */
		vs_flock_released();
	reclocks_gone(d, 1, (uint64_t)(uintptr_t)d);
	if (!d->dir && m->v) {
		if (d->written) {
			long e = vol_commit(m->v, 0); /* close of a written file: a commit */
			if (e)
				vs_report(m, "commit at close", e);
			else
				vs_fresh_committed(m, 1);
		}
		vol_release(m->v, d->id);
	}
	if (d->prev)
		d->prev->next = d->next;
	else
		vs_g.sh->descs = d->next;
	if (d->next)
		d->next->prev = d->prev;
	fsv_sh_free(d->path);
	fsv_sh_free(d);
}

static int add(int fd, struct vs_desc *d)
{
	struct vs_proc *p = vs_g.proc;
	if (p->nfds == VS_MAX_FDS)
		return -EMFILE;
	p->fds[p->nfds++] = (struct vs_fd){fd, d};
	d->refs++;
	return 0;
}

long vs_fd_new(struct vs_desc *d, int cloexec)
{
	long fd = host_syscall(__NR_memfd_create, (long)"scone-vol", MFD_ALLOW_SEALING_ | (cloexec ? MFD_CLOEXEC_ : 0),
			       0, 0, 0, 0);
	if (fd < 0)
		return fd;
	if (fd >= (1 << 20) || host_syscall(__NR_fcntl, fd, F_ADD_SEALS_, SEALS_, 0, 0, 0) < 0) {
		host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
		return -EIO;
	}
	vs_fd_drop((int)fd); /* a stale mapping of a number the kernel reused */
	int e = add((int)fd, d);
	if (e) {
		host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
		return e;
	}
	return fd;
}

void vs_fd_drop(int fd)
{
	struct vs_proc *p = vs_g.proc;
	for (int i = 0; i < p->nfds; i++)
		if (p->fds[i].fd == fd) {
			struct vs_desc *d = p->fds[i].d;
			p->fds[i] = p->fds[--p->nfds];
			reclocks_gone(d, 0, (uint64_t)p->pid);
			vs_desc_put(d);
			return;
		}
}

void vs_fd_alias(int oldfd, int newfd)
{
	struct vs_desc *d = vs_fd_get(oldfd);
	if (oldfd == newfd)
		return;
	vs_fd_drop(newfd);
	if (d && add(newfd, d))
		vs_report(NULL, "too many volume descriptors", -EMFILE);
}

/* Drops every descriptor of p (its last references commit what their
 * descriptions wrote). */
static void drop_all(struct vs_proc *p)
{
	while (p->nfds > 0) {
		struct vs_desc *d = p->fds[--p->nfds].d;
		reclocks_gone(d, 0, (uint64_t)p->pid);
		vs_desc_put(d);
	}
}

static void unlink_proc(struct vs_proc *p)
{
	for (struct vs_proc **q = &vs_g.sh->procs; *q; q = &(*q)->next)
		if (*q == p) {
			*q = p->next;
			return;
		}
}

/* The table stays (other threads of the process may still look at it
 * until the host ends them); the next fork after the process is gone
 * frees it (vs_proc_fork), or vs_reap. */
void vs_proc_exit(void)
{
	drop_all(vs_g.proc);
	vs_g.proc->exited = 1;
}

int vs_reap(void)
{
	int any = 0;
	for (struct vs_proc *p = vs_g.sh->procs, *next; p; p = next) {
		next = p->next;
		if (p == vs_g.proc || p == vs_g.child || p->pid <= 0 || rt_task_alive(p->pid))
			continue;
		any |= p->nfds > 0;
		drop_all(p);
		unlink_proc(p);
		fsv_sh_free(p);
	}
	return any;
}

struct vs_proc *vs_proc_fork(void)
{
	/* the tables of processes that exited (each fork leaves one: a
	 * shell's or postgres's children would exhaust the arena) */
	for (struct vs_proc *p = vs_g.sh->procs, *next; p; p = next) {
		next = p->next;
		if (p->exited && p != vs_g.proc && !rt_task_alive(p->pid)) {
			unlink_proc(p);
			fsv_sh_free(p);
		}
	}
	struct vs_proc *c = fsv_sh_malloc(sizeof *c);
	if (!c)
		return NULL;
	const struct vs_proc *p = vs_g.proc;
	c->pid = 0;
	c->exited = 0;
	c->nfds = p->nfds;
	for (int i = 0; i < p->nfds; i++) {
		c->fds[i] = p->fds[i];
		c->fds[i].d->refs++;
	}
	c->next = vs_g.sh->procs;
	vs_g.sh->procs = c;
	return c;
}

void vs_proc_free(struct vs_proc *p)
{
	drop_all(p);
	unlink_proc(p);
	fsv_sh_free(p);
}
