/* Prints the process identity and tries to drop and regain privileges. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	printf("uid=%u euid=%u gid=%u egid=%u\n", getuid(), geteuid(), getgid(), getegid());
	int r = setgid(4321);
	printf("setgid(4321)=%d gid=%u\n", r, getgid());
	r = setuid(1234);
	printf("setuid(1234)=%d uid=%u euid=%u\n", r, getuid(), geteuid());
	r = setuid(0);
	printf("setuid(0)=%d %s uid=%u\n", r, r ? strerror(errno) : "", getuid());
	return 0;
}
