/* Table-driven test of runtime/src/core/fdguard.c with a scripted host:
 * the application's calls on a spare placeholder's number and on the
 * runtime's own descriptors answer as for closed ones (EBADF, POLLNVAL),
 * listings of the process's own descriptor directory leave them out (d_off
 * kept seekable, a buffer of nothing but them read past), and a listing
 * the host cannot have made is EIO. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/errno.h>
#include "fdguard.h"
#include "fdtab.h"
#include "sys.h"
#include "testutil.h"

int rt_strncmp(const char *a, const char *b, size_t n) { return strncmp(a, b, n); }
int rt_strcmp(const char *a, const char *b) { return strcmp(a, b); }

/* The scripted host. */
static const char *link_target = "/proc/4242/fd";
static long host_pid = 4242;
static unsigned char listing[2][512];
static long listing_len[2];
static int listing_at;
static int readlinks, getdents_calls;

struct kpollfd {
	int fd;
	short events, revents;
};

long host_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	(void)a3, (void)a4, (void)a5;
	switch (nr) {
	case __NR_readlinkat: {
		readlinks++;
		CHECK(a0 == RT_AT_FDCWD && !strncmp((const char *)a1, "/proc/self/fd/", 14));
		size_t n = strlen(link_target);
		memcpy((char *)a2, link_target, n < (size_t)a3 ? n : (size_t)a3);
		return (long)n;
	}
	case __NR_getpid:
		return host_pid;
	case __NR_getdents64: {
		getdents_calls++;
		if (listing_at >= 2 || !listing_len[listing_at])
			return 0;
		long n = listing_len[listing_at];
		CHECK(n <= a2);
		memcpy((void *)a1, listing[listing_at++], (size_t)n);
		return n;
	}
	default:
		fprintf(stderr, "unexpected host call %ld\n", nr);
		test_failures++;
		return -ENOSYS;
	}
}

/* The shields and host behind the guard: a poll that sees every
 * descriptor it is given ready for what it asks. */
static long app_calls, last_nr;
static struct kpollfd seen[4];
static long call(long nr, const long *a)
{
	long a0 = a[0], a1 = a[1];
	app_calls++;
	last_nr = nr;
	if (nr != __NR_ppoll)
		return 0;
	struct kpollfd *p = (struct kpollfd *)a0;
	long r = 0;
	for (long i = 0; i < a1; i++) {
		if (i < 4)
			seen[i] = p[i];
		p[i].revents = p[i].fd < 0 ? 0 : p[i].events;
		r += p[i].revents != 0;
	}
	return r;
}

/* Appends a getdents64 record (d_off = off) to listing k. */
static void rec(int k, const char *name, int64_t off)
{
	size_t nl = strlen(name), len = (19 + nl + 1 + 7) & ~(size_t)7;
	unsigned char *p = listing[k] + listing_len[k];
	memset(p, 0xa5, len); /* the padding is not the kernel's to clear */
	uint64_t ino = 100 + (uint64_t)off;
	uint16_t rl = (uint16_t)len;
	memcpy(p, &ino, 8);
	memcpy(p + 8, &off, 8);
	memcpy(p + 16, &rl, 2);
	p[18] = 10; /* DT_LNK */
	memcpy(p + 19, name, nl + 1);
	listing_len[k] += (long)len;
}

static void reset_host(void)
{
	memset(listing_len, 0, sizeof listing_len);
	listing_at = readlinks = getdents_calls = 0;
	link_target = "/proc/4242/fd";
	host_pid = 4242;
}

/* The names and d_offs of a getdents64 result. */
static void names(const unsigned char *buf, long n, char *out, size_t cap)
{
	out[0] = 0;
	for (long at = 0; at < n;) {
		uint16_t rl;
		int64_t off;
		memcpy(&rl, buf + at + 16, 2);
		memcpy(&off, buf + at + 8, 8);
		size_t o = strlen(out);
		snprintf(out + o, cap - o, "%s%s@%lld", o ? " " : "", (const char *)buf + at + 19, (long long)off);
		at += rl;
	}
}

static long listing_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5, int *served)
{
	const long a[6] = {a0, a1, a2, a3, a4, a5};
	long ret = 0x7777;
	CHECK(nr == __NR_getdents64);
	*served = rt_fd_listing(a, &ret);
	return ret;
}

static long guard(long nr, long a0, long a1, long a2, long a3, long a4, long a5, int *served)
{
	const long a[6] = {a0, a1, a2, a3, a4, a5};
	long ret = 0x7777;
	*served = rt_fd_guard(nr, a, &ret, call);
	return ret;
}

int main(void)
{
	/* open: 0, 1, 2, 5, 9 (the listing's directory), 40; 7 a spare;
	 * 1016 the runtime's own */
	const int open_fds[] = {0, 1, 2, 5, 7, 9, 40, 1016};
	for (size_t i = 0; i < sizeof open_fds / sizeof open_fds[0]; i++)
		rt_fdtab_new(open_fds[i], "test");
	rt_fdtab_hide(1016);
	CHECK(rt_fdtab_spare_put(7, 1) == 1);

	struct {
		const char *name;
		long nr, a[6];
		int served;
		long ret;
	} calls[] = {
		{"fstat of a spare", __NR_fstat, {7, 0}, 1, -EBADF},
		{"fstat of the runtime's own", __NR_fstat, {1016, 0}, 1, -EBADF},
		{"fcntl of the runtime's own", __NR_fcntl, {1016, 1 /* F_GETFD */}, 1, -EBADF},
		{"read of an open one", __NR_read, {5, 0, 0}, 0, 0x7777},
		{"newfstatat, spare, relative", __NR_newfstatat, {7, (long)"rel", 0, 0}, 1, -EBADF},
		{"newfstatat, spare, absolute", __NR_newfstatat, {7, (long)"/abs", 0, 0}, 0, 0x7777},
		{"newfstatat, spare, empty path", __NR_newfstatat, {7, (long)"", 0, 0x1000}, 1, -EBADF},
		{"statx, the runtime's own, absolute", __NR_statx, {1016, (long)"/abs", 0, 0, 0}, 0, 0x7777},
		{"openat, spare, relative", __NR_openat, {7, (long)"rel", 0, 0}, 1, -EBADF},
		{"openat, spare, absolute", __NR_openat, {7, (long)"/abs", 0, 0}, 0, 0x7777},
		{"openat, AT_FDCWD", __NR_openat, {-100, (long)"rel", 0, 0}, 0, 0x7777},
		{"utimensat of the descriptor (NULL path)", __NR_utimensat, {7, 0, 0, 0}, 1, -EBADF},
		{"symlinkat into a spare", __NR_symlinkat, {(long)"t", 7, (long)"rel"}, 1, -EBADF},
		{"symlinkat, absolute link path", __NR_symlinkat, {(long)"t", 7, (long)"/l"}, 0, 0x7777},
		{"renameat2 into the runtime's own", __NR_renameat2, {5, (long)"a", 1016, (long)"b", 0}, 1, -EBADF},
		{"renameat2 from a spare", __NR_renameat2, {7, (long)"a", 5, (long)"b", 0}, 1, -EBADF},
		{"renameat2, absolute from", __NR_renameat2, {7, (long)"/a", 5, (long)"b", 0}, 0, 0x7777},
		{"linkat, both absolute", __NR_linkat, {1016, (long)"/a", 7, (long)"/b", 0}, 0, 0x7777},
		{"epoll_ctl adding the runtime's own", __NR_epoll_ctl, {5, 1, 1016, 0}, 1, -EBADF},
		{"epoll_ctl on a spare epoll", __NR_epoll_ctl, {7, 1, 5, 0}, 1, -EBADF},
		{"epoll_ctl of open ones", __NR_epoll_ctl, {5, 1, 0, 0}, 0, 0x7777},
		{"epoll_wait on a spare", __NR_epoll_wait, {7, 0, 1, 0}, 1, -EBADF},
		{"close of the runtime's own", __NR_close, {1016}, 1, -EBADF},
		{"dup2 onto the runtime's own", __NR_dup2, {5, 1016}, 1, -EBUSY},
		{"dup2 from the runtime's own", __NR_dup2, {1016, 20}, 1, -EBADF},
		{"splice from a spare", __NR_splice, {7, 0, 5, 0, 1, 0}, 1, -EBADF},
		{"splice to the runtime's own", __NR_splice, {5, 0, 1016, 0, 1, 0}, 1, -EBADF},
		{"an anonymous mmap", __NR_mmap, {0, 4096, 3, 0x22, 1016, 0}, 0, 0x7777},
		{"a mmap of the runtime's own", __NR_mmap, {0, 4096, 1, 0x02, 1016, 0}, 1, -EBADF},
	};
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		int served;
		long r = guard(calls[i].nr, calls[i].a[0], calls[i].a[1], calls[i].a[2], calls[i].a[3], calls[i].a[4],
			       calls[i].a[5], &served);
		CHECK_MSG(served == calls[i].served && r == calls[i].ret, "%s: served %d ret %ld", calls[i].name,
			  served, r);
	}

	/* select: a set naming a closed number fails; bits past nfds do not
	 * count */
	{
		unsigned long set[17] = {0};
		int served;
		set[0] = 1UL << 5;
		guard(__NR_select, 6, (long)set, 0, 0, 0, 0, &served);
		CHECK_MSG(!served, "select of open ones");
		set[0] |= 1UL << 7;
		CHECK(guard(__NR_select, 8, 0, (long)set, 0, 0, 0, &served) == -EBADF && served);
		CHECK(guard(__NR_pselect6, 7, (long)set, 0, 0, 0, 0, &served) == 0x7777 && !served);
		set[0] = 0;
		set[1016 / 64] = 1UL << (1016 % 64);
		CHECK(guard(__NR_pselect6, 1017, 0, 0, (long)set, 0, 0, &served) == -EBADF && served);
	}

	/* poll: POLLNVAL for the closed ones, the others asked at once */
	{
		struct kpollfd p[3] = {{7, 1, 0}, {5, 4, 0}, {1016, 1, 0}};
		int served;
		app_calls = 0;
		long r = guard(__NR_poll, (long)p, 3, -1, 0, 0, 0, &served);
		CHECK_MSG(served && r == 3, "poll: served %d ret %ld", served, r);
		CHECK(app_calls == 1 && last_nr == __NR_ppoll);
		CHECK(seen[0].fd == -1 && seen[1].fd == 5 && seen[2].fd == -1);
		CHECK(p[0].revents == 0x20 && p[1].revents == 4 && p[2].revents == 0x20);
		CHECK(p[0].fd == 7 && p[2].fd == 1016); /* the application's array keeps its numbers */
		struct kpollfd q[2] = {{5, 1, 0}, {-1, 1, 0}};
		app_calls = 0;
		guard(__NR_ppoll, (long)q, 2, 0, 0, 8, 0, &served);
		CHECK(!served && app_calls == 0);
	}

	/* listings of the own descriptor directory */
	char got[512];
	unsigned char buf[512];
	int served;
	long r;
	reset_host();
	const char *all[] = {".", "..", "0", "1", "2", "5", "7", "9", "40", "1016"};
	for (int i = 0; i < 10; i++)
		rec(0, all[i], i + 1);
	r = listing_call(__NR_getdents64, 9, (long)buf, sizeof buf, 0, 0, 0, &served);
	CHECK(served && r > 0);
	names(buf, r, got, sizeof got);
	CHECK_MSG(!strcmp(got, ".@1 ..@2 0@3 1@4 2@5 5@7 9@8 40@10"), "listing: %s", got);

	/* under another name (the thread's directory), a first buffer of
	 * nothing but closed numbers */
	reset_host();
	link_target = "/proc/4242/task/4250/fd";
	rec(0, "7", 1);
	rec(0, "1016", 2);
	rec(1, "5", 3);
	r = listing_call(__NR_getdents64, 9, (long)buf, sizeof buf, 0, 0, 0, &served);
	names(buf, r > 0 ? r : 0, got, sizeof got);
	CHECK_MSG(served && !strcmp(got, "5@3") && getdents_calls == 2, "read past: %s (%d calls)", got,
		  getdents_calls);
	r = listing_call(__NR_getdents64, 9, (long)buf, sizeof buf, 0, 0, 0, &served);
	CHECK_MSG(served && r == 0, "the end: %ld", r);

	/* fdinfo lists the same numbers */
	reset_host();
	link_target = "/proc/4242/fdinfo";
	rec(0, "5", 1);
	rec(0, "1016", 2);
	r = listing_call(__NR_getdents64, 9, (long)buf, sizeof buf, 0, 0, 0, &served);
	names(buf, r > 0 ? r : 0, got, sizeof got);
	CHECK_MSG(served && !strcmp(got, "5@2"), "fdinfo: %s", got);

	/* another process's directory, another directory, a descriptor that is
	 * not open: the host's listing as it is */
	const char *others[] = {
		"/proc/4243/fd",   "/proc/4242/fdinfox",	 "/proc", "/proc/4242/task/x/fd", "/dev/pts",
		"/proc/4242/fd/3", "/proc/4243/task/4242/fdinfo"};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		reset_host();
		link_target = others[i];
		rec(0, "1016", 1);
		listing_call(__NR_getdents64, 9, (long)buf, sizeof buf, 0, 0, 0, &served);
		CHECK_MSG(!served && getdents_calls == 0, "%s", others[i]);
	}
	reset_host();
	listing_call(__NR_getdents64, 41, (long)buf, sizeof buf, 0, 0, 0, &served);
	CHECK(!served && readlinks == 0); /* not open */

	/* records the host cannot have made */
	reset_host();
	rec(0, "5", 1);
	memset(listing[0] + 16, 0, 2); /* d_reclen 0 */
	r = listing_call(__NR_getdents64, 9, (long)buf, sizeof buf, 0, 0, 0, &served);
	CHECK_MSG(served && r == -EIO, "reclen 0: %ld", r);
	reset_host();
	rec(0, "5", 1);
	listing_len[0] -= 4; /* cut short */
	r = listing_call(__NR_getdents64, 9, (long)buf, sizeof buf, 0, 0, 0, &served);
	CHECK_MSG(served && r == -EIO, "cut short: %ld", r);
	reset_host();
	rec(0, "55555", 1);
	memset(listing[0] + 19, '5', listing_len[0] - 19); /* no NUL */
	r = listing_call(__NR_getdents64, 9, (long)buf, sizeof buf, 0, 0, 0, &served);
	CHECK_MSG(served && r == -EIO, "no NUL: %ld", r);

	return test_summary("test_fdguard");
}
