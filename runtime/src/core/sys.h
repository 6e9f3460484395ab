/* Raw Linux x86-64 system call wrappers for the freestanding runtime.
 *
 * Every `syscall` instruction of the runtime lies in its own text, which is
 * the Syscall User Dispatch exempt range, so these never trap. They return the
 * kernel's raw result (negative errno on failure) and never touch errno or FS. */
#ifndef SCONE_SYS_H
#define SCONE_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <asm/unistd.h>

static inline long rt_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
/* asm.S: a blocking call that a signal queued for the thread (*pending
 * non-zero) before the call starts cancels with -EINTR; see rtsignal.h. */
__attribute__((visibility("hidden"))) long rt_syscall_cp(long n, long a, long b, long c, long d, long e, long f,
							 const volatile unsigned *pending);
extern __attribute__((visibility("hidden"))) char rt_cp_begin[], rt_cp_syscall[], rt_cp_cancel[];
#define rt_sys0(n) rt_syscall6((n), 0, 0, 0, 0, 0, 0)
#define rt_sys1(n, a) rt_syscall6((n), (long)(a), 0, 0, 0, 0, 0)
#define rt_sys2(n, a, b) rt_syscall6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define rt_sys3(n, a, b, c) rt_syscall6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define rt_sys4(n, a, b, c, d) rt_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define rt_sys5(n, a, b, c, d, e) rt_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define rt_sys6(n, a, b, c, d, e, f) rt_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* Constants the runtime needs (kernel UAPI values, x86-64). */
#define RT_PROT_NONE 0
#define RT_PROT_READ 1
#define RT_PROT_WRITE 2
#define RT_PROT_EXEC 4
#define RT_MAP_SHARED 0x01
#define RT_MAP_PRIVATE 0x02
#define RT_MAP_FIXED 0x10
#define RT_MAP_ANONYMOUS 0x20
#define RT_MAP_NORESERVE 0x4000
#define RT_MAP_FIXED_NOREPLACE 0x100000
#define RT_MADV_DONTNEED 4
#define RT_O_RDONLY 0
#define RT_O_CLOEXEC 02000000
#define RT_AT_FDCWD (-100)
#define RT_SEEK_SET 0
#define RT_SEEK_END 2
#define RT_PAGE 4096UL

#define RT_EPERM 1
#define RT_ENOENT 2
#define RT_EINTR 4
#define RT_EIO 5
#define RT_EBADF 9
#define RT_ENOMEM 12
#define RT_EFAULT 14
#define RT_EXDEV 18
#define RT_EINVAL 22
#define RT_ENOSYS 38
#define RT_ENOEXEC 8
#define RT_EACCES 13
#define RT_ELOOP 40
#define RT_ENAMETOOLONG 36
#define RT_AT_SYMLINK_NOFOLLOW 0x100
#define RT_AT_EMPTY_PATH 0x1000
#define RT_PATH_MAX 4096

static inline void *rt_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	return (void *)rt_sys6(__NR_mmap, addr, len, prot, flags, fd, off);
}
static inline int rt_is_err(long r) { return (unsigned long)r > -4096UL; }
static inline long rt_write(int fd, const void *buf, size_t n) { return rt_sys3(__NR_write, fd, buf, n); }
static inline __attribute__((noreturn)) void rt_exit_group(int code)
{
	for (;;)
		rt_sys1(__NR_exit_group, code);
}

static inline uint64_t rt_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
static inline unsigned long rt_rdfsbase(void)
{
	unsigned long v;
	__asm__ volatile("rdfsbase %0" : "=r"(v));
	return v;
}
static inline unsigned long rt_rdgsbase(void)
{
	unsigned long v;
	__asm__ volatile("rdgsbase %0" : "=r"(v));
	return v;
}
/* Whether the kernel lets user space write FS and GS bases (AT_HWCAP2 bit
 * HWCAP2_FSGSBASE): then it saves them with the thread on a context switch.
 * Without it, a base written with WRFSBASE is lost at the next one, even
 * where the instruction executes (a PVM guest: its kernel restores the base
 * it knows from arch_prctl), so the runtime writes them with arch_prctl.
 * Set from the auxiliary vector first thing at start-up (main.c). */
extern int rt_fsgsbase_ok;
static inline void rt_wrfsbase(unsigned long v)
{
	if (__builtin_expect(rt_fsgsbase_ok, 1))
		__asm__ volatile("wrfsbase %0" ::"r"(v) : "memory");
	else
		rt_sys2(__NR_arch_prctl, 0x1002 /* ARCH_SET_FS */, v);
}
static inline void rt_wrgsbase(unsigned long v)
{
	if (__builtin_expect(rt_fsgsbase_ok, 1))
		__asm__ volatile("wrgsbase %0" ::"r"(v) : "memory");
	else
		rt_sys2(__NR_arch_prctl, 0x1001 /* ARCH_SET_GS */, v);
}

#endif
