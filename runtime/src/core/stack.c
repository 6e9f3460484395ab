/* Initial process stack builder (loader.h). Pure memory work: host-tested in
 * runtime/tests/test_stack.c.
 *
 * Layout, from high to low addresses: AT_EXECFN string, argv strings, envp
 * strings, "x86_64" (AT_PLATFORM), 16 AT_RANDOM bytes, padding, then the
 * auxiliary vector, envp[], argv[] and argc at the 16-byte aligned stack
 * pointer, as the kernel lays it out (fs/binfmt_elf.c). */
#include "loader.h"
#include "rtstring.h"

struct cursor {
	char *p, *limit;
	int ok;
};

static char *push_bytes(struct cursor *c, const void *src, size_t n)
{
	if (!c->ok || (size_t)(c->p - c->limit) < n) {
		c->ok = 0;
		return 0;
	}
	c->p -= n;
	memcpy(c->p, src, n);
	return c->p;
}

static char *push_str(struct cursor *c, const char *s) { return push_bytes(c, s, strlen(s) + 1); }

static const unsigned long *host_aux(const unsigned long *aux, unsigned long type)
{
	for (; aux && aux[0] != RT_AT_NULL; aux += 2)
		if (aux[0] == type)
			return &aux[1];
	return 0;
}

unsigned long rt_build_stack(char *top, char *limit, struct rt_stack_params *p)
{
	struct cursor c = {top, limit, 1};
	size_t argc = 0, envc = 0;
	while (p->argv[argc])
		argc++;
	while (p->envp[envc])
		envc++;

	push_bytes(&c, "\0\0\0\0\0\0\0", 8); /* end marker */
	char *execfn = push_str(&c, p->execfn);
	/* Strings, last first, so they end up in order. Pointers are collected
	 * after the vectors are sized: record them in a second pass below. */
	char *env_end = c.p;
	for (size_t i = envc; i-- > 0;)
		push_str(&c, p->envp[i]);
	char *env_start = c.p;
	for (size_t i = argc; i-- > 0;)
		push_str(&c, p->argv[i]);
	char *arg_start = c.p;
	char *platform = push_str(&c, "x86_64");
	char *random = push_bytes(&c, p->random, 16);
	if (!c.ok)
		return 0;

	unsigned long aux[2 * 32];
	size_t na = 0;
#define AUX(t, v) (aux[na++] = (t), aux[na++] = (unsigned long)(v))
	const unsigned long *v;
	if (p->pass_vdso && (v = host_aux(p->host_auxv, RT_AT_SYSINFO_EHDR)))
		AUX(RT_AT_SYSINFO_EHDR, *v);
	if ((v = host_aux(p->host_auxv, RT_AT_MINSIGSTKSZ)))
		AUX(RT_AT_MINSIGSTKSZ, *v);
	v = host_aux(p->host_auxv, RT_AT_HWCAP);
	AUX(RT_AT_HWCAP, v ? *v : 0);
	AUX(RT_AT_PAGESZ, 4096);
	v = host_aux(p->host_auxv, RT_AT_CLKTCK);
	AUX(RT_AT_CLKTCK, v ? *v : 100);
	AUX(RT_AT_PHDR, p->phdr);
	AUX(RT_AT_PHENT, p->phent);
	AUX(RT_AT_PHNUM, p->phnum);
	AUX(RT_AT_BASE, p->base);
	AUX(RT_AT_FLAGS, 0);
	AUX(RT_AT_ENTRY, p->entry);
	AUX(RT_AT_UID, p->uid);
	AUX(RT_AT_EUID, p->uid);
	AUX(RT_AT_GID, p->gid);
	AUX(RT_AT_EGID, p->gid);
	AUX(RT_AT_SECURE, 0);
	AUX(RT_AT_RANDOM, random);
	if ((v = host_aux(p->host_auxv, RT_AT_HWCAP2)))
		AUX(RT_AT_HWCAP2, *v);
	if ((v = host_aux(p->host_auxv, RT_AT_RSEQ_FEATURE_SIZE)))
		AUX(RT_AT_RSEQ_FEATURE_SIZE, *v);
	if ((v = host_aux(p->host_auxv, RT_AT_RSEQ_ALIGN)))
		AUX(RT_AT_RSEQ_ALIGN, *v);
	AUX(RT_AT_EXECFN, execfn);
	AUX(RT_AT_PLATFORM, platform);
	AUX(RT_AT_NULL, 0);
#undef AUX

	size_t words = 1 + argc + 1 + envc + 1 + na;
	unsigned long sp = ((unsigned long)c.p - words * 8) & ~15UL;
	if (sp < (unsigned long)limit || sp > (unsigned long)c.p)
		return 0;
	unsigned long *w = (unsigned long *)sp;
	*w++ = argc;
	char *s = arg_start;
	for (size_t i = 0; i < argc; i++) {
		*w++ = (unsigned long)s;
		s += strlen(s) + 1;
	}
	*w++ = 0;
	s = env_start;
	for (size_t i = 0; i < envc; i++) {
		*w++ = (unsigned long)s;
		s += strlen(s) + 1;
	}
	*w++ = 0;
	p->arg_start = arg_start;
	p->arg_end = env_start;
	p->env_start = env_start;
	p->env_end = env_end;
	memcpy(w, aux, na * sizeof aux[0]);
	return sp;
}
