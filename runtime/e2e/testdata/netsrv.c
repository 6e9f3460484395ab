/* A plain-HTTP test server for the network shield (runtime/e2e/net_test.go):
 * it knows nothing of TLS; under scone-run with a TLS port its clients must
 * speak TLS.
 *
 *   netsrv MODE PORT [FILE]
 *
 * MODE: block (one connection at a time, blocking sockets), fork (a child
 * per connection, the parent closes its copy), poll, select, epoll-lt,
 * epoll-et (non-blocking sockets, one event loop; epoll-et reads and writes
 * until EAGAIN as nginx does).
 *
 * Requests: "GET /PATH ..." up to the blank line. /big answers 1 MiB (the
 * socket fills: partial writes, EAGAIN, EPOLLOUT), /file sends FILE with
 * sendfile (a protected file to a TLS socket), /pid the serving process's
 * pid, anything else "hello MODE PATH". Every answer holds the marker
 * PLAINTEXT-MARKER-7c1e so that a capture can look for it.
 *
 * Held writes (the network shield keeps TCP_CORK and MSG_MORE itself): the
 * answers to these are written in two calls, head then body:
 *   /split      two plain writes;
 *   /cork       TCP_CORK on, the two writes, TCP_CORK off (as nginx);
 *   /more       send(head, MSG_MORE), then write(body);
 *   /cork-wait  TCP_CORK on, the two writes, then neither uncork nor
 *               shutdown: the server waits for the client to close, so the
 *               answer must leave when the server waits.
 * Their bodies say what getsockopt(TCP_CORK) read while corked ("cork=1"). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MARKER "PLAINTEXT-MARKER-7c1e"
#define MAXC 2048
#define BIG (1 << 20)

static const char *mode, *file;

struct conn {
	int fd;
	char req[4096];
	size_t rlen;
	char *out; /* response being written */
	size_t olen, opos;
	int file_fd; /* sendfile source after the head */
	off_t foff, fsize;
	size_t split; /* write out[0:split] and the rest in two calls */
	int more;     /* the first of them with MSG_MORE */
	int cork;     /* 1: uncork after the answer; 2: leave it corked (hold) */
	int draining; /* answered, held: wait for the client to close */
};

static struct conn *conns[MAXC];

/* The response to a complete request, into c->out (and c->file_fd). */
static void respond(struct conn *c)
{
	char path[256] = "/";
	sscanf(c->req, "GET %255s", path);
	char head[512];
	c->file_fd = -1;
	if (!strcmp(path, "/big")) {
		c->out = malloc(BIG + 512);
		int h = snprintf(c->out, 512, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
				 BIG);
		for (int i = 0; i < BIG; i++)
			c->out[h + i] = (char)('a' + i % 26);
		memcpy(c->out + h, MARKER, strlen(MARKER));
		c->olen = (size_t)h + BIG;
	} else if (!strcmp(path, "/file") && file) {
		c->file_fd = open(file, O_RDONLY);
		struct stat st;
		fstat(c->file_fd, &st);
		c->fsize = st.st_size;
		c->foff = 0;
		int h = snprintf(head, sizeof head,
				 "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nConnection: close\r\n\r\n",
				 (long)st.st_size);
		c->out = malloc((size_t)h);
		memcpy(c->out, head, (size_t)h);
		c->olen = (size_t)h;
	} else if (!strcmp(path, "/split") || !strcmp(path, "/cork") || !strcmp(path, "/more") ||
		   !strcmp(path, "/cork-wait")) {
		int one = 1, seen = -1;
		socklen_t len = sizeof seen;
		c->cork = !strcmp(path, "/cork") ? 1 : !strcmp(path, "/cork-wait") ? 2 : 0;
		c->more = !strcmp(path, "/more");
		if (c->cork && (setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one) ||
				getsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &seen, &len) || len != sizeof seen))
			seen = -2;
		char body[128];
		int b = snprintf(body, sizeof body, "held %s cork=%d %s\n", path, seen, MARKER);
		int h = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n", b,
				 c->cork == 2 ? "" : "Connection: close\r\n");
		c->out = malloc((size_t)(h + b));
		memcpy(c->out, head, (size_t)h);
		memcpy(c->out + h, body, (size_t)b);
		c->olen = (size_t)(h + b);
		c->split = (size_t)h;
	} else {
		char body[512];
		int b = !strcmp(path, "/pid") ? snprintf(body, sizeof body, "pid %d %s\n", getpid(), MARKER) :
						snprintf(body, sizeof body, "hello %s %s %s\n", mode, path, MARKER);
		int h = snprintf(head, sizeof head,
				 "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", b);
		c->out = malloc((size_t)(h + b));
		memcpy(c->out, head, (size_t)h);
		memcpy(c->out + h, body, (size_t)b);
		c->olen = (size_t)(h + b);
	}
	c->opos = 0;
}

static void conn_free(struct conn *c)
{
	close(c->fd);
	if (c->file_fd >= 0)
		close(c->file_fd);
	free(c->out);
	free(c);
}

/* Reads what is there. 1: request complete, 0: more to come, -1: closed/failed. */
static int do_read(struct conn *c)
{
	for (;;) {
		if (c->rlen == sizeof c->req - 1)
			return -1;
		ssize_t n;
		if (!strcmp(mode, "block")) {
			/* recvmsg with room for control messages: what a server
			 * that also passes descriptors does; the TLS socket must
			 * still hand over plaintext and no control data */
			char cbuf[CMSG_SPACE(sizeof(int))];
			struct iovec iov = {c->req + c->rlen, sizeof c->req - 1 - c->rlen};
			struct msghdr m = {
				.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
			n = recvmsg(c->fd, &m, 0);
			if (n >= 0 && m.msg_controllen != 0) {
				errno = EPROTO;
				n = -1;
			}
		} else {
			n = read(c->fd, c->req + c->rlen, sizeof c->req - 1 - c->rlen);
		}
		if (n > 0) {
			c->rlen += (size_t)n;
			c->req[c->rlen] = 0;
			if (strstr(c->req, "\r\n\r\n"))
				return 1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		return -1;
	}
}

/* Writes what it can. 1: done, 0: more to write, -1: failed. */
static int do_write(struct conn *c)
{
	while (c->opos < c->olen) {
		size_t end = c->split && c->opos < c->split ? c->split : c->olen;
		ssize_t n = c->more && end == c->split ? send(c->fd, c->out + c->opos, end - c->opos, MSG_MORE) :
							 write(c->fd, c->out + c->opos, end - c->opos);
		if (n > 0) {
			c->opos += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN ? 0 : -1;
	}
	while (c->file_fd >= 0 && c->foff < c->fsize) {
		ssize_t n = sendfile(c->fd, c->file_fd, &c->foff, (size_t)(c->fsize - c->foff));
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN ? 0 : -1;
	}
	if (c->cork == 1) {
		int zero = 0;
		setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero);
		c->cork = 0;
	}
	return 1;
}

/* A held answer's connection: reads until the client closes. 1 when it
 * did (or failed), 0 while it is open. */
static int drain(struct conn *c)
{
	char b[256];
	for (;;) {
		ssize_t n = read(c->fd, b, sizeof b);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		return !(n < 0 && errno == EAGAIN);
	}
}

static void serve_blocking(int fd)
{
	struct conn *c = calloc(1, sizeof *c);
	c->fd = fd;
	c->file_fd = -1;
	int r;
	while ((r = do_read(c)) == 0)
		;
	if (r == 1) {
		respond(c);
		if (do_write(c) == 1 && c->cork == 2)
			drain(c); /* a blocking read: the held answer leaves as it waits */
		else
			shutdown(fd, SHUT_WR);
	}
	conn_free(c);
}

static int listener(int port, int nonblock)
{
	int s = socket(AF_INET6, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	int one = 1, zero = 0;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_any};
	if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1024)) {
		perror("bind/listen");
		exit(2);
	}
	return s;
}

static struct conn *accept_one(int ls)
{
	int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
	if (fd < 0)
		return NULL;
	if (fd >= MAXC) {
		close(fd);
		return NULL;
	}
	struct conn *c = calloc(1, sizeof *c);
	c->fd = fd;
	c->file_fd = -1;
	conns[fd] = c;
	return c;
}

/* One step of a non-blocking connection after an event: 1 when it is done. */
static int step(struct conn *c)
{
	if (c->draining)
		return drain(c);
	if (!c->out) {
		int r = do_read(c);
		if (r < 0)
			return 1;
		if (r == 0)
			return 0;
		respond(c);
	}
	int w = do_write(c);
	if (w == 0)
		return 0;
	if (w == 1 && c->cork == 2) {
		c->draining = 1; /* the loop waits for the client to close */
		return drain(c);
	}
	if (w == 1)
		shutdown(c->fd, SHUT_WR);
	return 1;
}

static int wants_out(const struct conn *c) { return c->out && !c->draining; }

static void drop(struct conn *c)
{
	conns[c->fd] = NULL;
	conn_free(c);
}

static void loop_poll(int ls)
{
	struct pollfd p[MAXC];
	for (;;) {
		int n = 0;
		p[n++] = (struct pollfd){ls, POLLIN, 0};
		for (int fd = 0; fd < MAXC; fd++)
			if (conns[fd])
				p[n++] = (struct pollfd){fd, (short)(wants_out(conns[fd]) ? POLLOUT : POLLIN), 0};
		if (poll(p, (nfds_t)n, -1) < 0)
			continue;
		for (int i = 1; i < n; i++)
			if (p[i].revents && step(conns[p[i].fd]))
				drop(conns[p[i].fd]);
		if (p[0].revents)
			while (accept_one(ls))
				;
	}
}

static void loop_select(int ls)
{
	for (;;) {
		fd_set r, w;
		FD_ZERO(&r);
		FD_ZERO(&w);
		FD_SET(ls, &r);
		int max = ls;
		for (int fd = 0; fd < FD_SETSIZE && fd < MAXC; fd++)
			if (conns[fd]) {
				FD_SET(fd, wants_out(conns[fd]) ? &w : &r);
				if (fd > max)
					max = fd;
			}
		if (select(max + 1, &r, &w, NULL, NULL) < 0)
			continue;
		for (int fd = 0; fd <= max; fd++)
			if (fd != ls && conns[fd] && (FD_ISSET(fd, &r) || FD_ISSET(fd, &w)) && step(conns[fd]))
				drop(conns[fd]);
		if (FD_ISSET(ls, &r))
			while (accept_one(ls))
				;
	}
}

static void loop_epoll(int ls, int et)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)-1};
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	struct epoll_event evs[64];
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == (uint64_t)-1) {
				struct conn *c;
				while ((c = accept_one(ls))) {
					/* nginx registers both directions, edge-triggered, at once */
					struct epoll_event ce = {
						.events = et ? EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET : EPOLLIN,
						.data.ptr = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ce);
				}
				continue;
			}
			struct conn *c = evs[i].data.ptr;
			int had_out = wants_out(c);
			if (step(c)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				drop(c);
			} else if (!et && had_out != wants_out(c)) {
				struct epoll_event ce = {.events = wants_out(c) ? EPOLLOUT : EPOLLIN, .data.ptr = c};
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ce);
			}
		}
	}
}

static void reap(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: netsrv MODE PORT [FILE]\n");
		return 2;
	}
	mode = argv[1];
	file = argc > 3 ? argv[3] : NULL;
	int port = atoi(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	int nb = strcmp(mode, "block") && strcmp(mode, "fork");
	int ls = listener(port, nb);
	printf("listening %s %d\n", mode, port);
	fflush(stdout);
	if (!strcmp(mode, "block")) {
		for (;;) {
			int fd = accept(ls, NULL, NULL);
			if (fd >= 0)
				serve_blocking(fd);
		}
	}
	if (!strcmp(mode, "fork")) {
		signal(SIGCHLD, reap);
		for (;;) {
			int fd = accept(ls, NULL, NULL);
			if (fd < 0)
				continue;
			pid_t pid = fork();
			if (pid == 0) {
				close(ls);
				serve_blocking(fd);
				_exit(0);
			}
			close(fd); /* the child serves it: no close_notify from here */
		}
	}
	if (!strcmp(mode, "poll"))
		loop_poll(ls);
	if (!strcmp(mode, "select"))
		loop_select(ls);
	if (!strcmp(mode, "epoll-lt"))
		loop_epoll(ls, 0);
	if (!strcmp(mode, "epoll-et"))
		loop_epoll(ls, 1);
	fprintf(stderr, "unknown mode %s\n", mode);
	return 2;
}
