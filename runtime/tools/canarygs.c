/* canarygs: moves the stack-protector canary reads of a linked scone-run
 * from FS to GS (a build step of runtime.mk; docs/rewrite.md, "FS, GS and
 * vector state").
 *
 *   objdump -d --no-show-raw-insn scone-run | canarygs scone-run
 *
 * BearSSL and LZ4 come precompiled from Debian with -fstack-protector-strong:
 * their functions read the canary at %fs:0x28. FS is the application's
 * thread pointer, so every call that may reach them had to point FS at the
 * runtime's block and back: two arch_prctl calls where the kernel does not
 * let user space write FS (no FSGSBASE: PVM guests, kernels before 5.9).
 * GS holds the runtime's block all along (core/thread.h), so each
 *
 *     64 [REX] op modrm(mod 00, rm 100) 25 28 00 00 00    op %fs:0x28, reg
 *
 * becomes the same instruction with the GS prefix (65): same length, same
 * operand, no relocation. The instructions come from objdump's listing on
 * standard input (a real decoder, so no byte string inside another
 * instruction is taken for one); each is checked byte for byte in the file
 * before it is patched. Any other FS operand in the listing is an error:
 * the runtime's code must not depend on the application's FS. The file is
 * patched in place; on error it is left as it was and the exit status is 1. */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SITES 65536
#define INSN_LEN 9

struct image {
	unsigned char *b;
	size_t n;
};

static int fail(const char *file, const char *msg, unsigned long long addr)
{
	fprintf(stderr, "canarygs: %s: %s at %#llx\n", file, msg, addr);
	return 1;
}

/* The file offset of vaddr..vaddr+len inside an executable PT_LOAD, or -1. */
static long long exec_offset(const struct image *im, unsigned long long vaddr, size_t len)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)im->b;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(im->b + eh->e_phoff + (size_t)i * eh->e_phentsize);
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (vaddr < ph->p_vaddr || vaddr - ph->p_vaddr > ph->p_filesz ||
		    ph->p_filesz - (vaddr - ph->p_vaddr) < len)
			continue;
		unsigned long long off = ph->p_offset + (vaddr - ph->p_vaddr);
		if (off > im->n || im->n - off < len)
			return -1;
		return (long long)off;
	}
	return -1;
}

static int elf_ok(const struct image *im)
{
	if (im->n < sizeof(Elf64_Ehdr) || memcmp(im->b, ELFMAG, SELFMAG) || im->b[EI_CLASS] != ELFCLASS64)
		return 0;
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)im->b;
	if (eh->e_machine != EM_X86_64 || eh->e_phentsize != sizeof(Elf64_Phdr))
		return 0;
	return eh->e_phoff <= im->n && (im->n - eh->e_phoff) / sizeof(Elf64_Phdr) >= eh->e_phnum;
}

/* Whether p holds `64 [REX] op modrm 25 28 00 00 00` with modrm selecting
 * an absolute disp32 through a SIB byte without base or index. */
static int canary_insn(const unsigned char *p)
{
	static const unsigned char tail[] = {0x25, 0x28, 0x00, 0x00, 0x00};
	if (p[0] != 0x64)
		return 0;
	int i = 1;
	if ((p[i] & 0xf0) == 0x40)
		i++;
	/* one-byte opcodes only: mov, sub, xor, cmp with a memory source */
	if (p[i] != 0x8b && p[i] != 0x2b && p[i] != 0x33 && p[i] != 0x3b)
		return 0;
	i++;
	if ((p[i] & 0xc7) != 0x04)
		return 0;
	i++;
	return i + (int)sizeof tail == INSN_LEN && !memcmp(p + i, tail, sizeof tail);
}

static int read_file(const char *file, struct image *im)
{
	FILE *f = fopen(file, "rb");
	if (!f)
		return -errno;
	long n = fseek(f, 0, SEEK_END) ? -1 : ftell(f);
	int ok = n > 0 && !fseek(f, 0, SEEK_SET) && (im->b = malloc((size_t)n)) != 0;
	if (ok) {
		im->n = (size_t)n;
		ok = fread(im->b, 1, im->n, f) == im->n;
	}
	fclose(f);
	return ok ? 0 : -EIO;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: objdump -d --no-show-raw-insn FILE | canarygs FILE\n");
		return 2;
	}
	const char *file = argv[1];
	struct image im = {0};
	int e = read_file(file, &im);
	if (e) {
		fprintf(stderr, "canarygs: reading %s: %s\n", file, strerror(-e));
		return 1;
	}
	if (!elf_ok(&im)) {
		fprintf(stderr, "canarygs: %s: not an x86-64 ELF executable\n", file);
		return 1;
	}
	static long long sites[MAX_SITES];
	size_t nsites = 0;
	char line[4096];
	unsigned long long nlines = 0;
	while (fgets(line, sizeof line, stdin)) {
		nlines++;
		if (!strstr(line, "%fs:"))
			continue;
		char *end;
		unsigned long long addr = strtoull(line, &end, 16);
		if (end == line || *end != ':')
			return fail(file, "an FS operand on a line without an address", 0);
		if (!strstr(line, "%fs:0x28,"))
			return fail(file,
				    "an FS operand other than the canary (the runtime's code must not use the "
				    "application's FS)",
				    addr);
		long long off = exec_offset(&im, addr, INSN_LEN);
		if (off < 0)
			return fail(file, "a canary read outside the executable segments", addr);
		if (!canary_insn(im.b + off))
			return fail(file, "a canary read not encoded as `64 [REX] op modrm 25 28 00 00 00`", addr);
		if (nsites == MAX_SITES)
			return fail(file, "too many canary reads", addr);
		sites[nsites++] = off;
	}
	if (ferror(stdin) || nlines == 0) {
		fprintf(stderr, "canarygs: no disassembly on standard input (objdump -d %s)\n", file);
		return 1;
	}
	for (size_t i = 0; i < nsites; i++)
		im.b[sites[i]] = 0x65; /* GS */
	FILE *f = fopen(file, "r+b");
	if (!f || fwrite(im.b, 1, im.n, f) != im.n || fclose(f)) {
		fprintf(stderr, "canarygs: writing %s: %s\n", file, strerror(errno));
		return 1;
	}
	printf("canarygs: %s: %zu canary reads moved to GS\n", file, nsites);
	free(im.b);
	return 0;
}
