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
#include "fsv_int.h"
#include "rt_alloc.h"

int fsv_is_mounted(const struct fsv *fs, const char *abs, size_t len)
{
	for (size_t i = 0; i < fs->nmounts; i++) {
		size_t ml = strlen(fs->mounts[i]);
		if (len >= ml && memcmp(abs, fs->mounts[i], ml) == 0 && (len == ml || abs[ml] == '/'))
			return 1;
	}
	return 0;
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
	char rest[FSV_PATH_MAX]; /* what is left to walk, from pos */
	char tmp[FSV_PATH_MAX];
	char cur[FSV_PATH_MAX]; /* canonical path of dir; "" for the root */
	size_t curlen;
	/* cur is unknown: dir's path does not fit in FSV_PATH_MAX (Linux limits
	 * each path argument, not the depth of the tree), or dir was removed.
	 * No mount point can be there: mounts are shorter, and a walk reaches a
	 * directory below a mount only through the host. */
	int over;
	size_t pos;
	struct fsv_node *dir; /* the current directory (one reference) */
	int links;	      /* symlinks and restarts followed */
	int flags;
};

/* One component of w->rest. */
struct comp {
	const char *s;
	size_t len;
	int last;  /* only slashes follow */
	int slash; /* last, and at least one slash follows */
};

/* What a step tells the walk (errors are negative). */
enum { STEP_DONE = 0, STEP_NEXT = 1 };

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

/* Walks again from the root (w->rest already holds the new path). */
static int walk_restart(struct fsv *fs, struct walk *w)
{
	if (++w->links > FSV_SYMLOOP_MAX)
		return -ELOOP;
	set_dir(fs, &w->dir, fs->root);
	w->curlen = 0;
	w->cur[0] = 0;
	w->over = 0;
	w->pos = 0;
	return STEP_NEXT;
}

/* Sets w->cur to the path of w->dir, or w->over when it does not fit. */
static void cur_of_dir(struct fsv *fs, struct walk *w)
{
	long cl = fsv_node_path(fs, w->dir, w->cur, FSV_PATH_MAX);
	w->over = cl < 0;
	w->curlen = cl <= 1 ? 0 : (size_t)cl; /* the root is "" */
	w->cur[w->curlen] = 0;
}

/* Reads the next component; 0 when only slashes are left. */
static int next_comp(struct walk *w, struct comp *c)
{
	while (w->rest[w->pos] == '/')
		w->pos++;
	if (!w->rest[w->pos])
		return 0;
	size_t s = w->pos;
	while (w->rest[w->pos] && w->rest[w->pos] != '/')
		w->pos++;
	c->s = w->rest + s;
	c->len = w->pos - s;
	size_t q = w->pos;
	while (w->rest[q] == '/')
		q++;
	c->last = w->rest[q] == 0;
	c->slash = c->last && q > w->pos;
	return 1;
}

static void res_name(struct fsv_res *r, const char *s, size_t len)
{
	memcpy(r->name, s, len);
	r->name[len] = 0;
	r->namelen = len;
}

/* The object is the current directory itself ("/", "dir/", ".", ".."). */
static int res_dir_itself(struct walk *w, struct fsv_res *r, const char *name, size_t len)
{
	r->node = w->dir;
	r->dir = w->dir->parent ? w->dir->parent : w->dir;
	fsv_ref(r->dir);
	w->dir = NULL;
	res_name(r, name, len);
	r->dot = 1;
	return STEP_DONE;
}

/* "." and "..": ".." stops at the root. */
static int step_dots(struct fsv *fs, struct walk *w, const struct comp *c, struct fsv_res *r)
{
	if (c->len == 2 && w->dir != fs->root) {
		if (!w->dir->parent)
			return -ENOENT;
		set_dir(fs, &w->dir, w->dir->parent);
		if (w->over) {
			cur_of_dir(fs, w);
		} else {
			while (w->curlen > 0 && w->cur[w->curlen - 1] != '/')
				w->curlen--;
			if (w->curlen > 0)
				w->curlen--;
			w->cur[w->curlen] = 0;
		}
	}
	if (!c->last)
		return STEP_NEXT;
	r->trailing_slash = c->slash;
	return res_dir_itself(w, r, c->s, c->len);
}

/* A node the runtime answers itself (fsv_magic) ends the walk. */
static int res_magic(struct fsv *fs, struct fsv_res *r, struct fsv_node *mn)
{
	r->host_path[0] = 0;
	r->node = mn;
	r->dir = mn->parent ? mn->parent : fs->root;
	fsv_ref(r->dir);
	r->namelen = 0;
	r->name[0] = 0;
	if (mn->name && mn->parent) {
		size_t nl = strlen(mn->name);
		if (nl <= FSV_NAME_MAX)
			res_name(r, mn->name, nl);
	}
	if (r->trailing_slash && !fsv_is_dir(mn)) {
		fsv_res_put(fs, r);
		return -ENOTDIR;
	}
	return STEP_DONE;
}

/* w->cur (hl bytes) is a passthrough mount point or below one: the rest of
 * the path is the host's, unless it climbs out with ".." or the runtime
 * answers it itself (the /proc allow-list, magic links, /proc/self/environ,
 * /dev/[u]random). */
static int step_mount(struct fsv *fs, struct walk *w, size_t hl, struct fsv_res *r)
{
	size_t rl = strlen(w->rest + w->pos);
	if (hl + rl + 1 > FSV_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(r->host_path, w->cur, hl);
	memcpy(r->host_path + hl, w->rest + w->pos, rl + 1);
	if (has_dotdot(r->host_path)) {
		long nl = fsv_normalize(r->host_path, hl + rl, w->rest, FSV_PATH_MAX);
		if (nl < 0)
			return (int)nl;
		return walk_restart(fs, w);
	}
	struct fsv_node *mn = NULL;
	int m = fsv_magic(fs, r->host_path, (w->flags & FSV_FOLLOW) != 0, &mn);
	if (m < 0)
		return m;
	if (m == FSV_MAGIC_RESTART) {
		memcpy(w->rest, r->host_path, strlen(r->host_path) + 1);
		r->host_path[0] = 0;
		return walk_restart(fs, w);
	}
	if (m == FSV_MAGIC_NODE)
		return res_magic(fs, r, mn);
	r->host = 1;
	return STEP_DONE;
}

/* Follows the symlink link (its reference is consumed). */
static int step_symlink(struct fsv *fs, struct walk *w, struct fsv_node *link)
{
	if (++w->links > FSV_SYMLOOP_MAX) {
		fsv_unref(fs, link);
		return -ELOOP;
	}
	long tl = fsv_readlink(fs, link, w->tmp, FSV_PATH_MAX);
	fsv_unref(fs, link);
	if (tl <= 0)
		return tl < 0 ? (int)tl : -ENOENT;
	if (tl >= FSV_PATH_MAX)
		return -ENAMETOOLONG;
	char *t = rt_malloc((size_t)tl);
	if (!t)
		return -ENOMEM;
	memcpy(t, w->tmp, (size_t)tl);
	int err = splice_rest(w, t, (size_t)tl, w->pos);
	int abs = t[0] == '/';
	rt_free(t);
	if (err < 0)
		return err;
	w->pos = 0;
	if (abs) {
		set_dir(fs, &w->dir, fs->root);
		w->curlen = 0;
		w->cur[0] = 0;
		w->over = 0;
	}
	return STEP_NEXT;
}

/* A name in the merged tree: descend, follow, or end the walk. */
static int step_lookup(struct fsv *fs, struct walk *w, const struct comp *c, struct fsv_res *r)
{
	struct fsv_node *child = NULL;
	int err = fsv_lookup(fs, w->dir, c->s, c->len, &child);
	if (err == -ENOENT && c->last && (w->flags & FSV_PARENT)) {
		/* the parent of a name to create */
		r->dir = w->dir;
		w->dir = NULL;
		r->node = NULL;
		res_name(r, c->s, c->len);
		r->trailing_slash = c->slash;
		return STEP_DONE;
	}
	if (err < 0)
		return err;
	int slash = c->slash && !(w->flags & FSV_CREATE); /* the slash asks for a directory */
	if ((child->mode & FSV_IFMT) == FSV_IFLNK && (!c->last || slash || (w->flags & FSV_FOLLOW)))
		return step_symlink(fs, w, child);
	if ((!c->last || slash) && !fsv_is_dir(child)) {
		fsv_unref(fs, child);
		return -ENOTDIR;
	}
	if (!c->last) {
		fsv_unref(fs, w->dir);
		w->dir = child;
		if (!w->over) { /* step() checked that it fits */
			w->cur[w->curlen] = '/';
			w->curlen += 1 + c->len;
			w->cur[w->curlen] = 0;
		}
		return STEP_NEXT;
	}
	r->dir = w->dir;
	w->dir = NULL;
	r->node = child;
	res_name(r, c->s, c->len);
	r->trailing_slash = c->slash;
	return STEP_DONE;
}

static int step(struct fsv *fs, struct walk *w, const struct comp *c, struct fsv_res *r)
{
	if (c->len > FSV_NAME_MAX)
		return -ENAMETOOLONG;
	if (!fsv_is_dir(w->dir))
		return -ENOTDIR;
	int err = fsv_access(fs, w->dir, 1);
	if (err < 0)
		return err;
	if (c->s[0] == '.' && (c->len == 1 || (c->len == 2 && c->s[1] == '.')))
		return step_dots(fs, w, c, r);
	size_t hl = w->curlen + 1 + c->len;
	if (!w->over && hl + 1 > FSV_PATH_MAX)
		w->over = 1; /* deeper than a path can name: not a mount */
	if (w->over)
		return step_lookup(fs, w, c, r);
	w->cur[w->curlen] = '/';
	memcpy(w->cur + w->curlen + 1, c->s, c->len);
	w->cur[hl] = 0;
	if (fsv_is_mounted(fs, w->cur, hl))
		return step_mount(fs, w, hl, r);
	w->cur[w->curlen] = 0;
	return step_lookup(fs, w, c, r);
}

/* Walks w->rest from w->dir, one step per component. */
static int resolve(struct fsv *fs, struct walk *w, struct fsv_res *r)
{
	struct comp c;
	int st;
	do {
		if (!next_comp(w, &c))
			return res_dir_itself(w, r, ".", 1);
		st = step(fs, w, &c, r);
	} while (st == STEP_NEXT);
	if (w->dir)
		fsv_unref(fs, w->dir);
	return st;
}

int fsv_resolve(struct fsv *fs, const struct fsv_start *start, const char *path, int flags, struct fsv_res *r)
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
	w->over = 0;
	w->pos = 0;
	w->links = 0;
	w->flags = flags;
	int err;
	if (path[0] == '/') {
		memcpy(w->rest, path, len + 1);
		dir = fs->root;
	} else if (start && start->node) {
		dir = start->node;
		w->dir = dir;
		cur_of_dir(fs, w); /* a removed or too deep directory: w->over */
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
	w->dir = dir;
	r->trailing_slash = path[len - 1] == '/';
	err = resolve(fs, w, r);
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
			r = fsv_create(fs, dir, p + s, i - s,
				       last && !mount_is_dir ? FSV_IFREG | 0644 : FSV_IFDIR | 0755, NULL, &child);
			fs->uid = uid;
			fs->gid = gid;
		}
		fsv_unref(fs, dir);
		if (r < 0)
			return r == -EEXIST ? 0 : r;
		dir = child;
		if (!fsv_is_dir(dir))
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
