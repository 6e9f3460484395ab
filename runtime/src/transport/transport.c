/* Transport selection and host_syscall (transport.h). */
#include "transport.h"
#include "async.h"
#include "iago.h"
#include "nonblock.h"
#include "fdtab.h"
#include "rtstring.h"
#include "sys.h"

static const struct transport *const all[] = {&sync_transport, &async_transport};
static const struct transport *cur = &sync_transport;

int transport_select(const char *name, uint64_t exit_cycles)
{
	if (!name || !*name)
		name = "sync";
	for (unsigned i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (rt_strcmp(name, all[i]->name))
			continue;
		int r = all[i]->init ? all[i]->init(exit_cycles) : 0;
		if (r < 0)
			return r;
		cur = all[i];
		return 0;
	}
	return -RT_ENOENT;
}

void transport_fork_child(void)
{
	if (cur->fork_child)
		cur->fork_child();
}

void transport_launched(void)
{
	if (cur->launched)
		cur->launched();
}

void transport_print_stats(void)
{
	if (cur->print_stats)
		cur->print_stats();
}

static void close_spares(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		host_syscall(__NR_close, fds[i], 0, 0, 0, 0, 0);
}

void host_drop_spares(void)
{
	int fds[RT_FD_SPARES];
	close_spares(fds, rt_fdtab_spares_take_all(fds));
}

/* Spare placeholders go before a call that would otherwise get another
 * descriptor number than the kernel gives (fdtab.h). */
static void spares_before(long nr, const long *a)
{
	int fds[RT_FD_SPARES];
	close_spares(fds, rt_fdtab_spares_before(nr, a, fds));
}

long host_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	const long a[6] = {a0, a1, a2, a3, a4, a5};
	spares_before(nr, a);
	rt_host_before(nr, a);
	long r = cur->syscall(nr, a0, a1, a2, a3, a4, a5);
	rt_host_result(nr, a, r); /* descriptors and mappings (iago.h) */
	rt_nb_track(nr, a, r);
	return r;
}

long host_syscall_cp(long nr, long a0, long a1, long a2, long a3, long a4, long a5, const volatile unsigned *pending)
{
	const long a[6] = {a0, a1, a2, a3, a4, a5};
	spares_before(nr, a);
	rt_host_before(nr, a);
	long r = cur->syscall_cp(nr, a0, a1, a2, a3, a4, a5, pending);
	rt_host_result(nr, a, r);
	rt_nb_track(nr, a, r);
	return r;
}

int host_can_post(void) { return cur->claim != 0; }

int host_post_spare(void) { return cur->spare && cur->spare(); }

int host_post(long nr, const long *a)
{
	if (!cur->claim)
		return -1;
	int k = cur->claim();
	if (k < 0)
		return -1;
	spares_before(nr, a);
	rt_host_before(nr, a);
	cur->submit(k, nr, a);
	return k;
}

int host_post_done(int ticket, long nr, const long *a, long *r)
{
	if (!cur->done(ticket, r))
		return 0;
	rt_host_result(nr, a, *r);
	rt_nb_track(nr, a, *r);
	return 1;
}

void host_post_cancel(int ticket) { cur->cancel(ticket); }

const volatile unsigned *host_bell(void) { return cur->bell; }

void host_bell_wait(unsigned seen, const void *timeout, const volatile unsigned *pending)
{
	cur->bell_wait(seen, timeout, pending);
}

void host_ring(void) { cur->ring(); }

int host_worker_signal(const void *block, void *uc) { return async_worker_signal(block, uc); }
