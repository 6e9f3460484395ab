/* Stub segments' site tables (stubmap.h), under rt_stubs_lock. */
#include "stubmap.h"
#include <stdint.h>
#include "loader.h"
#include "locks.h"
#include "rt_alloc.h"
#include "rtstring.h"

/* A site table entry (pkg/rewrite doc.go). */
struct site {
	uint32_t stub; /* the stub's offset in the segment */
	int32_t start; /* the patched range's start, from the segment */
	uint8_t sc;    /* the syscall's offset in the range */
	uint8_t len;   /* the range's length */
	uint16_t zero;
	uint32_t zero2;
};
_Static_assert(sizeof(struct site) == 16, "site table entry");

/* Where the stub runs what the original range holds: its displaced
 * instructions before the syscall from the stub's start, the syscall
 * (its own, on the trapped path) STUB_SYSCALL after them, the
 * instructions after it from STUB_AFTER, then the jump back. */
#define STUB_SYSCALL 28
#define STUB_AFTER 30

struct seg {
	unsigned long lo, hi;		/* the stub segment, as mapped */
	unsigned long site_lo, site_hi; /* the first patched range's start, the last one's end */
	struct site *tab;
	unsigned n;
};

/* Files with rewritten code in one process: the program, its interpreter
 * and its libraries. Beyond that, signals in the others' stubs show the
 * stub's address, as before tables existed. */
#define MAX_SEGS 256
static struct seg segs[MAX_SEGS];
static unsigned nsegs;

static void forget_locked(unsigned long lo, unsigned long hi)
{
	for (unsigned i = 0; i < nsegs;) {
		if (segs[i].lo < hi && lo < segs[i].hi) {
			rt_free(segs[i].tab);
			segs[i] = segs[--nsegs];
		} else {
			i++;
		}
	}
}

/* The table's entries must describe stubs before the table and ranges in
 * address order, each syscall inside its range. */
static int table_ok(const struct site *t, unsigned n, uint32_t tab_off)
{
	for (unsigned i = 0; i < n; i++) {
		if (t[i].stub < RT_STUB_HDR_SIZE || t[i].stub >= tab_off || t[i].len < 5 || t[i].sc + 2u > t[i].len ||
		    t[i].zero || t[i].zero2)
			return 0;
		if (i && ((int64_t)t[i].start < (int64_t)t[i - 1].start + t[i - 1].len || t[i].stub <= t[i - 1].stub))
			return 0;
	}
	return 1;
}

void rt_stubmap_add(unsigned long seg, unsigned long len)
{
	const unsigned char *h = (const unsigned char *)seg;
	uint32_t ver, n, tab_off;
	if (len < RT_STUB_HDR_SIZE || memcmp(h, RT_STUB_MAGIC, 8))
		return;
	memcpy(&ver, h + 8, 4);
	memcpy(&n, h + 12, 4);
	memcpy(&tab_off, h + RT_STUB_TABLE_OFF, 4);
	if (ver < 2 || !n || n > (1u << 20) || tab_off % 16 || tab_off < RT_STUB_HDR_SIZE ||
	    (unsigned long)tab_off + (unsigned long)n * sizeof(struct site) > len)
		return;
	struct site *t = rt_malloc(n * sizeof *t);
	if (!t)
		return;
	memcpy(t, h + tab_off, n * sizeof *t);
	if (!table_ok(t, n, tab_off)) {
		rt_free(t);
		return;
	}
	struct seg s = {seg,
			seg + len,
			seg + (unsigned long)(long)t[0].start,
			seg + (unsigned long)(long)t[n - 1].start + t[n - 1].len,
			t,
			n};
	rt_lock(&rt_stubs_lock);
	forget_locked(s.lo, s.hi);
	if (nsegs < MAX_SEGS)
		segs[nsegs++] = s;
	else
		rt_free(t);
	rt_unlock(&rt_stubs_lock);
}

void rt_stubmap_forget(unsigned long lo, unsigned long hi)
{
	if (!__atomic_load_n(&nsegs, __ATOMIC_RELAXED))
		return;
	rt_lock(&rt_stubs_lock);
	forget_locked(lo, hi);
	rt_unlock(&rt_stubs_lock);
}

void rt_stubmap_reset(void) { rt_stubmap_forget(0, ~0UL); }

/* The entry whose stub starts last at or before off (n > 0). */
static const struct site *by_stub(const struct seg *s, unsigned long off)
{
	unsigned lo = 0, hi = s->n;
	while (hi - lo > 1) {
		unsigned m = (lo + hi) / 2;
		if (s->tab[m].stub <= off)
			lo = m;
		else
			hi = m;
	}
	return s->tab[lo].stub <= off ? &s->tab[lo] : 0;
}

/* The entry whose range starts last at or before pc (n > 0). */
static const struct site *by_start(const struct seg *s, unsigned long pc)
{
	unsigned lo = 0, hi = s->n;
	while (hi - lo > 1) {
		unsigned m = (lo + hi) / 2;
		if (s->lo + (unsigned long)(long)s->tab[m].start <= pc)
			lo = m;
		else
			hi = m;
	}
	return s->lo + (unsigned long)(long)s->tab[lo].start <= pc ? &s->tab[lo] : 0;
}

unsigned long rt_stubmap_to_site(unsigned long pc)
{
	unsigned long r = pc;
	if (!__atomic_load_n(&nsegs, __ATOMIC_RELAXED))
		return r;
	rt_lock(&rt_stubs_lock);
	for (unsigned i = 0; i < nsegs; i++) {
		const struct seg *s = &segs[i];
		if (pc < s->lo || pc >= s->hi)
			continue;
		const struct site *e = by_stub(s, pc - s->lo);
		if (!e)
			break;
		unsigned long stub = s->lo + e->stub, start = s->lo + (unsigned long)(long)e->start;
		unsigned long after = stub + e->sc + STUB_AFTER;
		if (pc <= stub + e->sc)
			r = start + (pc - stub); /* a displaced instruction before the syscall, or the
						    stub's way into the runtime: the syscall, not yet made */
		else if (pc == stub + e->sc + STUB_SYSCALL)
			r = start + e->sc; /* the syscall (a restart goes back onto it) */
		else if (pc >= after && pc <= after + (e->len - e->sc - 2u))
			r = start + e->sc + 2 + (pc - after); /* after it, up to the jump back */
		break;
	}
	rt_unlock(&rt_stubs_lock);
	return r;
}

unsigned long rt_stubmap_to_stub(unsigned long pc)
{
	unsigned long r = pc;
	if (!__atomic_load_n(&nsegs, __ATOMIC_RELAXED))
		return r;
	rt_lock(&rt_stubs_lock);
	for (unsigned i = 0; i < nsegs; i++) {
		const struct seg *s = &segs[i];
		if (pc < s->site_lo || pc >= s->site_hi)
			continue;
		const struct site *e = by_start(s, pc);
		if (!e)
			break;
		unsigned long start = s->lo + (unsigned long)(long)e->start, k = pc - start;
		unsigned long stub = s->lo + e->stub;
		if (k <= e->sc)
			r = stub + k; /* the syscall itself: the stub's way into the runtime */
		else if (k >= e->sc + 2u && k < e->len)
			r = stub + e->sc + STUB_AFTER + (k - e->sc - 2);
		break;
	}
	rt_unlock(&rt_stubs_lock);
	return r;
}
