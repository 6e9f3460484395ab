/* Network shield: the dispatch table and `net_shield_ops` (net.h,
 * docs/net-shield.md).
 *
 * Order 15: after the FS shield (10) and before the console shield (20).
 * After the FS shield, because the FS shield serves path calls and its own
 * descriptors first and sends what it writes for the application (sendfile
 * from a protected file) back through shield_call, so those writes reach
 * this shield like the application's. Before the console shield, because
 * dup2/dup3/F_DUPFD and close involving a wrapped descriptor must be served
 * here, where the other shields are told through the core (rt_fd_dup,
 * rt_fd_gone); the console shield serves dups of its own descriptors
 * without telling anyone, so it must not see a wrapped one first. */
#include "net.h"
#include "econfig.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

typedef int (*net_fn)(const struct sys_call *c, long *ret);

/* tee/vmsplice move pipe pages: nothing to do with a TLS stream. */
static int sys_pipe_only(const struct sys_call *sc, long *ret)
{
	int fd1 = (int)sc->a[0], fd2 = sc->nr == __NR_tee ? (int)sc->a[1] : -1;
	if (!net_fd_known(fd1) && !net_fd_known(fd2))
		return SHIELD_PASS;
	return shield_done(ret, -EINVAL);
}

static const net_fn net_calls[] = {
	[__NR_read] = net_sys_io,
	[__NR_write] = net_sys_io,
	[__NR_readv] = net_sys_io,
	[__NR_writev] = net_sys_io,
	[__NR_pread64] = net_sys_io,
	[__NR_pwrite64] = net_sys_io,
	[__NR_preadv] = net_sys_io,
	[__NR_pwritev] = net_sys_io,
	[__NR_preadv2] = net_sys_io,
	[__NR_pwritev2] = net_sys_io,
	[__NR_recvfrom] = net_sys_io,
	[__NR_sendto] = net_sys_io,
	[__NR_recvmsg] = net_sys_io,
	[__NR_sendmsg] = net_sys_io,
	[__NR_recvmmsg] = net_sys_io,
	[__NR_sendmmsg] = net_sys_io,
	[__NR_sendfile] = net_sys_sendfile,
	[__NR_splice] = net_sys_splice,
	[__NR_tee] = sys_pipe_only,
	[__NR_vmsplice] = sys_pipe_only,
	[__NR_bind] = net_sys_bind,
	[__NR_accept] = net_sys_accept,
	[__NR_accept4] = net_sys_accept,
	[__NR_connect] = net_sys_connect,
	[__NR_close] = net_sys_close,
	[__NR_close_range] = net_sys_close_range,
	[__NR_dup] = net_sys_dup,
	[__NR_dup2] = net_sys_dup,
	[__NR_dup3] = net_sys_dup,
	[__NR_fcntl] = net_sys_fcntl,
	[__NR_ioctl] = net_sys_ioctl,
	[__NR_shutdown] = net_sys_shutdown,
	[__NR_getsockopt] = net_sys_getsockopt,
	[__NR_setsockopt] = net_sys_setsockopt,
	[__NR_poll] = net_sys_poll,
	[__NR_ppoll] = net_sys_poll,
	[__NR_select] = net_sys_select,
	[__NR_pselect6] = net_sys_select,
	[__NR_epoll_ctl] = net_sys_epoll_ctl,
	[__NR_epoll_wait] = net_sys_epoll_wait,
	[__NR_epoll_pwait] = net_sys_epoll_wait,
	[__NR_epoll_pwait2] = net_sys_epoll_wait,
};

static int net_call(const struct sys_call *c, long *ret)
{
	if (!net_g.enabled || c->nr < 0 || (unsigned long)c->nr >= sizeof net_calls / sizeof net_calls[0] ||
	    !net_calls[c->nr])
		return SHIELD_PASS;
	return net_calls[c->nr](c, ret);
}

static int net_init(const struct shield_env *env)
{
	memset(&net_g, 0, sizeof net_g);
	const struct econfig *cfg = env->cfg;
	if (!cfg || (!cfg->ntls_ports && !cfg->ntls_connect))
		return 0;
	int r = net_load_config(env);
	if (r < 0)
		return r;
	r = net_pool_init();
	if (r < 0) {
		rt_eprintf("scone-run: network shield: cannot map the connection slots: error %d\n", -r);
		return r;
	}
	net_g.enabled = 1;
	return 0;
}

static void net_gone(int fd)
{
	if (net_g.enabled)
		net_fd_gone(fd);
}

static void net_dup(int oldfd, int newfd)
{
	if (net_g.enabled)
		net_fd_dup(oldfd, newfd);
}

static int net_owns_fd(int fd) { return net_g.enabled && net_fd_known(fd); }

static int net_active(void) { return net_g.enabled; }

const struct shield_ops net_shield_ops = {
	.name = "net",
	.order = 15,
	.init = net_init,
	.call = net_call,
	.active = net_active,
	.fork_prepare = net_fork_prepare,
	.fork_parent = net_fork_parent,
	.fork_child = net_fork_child,
	.fd_gone = net_gone,
	.fd_dup = net_dup,
	.owns_fd = net_owns_fd,
};
RT_SHIELD(net_shield_ops);
