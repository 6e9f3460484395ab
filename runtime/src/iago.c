/* Iago checks: results of system calls served by the host are checked
 * against what was asked before the application (or the runtime) uses them.
 * An impossible answer means a hostile or broken host: the runtime stops
 * rather than let the application act on it. */
#include "trap.h"
#include "region.h"
#include "rtutil.h"
#include "sys.h"

static __attribute__((noreturn)) void iago(long nr, long ret, const char *what)
{
	rt_fatal(RT_EX_SOFTWARE, "host returned an impossible result for system call %ld (%ld): %s", nr, ret, what);
}

void rt_iago_check(long nr, const long *a, long ret)
{
	if (ret < 0)
		return;
	switch (nr) {
	case __NR_read:
	case __NR_pread64:
	case __NR_write:
	case __NR_pwrite64:
	case __NR_recvfrom:
	case __NR_sendto:
	case __NR_getdents64:
		if ((unsigned long)ret > (unsigned long)a[2])
			iago(nr, ret, "more bytes than requested");
		break;
	case __NR_getrandom:
		if ((unsigned long)ret > (unsigned long)a[1])
			iago(nr, ret, "more bytes than requested");
		break;
	case __NR_readlink:
		if ((unsigned long)ret > (unsigned long)a[2])
			iago(nr, ret, "link longer than the buffer");
		break;
	case __NR_readlinkat:
		if ((unsigned long)ret > (unsigned long)a[3])
			iago(nr, ret, "link longer than the buffer");
		break;
	case __NR_getcwd:
		if ((unsigned long)ret > (unsigned long)a[1])
			iago(nr, ret, "path longer than the buffer");
		break;
	case __NR_epoll_wait:
	case __NR_epoll_pwait:
	case __NR_epoll_pwait2:
		if (ret > a[2])
			iago(nr, ret, "more events than maxevents");
		break;
	case __NR_poll:
	case __NR_ppoll:
		if ((unsigned long)ret > (unsigned long)a[1])
			iago(nr, ret, "more ready descriptors than polled");
		break;
	case __NR_select:
	case __NR_pselect6:
		if (ret > 3 * a[0])
			iago(nr, ret, "more ready descriptors than selected");
		break;
	case __NR_open:
	case __NR_openat:
	case __NR_socket:
	case __NR_accept:
	case __NR_accept4:
	case __NR_dup:
	case __NR_epoll_create1:
	case __NR_eventfd2:
	case __NR_timerfd_create:
	case __NR_signalfd4:
	case __NR_memfd_create:
		if (ret > (1L << 30))
			iago(nr, ret, "file descriptor out of range");
		break;
	case __NR_mmap:
		if (rt_region_overlaps((unsigned long)ret, (unsigned long)a[1]))
			iago(nr, ret, "mapping inside the runtime");
		if ((a[3] & (RT_MAP_FIXED | RT_MAP_FIXED_NOREPLACE)) && ret != a[0])
			iago(nr, ret, "MAP_FIXED mapping at another address");
		break;
	}
}
