/* The pieces of the runtime that must be assembly (besides _start, in
 * start.S). Everything here lies in the runtime's text, the Syscall User
 * Dispatch exempt range. */
	.text

/* Signal restorer used for every handler the runtime installs (and as the
 * return address of an application handler installed without SA_RESTORER;
 * the others return through their own restorer: signal.c). The
 * kernel's rt_sigreturn also restores the sigaltstack from the frame's
 * uc_stack: it is set to the signal stack of the thread returning (its
 * block, from GS), not the one the frame was built on. Under the mn
 * scheduler a user-level thread may have moved to another enclave thread
 * while its handler ran; two threads on one signal stack would overwrite
 * each other's frames. (GS not a runtime block: the frame stays as is.) */
	.globl rt_sigreturn_restorer
	.type rt_sigreturn_restorer, @function
rt_sigreturn_restorer:
	rdgsbase %rax
	test $0x3ffff, %eax		/* RT_TBLOCK_SIZE alignment */
	jnz 1f
	movabs $0x7e0100000000, %rcx	/* RT_HEAP_BASE (region.h) */
	cmp %rcx, %rax
	jb 1f
	movabs $0x7e1000000000, %rcx	/* RT_REGION_END */
	cmp %rcx, %rax
	jae 1f
	mov rt_sigstk_off(%rip), %rcx
	lea (%rax,%rcx), %rdx
	mov %rdx, 16(%rsp)		/* uc_stack.ss_sp (rsp = the frame's ucontext) */
	movl $0, 24(%rsp)		/* ss_flags */
	mov $0x40000, %rdx
	sub %rcx, %rdx
	mov %rdx, 32(%rsp)		/* ss_size */
1:	mov $15, %eax
	syscall
	ud2

/* long rt_clone_stub(nr, a0, a1, a2, a3, a4): clone/clone3 whose child
 * starts on the top of its runtime block's signal stack and calls the
 * block's child_start(block) (thread.h: RT_TCB_CHILD_START_OFF). The parent
 * returns the kernel's result. */
	.globl rt_clone_stub
	.type rt_clone_stub, @function
rt_clone_stub:
	mov %rdi, %rax
	mov %rsi, %rdi
	mov %rdx, %rsi
	mov %rcx, %rdx
	mov %r8, %r10
	mov %r9, %r8
	syscall
	test %rax, %rax
	jz 1f
	ret
1:	xor %ebp, %ebp
	mov %rsp, %rdi
	and $-0x40000, %rdi	/* RT_TBLOCK_SIZE (thread.h) */
	and $-16, %rsp
	call *0x08(%rdi)	/* RT_TCB_CHILD_START_OFF */
	ud2

/* void rt_exit_and_release(volatile int *state, int code): mark the thread's
 * block reusable and exit the thread without touching its stack again. */
	.globl rt_exit_and_release
	.type rt_exit_and_release, @function
rt_exit_and_release:
	mov %esi, %esi
	movl $0, (%rdi)
	mov %rsi, %rdi
	mov $60, %eax
	syscall
	ud2

/* long rt_syscall_cp(long nr, long a0, ..., long a5, const volatile unsigned
 * *pending): a blocking system call that a signal queued for the thread
 * before it starts cancels. *pending is checked at rt_cp_begin; a signal
 * handler that queues a signal while the thread is between rt_cp_begin and
 * rt_cp_syscall (the call not yet made) moves it to rt_cp_cancel
 * (rtsignal.h), which returns -EINTR; one that arrives during the call
 * interrupts it (EINTR from the kernel). As musl's __syscall_cp. */
	.globl rt_syscall_cp
	.type rt_syscall_cp, @function
	.globl rt_cp_begin
	.globl rt_cp_syscall
	.globl rt_cp_cancel
	.hidden rt_syscall_cp
	.hidden rt_cp_begin
	.hidden rt_cp_syscall
	.hidden rt_cp_cancel
rt_syscall_cp:
	mov %rdi, %rax
	mov %rsi, %rdi
	mov %rdx, %rsi
	mov %rcx, %rdx
	mov %r8, %r10
	mov %r9, %r8
	mov 8(%rsp), %r9
	mov 16(%rsp), %r11
rt_cp_begin:
	cmpl $0, (%r11)
	jne rt_cp_cancel
rt_cp_syscall:
	syscall
	ret
rt_cp_cancel:
	mov $-4, %rax
	ret

/* void rt_sigreturn_to(struct kucontext *uc): rt_sigreturn with the frame
 * whose ucontext is at uc (the kernel reads the frame at rsp - 8). */
	.globl rt_sigreturn_to
	.type rt_sigreturn_to, @function
rt_sigreturn_to:
	mov %rdi, %rsp
	mov $15, %eax
	syscall
	ud2

/* void rt_jump_to_entry(entry, sp): enter the program (or its interpreter)
 * like the kernel does: rsp = initial stack, rdx = 0 (no rtld_fini), other
 * registers cleared. */
	.globl rt_jump_to_entry
	.type rt_jump_to_entry, @function
rt_jump_to_entry:
	mov %rsi, %rsp
	mov %rdi, %r11
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %ebp, %ebp
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d
	jmp *%r11


/* The fast entry of rewritten system call sites (fast.h, docs/rewrite.md).
 * A stub in the application's stub segment has run the displaced
 * instructions, stepped over the red zone (rsp -= 128) and called here:
 * [rsp] = R, its fast return; R + 10 (RT_FAST_SLOW_OFF) re-executes the call
 * with a trapped `syscall` (S). The application's registers are live, except
 * RCX and R11, which a syscall clobbers anyway. Flags are preserved.
 *
 * Signals are not blocked. Where a signal lands decides what happens to it
 * (signal.c rt_signal_forward): in the head, up to the switch to the
 * runtime's stack, it is delivered to the application at once; between
 * that and rt_fast_tail it is queued (the interrupted PC is runtime text)
 * and the tail sees it; in [rt_fast_tail, rt_fast_ret] it is queued and the
 * PC is rolled back to rt_fast_tail, which looks again. So the fast return
 * never leaves a queued signal behind.
 *
 * The runtime's C code uses general-purpose registers only (runtime.mk):
 * the application's vector state is saved (rt_fast_vsave) only for calls
 * that may reach code using vector registers (trap.c). */
#define RT_FAST_SLOW_OFF 10
#define RT_FAST_FRAME_OFF (0x40000 - 0x2000) /* RT_TBLOCK_SIZE - 8 KiB: frame below, XSAVE area above */
	.globl rt_fast_entry, rt_fast_head_end, rt_fast_tail, rt_fast_ret, rt_fast_end
	.type rt_fast_entry, @function
	.p2align 5
rt_fast_entry:
	pushfq
	rdgsbase %rcx
	/* GS must be this thread's block: in the runtime's range, aligned,
	 * self pointer in place (the application cannot set GS there). */
	mov %rcx, %r11
	shr $36, %r11
	cmp $0x7e0, %r11
	jne 9f
	test $0x3ffff, %ecx
	jnz 9f
	cmp (%rcx), %rcx
	jne 9f
	cld
	mov %rsp, %r11
	lea RT_FAST_FRAME_OFF(%rcx), %rsp
rt_fast_head_end:
	push %r11		/* the application's stack (at the saved flags) */
	push %r9
	push %r8
	push %r10
	push %rdx
	push %rsi
	push %rdi
	push %rax		/* struct rt_fast_frame (fast.h) */
	mov %rsp, %rdi
	mov %rcx, %rsi
	call *rt_fast_conf(%rip)	/* 8 pushes from a 64-aligned top: rsp is 16-aligned */
	rdgsbase %rcx
	mov %eax, %r11d
	pop %rax
	pop %rdi
	pop %rsi
	pop %rdx
	pop %r10
	pop %r8
	pop %r9
	pop %rsp		/* back on the application's stack */
	cmp $2, %r11d		/* served; the trap at the gate finishes it */
	je 8f
	test %r11d, %r11d
	jnz 9f
rt_fast_tail:
	cmpl $0, 0x68(%rcx)	/* RT_TCB_NPENDING_OFF */
	jne 8f
	popfq
rt_fast_ret:
	ret
rt_fast_end:
	/* Signals were queued during the call: the trap delivers them. The
	 * result and the continuation (after the stub's trapped syscall) go to
	 * the block, and the gate's syscall traps (trap.c rt_fast_gate_trap). Signals
	 * from here to the gate are queued (runtime text, gate page). */
8:	mov %rax, 0x10(%rcx)	/* RT_TCB_FAST_RESULT_OFF */
	mov 8(%rsp), %rax
	add $RT_FAST_SLOW_OFF + 10, %rax	/* C: after S's lea (8) and syscall (2) */
	mov %rax, 0x18(%rcx)	/* RT_TCB_FAST_CONT_OFF */
	movl $1, 0x20(%rcx)	/* RT_TCB_FAST_DELIVER_OFF */
	popfq
	lea 136(%rsp), %rsp	/* the stub's return address and the red zone */
	jmp *rt_fast_conf+8(%rip)
	/* Not a fast call (or no usable block): the stub's trapped syscall
	 * executes it with the application's registers. */
9:	addq $RT_FAST_SLOW_OFF, 8(%rsp)
	popfq
	ret
	.size rt_fast_entry, .-rt_fast_entry

/* void rt_fast_vsave(struct rt_thread *t), rt_fast_vrestore(t): the
 * application's vector and x87 state to and from the block's XSAVE area. */
	.globl rt_fast_vsave, rt_fast_vrestore
	.type rt_fast_vsave, @function
rt_fast_vsave:
	/* XRSTOR faults unless bytes 16-63 of the XSAVE header are zero, and
	 * XSAVEC does not write them: the kernel's signal frames use this
	 * part of the signal stack too. */
	lea RT_FAST_FRAME_OFF(%rdi), %rdi
	xor %eax, %eax
	mov %rax, 512+16(%rdi)
	mov %rax, 512+24(%rdi)
	mov %rax, 512+32(%rdi)
	mov %rax, 512+40(%rdi)
	mov %rax, 512+48(%rdi)
	mov %rax, 512+56(%rdi)
	mov rt_fast_conf+16(%rip), %eax
	xor %edx, %edx
	xsavec (%rdi)
	ret
	.type rt_fast_vrestore, @function
rt_fast_vrestore:
	mov rt_fast_conf+16(%rip), %eax
	xor %edx, %edx
	xrstor RT_FAST_FRAME_OFF(%rdi)
	ret

/* struct rt_fast_conf (fast.h), filled by rt_fast_init: the C function
 * (trap.c rt_fast_syscall), the gate, the XSAVEC mask. */
	.data
	.globl rt_fast_conf
	.type rt_fast_conf, @object
	.p2align 4
rt_fast_conf:
	.quad 0, 0, 0
	.size rt_fast_conf, 24

	.section .note.GNU-stack,"",@progbits
