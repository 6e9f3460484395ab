/* FS shield: open, close, dup, fcntl, ioctl of virtual files (fs_calls.h). */
#include "fs.h"

/* ---- open / close ---- */

/* The fd that a host path re-opens, or -1. The resolver (fsv_magic.c)
 * turns every name of the process's own descriptor N (/dev/stdout,
 * /dev/fd/N, /proc/{self,thread-self,<pid>}/fd/N) that is a host descriptor
 * into "/proc/self/fd/N". */
static int std_stream_of(const char *p)
{
	static const char pre[] = "/proc/self/fd/";
	size_t l = sizeof pre - 1;
	if (rt_strncmp(p, pre, l))
		return -1;
	long v = 0;
	const char *q = p + l;
	if (!*q)
		return -1;
	for (; *q; q++) {
		if (*q < '0' || *q > '9' || v > 1 << 20)
			return -1;
		v = v * 10 + (*q - '0');
	}
	return (int)v;
}

static long do_open(int dirfd, const char *path, long flags, uint32_t mode, long *hostfd, int *pass)
{
	struct fsv_res r;
	*pass = 0;
	*hostfd = -1;
	if (flags & 020000000 /* __O_TMPFILE */)
		return -EOPNOTSUPP;
	int creat = (flags & O_CREAT) != 0;
	int follow = !(flags & O_NOFOLLOW) && !(creat && (flags & O_EXCL));
	int k = fs_lookup_at(dirfd, path, (follow ? FSV_FOLLOW : 0) | (creat ? FSV_PARENT : 0), &r);
	if (k == 2) {
		*pass = 1;
		return 0;
	}
	if (k == 1) {
		fs_unlock();
		int src = std_stream_of(r.host_path);
		long fd;
		if (src >= 0 && rt_shields_own_fd_except(&fs_shield_ops, src)) {
			/* /dev/stdout and friends of a descriptor another shield
			 * holds (a shielded console): a duplicate, so that shield
			 * keeps serving it (the console's records stay one
			 * sequential stream; a re-opened file would start writing
			 * at offset 0 and bypass the shield) */
			fd = host_syscall(__NR_fcntl, src, (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0, 0, 0, 0);
			if (fd >= 0)
				rt_fd_dup(&fs_shield_ops, src, (int)fd);
		} else {
			fd = shield_host_path_call(&fs_shield_ops, __NR_openat, AT_FDCWD, (long)r.host_path, flags,
						   mode, 0, 0);
			/* a host fd, unless another shield served the open (a
			 * protected volume's descriptor) */
			if (fd >= 0 && !rt_shields_own_fd_except(&fs_shield_ops, (int)fd))
				rt_fd_gone(&fs_shield_ops, (int)fd);
		}
		fs_lock();
		if (fd >= 0)
			fs_fd_forget((int)fd);
		*hostfd = fd;
		return fd;
	}
	if (k < 0)
		return k;
	struct fsv_node *n = r.node, *created = NULL;
	long err = 0;
	int fifo = 0; /* an ephemeral FIFO node: its host FIFO is opened */
	int acc = (int)(flags & O_ACCMODE);
	if (!n) {
		if (r.trailing_slash)
			err = -EISDIR;
		else
			err = fsv_create(FS(), r.dir, r.name, r.namelen, FSV_IFREG | (mode & 07777 & ~fs_g.umask), NULL,
					 &created);
		n = created;
	} else if (flags & O_PATH) {
		if (S_ISLNK_(n->mode) && !(flags & O_NOFOLLOW))
			err = -ELOOP;
		else if ((flags & O_DIRECTORY) && !S_ISDIR_(n->mode))
			err = -ENOTDIR;
	} else {
		if (creat && (flags & O_EXCL))
			err = -EEXIST;
		else if (S_ISLNK_(n->mode))
			err = -ELOOP;
		else if ((flags & O_DIRECTORY) && !S_ISDIR_(n->mode))
			err = -ENOTDIR;
		else if (S_ISDIR_(n->mode) && (acc != O_RDONLY || creat || (flags & O_TRUNC)))
			err = -EISDIR;
		else if (n->special == FSV_SPECIAL_PROC && acc != O_RDONLY)
			err = -EACCES; /* /proc/self/environ, cmdline: read-only */
		else if ((n->mode & FSV_IFMT) == FSV_IFIFO && !n->img) {
			err = fsv_access(FS(), n, acc == O_RDONLY ? 4 : acc == O_WRONLY ? 2 : 6);
			fifo = !err;
		} else if (!S_ISDIR_(n->mode) && !S_ISREG_(n->mode) && !n->special)
			err = -ENXIO; /* device or FIFO node inside the image */
		else {
			int want = acc == O_RDONLY ? 4 : acc == O_WRONLY ? 2 : 6;
			if (flags & O_TRUNC)
				want |= 2;
			err = fsv_access(FS(), n, want);
			if (!err && (flags & O_TRUNC) && acc != O_RDONLY && S_ISREG_(n->mode))
				err = fsv_truncate(FS(), n, 0);
		}
	}
	long fd = err;
	if (fifo) {
		uint64_t ino = n->ino;
		fsv_res_put(FS(), &r);
		fs_unlock(); /* the open blocks until the other end comes, as on Linux */
		fd = fs_fifo_open(ino, flags);
		if (fd >= 0)
			rt_fd_gone(&fs_shield_ops, (int)fd);
		fs_lock();
		if (fd >= 0)
			fs_fd_forget((int)fd);
		*hostfd = fd;
		return fd;
	}
	if (!err) {
		uint32_t keep = (uint32_t)(flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC));
		if (flags & O_PATH)
			keep &= O_PATH | O_DIRECTORY | O_NOFOLLOW;
		struct fsv_file *f = fsv_file_new(n, keep | O_LARGEFILE);
		if (!f) {
			fd = -ENOMEM;
		} else {
			/* the placeholder's host call without the shared lock: the
			 * description holds the node, the result holds the path.
			 * The other shields learn of the number here too, unlocked:
			 * the volume shield takes its own lock for it, and a fork
			 * takes the two in the other order (shield.h, lock order) */
			fs_unlock();
			long ph = fs_fd_placeholder((flags & O_CLOEXEC) != 0);
			if (ph >= 0)
				rt_fd_gone(&fs_shield_ops, (int)ph);
			fs_lock();
			fd = fs_fd_new(f, ph, (flags & O_CLOEXEC) != 0);
			fsv_file_unref(FS(), f);
		}
	}
	if (created)
		fsv_unref(FS(), created);
	fsv_res_put(FS(), &r);
	return fd;
}

int fs_sys_open(const struct sys_call *c, long *ret, int dirfd, const char *path, long flags, uint32_t mode)
{
	long hostfd;
	int pass;
	fs_lock();
	long v = do_open(dirfd, path, flags, mode, &hostfd, &pass);
	fs_unlock();
	(void)c;
	if (pass)
		return SHIELD_PASS;
	return shield_done(ret, v);
}

int fs_sys_openat2(const struct sys_call *c, long *ret)
{
	struct {
		uint64_t flags, mode, resolve;
	} how;
	if (!rt_user_ok((void *)c->a[2], 24))
		return shield_done(ret, -EFAULT);
	if ((size_t)c->a[3] < sizeof how)
		return shield_done(ret, -EINVAL);
	memcpy(&how, (void *)c->a[2], sizeof how);
	if (how.flags >> 32 || how.mode & ~07777ull)
		return shield_done(ret, -EINVAL);
	if (!how.resolve)
		return fs_sys_open(c, ret, (int)c->a[0], (const char *)c->a[1], (long)how.flags, (uint32_t)how.mode);
	fs_lock();
	struct fsv_res r;
	int k = fs_lookup_at((int)c->a[0], (const char *)c->a[1], 0, &r);
	if (k == 0)
		fsv_res_put(FS(), &r);
	fs_unlock();
	if (k == 1 || k == 2)
		return SHIELD_PASS; /* on the host: the kernel applies the RESOLVE_* flags */
	/* RESOLVE_* on the protected FS: not implemented; callers fall back to openat */
	rt_refuse_once(c->nr, "ENOSYS",
		       "RESOLVE_* flags on files of the image are not implemented; programs fall back to openat");
	return shield_done(ret, -ENOSYS);
}

int fs_sys_close(const struct sys_call *c, long *ret)
{
	int fd = (int)c->a[0];
	if (!fsv_fd_maybe(fs_g.fdt, fd))
		return SHIELD_PASS;
	fs_lock();
	int kept = fsv_fd_get(fs_g.fdt, fd) && fs_fd_keep_spare(fd);
	int v = fsv_fd_remove(FS(), fs_g.fdt, fd);
	fs_unlock();
	if (!v)
		return SHIELD_PASS;
	if (!kept)
		host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
	return shield_done(ret, 0);
}

int fs_sys_close_range(const struct sys_call *c, long *ret)
{
	(void)ret;
	unsigned first = (unsigned)c->a[0], last = (unsigned)c->a[1];
	if (!(c->a[2] & 4 /* CLOSE_RANGE_CLOEXEC */) && first <= last) {
		fs_lock();
		for (size_t fd = first; fd < fs_g.fdt->cap && fd <= last; fd++)
			fsv_fd_remove(FS(), fs_g.fdt, (int)fd);
		fs_unlock();
	}
	return SHIELD_PASS; /* the host closes the placeholders; the console shield sees it too */
}

/* ---- descriptors ---- */

int fs_sys_dup(const struct sys_call *c, long *ret)
{
	int old = (int)c->a[0];
	int newfd = c->nr == __NR_dup ? -1 : (int)c->a[1];
	if (!fsv_fd_maybe(fs_g.fdt, old) && !fsv_fd_maybe(fs_g.fdt, newfd))
		return SHIELD_PASS;
	fs_lock();
	struct fsv_file *f = fsv_fd_get(fs_g.fdt, old);
	int new_virtual = newfd >= 0 && fsv_fd_get(fs_g.fdt, newfd) != NULL;
	if (!f && !new_virtual) {
		fs_unlock();
		return SHIELD_PASS; /* host fds only: the console shield tracks duplicates */
	}
	if (f && old == newfd) {
		fs_unlock();
		return shield_done(ret, c->nr == __NR_dup3 ? -EINVAL : newfd);
	}
	if (f)
		fsv_file_ref(f);
	fs_unlock();
	long r = host_syscall(c->nr, c->a[0], c->a[1], c->a[2], 0, 0, 0);
	fs_lock();
	if (r >= 0 && ((newfd >= 0 && r != newfd) || r >= (1 << 20))) {
		/* Iago: the host did not do what was asked */
		fs_unlock();
		if (f)
			fsv_file_unref(FS(), f);
		return shield_done(ret, -EIO);
	}
	if (r >= 0) {
		if (f)
			r = fsv_fd_install(FS(), fs_g.fdt, (int)r, f) < 0 ? -ENOMEM : r;
		else
			fsv_fd_remove(FS(), fs_g.fdt, (int)r);
	}
	if (f)
		fsv_file_unref(FS(), f);
	fs_unlock();
	if (r >= 0) {
		if (f)
			rt_fd_gone(&fs_shield_ops, (int)r);
		else
			rt_fd_dup(&fs_shield_ops, old, (int)r);
	}
	return shield_done(ret, r);
}

long fs_v_fcntl(const struct sys_call *c, struct fsv_file *f)
{
	const uint32_t setfl = O_APPEND | O_NONBLOCK | O_NOATIME | O_DIRECT | 020000 /* O_ASYNC */;
	switch (c->a[1]) {
	case F_GETFL:
		return (long)(f->flags & ~(uint32_t)(O_DIRECTORY | O_NOFOLLOW));
	case F_SETFL:
		f->flags = (f->flags & ~setfl) | ((uint32_t)c->a[2] & setfl);
		return 0;
	default:
		return 1L << 40; /* marker: host */
	}
}

int fs_sys_fcntl(const struct sys_call *c, long *ret)
{
	int fd = (int)c->a[0];
	long cmd = c->a[1];
	if (cmd == F_GETLK || cmd == F_SETLK || cmd == F_SETLKW || cmd == F_OFD_GETLK || cmd == F_OFD_SETLK ||
	    cmd == F_OFD_SETLKW)
		return fs_sys_reclock(c, ret); /* record locks: the enclave's table, not the placeholder's */
	if (!fsv_fd_maybe(fs_g.fdt, fd))
		return SHIELD_PASS;
	fs_lock();
	struct fsv_file *f = fsv_fd_get(fs_g.fdt, fd);
	if (!f) {
		fs_unlock();
		return SHIELD_PASS;
	}
	long v = fs_v_fcntl(c, f);
	if (v != 1L << 40) {
		fs_unlock();
		return shield_done(ret, v);
	}
	int dup = c->a[1] == F_DUPFD || c->a[1] == F_DUPFD_CLOEXEC;
	if (dup)
		fsv_file_ref(f);
	fs_unlock();
	/* F_GETFD/F_SETFD, F_DUPFD* and the rest: on the placeholder */
	if (c->a[1] == F_SETFD)
		fs_fd_cloexec_changed(fd); /* a spare is not made of it (fs_fd.c) */
	long r = host_syscall(__NR_fcntl, fd, c->a[1], c->a[2], 0, 0, 0);
	if (dup) {
		fs_lock();
		if (r >= (1 << 20) || (r >= 0 && r < c->a[2])) {
			fs_unlock();
			fsv_file_unref(FS(), f);
			return shield_done(ret, -EIO);
		}
		if (r >= 0 && fsv_fd_install(FS(), fs_g.fdt, (int)r, f) < 0)
			r = -ENOMEM;
		fsv_file_unref(FS(), f);
		fs_unlock();
		if (r >= 0)
			rt_fd_gone(&fs_shield_ops, (int)r);
	}
	return shield_done(ret, r);
}

long fs_v_ioctl(const struct sys_call *c, struct fsv_file *f)
{
	switch ((unsigned long)c->a[1]) {
	case 0x5451: /* FIOCLEX */
	case 0x5450: /* FIONCLEX */
		fs_fd_cloexec_changed((int)c->a[0]);
		return host_syscall(__NR_ioctl, c->a[0], c->a[1], 0, 0, 0, 0);
	case 0x5421: { /* FIONBIO */
		const int *p = (const int *)c->a[2];
		if (!rt_user_ok(p, sizeof *p))
			return -EFAULT;
		f->flags = *p ? f->flags | O_NONBLOCK : f->flags & ~(uint32_t)O_NONBLOCK;
		return 0;
	}
	case 0x541B: { /* FIONREAD */
		int *p = (int *)c->a[2];
		if (!rt_user_ok(p, sizeof *p))
			return -EFAULT;
		if (!S_ISREG_(f->node->mode))
			return -ENOTTY;
		uint64_t left = f->node->size > f->off ? f->node->size - f->off : 0;
		*p = left > 0x7fffffff ? 0x7fffffff : (int)left;
		return 0;
	}
	default:
		return -ENOTTY;
	}
}
