/* FS shield core: path resolution over the merged tree (fsv.h).
 *
 * Walks one component at a time from the root (absolute paths, absolute
 * symlink targets) or from a start directory, following symlinks inside the
 * image (at most FSV_SYMLOOP_MAX), with Linux semantics for ".", "..",
 * trailing slashes and errors. While walking it keeps the canonical path of
 * the current directory; when the next component is a passthrough mount
 * point, the rest of the path goes to the host unchanged (after a lexical
 * normalization if it contains "..", so "/proc/../etc" cannot escape to the
 * host's /etc). */
#include <string.h>
#include <linux/errno.h>

#include "fsv.h"
#include "rt_alloc.h"

static int is_dir(const struct fsv_node *n) { return (n->mode & FSV_IFMT) == FSV_IFDIR; }

int fsv_is_mounted(const struct fsv *fs, const char *abs, size_t len)
{
	for (size_t i = 0; i < fs->nmounts; i++) {
		size_t ml = strlen(fs->mounts[i]);
		if (len >= ml && memcmp(abs, fs->mounts[i], ml) == 0 && (len == ml || abs[ml] == '/'))
			return 1;
	}
	return 0;
}

long fsv_normalize(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0, i = 0;
	while (i < len) {
		while (i < len && in[i] == '/')
			i++;
		size_t s = i;
		while (i < len && in[i] != '/')
			i++;
		size_t cl = i - s;
		if (cl == 0 || (cl == 1 && in[s] == '.'))
			continue;
		if (cl == 2 && in[s] == '.' && in[s + 1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		if (o + 1 + cl + 1 > cap)
			return -ENAMETOOLONG;
		out[o++] = '/';
		memcpy(out + o, in + s, cl);
		o += cl;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
	return (long)o;
}

static int has_dotdot(const char *p)
{
	for (size_t i = 0; p[i]; i++)
		if (p[i] == '.' && p[i + 1] == '.' && (i == 0 || p[i - 1] == '/') && (p[i + 2] == 0 || p[i + 2] == '/'))
			return 1;
	return 0;
}

static void set_dir(struct fsv *fs, struct fsv_node **dir, struct fsv_node *n)
{
	fsv_ref(n);
	fsv_unref(fs, *dir);
	*dir = n;
}

void fsv_res_put(struct fsv *fs, struct fsv_res *r)
{
	if (r->node)
		fsv_unref(fs, r->node);
	if (r->dir)
		fsv_unref(fs, r->dir);
	r->node = r->dir = NULL;
}

/* Working state (12 KiB, on the caller's stack: the runtime's signal stack is
 * 256 KiB, and a heap allocation of this size costs system calls there). */
struct walk {
	char rest[FSV_PATH_MAX];
	char tmp[FSV_PATH_MAX];
	char cur[FSV_PATH_MAX]; /* canonical path of dir; "" for the root */
	size_t curlen;
};

/* Replaces w->rest by prefix + w->rest[pos..]. */
static int splice_rest(struct walk *w, const char *prefix, size_t pl, size_t pos)
{
	size_t rl = strlen(w->rest + pos);
	if (pl + rl + 1 > FSV_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(w->tmp, prefix, pl);
	memcpy(w->tmp + pl, w->rest + pos, rl + 1);
	memcpy(w->rest, w->tmp, pl + rl + 1);
	return 0;
}

static int resolve(struct fsv *fs, struct walk *w, struct fsv_node *dir, int flags, struct fsv_res *r)
{
	int links = 0, err = 0;
	size_t pos = 0;
	struct fsv_node *child = NULL;
	for (;;) {
		while (w->rest[pos] == '/')
			pos++;
		if (!w->rest[pos]) {
			/* "/" or a path ending in "dir/": the object is dir itself */
			r->node = dir;
			r->dir = dir->parent ? dir->parent : dir;
			fsv_ref(r->dir);
			r->name[0] = '.';
			r->name[1] = 0;
			r->namelen = 1;
			r->dot = 1;
			return 0;
		}
		size_t s = pos;
		while (w->rest[pos] && w->rest[pos] != '/')
			pos++;
		size_t cl = pos - s;
		const char *comp = w->rest + s;
		if (cl > FSV_NAME_MAX) {
			err = -ENAMETOOLONG;
			break;
		}
		size_t q = pos;
		while (w->rest[q] == '/')
			q++;
		int last = w->rest[q] == 0;
		int slash = last && q > pos;
		if (!is_dir(dir)) {
			err = -ENOTDIR;
			break;
		}
		if ((err = fsv_access(fs, dir, 1)) < 0)
			break;
		int dot = cl == 1 && comp[0] == '.';
		int dotdot = cl == 2 && comp[0] == '.' && comp[1] == '.';
		if (dot || dotdot) {
			if (dotdot && dir != fs->root) {
				if (!dir->parent) {
					err = -ENOENT;
					break;
				}
				set_dir(fs, &dir, dir->parent);
				while (w->curlen > 0 && w->cur[w->curlen - 1] != '/')
					w->curlen--;
				if (w->curlen > 0)
					w->curlen--;
				w->cur[w->curlen] = 0;
			}
			if (last) {
				r->node = dir;
				r->dir = dir->parent ? dir->parent : dir;
				fsv_ref(r->dir);
				memcpy(r->name, comp, cl);
				r->name[cl] = 0;
				r->namelen = cl;
				r->dot = 1;
				r->trailing_slash = slash;
				return 0;
			}
			continue;
		}
		if (w->curlen + 1 + cl + 1 > FSV_PATH_MAX) {
			err = -ENAMETOOLONG;
			break;
		}
		/* Passthrough mount point? */
		w->cur[w->curlen] = '/';
		memcpy(w->cur + w->curlen + 1, comp, cl);
		w->cur[w->curlen + 1 + cl] = 0;
		if (fsv_is_mounted(fs, w->cur, w->curlen + 1 + cl)) {
			size_t hl = w->curlen + 1 + cl, rl = strlen(w->rest + pos);
			if (hl + rl + 1 > FSV_PATH_MAX) {
				err = -ENAMETOOLONG;
				break;
			}
			memcpy(r->host_path, w->cur, hl);
			memcpy(r->host_path + hl, w->rest + pos, rl + 1);
			if (has_dotdot(r->host_path)) {
				long nl = fsv_normalize(r->host_path, hl + rl, w->rest, FSV_PATH_MAX);
				if (nl < 0) {
					err = (int)nl;
					break;
				}
				if (++links > FSV_SYMLOOP_MAX) {
					err = -ELOOP;
					break;
				}
				set_dir(fs, &dir, fs->root);
				w->curlen = 0;
				w->cur[0] = 0;
				pos = 0;
				continue;
			}
			/* What the runtime answers itself: the /proc allow-list,
			 * magic links, /proc/self/environ, /dev/[u]random. */
			struct fsv_node *mn = NULL;
			int m = fsv_magic(fs, r->host_path, (flags & FSV_FOLLOW) != 0, &mn);
			if (m < 0) {
				err = m;
				break;
			}
			if (m == FSV_MAGIC_RESTART) {
				if (++links > FSV_SYMLOOP_MAX) {
					err = -ELOOP;
					break;
				}
				memcpy(w->rest, r->host_path, strlen(r->host_path) + 1);
				r->host_path[0] = 0;
				set_dir(fs, &dir, fs->root);
				w->curlen = 0;
				w->cur[0] = 0;
				pos = 0;
				continue;
			}
			if (m == FSV_MAGIC_NODE) {
				fsv_unref(fs, dir);
				r->host_path[0] = 0;
				r->node = mn;
				r->dir = mn->parent ? mn->parent : fs->root;
				fsv_ref(r->dir);
				r->namelen = 0;
				r->name[0] = 0;
				if (mn->name && mn->parent) {
					size_t nl = strlen(mn->name);
					if (nl <= FSV_NAME_MAX) {
						memcpy(r->name, mn->name, nl + 1);
						r->namelen = nl;
					}
				}
				if (r->trailing_slash && !is_dir(mn)) {
					fsv_res_put(fs, r);
					return -ENOTDIR;
				}
				return 0;
			}
			r->host = 1;
			fsv_unref(fs, dir);
			return 0;
		}
		w->cur[w->curlen] = 0;
		err = fsv_lookup(fs, dir, comp, cl, &child);
		if (err == -ENOENT && last && (flags & FSV_PARENT)) {
			r->dir = dir;
			r->node = NULL;
			memcpy(r->name, comp, cl);
			r->name[cl] = 0;
			r->namelen = cl;
			r->trailing_slash = slash;
			return 0;
		}
		if (err < 0)
			break;
		if ((child->mode & FSV_IFMT) == FSV_IFLNK && (!last || slash || (flags & FSV_FOLLOW))) {
			if (++links > FSV_SYMLOOP_MAX) {
				err = -ELOOP;
				break;
			}
			long tl = fsv_readlink(fs, child, w->tmp, FSV_PATH_MAX);
			fsv_unref(fs, child);
			child = NULL;
			if (tl <= 0) {
				err = tl < 0 ? (int)tl : -ENOENT;
				break;
			}
			if (tl >= FSV_PATH_MAX) {
				err = -ENAMETOOLONG;
				break;
			}
			char *t = rt_malloc((size_t)tl);
			if (!t) {
				err = -ENOMEM;
				break;
			}
			memcpy(t, w->tmp, (size_t)tl);
			err = splice_rest(w, t, (size_t)tl, pos);
			int abs = t[0] == '/';
			rt_free(t);
			if (err < 0)
				break;
			pos = 0;
			if (abs) {
				set_dir(fs, &dir, fs->root);
				w->curlen = 0;
				w->cur[0] = 0;
			}
			continue;
		}
		if (!last) {
			if (!is_dir(child)) {
				err = -ENOTDIR;
				break;
			}
			fsv_unref(fs, dir);
			dir = child;
			child = NULL;
			w->cur[w->curlen] = '/';
			w->curlen += 1 + cl;
			w->cur[w->curlen] = 0;
			continue;
		}
		if (slash && !is_dir(child)) {
			err = -ENOTDIR;
			break;
		}
		r->dir = dir;
		r->node = child;
		memcpy(r->name, comp, cl);
		r->name[cl] = 0;
		r->namelen = cl;
		r->trailing_slash = slash;
		return 0;
	}
	if (child)
		fsv_unref(fs, child);
	fsv_unref(fs, dir);
	return err;
}

int fsv_resolve(struct fsv *fs, const struct fsv_start *start, const char *path, int flags,
		struct fsv_res *r)
{
	r->host = 0;
	r->dir = r->node = NULL;
	r->namelen = 0;
	r->dot = r->trailing_slash = 0;
	r->host_path[0] = 0;
	r->name[0] = 0;
	size_t len = strlen(path);
	if (len == 0)
		return -ENOENT;
	if (len >= FSV_PATH_MAX)
		return -ENAMETOOLONG;
	struct walk wbuf, *w = &wbuf;
	struct fsv_node *dir;
	w->curlen = 0;
	w->cur[0] = 0;
	int err;
	if (path[0] == '/') {
		memcpy(w->rest, path, len + 1);
		dir = fs->root;
	} else if (start && start->node) {
		dir = start->node;
		long cl = fsv_node_path(fs, dir, w->cur, FSV_PATH_MAX);
		if (cl < 0) {
			/* removed directory: only "." style lookups can succeed */
			w->cur[0] = 0;
			cl = 0;
		} else if (cl == 1) {
			cl = 0; /* root is "" */
			w->cur[0] = 0;
		}
		w->curlen = (size_t)cl;
		memcpy(w->rest, path, len + 1);
	} else if (start && start->host_dir) {
		/* relative to a host directory: an absolute path, normalized */
		size_t hl = strlen(start->host_dir);
		if (hl + 1 + len + 1 > FSV_PATH_MAX)
			return -ENAMETOOLONG;
		memcpy(w->tmp, start->host_dir, hl);
		w->tmp[hl] = '/';
		memcpy(w->tmp + hl + 1, path, len + 1);
		long nl = fsv_normalize(w->tmp, hl + 1 + len, w->rest, FSV_PATH_MAX);
		if (nl < 0)
			return (int)nl;
		if (path[len - 1] == '/' && nl + 2 <= FSV_PATH_MAX && nl > 1) {
			w->rest[nl] = '/';
			w->rest[nl + 1] = 0;
		}
		/* the walk from the root switches to the host at the mount point */
		dir = fs->root;
	} else {
		dir = fs->root;
		memcpy(w->rest, path, len + 1);
	}
	fsv_ref(dir);
	r->trailing_slash = path[len - 1] == '/';
	err = resolve(fs, w, dir, flags, r);
	if (err < 0) {
		r->dir = r->node = NULL;
		return err;
	}
	if (!r->host && !r->node && !(flags & FSV_PARENT)) {
		fsv_res_put(fs, r);
		return -ENOENT;
	}
	return 0;
}

static int add_mount_dirs(struct fsv *fs, const char *p, size_t len, int mount_is_dir)
{
	struct fsv_node *dir = fs->root, *child;
	fsv_ref(dir);
	size_t i = 0;
	int r = 0;
	while (i < len) {
		while (i < len && p[i] == '/')
			i++;
		size_t s = i;
		while (i < len && p[i] != '/')
			i++;
		if (i == s)
			break;
		r = fsv_lookup(fs, dir, p + s, i - s, &child);
		if (r == -ENOENT) {
			uint32_t uid = fs->uid, gid = fs->gid;
			int last = i >= len;
			fs->uid = fs->gid = 0; /* created by the runtime, owned by root */
			r = fsv_create(fs, dir, p + s, i - s, last && !mount_is_dir ? FSV_IFREG | 0644 : FSV_IFDIR | 0755, NULL,
				       &child);
			fs->uid = uid;
			fs->gid = gid;
		}
		fsv_unref(fs, dir);
		if (r < 0)
			return r == -EEXIST ? 0 : r;
		dir = child;
		if (!is_dir(dir))
			break; /* a file in the image: the mount still shadows it */
	}
	fsv_unref(fs, dir);
	return 0;
}

int fsv_add_mount(struct fsv *fs, const char *path, int is_dir)
{
	size_t len = strlen(path);
	if (len == 0 || path[0] != '/' || len >= FSV_PATH_MAX)
		return -EINVAL;
	if (fs->nmounts == FSV_MAX_MOUNTS)
		return -ENOSPC;
	char *m = rt_malloc(len + 2);
	if (!m)
		return -ENOMEM;
	long nl = fsv_normalize(path, len, m, len + 2);
	if (nl <= 1) { /* "/" cannot be a passthrough mount */
		rt_free(m);
		return nl < 0 ? (int)nl : -EINVAL;
	}
	for (size_t i = 0; i < fs->nmounts; i++)
		if (strlen(fs->mounts[i]) == (size_t)nl && memcmp(fs->mounts[i], m, (size_t)nl) == 0) {
			rt_free(m);
			return 0;
		}
	int r = add_mount_dirs(fs, m, (size_t)nl, is_dir);
	if (r < 0) {
		rt_free(m);
		return r;
	}
	fs->mounts[fs->nmounts++] = m;
	return 0;
}

int fsv_set_exe(struct fsv *fs, const char *path)
{
	size_t len = strlen(path);
	if (!len || path[0] != '/' || len >= FSV_PATH_MAX)
		return -EINVAL;
	char *e = rt_malloc(len + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e, path, len + 1);
	rt_free(fs->exe);
	fs->exe = e;
	return 0;
}
