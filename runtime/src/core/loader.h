/* ELF loader: maps a program (ET_EXEC or ET_DYN, i.e. static, static-pie or
 * dynamic) and its PT_INTERP through shield_call(), so files come from the
 * protected FS or the host alike, and builds the initial stack. */
#ifndef SCONE_LOADER_H
#define SCONE_LOADER_H
#include <stddef.h>
#include <stdint.h>

struct rt_image {
	unsigned long bias;  /* load bias (0 for ET_EXEC) */
	unsigned long entry; /* bias + e_entry */
	unsigned long phdr;  /* address of the program headers in memory */
	unsigned long phnum, phent;
	unsigned long end; /* end of the highest segment */
	char interp[256];  /* PT_INTERP path, "" if none */
};

/* 0 on success; otherwise a negative errno and a message in err. hint: where
 * to place an ET_DYN image (0: anywhere); the main program goes near the
 * kernel's ELF_ET_DYN_BASE, away from the mmap area, so that brk has room
 * after it, as with the kernel's loader. */
int rt_load_elf(const char *path, struct rt_image *img, unsigned long hint, char *err, size_t errlen);

/* The stub segment of a rewritten file (pkg/rewrite, docs/rewrite.md): an
 * executable PT_LOAD starting with RT_STUB_MAGIC and the format version
 * (1, or 2 with a site table: stubmap.h); the loader writes
 * rt_loader_stub_entry (when set: fast.c) into its slot. */
#define RT_STUB_MAGIC "SCONESTB"
#define RT_STUB_VERSION_MIN 1
#define RT_STUB_VERSION 2
#define RT_STUB_SLOT_OFF 16
#define RT_STUB_TABLE_OFF 32
#define RT_STUB_HDR_SIZE 64
extern unsigned long rt_loader_stub_entry;
/* After the application mapped [addr, addr+len) of fd at off executable
 * (the dynamic loader mapping a library's segment): fills the slot when
 * the mapping starts a stub segment. */
void rt_loader_mapped_code(unsigned long addr, unsigned long len, int fd, long off);
#define RT_ET_DYN_BASE 0x555555554000UL

/* Reads and checks an ELF's headers without mapping anything; interp gets
 * its PT_INTERP ("" if none). 0 or a negative errno (message in err). */
int rt_elf_peek(const char *path, char *interp, size_t icap, char *err, size_t errlen);

/* Auxiliary vector types used by the runtime. */
#define RT_AT_NULL 0
#define RT_AT_PHDR 3
#define RT_AT_PHENT 4
#define RT_AT_PHNUM 5
#define RT_AT_PAGESZ 6
#define RT_AT_BASE 7
#define RT_AT_FLAGS 8
#define RT_AT_ENTRY 9
#define RT_AT_UID 11
#define RT_AT_EUID 12
#define RT_AT_GID 13
#define RT_AT_EGID 14
#define RT_AT_PLATFORM 15
#define RT_AT_HWCAP 16
#define RT_AT_CLKTCK 17
#define RT_AT_SECURE 23
#define RT_AT_RANDOM 25
#define RT_AT_HWCAP2 26
#define RT_AT_RSEQ_FEATURE_SIZE 27
#define RT_AT_RSEQ_ALIGN 28
#define RT_AT_EXECFN 31
#define RT_AT_SYSINFO_EHDR 33
#define RT_AT_MINSIGSTKSZ 51

struct rt_stack_params {
	char *const *argv;		/* NULL-terminated */
	char *const *envp;		/* NULL-terminated */
	const unsigned long *host_auxv; /* the kernel's auxv (pairs, AT_NULL-terminated), may be NULL */
	int pass_vdso;			/* pass AT_SYSINFO_EHDR from host_auxv */
	unsigned long phdr, phent, phnum, entry, base;
	unsigned long uid, gid;
	const char *execfn;
	unsigned char random[16];
	/* Out: where the argument and environment strings went (what the
	 * kernel calls arg_start..arg_end and env_start..env_end). */
	char *arg_start, *arg_end, *env_start, *env_end;
};

/* Builds argc/argv/envp/auxv and the strings they point to downwards from
 * top (exclusive) without going below limit. Returns the initial stack
 * pointer (16-byte aligned, pointing at argc), or 0 if it does not fit. */
unsigned long rt_build_stack(char *top, char *limit, struct rt_stack_params *p);
#endif
