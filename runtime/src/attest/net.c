/* Network I/O of the attest subsystem (net.h). */
#include "net.h"
#include "random.h"
#include "rt_alloc.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"
#include "transport.h"

#define AF_INET_ 2
#define AF_INET6_ 10
#define SOCK_STREAM_ 1
#define SOCK_DGRAM_ 2
#define SOCK_CLOEXEC_ 02000000
#define SOL_SOCKET_ 1
#define SO_RCVTIMEO_ 20
#define SO_SNDTIMEO_ 21
#define IPPROTO_TCP_ 6
#define TCP_NODELAY_ 1
#define MSG_NOSIGNAL_ 0x4000
#define EINPROGRESS_ 115
#define ETIMEDOUT_ 110
#define ECONNREFUSED_ 111
#define EHOSTUNREACH_ 113
#define ENETUNREACH_ 101
#define EAGAIN_ 11
#define ECONNRESET_ 104

struct sockaddr_any {
	uint8_t b[28];
};

/* struct sockaddr_in / sockaddr_in6 of ip:port; its length. */
static unsigned sockaddr_of(const struct resolv_addr *ip, uint16_t port, struct sockaddr_any *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->b[2] = (uint8_t)(port >> 8);
	sa->b[3] = (uint8_t)port;
	if (ip->family == 4) {
		sa->b[0] = AF_INET_;
		memcpy(sa->b + 4, ip->ip, 4);
		return 16;
	}
	sa->b[0] = AF_INET6_;
	memcpy(sa->b + 8, ip->ip, 16);
	return 28;
}

static void timeouts(long fd, int opt, unsigned ms)
{
	long tv[2] = {ms / 1000, (long)(ms % 1000) * 1000};
	host_syscall(__NR_setsockopt, fd, SOL_SOCKET_, opt, (long)tv, sizeof tv, 0);
}

long casnet_connect(const struct resolv_addr *ip, uint16_t port)
{
	int af = ip->family == 4 ? AF_INET_ : AF_INET6_;
	long fd = host_syscall(__NR_socket, af, SOCK_STREAM_ | SOCK_CLOEXEC_, 0, 0, 0, 0);
	if (fd < 0)
		return fd;
	/* Linux bounds a blocking connect by the send timeout */
	timeouts(fd, SO_SNDTIMEO_, NET_CONNECT_MS);
	struct sockaddr_any sa;
	unsigned len = sockaddr_of(ip, port, &sa);
	long r;
	do
		r = host_syscall(__NR_connect, fd, (long)&sa, len, 0, 0, 0);
	while (r == -RT_EINTR);
	if (r < 0) {
		casnet_close((int)fd);
		return r;
	}
	timeouts(fd, SO_SNDTIMEO_, NET_IO_MS);
	timeouts(fd, SO_RCVTIMEO_, NET_IO_MS);
	/* request and answer, each sent whole: without it a request's last
	 * segment waits for the ACK of the one before (Nagle), which the CAS
	 * delays (delayed ACK, 40 ms on Linux): +40 ms per request */
	int one = 1;
	host_syscall(__NR_setsockopt, fd, IPPROTO_TCP_, TCP_NODELAY_, (long)&one, sizeof one, 0);
	return fd;
}

long casnet_send(int fd, const void *b, size_t n)
{
	long r;
	do
		r = host_syscall(__NR_sendto, fd, (long)b, (long)n, MSG_NOSIGNAL_, 0, 0);
	while (r == -RT_EINTR);
	if (r > (long)n)
		rt_fatal(RT_EX_SOFTWARE, "impossible host result: send of %lu bytes returned %ld", (unsigned long)n, r);
	return r;
}

long casnet_recv(int fd, void *b, size_t n)
{
	long r;
	do
		r = host_syscall(__NR_recvfrom, fd, (long)b, (long)n, 0, 0, 0);
	while (r == -RT_EINTR);
	if (r > (long)n)
		rt_fatal(RT_EX_SOFTWARE, "impossible host result: recv of %lu bytes returned %ld", (unsigned long)n, r);
	return r;
}

void casnet_close(int fd) { host_syscall(__NR_close, fd, 0, 0, 0, 0, 0); }

void casnet_sleep_ms(unsigned ms)
{
	long ts[2] = {ms / 1000, (long)(ms % 1000) * 1000000};
	while (host_syscall(__NR_nanosleep, (long)ts, (long)ts, 0, 0, 0, 0) == -RT_EINTR)
		;
}

const char *casnet_strerror(long err)
{
	switch (-err) {
	case ECONNREFUSED_:
		return "connection refused";
	case ETIMEDOUT_:
	case EINPROGRESS_:
	case EAGAIN_:
		return "timed out";
	case EHOSTUNREACH_:
		return "host unreachable";
	case ENETUNREACH_:
		return "network unreachable";
	case ECONNRESET_:
		return "connection reset";
	default:
		return "network error";
	}
}

void casnet_ntop(const struct resolv_addr *ip, char *out, size_t cap)
{
	if (ip->family == 4) {
		rt_snprintf(out, cap, "%u.%u.%u.%u", ip->ip[0], ip->ip[1], ip->ip[2], ip->ip[3]);
		return;
	}
	size_t o = 0;
	for (int i = 0; i < 8 && o < cap; i++)
		o += (size_t)rt_snprintf(out + o, cap - o, i ? ":%x" : "%x",
					 (unsigned)(ip->ip[2 * i] << 8 | ip->ip[2 * i + 1]));
}

/* One DNS question to one nameserver over UDP: the number of addresses
 * (0: none), or -1 (no usable answer). */
static long dns_ask(const struct resolv_addr *ns, const char *name, uint16_t qtype, struct resolv_addr *out, size_t max)
{
	uint8_t q[RESOLV_UDP_MAX], a[RESOLV_UDP_MAX];
	uint16_t id;
	rt_random(&id, sizeof id);
	long ql = resolv_query(id, name, qtype, q, sizeof q);
	if (ql < 0)
		return -1;
	long fd = host_syscall(__NR_socket, ns->family == 4 ? AF_INET_ : AF_INET6_, SOCK_DGRAM_ | SOCK_CLOEXEC_, 0, 0,
			       0, 0);
	if (fd < 0)
		return -1;
	timeouts(fd, SO_RCVTIMEO_, NET_DNS_MS);
	timeouts(fd, SO_SNDTIMEO_, NET_DNS_MS);
	struct sockaddr_any sa;
	unsigned sl = sockaddr_of(ns, 53, &sa);
	long r = -1;
	/* connected: only the nameserver's datagrams arrive */
	if (host_syscall(__NR_connect, fd, (long)&sa, sl, 0, 0, 0) == 0 && casnet_send((int)fd, q, (size_t)ql) == ql) {
		for (int tries = 0; tries < 4 && r < 0; tries++) {
			long n = casnet_recv((int)fd, a, sizeof a);
			if (n <= 0)
				break;
			r = resolv_answer(a, (size_t)n, id, name, qtype, out, max);
		}
	}
	casnet_close((int)fd);
	return r;
}

static size_t from_dns(const char *name, struct resolv_addr *out, size_t max, int *asked)
{
	size_t len = 0;
	long err = 0;
	uint8_t *conf = rt_read_host_file("/etc/resolv.conf", 65536, &len, &err);
	if (!conf)
		return 0;
	struct resolv_addr ns[RESOLV_MAX_NS];
	size_t nns = resolv_nameservers((const char *)conf, len, ns, RESOLV_MAX_NS);
	rt_free(conf);
	static const uint16_t types[] = {RESOLV_QTYPE_A, RESOLV_QTYPE_AAAA};
	size_t n = 0;
	for (size_t t = 0; t < 2; t++)
		for (size_t i = 0; i < nns && n < max; i++) {
			*asked = 1;
			long r = dns_ask(&ns[i], name, types[t], out + n, max - n);
			if (r >= 0) {
				n += (size_t)r;
				break; /* this nameserver answered */
			}
		}
	return n;
}

size_t casnet_resolve(const struct netaddr *a, struct resolv_addr *out, size_t max, char *why, size_t whylen)
{
	if (a->kind == NETADDR_IPV4 || a->kind == NETADDR_IPV6) {
		out[0].family = a->kind;
		memcpy(out[0].ip, a->ip, 16);
		return 1;
	}
	/* The container engine writes /etc/hosts and /etc/resolv.conf on the
	 * host; the FS shield passes them through. The image's own copies
	 * cannot be read yet: the protected FS opens with the key the CAS is
	 * about to release. */
	size_t len = 0, n = 0;
	long err = 0;
	uint8_t *hosts = rt_read_host_file("/etc/hosts", 1 << 20, &len, &err);
	if (hosts) {
		n = resolv_hosts((const char *)hosts, len, a->name, out, max);
		rt_free(hosts);
	}
	if (n)
		return n;
	int asked = 0;
	n = from_dns(a->name, out, max, &asked);
	if (!n)
		rt_snprintf(
			why, whylen,
			asked ? "cannot resolve %s: not in /etc/hosts, and the nameservers of /etc/resolv.conf do not "
				"know it" :
				"cannot resolve %s: not in /etc/hosts, and /etc/resolv.conf names no nameserver",
			a->name);
	return n;
}
