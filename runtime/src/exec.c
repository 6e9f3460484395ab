/* Launching the application (launch.h): load, initial stack, trap, jump. */
#include "launch.h"
#include "loader.h"
#include "shield.h"
#include "thread.h"
#include "trap.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

/* vDSO policy: AT_SYSINFO_EHDR is passed to the application, so
 * clock_gettime/gettimeofday/time/getcpu run from the host's vDSO without a
 * trap. Time is host-controlled either way (SGX enclaves also take time from
 * the untrusted host); SCONE_VDSO=0 hides it (every time call then traps). */
static int pass_vdso(void)
{
	const char *v = rt_getenv("SCONE_VDSO");
	return !(v && !rt_strcmp(v, "0"));
}

void rt_launch(struct rt_launch *L)
{
	struct rt_image prog, interp;
	char err[512];
	int r = rt_load_elf(L->path, &prog, err, sizeof err);
	if (r)
		rt_fatal(r == -RT_ENOENT ? RT_EX_NOINPUT : RT_EX_NOEXEC, "cannot load the program: %s", err);
	unsigned long entry = prog.entry, base = 0;
	if (prog.interp[0]) {
		r = rt_load_elf(prog.interp, &interp, err, sizeof err);
		if (r)
			rt_fatal(r == -RT_ENOENT ? RT_EX_NOINPUT : RT_EX_NOEXEC,
				 "cannot load the program interpreter: %s", err);
		entry = interp.entry;
		base = interp.bias;
	}
	rt_app_exe = L->path;
	rt_mem_set_brk(prog.end);

	if (L->cwd && *L->cwd) {
		long c = shield_call(__NR_chdir, (long)L->cwd, 0, 0, 0, 0, 0);
		if (c < 0)
			rt_fatal(RT_EX_CONFIG, "cannot change to the working directory %s: error %ld", L->cwd, -c);
	}

	struct rt_stack_params p = {0};
	p.argv = L->argv;
	p.envp = L->envp;
	p.host_auxv = L->host_auxv;
	p.pass_vdso = pass_vdso();
	p.phdr = prog.phdr;
	p.phent = prog.phent;
	p.phnum = prog.phnum;
	p.entry = prog.entry;
	p.base = base;
	p.uid = L->uid;
	p.gid = L->gid;
	p.execfn = L->path;
	if (rt_sys3(__NR_getrandom, p.random, sizeof p.random, 0) != (long)sizeof p.random)
		rt_fatal(RT_EX_OSERR, "getrandom failed");
	unsigned long sp = rt_build_stack(L->stack_top, L->stack_top - (4UL << 20), &p);
	if (!sp)
		rt_fatal(RT_EX_USAGE, "arguments and environment do not fit in 4 MiB");

	r = rt_trap_init();
	if (r < 0)
		rt_fatal(RT_EX_OSERR, "cannot install the SIGSYS handler: error %d", -r);
	r = rt_thread_arm(rt_self_from_fs());
	if (r < 0)
		rt_fatal(RT_EX_OSERR, "cannot enable Syscall User Dispatch (kernel 5.11+ needed): error %d", -r);
	rt_wrfsbase(0);
	rt_jump_to_entry(entry, sp);
}
