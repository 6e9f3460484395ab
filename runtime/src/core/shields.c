/* The core's side of the shields (shield.h): the registered tables in call
 * order, the calls into them, and the notices shields send each other
 * through the core. */
#include <linux/errno.h>
#include "shield.h"
#include "fdguard.h"
#include "thread.h"
#include "transport.h"
#include "rtsched.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

#define MAX_SHIELDS 8

/* The rt_shields section (RT_SHIELD): the linker defines its bounds. */
extern const struct shield_ops *const __start_rt_shields[] __attribute__((weak, visibility("hidden")));
extern const struct shield_ops *const __stop_rt_shields[] __attribute__((weak, visibility("hidden")));

static const struct shield_ops *shields[MAX_SHIELDS];
static size_t nshields;
/* The shields an application call goes through: those with a call entry
 * that are active (shield_ops.active), fixed once they started. */
static const struct shield_ops *callers[MAX_SHIELDS];
static size_t ncallers;

static void pick_callers(void)
{
	ncallers = 0;
	for (size_t i = 0; i < nshields; i++)
		if (shields[i]->call && (!shields[i]->active || shields[i]->active()))
			callers[ncallers++] = shields[i];
}

/* The registered tables, sorted by order once (at start-up, before any
 * thread exists: main.c). */
void rt_shields_setup(void)
{
	nshields = 0;
	for (const struct shield_ops *const *p = __start_rt_shields; p && p < __stop_rt_shields; p++) {
		if (nshields == MAX_SHIELDS)
			rt_fatal(RT_EX_SOFTWARE, "more than %d shields linked", MAX_SHIELDS);
		size_t i = nshields++;
		while (i > 0 && shields[i - 1]->order > (*p)->order) {
			shields[i] = shields[i - 1];
			i--;
		}
		shields[i] = *p;
	}
	pick_callers();
}

const struct shield_ops *rt_shield_find(const char *name)
{
	for (size_t i = 0; i < nshields; i++)
		if (!rt_strcmp(shields[i]->name, name))
			return shields[i];
	return NULL;
}

int rt_shields_init(const struct shield_env *env)
{
	for (size_t i = 0; i < nshields; i++) {
		if (!shields[i]->init)
			continue;
		int r = shields[i]->init(env);
		if (r < 0) {
			rt_eprintf("scone-run: the %s shield did not start: error %d\n", shields[i]->name, -r);
			return r;
		}
		pick_callers(); /* the next shields' start-up calls go through this one (net_cred.c reads its credentials through the FS shield) */
	}
	return 0;
}

/* Locks are taken in order and released in reverse order. */
void rt_shields_fork_prepare(void)
{
	for (size_t i = 0; i < nshields; i++)
		if (shields[i]->fork_prepare)
			shields[i]->fork_prepare();
}

void rt_shields_fork_parent(long pid)
{
	for (size_t i = nshields; i-- > 0;)
		if (shields[i]->fork_parent)
			shields[i]->fork_parent(pid);
}

void rt_shields_fork_child(void)
{
	for (size_t i = nshields; i-- > 0;)
		if (shields[i]->fork_child)
			shields[i]->fork_child();
}

/* The notices between shields (rt_fd_gone, rt_fd_dup) and the host path
 * calls are made with no lock of the shared state held: the shield they
 * reach takes its own lock, and a fork takes the shields' locks in their
 * order, so a shield that sends while holding its lock can deadlock with
 * a fork in another thread (the volume shield, order 5, and the FS
 * shield, order 10, did). Said once per process when broken. */
static void check_unlocked(const char *what)
{
	static int told;
	const struct rt_thread *t = rt_thread_armed();
	int n = t ? t->shared_locks : 0;
	if (!n || __atomic_exchange_n(&told, 1, __ATOMIC_RELAXED))
		return;
	rt_eprintf("scone-run: internal error: %s while holding %d lock(s) of the enclave's shared state; a fork "
		   "in another thread can deadlock with it (please report)\n",
		   what, n);
}

/* The running program's path inside the image (/proc/self/exe, trap.c). */
const char *rt_app_exe;

void rt_program_started(const struct rt_program *p)
{
	__atomic_store_n(&rt_app_exe, p->exe, __ATOMIC_RELEASE);
	for (size_t i = 0; i < nshields; i++)
		if (shields[i]->program)
			shields[i]->program(p);
}

/* The application's blocking call, or one a shield makes for it, to the
 * host. Under the mn scheduler the trap or fast path may have offered the
 * call (RT_HC_OFFER): when it reaches the host as the application made it
 * (own: no shield took it), it is posted to a host worker and its ULT will
 * park (RT_HC_POSTED, result 0 for now); any other blocking host call made
 * for it gives the enclave thread slot up first (RT_HC_LEFT). */
static long app_host_cp(const volatile unsigned *cp, long nr, const long *a, int own)
{
	struct rt_thread *t = rt_self_from_sp();
	if (t->hc_mode == RT_HC_OFFER) {
		int k = own ? host_post(nr, a) : -1;
		if (k >= 0) {
			t->hc_mode = RT_HC_POSTED;
			t->hc_ticket = k;
			memcpy(t->hc_a, a, sizeof t->hc_a);
			return 0;
		}
		rt_sched_leave(t);
		t->hc_mode = RT_HC_LEFT;
	}
	return host_syscall_cp(nr, a[0], a[1], a[2], a[3], a[4], a[5], cp);
}

/* A call made in place of the application's by the descriptor guard
 * (fdguard.h): through the shields to the host, not blocking. */
static long guarded_call(long nr, const long *a)
{
	struct sys_call c = {nr, {a[0], a[1], a[2], a[3], a[4], a[5]}};
	long ret;
	for (size_t i = 0; i < ncallers; i++)
		if (callers[i]->call(&c, &ret) == SHIELD_DONE)
			return ret;
	return host_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

long shield_call_app(const volatile unsigned *cp, long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	struct sys_call c = {nr, {a0, a1, a2, a3, a4, a5}};
	long ret;
	if (rt_fd_guard(nr, c.a, &ret, guarded_call))
		return ret;
	for (size_t i = 0; i < ncallers; i++)
		if (callers[i]->call(&c, &ret) == SHIELD_DONE)
			return ret;
	if (nr == __NR_getdents64 && rt_fd_listing(c.a, &ret))
		return ret;
	if (cp)
		return app_host_cp(cp, nr, c.a, 1);
	return host_syscall(nr, a0, a1, a2, a3, a4, a5);
}

long shield_app_host_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	/* shields run on the calling thread's runtime block (trap and fast path) */
	const long a[6] = {a0, a1, a2, a3, a4, a5};
	return app_host_cp(&rt_self_from_sp()->npending, nr, a, 0);
}

long shield_app_wait(volatile uint32_t *word, uint32_t val, long ns)
{
	struct {
		long sec, nsec;
	} ts = {ns / 1000000000L, ns % 1000000000L};
	long k = shield_app_host_call(__NR_futex, (long)word, 0 /* FUTEX_WAIT */, val, (long)&ts, 0, 0);
	return k == -EINTR ? -EINTR : 0;
}

long shield_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	return shield_call_app(0, nr, a0, a1, a2, a3, a4, a5);
}

long shield_host_path_call(const struct shield_ops *by, long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	struct sys_call c = {nr, {a0, a1, a2, a3, a4, a5}};
	long ret;
	check_unlocked("a host path call offered to the shields");
	for (size_t i = 0; i < nshields; i++)
		if (shields[i] != by && shields[i]->host_path && shields[i]->host_path(&c, &ret) == SHIELD_DONE)
			return ret;
	return host_syscall(nr, a0, a1, a2, a3, a4, a5);
}

void rt_fd_gone(const struct shield_ops *by, int fd)
{
	check_unlocked("a descriptor notice (gone) sent to the shields");
	for (size_t i = 0; i < nshields; i++)
		if (shields[i] != by && shields[i]->fd_gone)
			shields[i]->fd_gone(fd);
}

void rt_fd_dup(const struct shield_ops *by, int oldfd, int newfd)
{
	check_unlocked("a descriptor notice (dup) sent to the shields");
	for (size_t i = 0; i < nshields; i++)
		if (shields[i] != by && shields[i]->fd_dup)
			shields[i]->fd_dup(oldfd, newfd);
}

int rt_shields_own_fd_except(const struct shield_ops *except, int fd)
{
	for (size_t i = 0; i < nshields; i++)
		if (shields[i] != except && shields[i]->owns_fd && shields[i]->owns_fd(fd))
			return 1;
	return 0;
}

int rt_code_fd_ok(int fd)
{
	int opinion = 0;
	for (size_t i = 0; i < nshields; i++) {
		if (!shields[i]->code_fd)
			continue;
		int v = shields[i]->code_fd(fd);
		if (v > 0)
			return 1;
		if (v == 0)
			opinion = 1;
	}
	return !opinion; /* no shield serves files (dev mode): the host's files */
}

void rt_diag(const char *msg, size_t len)
{
	for (size_t i = 0; i < nshields; i++)
		if (shields[i]->diag && shields[i]->diag(msg, len))
			return;
	rt_sys3(__NR_write, 2, msg, len);
}
