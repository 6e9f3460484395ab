/* Host test of runtime/lib/fskey.c against testdata/fskey (the vectors
 * pkg/fskey passes too): every valid file parses to its .want dump, every
 * invalid file is refused; plus fskey_check. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fskey.h"
#include "testutil.h"

static void hexs(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* The canonical dump of pkg/fskey's test (dump()). */
static size_t dump(const struct fskey_file *f, char *out, size_t cap)
{
	char h[65];
	size_t n = 0;
	hexs(f->key, 32, h);
	n += (size_t)snprintf(out + n, cap - n, "key %s\n", h);
	if (f->id.has_mrsigner) {
		hexs(f->id.mrsigner, 32, h);
		n += (size_t)snprintf(out + n, cap - n, "mrsigner %s\n", h);
	} else {
		n += (size_t)snprintf(out + n, cap - n, "mrsigner -\n");
	}
	for (unsigned i = 0; i < f->id.n_mrenclave; i++) {
		hexs(f->id.mrenclave[i], 32, h);
		n += (size_t)snprintf(out + n, cap - n, "mrenclave %s\n", h);
	}
	if (f->id.has_isvprodid)
		n += (size_t)snprintf(out + n, cap - n, "isvprodid %u\n", f->id.isvprodid);
	else
		n += (size_t)snprintf(out + n, cap - n, "isvprodid -\n");
	if (f->id.has_min_isvsvn)
		n += (size_t)snprintf(out + n, cap - n, "min-isvsvn %u\n", f->id.min_isvsvn);
	else
		n += (size_t)snprintf(out + n, cap - n, "min-isvsvn -\n");
	return n;
}

static int run_dir(const char *dir, int valid)
{
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	if (!d)
		return 0;
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t nl = strlen(e->d_name);
		if (nl < 5 || strcmp(e->d_name + nl - 4, ".key"))
			continue;
		char path[512];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		size_t len = 0;
		uint8_t *b = read_file(path, &len);
		CHECK(b != NULL);
		if (!b)
			continue;
		struct fskey_file f;
		unsigned line = 0;
		int r = fskey_parse(b, len, &f, &line);
		count++;
		if (!valid) {
			if (r == 0) {
				fprintf(stderr, "%s: accepted, want refused\n", path);
				test_failures++;
			}
			/* refused: nothing of the key is left in the output */
			static const struct fskey_file zero;
			CHECK(memcmp(&f, &zero, sizeof f) == 0);
		} else if (r) {
			fprintf(stderr, "%s: refused (%s, line %u), want accepted\n", path, fskey_strerror(r), line);
			test_failures++;
		} else {
			char got[4096], wantp[512];
			size_t gn = dump(&f, got, sizeof got);
			snprintf(wantp, sizeof wantp, "%.*s.want", (int)(strlen(path) - 4), path);
			size_t wl = 0;
			uint8_t *w = read_file(wantp, &wl);
			CHECK(w != NULL);
			if (w && (wl != gn || memcmp(w, got, gn))) {
				fprintf(stderr, "%s: parsed\n%.*s\nwant\n%.*s\n", path, (int)gn, got, (int)wl,
					(char *)w);
				test_failures++;
			}
			free(w);
		}
		free(b);
	}
	closedir(d);
	return count;
}

static void test_check(void)
{
	struct fskey_identity id;
	uint8_t signer[32], other[32], mre[32];
	memset(signer, 0x9a, 32);
	memset(other, 0x9b, 32);
	memset(mre, 0x11, 32);
	memset(&id, 0, sizeof id);
	CHECK_EQ(fskey_check(&id, mre, signer, 7, 3), FSKEY_ID_NONE);
	id.has_mrsigner = 1;
	memcpy(id.mrsigner, signer, 32);
	CHECK_EQ(fskey_check(&id, mre, signer, 7, 3), 0);
	CHECK_EQ(fskey_check(&id, mre, other, 7, 3), FSKEY_ID_MRSIGNER);
	id.has_min_isvsvn = 1;
	id.min_isvsvn = 3;
	CHECK_EQ(fskey_check(&id, mre, signer, 7, 3), 0);
	CHECK_EQ(fskey_check(&id, mre, signer, 7, 2), FSKEY_ID_ISVSVN);
	id.has_isvprodid = 1;
	id.isvprodid = 8;
	CHECK_EQ(fskey_check(&id, mre, signer, 7, 3), FSKEY_ID_ISVPRODID);
	id.isvprodid = 7;
	id.n_mrenclave = 2;
	memcpy(id.mrenclave[0], other, 32);
	memcpy(id.mrenclave[1], mre, 32);
	CHECK_EQ(fskey_check(&id, mre, signer, 7, 3), 0);
	CHECK_EQ(fskey_check(&id, other, signer, 7, 3), 0);
	CHECK_EQ(fskey_check(&id, signer, signer, 7, 3), FSKEY_ID_MRENCLAVE);
}

static void test_raw(void)
{
	struct fskey_file f;
	const char *pw = "correct horse battery staple 123";
	CHECK_EQ(fskey_parse((const uint8_t *)pw, 32, &f, NULL), FSKEY_ERAW);
	uint8_t big[FSKEY_MAX_FILE + 1];
	memset(big, '#', sizeof big);
	CHECK_EQ(fskey_parse(big, sizeof big, &f, NULL), FSKEY_ETOOBIG);
}

int main(void)
{
	int nv = run_dir("testdata/fskey/valid", 1);
	int ni = run_dir("testdata/fskey/invalid", 0);
	CHECK(nv >= 5 && ni >= 10);
	test_check();
	test_raw();
	return test_summary("test_fskey");
}
