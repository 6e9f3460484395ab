/* FS shield core: POSIX record locks on one file, the range table
 * (fsv_lock.h). */
#include <linux/errno.h>

#include "fsv_lock.h"
#include "fsv_arena.h"

int fsv_reclock_range(int whence, int64_t l_start, int64_t l_len, int64_t pos, int64_t size, int64_t *start,
		      int64_t *end)
{
	int64_t s;
	switch (whence) {
	case 0: /* SEEK_SET */
		s = 0;
		break;
	case 1: /* SEEK_CUR */
		s = pos;
		break;
	case 2: /* SEEK_END */
		s = size;
		break;
	default:
		return -EINVAL;
	}
	/* Linux adds with wrap-around: past the largest offset is negative */
	if (s < 0 || (l_start > 0 && s > INT64_MAX - l_start))
		return -EINVAL;
	s += l_start;
	if (s < 0)
		return -EINVAL;
	if (l_len > 0) {
		if (l_len - 1 > INT64_MAX - s)
			return -EOVERFLOW;
		*end = s + (l_len - 1);
	} else if (l_len < 0) {
		if (s + l_len < 0)
			return -EINVAL;
		*end = s - 1;
		s += l_len;
	} else {
		*end = FSV_RECLOCK_EOF;
	}
	*start = s;
	return 0;
}

void fsv_reclock_flock(const struct fsv_reclock *l, int64_t *l_start, int64_t *l_len)
{
	*l_start = l->start;
	*l_len = l->end == FSV_RECLOCK_EOF ? 0 : l->end - l->start + 1;
}

static int same_owner(const struct fsv_reclock *a, const struct fsv_reclock *b)
{
	return a->ofd == b->ofd && a->owner == b->owner;
}

static int overlaps(const struct fsv_reclock *l, int64_t start, int64_t end)
{
	return l->start <= end && start <= l->end;
}

/* Overlaps start..end or touches it (the byte before or after). */
static int touches(const struct fsv_reclock *l, int64_t start, int64_t end)
{
	return (end == FSV_RECLOCK_EOF || l->start <= end + 1) && (l->end == FSV_RECLOCK_EOF || start <= l->end + 1);
}

const struct fsv_reclock *fsv_reclock_conflict(const struct fsv_reclock *list, const struct fsv_reclock *req)
{
	for (const struct fsv_reclock *l = list; l; l = l->next)
		if (!same_owner(l, req) && overlaps(l, req->start, req->end) &&
		    (l->type == FSV_RECLOCK_WR || req->type == FSV_RECLOCK_WR))
			return l;
	return NULL;
}

/* Whether applying req splits one of its owner's locks in two (a lock
 * reaching past both ends of the range, of another type or an unlock):
 * the one case that needs a record besides req's own. */
static int splits(const struct fsv_reclock *list, const struct fsv_reclock *req)
{
	for (const struct fsv_reclock *l = list; l; l = l->next)
		if (same_owner(l, req) && l->start < req->start && l->end > req->end &&
		    (req->type == FSV_RECLOCK_UN || l->type != req->type))
			return 1;
	return 0;
}

int fsv_reclock_set(struct fsv_reclock **list, const struct fsv_reclock *req, struct fsv_reclock *conflict,
		    int *released)
{
	*released = 0;
	if (req->type > FSV_RECLOCK_UN || req->start < 0 || req->end < req->start)
		return -EINVAL;
	int lock = req->type != FSV_RECLOCK_UN;
	if (lock) {
		const struct fsv_reclock *c = fsv_reclock_conflict(*list, req);
		if (c) {
			if (conflict) {
				*conflict = *c;
				conflict->next = NULL;
			}
			return -EAGAIN;
		}
	}
	/* Every record needed is taken before anything changes: a failure
	 * leaves the table as it was. */
	struct fsv_reclock *add = NULL, *split = NULL;
	if (lock && !(add = fsv_sh_malloc(sizeof *add)))
		return -ENOMEM;
	if (splits(*list, req) && !(split = fsv_sh_malloc(sizeof *split))) {
		fsv_sh_free(add);
		return -ENOMEM;
	}
	int64_t s = req->start, e = req->end;
	for (struct fsv_reclock **p = list; *p;) {
		struct fsv_reclock *l = *p;
		if (!same_owner(l, req)) {
			p = &l->next;
			continue;
		}
		if (lock && l->type == req->type && touches(l, s, e)) {
			/* the same type: merged into the new lock */
			s = l->start < s ? l->start : s;
			e = l->end > e ? l->end : e;
			*p = l->next;
			fsv_sh_free(l);
			continue;
		}
		if (!overlaps(l, req->start, req->end)) {
			p = &l->next;
			continue;
		}
		/* another type or an unlock: what lies outside the range stays */
		if (!lock || l->type == FSV_RECLOCK_WR)
			*released = 1;
		int left = l->start < req->start;
		int right = l->end > req->end;
		if (left && right) {
			*split = *l;
			split->start = req->end + 1;
			l->end = req->start - 1;
			l->next = split;
			p = &split->next;
			split = NULL;
			continue;
		}
		if (left) {
			l->end = req->start - 1;
		} else if (right) {
			l->start = req->end + 1;
		} else {
			*p = l->next;
			fsv_sh_free(l);
			continue;
		}
		p = &l->next;
	}
	fsv_sh_free(split); /* NULL: splits said a split record is needed only when used */
	if (add) {
		*add = *req;
		add->start = s;
		add->end = e;
		add->next = *list;
		*list = add;
	}
	return 0;
}

size_t fsv_reclock_drop(struct fsv_reclock **list, int ofd, uint64_t owner)
{
	size_t n = 0;
	for (struct fsv_reclock **p = list; *p;) {
		struct fsv_reclock *l = *p;
		if (l->ofd == ofd && l->owner == owner) {
			*p = l->next;
			fsv_sh_free(l);
			n++;
		} else {
			p = &l->next;
		}
	}
	return n;
}

void fsv_reclock_free(struct fsv_reclock **list)
{
	while (*list) {
		struct fsv_reclock *l = *list;
		*list = l->next;
		fsv_sh_free(l);
	}
}

int fsv_reclock_deadlock(const struct fsv_reclock_wait *waits, uint64_t owner, const struct fsv_reclock *c)
{
	int ofd = c->ofd;
	uint64_t cur = c->owner;
	for (int i = 0; i < FSV_RECLOCK_DEADLK_MAX; i++) {
		if (ofd)
			return 0; /* an open file description waits for nothing */
		if (cur == owner)
			return 1;
		const struct fsv_reclock_wait *w = waits;
		while (w && w->owner != cur)
			w = w->next;
		if (!w)
			return 0;
		ofd = w->blocker_ofd;
		cur = w->blocker;
	}
	return 0;
}

void fsv_reclock_wait_add(struct fsv_reclock_wait **waits, struct fsv_reclock_wait *w)
{
	w->next = *waits;
	*waits = w;
}

void fsv_reclock_wait_remove(struct fsv_reclock_wait **waits, struct fsv_reclock_wait *w)
{
	for (struct fsv_reclock_wait **p = waits; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			w->next = NULL;
			return;
		}
	}
}

/* ---- fcntl's commands ---- */

/* c, a lock in the way: when its owner is a process that no longer runs,
 * drops that process's locks and says so. */
static int reap(const struct fsv_reclock_ops *ops, struct fsv_reclock **list, const struct fsv_reclock *c)
{
	if (c->ofd || c->owner > 0x7fffffff || ops->alive((int)c->owner))
		return 0;
	fsv_reclock_drop(list, 0, c->owner);
	ops->released(ops->ctx);
	return 1;
}

/* One try: 0 (F_GETLK: *fl filled as Linux fills it), -EAGAIN with the
 * lock in the way in *c and the request's owner in *self, or an error.
 * Lock held. */
static long attempt(const struct fsv_reclock_ops *ops, const struct fsv_reclock_file *f, long cmd, struct fsv_flock *fl,
		    struct fsv_reclock *c, uint64_t *self)
{
	int ofd = cmd == FSV_F_OFD_GETLK || cmd == FSV_F_OFD_SETLK || cmd == FSV_F_OFD_SETLKW;
	int get = cmd == FSV_F_GETLK || cmd == FSV_F_OFD_GETLK;
	if (get && fl->l_type != FSV_RECLOCK_RD && fl->l_type != FSV_RECLOCK_WR)
		return -EINVAL;
	struct fsv_reclock req = {0};
	int r = fsv_reclock_range(fl->l_whence, fl->l_start, fl->l_len, f->pos, f->size, &req.start, &req.end);
	if (r < 0)
		return r;
	if (fl->l_type != FSV_RECLOCK_RD && fl->l_type != FSV_RECLOCK_WR && fl->l_type != FSV_RECLOCK_UN)
		return -EINVAL;
	/* as Linux: a read lock needs a descriptor open for reading, a
	 * write lock one open for writing (not for F_GETLK) */
	if (!get && ((fl->l_type == FSV_RECLOCK_RD && !f->readable) || (fl->l_type == FSV_RECLOCK_WR && !f->writable)))
		return -EBADF;
	if (ofd && fl->l_pid != 0)
		return -EINVAL;
	req.type = (uint8_t)fl->l_type;
	req.ofd = (uint8_t)ofd;
	req.owner = ofd ? f->desc : (uint64_t)f->pid;
	req.pid = ofd ? -1 : f->pid;
	*self = req.owner;
	if (get) {
		const struct fsv_reclock *k;
		while ((k = fsv_reclock_conflict(*f->list, &req)) && reap(ops, f->list, k))
			;
		fl->l_type = FSV_RECLOCK_UN; /* the only field Linux sets when none is in the way */
		if (k) {
			int64_t start, len;
			fsv_reclock_flock(k, &start, &len);
			fl->l_type = (int16_t)k->type;
			fl->l_whence = 0; /* SEEK_SET */
			fl->l_start = start;
			fl->l_len = len;
			fl->l_pid = k->ofd ? -1 : k->pid;
		}
		return 0;
	}
	for (;;) {
		int released = 0;
		r = fsv_reclock_set(f->list, &req, c, &released);
		if (r == -EAGAIN && reap(ops, f->list, c))
			continue;
		if (released)
			ops->released(ops->ctx);
		return r;
	}
}

long fsv_reclock_fcntl(const struct fsv_reclock_ops *ops, int fd, long cmd, struct fsv_flock *fl)
{
	int wait = cmd == FSV_F_SETLKW || cmd == FSV_F_OFD_SETLKW;
	struct fsv_reclock_wait *w = NULL; /* this thread's record while it waits */
	long r;
	ops->lock(ops->ctx);
	for (;;) {
		if (w)
			fsv_reclock_wait_remove(ops->waits, w);
		struct fsv_reclock_file f;
		r = ops->file(ops->ctx, fd, &f);
		if (r < 0)
			break;
		struct fsv_reclock in_way = {0};
		uint64_t self = 0;
		r = attempt(ops, &f, cmd, fl, &in_way, &self);
		if (r != -EAGAIN || !wait)
			break;
		if (cmd == FSV_F_SETLKW) {
			if (fsv_reclock_deadlock(*ops->waits, self, &in_way)) {
				r = -EDEADLK;
				break;
			}
			if (!w)
				w = fsv_sh_malloc(sizeof *w); /* none: waits unrecorded */
			if (w) {
				w->owner = self;
				w->blocker = in_way.owner;
				w->blocker_ofd = in_way.ofd;
				fsv_reclock_wait_add(ops->waits, w);
			}
		}
		/* wait for a release after this try (the lock is held since),
		 * then try again */
		uint32_t seq = fsv_wait_mark(ops->seq);
		ops->unlock(ops->ctx);
		long k = ops->wait(ops->ctx, ops->seq, seq);
		ops->lock(ops->ctx);
		if (k == -EINTR) {
			r = -EINTR;
			break;
		}
	}
	if (w) {
		fsv_reclock_wait_remove(ops->waits, w);
		fsv_sh_free(w);
	}
	ops->unlock(ops->ctx);
	return r;
}
