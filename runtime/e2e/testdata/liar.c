/* liar: a lying host for the Iago tests. It runs a program (scone-run)
 * under a seccomp filter whose user notifications come to this process,
 * and answers some of the system calls that the runtime (code at
 * 0x7e00xxxxxxxx, its text) passes to the host with lies of its choosing,
 * as a hostile kernel would. Every other call runs normally.
 *
 *   liar [RULE]... -- PROGRAM [ARGS...]
 *
 * RULEs:
 *   openat=SUBSTR:VALUE   openat whose path contains SUBSTR returns VALUE
 *                         (nothing is opened)
 *   mmap=LEN:ADDR         an anonymous mmap of LEN bytes returns ADDR (hex)
 *   getrandom=zero        getrandom writes zeros and returns the length
 *   count=NAME            count NAME calls (openat, mmap, getrandom) and
 *                         print "liar: NAME N" on stderr at the end
 * A path or address that cannot be read from the target makes the call run
 * normally. Exit status: the program's (128+N for a signal). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_RULES 16

struct rule {
	int nr;
	char kind;     /* 'o' openat, 'm' mmap, 'g' getrandom, 'c' count */
	char sub[256]; /* openat: path substring */
	long len;      /* mmap: length */
	long value;    /* the lie */
	long count;
};
static struct rule rules[MAX_RULES];
static int nrules;

static void die(const char *what)
{
	fprintf(stderr, "liar: %s: %s\n", what, strerror(errno));
	exit(111);
}

static int nr_of(const char *name)
{
	if (!strcmp(name, "openat"))
		return SYS_openat;
	if (!strcmp(name, "mmap"))
		return SYS_mmap;
	if (!strcmp(name, "getrandom"))
		return SYS_getrandom;
	fprintf(stderr, "liar: unknown call %s\n", name);
	exit(2);
}

static void parse(const char *arg)
{
	if (nrules == MAX_RULES)
		exit(2);
	struct rule *r = &rules[nrules++];
	memset(r, 0, sizeof *r);
	const char *eq = strchr(arg, '=');
	if (!eq)
		exit(2);
	if (!strncmp(arg, "openat=", 7)) {
		const char *c = strrchr(arg, ':');
		if (!c || c - eq - 1 >= (long)sizeof r->sub)
			exit(2);
		r->nr = SYS_openat;
		r->kind = 'o';
		memcpy(r->sub, eq + 1, (size_t)(c - eq - 1));
		r->value = strtol(c + 1, 0, 0);
	} else if (!strncmp(arg, "mmap=", 5)) {
		r->nr = SYS_mmap;
		r->kind = 'm';
		char *c;
		r->len = strtol(eq + 1, &c, 0);
		if (*c != ':')
			exit(2);
		r->value = (long)strtoul(c + 1, 0, 16);
	} else if (!strcmp(arg, "getrandom=zero")) {
		r->nr = SYS_getrandom;
		r->kind = 'g';
	} else if (!strncmp(arg, "count=", 6)) {
		r->nr = nr_of(eq + 1);
		r->kind = 'c';
		snprintf(r->sub, sizeof r->sub, "%s", eq + 1);
	} else {
		fprintf(stderr, "liar: unknown rule %s\n", arg);
		exit(2);
	}
}

/* The filter: the rules' calls made from the runtime's text go to the
 * supervisor, everything else runs. */
static int install_filter(void)
{
	struct sock_filter f[8 + 2 * MAX_RULES];
	int n = 0;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, instruction_pointer) + 4);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x7e00, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (int i = 0; i < nrules; i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)rules[i].nr, 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = {(unsigned short)n, f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("no_new_privs");
	int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (fd < 0)
		die("seccomp");
	return fd;
}

static void send_fd(int sock, int fd)
{
	char c = 0;
	struct iovec io = {&c, 1};
	char cbuf[CMSG_SPACE(sizeof fd)];
	struct msghdr m = {0};
	m.msg_iov = &io;
	m.msg_iovlen = 1;
	m.msg_control = cbuf;
	m.msg_controllen = sizeof cbuf;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof fd);
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	if (sendmsg(sock, &m, 0) != 1)
		die("sendmsg");
}

static int recv_fd(int sock)
{
	char c;
	struct iovec io = {&c, 1};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr m = {0};
	m.msg_iov = &io;
	m.msg_iovlen = 1;
	m.msg_control = cbuf;
	m.msg_controllen = sizeof cbuf;
	if (recvmsg(sock, &m, 0) != 1)
		die("recvmsg");
	int fd;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof fd);
	return fd;
}

static long peek(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = {buf, len}, r = {(void *)(uintptr_t)addr, len};
	return process_vm_readv(pid, &l, 1, &r, 1, 0);
}

static long poke(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec l = {(void *)buf, len}, r = {(void *)(uintptr_t)addr, len};
	return process_vm_writev(pid, &l, 1, &r, 1, 0);
}

/* The lie for req, or 0 to let the call run (resp->flags CONTINUE). */
static void answer(int lfd, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
	const struct seccomp_data *d = &req->data;
	resp->id = req->id;
	resp->val = 0;
	resp->error = 0;
	resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	for (int i = 0; i < nrules; i++) {
		struct rule *r = &rules[i];
		if (r->nr != d->nr)
			continue;
		if (r->kind == 'c') {
			r->count++;
			continue;
		}
		if (r->kind == 'o') {
			char path[4096];
			long n = peek(req->pid, d->args[1], path, sizeof path - 1);
			if (n <= 0)
				continue;
			path[n] = 0;
			if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id))
				return;
			if (!strstr(path, r->sub))
				continue;
		} else if (r->kind == 'm') {
			if ((long)d->args[1] != r->len || !(d->args[3] & 0x20 /* MAP_ANONYMOUS */))
				continue;
		} else if (r->kind == 'g') {
			static const char zeros[4096];
			size_t len = d->args[1] > sizeof zeros ? sizeof zeros : d->args[1];
			if (poke(req->pid, d->args[0], zeros, len) != (long)len)
				continue;
			r->value = (long)len;
		}
		r->count++;
		resp->flags = 0;
		resp->val = r->value;
		return;
	}
}

int main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && strcmp(argv[i], "--"); i++)
		parse(argv[i]);
	if (i >= argc - 1) {
		fprintf(stderr, "usage: liar [RULE]... -- PROGRAM [ARGS...]\n");
		return 2;
	}
	char **prog = argv + i + 1;
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		die("socketpair");
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		close(sp[0]);
		int lfd = install_filter();
		send_fd(sp[1], lfd);
		close(lfd);
		close(sp[1]);
		execv(prog[0], prog);
		die("execv");
	}
	close(sp[1]);
	int lfd = recv_fd(sp[0]);
	close(sp[0]);
	struct seccomp_notif_sizes sz;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz))
		die("notif sizes");
	struct seccomp_notif *req = calloc(1, sz.seccomp_notif > sizeof *req ? sz.seccomp_notif : sizeof *req);
	struct seccomp_notif_resp *resp =
		calloc(1, sz.seccomp_notif_resp > sizeof *resp ? sz.seccomp_notif_resp : sizeof *resp);
	int status = 0;
	for (;;) {
		pid_t w = waitpid(child, &status, WNOHANG);
		if (w == child)
			break;
		struct pollfd p = {lfd, POLLIN, 0};
		int pr = poll(&p, 1, 50);
		if (pr <= 0 || !(p.revents & POLLIN))
			continue;
		memset(req, 0, sz.seccomp_notif);
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, req))
			continue; /* the target died meanwhile */
		answer(lfd, req, resp);
		ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, resp); /* ENOENT: the target went away */
	}
	for (int k = 0; k < nrules; k++)
		if (rules[k].kind == 'c')
			fprintf(stderr, "liar: %s %ld\n", rules[k].sub, rules[k].count);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
