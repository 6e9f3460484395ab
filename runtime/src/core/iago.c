/* Iago checks (iago.h). */
#include "iago.h"
#include "fdtab.h"
#include "getdents.h"
#include "region.h"
#include "vma.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

#define SOCKADDR_MAX 128 /* sizeof(struct sockaddr_storage): no address is longer */
#define IOV_MAX_ 1024

static __attribute__((noreturn)) void iago(long nr, long ret, const char *what)
{
	rt_fatal(RT_EX_SOFTWARE, "host returned an impossible result for system call %ld (%ld): %s", nr, ret, what);
}

/* A user pointer the runtime may read or write len bytes at. */
static int user_ok(unsigned long p, unsigned long len)
{
	return p && p + len >= p && p + len <= 0x800000000000UL && !rt_region_overlaps(p, len);
}

struct kmsghdr {
	void *name;
	uint32_t namelen;
	uint32_t pad0;
	struct {
		void *base;
		unsigned long len;
	} * iov;
	unsigned long iovlen;
	void *control;
	unsigned long controllen;
	int flags;
	int pad1;
};
struct kmmsghdr {
	struct kmsghdr hdr;
	uint32_t len;
	uint32_t pad;
};

/* Sum of an iovec array's lengths, or ULONG_MAX when it cannot be read. */
static unsigned long iov_total(unsigned long iov, unsigned long n)
{
	if (n > IOV_MAX_ || !user_ok(iov, n * 16))
		return ~0UL;
	unsigned long t = 0;
	const unsigned long *v = (const unsigned long *)iov;
	for (unsigned long i = 0; i < n; i++) {
		if (t + v[2 * i + 1] < t)
			return ~0UL;
		t += v[2 * i + 1];
	}
	return t;
}

void rt_iago_pre(long nr, long *a, struct rt_iago_snap *s)
{
	s->ok = 0;
	switch (nr) {
	case __NR_readv:
	case __NR_preadv:
	case __NR_preadv2:
	case __NR_writev:
	case __NR_pwritev:
	case __NR_pwritev2:
		s->total = iov_total((unsigned long)a[1], (unsigned long)a[2]);
		s->ok = 1;
		break;
	case __NR_getsockopt:
		if (a[4] && user_ok((unsigned long)a[4], 4)) {
			s->len = *(const uint32_t *)a[4];
			s->ok = 1;
		}
		break;
	case __NR_recvmsg:
	case __NR_sendmsg:
		if (user_ok((unsigned long)a[1], sizeof(struct kmsghdr))) {
			const struct kmsghdr *m = (const struct kmsghdr *)a[1];
			s->total = iov_total((unsigned long)m->iov, m->iovlen);
			s->len = m->controllen;
			s->ok = 1;
		}
		break;
	case __NR_recvmmsg:
	case __NR_sendmmsg:
		if ((unsigned long)a[2] > RT_IAGO_MMSG)
			a[2] = RT_IAGO_MMSG; /* fewer messages per call: allowed, and every one is checked */
		if (user_ok((unsigned long)a[1], (unsigned long)a[2] * sizeof(struct kmmsghdr))) {
			const struct kmmsghdr *m = (const struct kmmsghdr *)a[1];
			for (long i = 0; i < a[2]; i++) {
				s->mlen[i] = iov_total((unsigned long)m[i].hdr.iov, m[i].hdr.iovlen);
				s->mctl[i] = m[i].hdr.controllen;
			}
			s->ok = 1;
		}
		break;
	}
}

/* The control messages the host wrote: each header inside the buffer, and
 * the descriptors of SCM_RIGHTS recorded as new (fdtab.h). */
static void check_cmsgs(long nr, const struct kmsghdr *m, unsigned long cap)
{
	unsigned long len = m->controllen;
	if (len > cap)
		iago(nr, (long)len, "msg_controllen larger than the buffer");
	if (!len)
		return;
	if (!user_ok((unsigned long)m->control, len))
		iago(nr, (long)len, "control data outside the buffer");
	const unsigned char *c = m->control;
	for (unsigned long off = 0; off + 16 <= len;) {
		unsigned long clen;
		int level, type;
		memcpy(&clen, c + off, 8);
		memcpy(&level, c + off + 8, 4);
		memcpy(&type, c + off + 12, 4);
		if (clen < 16 || clen > len - off)
			iago(nr, (long)clen, "a control message runs past the control data");
		if (level == 1 /* SOL_SOCKET */ && type == 1 /* SCM_RIGHTS */) {
			for (unsigned long i = 16; i + 4 <= clen; i += 4) {
				int fd;
				memcpy(&fd, c + off + i, 4);
				rt_fdtab_new(fd, "recvmsg (SCM_RIGHTS)");
			}
		}
		off += (clen + 7) & ~7UL;
	}
}

static void check_msg(long nr, const struct kmsghdr *m, unsigned long got, unsigned long total, unsigned long ctl)
{
	if (got > total)
		iago(nr, (long)got, "more bytes than the buffers hold");
	if (m->name && m->namelen > SOCKADDR_MAX)
		iago(nr, m->namelen, "an address longer than any socket address");
	check_cmsgs(nr, m, ctl);
}

/* An address length the host wrote through *lenp. */
static void check_addrlen(long nr, long addr, long lenp)
{
	if (!addr || !lenp || !user_ok((unsigned long)lenp, 4))
		return;
	uint32_t l = *(const uint32_t *)lenp;
	if (l > SOCKADDR_MAX)
		iago(nr, l, "an address longer than any socket address");
}

void rt_iago_check(long nr, const long *a, long ret, const struct rt_iago_snap *s)
{
	if (ret < 0)
		return;
	switch (nr) {
	case __NR_read:
	case __NR_pread64:
	case __NR_write:
	case __NR_pwrite64:
	case __NR_sendto:
		if ((unsigned long)ret > (unsigned long)a[2])
			iago(nr, ret, "more bytes than requested");
		break;
	case __NR_recvfrom:
		if ((unsigned long)ret > (unsigned long)a[2])
			iago(nr, ret, "more bytes than requested");
		check_addrlen(nr, a[4], a[5]);
		break;
	case __NR_readv:
	case __NR_preadv:
	case __NR_preadv2:
	case __NR_writev:
	case __NR_pwritev:
	case __NR_pwritev2:
		if (s->ok && (unsigned long)ret > s->total)
			iago(nr, ret, "more bytes than the buffers hold");
		break;
	case __NR_getdents64:
		if ((unsigned long)ret > (unsigned long)a[2])
			iago(nr, ret, "more bytes than requested");
		if (ret && rt_dirent_check((const void *)a[1], (size_t)ret))
			iago(nr, ret, "malformed directory records");
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
	case __NR_accept:
	case __NR_accept4:
	case __NR_getsockname:
	case __NR_getpeername:
		check_addrlen(nr, a[1], a[2]);
		break;
	case __NR_getsockopt:
		if (s->ok && a[4] && *(const uint32_t *)a[4] > s->len)
			iago(nr, *(const uint32_t *)a[4], "an option longer than the buffer");
		break;
	case __NR_recvmsg:
		if (s->ok)
			check_msg(nr, (const struct kmsghdr *)a[1], (unsigned long)ret, s->total, s->len);
		break;
	case __NR_sendmsg:
		if (s->ok && (unsigned long)ret > s->total)
			iago(nr, ret, "more bytes sent than the buffers hold");
		break;
	case __NR_recvmmsg:
	case __NR_sendmmsg:
		if (ret > a[2])
			iago(nr, ret, "more messages than asked for");
		if (s->ok && nr == __NR_recvmmsg) {
			const struct kmmsghdr *m = (const struct kmmsghdr *)a[1];
			for (long i = 0; i < ret; i++)
				check_msg(nr, &m[i].hdr, m[i].len, s->mlen[i], s->mctl[i]);
		}
		break;
	case __NR_mmap:
		if (rt_region_overlaps((unsigned long)ret, (unsigned long)a[1]))
			iago(nr, ret, "mapping inside the runtime");
		if ((a[3] & (RT_MAP_FIXED | RT_MAP_FIXED_NOREPLACE)) && ret != a[0])
			iago(nr, ret, "MAP_FIXED mapping at another address");
		break;
	}
}

void rt_host_before(long nr, const long *a)
{
	rt_fdtab_before(nr, a);
	rt_vma_before(nr, a);
}

void rt_host_result(long nr, const long *a, long ret)
{
	rt_fdtab_after(nr, a, ret);
	rt_vma_after(nr, a, ret);
}
