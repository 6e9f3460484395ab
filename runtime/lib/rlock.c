/* Process-shared spinlock that survives the death of its holder (rlock.h). */
#include "rlock.h"

static void held(volatile int *w, const struct rlock_ops *ops, int delta)
{
	if (ops->held)
		ops->held(w, delta);
}

int rlock_trylock(volatile int *w, const struct rlock_ops *ops)
{
	int free = 0;
	if (!__atomic_compare_exchange_n(w, &free, ops->self(), 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return 0;
	held(w, ops, 1);
	return 1;
}

static void take(volatile int *w, const struct rlock_ops *ops);

void rlock_lock(volatile int *w, const struct rlock_ops *ops)
{
	take(w, ops);
	held(w, ops, 1);
}

static void take(volatile int *w, const struct rlock_ops *ops)
{
	int me = ops->self();
	/* a short wait: spin, giving the CPU away between rounds (a holder
	 * on another CPU, or one this CPU preempted, finishes soon) */
	for (unsigned yields = 0; yields < RLOCK_YIELDS; yields++) {
		for (unsigned spins = 0; spins < RLOCK_SPINS; spins++) {
			int cur = 0;
			if (__atomic_compare_exchange_n(w, &cur, me, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				return;
			__builtin_ia32_pause();
		}
		ops->relax();
	}
	/* a long one (the holder does host I/O, or died): sleep */
	unsigned looks = 0;
	int told = 0; /* ops->stuck was called */
	for (;;) {
		int cur = __atomic_load_n(w, __ATOMIC_RELAXED);
		if (cur == 0) {
			/* taken after a wait: others may sleep too, so the unlock
			 * must wake (at worst once for nothing) */
			if (__atomic_compare_exchange_n(w, &cur, me | RLOCK_WAITERS, 0, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED))
				return;
			continue;
		}
		if (!(cur & RLOCK_WAITERS)) {
			if (!__atomic_compare_exchange_n(w, &cur, cur | RLOCK_WAITERS, 0, __ATOMIC_RELAXED,
							 __ATOMIC_RELAXED))
				continue;
			cur |= RLOCK_WAITERS;
		}
		if (!told && ops->stuck) {
			int holder = cur & ~RLOCK_WAITERS;
			if (holder == me || (ops->wait && looks >= RLOCK_STUCK_MS / RLOCK_WAIT_MS)) {
				told = 1;
				ops->stuck(w, holder, me);
			}
		}
		if (looks++ % (ops->wait ? RLOCK_CHECK_EVERY : RLOCK_YIELDS) == 0) {
			/* cur names the holder seen: take the lock over only from
			 * that holder, and only if it is dead. */
			int holder = cur & ~RLOCK_WAITERS;
			if (holder != me && !ops->alive(holder) &&
			    __atomic_compare_exchange_n(w, &cur, me | RLOCK_WAITERS, 0, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED)) {
				if (ops->recovered)
					ops->recovered(holder);
				return;
			}
		}
		if (ops->wait)
			ops->wait(w, cur, RLOCK_WAIT_MS);
		else
			ops->relax();
	}
}

void rlock_unlock(volatile int *w, const struct rlock_ops *ops)
{
	held(w, ops, -1);
	int old = __atomic_exchange_n(w, 0, __ATOMIC_RELEASE);
	if ((old & RLOCK_WAITERS) && ops->wake)
		ops->wake(w);
}

/* Where the state letter of a /proc/ID/stat line is: it follows the last
 * ')' (comm may contain parentheses) and a space; -1 when it does not
 * parse. */
static long state_at(const char *stat, long len)
{
	long i = len - 1;
	while (i >= 0 && stat[i] != ')')
		i--;
	return i < 0 || i + 2 >= len || stat[i + 1] != ' ' ? -1 : i + 2;
}

static int live_state(char s) { return s != 'Z' && s != 'X' && s != 'x'; }

int rlock_stat_alive(const char *stat, long len)
{
	long i = state_at(stat, len);
	return i >= 0 && live_state(stat[i]);
}

int rlock_stat_group_alive(const char *stat, long len)
{
	long i = state_at(stat, len);
	if (i < 0 || live_state(stat[i]))
		return 1;
	/* fields 3 (the state) to 19, then num_threads */
	for (int field = 3; field < 20; field++) {
		while (i < len && stat[i] != ' ')
			i++;
		if (i >= len)
			return 1;
		i++;
	}
	long threads = 0;
	int digits = 0;
	for (; i < len && stat[i] >= '0' && stat[i] <= '9' && digits < 9; i++, digits++)
		threads = threads * 10 + (stat[i] - '0');
	if (!digits || (i < len && stat[i] != ' ' && stat[i] != '\n'))
		return 1;
	return threads > 1;
}
