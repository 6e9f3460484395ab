/* ELF loading through the shields (loader.h). */
#include <elf.h>
#include "loader.h"
#include "stubmap.h"
#include "sites.h"
#include "mmapcopy.h"
#include "region.h"
#include "shield.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

unsigned long rt_loader_stub_entry;

#define PAGE_DOWN(x) ((x) & ~(RT_PAGE - 1))
#define PAGE_UP(x) (((x) + RT_PAGE - 1) & ~(RT_PAGE - 1))
/* A program spanning WHOLE_MIN or more is copied in one mapping of whole
 * 2 MiB blocks: the copy goes on huge pages (mmapcopy.c). */
#define HUGE (2UL << 20)
#define WHOLE_MIN (128UL << 10)

static long sc(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	return shield_call(nr, a0, a1, a2, a3, a4, a5);
}

/* pread exactly n bytes (Iago: never trust a longer answer). */
static int pread_full(int fd, void *buf, size_t n, long off)
{
	size_t got = 0;
	while (got < n) {
		long r = sc(__NR_pread64, fd, (long)((char *)buf + got), (long)(n - got), off + (long)got, 0, 0);
		if (r == -RT_EINTR)
			continue;
		if (r < 0)
			return (int)r;
		if (r == 0 || (size_t)r > n - got)
			return -RT_EIO;
		got += (size_t)r;
	}
	return 0;
}

static int prot_of(uint32_t f)
{
	return ((f & PF_R) ? RT_PROT_READ : 0) | ((f & PF_W) ? RT_PROT_WRITE : 0) | ((f & PF_X) ? RT_PROT_EXEC : 0);
}

#define FAIL(code, ...)                                \
	do {                                           \
		rt_snprintf(err, errlen, __VA_ARGS__); \
		ret = (code);                          \
		goto out;                              \
	} while (0)

/* Reads and checks the ELF header and program headers, and PT_INTERP. */
static int read_headers(long fd, const char *path, Elf64_Ehdr *ehp, Elf64_Phdr *ph, char *interp, size_t icap,
			char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	int ret = 0;
	interp[0] = 0;
	if (pread_full((int)fd, &eh, sizeof eh, 0))
		FAIL(-RT_ENOEXEC, "%s: cannot read the ELF header", path);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
		FAIL(-RT_ENOEXEC, "%s: not an x86-64 ELF executable", path);
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		FAIL(-RT_ENOEXEC, "%s: ELF type %u is not executable", path, eh.e_type);
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 64)
		FAIL(-RT_ENOEXEC, "%s: bad program header table", path);
	if (pread_full((int)fd, ph, eh.e_phnum * sizeof(Elf64_Phdr), (long)eh.e_phoff))
		FAIL(-RT_ENOEXEC, "%s: cannot read the program headers", path);
	for (int i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_INTERP)
			continue;
		if (ph[i].p_filesz < 2 || ph[i].p_filesz > icap)
			FAIL(-RT_ENOEXEC, "%s: bad PT_INTERP", path);
		if (pread_full((int)fd, interp, ph[i].p_filesz, (long)ph[i].p_offset))
			FAIL(-RT_ENOEXEC, "%s: cannot read PT_INTERP", path);
		interp[ph[i].p_filesz - 1] = 0;
	}
	*ehp = eh;
out:
	return ret;
}

int rt_elf_peek(const char *path, char *interp, size_t icap, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[64];
	long fd = sc(__NR_openat, RT_AT_FDCWD, (long)path, RT_O_RDONLY | RT_O_CLOEXEC, 0, 0, 0);
	if (fd < 0) {
		rt_snprintf(err, errlen, "cannot open %s: error %ld", path, -fd);
		return (int)fd;
	}
	if (!rt_code_fd_ok((int)fd)) {
		sc(__NR_close, fd, 0, 0, 0, 0, 0);
		rt_snprintf(err, errlen,
			    "%s is a host file, not a file of the protected image: code from the host never "
			    "runs inside the enclave",
			    path);
		return -RT_EACCES;
	}
	int r = read_headers(fd, path, &eh, ph, interp, icap, err, errlen);
	sc(__NR_close, fd, 0, 0, 0, 0, 0);
	return r;
}

/* Whether the 12 bytes at seg (a mapped segment, or its first bytes read
 * from the file) start a stub segment: magic and a known version. */
static int stub_header(const unsigned char *seg)
{
	uint32_t ver;
	memcpy(&ver, seg + 8, 4);
	return !memcmp(seg, RT_STUB_MAGIC, 8) && ver >= RT_STUB_VERSION_MIN && ver <= RT_STUB_VERSION;
}

/* Writes the fast entry into the empty slot of the stub segment mapped at
 * seg (readable, `prot` its protection), when the fast path is on. 0, or
 * a negative errno when the page could not be written. */
static long fill_slot(unsigned char *seg, int prot)
{
	uint64_t slot;
	memcpy(&slot, seg + RT_STUB_SLOT_OFF, 8);
	if (!rt_loader_stub_entry || slot)
		return 0;
	long r = sc(__NR_mprotect, (long)seg, RT_PAGE, RT_PROT_READ | RT_PROT_WRITE, 0, 0, 0);
	if (r == 0) {
		memcpy(seg + RT_STUB_SLOT_OFF, &rt_loader_stub_entry, 8);
		r = sc(__NR_mprotect, (long)seg, RT_PAGE, prot, 0, 0, 0);
	}
	return r;
}

/* Whether segment i of the file (fd) starts a stub segment: magic and
 * version at its file offset. */
static int is_stub_segment(int fd, const Elf64_Phdr *p)
{
	unsigned char hdr[12];
	return p->p_type == PT_LOAD && (p->p_flags & PF_X) && p->p_filesz >= RT_STUB_HDR_SIZE &&
	       !pread_full(fd, hdr, sizeof hdr, (long)p->p_offset) && stub_header(hdr);
}

/* SCONE_STATS=1 (sites.h): [addr, addr+len) is code of fd's file from
 * off: a stub segment, or code of a file with or without stubs. A file
 * whose headers do not read as an x86-64 ELF counts as not rewritten. */
static void note_mapped_code(unsigned long addr, unsigned long len, int fd, long off)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[64];
	enum rt_site_kind kind = RT_SITE_PLAIN;
	if (!pread_full(fd, &eh, sizeof eh, 0) && !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	    eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum > 0 && eh.e_phnum <= 64 &&
	    !pread_full(fd, ph, eh.e_phnum * sizeof(Elf64_Phdr), (long)eh.e_phoff)) {
		for (int i = 0; i < eh.e_phnum; i++) {
			if (!is_stub_segment(fd, &ph[i]))
				continue;
			if ((unsigned long)off == (ph[i].p_offset & ~(unsigned long)(RT_PAGE - 1))) {
				kind = RT_SITE_STUB;
				break;
			}
			kind = RT_SITE_LEFT;
		}
	}
	rt_sites_code(addr, addr + len, kind);
}

void rt_loader_mapped_code(unsigned long addr, unsigned long len, int fd, long off)
{
	if (rt_sites_on)
		note_mapped_code(addr, len, fd, off);
	if (len < RT_PAGE || (addr & (RT_PAGE - 1)))
		return;
	/* Only bytes the file has: reading past its end would fault. */
	unsigned char st[144]; /* struct stat (x86-64) */
	if (sc(__NR_fstat, fd, (long)st, 0, 0, 0, 0) < 0)
		return;
	long size;
	memcpy(&size, st + 48, 8); /* st_size */
	if (off < 0 || size < off + RT_STUB_HDR_SIZE || !stub_header((const unsigned char *)addr))
		return;
	rt_stubmap_add(addr, len < (unsigned long)(size - off) ? len : (unsigned long)(size - off));
	long r = fill_slot((unsigned char *)addr, RT_PROT_READ | RT_PROT_EXEC);
	if (r)
		rt_eprintf("scone-run: cannot fill the stub slot of a mapped library at %p: error %ld (its rewritten "
			   "calls trap)\n",
			   (void *)addr, -r);
}

/* A segment of stubs for rewritten system call sites (pkg/rewrite): its
 * site table is kept (stubmap.h), its slot gets the runtime's fast entry
 * (fast.h), or stays 0 (every rewritten call then goes through the stub's
 * trapped syscall). */
static int fill_stub_slots(int n, const Elf64_Phdr *ph, unsigned long bias, const char *path, char *err, size_t errlen)
{
	for (int i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X) || ph[i].p_filesz < RT_STUB_HDR_SIZE ||
		    (ph[i].p_vaddr & (RT_PAGE - 1)) || !stub_header((const unsigned char *)(bias + ph[i].p_vaddr)))
			continue;
		rt_stubmap_add(bias + ph[i].p_vaddr, ph[i].p_filesz);
		long r = fill_slot((unsigned char *)(bias + ph[i].p_vaddr), prot_of(ph[i].p_flags));
		if (r) {
			rt_snprintf(err, errlen, "%s: cannot fill the stub slot: error %ld", path, -r);
			return -RT_ENOMEM;
		}
	}
	return 0;
}

/* SCONE_STATS=1 (sites.h): the executable segments of a program or
 * interpreter the loader mapped, by kind. */
static void note_loaded_code(int n, const Elf64_Phdr *ph, unsigned long bias, int fd)
{
	unsigned char stub[64]; /* n <= 64: read_headers */
	int stubs = 0;
	for (int i = 0; i < n; i++)
		stubs |= stub[i] = (unsigned char)is_stub_segment(fd, &ph[i]);
	for (int i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X))
			rt_sites_code(bias + ph[i].p_vaddr, bias + ph[i].p_vaddr + ph[i].p_memsz,
				      stub[i] ? RT_SITE_STUB :
				      stubs   ? RT_SITE_LEFT :
						RT_SITE_PLAIN);
}

int rt_load_elf(const char *path, struct rt_image *img, unsigned long hint, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[64];
	int ret = 0;
	memset(img, 0, sizeof *img);
	long fd = sc(__NR_openat, RT_AT_FDCWD, (long)path, RT_O_RDONLY | RT_O_CLOEXEC, 0, 0, 0);
	if (fd < 0) {
		rt_snprintf(err, errlen, "cannot open %s: error %ld", path, -fd);
		return (int)fd;
	}
	if (!rt_code_fd_ok((int)fd))
		FAIL(-RT_EACCES,
		     "%s is a host file, not a file of the protected image: code from the host never runs "
		     "inside the enclave",
		     path);
	ret = read_headers(fd, path, &eh, ph, img->interp, sizeof img->interp, err, errlen);
	if (ret)
		goto out;

	unsigned long lo = ~0UL, hi = 0, align = RT_PAGE;
	int first = -1;
	for (int i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !ph[i].p_memsz)
			continue;
		if (first < 0 || ph[i].p_vaddr < ph[first].p_vaddr)
			first = i;
		if (ph[i].p_filesz > ph[i].p_memsz || (ph[i].p_vaddr - ph[i].p_offset) % RT_PAGE ||
		    ph[i].p_vaddr + ph[i].p_memsz < ph[i].p_vaddr)
			FAIL(-RT_ENOEXEC, "%s: malformed PT_LOAD segment", path);
		if (PAGE_DOWN(ph[i].p_vaddr) < lo)
			lo = PAGE_DOWN(ph[i].p_vaddr);
		if (PAGE_UP(ph[i].p_vaddr + ph[i].p_memsz) > hi)
			hi = PAGE_UP(ph[i].p_vaddr + ph[i].p_memsz);
		if (ph[i].p_align > align && ph[i].p_align <= (1UL << 21) && !(ph[i].p_align & (ph[i].p_align - 1)))
			align = ph[i].p_align;
	}
	if (lo >= hi)
		FAIL(-RT_ENOEXEC, "%s: no loadable segment", path);

	/* Reserve the whole span first so segments land next to each other.
	 * A large program is reserved up to whole 2 MiB blocks (rspan) and
	 * copied whole over the reservation, as a dynamic loader maps a
	 * library: the copy goes on huge pages, and the segments' mappings
	 * over it keep it (mmapcopy.h). */
	unsigned long span = hi - lo, base, rspan = span;
	int big = span >= WHOLE_MIN && rt_mmap_huge();
	if (big) {
		rspan = (span + HUGE - 1) & ~(HUGE - 1);
		if (eh.e_type != ET_EXEC)
			align = HUGE;
	}
	if (eh.e_type == ET_EXEC) {
		if (rt_region_overlaps(lo, rspan))
			rspan = span;
		if (rt_region_overlaps(lo, span))
			FAIL(-RT_ENOEXEC, "%s: segments overlap the runtime's address range", path);
		long r = sc(__NR_mmap, (long)lo, (long)rspan, RT_PROT_NONE,
			    RT_MAP_PRIVATE | RT_MAP_ANONYMOUS | RT_MAP_FIXED_NOREPLACE, -1, 0);
		if (r != (long)lo && rspan > span) {
			rspan = span; /* something lies after the span */
			r = sc(__NR_mmap, (long)lo, (long)span, RT_PROT_NONE,
			       RT_MAP_PRIVATE | RT_MAP_ANONYMOUS | RT_MAP_FIXED_NOREPLACE, -1, 0);
		}
		if (r != (long)lo)
			FAIL(-RT_ENOMEM, "%s: cannot reserve [%p, +%lx): error %ld", path, (void *)lo, span, -r);
		base = lo;
	} else {
		long r = sc(__NR_mmap, (long)(hint & ~(align - 1)), (long)(rspan + align), RT_PROT_NONE,
			    RT_MAP_PRIVATE | RT_MAP_ANONYMOUS, -1, 0);
		if (rt_is_err(r) || rt_region_overlaps((unsigned long)r, rspan + align))
			FAIL(-RT_ENOMEM, "%s: cannot reserve %lx bytes: error %ld", path, span, -r);
		base = ((unsigned long)r + align - 1) & ~(align - 1);
		if (base > (unsigned long)r)
			sc(__NR_munmap, r, (long)(base - (unsigned long)r), 0, 0, 0, 0);
		if ((unsigned long)r + align > base)
			sc(__NR_munmap, (long)(base + rspan), (long)((unsigned long)r + align - base), 0, 0, 0, 0);
	}
	int whole = 0;
	if (big) {
		long r = sc(__NR_mmap, (long)base, (long)rspan, RT_PROT_NONE, RT_MAP_PRIVATE | RT_MAP_FIXED, fd,
			    (long)PAGE_DOWN(ph[first].p_offset));
		whole = r == (long)base;
		if (!whole) /* the segments are copied one by one */
			sc(__NR_mmap, (long)base, (long)rspan, RT_PROT_NONE,
			   RT_MAP_PRIVATE | RT_MAP_ANONYMOUS | RT_MAP_FIXED, -1, 0);
	}
	unsigned long bias = base - lo;

	for (int i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !ph[i].p_memsz)
			continue;
		int prot = prot_of(ph[i].p_flags);
		unsigned long seg = bias + PAGE_DOWN(ph[i].p_vaddr);
		unsigned long fend = bias + ph[i].p_vaddr + ph[i].p_filesz;
		unsigned long mend = bias + ph[i].p_vaddr + ph[i].p_memsz;
		int zero_tail = ph[i].p_memsz > ph[i].p_filesz && (fend & (RT_PAGE - 1));
		if (ph[i].p_filesz) {
			long len = (long)(PAGE_UP(fend) - seg);
			long r;
			/* a segment at its place in the whole copy (the copy holds
			 * the file's bytes from the first segment's page on):
			 * only its protection changes */
			if (whole && PAGE_DOWN(ph[i].p_offset) >= PAGE_DOWN(ph[first].p_offset) &&
			    PAGE_DOWN(ph[i].p_offset) - PAGE_DOWN(ph[first].p_offset) == PAGE_DOWN(ph[i].p_vaddr) - lo)
				r = sc(__NR_mprotect, (long)seg, len, prot | (zero_tail ? RT_PROT_WRITE : 0), 0, 0, 0) ?
					    -RT_ENOMEM :
					    (long)seg;
			else
				r = sc(__NR_mmap, (long)seg, len, prot | (zero_tail ? RT_PROT_WRITE : 0),
				       RT_MAP_PRIVATE | RT_MAP_FIXED, fd, (long)PAGE_DOWN(ph[i].p_offset));
			if (r != (long)seg)
				FAIL(-RT_ENOMEM, "%s: cannot map segment %d: error %ld", path, i, -r);
			if (zero_tail) {
				memset((void *)fend, 0, PAGE_UP(fend) - fend);
				if (!(prot & RT_PROT_WRITE))
					sc(__NR_mprotect, (long)seg, len, prot, 0, 0, 0);
			}
		}
		unsigned long anon = ph[i].p_filesz ? PAGE_UP(fend) : seg;
		if (PAGE_UP(mend) > anon) {
			long r = sc(__NR_mmap, (long)anon, (long)(PAGE_UP(mend) - anon), prot,
				    RT_MAP_PRIVATE | RT_MAP_ANONYMOUS | RT_MAP_FIXED, -1, 0);
			if (r != (long)anon)
				FAIL(-RT_ENOMEM, "%s: cannot map bss of segment %d: error %ld", path, i, -r);
		}
		if (mend > img->end)
			img->end = mend;
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset <= eh.e_phoff &&
		    eh.e_phoff + eh.e_phnum * sizeof(Elf64_Phdr) <= ph[i].p_offset + ph[i].p_filesz)
			img->phdr = bias + ph[i].p_vaddr + (eh.e_phoff - ph[i].p_offset);
	}
	if (rspan > span)
		sc(__NR_munmap, (long)(base + span), (long)(rspan - span), 0, 0, 0, 0);
	ret = fill_stub_slots(eh.e_phnum, ph, bias, path, err, errlen);
	if (ret)
		goto out;
	if (rt_sites_on)
		note_loaded_code(eh.e_phnum, ph, bias, (int)fd);
	for (int i = 0; i < eh.e_phnum; i++)
		if (ph[i].p_type == PT_PHDR)
			img->phdr = bias + ph[i].p_vaddr;
	if (!img->phdr)
		FAIL(-RT_ENOEXEC, "%s: program headers are not in a loaded segment", path);
	img->bias = bias;
	img->entry = bias + eh.e_entry;
	img->phnum = eh.e_phnum;
	img->phent = sizeof(Elf64_Phdr);
out:
	sc(__NR_close, fd, 0, 0, 0, 0, 0);
	return ret;
}
