/* Runtime-internal threads (ithread.h). */
#include <linux/sched.h>
#include <stddef.h>
#include "ithread.h"
#include "ksig.h"
#include "region.h"
#include "thread.h"
#include "rtutil.h"
#include "sys.h"

/* The block's base: the TCB layout the runtime's code relies on (thread.h):
 * self at 0, the canary at 0x28, errno at 0x30. */
struct ithread {
	struct ithread *self;
	void (*fn)(void *arg);
	void *arg;
	unsigned long pad[2];
	unsigned long canary;
	int err;
	int tid;
};
_Static_assert(offsetof(struct ithread, canary) == 0x28, "canary offset");
_Static_assert(offsetof(struct ithread, err) == RT_TCB_ERRNO_OFF, "errno offset");
_Static_assert(offsetof(struct ithread, tid) == offsetof(struct rt_thread, tid), "tid offset (rt_task_self)");

/* long ithread_clone(flags, stack_top, tls): the child starts on stack_top
 * and calls rt_ithread_main(block) (block = stack & ~(RT_TBLOCK_SIZE-1)). */
__attribute__((used)) __attribute__((noreturn)) void rt_ithread_main(struct ithread *t);
RT_ASM_FN long ithread_clone(unsigned long flags, unsigned long stack, unsigned long tls);
__asm__(".text\n"
	".globl ithread_clone\n"
	".hidden ithread_clone\n"
	".type ithread_clone, @function\n"
	"ithread_clone:\n"
	"	mov %rdx, %r8\n"
	"	xor %edx, %edx\n"
	"	xor %r10d, %r10d\n"
	"	mov $56, %eax\n" /* __NR_clone */
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz 1f\n"
	"	ret\n"
	"1:	xor %ebp, %ebp\n"
	"	mov %rsp, %rdi\n"
	"	and $-0x40000, %rdi\n" /* RT_TBLOCK_SIZE */
	"	and $-16, %rsp\n"
	"	call rt_ithread_main\n"
	"	ud2\n");
_Static_assert(RT_TBLOCK_SIZE == 0x40000, "ithread_clone assumes 256 KiB blocks");

void rt_ithread_main(struct ithread *t)
{
	/* GS came from the creating thread (its block): this block instead,
	 * the TCB of the canary (thread.h) and of rt_task_self (shared.c). An
	 * internal thread runs no application code, so it never reaches the
	 * fast entry, which would take it for a block. */
	t->tid = (int)rt_sys0(__NR_gettid);
	rt_wrgsbase((unsigned long)t);
	t->fn(t->arg);
	/* the block stays allocated: a thread cannot free its own stack */
	for (;;)
		rt_sys1(__NR_exit, 0);
}

long rt_ithread_start(void (*fn)(void *arg), void *arg)
{
	struct ithread *t = rt_region_alloc(RT_TBLOCK_SIZE, RT_TBLOCK_SIZE);
	if (!t)
		return -RT_ENOMEM;
	t->self = t;
	t->fn = fn;
	t->arg = arg;
	t->canary = rt_canary;
	unsigned long top = ((unsigned long)t + RT_TBLOCK_SIZE - 64) & ~15UL;
	uint64_t all = ~0ULL, old = 0;
	rt_sys4(__NR_rt_sigprocmask, KSIG_SETMASK, &all, &old, 8);
	long r = ithread_clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
				       CLONE_SETTLS,
			       top, (unsigned long)t);
	rt_sys4(__NR_rt_sigprocmask, KSIG_SETMASK, &old, 0, 8);
	return r;
}
