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
 * bytes). munmap, mremap and mmap MAP_FIXED over a range drop it; mprotect
 * changes its protection. A process's own: fork copies the table with the
 * mappings. A table, not a set: few files are mapped shared at once. */
#define ALIAS_MAX 256
static struct alias {
	unsigned long lo, hi; /* page-aligned; hi == 0: a free slot */
	uint64_t key, off;    /* key's bytes from off at lo */
	int prot;
} alias[ALIAS_MAX];
static int alias_ever; /* a record was made: until then no call scans the table */

/* Lock held: a free slot, or NULL. */
static struct alias *alias_slot(void)
{
	for (unsigned i = 0; i < ALIAS_MAX; i++)
		if (!alias[i].hi)
			return &alias[i];
	return NULL;
}

/* Lock held: [lo, hi) is no longer aliased; with prot >= 0 it is, with
 * protection prot (mprotect). A middle cut that finds no free slot for its
 * tail loses the tail's record (it is then served as the host maps it). */
static void alias_clip(unsigned long lo, unsigned long hi, int prot)
{
	for (unsigned i = 0; i < ALIAS_MAX; i++) {
		struct alias *p = &alias[i], cut = *p;
		if (!p->hi || hi <= p->lo || lo >= p->hi || p->prot == prot)
			continue;
		if (lo > p->lo && hi < p->hi) { /* the tail keeps a slot of its own */
			struct alias *t = alias_slot();
			if (t)
				*t = (struct alias){hi, p->hi, p->key, p->off + (hi - p->lo), p->prot};
		}
		if (lo <= p->lo && hi >= p->hi) {
			p->hi = 0;
		} else if (lo <= p->lo) { /* the head goes */
			p->off += hi - p->lo;
			p->lo = hi;
		} else { /* the tail, or the middle and the tail, go */
			p->hi = lo;
		}
		if (prot < 0)
			continue;
		/* the cut part, with its new protection */
		struct alias *n = alias_slot();
		unsigned long clo = lo > cut.lo ? lo : cut.lo, chi = hi < cut.hi ? hi : cut.hi;
		if (n)
			*n = (struct alias){clo, chi, cut.key, cut.off + (clo - cut.lo), prot};
	}
}

int rt_vma_alias_add(unsigned long lo, unsigned long hi, uint64_t key, uint64_t off, int prot)
{
	take();
	alias_clip(lo, hi, -1);
	struct alias *n = alias_slot();
	if (n)
		*n = (struct alias){lo, hi, key, off, prot};
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
	 * bytes, same protection: a mapping grown in place is two records) */
	const struct alias *at = NULL;
	for (unsigned i = 0; i < ALIAS_MAX && !at; i++)
		if (alias[i].hi && lo >= alias[i].lo && lo < alias[i].hi)
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
				if (p->hi && p->lo == end && p->key == *key && p->off == next && p->prot == *prot) {
					next += p->hi - p->lo;
					end = p->hi;
					more = 1;
				}
			}
		}
		r = end >= hi ? 1 : -1;
	} else {
		for (unsigned i = 0; i < ALIAS_MAX && !r; i++)
			if (alias[i].hi && hi > alias[i].lo && lo < alias[i].hi)
				r = -1;
	}
	give();
	return r;
}

/* A call that unmaps, replaces or reprotects [a[0], +len) (and mremap's
 * fixed target) ends or changes its aliases. One the kernel refuses for
 * its alignment changes nothing (sqlite unmaps the tail of its mapping at
 * a database page, which may not be a memory page's start): the record
 * must stay, unlike a pristine copy's, whose loss only costs a copy. */
static void alias_before(long nr, const long *a)
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
			alias_before(__NR_munmap, (const long[]){a[4], a[2]});
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
		alias_clip(0, ~0UL, -1);
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
	alias_clip(lo, hi, prot);
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
	alias_before(nr, a);
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
