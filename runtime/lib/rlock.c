/* Process-shared spinlock that survives the death of its holder (rlock.h). */
#include "rlock.h"

int rlock_trylock(volatile int *w, const struct rlock_ops *ops)
{
	int free = 0;
	return __atomic_compare_exchange_n(w, &free, ops->self(), 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

void rlock_lock(volatile int *w, const struct rlock_ops *ops)
{
	int me = ops->self();
	unsigned spins = 0, yields = 0;
	for (;;) {
		int cur = 0;
		if (__atomic_compare_exchange_n(w, &cur, me, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		if (++spins < RLOCK_SPINS) {
			__builtin_ia32_pause();
			continue;
		}
		spins = 0;
		if (++yields >= RLOCK_YIELDS) {
			yields = 0;
			/* cur is the holder seen by the failed exchange: take the
			 * lock over only from that holder, and only if it is dead. */
			if (cur != me && !ops->alive(cur) &&
			    __atomic_compare_exchange_n(w, &cur, me, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
				if (ops->recovered)
					ops->recovered(cur);
				return;
			}
		}
		ops->relax();
	}
}

void rlock_unlock(volatile int *w) { __atomic_store_n(w, 0, __ATOMIC_RELEASE); }

int rlock_stat_alive(const char *stat, long len)
{
	/* The state follows the last ')' (comm may contain parentheses). */
	long i = len - 1;
	while (i >= 0 && stat[i] != ')')
		i--;
	if (i < 0 || i + 2 >= len || stat[i + 1] != ' ')
		return 0;
	char s = stat[i + 2];
	return s != 'Z' && s != 'X' && s != 'x';
}
