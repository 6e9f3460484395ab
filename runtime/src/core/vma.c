/* Live mappings and the Iago check of fresh ones (vma.h). */
#include "vma.h"
#include "locks.h"
#include "ivset.h"
#include "region.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

/* Below a [stack] mapping the kernel grows the stack on faults (up to the
 * stack rlimit, 8 MiB by default) and keeps a guard gap; mmap never places
 * anything there (mmap_base is at least 128 MiB below the stack top). */
#define STACK_RESERVE (9UL << 20)

static struct rt_ivset live, hostfile, shared;
static int remap_shared;
static void take(void) { rt_lock(&rt_vma_lock); }
static void give(void) { rt_unlock(&rt_vma_lock); }

static unsigned long pages(unsigned long len) { return (len + RT_PAGE - 1) & ~(RT_PAGE - 1); }

static void nomem(void) { rt_fatal(RT_EX_OSERR, "out of memory tracking the application's mappings"); }

/* Copies of immutable content (rt_vma_pristine_add) whose bytes nothing
 * could have changed since: never writable, unmapped, moved, replaced or
 * advised. Dynamic loaders map a library whole and then each segment
 * MAP_FIXED over that mapping at the same file offsets (glibc's and musl's
 * ld.so): the FS shield then finds the segment there already
 * (core/mmapcopy.c). A process's own: fork copies the table with the
 * mappings it describes. */
#define PRISTINE_MAX 64
static struct pristine {
	unsigned long lo, hi; /* page-aligned; hi == 0: a free slot */
	uint64_t key, off;    /* the content at lo: key's bytes from off */
} pristine[PRISTINE_MAX];
static unsigned pristine_next; /* the slot to reuse when all are taken */

/* Lock held: [lo, hi) no longer holds pristine copies. */
static void pristine_clip(unsigned long lo, unsigned long hi)
{
	for (unsigned i = 0; i < PRISTINE_MAX; i++) {
		struct pristine *p = &pristine[i];
		if (!p->hi || hi <= p->lo || lo >= p->hi)
			continue;
		if (lo <= p->lo && hi >= p->hi) {
			p->hi = 0;
		} else if (lo <= p->lo) { /* the head goes */
			p->off += hi - p->lo;
			p->lo = hi;
		} else if (hi >= p->hi) { /* the tail goes */
			p->hi = lo;
		} else { /* the middle goes: the tail keeps a slot if one is free */
			for (unsigned j = 0; j < PRISTINE_MAX; j++)
				if (!pristine[j].hi) {
					pristine[j] = (struct pristine){hi, p->hi, p->key, p->off + (hi - p->lo)};
					break;
				}
			p->hi = lo;
		}
	}
}

void rt_vma_pristine_add(unsigned long lo, unsigned long hi, uint64_t key, uint64_t off)
{
	take();
	pristine_clip(lo, hi);
	unsigned i = 0;
	while (i < PRISTINE_MAX && pristine[i].hi)
		i++;
	if (i == PRISTINE_MAX)
		i = pristine_next++ % PRISTINE_MAX;
	pristine[i] = (struct pristine){lo, hi, key, off};
	give();
}

int rt_vma_pristine(unsigned long lo, unsigned long hi, uint64_t key, uint64_t off)
{
	int r = 0;
	take();
	for (unsigned i = 0; i < PRISTINE_MAX && !r; i++) {
		const struct pristine *p = &pristine[i];
		r = p->hi && p->key == key && lo >= p->lo && hi <= p->hi && off >= p->off && off - p->off == lo - p->lo;
	}
	give();
	return r;
}

/* A call that may change the bytes of [a[0], +len) (and of mremap's fixed
 * target) ends its pristine state. */
static void pristine_before(long nr, const long *a)
{
	unsigned long len = (unsigned long)a[1];
	switch (nr) {
	case __NR_mmap:
		if (!(a[3] & RT_MAP_FIXED)) /* a new mapping never lands on a live one */
			return;
		break;
	case __NR_mprotect:
	case __NR_pkey_mprotect:
		if (!(a[2] & RT_PROT_WRITE))
			return;
		break;
	case __NR_mremap: /* the old range, moved or resized, and a fixed target */
		if (a[3] & 2 /* MREMAP_FIXED */)
			pristine_before(__NR_munmap, (const long[]){a[4], a[2]});
		break;
	case __NR_munmap:
	case __NR_madvise: /* DONTNEED, FREE, REMOVE, WIPEONFORK, ...: all count */
		break;
	case __NR_shmat: /* SHM_REMAP replaces a range of unknown length */
		if (!(a[2] & 040000))
			return;
		take();
		pristine_clip(0, ~0UL);
		give();
		return;
	default:
		return;
	}
	unsigned long lo = (unsigned long)a[0] & ~(RT_PAGE - 1), hi = pages((unsigned long)a[0] + len);
	if (hi < lo) /* wraps: the kernel refuses it */
		return;
	take();
	pristine_clip(lo, hi);
	give();
}

/* Mappings of a file's own memory (rt_vma_alias_add): a shield's aliases
 * of shared pages, which the host's mremap cannot grow or copy (it would
 * map the pages that follow in the shared object, not the file's next
 * bytes). munmap, mremap and mmap MAP_FIXED over a range end it once the
 * host call succeeded; mprotect changes its protection. A process's own:
 * fork copies the table with the mappings. A table, not a set: few files
 * are mapped shared at once.
 *
 * The shield holds a reference on each file the process maps (its chunks
 * must not be freed while a mapping shows them) and lets it go when the
 * last record of the file has ended (rt_vma_alias_lost, rt_vma_alias_held).
 * A record therefore ends only when its range is known to be unmapped:
 * before the host call the range is marked dying (its own record, with the
 * call's arguments as a token), and the call's result ends it or brings it
 * back (rt_vma_after). A range whose record is lost without that (no slot
 * left for a piece, shmat SHM_REMAP) pins its file: the process never lets
 * it go. */
#define ALIAS_MAX 256
static struct alias {
	unsigned long lo, hi; /* page-aligned; hi == 0: a free slot */
	uint64_t key, off;    /* key's bytes from off at lo */
	int prot;
	const long *dying; /* the arguments of the host call in flight that unmaps it; NULL: live */
} alias[ALIAS_MAX];
static int alias_ever;	/* a record was made: until then no call scans the table */
static int alias_dying; /* records marked dying: rt_vma_after looks for its call's */
static void dying_add(int d) { __atomic_add_fetch(&alias_dying, d, __ATOMIC_ACQ_REL); }

/* Keys that lost a record since the shield last asked: a hint (the shield
 * asks rt_vma_alias_held before it lets a key go). lost_all: the list
 * overflowed, any key may have. */
#define LOST_MAX 64
static uint64_t lost[LOST_MAX];
static unsigned nlost;
static int lost_all, lost_any;

/* Keys whose memory may stay mapped without a record; pin_all: the list
 * overflowed, no key is let go. */
#define PINNED_MAX 64
static uint64_t pinned[PINNED_MAX];
static unsigned npinned;
static int pin_all;

/* Lock held: a free slot, or NULL. */
static struct alias *alias_slot(void)
{
	for (unsigned i = 0; i < ALIAS_MAX; i++)
		if (!alias[i].hi)
			return &alias[i];
	return NULL;
}

static unsigned alias_free(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < ALIAS_MAX; i++)
		n += !alias[i].hi;
	return n;
}

static void lose(uint64_t key)
{
	unsigned i = 0;
	while (i < nlost && lost[i] != key)
		i++;
	if (i == nlost) {
		if (nlost < LOST_MAX)
			lost[nlost++] = key;
		else
			lost_all = 1;
	}
	__atomic_store_n(&lost_any, 1, __ATOMIC_RELEASE);
}

static void pin(uint64_t key)
{
	for (unsigned i = 0; i < npinned; i++)
		if (pinned[i] == key)
			return;
	if (npinned < PINNED_MAX)
		pinned[npinned++] = key;
	else
		pin_all = 1;
}

/* Lock held: p's record ends. */
static void alias_end(struct alias *p)
{
	if (p->dying)
		dying_add(-1);
	lose(p->key);
	*p = (struct alias){0};
}

/* Lock held: [lo, hi) of record p (which it meets) becomes a record of its
 * own, which is returned; NULL when the slots for the pieces around it are
 * missing (p unchanged). */
static struct alias *alias_isolate(struct alias *p, unsigned long lo, unsigned long hi)
{
	unsigned need = (lo > p->lo) + (hi < p->hi);
	if (need && alias_free() < need)
		return NULL;
	if (p->dying)
		dying_add((int)need);
	if (hi < p->hi) {
		struct alias *t = alias_slot();
		*t = *p;
		t->lo = hi;
		t->off = p->off + (hi - p->lo);
		p->hi = hi;
	}
	if (lo > p->lo) {
		struct alias *m = alias_slot();
		*m = *p;
		m->lo = lo;
		m->off = p->off + (lo - p->lo);
		p->hi = lo;
		return m;
	}
	return p;
}

/* Lock held: [lo, hi) is no longer mapped (token NULL: now; else once the
 * host call with arguments token succeeds), or (prot >= 0, mprotect) has
 * protection prot. A piece that finds no slot ends its whole record and
 * pins its file (the ranges around it are then served as the host maps
 * them). */
static void alias_clip(unsigned long lo, unsigned long hi, int prot, const long *token)
{
	for (unsigned i = 0; i < ALIAS_MAX; i++) {
		struct alias *p = &alias[i];
		if (!p->hi || hi <= p->lo || lo >= p->hi)
			continue;
		if (prot >= 0 || token) { /* a call in flight leaves dying ranges to their own call */
			if (p->dying || (prot >= 0 && p->prot == prot))
				continue;
		}
		struct alias *m = alias_isolate(p, lo, hi);
		if (!m) {
			pin(p->key);
			alias_end(p);
		} else if (prot >= 0) {
			m->prot = prot;
		} else if (token) {
			m->dying = token;
			dying_add(1);
		} else {
			alias_end(m);
		}
	}
}

int rt_vma_alias_add(unsigned long lo, unsigned long hi, uint64_t key, uint64_t off, int prot)
{
	take();
	alias_clip(lo, hi, -1, NULL);
	struct alias *n = alias_slot();
	if (n)
		*n = (struct alias){lo, hi, key, off, prot, NULL};
	__atomic_store_n(&alias_ever, 1, __ATOMIC_RELEASE);
	give();
	return n ? 0 : -1;
}

int rt_vma_alias(unsigned long lo, unsigned long hi, uint64_t *key, uint64_t *off, int *prot)
{
	int r = 0;
	if (!__atomic_load_n(&alias_ever, __ATOMIC_ACQUIRE))
		return 0; /* mremap of anonymous memory (realloc) in a process that never mapped a file shared */
	take();
	/* the record at lo, then those that continue it (same file, next
	 * bytes, same protection: a mapping grown in place is two records);
	 * dying ones are being unmapped */
	const struct alias *at = NULL;
	for (unsigned i = 0; i < ALIAS_MAX && !at; i++)
		if (alias[i].hi && !alias[i].dying && lo >= alias[i].lo && lo < alias[i].hi)
			at = &alias[i];
	if (at) {
		*key = at->key;
		*off = at->off + (lo - at->lo);
		*prot = at->prot;
		unsigned long end = at->hi;
		uint64_t next = at->off + (at->hi - at->lo);
		for (int more = 1; end < hi && more;) {
			more = 0;
			for (unsigned i = 0; i < ALIAS_MAX && !more; i++) {
				const struct alias *p = &alias[i];
				if (p->hi && !p->dying && p->lo == end && p->key == *key && p->off == next &&
				    p->prot == *prot) {
					next += p->hi - p->lo;
					end = p->hi;
					more = 1;
				}
			}
		}
		r = end >= hi ? 1 : -1;
	} else {
		for (unsigned i = 0; i < ALIAS_MAX && !r; i++)
			if (alias[i].hi && !alias[i].dying && hi > alias[i].lo && lo < alias[i].hi)
				r = -1;
	}
	give();
	return r;
}

int rt_vma_alias_held(uint64_t key)
{
	int r = 0;
	take();
	r = pin_all;
	for (unsigned i = 0; i < npinned && !r; i++)
		r = pinned[i] == key;
	for (unsigned i = 0; i < ALIAS_MAX && !r; i++)
		r = alias[i].hi && alias[i].key == key;
	give();
	return r;
}

size_t rt_vma_alias_lost(uint64_t *keys, size_t cap, int *all)
{
	*all = 0;
	if (!__atomic_load_n(&lost_any, __ATOMIC_ACQUIRE))
		return 0;
	take();
	size_t n = nlost < cap ? nlost : cap;
	for (size_t i = 0; i < n; i++)
		keys[i] = lost[i];
	*all = lost_all || nlost > cap;
	nlost = 0;
	lost_all = 0;
	__atomic_store_n(&lost_any, 0, __ATOMIC_RELEASE);
	give();
	return n;
}

int rt_vma_alias_lost_any(void) { return __atomic_load_n(&lost_any, __ATOMIC_ACQUIRE); }

/* A call that unmaps, replaces or reprotects [a[0], +len) (and mremap's
 * fixed target) ends or changes its aliases: an end is marked with the
 * call's arguments a (token) until rt_vma_after has its result. One the
 * kernel refuses for its alignment changes nothing (sqlite unmaps the tail
 * of its mapping at a database page, which may not be a memory page's
 * start): the record must stay, unlike a pristine copy's, whose loss only
 * costs a copy. */
static void alias_before(long nr, const long *a, const long *token)
{
	unsigned long len = (unsigned long)a[1];
	int prot = -1;
	if (!__atomic_load_n(&alias_ever, __ATOMIC_ACQUIRE))
		return;
	switch (nr) {
	case __NR_mmap:
		if (!(a[3] & RT_MAP_FIXED))
			return;
		break;
	case __NR_mprotect:
	case __NR_pkey_mprotect:
		prot = (int)a[2];
		break;
	case __NR_mremap:
		if (a[3] & 2 /* MREMAP_FIXED */) {
			if ((unsigned long)a[4] & (RT_PAGE - 1))
				return; /* EINVAL */
			alias_before(__NR_munmap, (const long[]){a[4], a[2]}, token);
		}
		if (a[3] & 4 /* MREMAP_DONTUNMAP: the old mapping stays */)
			return;
		break;
	case __NR_munmap:
		break;
	case __NR_shmat: /* SHM_REMAP replaces a range of unknown length */
		if (!(a[2] & 040000))
			return;
		take();
		for (unsigned i = 0; i < ALIAS_MAX; i++)
			if (alias[i].hi) {
				pin(alias[i].key);
				alias_end(&alias[i]);
			}
		give();
		return;
	default:
		return;
	}
	if ((unsigned long)a[0] & (RT_PAGE - 1))
		return; /* EINVAL */
	unsigned long lo = (unsigned long)a[0] & ~(RT_PAGE - 1), hi = pages((unsigned long)a[0] + len);
	if (hi <= lo) /* empty, or wraps: the kernel refuses it */
		return;
	take();
	alias_clip(lo, hi, prot, prot >= 0 ? NULL : token);
	give();
}

/* The host call with arguments a ended with r: its dying ranges end, or
 * (it failed: the mappings stay) live again. */
static void alias_after(const long *a, long r)
{
	if (!__atomic_load_n(&alias_dying, __ATOMIC_ACQUIRE))
		return;
	take();
	for (unsigned i = 0; i < ALIAS_MAX; i++) {
		struct alias *p = &alias[i];
		if (!p->hi || p->dying != a)
			continue;
		if (rt_is_err(r)) {
			p->dying = NULL;
			dying_add(-1);
		} else {
			alias_end(p);
		}
	}
	give();
}

void rt_vma_init(const char *maps)
{
	take();
	rt_ivset_free(&live);
	if (rt_ivset_add(&live, RT_REGION_BASE, RT_REGION_END))
		nomem();
	for (const char *l = maps; *l;) {
		const char *p = l;
		unsigned long lo = rt_parse_hexnum(&p);
		if (*p == '-') {
			p++;
			unsigned long hi = rt_parse_hexnum(&p);
			const char *eol = p;
			while (*eol && *eol != '\n')
				eol++;
			int stack = eol - p >= 7 && !rt_strncmp(eol - 7, "[stack]", 7);
			if (stack && lo > STACK_RESERVE)
				lo -= STACK_RESERVE;
			if (hi > lo && hi <= 0x800000000000UL && rt_ivset_add(&live, lo, hi))
				nomem();
			p = eol;
		}
		while (*p && *p != '\n')
			p++;
		l = *p ? p + 1 : p;
	}
	give();
}

int rt_vma_host_file(unsigned long addr, unsigned long len)
{
	take();
	int r = rt_ivset_overlaps(&hostfile, addr, addr + pages(len));
	give();
	return r;
}

int rt_vma_shared(unsigned long addr, unsigned long len)
{
	take();
	int r = rt_ivset_overlaps(&shared, addr, addr + len);
	give();
	return r;
}

int rt_vma_in_use(unsigned long addr, unsigned long len)
{
	take();
	int r = rt_ivset_overlaps(&live, addr, addr + len);
	give();
	return r;
}

static __attribute__((noreturn)) void aliased(const char *call, unsigned long addr, unsigned long len)
{
	rt_fatal(RT_EX_SOFTWARE,
		 "host returned an impossible result for %s: [%p, +%lx) overlaps memory the application is using "
		 "(a new mapping never does): refusing to continue",
		 call, (void *)addr, len);
}

/* Ranges leave the set before the host call: once the host has unmapped
 * them, another thread's mmap may get them at once, and must not be taken
 * for a lie. A call that fails only leaves a check undone. */
/* Whether the range of the mremap in flight was a host file's (set by
 * rt_vma_before for rt_vma_after; mremap calls of several threads at once
 * may only mark a moved range a host file's when one of them was). */
static int remap_file;

void rt_vma_before(long nr, const long *a)
{
	pristine_before(nr, a);
	alias_before(nr, a, a);
	unsigned long lo = (unsigned long)a[0], len;
	switch (nr) {
	case __NR_munmap:
		len = pages((unsigned long)a[1]);
		break;
	case __NR_mremap:
		if (a[3] & 4 /* MREMAP_DONTUNMAP: the old mapping stays */)
			return;
		len = pages((unsigned long)a[1]);
		break;
	default:
		return;
	}
	take();
	if (nr == __NR_mremap && rt_ivset_overlaps(&hostfile, lo, lo + len))
		__atomic_store_n(&remap_file, 1, __ATOMIC_RELEASE);
	if (nr == __NR_mremap && rt_ivset_overlaps(&shared, lo, lo + len))
		__atomic_store_n(&remap_shared, 1, __ATOMIC_RELEASE);
	if (rt_ivset_remove(&live, lo, lo + len) || rt_ivset_remove(&hostfile, lo, lo + len) ||
	    rt_ivset_remove(&shared, lo, lo + len))
		nomem();
	give();
}

void rt_vma_after(long nr, const long *a, long r)
{
	alias_after(a, r);
	if (rt_is_err(r))
		return;
	switch (nr) {
	case __NR_mmap: {
		unsigned long len = pages((unsigned long)a[1]), addr = (unsigned long)r;
		int fixed = (a[3] & RT_MAP_FIXED) && !(a[3] & RT_MAP_FIXED_NOREPLACE);
		if (addr + len < addr)
			aliased("mmap", addr, len);
		take();
		if (!fixed && rt_ivset_overlaps(&live, addr, addr + len)) {
			give();
			aliased("mmap", addr, len);
		}
		if (rt_ivset_add(&live, addr, addr + len))
			nomem();
		int file = !(a[3] & RT_MAP_ANONYMOUS) && a[4] >= 0;
		if (file ? rt_ivset_add(&hostfile, addr, addr + len) : rt_ivset_remove(&hostfile, addr, addr + len))
			nomem();
		if ((a[3] & RT_MAP_SHARED) ? rt_ivset_add(&shared, addr, addr + len) :
					     rt_ivset_remove(&shared, addr, addr + len))
			nomem();
		give();
		break;
	}
	case __NR_mremap: {
		/* the old range left the set before the call (rt_vma_before) */
		unsigned long nlen = pages((unsigned long)a[2]), addr = (unsigned long)r;
		int fixed = (a[3] & 2 /* MREMAP_FIXED */) != 0;
		int moved_file = __atomic_exchange_n(&remap_file, 0, __ATOMIC_ACQ_REL);
		int moved_shared = __atomic_exchange_n(&remap_shared, 0, __ATOMIC_ACQ_REL);
		take();
		if (!fixed && rt_ivset_overlaps(&live, addr, addr + nlen)) {
			give();
			aliased("mremap", addr, nlen);
		}
		if (rt_ivset_add(&live, addr, addr + nlen))
			nomem();
		/* a moved host-file mapping stays one (the old range left the
		 * host-file set before the call only when it was unmapped) */
		if (moved_file && rt_ivset_add(&hostfile, addr, addr + nlen))
			nomem();
		if (moved_shared && rt_ivset_add(&shared, addr, addr + nlen))
			nomem();
		give();
		break;
	}
	}
}
