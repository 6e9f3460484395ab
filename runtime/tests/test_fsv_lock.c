/* Host unit tests of the POSIX record lock table (runtime/lib/fsv_lock.c)
 * and of its release by the fd table (runtime/lib/fsv_fd.c):
 *   - struct flock ranges (SEEK_SET/CUR/END, l_len 0 and negative, EINVAL,
 *     EOVERFLOW) as Linux's flock_to_posix_lock;
 *   - an owner's locks split, trimmed and merged (unlock of a sub-range,
 *     a read lock inside a write lock, adjacent locks of one type), locks
 *     to the end of the file;
 *   - conflicts: other owners, read vs write, never with oneself, OFD vs
 *     POSIX locks of the same process, a refused request changes nothing;
 *   - a process's POSIX locks go when it closes any descriptor of the file,
 *     a description's OFD locks when its last descriptor closes;
 *   - EDEADLK: circles of waits found, OFD waits ignored, the walk bounded;
 *   - fsv_reclock_fcntl over a fake shield (two "processes" on one list):
 *     F_GETLK filling struct flock, the access mode checked, a dead
 *     owner's locks dropped when in the way, F_SETLKW waiting until the
 *     other releases (from inside the wait), EINTR, EDEADLK, EBADF, the
 *     lock taken and released around every try. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fsv.h"
#include "fsv_lock.h"
#include "testutil.h"

#define RD FSV_RECLOCK_RD
#define WR FSV_RECLOCK_WR
#define UN FSV_RECLOCK_UN
#define EOF_ FSV_RECLOCK_EOF

static struct fsv_reclock req(int ofd, uint64_t owner, int type, int64_t start, int64_t end)
{
	struct fsv_reclock r = {.start = start, .end = end, .owner = owner, .type = (uint8_t)type, .ofd = (uint8_t)ofd};
	r.pid = ofd ? -1 : (int32_t)owner;
	return r;
}

static int set(struct fsv_reclock **l, int ofd, uint64_t owner, int type, int64_t start, int64_t end)
{
	struct fsv_reclock r = req(ofd, owner, type, start, end);
	int released;
	return fsv_reclock_set(l, &r, NULL, &released);
}

/* The owner's locks as "type:start-end" in ascending order, space
 * separated (EOF for the end of the file), for comparison; also checks
 * that they neither overlap nor touch with one type. */
static const char *dump(const struct fsv_reclock *list, int ofd, uint64_t owner)
{
	static char out[512];
	const struct fsv_reclock *v[32];
	size_t n = 0;
	for (const struct fsv_reclock *l = list; l; l = l->next)
		if (l->ofd == ofd && l->owner == owner && n < 32)
			v[n++] = l;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j]->start < v[j - 1]->start; j--) {
			const struct fsv_reclock *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	size_t o = 0;
	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		char e[24];
		if (v[i]->end == EOF_)
			snprintf(e, sizeof e, "EOF");
		else
			snprintf(e, sizeof e, "%lld", (long long)v[i]->end);
		o += (size_t)snprintf(out + o, sizeof out - o, "%s%c:%lld-%s", i ? " " : "",
				      v[i]->type == RD ? 'r' : 'w', (long long)v[i]->start, e);
		if (i) {
			CHECK_MSG(v[i - 1]->end < v[i]->start, "overlap in %s", out);
			CHECK_MSG(v[i - 1]->type != v[i]->type || v[i - 1]->end + 1 < v[i]->start, "unmerged in %s",
				  out);
		}
	}
	return out;
}

#define CHECK_LOCKS(list, ofd, owner, want)                                                  \
	do {                                                                                 \
		const char *_got = dump(list, ofd, owner);                                   \
		CHECK_MSG(strcmp(_got, want) == 0, "locks \"%s\", want \"%s\"", _got, want); \
	} while (0)

static void test_range(void)
{
	int64_t s, e;
	CHECK_EQ(fsv_reclock_range(0, 10, 5, 100, 1000, &s, &e), 0);
	CHECK(s == 10 && e == 14);
	CHECK_EQ(fsv_reclock_range(1, 10, 5, 100, 1000, &s, &e), 0); /* SEEK_CUR */
	CHECK(s == 110 && e == 114);
	CHECK_EQ(fsv_reclock_range(2, -10, 0, 100, 1000, &s, &e), 0); /* SEEK_END, to EOF */
	CHECK(s == 990 && e == EOF_);
	CHECK_EQ(fsv_reclock_range(0, 10, -4, 0, 0, &s, &e), 0); /* the 4 bytes before 10 */
	CHECK(s == 6 && e == 9);
	CHECK_EQ(fsv_reclock_range(0, 4, -4, 0, 0, &s, &e), 0);
	CHECK(s == 0 && e == 3);
	CHECK_EQ(fsv_reclock_range(0, 3, -4, 0, 0, &s, &e), -EINVAL);
	CHECK_EQ(fsv_reclock_range(0, -1, 1, 0, 0, &s, &e), -EINVAL);
	CHECK_EQ(fsv_reclock_range(1, -101, 1, 100, 0, &s, &e), -EINVAL);
	CHECK_EQ(fsv_reclock_range(3, 0, 0, 0, 0, &s, &e), -EINVAL);
	CHECK_EQ(fsv_reclock_range(2, INT64_MAX, 1, 0, 5, &s, &e), -EINVAL); /* wraps */
	CHECK_EQ(fsv_reclock_range(0, INT64_MAX, 2, 0, 0, &s, &e), -EOVERFLOW);
	CHECK_EQ(fsv_reclock_range(0, INT64_MAX, 1, 0, 0, &s, &e), 0);
	CHECK(s == INT64_MAX && e == INT64_MAX);
	struct fsv_reclock l = req(0, 1, WR, 10, 19);
	int64_t ls, ll;
	fsv_reclock_flock(&l, &ls, &ll);
	CHECK(ls == 10 && ll == 10);
	l.end = EOF_;
	fsv_reclock_flock(&l, &ls, &ll);
	CHECK(ls == 10 && ll == 0);
}

static void test_split_merge(void)
{
	struct fsv_reclock *l = NULL;
	int released = 0;
	struct fsv_reclock r;

	/* unlock of a sub-range splits */
	CHECK_EQ(set(&l, 0, 1, WR, 0, 99), 0);
	r = req(0, 1, UN, 40, 59);
	CHECK_EQ(fsv_reclock_set(&l, &r, NULL, &released), 0);
	CHECK(released);
	CHECK_LOCKS(l, 0, 1, "w:0-39 w:60-99");
	/* unlocking nothing releases nothing */
	r = req(0, 1, UN, 40, 59);
	CHECK_EQ(fsv_reclock_set(&l, &r, NULL, &released), 0);
	CHECK(!released);
	/* the hole filled again: one lock */
	CHECK_EQ(set(&l, 0, 1, WR, 40, 59), 0);
	CHECK_LOCKS(l, 0, 1, "w:0-99");
	/* a read lock inside: three pieces, a release (a downgrade) */
	r = req(0, 1, RD, 40, 59);
	CHECK_EQ(fsv_reclock_set(&l, &r, NULL, &released), 0);
	CHECK(released);
	CHECK_LOCKS(l, 0, 1, "w:0-39 r:40-59 w:60-99");
	/* a read lock over the middle and part of both sides */
	CHECK_EQ(set(&l, 0, 1, RD, 30, 69), 0);
	CHECK_LOCKS(l, 0, 1, "w:0-29 r:30-69 w:70-99");
	/* a write lock over it all merges back into one */
	CHECK_EQ(set(&l, 0, 1, WR, 30, 69), 0);
	CHECK_LOCKS(l, 0, 1, "w:0-99");
	/* adjacent locks of one type merge, of another type do not */
	CHECK_EQ(set(&l, 0, 1, WR, 100, 109), 0);
	CHECK_EQ(set(&l, 0, 1, RD, 110, 119), 0);
	CHECK_EQ(set(&l, 0, 1, RD, 121, 130), 0);
	CHECK_LOCKS(l, 0, 1, "w:0-109 r:110-119 r:121-130");
	CHECK_EQ(set(&l, 0, 1, RD, 120, 120), 0);
	CHECK_LOCKS(l, 0, 1, "w:0-109 r:110-130");
	/* an unlock over several locks trims both ends */
	CHECK_EQ(set(&l, 0, 1, UN, 50, 115), 0);
	CHECK_LOCKS(l, 0, 1, "w:0-49 r:116-130");
	/* to the end of the file: a lock, then an unlock of its tail */
	CHECK_EQ(set(&l, 0, 1, RD, 131, EOF_), 0);
	CHECK_LOCKS(l, 0, 1, "w:0-49 r:116-EOF");
	CHECK_EQ(set(&l, 0, 1, UN, 200, EOF_), 0);
	CHECK_LOCKS(l, 0, 1, "w:0-49 r:116-199");
	CHECK_EQ(set(&l, 0, 1, WR, 60, EOF_), 0);
	CHECK_LOCKS(l, 0, 1, "w:0-49 w:60-EOF");
	CHECK_EQ(set(&l, 0, 1, WR, 50, 59), 0);
	CHECK_LOCKS(l, 0, 1, "w:0-EOF");
	/* the whole file unlocked */
	CHECK_EQ(set(&l, 0, 1, UN, 0, EOF_), 0);
	CHECK(l == NULL);
	/* bad requests */
	CHECK_EQ(set(&l, 0, 1, 3, 0, 1), -EINVAL);
	CHECK_EQ(set(&l, 0, 1, RD, 5, 4), -EINVAL);
	CHECK_EQ(set(&l, 0, 1, RD, -1, 4), -EINVAL);
	CHECK(l == NULL);
}

static void test_conflicts(void)
{
	struct fsv_reclock *l = NULL, c;
	int released;
	struct fsv_reclock r;
	CHECK_EQ(set(&l, 0, 100, WR, 10, 19), 0);
	CHECK_EQ(set(&l, 0, 100, RD, 30, 39), 0);
	/* another process: write locks conflict with both, read only with the write lock */
	r = req(0, 200, WR, 15, 15);
	memset(&c, 0, sizeof c);
	CHECK_EQ(fsv_reclock_set(&l, &r, &c, &released), -EAGAIN);
	CHECK(c.owner == 100 && c.pid == 100 && c.type == WR && c.start == 10 && c.end == 19 && !c.ofd && !c.next);
	CHECK_EQ(set(&l, 0, 200, WR, 35, 35), -EAGAIN);
	CHECK_EQ(set(&l, 0, 200, RD, 19, 19), -EAGAIN);
	CHECK_EQ(set(&l, 0, 200, RD, 20, 30), 0);
	CHECK_EQ(set(&l, 0, 200, WR, 0, 9), 0);
	/* a refused request changes nothing, even the requester's own locks */
	CHECK_EQ(set(&l, 0, 200, WR, 0, 30), -EAGAIN);
	CHECK_LOCKS(l, 0, 200, "w:0-9 r:20-30");
	CHECK_LOCKS(l, 0, 100, "w:10-19 r:30-39");
	/* F_GETLK */
	r = req(0, 200, RD, 0, EOF_);
	const struct fsv_reclock *k = fsv_reclock_conflict(l, &r);
	CHECK(k && k->owner == 100 && k->type == WR);
	r = req(0, 100, WR, 0, EOF_);
	k = fsv_reclock_conflict(l, &r);
	CHECK(k && k->owner == 200);
	r = req(0, 300, RD, 20, 29);
	CHECK(fsv_reclock_conflict(l, &r) == NULL);
	/* one's own locks never conflict: a write lock over them converts
	 * (not over byte 30, which 200 reads) */
	CHECK_EQ(set(&l, 0, 100, WR, 30, 39), -EAGAIN);
	CHECK_EQ(set(&l, 0, 100, WR, 31, 39), 0);
	CHECK_LOCKS(l, 0, 100, "w:10-19 r:30-30 w:31-39");
	/* OFD locks: one description's locks are its own; another
	 * description, or the POSIX locks of the process holding it,
	 * conflict (owner numbers are in separate spaces) */
	uint64_t d1 = 0x1000, d2 = 0x2000;
	CHECK_EQ(set(&l, 1, d1, WR, 100, 199), 0);
	CHECK_EQ(set(&l, 1, d1, RD, 150, 159), 0);
	CHECK_LOCKS(l, 1, d1, "w:100-149 r:150-159 w:160-199");
	CHECK_EQ(set(&l, 1, d2, RD, 155, 155), 0);
	CHECK_EQ(set(&l, 1, d2, RD, 160, 160), -EAGAIN);
	CHECK_EQ(set(&l, 0, 100, RD, 150, 150), 0);
	CHECK_EQ(set(&l, 0, 100, RD, 149, 149), -EAGAIN);
	r = req(0, d1, WR, 100, 100); /* a process whose pid is the description's number */
	memset(&c, 0, sizeof c);
	CHECK_EQ(fsv_reclock_set(&l, &r, &c, &released), -EAGAIN);
	CHECK(c.ofd && c.owner == d1 && c.pid == -1);
	r = req(1, 100, WR, 10, 10); /* a description whose number is a pid */
	CHECK_EQ(fsv_reclock_set(&l, &r, NULL, &released), -EAGAIN);
	/* dropping an owner's locks: the others stay */
	CHECK_EQ(fsv_reclock_drop(&l, 1, d1), 3);
	CHECK_EQ(set(&l, 1, d2, WR, 100, 149), 0);
	CHECK_EQ(fsv_reclock_drop(&l, 0, 100), 4);
	CHECK_EQ(fsv_reclock_drop(&l, 0, 100), 0);
	CHECK_LOCKS(l, 0, 200, "w:0-9 r:20-30");
	CHECK_LOCKS(l, 1, d2, "w:100-149 r:155-155");
	CHECK_EQ(set(&l, 0, 300, WR, 10, 19), 0);
	fsv_reclock_free(&l);
	CHECK(l == NULL);
}

/* The fd table drops locks: POSIX ones of the process (self_pid) at the
 * close of any of its descriptors of the file, OFD ones with the
 * description. */
static long pid_now = 41;
static int releases;
static long self_pid(void *ctx)
{
	(void)ctx;
	return pid_now;
}
static void released_hook(void *ctx)
{
	(void)ctx;
	releases++;
}

static void test_close(void)
{
	struct fsv fs;
	memset(&fs, 0, sizeof fs);
	CHECK_EQ(fsv_init(&fs, NULL, NULL, 0), 0);
	fs.self_pid = self_pid;
	fs.reclock_released = released_hook;
	struct fsv_node *n = NULL, *m = NULL;
	CHECK_EQ(fsv_create(&fs, fs.root, "f", 1, FSV_IFREG | 0644, NULL, &n), 0);
	CHECK_EQ(fsv_create(&fs, fs.root, "g", 1, FSV_IFREG | 0644, NULL, &m), 0);
	struct fsv_fdtab t = {0};
	struct fsv_file *a = fsv_file_new(n, 2), *b = fsv_file_new(n, 2), *g = fsv_file_new(m, 2);
	CHECK_EQ(fsv_fd_install(&fs, &t, 3, a), 0);
	CHECK_EQ(fsv_fd_install(&fs, &t, 4, b), 0);
	CHECK_EQ(fsv_fd_install(&fs, &t, 5, a), 0); /* a dup of 3 */
	CHECK_EQ(fsv_fd_install(&fs, &t, 6, g), 0);
	fsv_file_unref(&fs, a);
	fsv_file_unref(&fs, b);
	fsv_file_unref(&fs, g);
	CHECK_EQ(set(&n->reclocks, 0, 41, WR, 0, 9), 0);
	CHECK_EQ(set(&n->reclocks, 0, 42, WR, 10, 19), 0); /* another process's */
	CHECK_EQ(set(&n->reclocks, 1, (uintptr_t)a, WR, 20, 29), 0);
	CHECK_EQ(set(&m->reclocks, 0, 41, WR, 0, 9), 0);
	/* closing fd 4 (another description of the file) drops the
	 * process's POSIX locks on it, not those on other files, nor the
	 * other process's, nor the OFD lock */
	CHECK_EQ(fsv_fd_remove(&fs, &t, 4), 1);
	CHECK_EQ(releases, 1);
	CHECK_LOCKS(n->reclocks, 0, 41, "");
	CHECK_LOCKS(n->reclocks, 0, 42, "w:10-19");
	CHECK_LOCKS(n->reclocks, 1, (uintptr_t)a, "w:20-29");
	CHECK_LOCKS(m->reclocks, 0, 41, "w:0-9");
	/* the OFD lock stays while a descriptor of its description does */
	CHECK_EQ(fsv_fd_remove(&fs, &t, 3), 1);
	CHECK_LOCKS(n->reclocks, 1, (uintptr_t)a, "w:20-29");
	CHECK_EQ(releases, 1);
	/* dup2 over the last one frees the description: its OFD lock goes */
	struct fsv_file *h = fsv_file_new(m, 2);
	CHECK_EQ(fsv_fd_install(&fs, &t, 5, h), 0);
	fsv_file_unref(&fs, h);
	CHECK_EQ(releases, 2);
	CHECK_LOCKS(n->reclocks, 1, (uintptr_t)a, "");
	CHECK_LOCKS(n->reclocks, 0, 42, "w:10-19");
	/* the process's exit (every descriptor) drops its locks on g */
	fsv_fd_destroy(&fs, &t);
	CHECK(m->reclocks == NULL);
	CHECK_EQ(releases, 3);
	/* a node that goes frees its locks (the other process's here) */
	fsv_unref(&fs, m);
	fsv_unref(&fs, n);
	fsv_destroy(&fs);
}

static void test_deadlock(void)
{
	struct fsv_reclock_wait *waits = NULL, w[12];
	memset(w, 0, sizeof w);
	struct fsv_reclock c = req(0, 2, WR, 0, 0);
	/* nobody waits: no circle */
	CHECK(!fsv_reclock_deadlock(waits, 1, &c));
	/* 2 waits for 1: 1 waiting for 2 closes the circle */
	w[0].owner = 2;
	w[0].blocker = 1;
	fsv_reclock_wait_add(&waits, &w[0]);
	CHECK(fsv_reclock_deadlock(waits, 1, &c));
	/* ... but not 3 waiting for 2 */
	CHECK(!fsv_reclock_deadlock(waits, 3, &c));
	/* a longer circle: 1 -> 3 -> 2 -> 1 */
	fsv_reclock_wait_remove(&waits, &w[0]);
	CHECK(waits == NULL);
	w[1].owner = 3;
	w[1].blocker = 2;
	w[2].owner = 2;
	w[2].blocker = 1;
	fsv_reclock_wait_add(&waits, &w[1]);
	fsv_reclock_wait_add(&waits, &w[2]);
	struct fsv_reclock c3 = req(0, 3, WR, 0, 0);
	CHECK(fsv_reclock_deadlock(waits, 1, &c3));
	/* a wait for an OFD lock ends the walk, as does an OFD lock in the way */
	w[2].blocker_ofd = 1;
	CHECK(!fsv_reclock_deadlock(waits, 1, &c3));
	struct fsv_reclock o = req(1, 1, WR, 0, 0);
	CHECK(!fsv_reclock_deadlock(waits, 1, &o));
	fsv_reclock_wait_remove(&waits, &w[1]);
	fsv_reclock_wait_remove(&waits, &w[2]);
	fsv_reclock_wait_remove(&waits, &w[2]); /* not there: nothing */
	CHECK(waits == NULL);
	/* a chain longer than the walk: no EDEADLK (owner 100 waits for 101, ...) */
	for (int i = 0; i < 12; i++) {
		w[i].owner = 100 + (uint64_t)i;
		w[i].blocker = 101 + (uint64_t)i;
		w[i].blocker_ofd = 0;
		fsv_reclock_wait_add(&waits, &w[i]);
	}
	w[11].blocker = 1;
	struct fsv_reclock far = req(0, 100, WR, 0, 0), near = req(0, 109, WR, 0, 0);
	CHECK(!fsv_reclock_deadlock(waits, 1, &far));
	CHECK(fsv_reclock_deadlock(waits, 1, &near));
}

/* ---- fsv_reclock_fcntl over a fake shield ---- */
struct fake {
	struct fsv_reclock *list;
	struct fsv_reclock_wait *waits;
	volatile uint32_t seq;
	int locked, lock_calls, released, waits_done;
	int readable, writable, bad_fd;
	int dead_pid;			/* alive() says this pid is gone */
	int intr;			/* wait() returns -EINTR */
	int unlock_pid;			/* wait(): this pid's locks go, as if it closed the file */
	struct fsv_reclock_wait *other; /* wait(): another process's wait to add */
};
static struct fake *F;

static void f_lock(void *ctx)
{
	struct fake *f = ctx;
	CHECK(!f->locked);
	f->locked = 1;
	f->lock_calls++;
}

static void f_unlock(void *ctx)
{
	struct fake *f = ctx;
	CHECK(f->locked);
	f->locked = 0;
}

static int f_file(void *ctx, int fd, struct fsv_reclock_file *rf)
{
	struct fake *f = ctx;
	CHECK(f->locked);
	if (fd == f->bad_fd)
		return -EBADF;
	*rf = (struct fsv_reclock_file){.list = &f->list,
					.readable = f->readable,
					.writable = f->writable,
					.pos = 100,
					.size = 1000,
					.desc = 0xd0d0,
					.pid = fd}; /* the fd stands for the process */
	return 0;
}

static int f_alive(int pid) { return pid != F->dead_pid; }

static void f_released(void *ctx)
{
	struct fake *f = ctx;
	CHECK(f->locked);
	f->released++;
	f->seq++;
}

static long f_wait(void *ctx, volatile uint32_t *seq, uint32_t val)
{
	struct fake *f = ctx;
	CHECK(!f->locked && seq == &f->seq);
	f->waits_done++;
	CHECK(f->waits != NULL || f->other != NULL); /* a POSIX wait is recorded */
	if (f->intr)
		return -EINTR;
	if (f->other) { /* the holder starts waiting for us */
		fsv_reclock_wait_add(&f->waits, f->other);
		f->other = NULL;
		return 0;
	}
	if (f->unlock_pid && val == *seq) {
		fsv_reclock_drop(&f->list, 0, (uint64_t)f->unlock_pid);
		f->seq++;
	}
	return 0;
}

static long fcntl_(struct fake *f, int pid, long cmd, int type, int whence, int64_t start, int64_t len,
		   struct fsv_flock *out)
{
	struct fsv_reclock_ops ops = {.ctx = f,
				      .lock = f_lock,
				      .unlock = f_unlock,
				      .file = f_file,
				      .alive = f_alive,
				      .released = f_released,
				      .wait = f_wait,
				      .seq = &f->seq,
				      .waits = &f->waits};
	struct fsv_flock fl = {.l_type = (int16_t)type, .l_whence = (int16_t)whence, .l_start = start, .l_len = len};
	long r = fsv_reclock_fcntl(&ops, pid, cmd, &fl);
	CHECK(!f->locked);
	if (out)
		*out = fl;
	return r;
}

static void test_fcntl(void)
{
	struct fake f = {.readable = 1, .writable = 1, .bad_fd = -1};
	F = &f;
	struct fsv_flock fl;
	/* process 7 locks 100..109 (SEEK_CUR at 100); process 8 conflicts */
	CHECK(fcntl_(&f, 7, FSV_F_SETLK, WR, 1, 0, 10, NULL) == 0);
	CHECK(fcntl_(&f, 8, FSV_F_SETLK, RD, 0, 105, 1, NULL) == -EAGAIN);
	CHECK(fcntl_(&f, 8, FSV_F_GETLK, WR, 0, 0, 0, &fl) == 0);
	CHECK(fl.l_type == WR && fl.l_whence == 0 && fl.l_start == 100 && fl.l_len == 10 && fl.l_pid == 7);
	CHECK(fcntl_(&f, 7, FSV_F_GETLK, WR, 0, 0, 0, &fl) == 0 && fl.l_type == UN); /* never oneself */
	CHECK(fcntl_(&f, 8, FSV_F_GETLK, UN, 0, 0, 0, NULL) == -EINVAL);
	CHECK(fcntl_(&f, 8, FSV_F_SETLK, 9, 0, 0, 0, NULL) == -EINVAL);
	CHECK(fcntl_(&f, 8, FSV_F_OFD_SETLK, RD, 0, 0, 1, NULL) == 0);	     /* byte 0: free */
	CHECK(fcntl_(&f, 8, FSV_F_SETLK, RD, 2, -2000, 1, NULL) == -EINVAL); /* SEEK_END 1000 - 2000 */
	/* the access mode */
	f.writable = 0;
	CHECK(fcntl_(&f, 8, FSV_F_SETLK, WR, 0, 500, 1, NULL) == -EBADF);
	f.writable = 1;
	f.readable = 0;
	CHECK(fcntl_(&f, 8, FSV_F_SETLK, RD, 0, 500, 1, NULL) == -EBADF);
	f.readable = 1;
	f.bad_fd = 9;
	CHECK(fcntl_(&f, 9, FSV_F_SETLKW, WR, 0, 0, 1, NULL) == -EBADF);
	/* F_SETLKW: waits until process 7 lets go (its wait recorded meanwhile) */
	f.unlock_pid = 7;
	f.waits_done = 0;
	CHECK(fcntl_(&f, 8, FSV_F_SETLKW, WR, 0, 100, 5, NULL) == 0);
	CHECK(f.waits_done == 1 && f.waits == NULL);
	CHECK(fcntl_(&f, 7, FSV_F_GETLK, WR, 0, 100, 1, &fl) == 0 && fl.l_pid == 8);
	f.unlock_pid = 0;
	/* EINTR: a signal ends the wait, nothing held, no wait left behind */
	f.intr = 1;
	CHECK(fcntl_(&f, 7, FSV_F_SETLKW, WR, 0, 100, 1, NULL) == -EINTR);
	CHECK(f.waits == NULL);
	f.intr = 0;
	/* EDEADLK: while 7 waits for 8, 8 starts waiting for 7 */
	CHECK(fcntl_(&f, 7, FSV_F_SETLK, WR, 0, 200, 1, NULL) == 0);
	struct fsv_reclock_wait w8 = {.owner = 8, .blocker = 7};
	f.other = &w8;
	CHECK(fcntl_(&f, 7, FSV_F_SETLKW, WR, 0, 100, 1, NULL) == -EDEADLK);
	fsv_reclock_wait_remove(&f.waits, &w8);
	CHECK(f.waits == NULL);
	/* a dead owner's locks go when found in the way (GETLK and SETLK) */
	f.dead_pid = 8;
	f.released = 0;
	CHECK(fcntl_(&f, 7, FSV_F_GETLK, WR, 0, 100, 1, &fl) == 0 && fl.l_type == UN && f.released == 1);
	CHECK(fcntl_(&f, 7, FSV_F_SETLK, WR, 0, 100, 1, NULL) == 0);
	f.dead_pid = 0;
	/* OFD locks are not reaped by pid: the description's lock on byte 0 stays */
	CHECK(fcntl_(&f, 7, FSV_F_SETLK, WR, 0, 0, 1, NULL) == -EAGAIN);
	CHECK(fcntl_(&f, 7, FSV_F_OFD_SETLK, WR, 0, 0, 1, NULL) == 0); /* the same description (0xd0d0) */
	CHECK(f.lock_calls > 20);
	fsv_reclock_free(&f.list);
}

int main(void)
{
	test_range();
	test_split_merge();
	test_conflicts();
	test_close();
	test_deadlock();
	test_fcntl();
	return test_summary("test_fsv_lock");
}
