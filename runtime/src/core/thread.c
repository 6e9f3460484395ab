/* Threads: per-thread runtime blocks (thread.h) and clone/clone3/exit
 * emulation.
 *
 * Syscall User Dispatch is per thread and NOT inherited by clone (verified on
 * this kernel), and a child created with a new stack cannot return through
 * the parent's SIGSYS frame. So the runtime issues clone itself
 * (rt_clone_stub): the child starts on its own runtime block's stack, installs
 * its sigaltstack, enables SUD, sets the application's FS and enters the
 * application with rt_sigreturn on a prepared frame: the parent's registers,
 * RSP = the application's new stack, RAX = 0, RIP = after the `syscall`, and
 * the application's signal mask, all restored atomically by the kernel. */
#include <linux/sched.h>
#include "thread.h"
#include "clone.h"
#include "trap.h"
#include "region.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

static struct rt_thread *all_threads;
unsigned long rt_canary;
static volatile char sud_selector = 1; /* SYSCALL_DISPATCH_FILTER_BLOCK */
unsigned rt_max_threads;	       /* enclave threads (TCS) from the config; 0: unlimited (dev) */
static unsigned live_threads = 1;      /* the main thread */

#define SIGSTK_OFF (((sizeof(struct rt_thread) + 63) & ~63UL))
/* For rt_sigreturn_restorer (asm.S): where a block's signal stack starts. */
__attribute__((visibility("hidden"))) const unsigned long rt_sigstk_off = SIGSTK_OFF;
_Static_assert(RT_TBLOCK_SIZE == 0x40000, "asm.S's restorer assumes 256 KiB blocks");
_Static_assert(RT_HEAP_BASE == 0x7e0100000000UL && RT_REGION_END == 0x7e1000000000UL,
	       "asm.S's restorer names the block range");

static struct rt_thread *reuse_block(void)
{
	for (struct rt_thread *t = __atomic_load_n(&all_threads, __ATOMIC_ACQUIRE); t; t = t->next) {
		int zero = 0;
		if (__atomic_compare_exchange_n(&t->state, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			struct rt_thread *next = t->next;
			memset(t, 0, sizeof *t);
			t->next = next;
			return t;
		}
	}
	return 0;
}

struct rt_thread *rt_thread_alloc(void)
{
	struct rt_thread *t = reuse_block();
	if (!t) {
		t = rt_region_alloc(RT_TBLOCK_SIZE, RT_TBLOCK_SIZE);
		if (!t)
			return 0;
		t->next = __atomic_load_n(&all_threads, __ATOMIC_RELAXED);
		while (!__atomic_compare_exchange_n(&all_threads, &t->next, t, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
			;
	}
	t->self = t;
	t->canary = rt_canary;
	t->state = 1;
	t->app_ss.ss_flags = KSS_DISABLE;
	return t;
}

int rt_thread_arm(struct rt_thread *t)
{
	struct kstack ss = {(char *)t + SIGSTK_OFF, 0, RT_TBLOCK_SIZE - SIGSTK_OFF};
	long r = rt_sys2(__NR_sigaltstack, &ss, 0);
	if (r < 0)
		return (int)r;
	r = rt_sys5(__NR_prctl, 59 /* PR_SET_SYSCALL_USER_DISPATCH */, 1 /* ON */, rt_text_lo, rt_text_hi - rt_text_lo,
		    &sud_selector);
	if (r < 0)
		return (int)r;
	t->tid = (int)rt_sys0(__NR_gettid);
	/* GS = the block: the fast path (fast.h) finds it there. */
	rt_wrgsbase((unsigned long)t);
	return 0;
}

void rt_thread_real_altstack(struct rt_thread *t, struct kstack *ss)
{
	ss->ss_sp = (char *)t + SIGSTK_OFF;
	ss->ss_flags = 0;
	ss->ss_size = RT_TBLOCK_SIZE - SIGSTK_OFF;
}

static __attribute__((noreturn)) void rt_thread_child_start(struct rt_thread *c)
{
	int r = rt_thread_arm(c);
	if (r < 0)
		rt_fatal(RT_EX_OSERR, "cannot arm a new thread (sigaltstack/Syscall User Dispatch): error %d", -r);
	rt_wrfsbase(c->app_fs);
	if (c->app_gs)
		rt_wrgsbase(c->app_gs);
	rt_sigreturn_to(&c->child_frame.uc);
}

long rt_do_clone(struct rt_thread *t, struct kucontext *uc, struct rt_clone *cl)
{
	unsigned long flags = cl->flags | (unsigned long)cl->exit_signal, app_sp = cl->stack, tls = cl->tls;
	const long *a = cl->a;
	if (!app_sp)
		return -RT_EINVAL;
	if (__atomic_add_fetch(&live_threads, 1, __ATOMIC_ACQ_REL) > rt_max_threads && rt_max_threads) {
		__atomic_sub_fetch(&live_threads, 1, __ATOMIC_ACQ_REL);
		rt_eprintf("scone-run: thread limit of the enclave reached (%u threads, config max_threads): "
			   "clone refused with EAGAIN; convert with 'scone-build convert --threads N' to allow more\n",
			   rt_max_threads);
		return -11; /* EAGAIN */
	}

	struct rt_thread *c = rt_thread_alloc();
	if (!c) {
		__atomic_sub_fetch(&live_threads, 1, __ATOMIC_ACQ_REL);
		return -RT_ENOMEM;
	}
	c->app_fs = (flags & CLONE_SETTLS) ? tls : t->app_fs;
	c->app_gs = t->app_gs; /* as the kernel's clone: the parent's GS base */
	struct krt_sigframe *f = &c->child_frame;
	f->pretcode = 0;
	f->uc = *uc;
	f->uc.uc_link = 0;
	rt_thread_real_altstack(c, &f->uc.uc_stack);
	f->uc.uc_mcontext.fpregs = 0; /* the child starts with a clean FPU state */
	f->uc.uc_mcontext.gregs[KR_RSP] = app_sp;
	f->uc.uc_mcontext.gregs[KR_RAX] = 0;

	unsigned long top = (unsigned long)rt_thread_stack_top(c) - 64;
	long r;
	c->child_start = rt_thread_child_start;
	if (cl->clone3) {
		cl->ca.stack = (unsigned long)c + SIGSTK_OFF;
		cl->ca.stack_size = top - cl->ca.stack;
		r = rt_clone_stub(__NR_clone3, (long)&cl->ca, (long)cl->casize, 0, 0, 0);
	} else {
		r = rt_clone_stub(__NR_clone, (long)flags, (long)top, a[2], a[3], a[4]);
	}
	if (r < 0) {
		__atomic_store_n(&c->state, 0, __ATOMIC_RELEASE);
		__atomic_sub_fetch(&live_threads, 1, __ATOMIC_ACQ_REL);
	}
	return r;
}

long rt_thread_spawn(void (*start)(struct rt_thread *t))
{
	struct rt_thread *c = rt_thread_alloc();
	if (!c)
		return -RT_ENOMEM;
	c->child_start = start;
	__atomic_add_fetch(&live_threads, 1, __ATOMIC_ACQ_REL);
	unsigned long top = (unsigned long)rt_thread_stack_top(c) - 64;
	/* The child starts with every signal blocked, until it is armed (its
	 * signal stack, Syscall User Dispatch): the caller may run with the
	 * application's mask (the mn scheduler's fast path). */
	uint64_t all = ~0ULL, old;
	rt_sys4(__NR_rt_sigprocmask, KSIG_SETMASK, &all, &old, 8);
	long r = rt_clone_stub(__NR_clone,
			       CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM,
			       (long)top, 0, 0, 0);
	rt_sys4(__NR_rt_sigprocmask, KSIG_SETMASK, &old, 0, 8);
	if (r < 0) {
		__atomic_store_n(&c->state, 0, __ATOMIC_RELEASE);
		__atomic_sub_fetch(&live_threads, 1, __ATOMIC_ACQ_REL);
	}
	return r;
}

void rt_do_thread_exit(struct rt_thread *t, int code)
{
	__atomic_sub_fetch(&live_threads, 1, __ATOMIC_ACQ_REL);
	rt_exit_and_release(&t->state, code);
}

unsigned long rt_thread_total_syscalls(void)
{
	unsigned long n = 0;
	for (struct rt_thread *t = __atomic_load_n(&all_threads, __ATOMIC_ACQUIRE); t; t = t->next)
		n += t->nsyscalls;
	return n;
}

void rt_thread_total_fast(unsigned long *fast, unsigned long *sent_to_trap)
{
	*fast = *sent_to_trap = 0;
	for (struct rt_thread *t = __atomic_load_n(&all_threads, __ATOMIC_ACQUIRE); t; t = t->next) {
		*fast += t->nfast;
		*sent_to_trap += t->nfast_trapped;
	}
}

void rt_thread_total_sites(unsigned long out[4])
{
	for (int k = 0; k < 4; k++)
		out[k] = 0;
	for (struct rt_thread *t = __atomic_load_n(&all_threads, __ATOMIC_ACQUIRE); t; t = t->next)
		for (int k = 0; k < 4; k++)
			out[k] += t->nsite[k];
}

unsigned rt_thread_live(void) { return __atomic_load_n(&live_threads, __ATOMIC_ACQUIRE); }

/* fork.c, in a forked child: the calling thread is the only one; re-arm
 * Syscall User Dispatch (fork does not inherit it on this kernel; the
 * sigaltstack it does, and the handler runs on it right now). */
void rt_thread_fork_child(struct rt_thread *self)
{
	for (struct rt_thread *b = __atomic_load_n(&all_threads, __ATOMIC_ACQUIRE); b; b = b->next)
		if (b != self)
			__atomic_store_n(&b->state, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&live_threads, 1, __ATOMIC_RELEASE);
	long r = rt_sys5(__NR_prctl, 59 /* PR_SET_SYSCALL_USER_DISPATCH */, 1 /* ON */, rt_text_lo,
			 rt_text_hi - rt_text_lo, &sud_selector);
	if (r < 0)
		rt_fatal(RT_EX_OSERR, "cannot enable Syscall User Dispatch in a forked child: error %ld", -r);
	self->tid = (int)rt_sys0(__NR_gettid);
}

/* ---- execve from a multi-threaded process ---- */

#define SI_QUEUE_ (-1)
static struct rt_thread *exec_leader; /* the thread whose execve empties the process */

/* The payload (si_value, after si_pid and si_uid) of request req. */
static unsigned long req_token(int req) { return rt_canary ^ (unsigned long)req; }

void rt_thread_ask(struct rt_thread *b, int req)
{
	int tid = __atomic_load_n(&b->tid, __ATOMIC_RELAXED);
	if (tid <= 0 || !__atomic_load_n(&b->state, __ATOMIC_ACQUIRE))
		return;
	struct ksiginfo si;
	memset(&si, 0, sizeof si);
	si.si_signo = req == RT_REQ_POKE || req == RT_REQ_PREEMPT ? RT_SIG_REQ : KSIGSYS;
	si.si_code = SI_QUEUE_;
	unsigned long v = req_token(req);
	memcpy(si.u.raw + 8, &v, sizeof v);
	rt_sys4(__NR_rt_tgsigqueueinfo, rt_sys0(__NR_getpid), tid, si.si_signo, &si);
}

int rt_thread_request(const struct rt_thread *t, int sig, const struct ksiginfo *si)
{
	if ((sig != KSIGSYS && sig != RT_SIG_REQ) || si->si_code != SI_QUEUE_)
		return 0;
	unsigned long v;
	memcpy(&v, si->u.raw + 8, sizeof v);
	if (sig == RT_SIG_REQ)
		return v == req_token(RT_REQ_POKE) ? RT_REQ_POKE : v == req_token(RT_REQ_PREEMPT) ? RT_REQ_PREEMPT : 0;
	/* an execve request may come late (sent again every millisecond until
	 * taken, SIGSYS queues one instance): it stays the runtime's, and its
	 * takers ignore it once the execve is done */
	if (v == req_token(RT_REQ_EXEC))
		return RT_REQ_EXEC;
	struct rt_thread *l = __atomic_load_n(&exec_leader, __ATOMIC_ACQUIRE);
	if (!l || l == t)
		return 0;
	return v == req_token(RT_REQ_EXIT) ? RT_REQ_EXIT : 0;
}

void rt_thread_exit_requested_now(struct rt_thread *t)
{
	/* The program's memory is about to be replaced: the kernel must not
	 * write to it for this thread once it is gone (CLONE_CHILD_CLEARTID,
	 * the robust futex list). */
	rt_sys1(__NR_set_tid_address, 0);
	rt_sys2(__NR_set_robust_list, 0, 24);
	rt_do_thread_exit(t, 0);
}

struct rt_thread *rt_thread_leader(void)
{
	int pid = (int)rt_sys0(__NR_getpid);
	for (struct rt_thread *b = __atomic_load_n(&all_threads, __ATOMIC_ACQUIRE); b; b = b->next)
		if (__atomic_load_n(&b->state, __ATOMIC_ACQUIRE) && __atomic_load_n(&b->tid, __ATOMIC_RELAXED) == pid)
			return b;
	return 0;
}

int rt_thread_others_alive(const struct rt_thread *t)
{
	for (struct rt_thread *b = __atomic_load_n(&all_threads, __ATOMIC_ACQUIRE); b; b = b->next)
		if (b != t && __atomic_load_n(&b->state, __ATOMIC_ACQUIRE))
			return 1;
	return 0;
}

static int others_alive_but(const struct rt_thread *t, const struct rt_thread *keep)
{
	for (struct rt_thread *b = __atomic_load_n(&all_threads, __ATOMIC_ACQUIRE); b; b = b->next)
		if (b != t && b != keep && __atomic_load_n(&b->state, __ATOMIC_ACQUIRE))
			return 1;
	return 0;
}

long rt_thread_exit_others(struct rt_thread *t, struct rt_thread *keep)
{
	struct rt_thread *none = 0;
	if (!__atomic_compare_exchange_n(&exec_leader, &none, t, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) && none != t) {
		/* another thread's execve won: it hands the new program to the
		 * main thread, which must stay (its id is the process id, and
		 * the process's /proc files are its); the others exit */
		if (__atomic_load_n(&t->tid, __ATOMIC_RELAXED) == (int)rt_sys0(__NR_getpid))
			return 1;
		rt_thread_exit_requested_now(t);
	}
	/* Resent every millisecond: a thread inside the runtime takes it only
	 * when it returns to the application; one in a blocking host call is
	 * interrupted. Ten seconds is far beyond any such call's return. */
	for (int round = 0; others_alive_but(t, keep); round++) {
		if (round == 10000)
			rt_fatal(RT_EX_SOFTWARE, "execve: a thread of the process did not exit within 10 s");
		for (struct rt_thread *b = __atomic_load_n(&all_threads, __ATOMIC_ACQUIRE); b; b = b->next)
			if (b != t && b != keep)
				rt_thread_ask(b, RT_REQ_EXIT);
		struct {
			long sec, nsec;
		} ts = {0, 1000000};
		rt_sys2(__NR_nanosleep, &ts, 0);
	}
	return 0;
}

void rt_thread_exec_done(void) { __atomic_store_n(&exec_leader, 0, __ATOMIC_RELEASE); }

struct rt_thread *rt_thread_armed(void)
{
	unsigned long gs = rt_rdgsbase();
	struct rt_thread *t = (struct rt_thread *)gs;
	return rt_region_overlaps(gs, 1) && t->self == t && t->tid > 0 ? t : NULL;
}
