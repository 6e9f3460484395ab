/* Source of tiny.elf, the small static ELF used as a stand-in runtime in the
 * SGXS layout tests (see README.md for the build command). It has a code, a
 * read-only data, a data and a bss segment. It is never executed by the tests. */
static const char msg[] = "tiny enclave fixture\n";
char data[64] = "initialised data";
char bss[8192];

void _start(void)
{
	long n = sizeof(msg) - 1;
	bss[0] = data[0];
	__asm__ volatile("mov $1, %%eax\n mov $1, %%edi\n mov %0, %%rsi\n mov %1, %%rdx\n syscall\n"
	                 "mov $60, %%eax\n xor %%edi, %%edi\n syscall\n"
	                 :
	                 : "r"(msg), "r"(n)
	                 : "rax", "rdi", "rsi", "rdx", "rcx", "r11", "memory");
	for (;;)
		;
}
