/* SGXS measurement of the SCONE enclave layout; see sgxs.h and docs/enclave.md.
 * Must stay identical to pkg/enclave/layout.go. */
#include <string.h>

#include <bearssl.h>

#include "econfig.h"
#include "sgxs.h"
#include "sha256blk.h"

#define EEXTEND_CHUNK 256u
#define CHUNKS_PER_PAGE (SGXS_PAGE / EEXTEND_CHUNK)
#define PT_LOAD 1u
#define PF_X 1u
#define PF_W 2u
#define PF_R 4u

struct seg {
	uint64_t vaddr, memsz, off, filesz;
	uint32_t flags;
};

struct img {
	const uint8_t *elf;
	size_t elf_len;
	uint64_t entry, lo, hi;
	struct seg segs[SGXS_MAX_LOADS];
	unsigned nsegs;
};

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t page_down(uint64_t x) { return x & ~(uint64_t)(SGXS_PAGE - 1); }

/* Is [off, off+n) inside the file? */
static int in_file(const struct img *im, uint64_t off, uint64_t n)
{
	return off <= im->elf_len && n <= im->elf_len - off;
}

static int parse_elf(const uint8_t *elf, size_t len, struct img *im)
{
	memset(im, 0, sizeof(*im));
	im->elf = elf;
	im->elf_len = len;
	if (len < 64 ||
	    memcmp(elf,
		   "\x7f"
		   "ELF",
		   4) != 0 ||
	    elf[4] != 2 || elf[5] != 1)
		return SGXS_EELF;
	uint16_t type = le16(elf + 16);
	if ((type != 2 && type != 3) || le16(elf + 18) != 62)
		return SGXS_EELF;
	im->entry = le64(elf + 24);
	uint64_t phoff = le64(elf + 32);
	uint16_t phentsize = le16(elf + 54), phnum = le16(elf + 56);
	if (phentsize != 56 || phoff > SGXS_MAX_IMAGE || !in_file(im, phoff, (uint64_t)phnum * 56))
		return SGXS_EELF;
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *p = elf + phoff + (uint64_t)i * 56;
		if (le32(p) != PT_LOAD)
			continue;
		struct seg s;
		s.flags = le32(p + 4);
		s.off = le64(p + 8);
		s.vaddr = le64(p + 16);
		s.filesz = le64(p + 32);
		s.memsz = le64(p + 40);
		if (s.memsz == 0)
			continue;
		if (im->nsegs == SGXS_MAX_LOADS)
			return SGXS_EELF;
		if (s.filesz > s.memsz || s.memsz > SGXS_MAX_IMAGE || s.vaddr > (1ull << 47) ||
		    s.off > SGXS_MAX_IMAGE || s.filesz > SGXS_MAX_IMAGE)
			return SGXS_EELF;
		if (im->nsegs > 0) {
			const struct seg *prev = &im->segs[im->nsegs - 1];
			if (s.vaddr < prev->vaddr + prev->memsz)
				return SGXS_EELF;
		}
		if (!in_file(im, s.off, s.filesz))
			return SGXS_EELF;
		im->segs[im->nsegs++] = s;
	}
	if (im->nsegs == 0)
		return SGXS_EELF;
	const struct seg *last = &im->segs[im->nsegs - 1];
	im->lo = page_down(im->segs[0].vaddr);
	im->hi = page_down(last->vaddr + last->memsz + SGXS_PAGE - 1);
	if (im->hi - im->lo > SGXS_MAX_IMAGE)
		return SGXS_EELF;
	if (im->entry < im->lo || im->entry >= im->hi)
		return SGXS_EELF;
	return SGXS_OK;
}

static uint32_t si_perm(uint32_t pf)
{
	uint32_t f = 0;
	if (pf & PF_R)
		f |= SGXS_SI_R;
	if (pf & PF_W)
		f |= SGXS_SI_W;
	if (pf & PF_X)
		f |= SGXS_SI_X;
	return f;
}

/* Page iteration over the image, shared by counting and hashing. */
struct page_it {
	const struct img *im;
	unsigned si;   /* current segment */
	uint64_t p;    /* next candidate page in segment si */
	uint64_t next; /* first page not yet emitted */
};

static void it_init(struct page_it *it, const struct img *im)
{
	it->im = im;
	it->si = 0;
	it->p = page_down(im->segs[0].vaddr);
	it->next = im->lo;
}

/* Returns 1 and the next page address (absolute vaddr), or 0 at the end. */
static int it_next(struct page_it *it, uint64_t *page)
{
	const struct img *im = it->im;
	while (it->si < im->nsegs) {
		const struct seg *s = &im->segs[it->si];
		uint64_t end = page_down(s->vaddr + s->memsz + SGXS_PAGE - 1);
		if (it->p < it->next)
			it->p = it->next;
		if (it->p < end) {
			*page = it->p;
			it->p += SGXS_PAGE;
			it->next = *page + SGXS_PAGE;
			return 1;
		}
		it->si++;
		if (it->si < im->nsegs)
			it->p = page_down(im->segs[it->si].vaddr);
	}
	return 0;
}

/* Fills buf with page p's contents and returns its SECINFO flags. */
static uint64_t page_contents(const struct img *im, uint64_t p, uint8_t *buf)
{
	uint64_t flags = SGXS_PT_REG;
	memset(buf, 0, SGXS_PAGE);
	for (unsigned i = 0; i < im->nsegs; i++) {
		const struct seg *t = &im->segs[i];
		if (t->vaddr >= p + SGXS_PAGE || t->vaddr + t->memsz <= p)
			continue;
		flags |= si_perm(t->flags);
		uint64_t lo = t->vaddr > p ? t->vaddr : p;
		uint64_t fe = t->vaddr + t->filesz, pe = p + SGXS_PAGE;
		uint64_t hi = fe < pe ? fe : pe;
		if (lo < hi)
			memcpy(buf + (lo - p), im->elf + t->off + (lo - t->vaddr), hi - lo);
	}
	return flags;
}

static int layout_img(const struct img *im, size_t config_len, uint64_t heap, uint64_t stack, uint32_t threads,
		      struct sgxs_layout *l)
{
	memset(l, 0, sizeof(*l));
	if (heap > ECONFIG_MAX_HEAP || stack > ECONFIG_MAX_STACK || threads > ECONFIG_MAX_THREADS ||
	    config_len > ECONFIG_MAX_SIZE)
		return SGXS_ESIZE;
	l->image_vaddr = im->lo;
	l->image_size = im->hi - im->lo;
	l->entry = im->entry - im->lo;
	l->heap_size = heap;
	l->stack_size = stack;
	l->nthreads = threads;
	l->config_off = l->image_size + SGXS_PAGE;
	l->config_pages = ((uint64_t)config_len + SGXS_PAGE - 1) / SGXS_PAGE;
	l->heap_off = l->config_off + l->config_pages * SGXS_PAGE + SGXS_PAGE;
	l->stack_rel = SGXS_PAGE;
	l->tcs_rel = l->stack_rel + stack;
	l->ssa_rel = l->tcs_rel + SGXS_PAGE;
	l->td_rel = l->ssa_rel + (uint64_t)SGXS_NSSA * SGXS_SSAFRAMESIZE * SGXS_PAGE;
	l->thread_stride = l->td_rel + SGXS_PAGE;
	l->thread_off = l->heap_off + heap;
	l->end = l->thread_off + (uint64_t)threads * l->thread_stride + SGXS_PAGE;
	if (l->end > SGXS_MAX_ENCLAVE)
		return SGXS_ESIZE;
	uint64_t size = SGXS_PAGE;
	while (size < l->end)
		size <<= 1;
	l->size = size;
	uint64_t image_pages = 0, p;
	struct page_it it;
	it_init(&it, im);
	while (it_next(&it, &p))
		image_pages++;
	uint64_t per_thread = stack / SGXS_PAGE + 1 + SGXS_NSSA * SGXS_SSAFRAMESIZE + 1;
	l->eadds = image_pages + l->config_pages + heap / SGXS_PAGE + (uint64_t)threads * per_thread;
	l->eextends = (image_pages + l->config_pages + threads) * CHUNKS_PER_PAGE;
	return SGXS_OK;
}

int sgxs_layout(const uint8_t *elf, size_t elf_len, size_t config_len, uint64_t heap_size, uint64_t stack_size,
		uint32_t nthreads, struct sgxs_layout *out)
{
	if (elf == NULL || out == NULL)
		return SGXS_EINVAL;
	struct img im;
	int e = parse_elf(elf, elf_len, &im);
	if (e)
		return e;
	return layout_img(&im, config_len, heap_size, stack_size, nthreads, out);
}

static void rec_ecreate(struct sha256blk *h, uint32_t ssaframesize, uint64_t size)
{
	uint8_t r[64] = {0};
	memcpy(r, "ECREATE", 8);
	put32(r + 8, ssaframesize);
	put64(r + 12, size);
	sha256blk_add(h, r, 1);
}

static void rec_eadd(struct sha256blk *h, uint64_t off, uint64_t flags)
{
	uint8_t r[64] = {0};
	memcpy(r, "EADD\0\0\0", 8);
	put64(r + 8, off);
	put64(r + 16, flags);
	sha256blk_add(h, r, 1);
}

/* The EADD records of count consecutive pages from off, all with flags:
 * the records differ only in their offset, so a batch of them is built
 * once and hashed EADD_BATCH at a time (one call of the compression per
 * batch: at every start ~400,000 records with the default heap and
 * threads, where a call per record cost more than its block). */
#define EADD_BATCH 64u
static void rec_eadd_run(struct sha256blk *h, uint64_t off, uint64_t count, uint64_t flags)
{
	uint8_t b[EADD_BATCH * 64];
	memset(b, 0, sizeof b);
	for (unsigned i = 0; i < EADD_BATCH; i++) {
		memcpy(b + 64 * i, "EADD\0\0\0", 8);
		put64(b + 64 * i + 16, flags);
	}
	while (count > 0) {
		unsigned n = count < EADD_BATCH ? (unsigned)count : EADD_BATCH;
		for (unsigned i = 0; i < n; i++)
			put64(b + 64 * i + 8, off + (uint64_t)i * SGXS_PAGE);
		sha256blk_add(h, b, n);
		off += (uint64_t)n * SGXS_PAGE;
		count -= n;
	}
}

static void rec_eextend_page(struct sha256blk *h, uint64_t off, const uint8_t *page)
{
	for (unsigned i = 0; i < CHUNKS_PER_PAGE; i++) {
		uint8_t r[64] = {0};
		memcpy(r, "EEXTEND", 8);
		put64(r + 8, off + (uint64_t)i * EEXTEND_CHUNK);
		sha256blk_add(h, r, 1);
		sha256blk_add(h, page + i * EEXTEND_CHUNK, EEXTEND_CHUNK / 64);
	}
}

static void tcs_page(const struct sgxs_layout *l, uint32_t t, uint8_t *p)
{
	uint64_t base = l->thread_off + (uint64_t)t * l->thread_stride;
	memset(p, 0, SGXS_PAGE);
	put64(p + 16, base + l->ssa_rel); /* OSSA */
	put32(p + 28, SGXS_NSSA);	  /* NSSA */
	put64(p + 32, l->entry);	  /* OENTRY */
	put64(p + 48, base + l->td_rel);  /* OFSBASGX */
	put64(p + 56, base + l->td_rel);  /* OGSBASGX */
	put32(p + 64, 0xfff);		  /* FSLIMIT */
	put32(p + 68, 0xfff);		  /* GSLIMIT */
}

int sgxs_measure(const uint8_t *elf, size_t elf_len, const uint8_t *config, size_t config_len, uint8_t mrenclave[32],
		 struct sgxs_layout *layout)
{
	if (elf == NULL || config == NULL || mrenclave == NULL)
		return SGXS_EINVAL;
	struct econfig *cfg;
	int e = econfig_parse(config, config_len, &cfg);
	if (e == ECONFIG_ENOMEM)
		return SGXS_ENOMEM;
	if (e)
		return SGXS_ECONFIG;
	uint64_t heap = cfg->heap_size, stack = cfg->stack_size;
	uint32_t threads = cfg->max_threads;
	econfig_free(cfg);

	struct img im;
	e = parse_elf(elf, elf_len, &im);
	if (e)
		return e;
	struct sgxs_layout l;
	e = layout_img(&im, config_len, heap, stack, threads, &l);
	if (e)
		return e;

	/* Every record is one 64-byte block, every chunk four: the whole
	 * stream is hashed block by block (with the SHA extensions when the
	 * CPU has them: the stacks and heap of 64 threads are ~150,000 EADD
	 * records, measured at every start). */
	struct sha256blk h;
	uint8_t page[SGXS_PAGE];
	sha256blk_init(&h, 1);
	rec_ecreate(&h, SGXS_SSAFRAMESIZE, l.size);

	struct page_it it;
	uint64_t p;
	it_init(&it, &im);
	while (it_next(&it, &p)) {
		uint64_t flags = page_contents(&im, p, page);
		rec_eadd(&h, p - im.lo, flags);
		rec_eextend_page(&h, p - im.lo, page);
	}
	for (uint64_t i = 0; i < l.config_pages; i++) {
		uint64_t n = config_len - i * SGXS_PAGE;
		if (n > SGXS_PAGE)
			n = SGXS_PAGE;
		memset(page, 0, SGXS_PAGE);
		memcpy(page, config + i * SGXS_PAGE, n);
		uint64_t off = l.config_off + i * SGXS_PAGE;
		rec_eadd(&h, off, SGXS_PT_REG | SGXS_SI_R);
		rec_eextend_page(&h, off, page);
	}
	const uint64_t rw = SGXS_PT_REG | SGXS_SI_R | SGXS_SI_W;
	rec_eadd_run(&h, l.heap_off, l.heap_size / SGXS_PAGE, rw);
	for (uint32_t t = 0; t < l.nthreads; t++) {
		uint64_t base = l.thread_off + (uint64_t)t * l.thread_stride;
		rec_eadd_run(&h, base + l.stack_rel, (l.tcs_rel - l.stack_rel) / SGXS_PAGE, rw);
		rec_eadd(&h, base + l.tcs_rel, SGXS_PT_TCS);
		tcs_page(&l, t, page);
		rec_eextend_page(&h, base + l.tcs_rel, page);
		rec_eadd_run(&h, base + l.ssa_rel, (l.thread_stride - l.ssa_rel) / SGXS_PAGE, rw);
	}
	sha256blk_final(&h, mrenclave);
	if (layout != NULL)
		*layout = l;
	return SGXS_OK;
}

int sgxs_hash_stream(const uint8_t *s, size_t len, uint8_t mrenclave[32])
{
	if (s == NULL || mrenclave == NULL)
		return SGXS_EINVAL;
	if (len < 64 || memcmp(s, "ECREATE", 8) != 0)
		return SGXS_ESTREAM;
	size_t i = 64;
	while (i < len) {
		if (len - i < 64)
			return SGXS_ESTREAM;
		if (memcmp(s + i, "EEXTEND", 8) == 0) {
			if (len - i - 64 < EEXTEND_CHUNK)
				return SGXS_ESTREAM;
			i += 64 + EEXTEND_CHUNK;
		} else if (memcmp(s + i, "EADD\0\0\0", 8) == 0) {
			i += 64;
		} else {
			return SGXS_ESTREAM;
		}
	}
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, s, len);
	br_sha256_out(&h, mrenclave);
	return SGXS_OK;
}

const char *sgxs_strerror(int err)
{
	switch (err) {
	case SGXS_OK:
		return "ok";
	case SGXS_EELF:
		return "runtime ELF malformed or unsupported";
	case SGXS_ECONFIG:
		return "enclave config does not parse";
	case SGXS_ESIZE:
		return "enclave layout exceeds a size limit";
	case SGXS_ESTREAM:
		return "malformed SGXS stream";
	case SGXS_EINVAL:
		return "invalid argument";
	case SGXS_ENOMEM:
		return "out of memory";
	default:
		return "unknown SGXS error";
	}
}
