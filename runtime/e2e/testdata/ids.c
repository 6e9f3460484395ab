/* Prints the process identity and tries to drop and regain privileges. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	printf("uid=%u euid=%u gid=%u egid=%u\n", getuid(), geteuid(), getgid(), getegid());
	gid_t g[3] = {10, 20, 30}, out[8];
	int r = setgroups(3, g);
	int n = getgroups(8, out);
	printf("setgroups=%d getgroups=%d:", r, n);
	for (int i = 0; i < n; i++)
		printf(" %u", (unsigned)out[i]);
	int small = getgroups(1, out) < 0 ? errno : 0;
	printf(" count=%d small=%d\n", getgroups(0, NULL), small);
	r = setgid(4321);
	printf("setgid(4321)=%d gid=%u\n", r, getgid());
	r = setuid(1234);
	printf("setuid(1234)=%d uid=%u euid=%u\n", r, getuid(), geteuid());
	r = setuid(0);
	printf("setuid(0)=%d %s uid=%u\n", r, r ? strerror(errno) : "", getuid());
	return 0;
}
