/* FS shield: unix sockets bound to a path (fs.h).
 *
 * A pathname in an AF_UNIX address names a file, so it is resolved like
 * any other path: in the ephemeral layer, bind creates a socket node
 * (FSV_IFSOCK, mode 0777 & ~umask as on Linux) and binds the host socket
 * to the node's host path in the enclave's private directory
 * (fs_hostnode.c); connect, sendto and sendmsg to a socket node address
 * that host path. Under a passthrough mount the address gets the resolved
 * host path (and the other shields may refuse it, as the volume shield
 * does: no socket lives in a protected volume). The application never sees
 * the private directory: getsockname and getpeername answer the path the
 * socket node was bound to (fs_hostnode.c keeps it, for every process of
 * the enclave). Abstract and unnamed addresses, and other families,
 * pass. Linux's answers: bind to an existing name EADDRINUSE, connect to
 * a file that is not a socket ECONNREFUSED, to a socket node without write
 * permission EACCES. */
#include "fs.h"

#define AF_UNIX_ 1
#define SUN_PATH_LEN 108

struct ksockaddr_un {
	uint16_t family;
	char path[SUN_PATH_LEN];
};

/* The pathname of an AF_UNIX address the application passed, into path
 * (NUL-terminated): 1; 0 when the address is not one (no address, another
 * family, unnamed, abstract, longer than sockaddr_un: the host answers);
 * -EFAULT. */
static int sun_path_of(const void *sa, long len, char path[SUN_PATH_LEN + 1])
{
	if (!sa || len <= 2 || len > (long)sizeof(struct ksockaddr_un))
		return 0;
	if (!rt_user_ok(sa, (size_t)len))
		return -EFAULT;
	const struct ksockaddr_un *u = sa;
	if (u->family != AF_UNIX_ || !u->path[0])
		return 0;
	size_t n = 0;
	while (n < (size_t)len - 2 && u->path[n])
		n++;
	memcpy(path, u->path, n);
	path[n] = 0;
	return 1;
}

/* The host address for host path hp into out: its length, or
 * -ENAMETOOLONG. */
static long host_addr(const char *hp, struct ksockaddr_un *out)
{
	size_t l = strlen(hp);
	if (l >= SUN_PATH_LEN)
		return -ENAMETOOLONG;
	memset(out, 0, sizeof *out);
	out->family = AF_UNIX_;
	memcpy(out->path, hp, l + 1);
	return (long)(2 + l + 1);
}

/* Where an address the application gave goes. */
struct target {
	int kind; /* 0: pass, 1: host address in sa, <0: errno */
	struct ksockaddr_un sa;
	long len;
	uint64_t ino; /* a socket node's (0: a host path) */
	char path[SUN_PATH_LEN + 1];
};

/* Resolves the address of connect, sendto or sendmsg (the socket must
 * exist: a socket node, or any host path). */
static void resolve_peer(const void *sa, long len, struct target *t)
{
	t->ino = 0;
	t->kind = sun_path_of(sa, len, t->path);
	if (t->kind <= 0)
		return;
	struct fsv_res r;
	fs_lock();
	int k = fs_lookup_at(AT_FDCWD, t->path, FSV_FOLLOW, &r);
	if (k == 1) {
		fs_unlock();
		t->len = host_addr(r.host_path, &t->sa);
		t->kind = t->len < 0 ? (int)t->len : 1;
		return;
	}
	if (k < 0 || k == 2) {
		fs_unlock();
		t->kind = k < 0 ? k : -ENOENT;
		return;
	}
	long v = 0;
	if ((r.node->mode & FSV_IFMT) != FSV_IFSOCK || r.node->img)
		v = -ECONNREFUSED;
	else if ((v = fsv_access(FS(), r.node, 2)) == 0) {
		char hp[FS_HOST_NODE_PATH_MAX];
		t->ino = r.node->ino;
		v = fs_host_node_path(t->ino, hp, 0);
		if (v == 0)
			v = host_addr(hp, &t->sa);
		t->len = v;
	}
	fsv_res_put(FS(), &r);
	fs_unlock();
	t->kind = v < 0 ? (v == -ENOENT ? -ECONNREFUSED : (int)v) : 1;
}

int fs_sys_bind(const struct sys_call *c, long *ret)
{
	int fd = (int)c->a[0];
	char path[SUN_PATH_LEN + 1];
	int k = sun_path_of((const void *)c->a[1], c->a[2], path);
	if (k <= 0)
		return k < 0 ? shield_done(ret, k) : SHIELD_PASS;
	struct ksockaddr_un sa;
	struct fsv_res r;
	fs_lock();
	int l = fs_lookup_at(AT_FDCWD, path, FSV_PARENT | FSV_CREATE, &r);
	if (l == 1) {
		fs_unlock();
		long n = host_addr(r.host_path, &sa);
		if (n < 0)
			return shield_done(ret, n);
		return shield_done(ret, shield_host_path_call(&fs_shield_ops, __NR_bind, fd, (long)&sa, n, 0, 0, 0));
	}
	if (l < 0 || l == 2) {
		fs_unlock();
		return shield_done(ret, l < 0 ? l : -ENOENT);
	}
	long v;
	struct fsv_node *n = NULL;
	if (r.node)
		v = -EADDRINUSE;
	else if (r.trailing_slash)
		v = -ENOENT;
	else
		v = fsv_create(FS(), r.dir, r.name, r.namelen, FSV_IFSOCK | (0777 & ~fs_g.umask), NULL, &n);
	if (v == 0) {
		char hp[FS_HOST_NODE_PATH_MAX];
		v = fs_host_node_path(n->ino, hp, 1);
		if (v == 0)
			v = host_addr(hp, &sa);
		if (v > 0)
			v = host_syscall(__NR_bind, fd, (long)&sa, v, 0, 0, 0);
		if (v == 0)
			v = fs_host_node_set_name(n->ino, path);
		if (v < 0) /* the node goes with the name */
			fsv_remove(FS(), r.dir, r.name, r.namelen, 0);
		fsv_unref(FS(), n);
	}
	fsv_res_put(FS(), &r);
	fs_unlock();
	/* a host path that exists means the private directory is not ours */
	return shield_done(ret, v == -EADDRINUSE && n ? -EIO : v);
}

int fs_sys_connect(const struct sys_call *c, long *ret)
{
	struct target t;
	resolve_peer((const void *)c->a[1], c->a[2], &t);
	if (!t.kind)
		return SHIELD_PASS;
	if (t.kind < 0)
		return shield_done(ret, t.kind);
	return shield_done(ret,
			   shield_host_path_call(&fs_shield_ops, __NR_connect, c->a[0], (long)&t.sa, t.len, 0, 0, 0));
}

int fs_sys_sendto(const struct sys_call *c, long *ret)
{
	struct target t;
	resolve_peer((const void *)c->a[4], c->a[5], &t);
	if (!t.kind)
		return SHIELD_PASS;
	if (t.kind < 0)
		return shield_done(ret, t.kind);
	return shield_done(ret, shield_host_path_call(&fs_shield_ops, __NR_sendto, c->a[0], c->a[1], c->a[2], c->a[3],
						      (long)&t.sa, t.len));
}

/* Sends msghdr m on socket fd as sendmsg does, for sendmmsg's batches
 * that pass descriptors: its unix socket path resolved (t, from
 * resolve_peer), the enclave's descriptors it passes as fs_scm_send
 * passes them. */
static long send_one(long fd, const struct kmsghdr *m, const struct target *t, long flags)
{
	struct kmsghdr h = *m;
	if (t->kind) {
		h.name = (void *)&t->sa;
		h.namelen = (int)t->len;
	}
	int handled;
	long r = fs_scm_send(fd, &h, flags, &handled); /* descriptors of the enclave's files */
	return handled ? r : shield_host_path_call(&fs_shield_ops, __NR_sendmsg, fd, (long)&h, flags, 0, 0, 0);
}

int fs_sys_sendmsg(const struct sys_call *c, long *ret)
{
	const struct kmsghdr *m = (const struct kmsghdr *)c->a[1];
	if (!m || !rt_user_ok(m, sizeof *m))
		return SHIELD_PASS; /* the host answers EFAULT */
	struct target t;
	resolve_peer(m->name, m->namelen, &t);
	if (t.kind < 0)
		return shield_done(ret, t.kind);
	struct kmsghdr h = *m;
	if (t.kind) {
		h.name = &t.sa;
		h.namelen = (int)t.len;
	}
	int handled;
	long r = fs_scm_send(c->a[0], &h, c->a[2], &handled); /* descriptors of the enclave's files */
	if (handled)
		return shield_done(ret, r);
	if (!t.kind)
		return SHIELD_PASS; /* another shield's socket (TLS) goes on to it */
	return shield_done(ret,
			   shield_host_path_call(&fs_shield_ops, __NR_sendmsg, c->a[0], (long)&h, c->a[2], 0, 0, 0));
}

/* sendmmsg: each message's address as sendmsg's, so that a unix socket
 * path names the enclave's socket node, never a host path. A message
 * whose address does not resolve ends the batch before it, as the
 * kernel's sendmmsg ends at the first failed message (its error when it
 * is the first). A batch that passes descriptors of the enclave's files
 * (SCM_RIGHTS) goes one message at a time, each as sendmsg sends it, as
 * the kernel's sendmmsg does. */
int fs_sys_sendmmsg(const struct sys_call *c, long *ret)
{
	struct kmmsghdr *v = (struct kmmsghdr *)c->a[1];
	unsigned long n = (unsigned long)(unsigned)c->a[2];
	if (n > 1024)
		n = 1024; /* UIO_MAXIOV, as the kernel clamps it */
	if (!v || !n || !rt_user_ok(v, n * sizeof *v) || rt_shields_own_fd_except(&fs_shield_ops, (int)c->a[0]))
		return SHIELD_PASS; /* the host's answer, or another shield's socket (TLS) */
	unsigned long i;
	for (i = 0; i < n && !fs_scm_virtual(&v[i].hdr); i++)
		;
	if (i < n) {
		long sent = 0, r = 0;
		for (i = 0; i < n; i++) {
			struct target t;
			resolve_peer(v[i].hdr.name, v[i].hdr.namelen, &t);
			r = t.kind < 0 ? t.kind : send_one(c->a[0], &v[i].hdr, &t, c->a[3]);
			if (r < 0)
				break;
			v[i].len = (unsigned)r;
			sent++;
		}
		return shield_done(ret, sent ? sent : r);
	}
	char path[SUN_PATH_LEN + 1];
	for (i = 0; i < n && !sun_path_of(v[i].hdr.name, v[i].hdr.namelen, path); i++)
		;
	if (i == n)
		return SHIELD_PASS; /* no unix socket path */
	struct kmmsghdr *h = rt_malloc(n * sizeof *h);
	struct target *t = rt_malloc(n * sizeof *t);
	long r = -ENOMEM;
	if (h && t) {
		for (i = 0; i < n; i++) {
			h[i] = v[i];
			resolve_peer(v[i].hdr.name, v[i].hdr.namelen, &t[i]);
			if (t[i].kind < 0)
				break;
			if (t[i].kind) {
				h[i].hdr.name = &t[i].sa;
				h[i].hdr.namelen = (int)t[i].len;
			}
		}
		r = i ? shield_host_path_call(&fs_shield_ops, __NR_sendmmsg, c->a[0], (long)h, (long)i, c->a[3], 0, 0) :
			t[0].kind;
		for (long k = 0; k < r && (unsigned long)k < i; k++)
			v[k].len = h[k].len;
	}
	rt_free(h);
	rt_free(t);
	return shield_done(ret, r);
}

/* getsockname, getpeername: the host's answer, with a host node path
 * replaced by the application's path (or by an unnamed address). */
int fs_sys_sockname(const struct sys_call *c, long *ret)
{
	int fd = (int)c->a[0];
	void *ua = (void *)c->a[1];
	int *ulen = (int *)c->a[2];
	if (!ua || !ulen || !rt_user_ok(ulen, sizeof *ulen) || *ulen < 0)
		return SHIELD_PASS;
	union {
		struct ksockaddr_un un;
		uint8_t storage[128]; /* sockaddr_storage: any family */
	} u;
	struct ksockaddr_un *sa = &u.un;
	int len = sizeof u;
	memset(&u, 0, sizeof u);
	long v = host_syscall(c->nr, fd, (long)&u, (long)&len, 0, 0, 0);
	if (v < 0)
		return shield_done(ret, v);
	if (len < 0 || len > (int)sizeof u)
		return shield_done(ret, -EIO); /* Iago: more than the buffer */
	if (sa->family == AF_UNIX_ && len > 2 && len <= (int)sizeof *sa && sa->path[0]) {
		char hp[SUN_PATH_LEN + 1];
		size_t n = 0;
		while (n < (size_t)len - 2 && sa->path[n])
			n++;
		memcpy(hp, sa->path, n);
		hp[n] = 0;
		uint64_t ino;
		fs_lock();
		if (fs_is_host_node_path(hp, &ino)) {
			const char *app = fs_host_node_name(ino);
			memset(sa->path, 0, sizeof sa->path);
			len = 2;
			if (app) {
				size_t l = strlen(app);
				memcpy(sa->path, app, l);
				len = (int)(2 + l + 1);
			}
		}
		fs_unlock();
	}
	if (!rt_user_ok(ua, (size_t)*ulen))
		return shield_done(ret, -EFAULT);
	memcpy(ua, &u, (size_t)(*ulen < len ? *ulen : len));
	*ulen = len;
	return shield_done(ret, 0);
}
