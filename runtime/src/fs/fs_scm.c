/* FS shield: descriptors of the enclave's file system passed between the
 * enclave's processes with SCM_RIGHTS (fs.h).
 *
 * A descriptor's host placeholder (fs_fd.c) means nothing to a receiver
 * that has no mapping for it, and the placeholders are duplicates of one
 * template: they cannot tell the files apart. So sendmsg passes, in place
 * of each virtual descriptor, an empty sealed memfd made for it (in a copy
 * of the control data; the application's stays as it wrote it) and
 * records, in the shared arena, that memfd's host device and inode numbers
 * with the open file description behind it (a reference taken), before
 * the call; the memfd is closed after it (the message in flight holds
 * it). recvmsg looks up every descriptor it receives and maps the ones it
 * finds to their description, as if they had been opened here (shared
 * offset and flags, as the kernel shares them). An entry goes when it is
 * received; one never received keeps its description alive until the
 * enclave ends. While no entry exists, what recvmsg receives is left
 * untouched. sendmmsg and recvmmsg do the same for each message
 * (fs_sock.c). Every descriptor of a message is looked at, up to the
 * kernel's SCM_MAX_FD. */
#include "fs.h"
#include "fsv_arena.h"

#define SOL_SOCKET_ 1
#define SCM_RIGHTS_ 1
#define SCM_MAX 253 /* the kernel's SCM_MAX_FD: descriptors per message */

struct kcmsghdr {
	size_t len;
	int level, type;
};

struct passed {
	struct passed *next;
	uint64_t dev, ino;
	struct fsv_file *f;
};
static struct passed *private_passed; /* without an arena */

static struct passed **head(void)
{
	struct fsv_arena_shared *sh = fsv_arena_shared();
	return sh ? (struct passed **)&sh->passed : &private_passed;
}

/* The SCM_RIGHTS descriptor slots of a control buffer, at most cap of
 * them. */
static size_t rights(void *ctl, size_t len, int **out, size_t cap)
{
	size_t off = 0, n = 0;
	if (!ctl || !rt_user_ok(ctl, len))
		return 0;
	while (off + sizeof(struct kcmsghdr) <= len && n < cap) {
		struct kcmsghdr *h = (struct kcmsghdr *)((char *)ctl + off);
		if (h->len < sizeof *h || h->len > len - off)
			break;
		if (h->level == SOL_SOCKET_ && h->type == SCM_RIGHTS_) {
			int *fds = (int *)(h + 1);
			for (size_t i = 0; i < (h->len - sizeof *h) / sizeof(int) && n < cap; i++)
				out[n++] = &fds[i];
		}
		off += (h->len + 7) & ~7UL;
	}
	return n;
}

/* The host's device and inode numbers of descriptor fd. */
static int host_id(int fd, uint64_t *dev, uint64_t *ino)
{
	uint8_t st[144]; /* x86-64 struct stat: st_dev at 0, st_ino at 8 */
	if (host_syscall(__NR_fstat, fd, (long)st, 0, 0, 0, 0) < 0)
		return -1;
	memcpy(dev, st, 8);
	memcpy(ino, st + 8, 8);
	return 0;
}

/* Replaces each virtual descriptor among the slots of a control buffer
 * by a memfd of its own (its number in memfds[i], else -1) and records it;
 * the number recorded (their entries in added, for unrecord). A
 * descriptor that cannot be passed so (no memory, no memfd) goes as it
 * is: the receiver gets an empty file, as before. Lock not held. */
static size_t record(int **slot, size_t n, int *memfds, struct passed **added)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		memfds[i] = -1;
		fs_lock();
		int virt = fsv_fd_get(fs_g.fdt, *slot[i]) != NULL;
		fs_unlock();
		if (!virt)
			continue;
		uint64_t dev, ino;
		long mfd = fs_fd_sealed_memfd(1);
		if (mfd < 0)
			continue;
		if (host_id((int)mfd, &dev, &ino) < 0) {
			host_syscall(__NR_close, mfd, 0, 0, 0, 0, 0);
			continue;
		}
		fs_lock();
		struct fsv_file *f = fsv_fd_get(fs_g.fdt, *slot[i]);
		struct passed *p = f ? fsv_sh_malloc(sizeof *p) : NULL;
		if (p) {
			fsv_file_ref(f);
			p->f = f;
			p->dev = dev;
			p->ino = ino;
			p->next = *head();
			*head() = p;
			added[k++] = p;
		}
		fs_unlock();
		if (!p) {
			host_syscall(__NR_close, mfd, 0, 0, 0, 0, 0);
			continue;
		}
		memfds[i] = (int)mfd;
		*slot[i] = (int)mfd;
	}
	return k;
}

/* Drops what record added for a message that was not sent. */
static void unrecord(struct passed **added, size_t k)
{
	fs_lock();
	for (size_t i = 0; i < k; i++) {
		for (struct passed **pp = head(); *pp; pp = &(*pp)->next) {
			if (*pp == added[i]) {
				*pp = added[i]->next;
				fsv_file_unref(FS(), added[i]->f);
				fsv_sh_free(added[i]);
				break;
			}
		}
	}
	fs_unlock();
}

/* Scratch for one message's descriptors, kept off the stack (SCM_MAX of
 * each, ~6 KiB). */
struct scm_scratch {
	int *slot[SCM_MAX];
	struct passed *added[SCM_MAX];
	int memfds[SCM_MAX], mapped[SCM_MAX];
};

int fs_scm_virtual(const struct kmsghdr *m)
{
	if (!m->control || !m->controllen || m->controllen > (1u << 20) || !rt_user_ok(m->control, m->controllen))
		return 0;
	int *slot[SCM_MAX];
	size_t n = rights(m->control, m->controllen, slot, SCM_MAX), i;
	fs_lock();
	for (i = 0; i < n && !fsv_fd_get(fs_g.fdt, *slot[i]); i++)
		;
	fs_unlock();
	return i < n;
}

long fs_scm_send(long fd, const struct kmsghdr *m, long flags, int *handled)
{
	*handled = 0;
	if (!fs_scm_virtual(m))
		return 0; /* no virtual descriptor: the host's */
	void *ctl = rt_malloc(m->controllen);
	struct scm_scratch *s = rt_malloc(sizeof *s);
	long r = 0;
	if (!ctl || !s)
		goto out;
	memcpy(ctl, m->control, m->controllen);
	size_t n = rights(ctl, m->controllen, s->slot, SCM_MAX);
	size_t k = record(s->slot, n, s->memfds, s->added);
	if (k) {
		*handled = 1;
		struct kmsghdr h = *m;
		h.control = ctl;
		r = shield_host_path_call(&fs_shield_ops, __NR_sendmsg, fd, (long)&h, flags, 0, 0, 0);
		if (r < 0)
			unrecord(s->added, k);
	}
	for (size_t i = 0; i < n; i++)
		if (s->memfds[i] >= 0)
			host_syscall(__NR_close, s->memfds[i], 0, 0, 0, 0, 0);
out:
	rt_free(s);
	rt_free(ctl);
	return r;
}

void fs_scm_received(const struct kmsghdr *m)
{
	if (!m->control || !__atomic_load_n(head(), __ATOMIC_ACQUIRE))
		return;
	struct scm_scratch *s = rt_malloc(sizeof *s);
	if (!s)
		return;
	size_t n = rights(m->control, m->controllen, s->slot, SCM_MAX), nm = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t dev, ino;
		int fd = *s->slot[i];
		if (host_id(fd, &dev, &ino) < 0)
			continue;
		fs_lock();
		for (struct passed **pp = head(); *pp; pp = &(*pp)->next) {
			struct passed *p = *pp;
			if (p->dev != dev || p->ino != ino)
				continue;
			*pp = p->next;
			if (fsv_fd_install(FS(), fs_g.fdt, fd, p->f) == 0)
				s->mapped[nm++] = fd;
			fsv_file_unref(FS(), p->f);
			fsv_sh_free(p);
			break;
		}
		fs_unlock();
	}
	for (size_t i = 0; i < nm; i++)
		rt_fd_gone(&fs_shield_ops, s->mapped[i]);
	rt_free(s);
}

int fs_sys_recvmsg(const struct sys_call *c, long *ret)
{
	const struct kmsghdr *m = (const struct kmsghdr *)c->a[1];
	if (!m || !rt_user_ok(m, sizeof *m) || !m->control || rt_shields_own_fd_except(&fs_shield_ops, (int)c->a[0]))
		return SHIELD_PASS; /* a socket another shield serves (TLS) goes on to it */
	/* The list is looked at after the call: a receiver blocked in
	 * recvmsg before the sender recorded its descriptors must map them
	 * all the same (the record precedes the send, so it precedes what
	 * this call receives). */
	long r = shield_app_host_call(__NR_recvmsg, c->a[0], c->a[1], c->a[2], 0, 0, 0);
	if (r >= 0)
		fs_scm_received(m);
	return shield_done(ret, r);
}

/* recvmmsg: each received message's descriptors as recvmsg's. */
int fs_sys_recvmmsg(const struct sys_call *c, long *ret)
{
	struct kmmsghdr *v = (struct kmmsghdr *)c->a[1];
	unsigned long n = (unsigned long)(unsigned)c->a[2], i;
	if (n > 1024)
		n = 1024; /* UIO_MAXIOV, as the kernel clamps it */
	if (!v || !n || !rt_user_ok(v, n * sizeof *v) || rt_shields_own_fd_except(&fs_shield_ops, (int)c->a[0]))
		return SHIELD_PASS;
	for (i = 0; i < n && !v[i].hdr.control; i++)
		;
	if (i == n)
		return SHIELD_PASS; /* no control buffer: no descriptors */
	long r = shield_app_host_call(__NR_recvmmsg, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], 0);
	for (long k = 0; k < r && (unsigned long)k < n; k++)
		fs_scm_received(&v[k].hdr);
	return shield_done(ret, r);
}
