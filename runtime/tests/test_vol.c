/* Host test of runtime/lib/vol*.c (protected volumes, docs/volume.md):
 * the labelled vectors of testdata/volume/vectors.txt (made by pkg/volume,
 * the Go implementation), then the writer: create, write, commit, reopen,
 * rename over a file, unlink while open, truncate, crash tails, tamper. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <bearssl.h>
#include "vol.h"
#include "vol_int.h"
#include "testutil.h"

static char dirpath[256];

static void full(char *out, const char *name) { snprintf(out, 4200, "%s/%s", dirpath, name); }

static long h_pread(void *c, const char *name, void *buf, size_t n, uint64_t off)
{
	(void)c;
	char p[4200];
	full(p, name);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return -errno;
	long r = pread(fd, buf, n, (off_t)off);
	if (r < 0)
		r = -errno;
	close(fd);
	return r;
}

static long h_pwrite(void *c, const char *name, const void *buf, size_t n, uint64_t off)
{
	(void)c;
	char p[4200];
	full(p, name);
	int fd = open(p, O_WRONLY | O_CREAT, 0600);
	if (fd < 0 && errno == ENOENT) {
		char d[4200];
		full(d, "f");
		mkdir(d, 0700);
		fd = open(p, O_WRONLY | O_CREAT, 0600);
	}
	if (fd < 0)
		return -errno;
	long r = pwrite(fd, buf, n, (off_t)off);
	if (r < 0)
		r = -errno;
	close(fd);
	return r;
}

static long h_size(void *c, const char *name, uint64_t *sz)
{
	(void)c;
	char p[4200];
	full(p, name);
	struct stat st;
	if (stat(p, &st))
		return -errno;
	*sz = (uint64_t)st.st_size;
	return 0;
}

static int syncs; /* h_sync calls */

static long h_sync(void *c, const char *name)
{
	(void)c;
	syncs++;
	char p[4200];
	full(p, name);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return -errno;
	fsync(fd);
	close(fd);
	return 0;
}

static long h_truncate(void *c, const char *name, uint64_t sz)
{
	(void)c;
	char p[4200];
	full(p, name);
	return truncate(p, (off_t)sz) ? -errno : 0;
}

static long h_remove(void *c, const char *name)
{
	(void)c;
	char p[4200];
	full(p, name);
	return unlink(p) && errno != ENOENT ? -errno : 0;
}

static long h_rename(void *c, const char *a, const char *b)
{
	(void)c;
	char p[4200], q[4200];
	full(p, a);
	full(q, b);
	return rename(p, q) ? -errno : 0;
}

static long h_list(void *c, const char *d, void (*fn)(void *, const char *), void *arg)
{
	(void)c;
	char p[4200];
	full(p, d);
	DIR *dd = opendir(p);
	if (!dd)
		return -errno;
	struct dirent *e;
	while ((e = readdir(dd)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			fn(arg, e->d_name);
	closedir(dd);
	return 0;
}

static void h_now(void *c, int64_t *s, uint32_t *ns)
{
	(void)c;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	*s = tv.tv_sec;
	*ns = (uint32_t)tv.tv_usec * 1000;
}

static long h_random(void *c, void *buf, size_t n)
{
	(void)c;
	for (size_t i = 0; i < n; i++)
		((uint8_t *)buf)[i] = (uint8_t)rand();
	return 0;
}

static const struct vol_host host = {NULL,     h_pread,	 h_pwrite, h_size, h_sync,  h_truncate,
				     h_remove, h_rename, h_list,   h_now,  h_random};

static int unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s) / 2;
	if (n > max)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned x;
		if (sscanf(s + 2 * i, "%2x", &x) != 1)
			return -1;
		out[i] = (uint8_t)x;
	}
	return (int)n;
}

static void sha_hex(const uint8_t *b, size_t n, char out[65])
{
	br_sha256_context sc;
	uint8_t h[32];
	br_sha256_init(&sc);
	br_sha256_update(&sc, b, n);
	br_sha256_out(&sc, h);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

/* Reads the whole content of path (following symlinks). */
static long read_whole(struct vol *v, const char *path, uint8_t **out)
{
	uint64_t dir, id;
	char name[VOL_NAME_MAX + 1];
	size_t nl;
	int e = vol_walk(v, path, 1, &dir, &id, name, &nl);
	if (e || !id)
		return e ? e : -ENOENT;
	struct vol_attr a;
	vol_getattr(v, id, &a);
	uint8_t *b = malloc(a.size + 1);
	long r = vol_read(v, id, b, a.size, 0);
	*out = b;
	return r;
}

static int outcome_of(int e)
{
	switch (e) {
	case 0:
		return 'o';
	case -EKEYREJECTED:
		return 'k';
	case -ENOTDIR:
		return 'n';
	case -EPROTO:
		return 'v';
	default:
		return 'e';
	}
}

static void run_vectors(void)
{
	FILE *f = fopen("testdata/volume/vectors.txt", "r");
	CHECK(f != NULL);
	if (!f)
		return;
	char line[8192], casename[128] = "";
	struct vol *v = NULL;
	uint8_t key[32];
	int opened = 0, ncases = 0, nchecks = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		char *w[16];
		int n = 0;
		for (char *t = strtok(line, " "); t && n < 16; t = strtok(NULL, " "))
			w[n++] = t;
		nchecks++;
		if (!strcmp(w[0], "derive")) {
			uint8_t fk[32], want[32], got[32];
			unhex(w[1], fk, 32);
			unhex(w[3], want, 32);
			vol_derive_key(fk, w[2], got);
			CHECK_MSG(!memcmp(got, want, 32), "derive %s", w[2]);
		} else if (!strcmp(w[0], "keystream")) {
			uint8_t k[32], iv[16], want[256], got[256] = {0};
			unhex(w[1], k, 32);
			unhex(w[2], iv, 16);
			int len = atoi(w[3]);
			unhex(w[4], want, sizeof want);
			struct vol_keys ks;
			vol_keys_init(&ks, k);
			vol_keystream(&ks, iv, got, (size_t)len);
			CHECK_MSG(!memcmp(got, want, (size_t)len), "keystream %s", w[2]);
		} else if (!strcmp(w[0], "case")) {
			vol_free(v);
			v = NULL;
			opened = 0;
			snprintf(casename, sizeof casename, "%s", w[1]);
			ncases++;
		} else if (!strcmp(w[0], "volume")) {
			char cmd[8400];
			snprintf(dirpath, sizeof dirpath, "/tmp/test_vol.%d.vec", getpid());
			snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r testdata/volume/%s %s", dirpath, w[1], dirpath);
			CHECK(system(cmd) == 0);
			unhex(w[2], key, 32);
		} else if (!strcmp(w[0], "flip") || !strcmp(w[0], "cut") || !strcmp(w[0], "remove")) {
			char p[4200];
			full(p, w[1]);
			if (w[0][0] == 'f') {
				int fd = open(p, O_RDWR);
				uint8_t c;
				off_t o = atol(w[2]);
				CHECK(fd >= 0 && pread(fd, &c, 1, o) == 1);
				c ^= 0x10;
				CHECK(pwrite(fd, &c, 1, o) == 1);
				close(fd);
			} else if (w[0][0] == 'c') {
				CHECK(truncate(p, atol(w[2])) == 0);
			} else {
				CHECK(unlink(p) == 0);
			}
		} else if (!strcmp(w[0], "open")) {
			char err[256];
			int e = vol_open(&v, &host, key, "/data", 0, 0, 1, err, sizeof err);
			int want = !strcmp(w[1], "ok")	      ? 'o' :
				   !strcmp(w[1], "key")	      ? 'k' :
				   !strcmp(w[1], "notvolume") ? 'n' :
				   !strcmp(w[1], "version")   ? 'v' :
								'e';
			CHECK_MSG(outcome_of(e) == want, "%s: open %s: got %d (%s)", casename, w[1], e, err);
			opened = e == 0;
			if (e == 0 && v) /* the tools and the runtime name the mount path */
				v->path = strdup("/data");
		} else if (!opened) {
			CHECK_MSG(0, "%s: %s without an open volume", casename, w[0]);
		} else if (!strcmp(w[0], "version")) {
			uint8_t root[16], want[16];
			CHECK_MSG(vol_version(v, root) == strtoull(w[1], NULL, 10), "%s: version", casename);
			if (n > 2) {
				unhex(w[2], want, 16);
				CHECK_MSG(!memcmp(root, want, 16), "%s: root", casename);
			}
		} else if (!strcmp(w[0], "file")) {
			uint8_t *b = NULL;
			long r = read_whole(v, w[1], &b);
			CHECK_MSG(r == atol(w[2]), "%s: file %s: %ld (%s)", casename, w[1], r, vol_err(v));
			if (n > 3 && r >= 0) {
				char h[65];
				sha_hex(b, (size_t)r, h);
				CHECK_MSG(!strcmp(h, w[3]), "%s: file %s: content", casename, w[1]);
			}
			free(b);
		} else if (!strcmp(w[0], "fileerr")) {
			uint8_t *b = NULL;
			long r = read_whole(v, w[1], &b);
			CHECK_MSG(r == -EIO, "%s: fileerr %s: %ld", casename, w[1], r);
			const char *want = !strcmp(w[2], "page") ? "page failed" :
					   !strcmp(w[2], "tag")	 ? "tag page failed" :
								   "missing";
			CHECK_MSG(strstr(vol_err(v), want) != NULL, "%s: fileerr %s: %s", casename, w[1], vol_err(v));
			free(b);
		} else if (!strcmp(w[0], "dir")) {
			uint64_t dir, id;
			char name[256];
			size_t nl;
			CHECK(vol_walk(v, strcmp(w[1], ".") ? w[1] : "", 1, &dir, &id, name, &nl) == 0);
			size_t i = 0;
			const char *en;
			size_t el;
			uint64_t cid;
			uint32_t mode;
			for (; vol_dirent(v, id, i, &en, &el, &cid, &mode) == 1; i++)
				CHECK_MSG((int)i + 2 < n && strlen(w[i + 2]) == el && !memcmp(en, w[i + 2], el),
					  "%s: dir %s entry %zu", casename, w[1], i);
			CHECK_MSG((int)i == n - 2, "%s: dir %s: %zu entries", casename, w[1], i);
		} else if (!strcmp(w[0], "symlink")) {
			uint64_t dir, id;
			char name[256], t[4096];
			size_t nl;
			CHECK(vol_walk(v, w[1], 0, &dir, &id, name, &nl) == 0);
			long r = vol_readlink(v, id, t, sizeof t);
			CHECK_MSG(r == (long)strlen(w[2]) && !memcmp(t, w[2], (size_t)r), "%s: symlink %s", casename,
				  w[1]);
		} else if (!strcmp(w[0], "stat")) {
			uint64_t dir, id;
			char name[256];
			size_t nl;
			struct vol_attr a = {0};
			CHECK(vol_walk(v, strcmp(w[1], ".") ? w[1] : "", 0, &dir, &id, name, &nl) == 0 &&
			      vol_getattr(v, id, &a) == 0);
			CHECK_MSG(a.mode == strtoul(w[2], NULL, 8) && a.uid == strtoul(w[3], NULL, 10) &&
					  a.gid == strtoul(w[4], NULL, 10) && a.nlink == strtoul(w[5], NULL, 10),
				  "%s: stat %s: %o %u %u %u", casename, w[1], a.mode, a.uid, a.gid, a.nlink);
		} else {
			CHECK_MSG(0, "unknown directive %s", w[0]);
		}
	}
	vol_free(v);
	fclose(f);
	CHECK(ncases >= 10);
	printf("test_vol: %d vector cases, %d directives\n", ncases, nchecks);
}

static struct vol *reopen(struct vol *v, const uint8_t key[32], int ro)
{
	vol_free(v);
	char err[256] = "";
	struct vol *w = NULL;
	int e = vol_open(&w, &host, key, "/data", 0, 0, ro, err, sizeof err);
	CHECK_MSG(e == 0, "reopen: %d %s", e, err);
	return w;
}

static uint64_t path_id(struct vol *v, const char *p)
{
	uint64_t dir, id;
	char name[256];
	size_t nl;
	return vol_walk(v, p, 1, &dir, &id, name, &nl) ? 0 : id;
}

static uint64_t mk(struct vol *v, const char *path, uint32_t mode)
{
	uint64_t dir, id;
	char name[256];
	size_t nl;
	CHECK(vol_walk(v, path, 1, &dir, &id, name, &nl) == 0 && id == 0);
	CHECK(vol_create(v, dir, name, nl, mode, 0, 0, &id) == 0);
	return id;
}

/* A new empty directory /tmp/test_vol.PID.TAG as the volume's (dirpath). */
static void fresh_dir(const char *tag)
{
	snprintf(dirpath, sizeof dirpath, "/tmp/test_vol.%d.%s", getpid(), tag);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir %s", dirpath, dirpath);
	CHECK(system(cmd) == 0);
}

/* Frees v (may be NULL) and removes dirpath. */
static void done_dir(struct vol *v)
{
	if (v)
		vol_free(v);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dirpath);
	CHECK(system(cmd) == 0);
}

static void test_writer(void)
{
	uint8_t key[32];
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(7 * i);
	snprintf(dirpath, sizeof dirpath, "/tmp/test_vol.%d.w", getpid());
	char cmd[4300];
	snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir %s", dirpath, dirpath);
	CHECK(system(cmd) == 0);
	struct vol *v = reopen(NULL, key, 0);
	if (!v)
		return;
	mk(v, "db", VOL_IFDIR | 0700);
	uint64_t a = mk(v, "db/a.txt", VOL_IFREG | 0644);
	static uint8_t big[3 * 1024 * 1024 + 123];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 31 + i / 4096);
	CHECK(vol_write(v, a, "PLAINTEXT-MARKER hello", 22, 0) == 22);
	uint64_t b = mk(v, "db/big", VOL_IFREG | 0600);
	CHECK(vol_write(v, b, big, sizeof big, 0) == (long)sizeof big);
	CHECK(vol_commit(v, 1) == 0);
	/* rewrite a page in the middle, then a crash before the commit */
	CHECK(vol_write(v, b, "XYZ", 3, 5000) == 3);
	memcpy(big + 5000, "XYZ", 3);
	CHECK(vol_commit(v, 0) == 0);
	CHECK(vol_write(v, b, "lost", 4, 0) == 4);
	/* no commit: reopen recovers the last one */
	v = reopen(v, key, 0);
	if (!v)
		return;
	uint8_t *got = NULL;
	CHECK(read_whole(v, "db/big", &got) == (long)sizeof big && !memcmp(got, big, sizeof big));
	free(got);
	CHECK(read_whole(v, "db/a.txt", &got) == 22 && !memcmp(got, "PLAINTEXT-MARKER hello", 22));
	free(got);
	/* rename over an existing file, unlink while open, truncate */
	a = path_id(v, "db/a.txt");
	uint64_t t = mk(v, "db/tmp", VOL_IFREG | 0600);
	CHECK(vol_write(v, t, "new content", 11, 0) == 11);
	vol_hold(v, a);
	CHECK(vol_rename(v, path_id(v, "db"), "tmp", 3, path_id(v, "db"), "a.txt", 5, 0) == 0);
	uint8_t buf[64];
	CHECK(vol_read(v, a, buf, sizeof buf, 0) == 22); /* still readable while open */
	vol_release(v, a);
	CHECK(vol_truncate(v, b, 4097) == 0);
	CHECK(vol_remove(v, path_id(v, ""), "db", 2, 1) == -ENOTEMPTY);
	CHECK(vol_commit(v, 1) == 0);
	v = reopen(v, key, 0);
	if (!v)
		return;
	CHECK(read_whole(v, "db/a.txt", &got) == 11 && !memcmp(got, "new content", 11));
	free(got);
	CHECK(read_whole(v, "db/big", &got) == 4097 && !memcmp(got, big, 4097));
	free(got);
	CHECK(path_id(v, "db/tmp") == 0);
	/* the host holds no plaintext and no names */
	snprintf(cmd, sizeof cmd, "grep -rqa -e PLAINTEXT-MARKER -e a.txt -e 'new content' %s", dirpath);
	CHECK(system(cmd) != 0);
	/* wrong key */
	uint8_t k2[32] = {1};
	struct vol *w = NULL;
	char err[256];
	CHECK(vol_open(&w, &host, k2, "/data", 0, 0, 0, err, sizeof err) == -EKEYREJECTED);
	/* a flipped byte of a data page is refused at read */
	vol_free(v);
	snprintf(cmd, sizeof cmd, "printf 'Z' | dd of=%s/f/%016llx bs=1 seek=%d conv=notrunc status=none", dirpath,
		 (unsigned long long)b, 4 * 4096 + 100);
	CHECK(system(cmd) == 0);
	v = reopen(NULL, key, 1);
	if (v) {
		CHECK(vol_read(v, path_id(v, "db/big"), buf, 16, 0) == -EIO);
		CHECK(strstr(vol_err(v), "page failed authentication") != NULL);
		vol_free(v);
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", dirpath);
	CHECK(system(cmd) == 0);
}

/* the sequence of runtime/e2e volprobe: replace a file that is open
 * by renaming a new one over it, commits at each close */
static void test_replace(void)
{
	uint8_t key[32] = {9};
	fresh_dir("r");
	struct vol *v = reopen(NULL, key, 0);
	if (!v)
		return;
	mk(v, "db", VOL_IFDIR | 0700);
	uint64_t db = path_id(v, "db");
	uint64_t t = mk(v, "db/config.tmp", VOL_IFREG | 0600);
	CHECK(vol_write(v, t, "version=2\n", 10, 0) == 10);
	CHECK(vol_commit(v, 0) == 0);
	uint64_t c = mk(v, "db/config", VOL_IFREG | 0600);
	CHECK(vol_write(v, c, "version=1\n", 10, 0) == 10);
	CHECK(vol_commit(v, 0) == 0);
	vol_hold(v, c);
	uint64_t d1, i1, d2, i2;
	char n1[256], n2[256];
	size_t l1, l2;
	CHECK(vol_walk(v, "db/config.tmp", 0, &d1, &i1, n1, &l1) == 0 &&
	      vol_walk(v, "db/config", 0, &d2, &i2, n2, &l2) == 0);
	CHECK_MSG(i1 == t && i2 == c && d1 == db && d2 == db && l1 == 10 && l2 == 6, "walk %lu %lu %lu %lu %zu %zu", i1,
		  i2, d1, d2, l1, l2);
	CHECK(vol_rename(v, d1, n1, l1, d2, n2, l2, 0) == 0);
	vol_release(v, c);
	uint64_t s = mk(v, "scratch", VOL_IFREG | 0600);
	vol_hold(v, s);
	CHECK(vol_write(v, s, "temp", 4, 0) == 4);
	CHECK(vol_remove(v, VOL_ROOT_ID, "scratch", 7, 0) == 0);
	CHECK(vol_commit(v, 0) == 0);
	vol_release(v, s);
	v = reopen(v, key, 0);
	if (!v)
		return;
	uint8_t *got = NULL;
	CHECK(read_whole(v, "db/config", &got) == 10 && !memcmp(got, "version=2\n", 10));
	free(got);
	CHECK(path_id(v, "db/config.tmp") == 0);
	done_dir(v);
}

/* The clean-page cache never serves a page the tree no longer names: a
 * page read (cached), rewritten and committed, reads back new, also after
 * a truncation to zero and a regrowth (zeros), and across a reopen; and a
 * sealed page that changes on the host after it was cached is not read
 * from the host again while its tag is unchanged (the cache holds what was
 * authenticated), but is after the reopen. */
static void test_cache(void)
{
	uint8_t key[32] = {3};
	fresh_dir("c");
	struct vol *v = reopen(NULL, key, 0);
	if (!v)
		return;
	uint64_t f = mk(v, "f", VOL_IFREG | 0600);
	static uint8_t page[3 * 4096], got[3 * 4096];
	memset(page, 'a', sizeof page);
	CHECK(vol_write(v, f, page, sizeof page, 0) == (long)sizeof page);
	CHECK(vol_commit(v, 1) == 0);
	for (int round = 0; round < 2; round++) { /* the second read is a cache hit */
		CHECK(vol_read(v, f, got, sizeof got, 0) == (long)sizeof got && !memcmp(got, page, sizeof got));
	}
	memset(page + 4096, 'b', 4096);
	CHECK(vol_write(v, f, page + 4096, 4096, 4096) == 4096);
	CHECK(vol_commit(v, 0) == 0);
	CHECK(vol_read(v, f, got, sizeof got, 0) == (long)sizeof got && !memcmp(got, page, sizeof got));
	CHECK(vol_truncate(v, f, 0) == 0);
	CHECK(vol_truncate(v, f, sizeof page) == 0);
	CHECK(vol_commit(v, 1) == 0);
	static const uint8_t zero[3 * 4096];
	CHECK(vol_read(v, f, got, sizeof got, 0) == (long)sizeof got && !memcmp(got, zero, sizeof got));
	CHECK(vol_write(v, f, "xyz", 3, 8192) == 3);
	CHECK(vol_commit(v, 1) == 0);
	v = reopen(v, key, 0);
	if (!v)
		return;
	f = path_id(v, "f");
	CHECK(vol_read(v, f, got, sizeof got, 0) == (long)sizeof got && !memcmp(got, zero, 8192) &&
	      !memcmp(got + 8192, "xyz", 3));
	done_dir(v);
}

/* Hard and symbolic links persist (reopen validates the state: nlink is
 * the number of entries naming a file), with the rules of link(2) and
 * symlink(2). */
static void test_links(void)
{
	uint8_t key[32] = {5};
	fresh_dir("l");
	struct vol *v = reopen(NULL, key, 0);
	if (!v)
		return;
	uint64_t d = mk(v, "d", VOL_IFDIR | 0700), f = mk(v, "d/f", VOL_IFREG | 0600), s = 0;
	CHECK(vol_write(v, f, "data", 4, 0) == 4);
	CHECK(vol_link(v, f, VOL_ROOT_ID, "g", 1) == 0);
	CHECK(vol_link(v, f, VOL_ROOT_ID, "g", 1) == -EEXIST);
	CHECK(vol_link(v, d, VOL_ROOT_ID, "dl", 2) == -EPERM);
	CHECK(vol_symlink(v, d, "s", 1, "../g", 4, 0, 0, &s) == 0 && s);
	CHECK(vol_symlink(v, d, "e", 1, "", 0, 0, 0, &s) == -ENOENT);
	CHECK(vol_commit(v, 1) == 0);
	v = reopen(v, key, 0);
	if (!v)
		return;
	struct vol_attr a;
	CHECK(path_id(v, "g") == path_id(v, "d/f") && vol_getattr(v, path_id(v, "g"), &a) == 0 && a.nlink == 2);
	char t[16] = {0};
	uint64_t dir, id;
	char name[256];
	size_t nl;
	CHECK(vol_walk(v, "d/s", 0, &dir, &id, name, &nl) == 0 && vol_readlink(v, id, t, sizeof t) == 4 &&
	      !memcmp(t, "../g", 4));
	CHECK(path_id(v, "d/s") == path_id(v, "g")); /* followed */
	CHECK(vol_remove(v, path_id(v, "d"), "f", 1, 0) == 0);
	CHECK(vol_commit(v, 1) == 0);
	v = reopen(v, key, 0);
	if (!v)
		return;
	uint8_t *got = NULL;
	CHECK(read_whole(v, "g", &got) == 4 && !memcmp(got, "data", 4));
	free(got);
	CHECK(vol_getattr(v, path_id(v, "g"), &a) == 0 && a.nlink == 1);
	done_dir(v);
}

/* An fsync with nothing new to commit still makes an earlier commit that
 * was not durable (a close's) durable: its pages written in place, then
 * the log; once durable, another such fsync syncs nothing. */
static void test_fsync_nothing_new(void)
{
	uint8_t key[32] = {6};
	fresh_dir("n");
	struct vol *v = reopen(NULL, key, 0);
	if (!v)
		return;
	static uint8_t big[300 << 10];
	memset(big, 0x3c, sizeof big);
	uint64_t f = mk(v, "f", VOL_IFREG | 0600);
	CHECK(vol_write(v, f, "closed", 6, 0) == 6);
	CHECK(vol_commit(v, 0) == 0);
	int before = syncs;
	CHECK(vol_commit(v, 1) == 0);
	CHECK(syncs > before);
	before = syncs;
	CHECK(vol_commit(v, 1) == 0);
	CHECK_EQ(syncs, before);
	CHECK(vol_write(v, f, big, sizeof big, 0) == (long)sizeof big); /* written in place */
	CHECK(vol_commit(v, 0) == 0);
	before = syncs;
	CHECK(vol_commit(v, 1) == 0);
	CHECK(syncs >= before + 2); /* the file, then the log */
	v = reopen(v, key, 0);
	if (!v)
		return;
	uint8_t *got = NULL;
	CHECK(read_whole(v, "f", &got) == (long)sizeof big && !memcmp(got, big, sizeof big));
	free(got);
	done_dir(v);
}

int main(void)
{
	test_links();
	test_cache();
	test_replace();
	test_fsync_nothing_new();
	run_vectors();
	test_writer();
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf /tmp/test_vol.%d.vec", getpid());
	CHECK(system(cmd) == 0);
	return test_summary("test_vol");
}
