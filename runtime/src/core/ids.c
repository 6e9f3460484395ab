/* Process identity in sim mode: the user and group ids come from the
 * measured config, not from the host. get*id answer the virtual ids and
 * set*id change them with the kernel's permission rules (an unprivileged
 * virtual user may only switch among its real/effective/saved ids); the host
 * process keeps its own credentials. In dev mode these calls go to the host. */
#include "ids.h"
#include "rtutil.h"
#include "sys.h"

struct ids {
	unsigned r, e, s;
};
static struct ids vuid, vgid;
static int active;
static volatile int ids_lock;

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

static long put3(const struct ids *id, long a, long b, long c)
{
	*(unsigned *)a = id->r;
	*(unsigned *)b = id->e;
	*(unsigned *)c = id->s;
	return 0;
}

int rt_ids_dispatch(long nr, const long *a, long *ret)
{
	if (!active)
		return 0;
	while (__atomic_exchange_n(&ids_lock, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
	int done = 1;
	unsigned v0 = (unsigned)a[0], v1 = (unsigned)a[1], v2 = (unsigned)a[2];
	switch (nr) {
	case __NR_getuid:
		*ret = vuid.r;
		break;
	case __NR_geteuid:
		*ret = vuid.e;
		break;
	case __NR_getgid:
		*ret = vgid.r;
		break;
	case __NR_getegid:
		*ret = vgid.e;
		break;
	case __NR_getresuid:
		*ret = put3(&vuid, a[0], a[1], a[2]);
		break;
	case __NR_getresgid:
		*ret = put3(&vgid, a[0], a[1], a[2]);
		break;
	case __NR_setresuid:
		*ret = setres(&vuid, v0, v1, v2);
		break;
	case __NR_setresgid:
		*ret = setres(&vgid, v0, v1, v2);
		break;
	case __NR_setreuid:
		*ret = setres(&vuid, v0, v1, ~0U);
		break;
	case __NR_setregid:
		*ret = setres(&vgid, v0, v1, ~0U);
		break;
	case __NR_setuid:
		/* privileged: all three; otherwise only the effective id */
		*ret = vuid.e == 0 ? setres(&vuid, v0, v0, v0) : setres(&vuid, ~0U, v0, ~0U);
		break;
	case __NR_setgid:
		*ret = vuid.e == 0 ? setres(&vgid, v0, v0, v0) : setres(&vgid, ~0U, v0, ~0U);
		break;
	case __NR_setgroups:
		*ret = vuid.e == 0 ? 0 : -RT_EPERM;
		break;
	case __NR_getgroups:
		*ret = 0;
		break;
	case __NR_setfsuid:
		*ret = vuid.e;
		break;
	case __NR_setfsgid:
		*ret = vgid.e;
		break;
	default:
		done = 0;
	}
	__atomic_store_n(&ids_lock, 0, __ATOMIC_RELEASE);
	return done;
}
