/* Host test of the FS shield core (runtime/lib/fsv_*.c) over a mock image. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsv.h"
#include "fsv_arena.h"
#include "testutil.h"

/* ---- mock image ---- */
struct mino {
	uint64_t ino, parent;
	const char *name;
	uint32_t mode, uid;
	const char *data; /* file content or symlink target */
	int corrupt;
};

static struct mino img[] = {
	{1, 1, "", FSV_IFDIR | 0755, 0, NULL, 0},
	{2, 1, "etc", FSV_IFDIR | 0755, 0, NULL, 0},
	{3, 2, "passwd", FSV_IFREG | 0644, 0, "root:x:0:0\n", 0},
	{4, 1, "bin", FSV_IFLNK | 0777, 0, "usr/bin", 0},
	{5, 1, "usr", FSV_IFDIR | 0755, 0, NULL, 0},
	{6, 5, "bin", FSV_IFDIR | 0755, 0, NULL, 0},
	{7, 6, "app", FSV_IFREG | 0755, 0, "\177ELF-app", 0},
	{8, 2, "loop1", FSV_IFLNK | 0777, 0, "loop2", 0},
	{9, 2, "loop2", FSV_IFLNK | 0777, 0, "loop1", 0},
	{10, 2, "abs", FSV_IFLNK | 0777, 0, "/etc/passwd", 0},
	{11, 1, "secret", FSV_IFDIR | 0700, 0, NULL, 0},
	{12, 2, "bad", FSV_IFREG | 0644, 0, "tampered", 1},
	{13, 2, "mtab", FSV_IFLNK | 0777, 0, "/proc/self/mounts", 0},
	{14, 2, "dotdot", FSV_IFLNK | 0777, 0, "../usr/bin/app", 0},
	{15, 1, "dev", FSV_IFDIR | 0755, 0, NULL, 0},
	{16, 15, "imgnull", FSV_IFREG | 0644, 0, "x", 0},
	{17, 11, "x", FSV_IFREG | 0600, 0, "s", 0},
	{18, 2, "empty", FSV_IFDIR | 0755, 0, NULL, 0},
	{19, 1, "home", FSV_IFDIR | 0777, 1000, NULL, 0},
};
#define NIMG (sizeof(img) / sizeof(img[0]))
static int image_reads;

static struct mino *mfind(uint64_t ino)
{
	for (size_t i = 0; i < NIMG; i++)
		if (img[i].ino == ino)
			return &img[i];
	return NULL;
}

static int m_lookup(void *ctx, uint64_t dir, const char *name, size_t len, uint64_t *ino)
{
	(void)ctx;
	struct mino *d = mfind(dir);
	if (!d || (d->mode & FSV_IFMT) != FSV_IFDIR)
		return -ENOTDIR;
	for (size_t i = 1; i < NIMG; i++)
		if (img[i].parent == dir && strlen(img[i].name) == len && !memcmp(img[i].name, name, len)) {
			*ino = img[i].ino;
			return 0;
		}
	return -ENOENT;
}

static int m_stat(void *ctx, uint64_t ino, struct fsv_stat *st)
{
	(void)ctx;
	struct mino *m = mfind(ino);
	if (!m)
		return -ENOENT;
	st->ino = ino;
	st->mode = m->mode;
	st->uid = m->uid;
	st->gid = m->uid;
	st->nlink = 1;
	st->size = m->data ? strlen(m->data) : 0;
	st->mtime_sec = 1000;
	return 0;
}

static long m_pread(void *ctx, uint64_t ino, void *buf, size_t len, uint64_t off)
{
	(void)ctx;
	struct mino *m = mfind(ino);
	image_reads++;
	if (!m || (m->mode & FSV_IFMT) != FSV_IFREG)
		return -EINVAL;
	if (m->corrupt)
		return -FSV_EAUTH;
	size_t sz = strlen(m->data);
	if (off >= sz)
		return 0;
	if (len > sz - off)
		len = sz - off;
	memcpy(buf, m->data + off, len);
	return (long)len;
}

static long m_readlink(void *ctx, uint64_t ino, char *buf, size_t cap)
{
	(void)ctx;
	struct mino *m = mfind(ino);
	if (!m || (m->mode & FSV_IFMT) != FSV_IFLNK)
		return -EINVAL;
	size_t l = strlen(m->data);
	if (l > cap)
		l = cap;
	memcpy(buf, m->data, l);
	return (long)l;
}

static int m_readdir(void *ctx, uint64_t dir, uint64_t *cookie, uint64_t *ino, char *name, size_t cap, uint32_t *mode)
{
	(void)ctx;
	for (size_t i = *cookie + 1; i < NIMG; i++) {
		if (img[i].parent != dir)
			continue;
		if (strlen(img[i].name) + 1 > cap)
			return -ERANGE;
		strcpy(name, img[i].name);
		*ino = img[i].ino;
		*mode = img[i].mode & FSV_IFMT;
		*cookie = i;
		return 1;
	}
	return 0;
}

static const struct fsv_image_ops mops = {m_lookup, m_stat, m_pread, m_readlink, m_readdir};

static char integrity_path[FSV_PATH_MAX];
static int integrity_calls;
static void on_integrity(void *ctx, const char *path, int err)
{
	(void)ctx;
	(void)err;
	integrity_calls++;
	snprintf(integrity_path, sizeof(integrity_path), "%s", path);
}

static struct fsv_node *fd5_node;
static struct fsv_node *fd_node(void *ctx, int fd)
{
	(void)ctx;
	if (fd == 5 && fd5_node) {
		fsv_ref(fd5_node);
		return fd5_node;
	}
	return NULL;
}

static void setup(struct fsv *fs)
{
	memset(fs, 0, sizeof(*fs));
	CHECK_EQ(fsv_init(fs, &mops, (void *)1, 1), 0);
	fs->on_integrity = on_integrity;
	fs->fd_node = fd_node;
	CHECK_EQ(fsv_add_mount(fs, "/proc", 1), 0);
	CHECK_EQ(fsv_add_mount(fs, "/dev", 1), 0);
	CHECK_EQ(fsv_add_mount(fs, "/sys", 1), 0);
	CHECK_EQ(fsv_add_mount(fs, "/data/vol/", 1), 0);
	CHECK_EQ(fsv_add_mount(fs, "/etc/resolv.conf", 0), 0);
	CHECK_EQ(fsv_set_exe(fs, "/usr/bin/app"), 0);
}

/* Resolves and returns the node's image ino (or ephemeral ino), -errno, or
 * 0 for a host result (host path copied into hp). */
static long res(struct fsv *fs, const struct fsv_start *st, const char *p, int flags, char *hp)
{
	struct fsv_res r;
	int e = fsv_resolve(fs, st, p, flags, &r);
	if (e < 0)
		return e;
	if (r.host) {
		if (hp)
			strcpy(hp, r.host_path);
		return 0;
	}
	long ino = r.node ? (long)r.node->ino : -1000;
	fsv_res_put(fs, &r);
	return ino;
}

static struct fsv_node *get(struct fsv *fs, const char *p, int flags)
{
	struct fsv_res r;
	if (fsv_resolve(fs, NULL, p, flags, &r) < 0 || r.host || !r.node)
		return NULL;
	struct fsv_node *n = r.node;
	fsv_ref(n);
	fsv_res_put(fs, &r);
	return n;
}

static int listed(struct fsv *fs, const char *dir, const char *name);

static void test_resolve(void)
{
	struct fsv fs;
	setup(&fs);
	char hp[FSV_PATH_MAX];
	CHECK_EQ(res(&fs, NULL, "/etc/passwd", FSV_FOLLOW, NULL), 3);
	CHECK_EQ(res(&fs, NULL, "//etc///./passwd", FSV_FOLLOW, NULL), 3);
	CHECK_EQ(res(&fs, NULL, "/bin/app", 0, NULL), 7);
	CHECK_EQ(res(&fs, NULL, "/bin", 0, NULL), 4);
	CHECK_EQ(res(&fs, NULL, "/bin", FSV_FOLLOW, NULL), 6);
	CHECK_EQ(res(&fs, NULL, "/bin/", 0, NULL), 6); /* trailing slash follows */
	CHECK_EQ(res(&fs, NULL, "/etc/abs", FSV_FOLLOW, NULL), 3);
	CHECK_EQ(res(&fs, NULL, "/etc/dotdot", FSV_FOLLOW, NULL), 7);
	CHECK_EQ(res(&fs, NULL, "/etc/loop1", FSV_FOLLOW, NULL), -ELOOP);
	CHECK_EQ(res(&fs, NULL, "/etc/loop1", 0, NULL), 8);
	CHECK_EQ(res(&fs, NULL, "/etc/loop1/x", 0, NULL), -ELOOP);
	CHECK_EQ(res(&fs, NULL, "/etc/passwd/", 0, NULL), -ENOTDIR);
	CHECK_EQ(res(&fs, NULL, "/etc/passwd/x", 0, NULL), -ENOTDIR);
	CHECK_EQ(res(&fs, NULL, "/etc/passwd/..", 0, NULL), -ENOTDIR);
	CHECK_EQ(res(&fs, NULL, "/nope", 0, NULL), -ENOENT);
	CHECK_EQ(res(&fs, NULL, "/nope/x", FSV_PARENT, NULL), -ENOENT);
	CHECK_EQ(res(&fs, NULL, "", 0, NULL), -ENOENT);
	CHECK_EQ(res(&fs, NULL, "/", 0, NULL), 1);
	CHECK_EQ(res(&fs, NULL, "/..", 0, NULL), 1);
	CHECK_EQ(res(&fs, NULL, "/usr/bin/../../etc/./passwd", 0, NULL), 3);
	CHECK_EQ(res(&fs, NULL, "/usr/bin/..", 0, NULL), 5);
	struct fsv_res r;
	CHECK_EQ(fsv_resolve(&fs, NULL, "/etc/newfile", FSV_PARENT, &r), 0);
	CHECK(r.node == NULL && r.dir && r.dir->ino == 2 && strcmp(r.name, "newfile") == 0);
	fsv_res_put(&fs, &r);
	CHECK_EQ(fsv_resolve(&fs, NULL, "/etc/newdir/", FSV_PARENT, &r), 0);
	CHECK(r.node == NULL && r.trailing_slash && strcmp(r.name, "newdir") == 0);
	fsv_res_put(&fs, &r);
	/* name and path limits */
	char longname[300];
	memset(longname, 'a', 256);
	longname[0] = '/';
	longname[257] = 0;
	longname[256] = 'a';
	CHECK_EQ(res(&fs, NULL, longname, 0, NULL), -ENAMETOOLONG);
	char *longpath = malloc(5000);
	memset(longpath, '/', 4999);
	longpath[4999] = 0;
	CHECK_EQ(res(&fs, NULL, longpath, 0, NULL), -ENAMETOOLONG);
	free(longpath);

	/* passthrough mounts */
	CHECK_EQ(res(&fs, NULL, "/proc/self/status", 0, hp), 0);
	CHECK(strcmp(hp, "/proc/self/status") == 0);
	CHECK_EQ(res(&fs, NULL, "/dev/null", 0, hp), 0);
	CHECK(strcmp(hp, "/dev/null") == 0);
	CHECK_EQ(res(&fs, NULL, "/etc/../dev//null", 0, hp), 0);
	CHECK(strcmp(hp, "/dev//null") == 0);
	CHECK_EQ(res(&fs, NULL, "/etc/mtab", FSV_FOLLOW, hp), 0);
	CHECK(strcmp(hp, "/proc/self/mounts") == 0);
	CHECK_EQ(res(&fs, NULL, "/proc/../etc/passwd", 0, NULL), 3); /* no escape to the host */
	CHECK_EQ(res(&fs, NULL, "/proc/self/../../etc/passwd", 0, NULL), 3);
	CHECK_EQ(res(&fs, NULL, "/procfoo", 0, NULL), -ENOENT);
	CHECK_EQ(res(&fs, NULL, "/data/vol/x/y", 0, hp), 0);
	CHECK(strcmp(hp, "/data/vol/x/y") == 0);
	CHECK(res(&fs, NULL, "/data", 0, NULL) > 0); /* mount parents exist */
	CHECK_EQ(res(&fs, NULL, "/etc/resolv.conf", 0, hp), 0);
	CHECK(strcmp(hp, "/etc/resolv.conf") == 0);
	CHECK_EQ(listed(&fs, "/etc", "resolv.conf"), 1);    /* listed, as a file */
	CHECK_EQ(res(&fs, NULL, "/dev/imgnull", 0, hp), 0); /* image /dev is shadowed */
	/* magic links */
	CHECK_EQ(res(&fs, NULL, "/proc/self/exe", FSV_FOLLOW, NULL), 7);
	CHECK_EQ(res(&fs, NULL, "/proc/self/exe", 0, hp), 0);
	fd5_node = get(&fs, "/etc/passwd", 0);
	CHECK_EQ(res(&fs, NULL, "/proc/self/fd/5", FSV_FOLLOW, NULL), 3);
	CHECK_EQ(res(&fs, NULL, "/dev/fd/5", FSV_FOLLOW, NULL), 3);
	CHECK_EQ(res(&fs, NULL, "/proc/self/fd/6", FSV_FOLLOW, hp), 0);
	CHECK_EQ(res(&fs, NULL, "/proc/self/fd/5", 0, hp), 0);
	fsv_unref(&fs, fd5_node);
	fd5_node = NULL;

	/* relative paths */
	struct fsv_node *usr = get(&fs, "/usr", 0);
	struct fsv_start st = {usr, NULL};
	CHECK_EQ(res(&fs, &st, "bin/app", 0, NULL), 7);
	CHECK_EQ(res(&fs, &st, "../etc/passwd", 0, NULL), 3);
	CHECK_EQ(res(&fs, &st, ".", 0, NULL), 5);
	CHECK_EQ(res(&fs, &st, "../proc/1", 0, hp), 0);
	CHECK(strcmp(hp, "/proc/1") == 0);
	fsv_unref(&fs, usr);
	struct fsv_start hst = {NULL, "/proc/self"};
	CHECK_EQ(res(&fs, &hst, "status", 0, hp), 0);
	CHECK(strcmp(hp, "/proc/self/status") == 0);
	CHECK_EQ(res(&fs, &hst, "../../etc/passwd", 0, NULL), 3);
	CHECK_EQ(res(&fs, &hst, "exe", FSV_FOLLOW, NULL), 7);

	/* permissions */
	fs.uid = fs.gid = 1000;
	CHECK_EQ(res(&fs, NULL, "/secret/x", 0, NULL), -EACCES);
	CHECK_EQ(res(&fs, NULL, "/secret", 0, NULL), 11);
	fs.uid = fs.gid = 0;
	CHECK_EQ(res(&fs, NULL, "/secret/x", 0, NULL), 17);
	fsv_destroy(&fs);
}

static long read_all(struct fsv *fs, const char *p, char *buf, size_t cap)
{
	struct fsv_node *n = get(fs, p, FSV_FOLLOW);
	if (!n)
		return -ENOENT;
	long r = fsv_read(fs, n, buf, cap - 1, 0);
	if (r >= 0)
		buf[r] = 0;
	fsv_unref(fs, n);
	return r;
}

static int listed(struct fsv *fs, const char *dir, const char *name)
{
	struct fsv_node *d = get(fs, dir, FSV_FOLLOW);
	struct fsv_dirlist l;
	int found = 0;
	if (!d || fsv_list(fs, d, &l) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.e[i].name, name) == 0)
			found++;
	fsv_list_free(&l);
	fsv_unref(fs, d);
	return found;
}

static void test_ephemeral(void)
{
	struct fsv fs;
	setup(&fs);
	char buf[256];
	struct fsv_node *etc = get(&fs, "/etc", 0), *n;

	/* integrity violation: EIO + report with the path */
	CHECK_EQ(read_all(&fs, "/etc/bad", buf, sizeof(buf)), -EIO);
	CHECK_EQ(integrity_calls, 1);
	CHECK(strcmp(integrity_path, "/etc/bad") == 0);

	/* create and write a new file */
	CHECK_EQ(fsv_create(&fs, etc, "new", 3, FSV_IFREG | 0644, NULL, &n), 0);
	CHECK_EQ(fsv_write(&fs, n, "abc", 3, 0), 3);
	CHECK_EQ(fsv_write(&fs, n, "Z", 1, 5), 1); /* hole is zero-filled */
	CHECK_EQ(fsv_read(&fs, n, buf, sizeof(buf), 0), 6);
	CHECK(memcmp(buf, "abc\0\0Z", 6) == 0);
	CHECK_EQ(fsv_create(&fs, etc, "new", 3, FSV_IFREG | 0644, NULL, NULL), -EEXIST);
	CHECK_EQ(fsv_create(&fs, etc, "passwd", 6, FSV_IFREG | 0644, NULL, NULL), -EEXIST);
	CHECK_EQ(listed(&fs, "/etc", "new"), 1);
	CHECK_EQ(listed(&fs, "/etc", "passwd"), 1);
	fsv_unref(&fs, n);

	/* copy-up: writing an image file leaves the image untouched */
	n = get(&fs, "/etc/passwd", 0);
	int before = image_reads;
	CHECK_EQ(fsv_write(&fs, n, "ROOT", 4, 0), 4);
	CHECK_EQ(image_reads, before + 1);
	CHECK_EQ(read_all(&fs, "/etc/passwd", buf, sizeof(buf)), 11);
	CHECK(strcmp(buf, "ROOT:x:0:0\n") == 0);
	CHECK(strcmp(img[2].data, "root:x:0:0\n") == 0);
	CHECK_EQ(fsv_truncate(&fs, n, 2), 0);
	CHECK_EQ(read_all(&fs, "/etc/passwd", buf, sizeof(buf)), 2);
	fsv_unref(&fs, n);

	/* unlink an image file: whiteout; an open node stays readable */
	n = get(&fs, "/usr/bin/app", 0);
	struct fsv_node *bin = get(&fs, "/usr/bin", 0);
	CHECK_EQ(fsv_remove(&fs, bin, "app", 3, 0), 0);
	CHECK_EQ(res(&fs, NULL, "/usr/bin/app", 0, NULL), -ENOENT);
	CHECK_EQ(listed(&fs, "/usr/bin", "app"), 0);
	CHECK_EQ(fsv_read(&fs, n, buf, sizeof(buf), 0), 8);
	CHECK_EQ(fsv_node_path(&fs, n, buf, sizeof(buf)), -ENOENT);
	fsv_unref(&fs, n);
	CHECK_EQ(fsv_remove(&fs, bin, "app", 3, 0), -ENOENT);
	/* re-create over the whiteout */
	CHECK_EQ(fsv_create(&fs, bin, "app", 3, FSV_IFREG | 0755, NULL, &n), 0);
	CHECK_EQ(fsv_read(&fs, n, buf, sizeof(buf), 0), 0);
	CHECK(n->ino > 0xffffffffull);
	fsv_unref(&fs, n);
	CHECK_EQ(listed(&fs, "/usr/bin", "app"), 1);

	/* directories */
	struct fsv_node *root = get(&fs, "/", 0), *usr = get(&fs, "/usr", 0);
	CHECK_EQ(fsv_remove(&fs, root, "usr", 3, 1), -ENOTEMPTY);
	CHECK_EQ(fsv_remove(&fs, root, "usr", 3, 0), -EISDIR);
	CHECK_EQ(fsv_remove(&fs, etc, "passwd", 6, 1), -ENOTDIR);
	CHECK_EQ(fsv_remove(&fs, etc, "empty", 5, 1), 0);
	CHECK_EQ(listed(&fs, "/etc", "empty"), 0);
	CHECK_EQ(fsv_create(&fs, etc, "empty", 5, FSV_IFDIR | 0755, NULL, &n), 0);
	CHECK_EQ(listed(&fs, "/etc/empty", "."), 1);
	fsv_unref(&fs, n);
	/* rename an image directory: its image content moves with it */
	CHECK_EQ(fsv_rename(&fs, usr, "bin", 3, root, "ubin", 4, 0), 0);
	CHECK_EQ(res(&fs, NULL, "/usr/bin", 0, NULL), -ENOENT);
	CHECK(res(&fs, NULL, "/ubin/app", 0, NULL) > 0);
	CHECK_EQ(listed(&fs, "/usr", "bin"), 0);
	CHECK_EQ(listed(&fs, "/", "ubin"), 1);
	CHECK_EQ(fsv_node_path(&fs, bin, buf, sizeof(buf)), 5);
	CHECK(strcmp(buf, "/ubin") == 0);
	CHECK_EQ(res(&fs, NULL, "/bin", FSV_FOLLOW, NULL), -ENOENT); /* dangling now */
	/* a directory cannot move into itself */
	CHECK_EQ(fsv_rename(&fs, root, "ubin", 4, bin, "x", 1, 0), -EINVAL);
	/* file over file, noreplace, exchange */
	CHECK_EQ(fsv_rename(&fs, etc, "new", 3, etc, "abs", 3, 1), -EEXIST);
	CHECK_EQ(fsv_rename(&fs, etc, "new", 3, etc, "abs", 3, 0), 0);
	CHECK_EQ(res(&fs, NULL, "/etc/new", 0, NULL), -ENOENT);
	CHECK_EQ(read_all(&fs, "/etc/abs", buf, sizeof(buf)), 6);
	CHECK_EQ(fsv_rename(&fs, etc, "abs", 3, etc, "passwd", 6, 2), 0);
	CHECK_EQ(read_all(&fs, "/etc/passwd", buf, sizeof(buf)), 6);
	CHECK_EQ(read_all(&fs, "/etc/abs", buf, sizeof(buf)), 2);
	CHECK_EQ(fsv_rename(&fs, etc, "passwd", 6, root, "ubin", 4, 0), -EISDIR);
	CHECK_EQ(fsv_rename(&fs, root, "ubin", 4, etc, "passwd", 6, 0), -ENOTDIR);
	CHECK_EQ(fsv_rename(&fs, etc, "missing", 7, etc, "x", 1, 0), -ENOENT);

	/* symlinks and hard links in the ephemeral layer */
	CHECK_EQ(fsv_create(&fs, root, "l", 1, FSV_IFLNK, "etc/passwd", NULL), 0);
	CHECK_EQ(read_all(&fs, "/l", buf, sizeof(buf)), 6);
	n = get(&fs, "/l", 0);
	CHECK_EQ(fsv_readlink(&fs, n, buf, sizeof(buf)), 10);
	fsv_unref(&fs, n);
	n = get(&fs, "/etc/passwd", 0);
	CHECK_EQ(fsv_link(&fs, n, root, "hl", 2), 0);
	CHECK_EQ(n->nlink, 2);
	CHECK_EQ(fsv_write(&fs, n, "!", 1, 0), 1);
	CHECK_EQ(read_all(&fs, "/hl", buf, sizeof(buf)), 6);
	CHECK(buf[0] == '!');
	fsv_unref(&fs, n);

	/* permissions on the ephemeral layer */
	fs.uid = fs.gid = 1000;
	CHECK_EQ(fsv_create(&fs, etc, "u", 1, FSV_IFREG | 0644, NULL, NULL), -EACCES);
	struct fsv_node *home = get(&fs, "/home", 0);
	CHECK_EQ(fsv_create(&fs, home, "u", 1, FSV_IFREG | 0600, NULL, &n), 0);
	CHECK_EQ(n->uid, 1000);
	CHECK_EQ(fsv_chmod(&fs, n, 0640), 0);
	CHECK_EQ(n->mode, FSV_IFREG | 0640);
	fsv_unref(&fs, n);
	n = get(&fs, "/etc/passwd", 0);
	CHECK_EQ(fsv_chmod(&fs, n, 0777), -EPERM);
	CHECK_EQ(fsv_access(&fs, n, 2), -EACCES);
	fsv_unref(&fs, n);
	fs.uid = fs.gid = 0;
	fsv_unref(&fs, home);

	/* ephemeral space limit */
	fs.eph_max = fs.eph_bytes + 8192;
	n = get(&fs, "/home/u", 0);
	static char big[16384];
	CHECK_EQ(fsv_write(&fs, n, big, sizeof(big), 0), -ENOSPC);
	CHECK_EQ(fsv_write(&fs, n, big, 4096, 0), 4096);
	fsv_unref(&fs, n);

	/* removed directories and relinked files never keep a pointer to a
	 * parent that can be freed (cwd in a removed dir, open hard link) */
	{
		struct fsv_node *p, *c, *a, *f;
		CHECK_EQ(fsv_create(&fs, root, "p", 1, FSV_IFDIR | 0755, NULL, &p), 0);
		CHECK_EQ(fsv_create(&fs, p, "c", 1, FSV_IFDIR | 0755, NULL, &c), 0);
		CHECK_EQ(fsv_remove(&fs, p, "c", 1, 1), 0);
		CHECK_EQ(fsv_remove(&fs, root, "p", 1, 1), 0);
		fsv_unref(&fs, p); /* p is freed now */
		struct fsv_start cs = {c, NULL};
		CHECK_EQ(res(&fs, &cs, "..", 0, NULL), -ENOENT);
		CHECK_EQ(fsv_node_path(&fs, c, buf, sizeof(buf)), -ENOENT);
		struct fsv_dirlist l;
		CHECK_EQ(fsv_list(&fs, c, &l), -ENOENT);
		fsv_unref(&fs, c);
		CHECK_EQ(fsv_create(&fs, root, "a", 1, FSV_IFDIR | 0755, NULL, &a), 0);
		CHECK_EQ(fsv_create(&fs, a, "f", 1, FSV_IFREG | 0644, NULL, &f), 0);
		CHECK_EQ(fsv_link(&fs, f, root, "g", 1), 0);
		CHECK_EQ(fsv_remove(&fs, a, "f", 1, 0), 0);
		CHECK_EQ(fsv_remove(&fs, root, "a", 1, 1), 0);
		fsv_unref(&fs, a); /* a is freed now */
		CHECK(fsv_node_path(&fs, f, buf, sizeof(buf)) < 0 || strcmp(buf, "/g") == 0);
		CHECK_EQ(fsv_write(&fs, f, "k", 1, 0), 1);
		CHECK_EQ(read_all(&fs, "/g", buf, sizeof(buf)), 1);
		fsv_unref(&fs, f);
	}

	fsv_unref(&fs, root);
	fsv_unref(&fs, usr);
	fsv_unref(&fs, bin);
	fsv_unref(&fs, etc);
	fsv_destroy(&fs);
}

static void test_files(void)
{
	struct fsv fs;
	setup(&fs);
	static unsigned long live[FSV_FD_LIVE_WORDS], mark[FSV_FD_LIVE_WORDS];
	struct fsv_fdtab t = {0};
	t.live = live;
	t.mark = mark;
	struct fsv_node *pw = get(&fs, "/etc/passwd", 0), *etc = get(&fs, "/etc", 0);
	struct fsv_file *f = fsv_file_new(pw, O_RDONLY);
	CHECK_EQ(fsv_fd_install(&fs, &t, 7, f), 0);
	CHECK_EQ(fsv_fd_install(&fs, &t, 300, f), 0); /* dup: shared description */
	fsv_file_unref(&fs, f);
	char buf[64];
	CHECK_EQ(fsv_file_read(&fs, fsv_fd_get(&t, 7), buf, 4, -1), 4);
	CHECK_EQ(fsv_file_read(&fs, fsv_fd_get(&t, 300), buf, 64, -1), 7); /* offset shared */
	CHECK_EQ(fsv_file_read(&fs, fsv_fd_get(&t, 300), buf, 64, 1), 10); /* pread keeps it */
	CHECK_EQ(fsv_file_seek(&fs, f, 0, 1), 11);
	CHECK_EQ(fsv_file_seek(&fs, f, -1, 2), 10);
	CHECK_EQ(fsv_file_seek(&fs, f, -20, 1), -EINVAL);
	CHECK_EQ(fsv_file_seek(&fs, f, 3, 3), 3);
	CHECK_EQ(fsv_file_seek(&fs, f, 3, 4), 11);
	CHECK_EQ(fsv_file_seek(&fs, f, 20, 3), -ENXIO);
	CHECK_EQ(fsv_file_write(&fs, f, "x", 1, -1), -EBADF);
	CHECK(fsv_fd_get(&t, 8) == NULL && fsv_fd_get(&t, -1) == NULL && fsv_fd_get(&t, 100000) == NULL);
	/* the live bitmap follows the table (readers without the lock) */
	CHECK(fsv_fd_maybe(&t, 7) && fsv_fd_maybe(&t, 300));
	CHECK(!fsv_fd_maybe(&t, 6) && !fsv_fd_maybe(&t, 8) && !fsv_fd_maybe(&t, 301) && !fsv_fd_maybe(&t, -1) &&
	      !fsv_fd_maybe(&t, FSV_FD_LIMIT));
	/* a mark lives as long as its entry: any install or remove clears it */
	fsv_fd_mark(&t, 7);
	fsv_fd_mark(&t, 300);
	CHECK(fsv_fd_marked(&t, 7) && fsv_fd_marked(&t, 300) && !fsv_fd_marked(&t, 8) && !fsv_fd_marked(&t, -1));
	CHECK_EQ(fsv_fd_install(&fs, &t, 300, fsv_fd_get(&t, 7)), 0); /* dup2 over 300 */
	CHECK(!fsv_fd_marked(&t, 300) && fsv_fd_marked(&t, 7));
	fsv_fd_unmark(&t, 7);
	CHECK(!fsv_fd_marked(&t, 7));
	fsv_fd_mark(&t, 7);
	CHECK_EQ(fsv_fd_remove(&fs, &t, 7), 1);
	CHECK(!fsv_fd_marked(&t, 7));
	CHECK_EQ(fsv_fd_remove(&fs, &t, 7), 0);
	CHECK(!fsv_fd_maybe(&t, 7) && fsv_fd_maybe(&t, 300));
	CHECK(fsv_fd_get(&t, 300) != NULL);
	CHECK_EQ(t.count, 1);

	/* append + rdwr */
	struct fsv_file *w = fsv_file_new(pw, O_RDWR | O_APPEND);
	CHECK_EQ(fsv_file_write(&fs, w, "++", 2, 0), 2);
	CHECK_EQ(pw->size, 13);
	CHECK_EQ(fsv_file_read(&fs, w, buf, 64, 11), 2);
	fsv_file_unref(&fs, w);

	/* getdents64 */
	struct fsv_file *d = fsv_file_new(etc, O_RDONLY | O_DIRECTORY);
	CHECK_EQ(fsv_file_read(&fs, d, buf, 1, -1), -EISDIR);
	char dbuf[4096];
	long n = fsv_file_getdents(&fs, d, dbuf, sizeof(dbuf));
	CHECK(n > 0);
	int count = 0, saw_passwd = 0, saw_dot = 0;
	for (long off = 0; off < n;) {
		unsigned short rl;
		memcpy(&rl, dbuf + off + 16, 2);
		CHECK(rl % 8 == 0 && rl >= 24);
		const char *name = dbuf + off + 19;
		if (!strcmp(name, "passwd")) {
			saw_passwd = 1;
			CHECK_EQ(dbuf[off + 18], 8); /* DT_REG */
		}
		if (!strcmp(name, "resolv.conf"))
			CHECK_EQ(dbuf[off + 18], 8); /* a file mount point lists as a file */
		if (!strcmp(name, ".")) {
			saw_dot = 1;
			CHECK_EQ(dbuf[off + 18], 4); /* DT_DIR */
		}
		count++;
		off += rl;
	}
	CHECK(saw_passwd && saw_dot);
	CHECK_EQ(count, 2 + 9); /* . .. passwd loop1 loop2 abs bad mtab dotdot empty resolv.conf */
	CHECK_EQ(fsv_file_getdents(&fs, d, dbuf, sizeof(dbuf)), 0);
	/* small buffer: one record at a time, EINVAL if none fits */
	CHECK_EQ(fsv_file_seek(&fs, d, 0, 0), 0);
	CHECK_EQ(fsv_file_getdents(&fs, d, dbuf, 10), -EINVAL);
	CHECK_EQ(fsv_file_getdents(&fs, d, dbuf, 24), 24);
	fsv_file_unref(&fs, d);

	/* chunk cache: small sequential reads of an image file authenticate
	 * each chunk once; results are identical to uncached reads */
	{
		struct fsv_node *app = get(&fs, "/usr/bin/app", 0);
		fs.chunk = 4;
		struct fsv_file *cf = fsv_file_new(app, O_RDONLY);
		char out[16] = {0};
		int before = image_reads;
		long got = 0;
		for (int i = 0; i < 8; i++)
			got += fsv_file_read(&fs, cf, out + i, 1, -1);
		CHECK_EQ(got, 8);
		CHECK(memcmp(out, "\177ELF-app", 8) == 0);
		CHECK_EQ(image_reads - before, 2);		 /* 8 bytes, 2 chunks of 4 */
		CHECK_EQ(fsv_file_read(&fs, cf, out, 1, -1), 0); /* EOF */
		CHECK_EQ(fsv_file_read(&fs, cf, out, 3, 2), 3);	 /* crosses a chunk boundary */
		CHECK(memcmp(out, "LF-", 3) == 0);
		before = image_reads;
		memset(out, 0, sizeof out);
		CHECK_EQ(fsv_file_read(&fs, cf, out, 7, 1), 7); /* head from a chunk, whole chunk direct */
		CHECK(memcmp(out, "ELF-app", 7) == 0);
		CHECK_EQ(image_reads - before, 2); /* chunk 0 into the cache, chunk 1 directly */
		/* after a copy-up the cache is bypassed */
		CHECK_EQ(fsv_write(&fs, app, "Z", 1, 3), 1);
		CHECK_EQ(fsv_file_read(&fs, cf, out, 2, 2), 2);
		CHECK(memcmp(out, "LZ", 2) == 0);
		fsv_file_unref(&fs, cf);
		/* integrity errors still surface through the cache */
		struct fsv_node *bad = get(&fs, "/etc/bad", 0);
		cf = fsv_file_new(bad, O_RDONLY);
		CHECK_EQ(fsv_file_read(&fs, cf, out, 1, -1), -EIO);
		fsv_file_unref(&fs, cf);
		fsv_unref(&fs, bad);
		fsv_unref(&fs, app);
		fs.chunk = 0;
	}

	fsv_fd_destroy(&fs, &t);
	for (size_t i = 0; i < FSV_FD_LIVE_WORDS; i++)
		CHECK_EQ(live[i], 0);
	fsv_unref(&fs, pw);
	fsv_unref(&fs, etc);
	fsv_destroy(&fs);
}

/* Randomized: paths built from a small alphabet and random namespace
 * operations; ASan/UBSan catch memory errors, the checks catch results
 * that break the resolver's contract. Deterministic seed. */
static unsigned long rng = 12345;
static unsigned rnd(unsigned n)
{
	rng = rng * 6364136223846793005ul + 1442695040888963407ul;
	return (unsigned)(rng >> 33) % n;
}

static void test_random(void)
{
	static const char *comp[] = {"etc", "..",     ".",    "bin", "usr", "passwd", "loop1", "",    "proc", "x",
				     "abs", "dotdot", "mtab", "new", "d",   "dev",    "self",  "exe", "data", "vol"};
	const unsigned nc = sizeof comp / sizeof comp[0];
	struct fsv fs;
	setup(&fs);
	char path[512];
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = 0;
		unsigned k = 1 + rnd(6);
		if (rnd(4))
			path[len++] = '/';
		for (unsigned i = 0; i < k; i++) {
			const char *c = comp[rnd(nc)];
			size_t cl = strlen(c);
			memcpy(path + len, c, cl);
			len += cl;
			if (i + 1 < k || rnd(5) == 0)
				path[len++] = '/';
		}
		path[len] = 0;
		int flags = (rnd(2) ? FSV_FOLLOW : 0) | (rnd(2) ? FSV_PARENT : 0);
		/* nodes held across mutations, like open fds and cwds */
		static struct fsv_node *held[8];
		unsigned h = rnd(8);
		if (held[h]) {
			char pb[FSV_PATH_MAX];
			fsv_node_path(&fs, held[h], pb, sizeof pb);
			struct fsv_start hs = {held[h], NULL};
			struct fsv_res hr;
			if (fsv_resolve(&fs, &hs, rnd(2) ? ".." : "x/..", FSV_PARENT, &hr) == 0)
				fsv_res_put(&fs, &hr);
			fsv_unref(&fs, held[h]);
		}
		held[h] = get(&fs, path[0] ? path : "/", 0);
		if (iter == 19999)
			for (int i = 0; i < 8; i++)
				if (held[i]) {
					fsv_unref(&fs, held[i]);
					held[i] = NULL;
				}
		struct fsv_node *cwd = get(&fs, rnd(2) ? "/usr" : "/", 0);
		struct fsv_start st = {cwd, NULL};
		struct fsv_res r;
		int e = fsv_resolve(&fs, cwd ? &st : NULL, path, flags, &r);
		if (e == 0 && r.host) {
			CHECK(fsv_is_mounted(&fs, r.host_path, strlen(r.host_path)));
			CHECK(strstr(r.host_path, "/..") == NULL);
		} else if (e == 0) {
			CHECK(r.dir != NULL);
			CHECK(r.node || (flags & FSV_PARENT));
			/* random mutation at the resolved place */
			unsigned op = rnd(6);
			if (!r.node && op < 3 && r.namelen && !r.dot)
				fsv_create(&fs, r.dir, r.name, r.namelen, op == 0 ? FSV_IFDIR | 0755 : FSV_IFREG | 0644,
					   NULL, NULL);
			else if (r.node && op == 3 && !r.dot && r.node != fs.root)
				fsv_remove(&fs, r.dir, r.name, r.namelen, (r.node->mode & FSV_IFMT) == FSV_IFDIR);
			else if (r.node && op == 4 && !r.dot && r.node != fs.root)
				fsv_rename(&fs, r.dir, r.name, r.namelen, fs.root, "d", 1, rnd(3));
			else if (r.node && op == 5 && (r.node->mode & FSV_IFMT) == FSV_IFREG)
				rnd(2) ? (void)fsv_write(&fs, r.node, "zz", 2, rnd(10)) :
					 (void)fsv_link(&fs, r.node, fs.root, comp[rnd(nc)], 1);
			fsv_res_put(&fs, &r);
		} else {
			CHECK(e == -ENOENT || e == -ENOTDIR || e == -ELOOP || e == -ENAMETOOLONG || e == -EACCES ||
			      e == -EIO);
		}
		if (cwd)
			fsv_unref(&fs, cwd);
	}
	fsv_destroy(&fs);
}

/* ---- what the runtime answers itself (fsv_magic.c) ---- */
static long m_pid(void *ctx)
{
	(void)ctx;
	return 4242;
}

static const char m_env[] = "A=1\0B=two\0";
static const char m_cmd[] = "prog\0arg\0";
static const char m_status[] = "Name:\tprog\nUid:\t5\t5\t5\t5\n";
static void m_proc(void *ctx, int which, const char **data, size_t *len)
{
	(void)ctx;
	*data = which == FSV_PROC_ENVIRON ? m_env : which == FSV_PROC_STATUS ? m_status : m_cmd;
	*len = which == FSV_PROC_ENVIRON ? sizeof m_env - 1 :
	       which == FSV_PROC_STATUS	 ? sizeof m_status - 1 :
					   sizeof m_cmd - 1;
}

static int m_random(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	memset(buf, 0xab, len);
	return 0;
}

static void test_magic(void)
{
	struct fsv fs;
	setup(&fs);
	fs.self_pid = m_pid;
	fs.proc_data = m_proc;
	fs.random = m_random;
	fd5_node = get(&fs, "/etc/passwd", 0);
	char hp[FSV_PATH_MAX];
	const struct {
		const char *path;
		int flags;
		long want;	  /* image ino, -errno, 0: host, -1000: special node */
		const char *host; /* the host path when want == 0 */
	} cases[] = {
		/* the allow-list */
		{"/proc", 0, 0, "/proc"},
		{"/proc/cpuinfo", FSV_FOLLOW, 0, "/proc/cpuinfo"},
		{"/proc/sys/kernel/pid_max", FSV_FOLLOW, 0, "/proc/sys/kernel/pid_max"},
		{"/proc/kcore", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/sysrq-trigger", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/self/status", FSV_FOLLOW, -1000, NULL}, /* with the virtual ids */
		{"/proc/4242/status", FSV_FOLLOW, -1000, NULL},
		{"/proc/self/maps", FSV_FOLLOW, 0, "/proc/self/maps"},
		{"/proc/self/task/7/status", FSV_FOLLOW, 0, "/proc/self/task/7/status"},
		{"/proc/self/task/7/task/7", FSV_FOLLOW, -ENOENT, NULL},
		{"/proc/1/status", FSV_FOLLOW, 0, "/proc/1/status"},
		{"/proc/self/root", 0, -EACCES, NULL},
		{"/proc/self/root/run/secrets/fs.key", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/1/root/run/secrets/fs.key", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/thread-self/root/etc", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/self/task/3/root/x", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/self/cwd", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/self/mem", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/self/map_files", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/self/pagemap", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/self/auxv", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/self/syscall", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/1/environ", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/1/cmdline", FSV_FOLLOW, 0, "/proc/1/cmdline"},
		{"/proc//self/./mem", FSV_FOLLOW, -EACCES, NULL},
		/* the process's own view */
		{"/proc/self/environ", FSV_FOLLOW, -1000, NULL},
		{"/proc/4242/environ", FSV_FOLLOW, -1000, NULL},
		{"/proc/thread-self/environ", FSV_FOLLOW, -1000, NULL},
		{"/proc/self/task/9/cmdline", FSV_FOLLOW, -1000, NULL},
		{"/proc//self/./environ", FSV_FOLLOW, -1000, NULL},
		{"/proc/self/environ/x", FSV_FOLLOW, -ENOTDIR, NULL},
		/* magic links */
		{"/proc/self/exe", FSV_FOLLOW, 7, NULL},
		{"/proc/4242/exe", FSV_FOLLOW, 7, NULL},
		{"/proc/1/exe", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/1/exe", 0, 0, "/proc/1/exe"},
		{"/proc/self/fd", FSV_FOLLOW, 0, "/proc/self/fd"},
		{"/proc/self/fd/5", FSV_FOLLOW, 3, NULL},
		{"/proc/4242/fd/5", FSV_FOLLOW, 3, NULL},
		{"/proc/thread-self/fd/5", FSV_FOLLOW, 3, NULL},
		{"/proc/self/task/11/fd/5", FSV_FOLLOW, 3, NULL},
		{"/proc/self/fd/5", 0, 0, "/proc/self/fd/5"},
		{"/proc/1/fd/5", FSV_FOLLOW, -EACCES, NULL},
		{"/proc/1/fd/5", 0, 0, "/proc/1/fd/5"},
		{"/proc/self/fd/x", FSV_FOLLOW, -ENOENT, NULL},
		{"/dev/fd/5", FSV_FOLLOW, 3, NULL},
		{"/dev/stdout", FSV_FOLLOW, 0, "/proc/self/fd/1"},
		{"/dev/stdout", 0, 0, "/dev/stdout"},
		{"/dev/null", FSV_FOLLOW, 0, "/dev/null"},
		{"/dev/urandom", FSV_FOLLOW, -1000, NULL},
		{"/dev/random", 0, -1000, NULL},
		{"/dev/urandom/x", FSV_FOLLOW, -ENOTDIR, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fsv_res r;
		int e = fsv_resolve(&fs, NULL, cases[i].path, cases[i].flags, &r);
		long got;
		if (e < 0)
			got = e;
		else if (r.host)
			got = 0;
		else
			got = r.node->special ? -1000 : (long)r.node->ino;
		if (got == 0)
			strcpy(hp, r.host_path);
		if (e == 0 && !r.host)
			fsv_res_put(&fs, &r);
		if (got != cases[i].want || (got == 0 && cases[i].host && strcmp(hp, cases[i].host))) {
			fprintf(stderr, "%s (flags %d): got %ld host %s, want %ld host %s\n", cases[i].path,
				cases[i].flags, got, got == 0 ? hp : "-", cases[i].want,
				cases[i].host ? cases[i].host : "-");
			test_failures++;
		}
	}
	/* content: the application's view, read-only */
	struct fsv_node *n = get(&fs, "/proc/self/environ", FSV_FOLLOW);
	CHECK(n != NULL);
	if (n) {
		char buf[64];
		CHECK_EQ(fsv_read(&fs, n, buf, sizeof buf, 0), (long)sizeof m_env - 1);
		CHECK(memcmp(buf, m_env, sizeof m_env - 1) == 0);
		CHECK_EQ(fsv_write(&fs, n, "x", 1, 0), -EACCES);
		CHECK_EQ(fsv_truncate(&fs, n, 0), -EACCES);
		fsv_unref(&fs, n);
	}
	n = get(&fs, "/dev/urandom", FSV_FOLLOW);
	CHECK(n != NULL);
	if (n) {
		unsigned char buf[32], want[32];
		memset(buf, 0, sizeof buf);
		memset(want, 0xab, sizeof want);
		CHECK_EQ(fsv_read(&fs, n, buf, sizeof buf, 0), 32);
		CHECK(memcmp(buf, want, sizeof buf) == 0);
		CHECK_EQ(fsv_write(&fs, n, buf, 7, 0), 7);
		struct fsv_stat st;
		fsv_getattr(&fs, n, &st);
		CHECK((st.mode & FSV_IFMT) == FSV_IFCHR && st.rdev_major == 1 && st.rdev_minor == 9);
		fsv_unref(&fs, n);
	}
	fsv_unref(&fs, fd5_node);
	fd5_node = NULL;
	fsv_destroy(&fs);
}

/* fsv_place_file: the CAS policy's files, placed as root before the program
 * runs, owned by the application's user. */
static void test_place(void)
{
	struct fsv fs;
	setup(&fs);
	fs.uid = fs.gid = 1000; /* the application's user */
	static const struct {
		const char *path;
		uint32_t mode;
		const char *data;
		int want;
		const char *read_as; /* where to read it back ("" : path) */
	} cases[] = {
		{"/etc/app/app.conf", 0400, "password = x\n", 0, ""},		  /* new directory */
		{"/etc/passwd", 0444, "replaced\n", 0, ""},			  /* an image file */
		{"/secret/new/deep/f", 0600, "s", 0, ""},			  /* under a 0700 root directory */
		{"/bin/tool.conf", 0644, "via symlink", 0, "/usr/bin/tool.conf"}, /* /bin -> usr/bin */
		{"/etc/app/second", 0400, "2", 0, ""},				  /* directory exists now */
		{"/etc/abs", 0400, "not through", 0, ""},			  /* a symlink: replaced */
		{"/empty.bin", 0, "", 0, ""},					  /* empty, mode 0 */
		{"/proc/x", 0400, "x", -EXDEV, NULL},				  /* passthrough */
		{"/data/vol/k", 0400, "x", -EXDEV, NULL},			  /* a volume */
		{"/etc/resolv.conf", 0400, "x", -EXDEV, NULL},
		{"/etc/empty", 0400, "x", -EISDIR, NULL},
		{"/etc/passwd/x", 0400, "x", -ENOTDIR, NULL},
		{"/etc/f", 01000, "x", -EINVAL, NULL},
		{"etc/f", 0400, "x", -EINVAL, NULL},
		{"/", 0400, "x", -EINVAL, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = strlen(cases[i].data);
		int e = fsv_place_file(&fs, cases[i].path, cases[i].mode, 1000, 1001, cases[i].data, len);
		if (e != cases[i].want)
			fprintf(stderr, "place %s: %d, want %d\n", cases[i].path, e, cases[i].want);
		CHECK_EQ(e, cases[i].want);
		CHECK(fs.uid == 1000 && fs.gid == 1000); /* credentials restored */
		if (e)
			continue;
		const char *at = cases[i].read_as[0] ? cases[i].read_as : cases[i].path;
		fs.uid = 0; /* /secret is closed to user 1000 */
		struct fsv_node *n = get(&fs, at, 0);
		fs.uid = 1000;
		CHECK(n != NULL);
		if (!n)
			continue;
		char buf[64];
		CHECK_EQ(fsv_read(&fs, n, buf, sizeof buf, 0), (long)len);
		CHECK(!memcmp(buf, cases[i].data, len));
		CHECK((n->mode & FSV_IFMT) == FSV_IFREG && (n->mode & 07777) == cases[i].mode);
		CHECK(n->uid == 1000 && n->gid == 1001);
		fsv_unref(&fs, n);
	}
	/* the directories made for it: root's, 0755 */
	struct fsv_node *d = get(&fs, "/etc/app", 0);
	CHECK(d && (d->mode & 07777) == 0755 && d->uid == 0);
	if (d)
		fsv_unref(&fs, d);
	/* the symlink target of /etc/abs is untouched */
	char buf[64];
	CHECK(read_all(&fs, "/etc/passwd", buf, sizeof buf) == 9 && !strcmp(buf, "replaced\n"));
	CHECK(listed(&fs, "/etc/app", "app.conf") == 1 && listed(&fs, "/etc", "passwd") == 1);
	/* the application's user reads its 0400 file and cannot read /secret's */
	struct fsv_node *f = get(&fs, "/etc/app/app.conf", 0);
	CHECK(f && fsv_access(&fs, f, 4) == 0 && fsv_access(&fs, f, 2) == -EACCES);
	if (f)
		fsv_unref(&fs, f);
	/* limits of the ephemeral layer */
	fs.eph_max = fs.eph_bytes + 4;
	CHECK_EQ(fsv_place_file(&fs, "/etc/big", 0400, 0, 0, "0123456789", 10), -ENOSPC);
	fsv_destroy(&fs);
}

/* Files past FSV_CHUNK keep chunks allocated when written: holes cost
 * nothing and read as zeros (fsv_data.c). */
static void test_sparse(void)
{
	struct fsv fs;
	setup(&fs);
	struct fsv_node *home = get(&fs, "/home", 0), *f, *g;
	CHECK_EQ(fsv_create(&fs, home, "sparse", 6, FSV_IFREG | 0644, NULL, &f), 0);
	uint64_t base = fs.eph_bytes;
	fs.eph_max = base + (1 << 20); /* 1 MiB for a 2 GiB file */
	CHECK_EQ(fsv_write(&fs, f, "A", 1, 1ull << 30), 1);
	CHECK_EQ(fsv_write(&fs, f, "B", 1, 2ull << 30), 1);
	CHECK_EQ(f->size, (2ull << 30) + 1);
	CHECK(fs.eph_bytes - base < (1 << 20));
	char b[4] = "xxx";
	CHECK_EQ(fsv_read(&fs, f, b, 3, (1ull << 30) - 1), 3);
	CHECK(b[0] == 0 && b[1] == 'A' && b[2] == 0);
	CHECK_EQ(fsv_read(&fs, f, b, 4, 2ull << 30), 1);
	CHECK_EQ(b[0], 'B');

	/* a write across chunk boundaries reads back */
	static char pat[3 * FSV_CHUNK], back[3 * FSV_CHUNK];
	for (size_t i = 0; i < sizeof pat; i++)
		pat[i] = (char)(i * 7 + 1);
	CHECK_EQ(fsv_write(&fs, f, pat, sizeof pat, FSV_CHUNK - 7), (long)sizeof pat);
	CHECK_EQ(fsv_read(&fs, f, back, sizeof back, FSV_CHUNK - 7), (long)sizeof back);
	CHECK(memcmp(pat, back, sizeof pat) == 0);

	/* shrinking drops chunks; growing again reads zeros, not old bytes */
	uint64_t before = fs.eph_bytes;
	CHECK_EQ(fsv_truncate(&fs, f, 3), 0);
	CHECK(fs.eph_bytes < before);
	CHECK_EQ(fsv_truncate(&fs, f, 1ull << 31), 0);
	CHECK_EQ(fsv_read(&fs, f, back, FSV_CHUNK * 2, 0), (long)FSV_CHUNK * 2);
	int zero = 1;
	for (size_t i = 3; i < FSV_CHUNK * 2; i++)
		zero &= back[i] == 0;
	CHECK(zero && back[0] == 0 && back[1] == 0 && back[2] == 0);
	CHECK_EQ(fsv_read(&fs, f, b, 1, 1ull << 30), 1);
	CHECK_EQ(b[0], 0);

	/* a small file keeps its bytes when it becomes chunked */
	CHECK_EQ(fsv_create(&fs, home, "grow", 4, FSV_IFREG | 0644, NULL, &g), 0);
	CHECK_EQ(fsv_write(&fs, g, "hello", 5, 0), 5);
	CHECK_EQ(fsv_write(&fs, g, "!", 1, 5 * FSV_CHUNK), 1);
	CHECK_EQ(fsv_read(&fs, g, back, 6, 0), 6);
	CHECK(memcmp(back, "hello", 6) == 0);

	/* chunks count against the limit */
	fs.eph_max = fs.eph_bytes + FSV_CHUNK;
	CHECK_EQ(fsv_write(&fs, g, pat, sizeof pat, 8 * FSV_CHUNK), -ENOSPC);

	/* everything is given back */
	fsv_unref(&fs, f);
	fsv_unref(&fs, g);
	CHECK_EQ(fsv_remove(&fs, home, "sparse", 6, 0), 0);
	CHECK_EQ(fsv_remove(&fs, home, "grow", 4, 0), 0);
	CHECK_EQ(fs.eph_bytes, base);
	fsv_unref(&fs, home);
	fsv_destroy(&fs);
}

struct pieces {
	uint8_t *src[8];
	size_t len[8];
	uint64_t at[8];
	int n, fail_at;
};

static int record(void *ctx, void *src, size_t len, uint64_t at)
{
	struct pieces *p = ctx;
	if (p->n == p->fail_at || p->n == 8)
		return -EIO;
	p->src[p->n] = src;
	p->len[p->n] = len;
	p->at[p->n++] = at;
	return 0;
}

/* fsv_share: the file's memory as a shared mapping sees it. */
static void test_share(void)
{
	struct fsv fs;
	setup(&fs);
	struct fsv_node *home = get(&fs, "/home", 0), *f;
	CHECK_EQ(fsv_create(&fs, home, "shm", 3, FSV_IFREG | 0644, NULL, &f), 0);
	uint64_t base = fs.eph_bytes;
	CHECK_EQ(fsv_write(&fs, f, "hello", 5, 0), 5);

	/* a small file becomes chunks; pieces never cross a chunk */
	struct pieces p = {.fail_at = -1};
	CHECK_EQ(fsv_share(&fs, f, 4096, FSV_CHUNK + 8192, record, &p), 0);
	CHECK_EQ(p.n, 2);
	CHECK(p.len[0] == FSV_CHUNK - 4096 && p.at[0] == 0 && p.len[1] == 3 * 4096 && p.at[1] == FSV_CHUNK - 4096);
	CHECK(f->shared && f->chunk && !f->data && f->size == 5);
	char b[8] = "";
	CHECK_EQ(fsv_read(&fs, f, b, 8, 0), 5);
	CHECK(memcmp(b, "hello", 5) == 0);

	/* writes through the mapping and fsv_write see each other */
	CHECK_EQ(fsv_truncate(&fs, f, 8192), 0);
	memcpy(p.src[0], "mapped", 6); /* the file's byte 4096 */
	CHECK_EQ(fsv_read(&fs, f, b, 6, 4096), 6);
	CHECK(memcmp(b, "mapped", 6) == 0);
	CHECK_EQ(fsv_write(&fs, f, "W", 1, FSV_CHUNK + 1), 1);
	CHECK_EQ(p.src[1][1], 'W'); /* p.src[1] is the file's byte FSV_CHUNK */

	/* bytes the mapping wrote past the end read as zeros once the file grows */
	p.src[1][8000] = 'x'; /* past the end (FSV_CHUNK + 2) */
	CHECK_EQ(fsv_write(&fs, f, "e", 1, FSV_CHUNK + 9000), 1);
	CHECK_EQ(fsv_read(&fs, f, b, 1, FSV_CHUNK + 8000), 1);
	CHECK_EQ(b[0], 0);
	p.src[1][9999] = 'y';
	CHECK_EQ(fsv_truncate(&fs, f, 2 * FSV_CHUNK), 0);
	CHECK_EQ(fsv_read(&fs, f, b, 1, FSV_CHUNK + 9999), 1);
	CHECK_EQ(b[0], 0);

	/* shrinking keeps the chunks (the mapping still shows them) and zeroes
	 * what was cut */
	CHECK_EQ(fsv_truncate(&fs, f, 0), 0);
	CHECK(f->chunk[0] != NULL && f->chunk[1] != NULL);
	CHECK(p.src[0][0] == 0 && p.src[1][1] == 0);

	/* a failing map stops at its piece; misaligned ranges are refused */
	struct pieces q = {.fail_at = 1};
	CHECK_EQ(fsv_share(&fs, f, 0, 2 * FSV_CHUNK, record, &q), -EIO);
	CHECK_EQ(q.n, 1);
	CHECK_EQ(fsv_share(&fs, f, 100, 4096, record, &q), -EINVAL);
	CHECK_EQ(fsv_share(&fs, f, 0, 100, record, &q), -EINVAL);
	CHECK_EQ(fsv_share(&fs, home, 0, 4096, record, &q), -ENODEV);

	/* a range the limit cannot hold takes no chunk and leaves a file not
	 * yet shared as it was: chunks of a shared file are never given back */
	struct fsv_node *sp;
	CHECK_EQ(fsv_create(&fs, home, "sparse", 6, FSV_IFREG | 0644, NULL, &sp), 0);
	CHECK_EQ(fsv_write(&fs, sp, "x", 1, 40 * FSV_CHUNK), 1);
	uint64_t held = fs.eph_bytes, max = fs.eph_max;
	fs.eph_max = held + 8 * FSV_CHUNK; /* room for 8 of the 40 holes */
	struct pieces r = {.fail_at = -1};
	CHECK_EQ(fsv_share(&fs, sp, 0, 41 * FSV_CHUNK, record, &r), -ENOSPC);
	CHECK_EQ(r.n, 0);
	CHECK_EQ(fs.eph_bytes, held);
	CHECK(!sp->shared && sp->chunk[0] == NULL && sp->chunk[39] == NULL && sp->chunk[40] != NULL);
	CHECK_EQ(fsv_share(&fs, sp, 36 * FSV_CHUNK, 5 * FSV_CHUNK, record, &r), 0); /* 4 holes and the data */
	CHECK_EQ(r.n, 5);
	CHECK(sp->shared && sp->chunk[35] == NULL && sp->chunk[36] != NULL && r.src[4][0] == 'x' && r.src[0][0] == 0);
	CHECK_EQ(fs.eph_bytes, held + 4 * FSV_CHUNK);
	fs.eph_max = max;
	uint8_t *kept[5];
	for (int i = 0; i < 5; i++)
		kept[i] = sp->chunk[36 + i];
	fsv_unref(&fs, sp);
	CHECK_EQ(fsv_remove(&fs, home, "sparse", 6, 0), 0);
	for (int i = 0; i < 5; i++)
		fsv_sh_pages_free(kept[i]); /* shared: the FS keeps them (and counts them) */

	/* removed and closed, the file's chunks stay taken and counted */
	uint8_t *c0 = f->chunk[0], *c1 = f->chunk[1];
	uint64_t before = fs.eph_bytes;
	fsv_unref(&fs, f);
	CHECK_EQ(fsv_remove(&fs, home, "shm", 3, 0), 0);
	CHECK_EQ(fs.eph_bytes, base + 7 * FSV_CHUNK); /* these two and the sparse file's five */
	CHECK(fs.eph_bytes < before);
	fsv_sh_pages_free(c0); /* not freed by the FS: freeing them here is no double free */
	fsv_sh_pages_free(c1);
	fsv_unref(&fs, home);
	fsv_destroy(&fs);
}

int main(void)
{
	test_place();
	test_resolve();
	test_magic();
	test_ephemeral();
	test_files();
	test_random();
	test_sparse();
	test_share();
	return test_summary("test_fs_core");
}
