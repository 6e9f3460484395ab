/* Tests of the lock that survives its holder's death (runtime/lib/rlock.c):
 * the /proc state parser, and real processes holding a shared lock word:
 * killed while holding it (reaped, or a zombie whose parent is the waiter),
 * or alive and slow (never taken over). */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rlock.h"
#include "host_rlock.h"
#include "testutil.h"

static void test_stat_alive(void)
{
	static const struct {
		const char *line;
		int alive;
	} cases[] = {
		{"1234 (sh) S 1 1234 ...", 1},
		{"1234 (sh) R 1", 1},
		{"1234 (sh) D 1", 1},
		{"1234 (sh) T 1", 1},
		{"1234 (sh) Z 1", 0},
		{"1234 (sh) X 1", 0},
		{"1234 (sh) x 1", 0},
		{"1234 (a) (b) Z 1", 0}, /* comm with a parenthesis and a space */
		{"1234 (a) S) Z 1", 0},	 /* the last ')' ends comm */
		{"1234 (weird) R) S 1", 1},
		{"1234 (sh)Z 1", 0}, /* no space after ')' */
		{"1234 (sh)", 0},    /* truncated */
		{"garbage", 0},
		{"", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_MSG(rlock_stat_alive(cases[i].line, (long)strlen(cases[i].line)) == cases[i].alive,
			  "case %zu: %s", i, cases[i].line);
}

/* A process's leader line: a zombie leader is the whole process only when
 * num_threads (field 20) counts it alone; what does not parse says alive
 * (the caller would free what a live process holds). */
static void test_stat_group_alive(void)
{
	static const struct {
		const char *line;
		int alive;
	} cases[] = {
		{"9 (z) S 1 9 1 0 -1 4194304 50 0 0 0 0 0 0 0 20 0 1 0 479", 1},
		{"9 (z) Z 1 9 1 0 -1 4227148 51 0 0 0 0 0 0 0 20 0 2 0 479 0 0", 1}, /* pthread_exit'ed leader */
		{"9 (z) Z 1 9 1 0 -1 4227148 54 0 0 0 0 0 0 0 20 0 1 0 47905 0 0", 0},
		{"9 (z) X 1 9 1 0 -1 4227148 54 0 0 0 0 0 0 0 20 0 1 0 47905\n", 0},
		{"9 (a b) c) Z 1 9 1 0 -1 4227148 54 0 0 0 0 0 0 0 20 0 1 0 1", 0},
		{"9 (z) Z 1 9 1 0 -1 4227148 54 0 0 0 0 0 0 0 20 0 12 0 1", 1},
		{"9 (z) Z 1 9 1 0 -1 4227148 54 0 0 0 0 0 0 0 20 0 1", 0}, /* ends at the field */
		{"9 (z) Z 1 9 1 0 -1 4227148 54 0 0 0 0 0 0 0 20 0", 1},   /* truncated before it */
		{"9 (z) Z 1 9 1 0 -1 4227148 54 0 0 0 0 0 0 0 20 0 x 0", 1},
		{"9 (z) Z 1 9 1 0 -1 4227148 54 0 0 0 0 0 0 0 20 0 1x 0", 1},
		{"9 (z) Z", 1},
		{"garbage", 1},
		{"", 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_MSG(rlock_stat_group_alive(cases[i].line, (long)strlen(cases[i].line)) == cases[i].alive,
			  "case %zu: %s", i, cases[i].line);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A child that takes the lock, then keeps it hold_us microseconds and
 * exits 0, or (hold_us < 0) until it is killed. Returns once the child
 * holds it. */
static pid_t child_holding(volatile int *w, long hold_us)
{
	int pipefd[2];
	CHECK(pipe(pipefd) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		rlock_lock(w, &host_rlock_ops);
		char c = 'x';
		if (write(pipefd[1], &c, 1) != 1)
			_exit(2);
		if (hold_us < 0)
			for (;;)
				pause();
		usleep((useconds_t)hold_us);
		rlock_unlock(w, &host_rlock_ops);
		_exit(0);
	}
	char c;
	CHECK(read(pipefd[0], &c, 1) == 1);
	close(pipefd[0]);
	close(pipefd[1]);
	return pid;
}

/* A child takes the lock and dies holding it (SIGKILL); the parent must get
 * it, with a takeover reported. reap: the parent reaps the child first (the
 * tid is gone), else the child is a zombie while the parent waits. */
static void test_dead_holder(volatile int *w, int reap)
{
	pid_t pid = child_holding(w, -1);
	CHECK(rlock_holder(w) == pid); /* the word names the holder */
	kill(pid, SIGKILL);
	if (reap)
		CHECK(waitpid(pid, NULL, 0) == pid);
	else
		usleep(20000); /* dead, not reaped: a zombie */
	int before = host_rlock_recoveries;
	double t0 = now();
	rlock_lock(w, &host_rlock_ops);
	CHECK_MSG(now() - t0 < 10, "takeover took %.1f s", now() - t0);
	CHECK(host_rlock_recoveries == before + 1);
	CHECK(rlock_holder(w) == (int)getpid());
	rlock_unlock(w, &host_rlock_ops);
	if (!reap)
		CHECK(waitpid(pid, NULL, 0) == pid);
}

/* A live holder that keeps the lock for a while is waited for, never taken
 * over. */
static void test_live_holder(volatile int *w)
{
	pid_t pid = child_holding(w, 300000);
	int before = host_rlock_recoveries;
	double t0 = now();
	rlock_lock(w, &host_rlock_ops);
	CHECK_MSG(now() - t0 > 0.2, "got a held lock after %.3f s", now() - t0);
	CHECK(host_rlock_recoveries == before);
	rlock_unlock(w, &host_rlock_ops);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The stuck report: a thread that takes the lock twice is told at once
 * (the second rlock_lock would wait forever; the report's callback ends
 * the child here), naming itself as the holder. */
static void self_stuck(volatile int *w, int holder, int me)
{
	(void)w;
	_exit(holder == me && me == (int)getpid() ? 42 : 43);
}

static void test_stuck_self(volatile int *w)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct rlock_ops ops = host_rlock_ops;
		ops.stuck = self_stuck;
		rlock_lock(w, &ops);
		rlock_lock(w, &ops);
		_exit(44); /* the second lock returned */
	}
	int st = 0;
	double t0 = now();
	pid_t r;
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && now() - t0 < 20)
		usleep(10000);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	CHECK_MSG(r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 42,
		  "a lock taken twice was not reported as stuck (child status %#x, %s)", st,
		  r == 0 ? "still waiting after 20 s" : "ended");
	/* the child died holding it: the next lock takes it over */
	rlock_lock(w, &host_rlock_ops);
	rlock_unlock(w, &host_rlock_ops);
}

/* Mutual exclusion under contention: processes increment a shared counter
 * non-atomically under the lock. */
static void test_exclusion(volatile int *w, volatile long *counter)
{
	enum { PROCS = 3, ROUNDS = 20000 };
	*counter = 0;
	for (int i = 0; i < PROCS; i++)
		if (fork() == 0) {
			for (int r = 0; r < ROUNDS; r++) {
				rlock_lock(w, &host_rlock_ops);
				long v = *counter;
				__asm__ volatile("" ::: "memory");
				*counter = v + 1;
				rlock_unlock(w, &host_rlock_ops);
			}
			_exit(0);
		}
	for (int i = 0; i < PROCS; i++)
		wait(NULL);
	CHECK_MSG(*counter == PROCS * ROUNDS, "counter %ld, want %d", *counter, PROCS * ROUNDS);
	CHECK(rlock_trylock(w, &host_rlock_ops) == 1);
	CHECK(rlock_trylock(w, &host_rlock_ops) == 0);
	rlock_unlock(w, &host_rlock_ops);
}

/* The held count (ops->held): +1 per lock taken on every path (at once,
 * after a sleep, taken over from a dead holder, trylock), -1 per unlock,
 * nothing for a trylock that fails. */
static int held_count;
static volatile int *held_word;
static void count_held(volatile int *w, int delta)
{
	held_count += delta;
	held_word = w;
}

static void test_held(volatile int *w)
{
	struct rlock_ops ops = host_rlock_ops;
	ops.held = count_held;
	rlock_lock(w, &ops);
	CHECK(held_count == 1);
	CHECK(rlock_trylock(w, &ops) == 0 && held_count == 1);
	rlock_unlock(w, &ops);
	CHECK(held_count == 0);
	CHECK(rlock_trylock(w, &ops) == 1 && held_count == 1);
	rlock_unlock(w, &ops);
	/* after a sleep: a child holds it for a while */
	pid_t pid = child_holding(w, 100000);
	rlock_lock(w, &ops);
	CHECK(held_count == 1);
	rlock_unlock(w, &ops);
	CHECK(waitpid(pid, NULL, 0) == pid);
	/* taken over: the child dies holding it */
	pid = child_holding(w, -1);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, NULL, 0) == pid);
	rlock_lock(w, &ops);
	CHECK(held_count == 1);
	rlock_unlock(w, &ops);
	CHECK_MSG(held_count == 0, "held count %d after the last unlock", held_count);
	CHECK(held_word == w);
}

int main(void)
{
	test_stat_alive();
	test_stat_group_alive();
	void *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(shm != MAP_FAILED);
	volatile int *w = shm;
	test_dead_holder(w, 1);
	test_dead_holder(w, 0);
	test_live_holder(w);
	test_stuck_self(w);
	test_exclusion(w, (volatile long *)((char *)shm + 64));
	test_held(w);
	return test_summary("test_rlock");
}
