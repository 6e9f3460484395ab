/* scone-run start-up: parse the kernel's initial stack, set up the runtime
 * (address-space region, main thread block, transport), select the mode and
 * launch the application.
 *
 *   SCONE_MODE=sim (default)  sim EINIT, protected FS, measured config (einit.c)
 *   SCONE_MODE=hw             refused: hardware mode is not supported yet
 *   SCONE_MODE=dev            developer aid: scone-run --dev-exec /abs/prog args...
 *                             runs a host program under the trap with
 *                             whatever shields are linked (fallbacks pass
 *                             everything to the host); no verification. */
#include "fast.h"
#include "launch.h"
#include "shield.h"
#include "sites.h"
#include "region.h"
#include "thread.h"
#include "rtsched.h"
#include "transport.h"
#include "loader.h"
#include "random.h"
#include "trap.h"
#include "rt_alloc.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

static void usage(void)
{
	rt_fatal(RT_EX_USAGE, "usage: scone-run (the image entrypoint; runs the enclave in /scone/enclave)\n"
			      "       SCONE_MODE=dev scone-run --dev-exec /abs/path/program [args...]");
}

char **rt_env_without_scone(char **envp)
{
	size_t n = 0;
	while (envp[n])
		n++;
	char **out = rt_calloc(n + 1, sizeof *out);
	if (!out)
		rt_fatal(RT_EX_SOFTWARE, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (rt_strncmp(envp[i], "SCONE_", 6))
			out[k++] = envp[i];
	out[k] = 0;
	return out;
}

/* SCONE_SIM_EXIT_CYCLES, or -1 when unset. */
static long env_exit_cycles(void)
{
	const char *cyc = rt_getenv("SCONE_SIM_EXIT_CYCLES");
	if (!cyc)
		return -1;
	long cycles = rt_parse_ulong(cyc);
	if (cycles < 0)
		rt_fatal(RT_EX_USAGE, "SCONE_SIM_EXIT_CYCLES=%s: not a number of cycles", cyc);
	return cycles;
}

/* Dev mode: the transport from SCONE_TRANSPORT (sim mode: from the config). */
static void dev_transport(long cycles)
{
	const char *name = rt_getenv("SCONE_TRANSPORT");
	int r = transport_select(name, cycles < 0 ? RT_DEFAULT_EXIT_CYCLES : (uint64_t)cycles);
	if (r == -RT_ENOENT)
		rt_fatal(RT_EX_USAGE, "SCONE_TRANSPORT=%s: unknown transport (available: sync, async)", name);
	if (r < 0)
		rt_fatal(RT_EX_OSERR, "cannot start the %s transport: error %d", name, -r);
}

/* Dev mode: SCONE_SCHEDULER=os (the default) or mn (user-level threads on
 * SCONE_THREADS enclave threads, default 4; rtsched.h). */
static void dev_scheduler(struct rt_thread *t)
{
	const char *name = rt_getenv("SCONE_SCHEDULER");
	if (!name || !name[0] || !rt_strcmp(name, "os"))
		return;
	if (rt_strcmp(name, "mn"))
		rt_fatal(RT_EX_USAGE, "SCONE_SCHEDULER=%s: unknown scheduler (available: os, mn)", name);
	const char *n = rt_getenv("SCONE_THREADS");
	if (n && n[0]) {
		long v = rt_parse_ulong(n);
		if (v < 1 || v > 1024)
			rt_fatal(RT_EX_USAGE, "SCONE_THREADS=%s: not a number of enclave threads in [1, 1024]", n);
		rt_max_threads = (unsigned)v;
	}
	if (rt_sched_init(t) < 0)
		rt_fatal(RT_EX_OSERR, "cannot start the mn scheduler: out of memory");
}

__attribute__((noreturn, used)) void rt_main(unsigned long *sp);
void rt_main(unsigned long *sp)
{
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	char **e = envp;
	while (*e)
		e++;
	unsigned long *auxv = (unsigned long *)(e + 1);
	for (unsigned long *v = auxv; v[0]; v += 2)
		if (v[0] == 26 /* AT_HWCAP2 */)
			rt_fsgsbase_ok = (v[1] & 2 /* HWCAP2_FSGSBASE */) != 0;
	rt_environ = envp;

	if (rt_region_init(RT_HEAP_BASE, RT_REGION_END - RT_HEAP_BASE))
		rt_fatal(RT_EX_OSERR, "cannot reserve the runtime's address range at %p", (void *)RT_HEAP_BASE);
	struct rt_thread *t = rt_thread_alloc();
	if (!t)
		rt_fatal(RT_EX_OSERR, "cannot allocate the main thread's runtime block");
	rt_wrfsbase((unsigned long)t);
	/* GS = the block before any BearSSL or LZ4 code runs: their canary
	 * (thread.h) */
	rt_wrgsbase((unsigned long)t);
	/* Randomness from the CPU, never the host (random.h); then the stack-
	 * protector canary for BearSSL from it, not from the host's AT_RANDOM.
	 * No BearSSL frame is live across the change of the main thread's. */
	rt_random_init();
	rt_random(&rt_canary, sizeof rt_canary);
	rt_canary &= ~0xffUL;
	t->canary = rt_canary;
	rt_shields_setup();
	long cycles = env_exit_cycles();
	const char *st = rt_getenv("SCONE_STATS");
	rt_stats = st && !rt_strcmp(st, "1");
	rt_sites_on = rt_stats;

	rt_fast_init();

	struct rt_launch L = {0};
	L.host_auxv = auxv;
	L.stack_top = (char *)((unsigned long)sp & ~15UL) - 16;
	const char *mode = rt_getenv("SCONE_MODE");
	if (!mode || !*mode)
		mode = "sim";

	if (argc >= 2 && !rt_strcmp(argv[1], "--dev-exec")) {
		if (rt_strcmp(mode, "dev"))
			rt_fatal(RT_EX_USAGE, "--dev-exec is a developer aid and only works with SCONE_MODE=dev");
		if (argc < 3 || argv[2][0] != '/')
			usage();
		L.path = argv[2];
		L.argv = argv + 2;
		L.envp = rt_env_without_scone(envp);
		L.uid = (unsigned long)rt_sys0(__NR_getuid);
		L.gid = (unsigned long)rt_sys0(__NR_getgid);
		dev_scheduler(t);
		dev_transport(cycles);
	} else if (!rt_strcmp(mode, "hw")) {
		rt_fatal(RT_EX_CONFIG, "SCONE_MODE=hw: hardware mode is not supported yet (use SCONE_MODE=sim)");
	} else if (!rt_strcmp(mode, "sim")) {
		rt_sim_start(&L, argc, argv, cycles);
	} else if (!rt_strcmp(mode, "dev")) {
		usage();
	} else {
		rt_fatal(RT_EX_USAGE, "SCONE_MODE=%s: unknown mode (sim, hw, dev)", mode);
	}
	unsigned long entry, stack;
	rt_launch(&L, &entry, &stack);
	int r = rt_trap_init();
	if (r < 0)
		rt_fatal(RT_EX_OSERR, "cannot install the SIGSYS handler: error %d", -r);
	r = rt_thread_arm(rt_self_from_gs());
	if (r < 0)
		rt_fatal(RT_EX_OSERR, "cannot enable Syscall User Dispatch (kernel 5.11+ needed): error %d", -r);
	rt_wrfsbase(0);
	rt_jump_to_entry(entry, stack);
}
