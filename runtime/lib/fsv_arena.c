/* Shared arena of the ephemeral file system (fsv_arena.h). */
#include <linux/errno.h>
#include <string.h>
#include "fsv_arena.h"
#include "rt_alloc.h"
#include "rlock.h"

#define A_MAGIC 0x5c0eaa11f5a7e4aULL
#define HDR 16
#define MIN_SHIFT 4  /* 16 bytes */
#define MAX_SHIFT 31 /* 2 GiB */
#define NCLASS (MAX_SHIFT - MIN_SHIFT + 1)
#define B_USED 0x5c0eb10cU
#define B_FREE 0x5c0ef4e1U

struct blk {
	uint32_t cls;	/* size class: block payload is 16 << cls bytes */
	uint32_t magic; /* B_USED / B_FREE */
	uint64_t pad;
};

/* A free page block: its first bytes while on the free list. */
struct pblk {
	uint64_t magic; /* P_FREE */
	struct pblk *next, *prev;
};
#define P_FREE 0x5c0ef4e1b10cf4eeULL

struct arena {
	uint64_t magic;
	volatile int lock;
	size_t size;
	size_t bump; /* offset of fresh memory for the size classes, growing up */
	size_t top;  /* offset of the lowest page block handed out, growing down */
	size_t top0; /* where page blocks start: block i is at top0 - (i + 1) * FSV_ARENA_PAGES */
	size_t tmin; /* the lowest top so far: blocks below it were never handed out (zero) */
	size_t pmap; /* offset of a bitmap, one bit per page block: on the free list */
	size_t used; /* payload bytes in use (statistics) */
	void *freelist[NCLASS];
	struct pblk *pfree; /* free page blocks */
	struct fsv_arena_shared shared;
};

/* The same address in every process (the mapping is inherited by fork). */
static struct arena *A;
static const struct rlock_ops *lock_ops;

static void lk(void) { rlock_lock(&A->lock, lock_ops); }
static void unlk(void) { rlock_unlock(&A->lock, lock_ops); }

int fsv_arena_init(void *base, size_t size, const struct rlock_ops *ops)
{
	if (!base || ((uintptr_t)base & 15) || size < 65536 || !ops)
		return -EINVAL;
	lock_ops = ops;
	struct arena *a = base;
	memset(a, 0, sizeof *a);
	a->magic = A_MAGIC;
	a->size = size;
	a->bump = (sizeof *a + 15) & ~(size_t)15;
	/* page blocks start at a page boundary, whatever base's alignment */
	a->top = a->top0 = a->tmin =
		(size_t)((((uintptr_t)base + size) & ~(uintptr_t)(FSV_ARENA_PAGE - 1)) - (uintptr_t)base);
	/* the free blocks' bitmap: a freed block at the top gives its room
	 * back, and with it the free blocks just above it (pages_free) */
	size_t nblk = a->top0 / FSV_ARENA_PAGES;
	a->pmap = a->bump;
	a->bump = (a->bump + (nblk + 7) / 8 + 15) & ~(size_t)15;
	if (a->bump > a->top)
		return -EINVAL;
	A = a;
	return 0;
}

static size_t pidx(size_t off) { return (A->top0 - off) / FSV_ARENA_PAGES - 1; }
static uint8_t *pbyte(size_t off) { return (uint8_t *)A + A->pmap + pidx(off) / 8; }
static int pfree_bit(size_t off) { return (*pbyte(off) >> (pidx(off) % 8)) & 1; }
static void pfree_set(size_t off, int on)
{
	if (on)
		*pbyte(off) |= (uint8_t)(1u << (pidx(off) % 8));
	else
		*pbyte(off) &= (uint8_t) ~(1u << (pidx(off) % 8));
}

static void punlink(struct pblk *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		A->pfree = p->next;
	if (p->next)
		p->next->prev = p->prev;
	pfree_set((size_t)((char *)p - (char *)A), 0);
}

int fsv_arena_active(void) { return A != 0; }
struct fsv_arena_shared *fsv_arena_shared(void) { return A ? &A->shared : 0; }
size_t fsv_arena_size(void) { return A ? A->size : 0; }
size_t fsv_arena_used(void)
{
	if (!A)
		return 0;
	lk();
	size_t n = A->bump + (A->size - A->top);
	unlk();
	return n;
}

int fsv_arena_contains(const void *p)
{
	uintptr_t x = (uintptr_t)p, b = (uintptr_t)A;
	return A && x >= b && x < b + A->size;
}

static int class_of(size_t n)
{
	for (int c = 0; c < NCLASS; c++)
		if (n <= ((size_t)1 << (c + MIN_SHIFT)))
			return c;
	return -1;
}

void *fsv_sh_malloc(size_t n)
{
	if (!A)
		return rt_malloc(n);
	int c = class_of(n ? n : 1);
	if (c < 0)
		return 0;
	size_t sz = (size_t)1 << (c + MIN_SHIFT);
	lk();
	struct blk *b = A->freelist[c];
	if (b) {
		if (b->magic != B_FREE || b->cls != (uint32_t)c) {
			unlk();
			return 0; /* corrupted free list: refuse rather than hand out garbage */
		}
		A->freelist[c] = *(void **)(b + 1);
	} else {
		if (A->top - A->bump < HDR + sz) {
			unlk();
			return 0;
		}
		b = (struct blk *)((char *)A + A->bump);
		A->bump += HDR + sz;
		b->cls = (uint32_t)c;
	}
	b->magic = B_USED;
	A->used += sz;
	unlk();
	return b + 1;
}

void *fsv_sh_calloc(size_t n, size_t size)
{
	if (size && n > (size_t)-1 / size)
		return 0;
	void *p = fsv_sh_malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void fsv_sh_free(void *p)
{
	if (!p)
		return;
	if (!fsv_arena_contains(p)) {
		rt_free(p);
		return;
	}
	struct blk *b = (struct blk *)p - 1;
	lk();
	if (b->magic != B_USED || b->cls >= NCLASS) {
		unlk();
		__builtin_trap(); /* double free or corruption */
	}
	b->magic = B_FREE;
	A->used -= (size_t)1 << (b->cls + MIN_SHIFT);
	*(void **)p = A->freelist[b->cls];
	A->freelist[b->cls] = b;
	unlk();
}

void *fsv_sh_pages(void)
{
	if (!A)
		return rt_calloc(1, FSV_ARENA_PAGES);
	lk();
	struct pblk *p = A->pfree;
	int fresh = 0;
	if (p) {
		if (p->magic != P_FREE) {
			unlk();
			return 0; /* corrupted free list */
		}
		punlink(p);
	} else if (A->top - A->bump >= FSV_ARENA_PAGES) {
		A->top -= FSV_ARENA_PAGES;
		p = (struct pblk *)((char *)A + A->top);
		/* below every top so far: never handed out, still zero; above
		 * it, a block given back by pages_free, with its old content */
		fresh = A->top < A->tmin;
		if (fresh)
			A->tmin = A->top;
	}
	if (p)
		A->used += FSV_ARENA_PAGES;
	unlk();
	if (p && !fresh)
		memset(p, 0, FSV_ARENA_PAGES);
	else if (p)
		memset(p, 0, sizeof *p); /* fresh memory is zero: only a reused block's header is not */
	return p;
}

void fsv_sh_pages_free(void *q)
{
	if (!q)
		return;
	if (!fsv_arena_contains(q)) {
		rt_free(q);
		return;
	}
	struct pblk *p = q;
	uintptr_t off = (uintptr_t)q - (uintptr_t)A;
	lk();
	if (off < A->top || ((uintptr_t)q & (FSV_ARENA_PAGE - 1)) || p->magic == P_FREE) {
		unlk();
		__builtin_trap(); /* not a page block, or freed twice */
	}
	p->magic = P_FREE;
	p->prev = NULL;
	p->next = A->pfree;
	if (p->next)
		p->next->prev = p;
	A->pfree = p;
	pfree_set(off, 1);
	A->used -= FSV_ARENA_PAGES;
	/* The lowest blocks free: their room goes back to the size classes,
	 * which grow up towards it (a large file removed, or a shared mapping
	 * that could not be had, must not leave small allocations without
	 * room while the blocks wait for reuse). */
	while (A->top < A->top0 && pfree_bit(A->top)) {
		punlink((struct pblk *)((char *)A + A->top));
		A->top += FSV_ARENA_PAGES;
	}
	unlk();
}
