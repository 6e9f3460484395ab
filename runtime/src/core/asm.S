/* The pieces of the runtime that must be assembly (besides _start, in
 * start.S). Everything here lies in the runtime's text, the Syscall User
 * Dispatch exempt range. */
	.text

/* Signal restorer used for every handler the runtime installs (and as the
 * return address of application handlers the runtime delivers to). */
	.globl rt_sigreturn_restorer
	.type rt_sigreturn_restorer, @function
rt_sigreturn_restorer:
	mov $15, %eax
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


	.section .note.GNU-stack,"",@progbits
