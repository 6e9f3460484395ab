/* Unit test of the initial stack builder (runtime/src/core/stack.c): argc, argv,
 * envp, auxv contents and alignment, and refusal when it does not fit. */
#include <stdio.h>
#include <string.h>
#include "loader.h"
#include "sys.h"
#include "testutil.h"

static unsigned long aux(unsigned long *v, unsigned long type, int *found)
{
	*found = 0;
	for (; v[0] != RT_AT_NULL; v += 2)
		if (v[0] == type) {
			*found = 1;
			return v[1];
		}
	return 0;
}

int main(void)
{
	static char mem[64 * 1024];
	char *const argv[] = {"/bin/prog", "arg one", "", "three", 0};
	char *const envp[] = {"A=1", "PATH=/usr/bin", 0};
	unsigned long host[] = {RT_AT_SYSINFO_EHDR, 0x7fff1000, RT_AT_HWCAP, 0xbfebfbff, RT_AT_MINSIGSTKSZ, 3632,
				RT_AT_PHDR,	    0xdead,	RT_AT_UID,   999,	 RT_AT_NULL,	    0};
	struct rt_stack_params p;
	memset(&p, 0, sizeof p);
	p.argv = argv;
	p.envp = envp;
	p.host_auxv = host;
	p.pass_vdso = 1;
	p.phdr = 0x400040;
	p.phent = 56;
	p.phnum = 9;
	p.entry = 0x401000;
	p.base = 0x7f0000000000;
	p.uid = 1000;
	p.gid = 1001;
	p.execfn = "/bin/prog";
	for (int i = 0; i < 16; i++)
		p.random[i] = (unsigned char)(i * 7 + 1);

	char *top = mem + sizeof mem - 8; /* deliberately not 16-aligned */
	unsigned long sp = rt_build_stack(top, mem, &p);
	CHECK(sp != 0);
	CHECK(sp % 16 == 0);
	CHECK(sp >= (unsigned long)mem && sp < (unsigned long)top);
	unsigned long *w = (unsigned long *)sp;
	CHECK(w[0] == 4);
	char **av = (char **)(w + 1);
	for (int i = 0; i < 4; i++) {
		CHECK(av[i] && !strcmp(av[i], argv[i]));
		CHECK((char *)av[i] > (char *)sp && (char *)av[i] < top);
	}
	CHECK(av[4] == NULL);
	char **ev = av + 5;
	CHECK(!strcmp(ev[0], "A=1") && !strcmp(ev[1], "PATH=/usr/bin") && ev[2] == NULL);
	unsigned long *auxv = (unsigned long *)(ev + 3);
	int f;
	CHECK(aux(auxv, RT_AT_PHDR, &f) == 0x400040 && f);
	CHECK(aux(auxv, RT_AT_PHENT, &f) == 56 && f);
	CHECK(aux(auxv, RT_AT_PHNUM, &f) == 9 && f);
	CHECK(aux(auxv, RT_AT_ENTRY, &f) == 0x401000 && f);
	CHECK(aux(auxv, RT_AT_BASE, &f) == 0x7f0000000000 && f);
	CHECK(aux(auxv, RT_AT_PAGESZ, &f) == 4096 && f);
	CHECK(aux(auxv, RT_AT_UID, &f) == 1000 && f);
	CHECK(aux(auxv, RT_AT_EGID, &f) == 1001 && f);
	CHECK(aux(auxv, RT_AT_SECURE, &f) == 0 && f);
	CHECK(aux(auxv, RT_AT_HWCAP, &f) == 0xbfebfbff && f);
	CHECK(aux(auxv, RT_AT_MINSIGSTKSZ, &f) == 3632 && f);
	CHECK(aux(auxv, RT_AT_SYSINFO_EHDR, &f) == 0x7fff1000 && f);
	const unsigned char *rnd = (const unsigned char *)aux(auxv, RT_AT_RANDOM, &f);
	CHECK(f && !memcmp(rnd, p.random, 16));
	const char *fn = (const char *)aux(auxv, RT_AT_EXECFN, &f);
	CHECK(f && !strcmp(fn, "/bin/prog"));
	const char *plat = (const char *)aux(auxv, RT_AT_PLATFORM, &f);
	CHECK(f && !strcmp(plat, "x86_64"));

	/* vDSO hidden on request */
	p.pass_vdso = 0;
	sp = rt_build_stack(top, mem, &p);
	w = (unsigned long *)sp;
	auxv = (unsigned long *)(w + 1 + 5 + 3);
	aux(auxv, RT_AT_SYSINFO_EHDR, &f);
	CHECK(sp && !f);

	/* does not fit: refused, nothing written below the limit */
	memset(mem, 0x5a, sizeof mem);
	CHECK(rt_build_stack(mem + 200, mem + 100, &p) == 0);
	CHECK(rt_build_stack(top, top - 300, &p) == 0);
	int untouched = 1;
	for (int i = 0; i < 100; i++)
		untouched &= mem[i] == 0x5a;
	CHECK(untouched);

	return test_summary("test_stack");
}
