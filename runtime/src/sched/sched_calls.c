/* The calls the mn scheduler serves (rtsched.h): thread creation and exit,
 * futexes, yields and sleeps, the thread identity calls and signals to a
 * thread. */
#include <linux/sched.h>
#include "rtsched.h"
#include "sched_int.h"
#include "clone.h"
#include "shield.h"
#include "vma.h"
#include "rt_alloc.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"
#include "transport.h"

#define RT_ESRCH 3
#define RT_EAGAIN 11
#define SI_TKILL_ (-6)

static int result(long v, long *r)
{
	*r = v;
	return RT_SCHED_RESULT;
}

static int put_tid(long p, int tid)
{
	if (!rt_user_ok((void *)p, sizeof(int)))
		return -RT_EFAULT;
	*(int *)p = tid;
	return 0;
}

static int do_clone(struct rt_thread *t, struct kucontext *uc, long nr, long *a, long *r)
{
	struct rt_clone cl;
	long e = rt_clone_decode(nr, a, &cl);
	if (e)
		return result(e, r);
	if (!rt_clone_is_thread(&cl) || !(cl.flags & CLONE_THREAD))
		return RT_SCHED_PASS; /* a process, or a kernel thread of its own (CLONE_VM alone) */
	if (!cl.stack || (cl.flags & CLONE_PIDFD))
		return result(-RT_EINVAL, r);
	struct rt_ult *u = ult_new();
	if (!u) {
		rt_eprintf("scone-run: out of memory for a new user-level thread: clone refused with EAGAIN\n");
		return result(-RT_EAGAIN, r);
	}
	u->uc = *uc;
	u->uc.uc_mcontext.gregs[KR_RSP] = cl.stack;
	u->has_fp = 0; /* a clean FPU state, as os threads here */
	u->app_fs = (cl.flags & CLONE_SETTLS) ? cl.tls : t->app_fs;
	u->app_gs = t->app_gs; /* as the kernel's clone: the parent's GS base */
	u->vsigsys_blocked = t->vsigsys_blocked;
	u->keepcaps = cur_ult(t)->keepcaps;		   /* the credentials are copied */
	memcpy(u->name, cur_ult(t)->name, sizeof u->name); /* and the name */
	sched_lock();
	int vtid = u->vtid = sched_next_vtid();
	if (((cl.flags & CLONE_PARENT_SETTID) && put_tid(cl.ptid, vtid)) ||
	    ((cl.flags & CLONE_CHILD_SETTID) && put_tid(cl.ctid, vtid))) {
		sched_unlock();
		rt_free(u->fp_alloc);
		rt_free(u);
		return result(-RT_EFAULT, r);
	}
	if (cl.flags & CLONE_CHILD_CLEARTID)
		u->clear_tid = (unsigned long)cl.ctid;
	sched_add(u);
	sched_stats.ults++;
	sched_make_runnable(u, 0);
	sched_unlock();
	return result(vtid, r);
}

/* The kernel's robust-futex walk at thread exit: a lock the thread still
 * holds gets FUTEX_OWNER_DIED and a waiter is woken. Lock held. */
static void robust_exit(const struct rt_ult *u)
{
	struct head {
		unsigned long next;
		long off;
		unsigned long pending;
	} h;
	if (!u->robust_head || !rt_user_ok((void *)u->robust_head, sizeof h))
		return;
	h = *(const struct head *)u->robust_head;
	unsigned long e = h.next & ~1UL;
	for (int limit = 2048; limit-- > 0 && e && e != u->robust_head;) {
		unsigned long w = e + (unsigned long)h.off, next;
		if (!rt_user_ok((void *)e, 8) || (w & 3) || !rt_user_ok((void *)w, 4))
			break;
		next = *(const unsigned long *)e & ~1UL;
		unsigned *word = (unsigned *)w, v = __atomic_load_n(word, __ATOMIC_RELAXED);
		if ((v & 0x3fffffff) == (unsigned)u->vtid) {
			__atomic_or_fetch(word, 0x40000000U /* FUTEX_OWNER_DIED */, __ATOMIC_SEQ_CST);
			__atomic_and_fetch(word, ~0x3fffffffU, __ATOMIC_SEQ_CST);
			if (v & 0x80000000U /* FUTEX_WAITERS */)
				sched_futex_wake_locked(w, 1, ~0U);
		}
		e = next;
	}
}

static int do_exit(struct rt_thread *t, struct kucontext *uc, long *a, long *r)
{
	struct rt_ult *u = cur_ult(t);
	sched_lock();
	robust_exit(u);
	if (u->clear_tid && rt_user_ok((void *)u->clear_tid, 4)) {
		__atomic_store_n((int *)u->clear_tid, 0, __ATOMIC_SEQ_CST);
		sched_futex_wake_locked(u->clear_tid, 1, ~0U);
	}
	if (ult_count() == 1) { /* the last thread: the process ends with its status */
		sched_unlock();
		*r = a[0];
		return RT_SCHED_EXIT_GROUP;
	}
	return sched_exit_current(t, uc, (int)a[0], r);
}

static int do_yield(struct rt_thread *t, struct kucontext *uc, long nr, long *r)
{
	sched_lock();
	sched_stats.yields++;
	uc->uc_mcontext.gregs[KR_RAX] = 0;
	return sched_park(t, uc, nr, 0, 0, 0, r);
}

static int do_sleep(struct rt_thread *t, struct kucontext *uc, long nr, long *a, long *r)
{
	int clk = 1 /* CLOCK_MONOTONIC */, abs = 0;
	const long *req = (const long *)a[0];
	unsigned long rem = (unsigned long)a[1];
	if (nr == __NR_clock_nanosleep) {
		clk = (int)a[0];
		if (clk != 0 && clk != 1 && clk != 7 /* BOOTTIME */)
			return RT_SCHED_PASS; /* CPU-time clocks: the host's */
		abs = (a[1] & 1) != 0;	      /* TIMER_ABSTIME */
		req = (const long *)a[2];
		rem = abs ? 0 : (unsigned long)a[3];
	}
	if (!rt_user_ok(req, 16) || (rem && !rt_user_ok((void *)rem, 16)))
		return result(-RT_EFAULT, r);
	uint64_t deadline;
	long e = sched_deadline(req, abs, abs && clk == 0, &deadline);
	if (e)
		return result(e, r);
	if (deadline <= sched_now())
		return do_yield(t, uc, nr, r);
	sched_lock();
	struct rt_ult *u = cur_ult(t);
	u->sleep_rem = rem;
	return sched_park(t, uc, nr, 1, 0, deadline, r);
}

static int do_kill(struct rt_thread *t, long nr, long *a, long *r)
{
	int pid = (int)rt_sys0(__NR_getpid);
	long tid = a[0];
	int sig = (int)a[1];
	if (nr != __NR_tkill) {
		if ((int)a[0] != pid)
			return RT_SCHED_PASS; /* another process */
		tid = a[1];
		sig = (int)a[2];
	}
	if (sig < 0 || sig > 64)
		return result(-RT_EINVAL, r);
	struct ksiginfo si;
	memset(&si, 0, sizeof si);
	if (nr == __NR_rt_tgsigqueueinfo) {
		if (!rt_user_ok((void *)a[3], sizeof si))
			return result(-RT_EFAULT, r);
		memcpy(&si, (const void *)a[3], sizeof si);
		if (si.si_code >= 0 || si.si_code == SI_TKILL_)
			return result(-RT_EPERM, r);
	} else {
		si.si_code = SI_TKILL_;
		int ids[2] = {pid, (int)rt_sys0(__NR_getuid)};
		memcpy(si.u.raw, ids, sizeof ids);
	}
	si.si_signo = sig;
	sched_lock();
	struct rt_ult *u = tid > 0 && tid <= 0x7fffffff ? ult_find((int)tid) : 0;
	if (!u) {
		sched_unlock();
		return result(-RT_ESRCH, r);
	}
	if (sig == 0) {
		sched_unlock();
		return result(0, r);
	}
	if (sig == 9 || sig == 19) { /* SIGKILL, SIGSTOP act on the whole process */
		sched_unlock();
		return result(rt_sys2(__NR_kill, pid, sig), r);
	}
	(void)t;
	sched_signal_ult(u, sig, &si);
	sched_unlock();
	return result(0, r);
}

static int do_robust(struct rt_thread *t, long nr, const long *a, long *r)
{
	struct rt_ult *u = cur_ult(t);
	if (nr == __NR_set_robust_list) {
		if (a[1] != 24)
			return result(-RT_EINVAL, r);
		u->robust_head = (unsigned long)a[0];
		u->robust_len = 24;
		return result(0, r);
	}
	struct rt_ult *w = u;
	if (a[0]) {
		sched_lock();
		w = ult_find((int)a[0]);
		unsigned long h = w ? w->robust_head : 0;
		sched_unlock();
		if (!w)
			return result(-RT_ESRCH, r);
		if (!rt_user_ok((void *)a[1], 8) || !rt_user_ok((void *)a[2], 8))
			return result(-RT_EFAULT, r);
		*(unsigned long *)a[1] = h;
		*(unsigned long *)a[2] = 24;
		return result(0, r);
	}
	if (!rt_user_ok((void *)a[1], 8) || !rt_user_ok((void *)a[2], 8))
		return result(-RT_EFAULT, r);
	*(unsigned long *)a[1] = w->robust_head;
	*(unsigned long *)a[2] = 24;
	return result(0, r);
}

/* The scheduler calls that name a thread by its id in a[0]. */
static int takes_tid(long nr)
{
	switch (nr) {
	case __NR_sched_getaffinity:
	case __NR_sched_setaffinity:
	case __NR_sched_getparam:
	case __NR_sched_setparam:
	case __NR_sched_getscheduler:
	case __NR_sched_setscheduler:
	case __NR_sched_getattr:
	case __NR_sched_setattr:
		return 1;
	}
	return 0;
}

int rt_sched_needs_trap(long nr)
{
	switch (nr) {
	case __NR_futex:
	case __NR_sched_yield:
	case __NR_nanosleep:
	case __NR_clock_nanosleep:
	case __NR_gettid:
	case __NR_set_tid_address:
	case __NR_set_robust_list:
	case __NR_get_robust_list:
	case __NR_rseq:
	case __NR_tkill:
	case __NR_tgkill:
	case __NR_rt_tgsigqueueinfo:
	case __NR_futex_waitv:
		return 1;
	}
	return takes_tid(nr);
}

/* The calls served without a switch, on the fast path and the trap alike:
 * 1 with *r the result. */
static int sched_fast(struct rt_thread *t, long nr, const long *a, long *r)
{
	struct rt_ult *u = cur_ult(t);
	if (!u)
		return 0;
	switch (nr) {
	case __NR_gettid:
		*r = u->vtid;
		return 1;
	case __NR_set_tid_address:
		u->clear_tid = (unsigned long)a[0];
		*r = u->vtid;
		return 1;
	case __NR_set_robust_list:
	case __NR_get_robust_list:
		do_robust(t, nr, a, r);
		return 1;
	case __NR_rseq: /* the kernel's rseq area is per kernel thread, which ULTs share */
	case __NR_futex_waitv:
		*r = -RT_ENOSYS;
		return 1;
	case __NR_prctl:
		/* the keep-capabilities flag is per thread: per ULT here, not per
		 * kernel thread (Go's AllThreadsSyscall sets it on every thread
		 * and each reads its own back). In sim mode the ids are the
		 * enclave's own (ids.c): the host's flag would change nothing. */
		if (a[0] == 7 /* PR_GET_KEEPCAPS */) {
			*r = u->keepcaps;
			return 1;
		}
		if (a[0] == 8 /* PR_SET_KEEPCAPS */) {
			*r = (unsigned long)a[1] > 1 ? -RT_EINVAL : 0;
			if (!*r)
				u->keepcaps = (int)a[1];
			return 1;
		}
		/* the thread's name (comm) too, per ULT. The host makes the call
		 * first, so that a bad buffer gets EFAULT as natively (the
		 * runtime's copy then cannot fault); what the kernel thread's
		 * name becomes does not matter. */
		if (a[0] == 15 /* PR_SET_NAME */ || a[0] == 16 /* PR_GET_NAME */) {
			*r = host_syscall(__NR_prctl, a[0], a[1], 0, 0, 0, 0);
			if (*r == 0 && a[0] == 15) {
				const char *p = (const char *)a[1]; /* up to its NUL, as the kernel read it */
				size_t n = 0;
				while (n < sizeof u->name - 1 && p[n])
					n++;
				memcpy(u->name, p, n);
				u->name[n] = 0;
			} else if (*r == 0) {
				memcpy((void *)a[1], u->name, sizeof u->name);
			}
			return 1;
		}
		return 0;
	case __NR_sched_yield:
		/* nothing else to run: no switch */
		if (sched_runnable())
			return 0;
		*r = 0;
		return 1;
	case __NR_futex:
		break;
	default:
		return 0;
	}
	unsigned long addr = (unsigned long)a[0];
	if (!((int)a[1] & 128) && rt_vma_shared(addr, 4))
		return 0; /* the host's, through the trap */
	switch ((int)a[1] & 127) {
	case 0: /* FUTEX_WAIT, FUTEX_WAIT_BITSET: a word that changed already */
	case 9:
		if (a[3] || (addr & 3) || !rt_user_ok((const void *)addr, 4) ||
		    (((int)a[1] & 127) == 9 && !(uint32_t)a[5]) ||
		    __atomic_load_n((const unsigned *)addr, __ATOMIC_SEQ_CST) == (uint32_t)a[2])
			return 0;
		*r = -11; /* EAGAIN */
		return 1;
	case 1: /* the wakes and requeues never park the caller */
	case 3:
	case 4:
	case 5:
	case 10:
		sched_futex(t, 0, a, r);
		return 1;
	}
	return 0;
}

int rt_sched_fast(struct rt_thread *t, long nr, const long *a, long *r)
{
	sched_reap_hint(); /* posted calls that returned meanwhile: their ULTs become runnable */
	int served = sched_fast(t, nr, a, r);
	if (served)
		__atomic_add_fetch(&sched_stats.fast, 1, __ATOMIC_RELAXED);
	return served;
}

int rt_sched_trap(struct rt_thread *t, struct kucontext *uc, long nr, long *a, long *r)
{
	if (!cur_ult(t))
		return RT_SCHED_PASS; /* a kernel thread outside the scheduler (clone with CLONE_VM alone) */
	sched_reap_hint();
	if (sched_fast(t, nr, a, r))
		return RT_SCHED_RESULT; /* the calls that never switch, as on the fast path */
	switch (nr) {
	case __NR_clone:
	case __NR_clone3:
		return do_clone(t, uc, nr, a, r);
	case __NR_exit:
		return do_exit(t, uc, a, r);
	case __NR_futex:
		if (!((int)a[1] & 128) && rt_vma_shared((unsigned long)a[0], 4))
			return RT_SCHED_PASS; /* may be shared with another process: the host's */
		return sched_futex(t, uc, a, r);
	case __NR_sched_yield:
		return do_yield(t, uc, nr, r);
	case __NR_nanosleep:
	case __NR_clock_nanosleep:
		return do_sleep(t, uc, nr, a, r);
	case __NR_tkill:
	case __NR_tgkill:
	case __NR_rt_tgsigqueueinfo:
		return do_kill(t, nr, a, r);
	}
	/* a ULT's thread id: the enclave thread it runs on (0, the caller) */
	if (takes_tid(nr) && a[0] > 0 && a[0] != rt_sys0(__NR_getpid)) {
		sched_lock();
		if (ult_find((int)a[0]))
			a[0] = 0;
		sched_unlock();
	}
	return RT_SCHED_PASS;
}
