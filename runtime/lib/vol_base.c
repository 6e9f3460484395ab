/* Protected volumes: the base of the vol_*.c files, beside vol_map.c and
 * vol_crypto.c: the names of the host files (meta., log., f/), the volume's
 * error text and the position (struct vpos) every seal starts from. It
 * calls no other vol_*.c file; vol_data.c and vol_open.c build on it. */
#include "vol_int.h"

static void hex16(char *out, uint64_t x)
{
	static const char d[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--, x >>= 4)
		out[i] = d[x & 15];
	out[16] = 0;
}

static void name_of(char out[32], const char *prefix, uint64_t x)
{
	size_t l = strlen(prefix);
	memcpy(out, prefix, l);
	hex16(out + l, x);
}

void vol_name_meta(char out[32], uint64_t gen) { name_of(out, "meta.", gen); }
void vol_name_log(char out[32], uint64_t gen) { name_of(out, "log.", gen); }
void vol_name_page(char out[32], uint64_t id) { name_of(out, "f/", id); }

void vol_seterr(struct vol *v, const char *a, const char *b, const char *c)
{
	const char *parts[3] = {a, b, c};
	size_t k = 0;
	for (int i = 0; i < 3; i++)
		for (const char *p = parts[i]; p && *p && k + 1 < sizeof v->err; p++)
			v->err[k++] = *p;
	v->err[k] = 0;
}

const char *vol_err(const struct vol *v) { return v->err; }

void vol_pos_init(struct vpos *p, const struct vol *v, uint32_t kind)
{
	memset(p, 0, sizeof *p);
	p->kind = kind;
	memcpy(p->vol, v->volid, 16);
}
