/* What an application does in the Iago tests (iago_test.go), by mode:
 *   console  open a host file (/etc/hosts), then print a marker: a lying
 *            host that answers the open with fd 1 must not get the marker
 *            in plaintext
 *   protected PATH  open PATH (a file of the protected FS), then the host
 *            file; a lying host answers the second open with the first's
 *            number: the protected file must not silently change
 *   exec PATH      execv(PATH); print why it failed
 *   mmapexec PATH  map PATH PROT_EXEC, and PROT_READ then mprotect PROT_EXEC
 *   alias    ask for a fresh anonymous mapping of 0x13000 bytes and write
 *            into it; print the global `precious` (a lying host answers the
 *            mmap with precious's address)
 *   random   32 bytes from getrandom and 32 from /dev/urandom, in hex */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

__attribute__((aligned(4096))) char precious[0x13000] = "ORIGINAL-DATA";

static void hex(const unsigned char *b, int n)
{
	for (int i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "console")) {
		int fd = open("/etc/hosts", O_RDONLY);
		printf("opened %d\nPLAINTEXT-MARKER\n", fd);
		return 0;
	}
	if (!strcmp(argv[1], "protected") && argc > 2) {
		int fd = open(argv[2], O_RDONLY);
		int h = open("/etc/hosts", O_RDONLY);
		char b[4] = {0};
		long n = pread(fd, b, 4, 0);
		printf("protected fd %d, host fd %d, read %ld: %s\n", fd, h, n,
		       n == 4 && !memcmp(b, "\177ELF", 4) ? "ELF" : "not the file");
		return 0;
	}
	if (!strcmp(argv[1], "exec") && argc > 2) {
		char *args[] = {argv[2], 0};
		execv(argv[2], args);
		printf("exec %s: %s\n", argv[2], strerror(errno));
		return 0;
	}
	if (!strcmp(argv[1], "mmapexec") && argc > 2) {
		int fd = open(argv[2], O_RDONLY);
		void *x = mmap(0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
		printf("mmap exec: %s\n", x == MAP_FAILED ? strerror(errno) : "mapped");
		void *r = mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		printf("mmap read: %s\n", r == MAP_FAILED ? strerror(errno) : "mapped");
		if (r != MAP_FAILED)
			printf("mprotect exec: %s\n",
			       mprotect(r, 4096, PROT_READ | PROT_EXEC) ? strerror(errno) : "done");
		return 0;
	}
	if (!strcmp(argv[1], "alias")) {
		printf("precious at %p\n", (void *)precious);
		char *p = mmap(0, 0x13000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 3;
		strcpy(p, "OVERWRITTEN");
		printf("precious: %s\n", precious);
		return 0;
	}
	if (!strcmp(argv[1], "random")) {
		unsigned char a[32] = {0}, b[32] = {0};
		if (getrandom(a, sizeof a, 0) != (ssize_t)sizeof a)
			return 4;
		int fd = open("/dev/urandom", O_RDONLY);
		if (fd < 0 || read(fd, b, sizeof b) != (ssize_t)sizeof b)
			return 5;
		hex(a, 32);
		hex(b, 32);
		return 0;
	}
	return 2;
}
