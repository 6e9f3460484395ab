/* Protected volumes: a hash map with two u64 keys, growable buffers and a
 * sort, for the vol_*.c files (no libc). */
#include "vol_int.h"

static size_t slot(uint64_t a, uint64_t b, size_t cap)
{
	uint64_t h = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull) * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 29;
	return (size_t)(h & (cap - 1));
}

uint64_t *vmap_get(const struct vmap *m, uint64_t a, uint64_t b)
{
	if (!m->cap)
		return NULL;
	for (size_t i = slot(a, b, m->cap);; i = (i + 1) & (m->cap - 1)) {
		struct vmap_ent *e = &m->e[i];
		if (!e->used)
			return NULL;
		if (e->a == a && e->b == b)
			return &e->v;
	}
}

static int grow(struct vmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct vmap_ent *e = fsv_sh_calloc(cap, sizeof *e);
	if (!e)
		return -V_ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->e[i].used)
			continue;
		size_t j = slot(m->e[i].a, m->e[i].b, cap);
		while (e[j].used)
			j = (j + 1) & (cap - 1);
		e[j] = m->e[i];
	}
	fsv_sh_free(m->e);
	m->e = e;
	m->cap = cap;
	return 0;
}

int vmap_put(struct vmap *m, uint64_t a, uint64_t b, uint64_t v)
{
	uint64_t *p = vmap_get(m, a, b);
	if (p) {
		*p = v;
		return 0;
	}
	if ((m->n + 1) * 4 > m->cap * 3 && grow(m))
		return -V_ENOMEM;
	size_t i = slot(a, b, m->cap);
	while (m->e[i].used)
		i = (i + 1) & (m->cap - 1);
	m->e[i] = (struct vmap_ent){a, b, v, 1};
	m->n++;
	return 0;
}

/* Linear probing with backward-shift deletion. */
int vmap_del(struct vmap *m, uint64_t a, uint64_t b)
{
	uint64_t *p = vmap_get(m, a, b);
	if (!p)
		return 0;
	size_t i = (size_t)((struct vmap_ent *)(void *)((uint8_t *)p - offsetof(struct vmap_ent, v)) - m->e);
	m->e[i].used = 0;
	m->n--;
	for (size_t j = (i + 1) & (m->cap - 1); m->e[j].used; j = (j + 1) & (m->cap - 1)) {
		size_t h = slot(m->e[j].a, m->e[j].b, m->cap);
		/* move e[j] to the hole at i when its home h is not in (i, j] */
		int stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
		if (stays)
			continue;
		m->e[i] = m->e[j];
		m->e[j].used = 0;
		i = j;
	}
	return 1;
}

void vmap_free(struct vmap *m)
{
	fsv_sh_free(m->e);
	m->e = NULL;
	m->cap = m->n = 0;
}

int vbuf_add(struct vbuf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n)
			cap *= 2;
		uint8_t *q = fsv_sh_malloc(cap);
		if (!q)
			return -V_ENOMEM;
		if (b->n)
			memcpy(q, b->p, b->n);
		fsv_sh_free(b->p);
		b->p = q;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
	return 0;
}

int vbuf_u32(struct vbuf *b, uint32_t v)
{
	uint8_t x[4];
	p32(x, v);
	return vbuf_add(b, x, 4);
}

int vbuf_u64(struct vbuf *b, uint64_t v)
{
	uint8_t x[8];
	p64(x, v);
	return vbuf_add(b, x, 8);
}

void vbuf_free(struct vbuf *b)
{
	fsv_sh_free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

static void swap(uint8_t *a, uint8_t *b, size_t sz)
{
	for (size_t i = 0; i < sz; i++) {
		uint8_t t = a[i];
		a[i] = b[i];
		b[i] = t;
	}
}

static void sift(uint8_t *p, size_t root, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
	for (;;) {
		size_t c = 2 * root + 1;
		if (c >= n)
			return;
		if (c + 1 < n && cmp(p + c * sz, p + (c + 1) * sz) < 0)
			c++;
		if (cmp(p + root * sz, p + c * sz) >= 0)
			return;
		swap(p + root * sz, p + c * sz, sz);
		root = c;
	}
}

/* Heap sort: O(n log n), no allocation. */
void vsort(void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
	uint8_t *p = base;
	for (size_t i = n / 2; i-- > 0;)
		sift(p, i, n, sz, cmp);
	for (size_t e = n; e-- > 1;) {
		swap(p, p + e * sz, sz);
		sift(p, 0, e, sz, cmp);
	}
}
