/* The entry point of scone-run (the other assembly: asm.S). */
	.text

/* _start: the kernel's initial stack pointer (argc, argv, envp, auxv) is
 * passed to rt_main, which runs on a runtime-owned boot stack. The original
 * stack area is later reused for the application's initial stack. */
	.globl _start
	.type _start, @function
_start:
	xor %ebp, %ebp
	mov %rsp, %rdi
	lea rt_boot_stack_top(%rip), %rsp
	and $-16, %rsp
	call rt_main
	ud2

	.bss
	.balign 64
	.globl rt_boot_stack
rt_boot_stack:
	.skip 262144
rt_boot_stack_top:

	.section .note.GNU-stack,"",@progbits
