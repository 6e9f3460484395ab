/* A plain-HTTP test client for the network shield's client side
 * (runtime/e2e/net_test.go): it knows nothing of TLS; under scone-run with
 * its destination in --tls-connect its connection must be TLS.
 *
 *   netcli MODE IPV4 PORT PATH
 *
 * MODE: block (blocking connect, write, read), poll (non-blocking connect,
 * poll for POLLOUT, SO_ERROR, then poll-driven write and read), epoll-et
 * (the same with edge-triggered epoll). Prints the answer; exit 0 when the
 * server answered, 1 with the error otherwise. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *what)
{
	printf("error: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Waits until fd is ready for ev (poll or epoll-et). */
static int wait_for(const char *mode, int ep, int fd, short ev)
{
	if (!strcmp(mode, "poll")) {
		struct pollfd p = {fd, ev, 0};
		return poll(&p, 1, 30000) == 1 ? 0 : -1;
	}
	struct epoll_event e;
	(void)fd;
	for (;;) {
		int n = epoll_wait(ep, &e, 1, 30000);
		if (n <= 0)
			return -1;
		if (e.events & ((ev & POLLOUT ? EPOLLOUT : EPOLLIN) | EPOLLERR | EPOLLHUP))
			return 0;
	}
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: netcli MODE IPV4 PORT PATH\n");
		return 2;
	}
	const char *mode = argv[1];
	int nb = strcmp(mode, "block") != 0;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3]))};
	inet_pton(AF_INET, argv[2], &a.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);
	int ep = -1;
	if (!strcmp(mode, "epoll-et")) {
		ep = epoll_create1(0);
		struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = fd};
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof a) && !(nb && errno == EINPROGRESS))
		return fail("connect");
	if (nb) {
		if (wait_for(mode, ep, fd, POLLOUT))
			return fail("waiting for the connection");
		int err = 0;
		socklen_t l = sizeof err;
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			errno = err;
			return fail("connect (SO_ERROR)");
		}
	}
	char req[512];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: netcli\r\n\r\n", argv[4]);
	for (int off = 0; off < n;) {
		ssize_t w = write(fd, req + off, (size_t)(n - off));
		if (w > 0) {
			off += (int)w;
		} else if (w < 0 && errno == EAGAIN) {
			if (wait_for(mode, ep, fd, POLLOUT))
				return fail("waiting to write");
		} else {
			return fail("write");
		}
	}
	char buf[65536];
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r > 0) {
			fwrite(buf, 1, (size_t)r, stdout);
			got += (size_t)r;
		} else if (r == 0) {
			break;
		} else if (errno == EAGAIN) {
			if (wait_for(mode, ep, fd, POLLIN))
				return fail("waiting to read");
		} else {
			return fail("read");
		}
	}
	close(fd);
	return got ? 0 : 1;
}
