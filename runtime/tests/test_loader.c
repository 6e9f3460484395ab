/* Unit test of the ELF loader (runtime/src/core/loader.c) in a host process:
 * shield_call is the raw host system call here. Loads /bin/true (ET_DYN,
 * dynamic) and checks the mapping against the file; refuses non-ELF and
 * missing files. */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "loader.h"
#include "region.h"
#include "rtutil.h"
#include "shield.h"
#include "sys.h"
#include "testutil.h"

int rt_strcmp(const char *a, const char *b) { return strcmp(a, b); }
int rt_strncmp(const char *a, const char *b, size_t n) { return strncmp(a, b, n); }
long shield_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	return rt_syscall6(nr, a0, a1, a2, a3, a4, a5);
}

/* Whether the host has huge pages (mmapcopy.c): a program of 128 KiB or
 * more is then mapped whole, its segments by protection changes. */
static int huge;
int rt_mmap_huge(void) { return huge; }

/* The protection /proc/self/maps shows at addr ("r-x", ...), or "". */
static const char *perms_at(unsigned long addr)
{
	static char out[4];
	char line[512];
	out[0] = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char pr[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, pr) == 3 && addr >= lo && addr < hi) {
			memcpy(out, pr, 3);
			out[3] = 0;
		}
	}
	if (f)
		fclose(f);
	return out;
}

/* Loads path into *img and checks each segment's bytes, zeroed bss,
 * protection, and the image's end. Returns the file's bytes (malloc'd), or
 * NULL when it could not be loaded. */
static unsigned char *check_load(const char *path, struct rt_image *img_out)
{
	struct rt_image img;
	char err[256] = "";
	int r = rt_load_elf(path, &img, 0, err, sizeof err);
	CHECK(r == 0);
	if (r) {
		fprintf(stderr, "load %s: %s\n", path, err);
		return NULL;
	}
	*img_out = img;
	FILE *f = fopen(path, "rb");
	struct stat st;
	stat(path, &st);
	unsigned char *file = malloc((size_t)st.st_size);
	CHECK(fread(file, 1, (size_t)st.st_size, f) == (size_t)st.st_size);
	fclose(f);
	const Elf64_Ehdr *eh = (const void *)file;
	const Elf64_Phdr *ph = (const void *)(file + eh->e_phoff);
	unsigned long end = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		unsigned long a = img.bias + ph[i].p_vaddr;
		CHECK(!memcmp((void *)a, file + ph[i].p_offset, ph[i].p_filesz));
		const unsigned char *bss = (const void *)(a + ph[i].p_filesz);
		for (unsigned long j = 0; j < ph[i].p_memsz - ph[i].p_filesz; j++)
			if (bss[j]) {
				CHECK(!"bss not zero");
				break;
			}
		char want[4] = {ph[i].p_flags & PF_R ? 'r' : '-', ph[i].p_flags & PF_W ? 'w' : '-',
				ph[i].p_flags & PF_X ? 'x' : '-', 0};
		const char *got = perms_at(a);
		if (strcmp(got, want))
			fprintf(stderr, "%s segment %d at %#lx: %s, want %s\n", path, i, a, got, want);
		CHECK(!strcmp(got, want));
		if (a + ph[i].p_memsz > end)
			end = a + ph[i].p_memsz;
	}
	CHECK(img.end == end);
	CHECK(!rt_region_overlaps(img.bias, end - img.bias));
	return file;
}

/* Whether the "shields" say the file is one of the protected image. */
static int code_ok = 1;
int rt_code_fd_ok(int fd)
{
	(void)fd;
	return code_ok;
}

int main(void)
{
	const char *path = "/bin/true";
	struct rt_image img;
	char err[256] = "";
	/* a host file (not the protected image's) is never loaded */
	code_ok = 0;
	CHECK_EQ(rt_load_elf(path, &img, 0, err, sizeof err), -RT_EACCES);
	CHECK(strstr(err, "code from the host never runs") != NULL);
	char interp[64];
	CHECK_EQ(rt_elf_peek(path, interp, sizeof interp, err, sizeof err), -RT_EACCES);
	code_ok = 1;
	err[0] = 0;
	unsigned char *file = check_load(path, &img);
	if (!file)
		return 1;
	const Elf64_Ehdr *eh = (const void *)file;
	CHECK(eh->e_type == ET_DYN);
	CHECK(img.bias != 0 && img.bias % 4096 == 0);
	CHECK(img.entry == img.bias + eh->e_entry);
	CHECK(img.phnum == eh->e_phnum && img.phent == sizeof(Elf64_Phdr));
	CHECK(!memcmp((void *)img.phdr, file + eh->e_phoff, eh->e_phnum * sizeof(Elf64_Phdr)));
	CHECK(!strcmp(img.interp, "/lib64/ld-linux-x86-64.so.2"));

	/* placement hint honoured when the range is free */
	struct rt_image img2;
	unsigned long hint = 0x5a0000000000UL;
	CHECK(rt_load_elf(path, &img2, hint, err, sizeof err) == 0);
	CHECK(img2.bias == hint);

	/* small and large programs, with and without huge pages (a large one
	 * is then mapped whole, its segments by protection changes) */
	for (huge = 0; huge < 2; huge++)
		for (unsigned k = 0; k < 2; k++)
			free(check_load(k ? "/bin/bash" : "/bin/true", &img));
	huge = 0;

	int r = rt_load_elf("/etc/passwd", &img, 0, err, sizeof err);
	CHECK(r == -RT_ENOEXEC && strstr(err, "not an x86-64 ELF"));
	r = rt_load_elf("/nonexistent/prog", &img, 0, err, sizeof err);
	CHECK(r == -RT_ENOENT && strstr(err, "cannot open"));
	/* a truncated ELF: header only */
	char tmp[] = "/tmp/test_loader_XXXXXX";
	int fd = mkstemp(tmp);
	CHECK(write(fd, file, 64) == 64);
	close(fd);
	r = rt_load_elf(tmp, &img, 0, err, sizeof err);
	CHECK(r == -RT_ENOEXEC);
	unlink(tmp);
	free(file);
	return test_summary("test_loader");
}
