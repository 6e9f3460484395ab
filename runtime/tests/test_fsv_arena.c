/* Host test of the shared arena of the ephemeral layer (lib/fsv_arena.c)
 * and of an fsv tree shared between forked processes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsv.h"
#include "fsv_arena.h"
#include "testutil.h"
#include "host_rlock.h"

static void test_fallback(void)
{
	/* no arena yet: the private allocator */
	CHECK(!fsv_arena_active());
	char *p = fsv_sh_malloc(10);
	CHECK(p && !fsv_arena_contains(p));
	fsv_sh_free(p);
	unsigned char *pg = fsv_sh_pages();
	CHECK(pg && !fsv_arena_contains(pg) && pg[0] == 0 && pg[FSV_ARENA_PAGES - 1] == 0);
	fsv_sh_pages_free(pg);
}

/* Page blocks: page-aligned from the top, zero-filled also when reused,
 * never overlapping the size classes, NULL when the arena is full. */
static void test_pages(size_t size)
{
	unsigned char *p = fsv_sh_pages(), *q = fsv_sh_pages();
	CHECK(p && q && fsv_arena_contains(p) && fsv_arena_contains(q + FSV_ARENA_PAGES - 1));
	CHECK(((uintptr_t)p & (FSV_ARENA_PAGE - 1)) == 0 && ((uintptr_t)q & (FSV_ARENA_PAGE - 1)) == 0);
	CHECK(q + FSV_ARENA_PAGES <= p || p + FSV_ARENA_PAGES <= q);
	memset(p, 0x5a, FSV_ARENA_PAGES);
	fsv_sh_pages_free(p);
	unsigned char *r = fsv_sh_pages();
	CHECK(r == p);
	size_t nonzero = 0;
	for (size_t i = 0; r && i < FSV_ARENA_PAGES; i++)
		nonzero += r[i] != 0;
	CHECK(nonzero == 0);
	unsigned char *m = fsv_sh_malloc(100);
	CHECK(m && (m + 100 <= q || m >= q + FSV_ARENA_PAGES) && (m + 100 <= r || m >= r + FSV_ARENA_PAGES));
	/* fill the arena with page blocks: the last one fails, and the size
	 * classes cannot take what the blocks hold */
	size_t n = 0;
	void **all = calloc(size / FSV_ARENA_PAGES + 1, sizeof *all);
	while (all && (all[n] = fsv_sh_pages()) != NULL)
		memset(all[n++], 0xa5, FSV_ARENA_PAGES); /* data, as a file's chunk holds */
	CHECK(n > 0 && n < size / FSV_ARENA_PAGES);
	CHECK(fsv_sh_malloc(FSV_ARENA_PAGES) == NULL);
	/* freed in any order, the blocks give their room back to the size
	 * classes once the lowest one (the last taken) is free: the others
	 * first, odd ones then even, then that one */
	for (size_t i = 1; all && i + 1 < n; i += 2)
		fsv_sh_pages_free(all[i]);
	for (size_t i = 0; all && i + 1 < n; i += 2)
		fsv_sh_pages_free(all[i]);
	CHECK(fsv_sh_malloc(FSV_ARENA_PAGES) == NULL); /* the lowest block is still taken */
	if (all)
		fsv_sh_pages_free(all[n - 1]);
	/* a block again, where the room came back: zero-filled, though
	 * the block held data before */
	unsigned char *reused = all ? fsv_sh_pages() : NULL;
	CHECK(reused != NULL);
	size_t dirty = 0;
	for (size_t i = 0; reused && i < FSV_ARENA_PAGES; i++)
		dirty += reused[i] != 0;
	CHECK_MSG(dirty == 0, "%zu bytes of a reused block not zero", dirty);
	fsv_sh_pages_free(reused);
	free(all);
	fsv_sh_pages_free(q);
	fsv_sh_pages_free(r);
	fsv_sh_pages_free(NULL);
	/* every block free: the classes can have (nearly) the whole arena */
	void *most = fsv_sh_malloc(size / 2);
	CHECK(most != NULL);
	fsv_sh_free(most);
	fsv_sh_free(m);
}

static void test_allocator(size_t size)
{
	CHECK(fsv_arena_active());
	CHECK(fsv_arena_size() == size);
	void *a = fsv_sh_malloc(1), *b = fsv_sh_malloc(16), *c = fsv_sh_malloc(17), *d = fsv_sh_malloc(5000);
	CHECK(a && b && c && d && fsv_arena_contains(a) && fsv_arena_contains(d));
	CHECK(((uintptr_t)a & 15) == 0 && ((uintptr_t)c & 15) == 0);
	memset(d, 0xab, 5000);
	fsv_sh_free(b);
	void *b2 = fsv_sh_malloc(12); /* same class: reused */
	CHECK(b2 == b);
	fsv_sh_free(d);
	void *d2 = fsv_sh_malloc(8000);
	CHECK(d2 == d);
	unsigned char *z = fsv_sh_calloc(100, 3);
	CHECK(z);
	for (int i = 0; z && i < 300; i++)
		CHECK(z[i] == 0);
	/* exhaustion returns NULL, not garbage */
	size_t before = fsv_arena_used();
	void *big = fsv_sh_malloc(size);
	CHECK(big == NULL);
	CHECK(fsv_arena_used() == before);
	CHECK(fsv_sh_calloc((size_t)-1, 2) == NULL);
	fsv_sh_free(a);
	fsv_sh_free(b2);
	fsv_sh_free(c);
	fsv_sh_free(d2);
	fsv_sh_free(z);
	fsv_sh_free(NULL);
	test_pages(size);
}

static struct fsv_node *lookup(struct fsv *fs, const char *path)
{
	struct fsv_start st = {fs->root, NULL};
	struct fsv_res r;
	if (fsv_resolve(fs, &st, path, FSV_FOLLOW, &r) < 0)
		return NULL;
	struct fsv_node *n = r.node;
	if (n)
		fsv_ref(n);
	fsv_res_put(fs, &r);
	return n;
}

static int create(struct fsv *fs, const char *dir, const char *name, uint32_t mode, struct fsv_node **out)
{
	struct fsv_node *d = lookup(fs, dir);
	if (!d)
		return -ENOENT;
	int r = fsv_create(fs, d, name, strlen(name), mode, NULL, out);
	fsv_unref(fs, d);
	return r;
}

/* A tree in the arena, shared with forked children (one at a time, as the
 * runtime's shared lock would serialize them). */
static void test_shared_tree(void)
{
	struct fsv fs;
	memset(&fs, 0, sizeof fs);
	struct fsv_arena_shared *sh = fsv_arena_shared();
	fs.next_ino_p = &sh->next_ino;
	fs.eph_bytes_p = &sh->eph_bytes;
	CHECK(fsv_init(&fs, NULL, NULL, 0) == 0);
	CHECK(fsv_arena_contains(fs.root));
	CHECK(create(&fs, "/", "tmp", FSV_IFDIR | 0777, NULL) == 0);

	/* the parent holds an open file across the fork (as a description would) */
	struct fsv_node *held = NULL;
	CHECK(create(&fs, "/tmp", "held", FSV_IFREG | 0644, &held) == 0);
	CHECK(fsv_write(&fs, held, "parent", 6, 0) == 6);
	fsv_ref(held); /* the child's node reference (as for its cwd) */
	struct fsv_file *desc = fsv_file_new(held, 02 /* O_RDWR */);
	CHECK(desc && fsv_arena_contains(desc));
	CHECK(fsv_file_seek(&fs, desc, 6, 0 /* SEEK_SET */) == 6);
	fsv_file_ref(desc); /* the child's fd table entry (fs_fork_prepare) */

	pid_t p = fork();
	if (p == 0) {
		/* child: write a file, a directory, rename, unlink, append to the held file */
		int bad = 0;
		struct fsv_node *x = NULL;
		bad |= create(&fs, "/tmp", "x", FSV_IFREG | 0644, &x) != 0;
		static char big[100000];
		memset(big, 'b', sizeof big);
		bad |= fsv_write(&fs, x, "written by the child\n", 21, 0) != 21;
		bad |= fsv_write(&fs, x, big, sizeof big, 21) != (long)sizeof big;
		fsv_unref(&fs, x);
		bad |= create(&fs, "/tmp", "d", FSV_IFDIR | 0755, NULL) != 0;
		struct fsv_node *t = lookup(&fs, "/tmp"), *d = lookup(&fs, "/tmp/d");
		bad |= !t || !d;
		if (!bad)
			bad |= fsv_rename(&fs, t, "x", 1, d, "moved", 5, 0) != 0;
		bad |= create(&fs, "/tmp", "gone", FSV_IFREG | 0644, NULL) != 0;
		if (!bad)
			bad |= fsv_remove(&fs, t, "gone", 4, 0) != 0;
		bad |= fsv_file_write(&fs, desc, "+child", 6, -1) != 6; /* at the shared offset */
		fsv_file_unref(&fs, desc);				/* child closes its fd */
		fsv_unref(&fs, held);
		fsv_unref(&fs, t);
		fsv_unref(&fs, d);
		_exit(bad ? 1 : 0);
	}
	int st = -1;
	CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	struct fsv_node *m = lookup(&fs, "/tmp/d/moved");
	CHECK(m != NULL);
	char buf[64] = {0};
	if (m) {
		CHECK(fsv_read(&fs, m, buf, 21, 0) == 21);
		CHECK(!memcmp(buf, "written by the child\n", 21));
		CHECK(m->size == 21 + 100000);
		fsv_unref(&fs, m);
	}
	CHECK(lookup(&fs, "/tmp/x") == NULL);
	CHECK(lookup(&fs, "/tmp/gone") == NULL);
	memset(buf, 0, sizeof buf);
	CHECK(desc->off == 12); /* the description's offset moved in the child */
	CHECK(fsv_file_write(&fs, desc, "+again", 6, -1) == 6);
	CHECK(fsv_read(&fs, held, buf, sizeof buf, 0) == 18);
	CHECK(!strcmp(buf, "parent+child+again"));
	CHECK(desc->refs == 1);
	fsv_file_unref(&fs, desc);
	CHECK(held->refs == 2);		  /* the directory entry and the parent's */
	CHECK(*fs.eph_bytes_p >= 100021); /* the child's content is accounted in the shared counter */
	uint64_t ino_before = *fs.next_ino_p;
	fsv_unref(&fs, held);

	/* a second child sees the parent's later changes; inode numbers stay unique */
	struct fsv_node *t = lookup(&fs, "/tmp");
	CHECK(fsv_remove(&fs, t, "held", 4, 0) == 0);
	fsv_unref(&fs, t);
	p = fork();
	if (p == 0) {
		struct fsv_node *n = NULL;
		int bad = lookup(&fs, "/tmp/held") != NULL;
		bad |= create(&fs, "/tmp", "y", FSV_IFREG | 0644, &n) != 0;
		bad |= !n || n->ino < ino_before;
		_exit(bad);
	}
	CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(*fs.next_ino_p > ino_before);
	struct fsv_node *y = lookup(&fs, "/tmp/y");
	CHECK(y != NULL);
	fsv_unref(&fs, y);
	fsv_destroy(&fs);
}

int main(void)
{
	test_fallback();
	size_t size = 16 << 20;
	void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	CHECK(fsv_arena_init(NULL, size, &host_rlock_ops) == -EINVAL);
	CHECK(fsv_arena_init(base, 1000, &host_rlock_ops) == -EINVAL);
	CHECK(fsv_arena_init(base, size, NULL) == -EINVAL);
	CHECK(fsv_arena_init(base, size, &host_rlock_ops) == 0);
	test_allocator(size);
	test_shared_tree();
	return test_summary("test_fsv_arena");
}
