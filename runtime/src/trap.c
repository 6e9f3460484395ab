/* SIGSYS handler and syscall dispatch (trap.h).
 *
 * Entry: the kernel runs rt_sigsys on the thread's runtime signal stack with
 * every signal blocked. The handler finds its per-thread block from the stack
 * pointer, saves the application's FS base and points FS at the block (the
 * runtime's TCB), dispatches, writes the result to RAX in the saved context,
 * delivers queued signals, restores the application's FS and returns through
 * rt_sigreturn_restorer (in the exempt text). */
#include "trap.h"
#include "fork.h"
#include "iago.h"
#include "shield.h"
#include "fs.h"
#include "transport.h"
#include "random.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

extern char __executable_start[], etext[];
unsigned long rt_text_lo, rt_text_hi;
const char *rt_app_exe;
int rt_stats;

void rt_program_started(const struct rt_program *p)
{
	__atomic_store_n(&rt_app_exe, p->exe, __ATOMIC_RELEASE);
	fs_program_started(p);
}

int rt_shields_own_fd(int fd) { return fs_is_virtual_fd(fd) || console_fd_is_console(fd); }

int rt_code_fd_ok(int fd) { return !fs_shield_active() || fs_is_virtual_fd(fd); }

long shield_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	struct sys_call c = {nr, {a0, a1, a2, a3, a4, a5}};
	long ret;
	if (fs_shield(&c, &ret) == SHIELD_DONE)
		return ret;
	if (console_shield(&c, &ret) == SHIELD_DONE)
		return ret;
	return host_syscall(nr, a0, a1, a2, a3, a4, a5);
}

/* The shields + transport, with the application's signal mask in force for
 * calls that may block, so that signals interrupt them as they would
 * natively. Signals that arrive meanwhile are queued by rt_sig_entry. */
static long shielded(struct rt_thread *t, struct kucontext *uc, long nr, long *a)
{
	struct rt_iago_snap snap;
	rt_iago_pre(nr, a, &snap);
	if (!rt_syscall_may_block(nr)) {
		long r = shield_call(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		rt_iago_check(nr, a, r, &snap);
		return r;
	}
	uint64_t all = ~0ULL;
	t->in_window = 1;
	rt_sys4(__NR_rt_sigprocmask, KSIG_SETMASK, &uc->uc_sigmask, 0, 8);
	long r = shield_call(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	rt_sys4(__NR_rt_sigprocmask, KSIG_SETMASK, &all, 0, 8);
	t->in_window = 0;
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

/* Copies an application sigset pointer with SIGSYS removed (the runtime
 * never lets SIGSYS be blocked). Returns the pointer to pass on. */
static long strip_sigsys(long ptr, uint64_t *tmp)
{
	if (!ptr)
		return 0;
	*tmp = *(const uint64_t *)ptr & ~KSIGBIT(KSIGSYS);
	return (long)tmp;
}

long rt_dispatch(struct rt_thread *t, struct kucontext *uc, long nr, long *a)
{
	uint64_t m;
	switch (nr) {
	case __NR_rt_sigaction:
		return rt_sig_action((int)a[0], (const void *)a[1], (void *)a[2], (unsigned long)a[3]);
	case __NR_rt_sigprocmask:
		return rt_sig_procmask(t, uc, (int)a[0], (const void *)a[1], (void *)a[2], (unsigned long)a[3]);
	case __NR_sigaltstack:
		return rt_sig_altstack(t, uc, (const void *)a[0], (void *)a[1]);
	case __NR_rt_sigreturn:
		rt_fatal(RT_EX_SOFTWARE, "application called rt_sigreturn outside a runtime-delivered signal");
	case __NR_rt_sigsuspend:
		a[0] = strip_sigsys(a[0], &m);
		break;
	case __NR_ppoll:
	case __NR_epoll_pwait:
	case __NR_epoll_pwait2:
		a[3 + (nr != __NR_ppoll)] = strip_sigsys(a[3 + (nr != __NR_ppoll)], &m);
		break;
	case __NR_clone:
	case __NR_clone3:
		return rt_do_clone(t, uc, nr, a);
	case __NR_fork:
	case __NR_vfork: { /* fork.c */
		struct rt_fork_req q = {.flags = nr == __NR_vfork ? CLONE_VFORK : 0, .exit_signal = 17 /* SIGCHLD */};
		return rt_do_fork(t, uc, &q);
	}
	case __NR_execve:
		return rt_do_execve(t, uc, (const char *)a[0], (char *const *)a[1], (char *const *)a[2]);
	case __NR_execveat:
		if (a[0] == RT_AT_FDCWD && !a[4] && a[1])
			return rt_do_execve(t, uc, (const char *)a[1], (char *const *)a[2], (char *const *)a[3]);
		rt_eprintf("scone-run: execveat with a directory fd or flags is not supported inside the enclave: "
			   "refused with ENOSYS\n");
		return -RT_ENOSYS;
	case __NR_rseq: {
		long r = host_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		if (!r && !(a[2] & 1)) {
			t->rseq_addr = (unsigned long)a[0];
			t->rseq_len = (unsigned long)a[1];
			t->rseq_sig = (unsigned long)a[3];
		} else if (!r) {
			t->rseq_addr = 0;
		}
		return r;
	}
	case __NR_exit:
		rt_do_thread_exit(t, (int)a[0]);
	case __NR_exit_group:
		if (rt_stats) {
			rt_eprintf("scone-run: stats: %lu system calls trapped\n", rt_thread_total_syscalls());
			transport_print_stats();
		}
		break;
	case __NR_arch_prctl:
		if (a[0] == 0x1002 /* ARCH_SET_FS */) {
			if ((unsigned long)a[1] >= 0x800000000000UL)
				return -RT_EPERM;
			t->app_fs = (unsigned long)a[1];
			return 0;
		}
		if (a[0] == 0x1003 /* ARCH_GET_FS */) {
			*(unsigned long *)a[1] = t->app_fs;
			return 0;
		}
		break;
	case __NR_prctl:
		if (a[0] == 59 /* PR_SET_SYSCALL_USER_DISPATCH: owned by the runtime */)
			return -RT_EINVAL;
		break;
	case __NR_getrandom: {
		/* Served from the CPU's generator (random.h), never by the host. */
		unsigned long len = (unsigned long)a[1];
		if ((unsigned long)a[2] & ~7UL) /* GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE */
			return -RT_EINVAL;
		if (len > 0x1ffffff) /* the kernel's per-call maximum */
			len = 0x1ffffff;
		unsigned long p = (unsigned long)a[0];
		if (len && (!p || p + len < p || p + len > 0x800000000000UL))
			return -RT_EFAULT;
		rt_random((void *)p, len);
		return (long)len;
	}
	case __NR_io_uring_setup:
		/* io_uring operations run in the kernel without system calls:
		 * they would bypass the trap and the shields. Applications probe
		 * for it and fall back to ordinary calls on ENOSYS. */
		return -RT_ENOSYS;
	case __NR_brk:
		return rt_mem_brk((unsigned long)a[0]);
	case __NR_mmap:
	case __NR_munmap:
	case __NR_mprotect:
	case __NR_pkey_mprotect:
	case __NR_mremap:
	case __NR_madvise: {
		long r = rt_mem_precheck(nr, a);
		if (r)
			return r;
		r = shield_call(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		rt_mem_postcheck(nr, a, r);
		struct rt_iago_snap none = {.ok = 0};
		rt_iago_check(nr, a, r, &none);
		return r;
	}
	case __NR_readlink:
		if (rt_app_exe && is_proc_self_exe((const char *)a[0]))
			return readlink_exe((char *)a[1], a[2]);
		break;
	case __NR_readlinkat:
		if (rt_app_exe && is_proc_self_exe((const char *)a[1]))
			return readlink_exe((char *)a[2], a[3]);
		break;
	default: {
		long r;
		if (rt_ids_dispatch(nr, a, &r))
			return r;
		break;
	}
	}
	return shielded(t, uc, nr, a);
}

__attribute__((used)) void rt_sigsys(int sig, struct ksiginfo *si, void *ucv)
{
	struct rt_thread *t = rt_self_from_sp();
	struct kucontext *uc = ucv;
	if (si->si_code != 2 /* SYS_USER_DISPATCH */) {
		/* A SIGSYS sent to the application (kill, seccomp): it may arrive
		 * while a blocking host call runs for this thread, with FS already
		 * switched, so it is queued or delivered like any other signal. */
		rt_signal_forward(t, uc, sig, si);
		return;
	}
	t->app_fs = rt_rdfsbase();
	rt_wrfsbase((unsigned long)t);
	unsigned long *g = uc->uc_mcontext.gregs;
	if (si->u.sys.arch != 0xc000003eU /* AUDIT_ARCH_X86_64 */) {
		/* int $0x80 from 64-bit code: the i386 ABI, not supported */
		static int warned;
		if (!warned++)
			rt_eprintf("scone-run: 32-bit system call (int $0x80) %ld refused with ENOSYS\n",
				   (long)g[KR_RAX]);
		g[KR_RAX] = (unsigned long)-RT_ENOSYS;
		rt_wrfsbase(t->app_fs);
		return;
	}
	long nr = (long)g[KR_RAX];
	long a[6] = {(long)g[KR_RDI], (long)g[KR_RSI], (long)g[KR_RDX], (long)g[KR_R10], (long)g[KR_R8], (long)g[KR_R9]};
	t->nsyscalls++;
	g[KR_RAX] = (unsigned long)rt_dispatch(t, uc, nr, a);
	if (t->npending)
		rt_signals_after_syscall(t, uc, nr);
	rt_wrfsbase(t->app_fs);
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
	return (int)rt_sys4(__NR_rt_sigaction, KSIGSYS, &sa, 0, 8);
}
