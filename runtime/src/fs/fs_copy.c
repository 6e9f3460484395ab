/* FS shield: the calls that copy between two descriptors without user
 * buffers (sendfile, copy_file_range, splice, tee) when one end is a
 * virtual file. The host kernel cannot move data of a virtual file, so the
 * runtime copies through a buffer of its own, each side through
 * shield_call: a virtual file is read and written by this shield, a host
 * descriptor by whichever shield owns it (the console records a shielded
 * stdout, the network shield encrypts a TLS socket) or by the host. */
#include "fs.h"

#define COPY_CHUNK (64u << 10)
#define SEEK_CUR_ 1

/* One end of a copy: fd, and where in it (off >= 0: that offset, the
 * descriptor's own offset untouched, as pread/pwrite; off < 0: the
 * descriptor's offset, as read/write). */
struct copy_end {
	int fd;
	long off;
};

/* Copies up to count bytes from in to out. What the output did not take
 * (a full non-blocking pipe or socket) stays unread: an explicit input
 * offset is not advanced past it, a descriptor offset is moved back. The
 * number of bytes copied, or the first error when nothing was. */
static long copy_fds(struct copy_end *out, struct copy_end *in, size_t count)
{
	/* no bigger than the request: a small file's copy (nginx's sendfile
	 * of a page) takes a small block, not a 64 KiB run */
	char *buf = rt_malloc(count < COPY_CHUNK ? (count ? count : 1) : COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	size_t done = 0;
	long err = 0;
	while (done < count) {
		size_t want = count - done < COPY_CHUNK ? count - done : COPY_CHUNK;
		long got = in->off >= 0 ? shield_call(__NR_pread64, in->fd, (long)buf, (long)want, in->off, 0, 0) :
					  shield_call(__NR_read, in->fd, (long)buf, (long)want, 0, 0, 0);
		if (got <= 0) {
			err = got;
			break;
		}
		if ((size_t)got > want) { /* Iago: more than asked for */
			err = -EIO;
			break;
		}
		long put = 0;
		while (put < got) {
			long w = out->off >= 0 ?
					 shield_call(__NR_pwrite64, out->fd, (long)(buf + put), got - put,
						     out->off + put, 0, 0) :
					 shield_call(__NR_write, out->fd, (long)(buf + put), got - put, 0, 0, 0);
			if (w <= 0 || w > got - put) {
				err = w < 0 ? w : -EIO;
				break;
			}
			put += w;
		}
		done += (size_t)put;
		if (out->off >= 0)
			out->off += put;
		if (in->off >= 0)
			in->off += put;
		else if (put < got)
			shield_call(__NR_lseek, in->fd, put - got, SEEK_CUR_, 0, 0, 0);
		if (err || put < got || (size_t)got < want)
			break;
	}
	rt_free(buf);
	return done ? (long)done : err;
}

/* Reads the user's optional offset (loff_t *): 0 and end->off set, or an
 * error. */
static long user_off(const long *p, struct copy_end *end)
{
	end->off = -1;
	if (!p)
		return 0;
	if (!rt_user_ok(p, sizeof *p))
		return -EFAULT;
	if (*p < 0)
		return -EINVAL;
	end->off = *p;
	return 0;
}

/* What the checks need of a descriptor, taken under the lock (another
 * thread may close it right after). */
struct vinfo {
	int virt; /* a virtual file of this shield */
	uint32_t flags, mode;
	const void *node; /* identity only, never dereferenced */
	uint64_t off;
};

static struct vinfo virt_info(int fd)
{
	struct vinfo v = {0, 0, 0, NULL, 0};
	if (!fsv_fd_maybe(fs_g.fdt, fd))
		return v;
	fs_lock();
	struct fsv_file *f = fsv_fd_get(fs_g.fdt, fd);
	if (f)
		v = (struct vinfo){1, f->flags, f->node->mode, f->node, f->off};
	fs_unlock();
	return v;
}

static int virt(int fd) { return virt_info(fd).virt; }

/* sendfile(out, in, offp, count): offp, when given, is in's offset. */
int fs_sys_sendfile(const struct sys_call *c, long *ret)
{
	int out = (int)c->a[0], in = (int)c->a[1];
	long *offp = (long *)c->a[2];
	if (!virt(in) && !virt(out))
		return SHIELD_PASS;
	struct copy_end o = {out, -1}, i = {in, -1};
	long e = user_off(offp, &i);
	if (e)
		return shield_done(ret, e);
	long v = copy_fds(&o, &i, (size_t)c->a[3]);
	if (offp)
		*offp = i.off;
	return shield_done(ret, v);
}

/* copy_file_range(in, off_in, out, off_out, len, flags) between two files
 * of the enclave (a virtual file and a host file: EXDEV, as between two
 * file systems, which callers such as cp answer with read and write). */
int fs_sys_copy_file_range(const struct sys_call *c, long *ret)
{
	int in = (int)c->a[0], out = (int)c->a[2];
	long *offin = (long *)c->a[1], *offout = (long *)c->a[3];
	struct vinfo fi = virt_info(in), fo = virt_info(out);
	if (!fi.virt && !fo.virt)
		return SHIELD_PASS;
	if (!fi.virt || !fo.virt)
		return shield_done(ret, -EXDEV);
	if (c->a[5] != 0)
		return shield_done(ret, -EINVAL);
	if ((fi.flags & O_ACCMODE) == O_WRONLY || (fo.flags & O_ACCMODE) == O_RDONLY || (fo.flags & O_APPEND))
		return shield_done(ret, -EBADF);
	if (S_ISDIR_(fi.mode) || S_ISDIR_(fo.mode))
		return shield_done(ret, -EISDIR);
	if (!S_ISREG_(fi.mode) || !S_ISREG_(fo.mode))
		return shield_done(ret, -EINVAL);
	struct copy_end i, o;
	long e = user_off(offin, &i);
	if (!e)
		e = user_off(offout, &o);
	if (e)
		return shield_done(ret, e);
	i.fd = in;
	o.fd = out;
	size_t len = (size_t)c->a[4];
	if (fi.node == fo.node) { /* overlapping ranges of one file */
		uint64_t a = i.off >= 0 ? (uint64_t)i.off : fi.off, b = o.off >= 0 ? (uint64_t)o.off : fo.off;
		if (a < b + len && b < a + len)
			return shield_done(ret, -EINVAL);
	}
	long v = copy_fds(&o, &i, len);
	if (offin)
		*offin = i.off;
	if (offout)
		*offout = o.off;
	return shield_done(ret, v);
}

/* splice(in, off_in, out, off_out, len, flags) between a virtual file and a
 * pipe: one end must be a pipe (EINVAL otherwise, as the kernel), and a
 * pipe takes no offset (ESPIPE). SPLICE_F_NONBLOCK makes the pipe side
 * non-blocking only where the pipe already is; the kernel's "never block
 * on the pipe" cannot be had through read/write. tee needs two pipes: a
 * virtual end is EINVAL. */
int fs_sys_splice(const struct sys_call *c, long *ret)
{
	if (c->nr == __NR_tee) {
		if (virt((int)c->a[0]) || virt((int)c->a[1]))
			return shield_done(ret, -EINVAL);
		return SHIELD_PASS;
	}
	int in = (int)c->a[0], out = (int)c->a[2];
	long *offin = (long *)c->a[1], *offout = (long *)c->a[3];
	struct vinfo fi = virt_info(in), fo = virt_info(out);
	if (!fi.virt && !fo.virt)
		return SHIELD_PASS;
	if (fi.virt && fo.virt)
		return shield_done(ret, -EINVAL); /* no pipe */
	int from_file = fi.virt;
	struct vinfo f = from_file ? fi : fo;
	if (fs_host_is_pipe(from_file ? out : in) != 1)
		return shield_done(ret, -EINVAL);
	if ((from_file ? offout : offin) != NULL)
		return shield_done(ret, -ESPIPE);
	if (!S_ISREG_(f.mode))
		return shield_done(ret, -EINVAL);
	if (from_file ? (f.flags & O_ACCMODE) == O_WRONLY : (f.flags & O_ACCMODE) == O_RDONLY)
		return shield_done(ret, -EBADF);
	struct copy_end i = {in, -1}, o = {out, -1};
	long *offp = from_file ? offin : offout;
	long e = user_off(offp, from_file ? &i : &o);
	if (e)
		return shield_done(ret, e);
	long v = copy_fds(&o, &i, (size_t)c->a[4]);
	if (offp)
		*offp = from_file ? i.off : o.off;
	return shield_done(ret, v);
}
