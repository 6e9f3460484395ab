/* Host unit tests of path resolution for names being created and for trees
 * deeper than a path can name (runtime/lib/fsv_path.c):
 *   - FSV_CREATE (mkdir, mknod, symlink, link): a symlink in the last
 *     component is the object, also with a trailing slash (Linux's
 *     filename_create), so mkdir("dangling/") is EEXIST instead of creating
 *     the symlink's target; a trailing slash on a missing name is reported;
 *   - a directory whose absolute path passes FSV_PATH_MAX still resolves
 *     relative paths (Linux limits each path argument, not the depth), ".."
 *     climbs back to where mount points are recognised again, and a deep
 *     directory named like a mount point is not one. */
#include <errno.h>
#include <string.h>

#include "fsv.h"
#include "testutil.h"

static void setup(struct fsv *fs)
{
	memset(fs, 0, sizeof(*fs));
	CHECK_EQ(fsv_init(fs, NULL, NULL, 0), 0);
	CHECK_EQ(fsv_add_mount(fs, "/proc", 1), 0);
}

static struct fsv_node *mk(struct fsv *fs, struct fsv_node *dir, const char *name, uint32_t mode, const char *target)
{
	struct fsv_node *n = NULL;
	CHECK_EQ(fsv_create(fs, dir, name, strlen(name), mode, target, &n), 0);
	return n;
}

static void test_create_flag(void)
{
	struct fsv fs;
	setup(&fs);
	fsv_unref(&fs, mk(&fs, fs.root, "file", FSV_IFREG | 0644, NULL));
	fsv_unref(&fs, mk(&fs, fs.root, "dir", FSV_IFDIR | 0755, NULL));
	fsv_unref(&fs, mk(&fs, fs.root, "dangling", FSV_IFLNK | 0777, "s_target"));
	struct fsv_res r;

	/* a dangling symlink with a trailing slash: the symlink itself */
	CHECK_EQ(fsv_resolve(&fs, NULL, "/dangling/", FSV_PARENT | FSV_CREATE, &r), 0);
	CHECK(r.node && (r.node->mode & FSV_IFMT) == FSV_IFLNK && r.trailing_slash);
	CHECK(strcmp(r.name, "dangling") == 0);
	fsv_res_put(&fs, &r);
	/* a lookup (not a creation) follows it to the missing target */
	CHECK_EQ(fsv_resolve(&fs, NULL, "/dangling/", FSV_PARENT, &r), 0);
	CHECK(!r.node && strcmp(r.name, "s_target") == 0);
	fsv_res_put(&fs, &r);

	/* an existing file with a trailing slash: exists (EEXIST for the
	 * caller), not ENOTDIR; a lookup still says ENOTDIR */
	CHECK_EQ(fsv_resolve(&fs, NULL, "/file/", FSV_PARENT | FSV_CREATE, &r), 0);
	CHECK(r.node && (r.node->mode & FSV_IFMT) == FSV_IFREG);
	fsv_res_put(&fs, &r);
	CHECK_EQ(fsv_resolve(&fs, NULL, "/file/", FSV_PARENT, &r), -ENOTDIR);

	/* a missing name with slashes: its parent, the slash reported */
	CHECK_EQ(fsv_resolve(&fs, NULL, "/dir/new//", FSV_PARENT | FSV_CREATE, &r), 0);
	CHECK(!r.node && r.trailing_slash && strcmp(r.name, "new") == 0);
	fsv_res_put(&fs, &r);
	CHECK_EQ(fsv_resolve(&fs, NULL, "/dir/new", FSV_PARENT | FSV_CREATE, &r), 0);
	CHECK(!r.node && !r.trailing_slash);
	fsv_res_put(&fs, &r);

	/* symlinks before the last component are still followed */
	fsv_unref(&fs, mk(&fs, fs.root, "todir", FSV_IFLNK | 0777, "dir"));
	CHECK_EQ(fsv_resolve(&fs, NULL, "/todir/x/", FSV_PARENT | FSV_CREATE, &r), 0);
	CHECK(!r.node && r.dir && strcmp(r.dir->name, "dir") == 0);
	fsv_res_put(&fs, &r);
	fsv_destroy(&fs);
}

#define LONGNAME 200
#define DEPTH 30 /* 30 * 201 bytes: past FSV_PATH_MAX */

static void test_deep_tree(void)
{
	struct fsv fs;
	setup(&fs);
	char name[LONGNAME + 1];
	memset(name, 'a', LONGNAME);
	name[LONGNAME] = 0;
	struct fsv_node *top = mk(&fs, fs.root, "top", FSV_IFDIR | 0755, NULL);
	struct fsv_node *dir = top, *levels[DEPTH + 1];
	fsv_ref(top);
	levels[0] = top;
	struct fsv_res r;
	for (int i = 1; i <= DEPTH; i++) {
		/* mkdir(name) relative to the current directory, as a program
		 * walking down with chdir does */
		struct fsv_start st = {dir, NULL};
		CHECK_EQ(fsv_resolve(&fs, &st, name, FSV_PARENT | FSV_CREATE, &r), 0);
		CHECK(!r.node && r.dir == dir);
		struct fsv_node *n = NULL;
		CHECK_EQ(fsv_create(&fs, r.dir, r.name, r.namelen, FSV_IFDIR | 0755, NULL, &n), 0);
		fsv_res_put(&fs, &r);
		/* and look it up relative again (chdir(name)) */
		CHECK_EQ(fsv_resolve(&fs, &st, name, FSV_FOLLOW, &r), 0);
		CHECK(r.node == n);
		fsv_res_put(&fs, &r);
		levels[i] = n;
		dir = n;
	}
	char buf[FSV_PATH_MAX];
	CHECK_EQ(fsv_node_path(&fs, dir, buf, sizeof buf), -ERANGE); /* getcwd: ENAMETOOLONG */
	struct fsv_start deep = {dir, NULL};
	/* a file deep down, relative, and "." */
	struct fsv_node *f = mk(&fs, dir, "f", FSV_IFREG | 0644, NULL);
	CHECK_EQ(fsv_resolve(&fs, &deep, "./f", 0, &r), 0);
	CHECK(r.node == f);
	fsv_res_put(&fs, &r);
	/* a directory named like a mount point deep down is the tree's */
	struct fsv_node *proc = mk(&fs, dir, "proc", FSV_IFDIR | 0755, NULL);
	CHECK_EQ(fsv_resolve(&fs, &deep, "proc", 0, &r), 0);
	CHECK(!r.host && r.node == proc);
	fsv_res_put(&fs, &r);
	/* ".." climbs level by level */
	CHECK_EQ(fsv_resolve(&fs, &deep, "../..", 0, &r), 0);
	CHECK(r.node == levels[DEPTH - 2]);
	fsv_res_put(&fs, &r);
	/* climbing to the root: the mount is recognised again */
	char up[3 * (DEPTH + 2) + 16];
	size_t ul = 0;
	for (int i = 0; i < DEPTH + 1; i++) { /* DEPTH levels and "top" */
		memcpy(up + ul, "../", 3);
		ul += 3;
	}
	memcpy(up + ul, "proc/self", 10);
	CHECK_EQ(fsv_resolve(&fs, &deep, up, 0, &r), 0);
	CHECK(r.host && strcmp(r.host_path, "/proc/self") == 0);
	fsv_res_put(&fs, &r);
	memcpy(up + ul, "top", 4);
	CHECK_EQ(fsv_resolve(&fs, &deep, up, 0, &r), 0);
	CHECK(!r.host && r.node == top);
	fsv_res_put(&fs, &r);
	/* an absolute path of FSV_PATH_MAX bytes or more is still too long */
	char *abs = malloc(4 + DEPTH * (LONGNAME + 1) + 1);
	size_t al = 4;
	memcpy(abs, "/top", 4);
	for (int i = 1; i <= DEPTH; i++) {
		abs[al++] = '/';
		memcpy(abs + al, name, LONGNAME);
		al += LONGNAME;
	}
	abs[al] = 0;
	CHECK(al >= FSV_PATH_MAX);
	CHECK_EQ(fsv_resolve(&fs, NULL, abs, 0, &r), -ENAMETOOLONG);
	free(abs);
	/* removing the tree bottom up, relative to each parent */
	fsv_unref(&fs, f);
	fsv_unref(&fs, proc);
	CHECK_EQ(fsv_remove(&fs, dir, "f", 1, 0), 0);
	CHECK_EQ(fsv_remove(&fs, dir, "proc", 4, 1), 0);
	for (int i = DEPTH; i >= 1; i--) {
		CHECK_EQ(fsv_remove(&fs, levels[i - 1], name, LONGNAME, 1), 0);
		fsv_unref(&fs, levels[i]);
	}
	fsv_unref(&fs, top);
	fsv_unref(&fs, top);
	fsv_destroy(&fs);
}

int main(void)
{
	test_create_flag();
	test_deep_tree();
	return test_summary("test_fsv_create");
}
