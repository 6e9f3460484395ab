/* FS shield core: files the runtime places into the ephemeral layer before
 * the program runs (the CAS policy's file grants, docs/cas.md), fsv.h. */
#include <string.h>
#include <linux/errno.h>

#include "fsv.h"
#include "fsv_int.h"

static const struct fsv_start from_root = {NULL, "/"};

/* Resolves path[0:len] for creation (the last component may be missing). */
static int resolve(struct fsv *fs, const char *path, size_t len, int follow, struct fsv_res *r)
{
	char buf[FSV_PATH_MAX];
	if (len >= sizeof buf)
		return -ENAMETOOLONG;
	memcpy(buf, path, len);
	buf[len] = 0;
	int e = fsv_resolve(fs, &from_root, buf, FSV_PARENT | (follow ? FSV_FOLLOW : 0), r);
	if (e == 0 && r->host) {
		fsv_res_put(fs, r);
		return -EXDEV; /* it would land on the host */
	}
	return e;
}

/* Creates every missing directory above path (0755), following symlinks as
 * a lookup would. */
static int parents(struct fsv *fs, const char *path, size_t len)
{
	for (size_t i = 1; i < len; i++) {
		if (path[i] != '/')
			continue;
		struct fsv_res r;
		int e = resolve(fs, path, i, 1, &r);
		if (e < 0)
			return e;
		if (!r.node)
			e = fsv_create(fs, r.dir, r.name, r.namelen, FSV_IFDIR | 0755, NULL, NULL);
		else if (!fsv_is_dir(r.node))
			e = -ENOTDIR;
		fsv_res_put(fs, &r);
		if (e < 0)
			return e;
	}
	return 0;
}

static int place(struct fsv *fs, const char *path, uint32_t mode, uint32_t uid, uint32_t gid, const void *data,
		 size_t len)
{
	size_t pl = strlen(path);
	if (pl < 2 || path[0] != '/' || (mode & ~0777u))
		return -EINVAL;
	if (fsv_is_mounted(fs, path, pl))
		return -EXDEV;
	int e = parents(fs, path, pl);
	if (e < 0)
		return e;
	struct fsv_res r;
	if ((e = resolve(fs, path, pl, 0, &r)) < 0)
		return e;
	if (r.node && fsv_is_dir(r.node))
		e = -EISDIR;
	else if (r.node) /* a file or symlink of the image or the layer: replaced, not written through */
		e = fsv_remove(fs, r.dir, r.name, r.namelen, 0);
	struct fsv_node *n = NULL;
	if (e == 0)
		e = fsv_create(fs, r.dir, r.name, r.namelen, FSV_IFREG | mode, NULL, &n);
	fsv_res_put(fs, &r);
	if (e < 0)
		return e;
	long w = fsv_write(fs, n, data, len, 0);
	if (w >= 0 && (size_t)w != len)
		w = -ENOSPC;
	if (w >= 0)
		w = fsv_chown(fs, n, uid, gid);
	if (w >= 0)
		w = fsv_chmod(fs, n, mode);
	fsv_unref(fs, n);
	return w < 0 ? (int)w : 0;
}

int fsv_place_file(struct fsv *fs, const char *path, uint32_t mode, uint32_t uid, uint32_t gid, const void *data,
		   size_t len)
{
	/* The runtime acts as root: directories above a policy's file may be
	 * closed to the application's user, and the file may be read-only. */
	uint32_t ouid = fs->uid, ogid = fs->gid;
	fs->uid = fs->gid = 0;
	int e = place(fs, path, mode, uid, gid, data, len);
	fs->uid = ouid;
	fs->gid = ogid;
	return e;
}
