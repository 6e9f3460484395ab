/* The runtime allocator: rt_malloc/rt_calloc/rt_free over the runtime region
 * (mmap-backed, never brk). Small sizes come from power-of-two size classes
 * (16 B .. 4 KiB) carved out of 64 KiB runs; larger sizes are page runs that
 * are kept on a free list after rt_free. Up to HOT_MAX bytes of them keep
 * their pages; beyond that a freed run's pages are returned to the kernel
 * with MADV_DONTNEED. (Returning every run cost a host call per sendfile of
 * a protected file and per TLS connection, and page faults when the run
 * was used again.) A large run is zeroed when it is handed out: fresh
 * memory is; a reused run is cleared where it may hold old bytes (all of
 * a kept one, the first page of a returned one). Runtime code came to rely
 * on zeros past a run's first page, and converted MariaDB's bootstrap hung
 * under load when kept runs came back with their old bytes. One spinlock
 * (atomics) makes it thread-safe; the allocator is not on the per-syscall
 * fast path. */
#include <stdint.h>
#include "rt_alloc.h"
#include "region.h"
#include "rtstring.h"
#include "sys.h"

#define HDR 16
#define NCLASS 9 /* 16 << 0 .. 16 << 8 = 4096 */
#define RUN (64 * 1024)
#define MAGIC_SMALL 0x5c0e5a11UL
#define MAGIC_LARGE 0x5c0e1a26UL
#define MAGIC_FREE 0x5c0ef4eeUL
#define MAGIC_FREE_HOT 0x5c0ef407UL /* a free large run whose pages are kept */
#define HOT_MAX (4UL << 20)

struct hdr {
	size_t size; /* class size (user bytes) or total mapping bytes for large */
	unsigned long magic;
};
struct freeblk {
	struct freeblk *next;
};

static struct freeblk *freelist[NCLASS];
static char *run_cur[NCLASS];
static char *run_end[NCLASS];
static struct hdr *large_free; /* singly linked through the first word after the header */
static size_t hot_bytes;       /* free large runs that keep their pages */
static volatile int lock;

static void lk(void)
{
	while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&lock, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}
static void unlk(void) { __atomic_store_n(&lock, 0, __ATOMIC_RELEASE); }

static int class_of(size_t n)
{
	size_t sz = 16;
	for (int c = 0; c < NCLASS; c++, sz <<= 1)
		if (n <= sz)
			return c;
	return -1;
}

static void *small_alloc(int c)
{
	size_t sz = (size_t)16 << c;
	struct freeblk *f = freelist[c];
	if (f) {
		freelist[c] = f->next;
		struct hdr *h = (struct hdr *)((char *)f - HDR);
		h->magic = MAGIC_SMALL;
		return f;
	}
	if (!run_cur[c] || run_cur[c] + HDR + sz > run_end[c]) {
		char *r = rt_region_alloc(RUN, RT_PAGE);
		if (!r)
			return 0;
		run_cur[c] = r;
		run_end[c] = r + RUN;
	}
	struct hdr *h = (struct hdr *)run_cur[c];
	run_cur[c] += HDR + sz;
	h->size = sz;
	h->magic = MAGIC_SMALL;
	return (char *)h + HDR;
}

static void *large_alloc(size_t n)
{
	size_t total = (n + HDR + RT_PAGE - 1) & ~(RT_PAGE - 1);
	struct hdr **pp = &large_free;
	while (*pp) {
		struct hdr *h = *pp;
		if (h->size >= total && h->size <= 2 * total) {
			*pp = *(struct hdr **)((char *)h + HDR);
			/* handed out zeroed (alloc.c's header): a kept run
			 * whole, a returned one in its first page, the one
			 * MADV_DONTNEED left for the header */
			if (h->magic == MAGIC_FREE_HOT) {
				hot_bytes -= h->size;
				memset((char *)h + HDR, 0, h->size - HDR);
			} else {
				memset((char *)h + HDR, 0, RT_PAGE - HDR);
			}
			h->magic = MAGIC_LARGE;
			return (char *)h + HDR;
		}
		pp = (struct hdr **)((char *)h + HDR);
	}
	struct hdr *h = rt_region_alloc(total, RT_PAGE);
	if (!h)
		return 0;
	h->size = total;
	h->magic = MAGIC_LARGE;
	return (char *)h + HDR;
}

void *rt_malloc(size_t n)
{
	if (n > ((size_t)1 << 40))
		return 0;
	int c = class_of(n ? n : 1);
	lk();
	void *p = c >= 0 ? small_alloc(c) : large_alloc(n);
	unlk();
	return p;
}

void *rt_calloc(size_t n, size_t size)
{
	if (size && n > (size_t)-1 / size)
		return 0;
	void *p = rt_malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

static __attribute__((noreturn)) void heap_corrupt(void)
{
	static const char m[] = "scone-run: runtime heap corruption (bad or double rt_free)\n";
	rt_write(2, m, sizeof m - 1);
	rt_exit_group(70);
}

void rt_free(void *p)
{
	if (!p)
		return;
	struct hdr *h = (struct hdr *)((char *)p - HDR);
	lk();
	if (h->magic == MAGIC_SMALL) {
		int c = class_of(h->size);
		if (c < 0 || ((size_t)16 << c) != h->size) {
			unlk();
			heap_corrupt();
		}
		h->magic = MAGIC_FREE;
		struct freeblk *f = p;
		f->next = freelist[c];
		freelist[c] = f;
	} else if (h->magic == MAGIC_LARGE) {
		if (hot_bytes + h->size <= HOT_MAX) {
			h->magic = MAGIC_FREE_HOT;
			hot_bytes += h->size;
		} else {
			h->magic = MAGIC_FREE;
			if (h->size > RT_PAGE)
				rt_sys3(__NR_madvise, (char *)h + RT_PAGE, h->size - RT_PAGE, RT_MADV_DONTNEED);
		}
		*(struct hdr **)p = large_free;
		large_free = h;
	} else {
		unlk();
		heap_corrupt();
	}
	unlk();
}

/* fork (fork.h): held across the host fork so that no other thread's
 * half-done allocation is copied into the child; released in both. */
void rt_alloc_fork_prepare(void) { lk(); }
void rt_alloc_fork_release(void) { unlk(); }
