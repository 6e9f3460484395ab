/* Calls what the runtime refuses, twice each: io_uring_setup and io_setup
 * (ENOSYS: they would run I/O past the shields) and the legacy getdents on a directory of
 * the image (ENOSYS: getdents64 only). Prints each result; the runtime's
 * stderr names each refused call once (rt_refuse_once). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	char params[120], buf[4096];
	memset(params, 0, sizeof params);
	int dir = open("/", O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < 2; i++) {
		long r = syscall(SYS_io_uring_setup, 8, params);
		printf("io_uring_setup: %ld %s\n", r, r < 0 ? strerrorname_np(errno) : "");
		unsigned long ctx = 0;
		r = syscall(SYS_io_setup, 8, &ctx);
		printf("io_setup: %ld %s\n", r, r < 0 ? strerrorname_np(errno) : "");
		r = syscall(SYS_getdents, dir, buf, sizeof buf);
		printf("getdents: %ld %s\n", r, r < 0 ? strerrorname_np(errno) : "");
	}
	return 0;
}
