/* The application's view of signals.
 *
 * SIGSYS belongs to the runtime: the application's SIGSYS action, its SIGSYS
 * mask bit and its sigaltstack are virtual. For every other signal the
 * application's action is recorded here; when it is a handler, the kernel
 * gets the runtime's rt_sig_entry instead (on the runtime's signal stack,
 * everything blocked), which builds a signal frame on the application's stack
 * (or on its virtual sigaltstack for SA_ONSTACK) and enters the application's
 * handler with the interrupted state, mask and FPU state in that frame. The
 * handler returns through the application's restorer, whose rt_sigreturn
 * traps: rt_sig_return restores the interrupted state from the frame.
 *
 * A signal that arrives while a blocking host call runs on behalf of the
 * thread (interrupted RIP inside the runtime) is queued in the thread block
 * and delivered when the SIGSYS handler finishes; the call is restarted when
 * every queued handler has SA_RESTART and the call is restartable. */
#include "rtsignal.h"
#include "fast.h"
#include "locks.h"
#include "trap.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"
#include "region.h"
#include "shield.h"
#include "stubmap.h"
#include "rtsched.h" /* rt_sched_mn: signal RT_SIG_REQ is then the runtime's */

/* The signals the kernel never gets an action for nor sees blocked: SIGSYS,
 * and RT_SIG_REQ under the mn scheduler. */
static int runtime_sig(int sig) { return sig == KSIGSYS || (sig == RT_SIG_REQ && rt_sched_mn); }
static uint64_t runtime_bits(void) { return KSIGBIT(KSIGSYS) | (rt_sched_mn ? KSIGBIT(RT_SIG_REQ) : 0); }

static struct ksigaction vact[KNSIG + 1];
static void lk(void) { rt_lock(&rt_sigact_lock); }
static void unlk(void) { rt_unlock(&rt_sigact_lock); }

__attribute__((used)) void rt_sig_entry(int sig, struct ksiginfo *si, void *ucv);

static int kernel_install(int sig, const struct ksigaction *app)
{
	struct ksigaction k;
	if (app->handler == KSIG_DFL || app->handler == KSIG_IGN) {
		k.handler = app->handler;
		k.flags = (app->flags & (KSA_NOCLDSTOP | KSA_NOCLDWAIT)) | KSA_RESTORER;
		k.restorer = (void *)rt_sigreturn_restorer;
		k.mask = app->mask & ~runtime_bits();
	} else {
		k.handler = (void *)rt_sig_entry;
		k.flags = (app->flags & (KSA_NOCLDSTOP | KSA_NOCLDWAIT)) | KSA_SIGINFO | KSA_ONSTACK | KSA_RESTORER;
		k.restorer = (void *)rt_sigreturn_restorer;
		k.mask = ~0ULL;
	}
	return (int)rt_sys4(__NR_rt_sigaction, sig, &k, 0, 8);
}

int rt_signals_init(void)
{
	for (int s = 1; s <= KNSIG; s++) {
		if (s == KSIGKILL || s == KSIGSTOP || s == KSIGSYS)
			continue;
		/* After execve only SIG_DFL/SIG_IGN can be inherited. */
		rt_sys4(__NR_rt_sigaction, s, 0, &vact[s], 8);
	}
	return 0;
}

long rt_sig_action(int sig, const struct ksigaction *act, struct ksigaction *oact, unsigned long size)
{
	if (size != 8 || sig < 1 || sig > KNSIG)
		return -RT_EINVAL;
	if (sig == KSIGKILL || sig == KSIGSTOP)
		return rt_sys4(__NR_rt_sigaction, sig, act, oact, size);
	struct ksigaction nw, old;
	if (act)
		nw = *act;
	lk();
	old = vact[sig];
	if (act) {
		if (!runtime_sig(sig)) {
			int r = kernel_install(sig, &nw);
			if (r < 0) {
				unlk();
				return r;
			}
		}
		vact[sig] = nw;
	}
	unlk();
	if (oact)
		*oact = old;
	return 0;
}

long rt_sig_procmask(struct rt_thread *t, struct kucontext *uc, int how, const uint64_t *set, uint64_t *oset,
		     unsigned long size)
{
	if (size != 8)
		return -RT_EINVAL;
	uint64_t cur = uc->uc_sigmask | (t->vsigsys_blocked ? KSIGBIT(KSIGSYS) : 0);
	uint64_t old = cur;
	if (set) {
		uint64_t s = *set;
		switch (how) {
		case KSIG_BLOCK:
			cur |= s;
			break;
		case KSIG_UNBLOCK:
			cur &= ~s;
			break;
		case KSIG_SETMASK:
			cur = s;
			break;
		default:
			return -RT_EINVAL;
		}
		t->vsigsys_blocked = (cur & KSIGBIT(KSIGSYS)) != 0;
		uc->uc_sigmask = cur & ~(runtime_bits() | KSIGBIT(KSIGKILL) | KSIGBIT(KSIGSTOP));
	}
	if (oset)
		*oset = old;
	return 0;
}

static int on_app_stack(const struct rt_thread *t, unsigned long sp)
{
	if (t->app_ss.ss_flags & KSS_DISABLE)
		return 0;
	unsigned long lo = (unsigned long)t->app_ss.ss_sp;
	return sp > lo && sp <= lo + t->app_ss.ss_size;
}

long rt_sig_altstack(struct rt_thread *t, struct kucontext *uc, const struct kstack *ss, struct kstack *old)
{
	int on = on_app_stack(t, uc->uc_mcontext.gregs[KR_RSP]);
	struct kstack prev = t->app_ss;
	if (ss) {
		struct kstack n = *ss;
		int flags = n.ss_flags & ~(int)(1U << 31); /* SS_AUTODISARM: accepted, not emulated */
		if (on)
			return -RT_EPERM;
		if (flags == KSS_DISABLE) {
			t->app_ss.ss_sp = 0;
			t->app_ss.ss_size = 0;
			t->app_ss.ss_flags = KSS_DISABLE;
		} else if (flags == 0 || flags == KSS_ONSTACK) {
			if (n.ss_size < 2048)
				return -RT_ENOMEM;
			t->app_ss.ss_sp = n.ss_sp;
			t->app_ss.ss_size = n.ss_size;
			t->app_ss.ss_flags = 0;
		} else {
			return -RT_EINVAL;
		}
	}
	if (old) {
		old->ss_sp = prev.ss_sp;
		old->ss_size = prev.ss_size;
		old->ss_flags = on ? KSS_ONSTACK : prev.ss_flags;
	}
	return 0;
}

/* Default action of a signal the application did not catch (used only when
 * the action changed while the signal was queued). */
static void default_action(int sig)
{
	/* Ignored by default: SIGCHLD, SIGCONT, SIGURG, SIGWINCH. */
	if (sig == 17 || sig == 18 || sig == 23 || sig == 28)
		return;
	struct ksigaction dfl = {KSIG_DFL, 0, 0, 0};
	rt_sys4(__NR_rt_sigaction, sig, &dfl, 0, 8);
	rt_sys3(__NR_tgkill, rt_sys0(__NR_getpid), rt_sys0(__NR_gettid), sig);
}

/* Rewrites uc so that returning from the current runtime signal frame enters
 * the application's handler for sig, with a kernel-format frame that returns
 * to the state uc described. */
static void deliver(struct rt_thread *t, struct kucontext *uc, int sig, const struct ksiginfo *si)
{
	switch (rt_thread_request(t, sig, si)) {
	case RT_REQ_EXIT: /* another thread's execve: a safe point */
		rt_thread_exit_requested_now(t);
	case RT_REQ_EXEC: /* taken by the trap (trap.c); a late copy */
	case RT_REQ_POKE: /* the scheduler's (rtsched.h) */
	case RT_REQ_PREEMPT:
		return;
	}
	lk();
	struct ksigaction a = vact[sig];
	if ((a.flags & KSA_RESETHAND) && a.handler != KSIG_DFL && a.handler != KSIG_IGN) {
		struct ksigaction dfl = {KSIG_DFL, 0, 0, 0};
		vact[sig] = dfl;
		if (!runtime_sig(sig))
			kernel_install(sig, &dfl);
	}
	unlk();
	if (a.handler == KSIG_IGN)
		return;
	if (a.handler == KSIG_DFL) {
		if (sig == KSIGSYS) /* the application's SIGSYS default: core dump */
			rt_fatal(128 + KSIGSYS, "application received SIGSYS (code %d) with the default action",
				 si->si_code);
		default_action(sig);
		return;
	}
	unsigned long *g = uc->uc_mcontext.gregs;
	unsigned long sp = g[KR_RSP];
	if ((a.flags & KSA_ONSTACK) && !(t->app_ss.ss_flags & KSS_DISABLE) && !on_app_stack(t, sp))
		sp = (unsigned long)t->app_ss.ss_sp + t->app_ss.ss_size;
	else
		sp -= 128; /* red zone */

	const unsigned char *fsrc = uc->uc_mcontext.fpregs;
	size_t fsize = 512;
	if (fsrc && *(const uint32_t *)(fsrc + 464) == FP_XSTATE_MAGIC1)
		fsize = *(const uint32_t *)(fsrc + 468);
	unsigned char *fdst = 0;
	if (fsrc) {
		sp = (sp - fsize) & ~63UL;
		fdst = (unsigned char *)sp;
		memcpy(fdst, fsrc, fsize);
	}
	sp -= sizeof(struct krt_sigframe);
	sp = (sp & ~15UL) - 8;
	struct krt_sigframe *f = (struct krt_sigframe *)sp;
	f->uc = *uc;
	f->uc.uc_link = 0;
	f->uc.uc_mcontext.fpregs = fdst;
	if ((a.flags & KSA_RESTORER) && a.restorer) {
		/* The handler returns through the application's restorer, as
		 * natively: its rt_sigreturn traps (rt_sig_return), and unwinders
		 * (pthread_cancel's forced unwind, backtrace() in a handler, C++
		 * exceptions) recognise the frame by the restorer's CFI or bytes.
		 * The frame then shows what the kernel's would: the application's
		 * mask and sigaltstack, and the original address of code a stub
		 * runs for a rewritten site (stubmap.h). */
		f->pretcode = (unsigned long)a.restorer;
		f->uc.uc_mcontext.gregs[KR_RIP] = rt_stubmap_to_site(g[KR_RIP]);
		f->uc.uc_sigmask |= t->vsigsys_blocked ? KSIGBIT(KSIGSYS) : 0;
		f->uc.uc_stack = t->app_ss;
		if (on_app_stack(t, g[KR_RSP]))
			f->uc.uc_stack.ss_flags = KSS_ONSTACK;
	} else {
		/* No restorer (the kernel would not deliver): the runtime's,
		 * whose rt_sigreturn goes to the kernel, which restores the
		 * sigaltstack from uc_stack: the runtime's. */
		f->pretcode = (unsigned long)rt_sigreturn_restorer;
		rt_thread_real_altstack(t, &f->uc.uc_stack);
	}
	f->info = *si;

	g[KR_RIP] = (unsigned long)a.handler;
	g[KR_RSP] = sp;
	g[KR_RDI] = (unsigned long)sig;
	g[KR_RSI] = (unsigned long)&f->info;
	g[KR_RDX] = (unsigned long)&f->uc;
	g[KR_RAX] = 0;
	g[KR_EFL] &= ~0x500UL; /* DF, TF */
	/* The handler starts with a reset FPU, as the kernel does: the
	 * interrupted FPU state lives in the application's frame (fdst) and
	 * comes back with its rt_sigreturn. */
	uc->uc_mcontext.fpregs = 0;
	uint64_t mask = uc->uc_sigmask | a.mask;
	if (!(a.flags & KSA_NODEFER))
		mask |= KSIGBIT(sig);
	uc->uc_sigmask = mask & ~(runtime_bits() | KSIGBIT(KSIGKILL) | KSIGBIT(KSIGSTOP));
}

/* The kernel's FIX_EFLAGS: the flags a signal frame may change (AC, RF,
 * OF, DF, TF, SF, ZF, AF, PF, CF). */
#define USER_EFLAGS 0x50dd5UL

/* Application memory: plausible and outside the runtime's range. */
static int app_mem(const void *p, size_t len)
{
	return rt_user_ok(p, len) && !rt_region_overlaps((unsigned long)p, len);
}

static size_t fpstate_size(const unsigned char *fp)
{
	return *(const uint32_t *)(fp + 464) == FP_XSTATE_MAGIC1 ? *(const uint32_t *)(fp + 468) : 512;
}

long rt_sig_return(struct rt_thread *t, struct kucontext *uc)
{
	unsigned long *g = uc->uc_mcontext.gregs;
	const struct kucontext *at = (const struct kucontext *)g[KR_RSP];
	if (!app_mem(at, sizeof *at))
		rt_fatal(128 + 11, "rt_sigreturn: the signal frame at %p is outside the application's memory", at);
	struct kucontext fr = *at; /* one read: other threads may write it */
	const unsigned char *src = fr.uc_mcontext.fpregs;
	unsigned char *dst = uc->uc_mcontext.fpregs;
	size_t n = 512;
	if (src) {
		if (!app_mem(src, 512))
			rt_fatal(128 + 11,
				 "rt_sigreturn: the frame's FPU state at %p is outside the application's memory", src);
		size_t m = fpstate_size(src);
		if (dst && m > 512 && m == fpstate_size(dst) && app_mem(src, m))
			n = m;
	}
	for (int i = KR_R8; i <= KR_RIP; i++)
		g[i] = fr.uc_mcontext.gregs[i];
	g[KR_RIP] = rt_stubmap_to_stub(g[KR_RIP]); /* a rewritten site's code runs in its stub */
	g[KR_EFL] = (g[KR_EFL] & ~USER_EFLAGS) | (fr.uc_mcontext.gregs[KR_EFL] & USER_EFLAGS);
	/* No FPU state in the frame: the kernel resets it, as it does here
	 * when the trap returns. A legacy (512-byte) one leaves the extended
	 * state reset, as the kernel's restore does. */
	if (!src || !dst)
		uc->uc_mcontext.fpregs = 0;
	else
		memcpy(dst, src, n);
	uint64_t mask = fr.uc_sigmask;
	t->vsigsys_blocked = (mask & KSIGBIT(KSIGSYS)) != 0;
	uc->uc_sigmask = mask & ~(runtime_bits() | KSIGBIT(KSIGKILL) | KSIGBIT(KSIGSTOP));
	/* The kernel restores the sigaltstack from the frame (after the
	 * registers, so the check against the stack pointer sees the
	 * interrupted one); unchanged in the common case. */
	struct kstack ss = fr.uc_stack;
	if (ss.ss_sp != t->app_ss.ss_sp || ss.ss_size != t->app_ss.ss_size ||
	    (ss.ss_flags & KSS_DISABLE) != (t->app_ss.ss_flags & KSS_DISABLE))
		(void)rt_sig_altstack(t, uc, &ss, 0);
	return (long)g[KR_RAX];
}

void rt_signals_exec_reset(struct rt_thread *t)
{
	lk();
	for (int s = 1; s <= KNSIG; s++) {
		if (vact[s].handler == KSIG_DFL || vact[s].handler == KSIG_IGN) {
			if (s == KSIGSYS)
				vact[s].flags = 0;
			continue;
		}
		struct ksigaction dfl = {KSIG_DFL, 0, 0, 0};
		vact[s] = dfl;
		if (!runtime_sig(s))
			kernel_install(s, &dfl);
	}
	unlk();
	t->app_ss.ss_sp = 0;
	t->app_ss.ss_size = 0;
	t->app_ss.ss_flags = KSS_DISABLE;
}

int rt_signal_interrupted_app(const struct kucontext *uc)
{
	unsigned long rip = uc->uc_mcontext.gregs[KR_RIP];
	if (rip >= rt_text_lo && rip < rt_text_hi)
		return 0;
	if (rt_fast_conf.gate && rip >= rt_fast_conf.gate && rip < rt_fast_conf.gate + RT_PAGE)
		return 0;
	return 1;
}

void rt_signal_forward(struct rt_thread *t, struct kucontext *uc, int sig, const struct ksiginfo *si)
{
	unsigned long rip = uc->uc_mcontext.gregs[KR_RIP];
	int in_runtime = rip >= rt_text_lo && rip < rt_text_hi;
	if (rip >= (unsigned long)rt_fast_entry && rip < (unsigned long)rt_fast_head_end) {
		/* The fast entry's head: still on the application's stack with
		 * its registers and FS; deliver as at the stub. */
		in_runtime = 0;
	} else if (rip >= (unsigned long)rt_fast_tail && rip <= (unsigned long)rt_fast_ret) {
		/* The fast return: queue, and roll back to its check of the
		 * queue (rsp back onto the flags popfq took, still there). */
		if (rip == (unsigned long)rt_fast_ret)
			uc->uc_mcontext.gregs[KR_RSP] -= 8;
		uc->uc_mcontext.gregs[KR_RIP] = (unsigned long)rt_fast_tail;
	} else if (rt_fast_conf.gate && rip >= rt_fast_conf.gate && rip < rt_fast_conf.gate + RT_PAGE) {
		in_runtime = 1; /* the gate traps next and delivers */
	}
	if (in_runtime) {
		/* Inside a host call made for this thread: queue it. Standard
		 * signals coalesce in the kernel too; excess ones are dropped.
		 * A blocking call about to start is cancelled (rt_syscall_cp). */
		unsigned long *g = uc->uc_mcontext.gregs;
		if (g[KR_RIP] >= (unsigned long)rt_cp_begin && g[KR_RIP] <= (unsigned long)rt_cp_syscall)
			g[KR_RIP] = (unsigned long)rt_cp_cancel;
		if (t->npending < RT_MAX_PENDING) {
			t->pending[t->npending].sig = sig;
			t->pending[t->npending].info = *si;
			t->npending++;
		}
		return;
	}
	deliver(t, uc, sig, si);
}

void rt_sig_entry(int sig, struct ksiginfo *si, void *ucv) { rt_signal_forward(rt_self_from_sp(), ucv, sig, si); }

static int restartable(long nr)
{
	switch (nr) {
	case __NR_read:
	case __NR_write:
	case __NR_readv:
	case __NR_writev:
	case __NR_pread64:
	case __NR_pwrite64:
	case __NR_preadv:
	case __NR_pwritev:
	case __NR_recvfrom:
	case __NR_recvmsg:
	case __NR_sendto:
	case __NR_sendmsg:
	case __NR_accept:
	case __NR_accept4:
	case __NR_connect:
	case __NR_wait4:
	case __NR_waitid:
	case __NR_futex:
	case __NR_flock:
	case __NR_fcntl:
	case __NR_openat:
	case __NR_open:
	case __NR_sendfile:
	case __NR_splice:
	case __NR_ioctl:
		return 1;
	}
	return 0;
}

int rt_syscall_may_block(long nr)
{
	if (restartable(nr))
		return 1;
	switch (nr) {
	case __NR_epoll_wait:
	case __NR_epoll_pwait:
	case __NR_epoll_pwait2:
	case __NR_poll:
	case __NR_ppoll:
	case __NR_select:
	case __NR_pselect6:
	case __NR_nanosleep:
	case __NR_clock_nanosleep:
	case __NR_pause:
	case __NR_rt_sigsuspend:
	case __NR_rt_sigtimedwait:
	case __NR_io_uring_enter:
	case __NR_io_getevents:
	case __NR_msgrcv:
	case __NR_msgsnd:
	case __NR_semop:
	case __NR_semtimedop:
	case __NR_mq_timedreceive:
	case __NR_mq_timedsend:
		return 1;
	}
	return 0;
}

void rt_signals_after_syscall(struct rt_thread *t, struct kucontext *uc, long nr)
{
	unsigned long *g = uc->uc_mcontext.gregs;
	if ((long)g[KR_RAX] == -RT_EINTR && restartable(nr)) {
		int all_restart = 1;
		lk();
		for (unsigned i = 0; i < t->npending; i++)
			if (!(vact[t->pending[i].sig].flags & KSA_RESTART))
				all_restart = 0;
		unlk();
		if (all_restart) {
			g[KR_RIP] -= 2; /* back onto the `syscall` instruction */
			g[KR_RAX] = (unsigned long)nr;
		}
	}
	unsigned n = t->npending;
	t->npending = 0;
	for (unsigned i = 0; i < n; i++)
		deliver(t, uc, t->pending[i].sig, &t->pending[i].info);
}
