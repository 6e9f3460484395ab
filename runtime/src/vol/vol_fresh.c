/* Volume shield: freshness (vol_shield.h; docs/volume.md, "Freshness").
 * Above vol_state.c; vol_fds.c, vol_fdcalls.c and vol_shield.c call it.
 *
 * The CAS keeps, per tracked volume, the last state (V, R_V) the enclave
 * recorded. At start a volume older than that, or at the same version with
 * another root, is a rollback (or a fork) and the runtime does not start.
 * After commits the new state is recorded: every-fsync volumes from the
 * committing thread before the application's fsync (or close of a written
 * file) returns; interval volumes from the recorder thread, at most every
 * interval_ms, without blocking the application. The state's root in the
 * protocol (32 bytes) is the format's R_V (16) followed by the volume id
 * (16, random at creation), so that a new volume made in an emptied
 * directory, or another volume's directory, is never taken for a later
 * state of the recorded one.
 *
 * The enclave's processes share the volumes and these states
 * (vs_fresh_state, in the arena); each process talks to the CAS over its
 * own connection (a forked child drops its copy of the parent's). One
 * process runs the recorder thread (vs_shared.recorder); when it exits, or
 * was killed, the next process that commits starts its own. */
#include <linux/errno.h>
#include <linux/futex.h>
#include <linux/time.h>
#include "vol_shield.h"
#include "casmsg.h"
#include "ithread.h"
#include "shared.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

static void state_of(struct vs_mount *m, uint64_t *v, uint8_t root[32])
{
	*v = vol_version(m->v, root);
	vol_id(m->v, root + 16);
}

static void hex8(const uint8_t *b, char out[17])
{
	for (int i = 0; i < 8; i++) {
		out[2 * i] = "0123456789abcdef"[b[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[b[i] & 15];
	}
	out[16] = 0;
}

__attribute__((noreturn)) static void rollback(const struct vs_mount *m, uint64_t v, uint64_t rv,
					       const uint8_t rroot[32])
{
	if (v < rv)
		rt_fatal(RT_EX_ROLLBACK,
			 "protected volume %s is older than its recorded state (version %llu < %llu): rollback. The "
			 "host directory holds an old copy of the volume%s. Put the volume's current state back; to "
			 "start anew on purpose, empty the directory and let the CAS policy allow it (volumes: "
			 "{%s: {allow_reinit: true}})",
			 m->path, (unsigned long long)v, (unsigned long long)rv,
			 v ? "" : " (or it was emptied: an empty volume is version 0)", m->path);
	char h[17];
	hex8(rroot, h);
	if (memcmp(m->fst->root + 16, rroot + 16, 16))
		rt_fatal(RT_EX_ROLLBACK,
			 "protected volume %s is another volume than the one the CAS recorded (version %llu of "
			 "another volume id): the host directory was replaced (a volume started anew, or another "
			 "volume's directory). Put the recorded volume's directory back%s",
			 m->path, (unsigned long long)rv,
			 m->fresh->allow_reinit ? "; to start anew, empty the directory (allow_reinit)" : "");
	rt_fatal(RT_EX_ROLLBACK,
		 "protected volume %s is not its recorded state: version %llu with another root than the recorded "
		 "%s...: two copies of the volume have diverged (a fork: another enclave wrote to a copy). Put "
		 "the copy the CAS recorded back",
		 m->path, (unsigned long long)v, h);
}

void vs_fresh_start(struct vs_mount *m)
{
	const struct vol_freshness *f = vs_g.fresh;
	m->fresh = NULL;
	for (size_t i = 0; f && i < f->nvols; i++)
		if (!rt_strcmp(f->vols[i].path, m->path))
			m->fresh = &f->vols[i];
	if (!m->fresh)
		return;
	uint64_t v, rv;
	uint8_t root[32], rroot[32];
	struct volf_error err;
	state_of(m, &v, root);
	memcpy(m->fst->root, root, 32);
	if (f->ops->get(f->ctx, m->path, &rv, rroot, &err) != VOLF_OK)
		rt_fatal(err.code, "protected volume %s: cannot read its recorded state from the CAS: %s", m->path,
			 err.msg);
	int reinit = 0;
	if (rv && (v < rv || (v == rv && memcmp(root, rroot, 32)) || memcmp(root + 16, rroot + 16, 16))) {
		if (v || !m->fresh->allow_reinit)
			rollback(m, v, rv, rroot);
		reinit = 1;
	}
	m->fst->want = v;
	memcpy(m->fst->root, root, 32);
	m->fst->done = v < rv ? v : rv;
	if (v > rv || reinit) {
		/* first start, a record that did not arrive, or starting anew */
		uint64_t gv;
		uint8_t groot[32];
		int r = f->ops->record(f->ctx, m->path, reinit, v, root, &gv, groot, &err);
		if (r == VOLF_ROLLBACK)
			rollback(m, v, gv, groot);
		if (r != VOLF_OK)
			rt_fatal(err.code, "protected volume %s: cannot record its state with the CAS: %s", m->path,
				 err.msg);
		m->fst->done = v;
	}
	if (reinit)
		rt_eprintf("scone-run: protected volume %s is empty, the CAS had version %llu: started anew (the "
			   "policy allows reinit)\n",
			   m->path, (unsigned long long)rv);
}

static int start_recorder(void);

/* Records m's last commit; the caller holds the shield's lock. */
static long record_now(struct vs_mount *m)
{
	const struct vol_freshness *f = vs_g.fresh;
	uint64_t rv;
	uint8_t rroot[32];
	struct volf_error err;
	uint64_t v = m->fst->want;
	int r = f->ops->record(f->ctx, m->path, 0, v, m->fst->root, &rv, rroot, &err);
	if (r == VOLF_OK) {
		if (v > m->fst->done)
			m->fst->done = v;
		return 0;
	}
	char line[900];
	if (r == VOLF_ROLLBACK)
		rt_snprintf(line, sizeof line,
			    "scone-run: protected volume %s: the CAS refuses version %llu, it has recorded version "
			    "%llu: another enclave writes a diverging copy of this volume (a fork); changes are not "
			    "recorded any more\n",
			    m->path, (unsigned long long)v, (unsigned long long)rv);
	else
		rt_snprintf(line, sizeof line,
			    "scone-run: protected volume %s: the CAS did not record version %llu: %s\n", m->path,
			    (unsigned long long)v, err.msg);
	rt_diag(line, strlen(line));
	if (r == VOLF_ROLLBACK)
		m->fst->failed = 1;
	return -EIO;
}

long vs_fresh_committed(struct vs_mount *m, int sync)
{
	if (!m->fresh || m->fst->failed)
		return 0;
	state_of(m, &m->fst->want, m->fst->root);
	if (m->fst->want <= m->fst->done)
		return 0;
	if (m->fresh->mode == CASMSG_FRESH_INTERVAL) {
		struct vs_shared *sh = vs_g.sh;
		if (sh->recorder != vs_g.pid && (!sh->recorder || !rt_task_alive(sh->recorder)))
			start_recorder();
		__atomic_add_fetch(&sh->fresh_seq, 1, __ATOMIC_SEQ_CST);
		host_syscall(__NR_futex, (long)&sh->fresh_seq, FUTEX_WAKE, 1, 0, 0, 0);
		return 0;
	}
	return sync ? record_now(m) : 0;
}

void vs_fresh_flush(void)
{
	for (int i = 0; i < vs_g.nmounts; i++) {
		struct vs_mount *m = &vs_g.m[i];
		if (m->fresh && !m->fst->failed && m->fst->want > m->fst->done)
			record_now(m);
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts = {0, 0};
	host_syscall(__NR_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0, 0, 0, 0);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The recorder: records the interval volumes' latest states, each at most
 * every interval_ms, and sleeps while nothing is pending. The shield's lock
 * is not held across the CAS's round trip. */
static void recorder(void *arg)
{
	(void)arg;
	for (;;) {
		uint32_t seq = __atomic_load_n(&vs_g.sh->fresh_seq, __ATOMIC_SEQ_CST);
		uint64_t now = now_ms(), wait = ~0ull;
		vs_lock();
		for (int i = 0; i < vs_g.nmounts; i++) {
			struct vs_mount *m = &vs_g.m[i];
			if (!m->fresh || m->fresh->mode != CASMSG_FRESH_INTERVAL || m->fst->failed ||
			    m->fst->want <= m->fst->done)
				continue;
			uint64_t due = m->fst->last_ms + m->fresh->interval_ms;
			if (now < due) {
				if (due - now < wait)
					wait = due - now;
				continue;
			}
			const struct vol_freshness *f = vs_g.fresh;
			uint64_t v = m->fst->want, rv;
			uint8_t root[32], rroot[32];
			memcpy(root, m->fst->root, 32);
			m->fst->last_ms = now;
			vs_unlock();
			struct volf_error err;
			int r = f->ops->record(f->ctx, m->path, 0, v, root, &rv, rroot, &err);
			vs_lock();
			if (r == VOLF_OK && v > m->fst->done)
				m->fst->done = v;
			if (r != VOLF_OK) {
				char line[900];
				rt_snprintf(
					line, sizeof line,
					r == VOLF_ROLLBACK ?
						"scone-run: protected volume %s: the CAS refuses version %llu: another "
						"enclave writes a diverging copy of this volume (a fork)%s\n" :
						"scone-run: protected volume %s: the CAS did not record version %llu: "
						"%s; retrying\n",
					m->path, (unsigned long long)v,
					r == VOLF_ROLLBACK ? "; changes are not recorded any more" : err.msg);
				rt_diag(line, strlen(line));
				m->fst->failed = r == VOLF_ROLLBACK;
			}
			wait = 0; /* look again: the state may have moved on meanwhile */
			break;
		}
		vs_unlock();
		if (!wait)
			continue;
		struct timespec ts = {(long)(wait / 1000), (long)(wait % 1000) * 1000000};
		host_syscall(__NR_futex, (long)&vs_g.sh->fresh_seq, FUTEX_WAIT, seq, wait == ~0ull ? 0 : (long)&ts, 0,
			     0);
	}
}

static int start_recorder(void)
{
	long r = rt_ithread_start(recorder, NULL);
	if (r >= 0)
		vs_g.sh->recorder = vs_g.pid;
	return r < 0 ? (int)r : 0;
}

int vs_fresh_start_recorder(void)
{
	for (int i = 0; i < vs_g.nmounts; i++)
		if (vs_g.m[i].fresh && vs_g.m[i].fresh->mode == CASMSG_FRESH_INTERVAL)
			return start_recorder();
	return 0;
}

void vs_fresh_exit(void)
{
	if (vs_g.sh->recorder == vs_g.pid)
		vs_g.sh->recorder = 0;
}
