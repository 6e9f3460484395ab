/* In-enclave futexes for the mn scheduler (sched_int.h): wait lists keyed
 * by the futex word's address; a ULT that waits leaves its enclave thread
 * to another ULT, a wake makes it runnable. No host call, so no enclave
 * exit, unless a wake finds every enclave thread asleep. Words in MAP_SHARED
 * memory, which another process may share, are the host's (sched_calls.c
 * passes those on), as are the priority-inheritance operations. */
#include "rtsched.h"
#include "sched_int.h"
#include "shield.h"
#include "sys.h"

#define NBUCKETS 256
static struct ult_list buckets[NBUCKETS];

static struct ult_list *bucket(unsigned long addr) { return &buckets[(addr >> 2) % NBUCKETS]; }

int sched_futex_wake_locked(unsigned long addr, int n, uint32_t bitset)
{
	int woken = 0;
	struct ult_list *b = bucket(addr);
	for (struct rt_ult *u = b->head, *nx; u && woken < n; u = nx) {
		nx = u->next;
		if (u->wait_addr != addr || !(u->wait_bitset & bitset))
			continue;
		sched_unwait(u);
		sched_make_runnable(u, 0);
		woken++;
	}
	return woken;
}

/* Moves up to n waiters from addr to addr2; the number moved. */
static int requeue_locked(unsigned long addr, unsigned long addr2, int n)
{
	int moved = 0;
	struct ult_list *b = bucket(addr), *b2 = bucket(addr2);
	for (struct rt_ult *u = b->head, *nx; u && moved < n; u = nx) {
		nx = u->next;
		if (u->wait_addr != addr)
			continue;
		ult_list_remove(u);
		u->wait_addr = addr2;
		ult_list_push(b2, u);
		moved++;
	}
	return moved;
}

/* FUTEX_WAKE_OP's operation on *uaddr2; its old value. */
static int wake_op(unsigned *uaddr2, uint32_t enc, int *cmp_ok)
{
	unsigned op = (enc >> 28) & 7, cmp = (enc >> 24) & 15;
	int oparg = (int)(enc << 8) >> 20, cmparg = (int)(enc << 20) >> 20;
	if ((enc >> 28) & 8)
		oparg = (oparg < 0 || oparg > 31) ? 0 : 1 << oparg;
	unsigned old = __atomic_load_n(uaddr2, __ATOMIC_RELAXED), nw;
	do {
		switch (op) {
		case 0:
			nw = (unsigned)oparg;
			break;
		case 1:
			nw = old + (unsigned)oparg;
			break;
		case 2:
			nw = old | (unsigned)oparg;
			break;
		case 3:
			nw = old & ~(unsigned)oparg;
			break;
		case 4:
			nw = old ^ (unsigned)oparg;
			break;
		default:
			return -RT_ENOSYS;
		}
	} while (!__atomic_compare_exchange_n(uaddr2, &old, nw, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
	int o = (int)old;
	switch (cmp) {
	case 0:
		*cmp_ok = o == cmparg;
		break;
	case 1:
		*cmp_ok = o != cmparg;
		break;
	case 2:
		*cmp_ok = o < cmparg;
		break;
	case 3:
		*cmp_ok = o <= cmparg;
		break;
	case 4:
		*cmp_ok = o > cmparg;
		break;
	case 5:
		*cmp_ok = o >= cmparg;
		break;
	default:
		return -RT_ENOSYS;
	}
	return 0;
}

static int result(long v, long *r)
{
	*r = v;
	return RT_SCHED_RESULT;
}

int sched_futex(struct rt_thread *t, struct kucontext *uc, const long *a, long *r)
{
	unsigned long addr = (unsigned long)a[0], addr2 = (unsigned long)a[4];
	int op = (int)a[1], cmd = op & 127, realtime = (op & 256) != 0;
	uint32_t val = (uint32_t)a[2], val3 = (uint32_t)a[5];
	if (addr & 3)
		return result(-RT_EINVAL, r);
	if (!rt_user_ok((const void *)addr, 4))
		return result(-RT_EFAULT, r);
	switch (cmd) {
	case 0: /* FUTEX_WAIT */
	case 9: /* FUTEX_WAIT_BITSET */ {
		uint32_t bits = cmd == 0 ? ~0U : val3;
		if (!bits)
			return result(-RT_EINVAL, r);
		uint64_t deadline;
		long e = sched_deadline((const void *)a[3], cmd == 9, cmd == 9 && realtime, &deadline);
		if (e)
			return result(e, r);
		sched_lock();
		if (__atomic_load_n((const unsigned *)addr, __ATOMIC_SEQ_CST) != val) {
			sched_unlock();
			return result(-11 /* EAGAIN */, r);
		}
		struct rt_ult *u = cur_ult(t);
		u->wait_addr = addr;
		u->wait_bitset = bits;
		u->sleep_rem = 0;
		sched_stats.futex_waits++;
		return sched_park(t, uc, __NR_futex, 1, bucket(addr), deadline, r);
	}
	case 1: /* FUTEX_WAKE */
	case 10: /* FUTEX_WAKE_BITSET */ {
		uint32_t bits = cmd == 1 ? ~0U : val3;
		if (!bits)
			return result(-RT_EINVAL, r);
		sched_lock();
		sched_stats.futex_wakes++;
		int n = sched_futex_wake_locked(addr, (int)val < 0 ? 0x7fffffff : (int)val, bits);
		sched_unlock();
		return result(n, r);
	}
	case 3: /* FUTEX_REQUEUE */
	case 4: /* FUTEX_CMP_REQUEUE */ {
		int nwake = (int)val, nreq = (int)a[3];
		if (nwake < 0 || nreq < 0)
			return result(-RT_EINVAL, r);
		if ((addr2 & 3) || !rt_user_ok((const void *)addr2, 4))
			return result(addr2 & 3 ? -RT_EINVAL : -RT_EFAULT, r);
		sched_lock();
		if (cmd == 4 && __atomic_load_n((const unsigned *)addr, __ATOMIC_SEQ_CST) != val3) {
			sched_unlock();
			return result(-11 /* EAGAIN */, r);
		}
		sched_stats.futex_wakes++;
		int n = sched_futex_wake_locked(addr, nwake, ~0U);
		n += requeue_locked(addr, addr2, nreq);
		sched_unlock();
		return result(n, r);
	}
	case 5: /* FUTEX_WAKE_OP */ {
		int n1 = (int)val, n2 = (int)a[3], ok = 0;
		if ((addr2 & 3) || !rt_user_ok((const void *)addr2, 4))
			return result(addr2 & 3 ? -RT_EINVAL : -RT_EFAULT, r);
		sched_lock();
		long e = wake_op((unsigned *)addr2, val3, &ok);
		if (e) {
			sched_unlock();
			return result(e, r);
		}
		sched_stats.futex_wakes++;
		int n = sched_futex_wake_locked(addr, n1 < 0 ? 0 : n1, ~0U);
		if (ok)
			n += sched_futex_wake_locked(addr2, n2 < 0 ? 0 : n2, ~0U);
		sched_unlock();
		return result(n, r);
	}
	}
	/* the priority-inheritance operations: their futex words hold kernel
	 * thread ids, which a ULT does not have */
	return result(-RT_ENOSYS, r);
}
