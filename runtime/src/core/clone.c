/* clone/clone3 argument decoding (clone.h). */
#include "clone.h"
#include "rtstring.h"
#include "sys.h"

long rt_clone_decode(long nr, const long *a, struct rt_clone *c)
{
	memset(c, 0, sizeof *c);
	c->a = a;
	if (nr == __NR_clone3) {
		size_t n = (size_t)a[1];
		if (n < CLONE_ARGS_SIZE_VER0 || !a[0])
			return -RT_EINVAL;
		c->clone3 = 1;
		c->casize = n < sizeof c->ca ? n : sizeof c->ca;
		memcpy(&c->ca, (const void *)a[0], c->casize);
		if (c->ca.exit_signal > 64)
			return -RT_EINVAL;
		c->flags = c->ca.flags;
		c->exit_signal = (int)c->ca.exit_signal;
		c->stack = c->ca.stack ? c->ca.stack + c->ca.stack_size : 0;
		c->tls = c->ca.tls;
		c->ptid = (long)c->ca.parent_tid;
		c->ctid = (long)c->ca.child_tid;
		c->pidfd = (long)c->ca.pidfd;
		return 0;
	}
	c->flags = (unsigned long)a[0] & ~0xffUL;
	c->exit_signal = (int)(a[0] & 0xff);
	c->stack = (unsigned long)a[1];
	c->ptid = a[2];
	c->ctid = a[3];
	c->tls = (unsigned long)a[4];
	return 0;
}
