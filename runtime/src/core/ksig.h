/* Kernel (not glibc) signal ABI structures for x86-64, as the kernel writes
 * and reads them in signal frames (arch/x86/include/uapi/asm/sigcontext.h,
 * arch/x86/include/asm/sigframe.h). */
#ifndef SCONE_KSIG_H
#define SCONE_KSIG_H
#include <stddef.h>
#include <stdint.h>

enum {
	KR_R8,
	KR_R9,
	KR_R10,
	KR_R11,
	KR_R12,
	KR_R13,
	KR_R14,
	KR_R15,
	KR_RDI,
	KR_RSI,
	KR_RBP,
	KR_RBX,
	KR_RDX,
	KR_RAX,
	KR_RCX,
	KR_RSP,
	KR_RIP,
	KR_EFL,
	KR_CSGSFS,
	KR_ERR,
	KR_TRAPNO,
	KR_OLDMASK,
	KR_CR2,
	KR_NGREG
};

struct kstack {
	void *ss_sp;
	int ss_flags;
	size_t ss_size;
};

struct kmcontext {
	unsigned long gregs[KR_NGREG];
	void *fpregs;
	unsigned long reserved1[8];
};

struct kucontext {
	unsigned long uc_flags;
	struct kucontext *uc_link;
	struct kstack uc_stack;
	struct kmcontext uc_mcontext;
	uint64_t uc_sigmask;
};

struct ksiginfo {
	int si_signo, si_errno, si_code, pad0;
	union {
		unsigned char raw[112];
		struct { /* SIGSYS */
			void *call_addr;
			int syscall;
			unsigned arch;
		} sys;
	} u;
};

struct krt_sigframe {
	unsigned long pretcode;
	struct kucontext uc;
	struct ksiginfo info;
};

struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

#define KSA_NOCLDSTOP 0x00000001UL
#define KSA_NOCLDWAIT 0x00000002UL
#define KSA_SIGINFO 0x00000004UL
#define KSA_RESTORER 0x04000000UL
#define KSA_ONSTACK 0x08000000UL
#define KSA_RESTART 0x10000000UL
#define KSA_NODEFER 0x40000000UL
#define KSA_RESETHAND 0x80000000UL
#define KSIG_DFL ((void *)0)
#define KSIG_IGN ((void *)1)
#define KSS_ONSTACK 1
#define KSS_DISABLE 2
#define KSIG_BLOCK 0
#define KSIG_UNBLOCK 1
#define KSIG_SETMASK 2
#define KSIGSYS 31
#define KSIGKILL 9
#define KSIGSTOP 19
#define KNSIG 64
#define KSIGBIT(s) (1ULL << ((s)-1))
#define FP_XSTATE_MAGIC1 0x46505853U

_Static_assert(sizeof(struct kucontext) == 304, "kernel ucontext size");
_Static_assert(offsetof(struct krt_sigframe, info) == 312, "rt_sigframe layout");
_Static_assert(sizeof(struct ksiginfo) == 128, "siginfo size");

#endif
