/* Process identity in sim mode: the user and group ids come from the
 * measured config, not from the host. get*id answer the virtual ids and
 * set*id change them with the kernel's permission rules (an unprivileged
 * virtual user may only switch among its real/effective/saved ids); the host
 * process keeps its own credentials. In dev mode these calls go to the host. */
#include "ids.h"
#include "locks.h"
#include "shield.h"
#include "rt_alloc.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

struct ids {
	unsigned r, e, s;
};
static struct ids vuid, vgid;
static int active;

void rt_ids_init(unsigned uid, unsigned gid)
{
	vuid.r = vuid.e = vuid.s = uid;
	vgid.r = vgid.e = vgid.s = gid;
	active = 1;
}

static int allowed(const struct ids *cur, unsigned v)
{
	return vuid.e == 0 || v == cur->r || v == cur->e || v == cur->s;
}

/* setres[ug]id semantics; -1 (as unsigned) keeps a value. */
static long setres(struct ids *id, unsigned r, unsigned e, unsigned s)
{
	if ((r != ~0U && !allowed(id, r)) || (e != ~0U && !allowed(id, e)) || (s != ~0U && !allowed(id, s)))
		return -RT_EPERM;
	if (r != ~0U)
		id->r = r;
	if (e != ~0U)
		id->e = e;
	if (s != ~0U)
		id->s = s;
	return 0;
}

/* setre[ug]id: as setres, and the saved id becomes the new effective one
 * when the real id is set or the effective one is set to a value other
 * than the previous real id (setreuid(2)). */
static long setre(struct ids *id, unsigned r, unsigned e)
{
	unsigned s = ~0U;
	if (r != ~0U || (e != ~0U && e != id->r))
		s = e != ~0U ? e : id->e;
	return setres(id, r, e, s);
}

static long put3(const struct ids *id, long a, long b, long c)
{
	if (!rt_user_ok((void *)a, 4) || !rt_user_ok((void *)b, 4) || !rt_user_ok((void *)c, 4))
		return -RT_EFAULT;
	*(unsigned *)a = id->r;
	*(unsigned *)b = id->e;
	*(unsigned *)c = id->s;
	return 0;
}

/* Supplementary groups (setgroups/getgroups): none at start, like the
 * config's user with no supplementary groups. */
#define NGROUPS_MAX 65536
static unsigned *groups;
static long ngroups;

static long set_groups(long n, long list)
{
	if (vuid.e != 0)
		return -RT_EPERM;
	if (n < 0 || n > NGROUPS_MAX)
		return -RT_EINVAL;
	if (n && !rt_user_ok((const void *)list, (size_t)n * sizeof(unsigned)))
		return -RT_EFAULT;
	unsigned *g = 0;
	if (n) {
		g = rt_malloc((size_t)n * sizeof(unsigned));
		if (!g)
			return -RT_ENOMEM;
		memcpy(g, (const void *)list, (size_t)n * sizeof(unsigned));
	}
	rt_free(groups);
	groups = g;
	ngroups = n;
	return 0;
}

static long get_groups(long size, long list)
{
	if (size < 0)
		return -RT_EINVAL;
	if (size == 0)
		return ngroups;
	if (size < ngroups)
		return -RT_EINVAL;
	if (ngroups) {
		if (!rt_user_ok((void *)list, (size_t)ngroups * sizeof(unsigned)))
			return -RT_EFAULT;
		memcpy((void *)list, groups, (size_t)ngroups * sizeof(unsigned));
	}
	return ngroups;
}

/* The calls this file serves, under the lock. */
static long serve(long nr, const long *a)
{
	unsigned v0 = (unsigned)a[0], v1 = (unsigned)a[1], v2 = (unsigned)a[2];
	switch (nr) {
	case __NR_getuid:
		return vuid.r;
	case __NR_geteuid:
		return vuid.e;
	case __NR_getgid:
		return vgid.r;
	case __NR_getegid:
		return vgid.e;
	case __NR_getresuid:
		return put3(&vuid, a[0], a[1], a[2]);
	case __NR_getresgid:
		return put3(&vgid, a[0], a[1], a[2]);
	case __NR_setresuid:
		return setres(&vuid, v0, v1, v2);
	case __NR_setresgid:
		return setres(&vgid, v0, v1, v2);
	case __NR_setreuid:
		return setre(&vuid, v0, v1);
	case __NR_setregid:
		return setre(&vgid, v0, v1);
	case __NR_setuid:
		/* privileged: all three; otherwise only the effective id */
		return vuid.e == 0 ? setres(&vuid, v0, v0, v0) : setres(&vuid, ~0U, v0, ~0U);
	case __NR_setgid:
		return vuid.e == 0 ? setres(&vgid, v0, v0, v0) : setres(&vgid, ~0U, v0, ~0U);
	case __NR_setgroups:
		return set_groups(a[0], a[1]);
	case __NR_getgroups:
		return get_groups(a[0], a[1]);
	case __NR_setfsuid:
		return vuid.e;
	default: /* __NR_setfsgid */
		return vgid.e;
	}
}

int rt_ids_snapshot(unsigned uid[4], unsigned gid[4], unsigned *out, size_t cap, size_t *nout)
{
	if (!active)
		return -1;
	rt_lock(&rt_ids_lock);
	uid[0] = vuid.r, uid[1] = vuid.e, uid[2] = vuid.s, uid[3] = vuid.e;
	gid[0] = vgid.r, gid[1] = vgid.e, gid[2] = vgid.s, gid[3] = vgid.e;
	size_t n = (size_t)ngroups < cap ? (size_t)ngroups : cap;
	if (n)
		memcpy(out, groups, n * sizeof(unsigned));
	*nout = n;
	rt_unlock(&rt_ids_lock);
	return 0;
}

int rt_ids_dispatch(long nr, const long *a, long *ret)
{
	if (!active)
		return 0;
	switch (nr) {
	case __NR_getuid:
	case __NR_geteuid:
	case __NR_getgid:
	case __NR_getegid:
	case __NR_getresuid:
	case __NR_getresgid:
	case __NR_setresuid:
	case __NR_setresgid:
	case __NR_setreuid:
	case __NR_setregid:
	case __NR_setuid:
	case __NR_setgid:
	case __NR_setgroups:
	case __NR_getgroups:
	case __NR_setfsuid:
	case __NR_setfsgid:
		break;
	default:
		return 0; /* not an id call: no lock on the way of every other call */
	}
	rt_lock(&rt_ids_lock);
	*ret = serve(nr, a);
	rt_unlock(&rt_ids_lock);
	return 1;
}
