/* FS shield: the enclave's processes (fs.h), one entry each in the shared
 * arena, made at start-up and by each fork.
 *
 * An entry holds the process's fd table (fs_g.fdt: the description each of
 * its virtual descriptors names, one reference each) and one reference on
 * every file the process maps shared: a shared mapping shows the file's
 * chunks in the arena (fs_mmap.c), which must not be freed, nor given to
 * another file, while any process may still map them. The process lets a
 * file go once the last record of its mappings ended (core/vma.c: a record
 * ends only when the host call that unmaps its range succeeded). A fork
 * gives the child an entry with references of its own: for the mappings
 * it inherits and in a copy of the fd table.
 *
 * A process killed by a signal lets nothing go itself, nor does one that
 * ran exit_group let go of its mappings (its other threads run until the
 * host ends them). Its entry is freed, with its references, once the
 * process is gone: by the next fork or exit of another process of the
 * enclave once its parent has reaped it, or by a flock or F_SETLKW that
 * finds a lock in its way (fs_procs_sweep; after a wait, zombies too). A removed file's chunks are then freed with its last
 * reference (sqlite maps every database it opens), and the flocks and OFD
 * locks of a killed process's descriptions go, as Linux drops them when
 * it dies.
 *
 * The entries also tell the last process: the one whose exit_group finds
 * no other process that lives and did not exit removes the host directory
 * of the FIFO and socket nodes (fs_hostnode.c). A killed process counts as
 * gone, where a count of exits could never reach zero.
 *
 * When an entry cannot be made (the arena is full), the enclave is marked
 * untracked: shared chunks are never freed again and the directory stays;
 * a child then keeps its fd table in its own memory. Until
 * fs_procs_fork_child, a child's fs_g.fdt is its parent's table: nothing
 * before it in the child may touch it (the shields whose fork_child runs
 * first touch no descriptor). Lock held in every function. */
#include "fs.h"
#include "fsv_arena.h"
#include "shared.h"
#include "vma.h"

struct fs_proc {
	struct fs_proc *next;
	int pid;		/* the host's; 0 until the fork that makes it returns */
	uint8_t exited;		/* it ran exit_group: its threads are ending */
	uint32_t n, cap;	/* maps used, and its room */
	struct fsv_node **maps; /* the files it maps shared, one reference each */
	struct fsv_fdtab fds;	/* its fd table (fs_g.fdt), the array in the arena */
};

static struct fsv_arena_shared *sh(void) { return fsv_arena_shared(); }

static uint64_t key(const struct fsv_node *n) { return (uint64_t)(uintptr_t)n; }

static void untracked(void) { sh()->untracked = 1; }

/* Drops p's references (its descriptors' too with fds: its process is
 * gone) and frees it (unlinked). */
static void proc_free(struct fs_proc *p, int fds)
{
	for (uint32_t i = 0; i < p->n; i++)
		fsv_unref(FS(), p->maps[i]);
	fsv_sh_free(p->maps);
	if (fds)
		fsv_fd_orphan(FS(), &p->fds, (uint64_t)p->pid);
	else
		fsv_sh_free(p->fds.v);
	fsv_sh_free(p);
}

/* A copy of table t into to, its array from the arena or (arena 0) the
 * runtime's heap; the references are the caller's. 0 or -ENOMEM. */
static int table_copy(const struct fsv_fdtab *t, struct fsv_fdtab *to, int arena)
{
	*to = *t;
	to->v = NULL;
	if (!t->cap)
		return 0;
	to->v = arena ? fsv_sh_malloc(t->cap * sizeof *to->v) : rt_malloc(t->cap * sizeof *to->v);
	if (!to->v)
		return -ENOMEM;
	memcpy(to->v, t->v, t->cap * sizeof *to->v);
	return 0;
}

static void proc_link(struct fs_proc *p)
{
	p->next = sh()->procs;
	sh()->procs = p;
}

static void proc_unlink(const struct fs_proc *p)
{
	for (struct fs_proc **q = (struct fs_proc **)&sh()->procs; *q; q = &(*q)->next)
		if (*q == p) {
			*q = p->next;
			return;
		}
}

int fs_procs_attach(void)
{
	struct fs_proc *p = fsv_sh_calloc(1, sizeof *p);
	if (!p) {
		untracked();
		return -ENOMEM;
	}
	p->fds = *fs_g.fdt; /* still empty (fs_shield_configure): its bitmaps move in */
	p->pid = (int)host_syscall(__NR_getpid, 0, 0, 0, 0, 0, 0);
	proc_link(p);
	fs_g.proc = p;
	fs_g.fdt = &p->fds;
	return 0;
}

int fs_maps_hold(struct fsv_node *n)
{
	struct fs_proc *p = fs_g.proc;
	if (!p)
		return -ENOMEM;
	for (uint32_t i = 0; i < p->n; i++)
		if (p->maps[i] == n)
			return 0;
	if (p->n == p->cap) {
		uint32_t cap = p->cap ? p->cap * 2 : 8;
		struct fsv_node **m = fsv_sh_malloc(cap * sizeof *m);
		if (!m)
			return -ENOMEM;
		if (p->n)
			memcpy(m, p->maps, p->n * sizeof *m);
		fsv_sh_free(p->maps);
		p->maps = m;
		p->cap = cap;
	}
	p->maps[p->n++] = n;
	fsv_ref(n);
	return 0;
}

/* p's i-th file goes unless a mapping of the process may still show it. */
static void release_at(struct fs_proc *p, uint32_t i)
{
	struct fsv_node *n = p->maps[i];
	if (rt_vma_alias_held(key(n)))
		return;
	p->maps[i] = p->maps[--p->n];
	fsv_unref(FS(), n);
}

struct fsv_node *fs_maps_get(uint64_t k)
{
	const struct fs_proc *p = fs_g.proc;
	for (uint32_t i = 0; p && i < p->n; i++)
		if (key(p->maps[i]) == k) {
			fsv_ref(p->maps[i]);
			return p->maps[i];
		}
	return NULL;
}

void fs_maps_release(struct fsv_node *n)
{
	struct fs_proc *p = fs_g.proc;
	for (uint32_t i = 0; p && i < p->n; i++)
		if (p->maps[i] == n) {
			release_at(p, i);
			return;
		}
}

void fs_maps_drain(void)
{
	uint64_t keys[32];
	int all;
	size_t k = rt_vma_alias_lost(keys, sizeof keys / sizeof keys[0], &all);
	struct fs_proc *p = fs_g.proc;
	if (!p)
		return;
	if (all) { /* from the end: release_at moves the last entry into i */
		for (uint32_t i = p->n; i-- > 0;)
			release_at(p, i);
		return;
	}
	for (size_t j = 0; j < k; j++)
		for (uint32_t i = 0; i < p->n; i++)
			if (key(p->maps[i]) == keys[j]) {
				release_at(p, i);
				break;
			}
}

/* Frees the entries of processes that are gone (not this process's, nor
 * the child's a fork is making). kill(2) tells a process its parent has
 * reaped, one system call per entry; /proc tells a zombie, a read of its
 * stat asked only where it matters: for an entry that holds references
 * (not when quick: fork and exit leave a zombie's references to a later
 * sweep, once its parent reaped it or a flock or F_SETLKW waited), and
 * (want_live) until a live one that did not exit is found. Returns whether
 * a process that did not run exit_group lives (one whose fork has not
 * returned counts). */
static int sweep(int want_live, int quick)
{
	int live = 0;
	for (struct fs_proc **q = (struct fs_proc **)&sh()->procs; *q;) {
		struct fs_proc *p = *q;
		int gone = 0;
		if (p != fs_g.proc && p != fs_g.child && p->pid > 0) {
			if (host_syscall(__NR_kill, p->pid, 0, 0, 0, 0, 0) == -ESRCH)
				gone = 1;
			else if ((!quick && (p->n || p->fds.count)) || (want_live && !live && !p->exited))
				gone = !rt_proc_alive(p->pid);
		}
		if (gone) {
			*q = p->next;
			proc_free(p, 1);
			continue;
		}
		if (p != fs_g.proc && !p->exited)
			live = 1;
		q = &p->next;
	}
	return live;
}

void fs_procs_sweep(int quick)
{
	if (fs_g.proc)
		sweep(0, quick);
}

void fs_procs_fork_prepare(void)
{
	sweep(0, 1);
	const struct fs_proc *p = fs_g.proc;
	struct fs_proc *c = p ? fsv_sh_calloc(1, sizeof *c) : NULL;
	struct fsv_node **m = c && p->n ? fsv_sh_malloc(p->n * sizeof *m) : NULL;
	fs_g.child = NULL;
	if (c && ((p->n && !m) || table_copy(fs_g.fdt, &c->fds, 1))) {
		fsv_sh_free(m);
		fsv_sh_free(c);
		c = NULL;
	}
	if (!c) {
		/* the child keeps its table in its own memory */
		untracked();
		if (table_copy(fs_g.fdt, &fs_g.child_fds, 0))
			rt_fatal(RT_EX_OSERR, "fork: no memory left to copy the descriptor table of the enclave's "
					      "files (raise the enclave's heap: scone-build convert --heap)");
		return;
	}
	for (uint32_t i = 0; i < p->n; i++) {
		m[i] = p->maps[i];
		fsv_ref(m[i]);
	}
	c->maps = m;
	c->n = c->cap = p->n;
	proc_link(c);
	fs_g.child = c;
}

void fs_procs_fork_parent(long pid)
{
	struct fs_proc *c = fs_g.child;
	fs_g.child = NULL;
	rt_free(fs_g.child_fds.v); /* the child's, when it had no entry */
	fs_g.child_fds.v = NULL;
	if (!c)
		return;
	if (pid > 0) {
		c->pid = (int)pid;
		return;
	}
	proc_unlink(c);
	proc_free(c, 0); /* the descriptors' references go back with the parent's (fs_shield.c) */
}

void fs_procs_fork_child(void)
{
	fs_g.proc = fs_g.child;
	fs_g.child = NULL;
	if (fs_g.proc) {
		fs_g.fdt = &fs_g.proc->fds;
	} else {
		fs_g.fds_own = fs_g.child_fds;
		fs_g.child_fds.v = NULL;
		fs_g.fdt = &fs_g.fds_own;
	}
}

void fs_procs_exit(void)
{
	if (fs_g.proc)
		fs_g.proc->exited = 1;
	if (!sweep(1, 1) && !sh()->untracked)
		fs_host_nodes_exit();
}
