/* SIGSYS handler and syscall dispatch (trap.h).
 *
 * Entry: the kernel runs rt_sigsys on the thread's runtime signal stack with
 * every signal blocked. The handler finds its per-thread block from the stack
 * pointer, makes sure GS is the block (the runtime's TCB: thread.h), saves
 * the application's FS base (and points FS at the block where that is
 * cheap), dispatches, writes the result to RAX in the saved context,
 * delivers queued signals, restores the application's FS and GS and returns
 * through rt_sigreturn_restorer (in the exempt text). */
#include "exec.h"
#include "fast.h"
#include "loader.h"
#include "ids.h"
#include "mem.h"
#include "heap.h"
#include "rtsignal.h"
#include "rtsched.h"
#include "trap.h"
#include "fork.h"
#include "fsv_arena.h"
#include "clone.h"
#include "iago.h"
#include "shield.h"
#include "sites.h"
#include "stubmap.h"
#include "transport.h"
#include "nonblock.h"
#include "random.h"
#include "region.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

extern char __executable_start[], etext[];
static int rt_fast_gate_trap(struct rt_thread *t, struct kucontext *uc);
unsigned long rt_text_lo, rt_text_hi;
int rt_stats;

/* The shields + transport, with the application's signal mask in force for
 * calls that may block, so that signals interrupt them as they would
 * natively. Signals that arrive meanwhile are queued by rt_sig_entry. */
static long shielded(struct rt_thread *t, struct kucontext *uc, long nr, long *a)
{
	struct rt_iago_snap snap;
	rt_iago_pre(nr, a, &snap);
	/* uc == 0: a fast call (rt_fast_syscall), which runs with the
	 * application's signal mask in force already. */
	/* A call that may block is cancelled by a signal queued before it
	 * reaches the host, which would otherwise wait for the call's end. */
	const volatile unsigned *cp = rt_syscall_may_block(nr) ? &t->npending : 0;
	long r;
	if (!uc || !cp) {
		r = shield_call_app(cp, nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	} else {
		uint64_t all = ~0ULL;
		t->in_window = 1;
		rt_sys4(__NR_rt_sigprocmask, KSIG_SETMASK, &uc->uc_sigmask, 0, 8);
		r = shield_call_app(cp, nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		rt_sys4(__NR_rt_sigprocmask, KSIG_SETMASK, &all, 0, 8);
		t->in_window = 0;
	}
	if (t->hc_mode == RT_HC_POSTED)
		t->hc_snap = snap; /* checked when the posted call returns */
	else
		rt_iago_check(nr, a, r, &snap);
	return r;
}

static int is_proc_self_exe(const char *p)
{
	return p && (!rt_strcmp(p, "/proc/self/exe") || !rt_strcmp(p, "/proc/thread-self/exe"));
}

static long readlink_exe(char *buf, long size)
{
	size_t n = strlen(rt_app_exe);
	if (size <= 0)
		return -RT_EINVAL;
	if (n > (size_t)size)
		n = (size_t)size;
	memcpy(buf, rt_app_exe, n);
	return (long)n;
}

/* One trapped call on its way through the core's table (core_calls). */
struct core_call {
	struct rt_thread *t;
	struct kucontext *uc;
	long nr;
	long *a;
	uint64_t mask; /* storage for a sigset passed on with SIGSYS removed */
};

/* What a core handler returns when the call goes on to the shields. */
#define RT_NEXT ((long)(-0x7fffffffffffffffL - 1))

/* Replaces the application sigset pointer a[i] by a copy without SIGSYS (the
 * runtime never lets SIGSYS be blocked); the call then goes on. */
static long strip_sigsys(struct core_call *c, int i)
{
	if (c->a[i]) {
		c->mask = *(const uint64_t *)c->a[i] & ~KSIGBIT(KSIGSYS);
		c->a[i] = (long)&c->mask;
	}
	return RT_NEXT;
}

/* ---- signals (rtsignal.h) ---- */

static long sys_sigaction(struct core_call *c)
{
	return rt_sig_action((int)c->a[0], (const void *)c->a[1], (void *)c->a[2], (unsigned long)c->a[3]);
}

static long sys_sigprocmask(struct core_call *c)
{
	return rt_sig_procmask(c->t, c->uc, (int)c->a[0], (const void *)c->a[1], (void *)c->a[2],
			       (unsigned long)c->a[3]);
}

static long sys_sigaltstack(struct core_call *c)
{
	return rt_sig_altstack(c->t, c->uc, (const void *)c->a[0], (void *)c->a[1]);
}

/* rt_sigreturn is served by the trap (sigsys_call: rt_sig_return) before
 * any dispatch; a call that reaches the table came another way. */
static long sys_sigreturn(struct core_call *c)
{
	(void)c;
	rt_fatal(RT_EX_SOFTWARE, "rt_sigreturn outside a trapped call");
}

static long sys_sigsuspend(struct core_call *c) { return strip_sigsys(c, 0); }

/* ppoll's sigmask is a3, epoll_pwait's and epoll_pwait2's a4. */
static long sys_wait_masked(struct core_call *c) { return strip_sigsys(c, c->nr == __NR_ppoll ? 3 : 4); }

/* ---- threads and processes (thread.h, fork.h, exec.h) ---- */

static long sys_clone(struct core_call *c)
{
	struct rt_clone cl;
	long e = rt_clone_decode(c->nr, c->a, &cl);
	if (e)
		return e;
	return rt_clone_is_thread(&cl) ? rt_do_clone(c->t, c->uc, &cl) : rt_fork_from_clone(c->t, c->uc, &cl);
}

static long sys_fork(struct core_call *c)
{
	struct rt_fork_req q = {.flags = c->nr == __NR_vfork ? CLONE_VFORK : 0, .exit_signal = 17 /* SIGCHLD */};
	return rt_do_fork(c->t, c->uc, &q);
}

static long sys_execve(struct core_call *c)
{
	return rt_do_execve(c->t, c->uc, (const char *)c->a[0], (char *const *)c->a[1], (char *const *)c->a[2]);
}

static long sys_execveat(struct core_call *c)
{
	const long *a = c->a;
	return rt_do_execveat(c->t, c->uc, (int)a[0], (const char *)a[1], (char *const *)a[2], (char *const *)a[3],
			      a[4]);
}

static long sys_exit(struct core_call *c) { rt_do_thread_exit(c->t, (int)c->a[0]); }

static long sys_exit_group(struct core_call *c)
{
	(void)c;
	if (rt_stats) {
		unsigned long fast, sent;
		rt_thread_total_fast(&fast, &sent);
		rt_eprintf("scone-run: stats: %lu system calls trapped, %lu fast (rewritten sites), %lu of them "
			   "sent from the fast entry to the trap\n",
			   rt_thread_total_syscalls(), fast, sent);
		unsigned long site[RT_SITE_KINDS];
		rt_thread_total_sites(site);
		rt_eprintf("scone-run: stats: trapped calls by site: %lu %s, %lu %s, %lu %s, %lu %s\n", site[0],
			   rt_site_kind_names[0], site[1], rt_site_kind_names[1], site[2], rt_site_kind_names[2],
			   site[3], rt_site_kind_names[3]);
		transport_print_stats();
		if (rt_sched_mn)
			rt_sched_print_stats();
		if (fsv_arena_active())
			rt_eprintf("scone-run: stats: shared arena: %zu KiB taken from fresh memory, of %zu MiB\n",
				   fsv_arena_used() >> 10, fsv_arena_size() >> 20);
	}
	return RT_NEXT;
}

/* The host registers the area; the runtime records it so that signal
 * delivery can restart the application's critical sections. */
static long sys_rseq(struct core_call *c)
{
	const long *a = c->a;
	long r = host_syscall(c->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (!r && !(a[2] & 1)) {
		c->t->rseq_addr = (unsigned long)a[0];
		c->t->rseq_len = (unsigned long)a[1];
		c->t->rseq_sig = (unsigned long)a[3];
	} else if (!r) {
		c->t->rseq_addr = 0;
	}
	return r;
}

/* The application's FS base is virtual (app_fs): the trap and the fast path
 * write it to FS on their way back. */
static long sys_arch_prctl(struct core_call *c)
{
	if (c->a[0] == 0x1002 /* ARCH_SET_FS */) {
		if ((unsigned long)c->a[1] >= 0x800000000000UL)
			return -RT_EPERM;
		c->t->app_fs = (unsigned long)c->a[1];
		return 0;
	}
	if (c->a[0] == 0x1003 /* ARCH_GET_FS */) {
		*(unsigned long *)c->a[1] = c->t->app_fs;
		return 0;
	}
	/* GS points at the runtime's block (the fast path finds it there, the
	 * runtime's code its canary) until the application sets its own, which
	 * is virtual like FS: written when the application's code runs (the
	 * trap and the fast path, on their way back), never into the runtime's
	 * range. That thread's calls then trap (the fast entry wants the block). */
	if (c->a[0] == 0x1001 /* ARCH_SET_GS */) {
		unsigned long v = (unsigned long)c->a[1];
		if (v >= 0x800000000000UL || rt_region_overlaps(v, 1))
			return -RT_EPERM;
		c->t->app_gs = v;
		return 0;
	}
	if (c->a[0] == 0x1004 /* ARCH_GET_GS */) {
		*(unsigned long *)c->a[1] = c->t->app_gs;
		return 0;
	}
	return RT_NEXT;
}

static long sys_prctl(struct core_call *c)
{
	if (c->a[0] == 59 /* PR_SET_SYSCALL_USER_DISPATCH: owned by the runtime */)
		return -RT_EINVAL;
	return RT_NEXT;
}

/* ---- memory (mem.h), randomness (random.h) ---- */

static long sys_brk(struct core_call *c) { return rt_mem_brk((unsigned long)c->a[0]); }

/* RLIMIT_DATA and sysinfo: the enclave's heap (heap.h). */
static long sys_heap(struct core_call *c)
{
	long r;
	return rt_heap_dispatch(c->nr, c->a, &r) ? r : RT_NEXT;
}

/* [lo, hi) was unmapped or mapped over: what the runtime knows of the code
 * there goes (stub segments' site tables, stubmap.h; where trapped calls
 * come from, sites.h). */
static void code_gone(unsigned long lo, unsigned long hi)
{
	rt_stubmap_forget(lo, hi);
	rt_sites_forget(lo, hi);
}

static long sys_mem(struct core_call *c)
{
	long *a = c->a;
	long r = rt_mem_precheck(c->nr, a);
	if (r)
		return r;
	r = shield_call(c->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	rt_mem_postcheck(c->nr, a, r);
	if (r == -RT_ENOMEM && c->nr != __NR_munmap && c->nr != __NR_madvise) {
		unsigned long more = (unsigned long)a[1];
		if (c->nr == __NR_mremap)
			more = (unsigned long)a[2] > (unsigned long)a[1] ? (unsigned long)a[2] - (unsigned long)a[1] :
									   0;
		rt_heap_note_enomem(c->nr, more);
	}
	struct rt_iago_snap none = {.ok = 0};
	rt_iago_check(c->nr, a, r, &none);
	if (!rt_is_err(r)) { /* code gone or mapped over */
		if (c->nr == __NR_munmap || c->nr == __NR_mremap)
			code_gone((unsigned long)a[0], (unsigned long)a[0] + (unsigned long)a[1]);
		if (c->nr == __NR_mmap)
			code_gone((unsigned long)r, (unsigned long)r + (unsigned long)a[1]);
		if (c->nr == __NR_mremap)
			code_gone((unsigned long)r, (unsigned long)r + (unsigned long)a[2]);
	}
	/* A library's stub segment (docs/rewrite.md): the dynamic loader maps
	 * it executable from its file. */
	if (c->nr == __NR_mmap && !rt_is_err(r) && (a[2] & RT_PROT_EXEC) && !(a[3] & 0x20 /* MAP_ANONYMOUS */))
		rt_loader_mapped_code((unsigned long)r, (unsigned long)a[1], (int)a[4], a[5]);
	return r;
}

/* Served from the CPU's generator, never by the host. */
static long sys_getrandom(struct core_call *c)
{
	unsigned long len = (unsigned long)c->a[1];
	if ((unsigned long)c->a[2] & ~7UL) /* GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE */
		return -RT_EINVAL;
	if (len > 0x1ffffff) /* the kernel's per-call maximum */
		len = 0x1ffffff;
	unsigned long p = (unsigned long)c->a[0];
	if (len && (!p || p + len < p || p + len > 0x800000000000UL))
		return -RT_EFAULT;
	rt_random((void *)p, len);
	return (long)len;
}

/* io_uring operations run in the kernel without system calls: they would
 * bypass the trap and the shields. Linux AIO (io_setup, io_submit) runs
 * the I/O of its control blocks in the kernel too: on a shield's
 * descriptor (a sealed, empty placeholder) a read would return nothing.
 * Applications probe for both and fall back to ordinary calls on ENOSYS. */
static long sys_enosys(struct core_call *c)
{
	rt_refuse_once(c->nr, "ENOSYS",
		       c->nr == __NR_io_setup ?
			       "Linux AIO (io_submit) would run I/O past the shields: a protected file's descriptor "
			       "would read as empty; programs fall back to ordinary calls" :
			       "io_uring would run I/O past the shields; programs fall back to ordinary calls");
	return -RT_ENOSYS;
}

/* ptrace: an enclave cannot be traced (a production SGX enclave cannot
 * either), and in simulation mode a traced process would stop at every
 * trapped system call (the SIGSYS of Syscall User Dispatch) for a tracer
 * that does not expect it: PTRACE_TRACEME in a child hung it. Nor may one
 * process of the enclave read another's memory. */
static long sys_eperm(struct core_call *c)
{
	(void)c;
	return -RT_EPERM;
}

/* readlink(at) of /proc/self/exe: the program inside the image. */
static long sys_readlink(struct core_call *c)
{
	int i = c->nr == __NR_readlinkat;
	if (rt_app_exe && is_proc_self_exe((const char *)c->a[i]))
		return readlink_exe((char *)c->a[i + 1], c->a[i + 2]);
	return RT_NEXT;
}

typedef long (*core_fn)(struct core_call *c);

/* The calls the core emulates or checks before the shields see them. */
static const core_fn core_calls[] = {
	[__NR_rt_sigaction] = sys_sigaction,
	[__NR_rt_sigprocmask] = sys_sigprocmask,
	[__NR_sigaltstack] = sys_sigaltstack,
	[__NR_rt_sigreturn] = sys_sigreturn,
	[__NR_rt_sigsuspend] = sys_sigsuspend,
	[__NR_ppoll] = sys_wait_masked,
	[__NR_epoll_pwait] = sys_wait_masked,
	[__NR_epoll_pwait2] = sys_wait_masked,
	[__NR_clone] = sys_clone,
	[__NR_clone3] = sys_clone,
	[__NR_fork] = sys_fork,
	[__NR_vfork] = sys_fork,
	[__NR_execve] = sys_execve,
	[__NR_execveat] = sys_execveat,
	[__NR_exit] = sys_exit,
	[__NR_exit_group] = sys_exit_group,
	[__NR_rseq] = sys_rseq,
	[__NR_arch_prctl] = sys_arch_prctl,
	[__NR_prctl] = sys_prctl,
	[__NR_brk] = sys_brk,
	[__NR_mmap] = sys_mem,
	[__NR_munmap] = sys_mem,
	[__NR_mprotect] = sys_mem,
	[__NR_pkey_mprotect] = sys_mem,
	[__NR_mremap] = sys_mem,
	[__NR_madvise] = sys_mem,
	[__NR_getrandom] = sys_getrandom,
	[__NR_getrlimit] = sys_heap,
	[__NR_setrlimit] = sys_heap,
	[__NR_prlimit64] = sys_heap,
	[__NR_sysinfo] = sys_heap,
	[__NR_io_uring_setup] = sys_enosys,
	[__NR_io_setup] = sys_enosys, /* without a context io_submit has nothing to run */
	[__NR_ptrace] = sys_eperm,
	[__NR_readlink] = sys_readlink,
	[__NR_readlinkat] = sys_readlink,
};

long rt_dispatch(struct rt_thread *t, struct kucontext *uc, long nr, long *a)
{
	struct core_call c = {.t = t, .uc = uc, .nr = nr, .a = a};
	long r = RT_NEXT;
	if (nr >= 0 && (unsigned long)nr < sizeof(core_calls) / sizeof(core_calls[0]) && core_calls[nr])
		r = core_calls[nr](&c);
	else if (rt_ids_dispatch(nr, a, &r))
		return r;
	if (r != RT_NEXT)
		return r;
	return shielded(t, uc, nr, a);
}

/* The main thread's request to run another thread's execve, queued while
 * it was in the runtime: taken now that its call is done (exec.c). */
static void take_exec_request(struct rt_thread *t, struct kucontext *uc)
{
	for (unsigned i = 0; i < t->npending; i++) {
		if (rt_thread_request(t, t->pending[i].sig, &t->pending[i].info) != RT_REQ_EXEC)
			continue;
		t->pending[i] = t->pending[--t->npending];
		rt_exec_take_over(t, uc);
		return;
	}
}

static void trap_fs_block(struct rt_thread *t, int *fs);

/* RT_SCHED_EXEC: the main thread, idle, has another thread's execve to run;
 * a late request sends it back to idling. Returns the final result: after
 * the execve, RT_SCHED_SWITCHED with *r = -1 (uc starts the new program). */
static int sched_exec_requests(struct rt_thread *t, struct kucontext *uc, int s, long *r, int *fs)
{
	while (s == RT_SCHED_EXEC) {
		trap_fs_block(t, fs);
		take_exec_request(t, uc);
		if (t->ult) {
			*r = -1;
			return RT_SCHED_SWITCHED;
		}
		s = rt_sched_resume(t, uc, r);
	}
	return s;
}

/* The mn scheduler's part of a trapped call: 1 when it served the call
 * (RAX set, or uc switched to another user-level thread, *nr then the call
 * that one waits in), 0 when the call goes on to the dispatch (*nr and a
 * possibly changed). */
static int sched_trap(struct rt_thread *t, struct kucontext *uc, long *nr, long *a, int *fs)
{
	long r;
	switch (sched_exec_requests(t, uc, rt_sched_trap(t, uc, *nr, a, &r), &r, fs)) {
	case RT_SCHED_RESULT:
		uc->uc_mcontext.gregs[KR_RAX] = (unsigned long)r;
		return 1;
	case RT_SCHED_SWITCHED:
		*nr = r;
		return 1;
	case RT_SCHED_EXIT_GROUP:
		*nr = __NR_exit_group;
		a[0] = r;
		return 0;
	}
	return 0;
}

/* Under the mn scheduler: whether nr(a) may block in the host, so that the
 * ULT gives up its enclave thread for it (I/O on a descriptor known to be
 * non-blocking does not: nonblock.h). */
static int sched_may_block(long nr, const long *a) { return rt_syscall_may_block(nr) && !rt_call_nonblocking(nr, a); }

/* A blocking call posted to a host worker (rt_thread.hc_mode): its result,
 * or the next ULT to run while it waits. */
static void sched_hostcall(struct rt_thread *t, struct kucontext *uc, long *nr, int *fs)
{
	long r;
	int s = sched_exec_requests(t, uc, rt_sched_hostcall(t, uc, *nr, &r), &r, fs);
	if (s == RT_SCHED_RESULT)
		uc->uc_mcontext.gregs[KR_RAX] = (unsigned long)r;
	else if (s == RT_SCHED_SWITCHED)
		*nr = r;
}

/* After a blocking host call under the mn scheduler: back into a slot. */
static void sched_reenter(struct rt_thread *t, struct kucontext *uc, long *nr, int *fs)
{
	long r;
	if (sched_exec_requests(t, uc, rt_sched_enter(t, uc, *nr, &r), &r, fs) == RT_SCHED_SWITCHED)
		*nr = r;
}

/* Around the dispatch of a call that may block under the mn scheduler
 * (blocks): the call is offered for posting to a host worker (shields.c
 * app_host_cp decides at the host call), or the enclave thread slot is
 * given up for it at once. blocks_end: what happened (RT_HC_*; LEFT: the
 * slot is to be taken back). */
static int blocks_begin(struct rt_thread *t, int blocks, long nr, const long *a)
{
	if (!blocks)
		return RT_HC_NONE;
	if (rt_sched_offer(t, nr, a)) {
		t->hc_mode = RT_HC_OFFER;
		return RT_HC_OFFER;
	}
	rt_sched_leave(t);
	return RT_HC_LEFT;
}

static int blocks_end(struct rt_thread *t, int mode)
{
	if (mode == RT_HC_OFFER) {
		mode = t->hc_mode; /* OFFER still: no host call was made (a shield served it) */
		t->hc_mode = RT_HC_NONE;
	}
	return mode;
}

static void sigsys(struct rt_thread *t, int sig, struct ksiginfo *si, struct kucontext *uc);
static int trap_needs_fs(const struct rt_thread *t, const struct kucontext *uc, long nr);
static void sigsys_call(struct rt_thread *t, struct ksiginfo *si, struct kucontext *uc, long nr, long *a, int *fs);
static int fast_needs_vector(long nr, const long *a);

/* in_app: whether t runs application code, for the mn scheduler's
 * preemption tick (rtsched.h); 0 while the runtime runs for it. */
__attribute__((used)) void rt_sigsys(int sig, struct ksiginfo *si, void *ucv)
{
	struct rt_thread *t = rt_self_from_sp();
	/* RT_SIG_REQ at a host worker of the async transport (not a block of
	 * an application thread): a posted call's cancellation */
	if (sig == RT_SIG_REQ && host_worker_signal(t, ucv))
		return;
	int in_app = si->si_code == 2 /* SYS_USER_DISPATCH: from the application */ ? 1 : t->in_app;
	t->in_app = 0;
	/* GS = the block while the runtime's code runs (its canary, thread.h):
	 * another value is the application's, set with ARCH_SET_GS or, where
	 * the kernel allows it, WRGSBASE. */
	unsigned long gs = rt_rdgsbase();
	if (gs != (unsigned long)t) {
		t->app_gs = gs;
		rt_wrgsbase((unsigned long)t);
	}
	sigsys(t, sig, si, ucv);
	if (t->app_gs)
		rt_wrgsbase(t->app_gs);
	t->in_app = in_app;
}

static void sigsys(struct rt_thread *t, int sig, struct ksiginfo *si, struct kucontext *uc)
{
	if (si->si_code != 2 /* SYS_USER_DISPATCH */) {
		int req = rt_thread_request(t, sig, si);
		if ((req == RT_REQ_POKE || req == RT_REQ_PREEMPT) && rt_sched_mn && rt_signal_interrupted_app(uc)) {
			/* the scheduler's, between two application instructions */
			t->app_fs = rt_rdfsbase();
			rt_wrfsbase((unsigned long)t);
			long nr = rt_sched_interrupt(t, uc, req);
			if (nr != RT_SCHED_RESTARTED && t->npending)
				rt_signals_after_syscall(t, uc, nr);
			rt_wrfsbase(t->app_fs);
			return;
		}
		if (req == RT_REQ_EXEC && rt_signal_interrupted_app(uc)) {
			/* the main thread, between two application instructions */
			t->app_fs = rt_rdfsbase();
			rt_wrfsbase((unsigned long)t);
			rt_exec_take_over(t, uc);
			rt_wrfsbase(t->app_fs);
			return;
		}
		/* A SIGSYS sent to the application (kill, seccomp): it may arrive
		 * while a blocking host call runs for this thread, with FS already
		 * switched, so it is queued or delivered like any other signal
		 * (a runtime request is queued, and taken when the call is done). */
		rt_signal_forward(t, uc, sig, si);
		return;
	}
	unsigned long *g = uc->uc_mcontext.gregs;
	long nr = (long)g[KR_RAX];
	long a[6] = {(long)g[KR_RDI], (long)g[KR_RSI], (long)g[KR_RDX],
		     (long)g[KR_R10], (long)g[KR_R8],  (long)g[KR_R9]};
	unsigned long app_fs = rt_rdfsbase();
	t->app_fs = app_fs;
	int fs = trap_needs_fs(t, uc, nr);
	if (fs)
		rt_wrfsbase((unsigned long)t);
	sigsys_call(t, si, uc, nr, a, &fs);
	/* the application's FS: its own, another ULT's, or the one it set */
	if (fs || t->app_fs != app_fs)
		rt_wrfsbase(t->app_fs);
}

/* Whether a trapped call nr switches FS to the block and back. The
 * runtime's code does not need it (its canary is at GS:0x28, thread.h).
 * Where the kernel supports WRFSBASE (rt_fsgsbase_ok) the switch is cheap
 * and always made; elsewhere each switch is an arch_prctl call, made only
 * where app_fs may change: arch_prctl itself, the fast path's gate and
 * queued signals (an execve request, the mn scheduler's switches). */
static int trap_needs_fs(const struct rt_thread *t, const struct kucontext *uc, long nr)
{
	if (rt_fsgsbase_ok || t->npending)
		return 1;
	if (rt_fast_conf.gate && uc->uc_mcontext.gregs[KR_RIP] == rt_fast_conf.gate + 2)
		return 1;
	return nr == __NR_arch_prctl;
}

/* FS = the block from here on, if not yet (signals queued meanwhile may
 * hold an execve request). */
static void trap_fs_block(struct rt_thread *t, int *fs)
{
	if (!*fs) {
		rt_wrfsbase((unsigned long)t);
		*fs = 1;
	}
}

/* After a trapped call nr (the one the ULT now in uc waits in, after a
 * switch): the scheduler's requests and restart, queued signals. */
static void sigsys_after(struct rt_thread *t, struct kucontext *uc, long nr, int *fs)
{
	if (rt_sched_mn && rt_sched_collect(t, uc, nr))
		return; /* restarted */
	if (t->npending) {
		trap_fs_block(t, fs);
		take_exec_request(t, uc);
		rt_signals_after_syscall(t, uc, nr);
	}
}

static void sigsys_call(struct rt_thread *t, struct ksiginfo *si, struct kucontext *uc, long nr, long *a, int *fs)
{
	unsigned long *g = uc->uc_mcontext.gregs;
	if (rt_fast_gate_trap(t, uc)) {
		nr = t->fast_nr;
		if (t->fast_reenter) {
			t->fast_reenter = 0;
			sched_reenter(t, uc, &nr, fs);
		} else if (t->fast_hostcall) {
			t->fast_hostcall = 0;
			sched_hostcall(t, uc, &nr, fs);
		}
		sigsys_after(t, uc, nr, fs);
		return;
	}
	if (si->u.sys.arch != 0xc000003eU /* AUDIT_ARCH_X86_64 */) {
		/* int $0x80 from 64-bit code: the i386 ABI, not supported */
		static int warned;
		if (!warned++)
			rt_eprintf("scone-run: 32-bit system call (int $0x80) %ld refused with ENOSYS\n",
				   (long)g[KR_RAX]);
		g[KR_RAX] = (unsigned long)-RT_ENOSYS;
		return;
	}
	t->nsyscalls++;
	if (rt_sites_on)
		t->nsite[rt_sites_kind(g[KR_RIP] - 2)]++; /* RIP: after the 2-byte syscall */
	if (nr == __NR_rt_sigreturn) {
		/* every register comes from the frame (RAX too: no result, and
		 * no restart of a call, hence nr -1 after it) */
		rt_sig_return(t, uc);
		sigsys_after(t, uc, -1, fs);
		return;
	}
	if (!rt_sched_mn || !sched_trap(t, uc, &nr, a, fs)) {
		int blocks = rt_sched_mn && t->ult && sched_may_block(nr, a);
		int mode = blocks_begin(t, blocks, nr, a);
		g[KR_RAX] = (unsigned long)rt_dispatch(t, uc, nr, a);
		mode = blocks_end(t, mode);
		if (mode == RT_HC_POSTED)
			sched_hostcall(t, uc, &nr, fs);
		else if (mode == RT_HC_LEFT)
			sched_reenter(t, uc, &nr, fs);
	}
	sigsys_after(t, uc, nr, fs);
}

/* Called by rt_fast_entry (through rt_fast_conf) on the block's stack, GS =
 * the block, FS the application's, signals not blocked.
 * 0: served (f->rax = the result); 1: the stub's syscall traps instead. */
static int needs_trap(long nr)
{
	switch (nr) {
	case __NR_rt_sigreturn:
	case __NR_rt_sigprocmask:
	case __NR_sigaltstack:
	case __NR_rt_sigsuspend:
	case __NR_clone:
	case __NR_clone3:
	case __NR_fork:
	case __NR_vfork:
	case __NR_execve:
	case __NR_execveat:
	case __NR_exit:
	/* about once per thread; FS and GS are written on the trap's way back
	 * (the fast entry finds the block in GS after the call) */
	case __NR_arch_prctl:
		return 1;
	}
	return rt_sched_mn && rt_sched_needs_trap(nr);
}

/* Whether a sendmmsg vector names a unix socket in any of its messages
 * (or cannot be read here): each mmsghdr is 64 bytes, msg_name first. */
static int mmsg_named(const void *v, unsigned long n)
{
	if (n > 1024)
		n = 1024;
	if (!rt_user_ok(v, n * 64))
		return 1;
	for (unsigned long i = 0; i < n; i++) {
		const unsigned short *name = *(const unsigned short *const *)((const char *)v + i * 64);
		if (name && (!rt_user_ok(name, 2) || *name == 1 /* AF_UNIX */))
			return 1;
	}
	return 0;
}

/* Whether serving the call may run code that uses vector registers (the
 * runtime's own C code does not: runtime.mk): BearSSL and LZ4, through the
 * shields' files and descriptors (the console shield's final record at
 * exit_group too), randomness and program loading. Calls not listed may:
 * the application's vector state is then saved around them. Among those:
 * accept, accept4 and connect (the network shield sets up TLS on a socket
 * it may not own yet; connect's address may be a unix socket's path) and the poll family (poll, select and epoll_wait pump
 * the TLS connections they wait on: their descriptors are not in a[0]). */
static int fast_needs_vector(long nr, const long *a)
{
	switch (nr) {
	/* a descriptor: only when a shield owns it (protected files, the console) */
	case __NR_read:
	case __NR_write:
	case __NR_readv:
	case __NR_writev:
	case __NR_pread64:
	case __NR_pwrite64:
	case __NR_recvfrom:
	case __NR_recvmsg:
	case __NR_recvmmsg:
	case __NR_listen:
	case __NR_shutdown:
	case __NR_getsockname:
	case __NR_getpeername:
	case __NR_setsockopt:
	case __NR_getsockopt:
	case __NR_fcntl:
	case __NR_ioctl:
		return rt_shields_own_fd((int)a[0]);
	case __NR_epoll_ctl:
		return rt_shields_own_fd((int)a[0]) || rt_shields_own_fd((int)a[2]);
	/* an address: a unix socket's path is resolved in the image, whose
	 * directories may have to be read (decrypted) first (fs_sock.c) */
	case __NR_bind:
		return 1;
	case __NR_sendto:
		return a[4] || rt_shields_own_fd((int)a[0]);
	case __NR_sendmsg:
		return !rt_user_ok((const void *)a[1], 8) || *(void *const *)a[1] || rt_shields_own_fd((int)a[0]);
	case __NR_sendmmsg:
		return mmsg_named((const void *)a[1], (unsigned long)(unsigned)a[2]) || rt_shields_own_fd((int)a[0]);
	case __NR_mmap:
		return !(a[3] & 0x20 /* MAP_ANONYMOUS */) && rt_shields_own_fd((int)a[4]);
	/* no shield, no crypto */
	case __NR_getpid:
	case __NR_getppid:
	case __NR_gettid:
	case __NR_getuid:
	case __NR_geteuid:
	case __NR_getgid:
	case __NR_getegid:
	case __NR_getresuid:
	case __NR_getresgid:
	case __NR_getgroups:
	case __NR_getpgrp:
	case __NR_getpgid:
	case __NR_getsid:
	case __NR_clock_gettime:
	case __NR_clock_getres:
	case __NR_gettimeofday:
	case __NR_time:
	case __NR_nanosleep:
	case __NR_clock_nanosleep:
	case __NR_sched_yield:
	case __NR_sched_getaffinity:
	case __NR_futex:
	case __NR_set_robust_list:
	case __NR_set_tid_address:
	case __NR_rseq:
	case __NR_rt_sigaction:
	case __NR_kill:
	case __NR_tkill:
	case __NR_tgkill:
	case __NR_getrlimit:
	case __NR_prlimit64:
	case __NR_getrusage:
	case __NR_uname:
	case __NR_sysinfo:
	case __NR_brk:
	case __NR_munmap:
	case __NR_mprotect:
	case __NR_madvise:
	case __NR_membarrier:
	case __NR_epoll_create1:
	case __NR_socket:
	case __NR_socketpair:
	case __NR_pipe2:
	case __NR_eventfd2:
	case __NR_wait4:
	case __NR_waitid:
	case __NR_setitimer:
	case __NR_getitimer:
	case __NR_timerfd_create:
	case __NR_timerfd_settime:
	case __NR_timerfd_gettime:
		return 0;
	}
	return 1;
}

int rt_fast_syscall(struct rt_fast_frame *f, struct rt_thread *t)
{
	long nr = f->rax;
	long a[6] = {f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9};
	t->fast_nr = nr;
	if (rt_sched_mn) {
		long r;
		t->in_app = 0;
		int served = rt_sched_fast(t, nr, a, &r);
		t->in_app = 1;
		if (served) {
			t->nfast++;
			f->rax = r;
			return RT_FAST_SERVED;
		}
	}
	if (needs_trap(nr)) {
		t->nfast_trapped++;
		return RT_FAST_TRAP;
	}
	t->nfast++;
	t->in_app = 0;
	t->app_fs = rt_rdfsbase();
	/* The vector state is saved only where BearSSL may run; FS stays the
	 * application's (the runtime's canary is at GS:0x28, thread.h). */
	int vec = fast_needs_vector(nr, a);
	if (vec)
		rt_fast_vsave(t);
	/* Under the mn scheduler a call that may block gives its enclave
	 * thread slot up for its duration (rtsched.h); when none is free
	 * after it, the trap at the gate waits for one. */
	int blocks = rt_sched_mn && t->ult && sched_may_block(nr, a), ret = RT_FAST_SERVED;
	int mode = blocks_begin(t, blocks, nr, a);
	f->rax = rt_dispatch(t, 0, nr, a);
	mode = blocks_end(t, mode);
	if (mode == RT_HC_LEFT && !rt_sched_try_enter(t)) {
		t->fast_reenter = 1;
		ret = RT_FAST_GATE;
	} else if (mode == RT_HC_POSTED) {
		/* a posted call: its result if it comes within the spin, else
		 * the trap at the gate parks the ULT (a switch needs the frame) */
		long r;
		if (rt_sched_hostcall_quick(t, nr, &r)) {
			f->rax = r;
		} else {
			t->fast_hostcall = 1;
			ret = RT_FAST_GATE;
		}
	}
	if (vec)
		rt_fast_vrestore(t);
	t->in_app = 1;
	return ret;
}

/* A trap at the gate (rt_fast_entry): the fast call t->fast_nr, whose
 * result and continuation are in the block, is finished by the trap (its
 * queued signals delivered, an enclave thread slot waited for): 1 with uc
 * set to return from it. */
static int rt_fast_gate_trap(struct rt_thread *t, struct kucontext *uc)
{
	unsigned long *g = uc->uc_mcontext.gregs;
	if (!rt_fast_conf.gate || g[KR_RIP] != rt_fast_conf.gate + 2 || !t->fast_deliver)
		return 0;
	t->fast_deliver = 0;
	g[KR_RAX] = (unsigned long)t->fast_result;
	g[KR_RIP] = t->fast_cont;
	return 1;
}

int rt_trap_init(void)
{
	rt_text_lo = (unsigned long)__executable_start;
	rt_text_hi = (unsigned long)etext;
	int r = rt_signals_init();
	if (r < 0)
		return r;
	struct ksigaction sa = {(void *)rt_sigsys, KSA_SIGINFO | KSA_ONSTACK | KSA_RESTORER,
				(void *)rt_sigreturn_restorer, ~0ULL};
	/* the mn scheduler's requests (thread.h) come like the runtime's others */
	if (rt_sched_mn && (r = (int)rt_sys4(__NR_rt_sigaction, RT_SIG_REQ, &sa, 0, 8)) < 0)
		return r;
	return (int)rt_sys4(__NR_rt_sigaction, KSIGSYS, &sa, 0, 8);
}
