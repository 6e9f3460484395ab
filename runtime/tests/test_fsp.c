/* Host test of the protected FS reader (runtime/lib/fsp.c).
 *
 * Runs every labelled vector of testdata/fsprotect/vectors.txt, format
 * versions 1 and 2, the latter also with per-chunk compression (format in
 * testdata/fsprotect/README.md; the Go test runs the same manifest against
 * the Go reader), then, for ok.img (v1), v2-ok.img, v2z-ok.img
 * (compressed) and v2d-ok.img (compressed against the image dictionary):
 * a bit-flip campaign (every flip is either refused at open or
 * makes a read of the touched data fail), authenticated but malformed
 * indexes, reads of tampered chunks (the caller's buffer stays untouched),
 * and concurrent reads from three threads. Runs from the repository root. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bearssl.h>

#include "fsp.h"
#include "testutil.h"

#define DIR "testdata/fsprotect/"

#define FAIL(...)                                                    \
	do {                                                         \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                        \
		fputc('\n', stderr);                                 \
		test_failures++;                                     \
	} while (0)

/* read_file of DIR/name. */

/* The flags every open of this test uses: 0, then FSP_OPEN_BEARSSL for the
 * second pass (main), so that both chunk openers meet the same images. */
static unsigned open_flags;

static int t_open(struct fsp **out, const uint8_t *img, uint64_t img_len, const uint8_t *key, const uint8_t *root)
{
	return fsp_open_flags(out, img, img_len, key, root, open_flags);
}

static uint8_t *read_vec(const char *name, uint64_t *len)
{
	char path[512];
	size_t n = 0;
	snprintf(path, sizeof path, DIR "%s", name);
	uint8_t *b = read_file(path, &n);
	*len = n;
	return b;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

/* Header size of an image of format version v. */
static uint64_t hdr_size(uint32_t v) { return v == 1 ? 192 : 256; }

static int unhex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static const char *err_class(int rc)
{
	switch (-rc) {
	case 0:
		return "ok";
	case FSP_EAUTH:
		return "auth";
	case FSP_EKEY:
		return "key";
	case FSP_ETRUNC:
		return "trunc";
	case FSP_EVERSION:
		return "version";
	case FSP_EFORMAT:
		return "format";
	case FSP_EROOT:
		return "root";
	}
	return fsp_strerror(rc);
}

/* Resolves a path relative to the root, one component at a time, without
 * following symlinks. "." is the root. */
static int resolve(const struct fsp *f, const char *path, uint32_t *ino)
{
	uint32_t cur = fsp_root_ino(f);
	const char *p = path;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		int rc = fsp_lookup(f, cur, p, n, &cur);
		if (rc < 0)
			return rc;
		p += n;
		if (*p == '/')
			p++;
	}
	*ino = cur;
	return 0;
}

/* Reads a whole file with an odd read size so that reads straddle chunks. */
static long read_all(const struct fsp *f, uint32_t ino, uint8_t **out)
{
	struct fsp_stat st;
	int rc = fsp_stat(f, ino, &st);
	if (rc < 0)
		return rc;
	uint8_t *b = malloc(st.size + 1);
	uint64_t off = 0;
	while (off < st.size) {
		uint64_t want = off == 0 ? 4096 : 1000;
		long n = fsp_pread(f, ino, b + off, want, off);
		if (n <= 0) {
			free(b);
			return n < 0 ? n : -FSP_EFORMAT;
		}
		off += (uint64_t)n;
	}
	if (fsp_pread(f, ino, b, 10, st.size) != 0) {
		free(b);
		return -FSP_EFORMAT;
	}
	*out = b;
	return (long)st.size;
}

/* The manifest's "pieces SIZE": what an attacker without the key sees.
 * The data region (found through the header) is cut into SIZE-byte pieces
 * (one per file of that size): "repeated" if two are equal, else
 * "distinct". */
static const char *pieces(const uint8_t *img, uint64_t len, uint64_t size)
{
	if (len < 16 || size == 0 || len < hdr_size(get_u32(img + 8)))
		return "malformed";
	const uint8_t *h = img + len - hdr_size(get_u32(img + 8));
	uint64_t off = get_u64(h + 24), dlen = get_u64(h + 32);
	if (off > len || dlen > len - off || dlen % size != 0)
		return "malformed";
	for (uint64_t i = 0; i + size <= dlen; i += size)
		for (uint64_t j = i + size; j + size <= dlen; j += size)
			if (memcmp(img + off + i, img + off + j, (size_t)size) == 0)
				return "repeated";
	return "distinct";
}

static void run_manifest(void)
{
	uint64_t mlen;
	char *m = (char *)read_vec("vectors.txt", &mlen);
	if (m == NULL) {
		FAIL("cannot read " DIR "vectors.txt (run from the repository root)");
		return;
	}
	m = realloc(m, mlen + 1);
	m[mlen] = 0;
	struct fsp *f = NULL;
	uint8_t *img = NULL;
	uint64_t img_len = 0;
	int lines = 0, images = 0, v2images = 0;
	for (char *save = NULL, *line = strtok_r(m, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == 0)
			continue;
		char a[8][300] = {{0}};
		int n = sscanf(line, "%299s %299s %299s %299s %299s %299s %299s %299s", a[0], a[1], a[2], a[3], a[4],
			       a[5], a[6], a[7]);
		lines++;
		if (strcmp(a[0], "image") == 0 && n == 5) {
			fsp_close(f);
			f = NULL;
			free(img);
			uint64_t len = 0;
			img = read_vec(a[1], &len);
			img_len = len;
			v2images += strncmp(a[1], "v2-", 3) == 0;
			uint8_t key[32], root[32];
			if (img == NULL || unhex(a[2], key, 32) != 0) {
				FAIL("%s: cannot read image or key", line);
				continue;
			}
			int has_root = strcmp(a[3], "-") != 0;
			if (has_root && unhex(a[3], root, 32) != 0) {
				FAIL("%s: bad root", line);
				continue;
			}
			int rc = t_open(&f, img, len, key, has_root ? root : NULL);
			images++;
			if (strcmp(err_class(rc), a[4]) != 0)
				FAIL("%s: got %s", line, err_class(rc));
			if (rc == 0 && has_root) {
				uint8_t r2[32];
				fsp_root_hash(f, r2);
				if (memcmp(r2, root, 32) != 0)
					FAIL("%s: fsp_root_hash differs", line);
			}
			continue;
		}
		if (strcmp(a[0], "pieces") == 0 && n == 3) {
			const char *got = img == NULL ? "unreadable" : pieces(img, img_len, (uint64_t)atol(a[1]));
			if (strcmp(got, a[2]) != 0)
				FAIL("%s: pieces are %s", line, got);
			continue;
		}
		if (f == NULL) {
			FAIL("%s: no open image", line);
			continue;
		}
		uint32_t ino = 0;
		int rc = resolve(f, a[1], &ino);
		if (rc < 0) {
			FAIL("%s: resolve: %s", line, fsp_strerror(rc));
			continue;
		}
		if (strcmp(a[0], "file") == 0 && n == 4) {
			uint8_t *b = NULL;
			long got = read_all(f, ino, &b);
			if (got < 0 || got != atol(a[2])) {
				FAIL("%s: read %ld (%s)", line, got, got < 0 ? fsp_strerror((int)got) : "");
			} else {
				uint8_t h[32], want[32];
				br_sha256_context sc;
				br_sha256_init(&sc);
				br_sha256_update(&sc, b, (size_t)got);
				br_sha256_out(&sc, h);
				unhex(a[3], want, 32);
				if (memcmp(h, want, 32) != 0)
					FAIL("%s: content differs", line);
			}
			free(b);
		} else if (strcmp(a[0], "fileerr") == 0 && n == 3) {
			uint8_t *b = NULL;
			long got = read_all(f, ino, &b);
			if (strcmp(err_class((int)(got < 0 ? got : 0)), a[2]) != 0)
				FAIL("%s: got %ld", line, got);
			free(b);
		} else if (strcmp(a[0], "symlink") == 0 && n == 3) {
			char t[4096];
			long got = fsp_readlink(f, ino, t, sizeof t);
			if (got != (long)strlen(a[2]) || memcmp(t, a[2], (size_t)got) != 0)
				FAIL("%s: got %ld", line, got);
		} else if (strcmp(a[0], "stat") == 0 && n == 8) {
			struct fsp_stat st;
			char got[200], want[2000];
			fsp_stat(f, ino, &st);
			snprintf(got, sizeof got, "%u %o %u %u %u %llu", st.type, st.mode, st.uid, st.gid, st.nlink,
				 (unsigned long long)st.size);
			snprintf(want, sizeof want, "%s %s %s %s %s %s", a[2], a[3], a[4], a[5], a[6], a[7]);
			if (strcmp(got, want) != 0)
				FAIL("%s: got %s", line, got);
		} else if (strcmp(a[0], "sameino") == 0 && n == 3) {
			uint32_t ino2 = 0;
			if (resolve(f, a[2], &ino2) < 0 || ino2 != ino)
				FAIL("%s: %u vs %u", line, ino, ino2);
		} else if (strcmp(a[0], "xattr") == 0 && n == 4) {
			char v[256];
			uint8_t want[128];
			size_t wl = strlen(a[3]) / 2;
			unhex(a[3], want, wl);
			long got = fsp_getxattr(f, ino, a[2], strlen(a[2]), v, sizeof v);
			if (got != (long)wl || memcmp(v, want, wl) != 0)
				FAIL("%s: got %ld", line, got);
			if (fsp_getxattr(f, ino, "user.none", 9, v, sizeof v) != -FSP_ENODATA)
				FAIL("%s: missing xattr found", line);
			long need = fsp_listxattr(f, ino, NULL, 0);
			if (need <= 0 || fsp_listxattr(f, ino, v, sizeof v) != need)
				FAIL("%s: listxattr %ld", line, need);
		} else if (strcmp(a[0], "dir") == 0) {
			uint64_t cookie = 0;
			char name[256];
			uint32_t cino, type;
			int k = 2, r;
			while ((r = fsp_readdir(f, ino, &cookie, &cino, name, sizeof name, &type)) == 1) {
				if (k >= n || strcmp(name, a[k]) != 0)
					FAIL("%s: entry %s", line, name);
				uint32_t l;
				if (fsp_lookup(f, ino, name, strlen(name), &l) != 0 || l != cino)
					FAIL("%s: lookup %s", line, name);
				k++;
			}
			if (r != 0 || k != n)
				FAIL("%s: %d entries, rc %d", line, k - 2, r);
		} else {
			FAIL("%s: unknown directive", line);
		}
	}
	fsp_close(f);
	free(img);
	free(m);
	if (images < 10 || v2images < 10)
		FAIL("only %d image lines (%d of version 2) in the manifest", images, v2images);
	printf("manifest: %d lines, %d images (%d of version 2)\n", lines, images, v2images);
}

static const uint8_t vkey[32] = {0,  1,	 2,  3,	 4,  5,	 6,  7,	 8,  9,	 10, 11, 12, 13, 14, 15,
				 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

/* Reads every regular file; returns 0 if all reads succeed, else the error. */
static int read_everything(const struct fsp *f, uint32_t dir, int depth)
{
	uint64_t cookie = 0;
	char name[256];
	uint32_t ino, type;
	int r;
	if (depth > 16)
		return -FSP_EFORMAT;
	while ((r = fsp_readdir(f, dir, &cookie, &ino, name, sizeof name, &type)) == 1) {
		if (type == FSP_T_DIR) {
			int rc = read_everything(f, ino, depth + 1);
			if (rc < 0)
				return rc;
		} else if (type == FSP_T_FILE) {
			uint8_t *b = NULL;
			long n = read_all(f, ino, &b);
			free(b);
			if (n < 0)
				return (int)n;
		}
	}
	return r;
}

/* Flips bits all over an image (every 3rd bit, plus every bit of the
 * header): each flip must be refused at open or fail a read that touches it. */
static void bitflip_campaign(const char *name)
{
	uint64_t len;
	uint8_t *img = read_vec(name, &len);
	if (img == NULL) {
		FAIL("cannot read %s", name);
		return;
	}
	uint64_t hs = hdr_size(get_u32(img + 8));
	uint64_t tried = 0, at_open = 0, at_read = 0;
	for (uint64_t bit = 0; bit < len * 8; bit += (bit >= (len - hs) * 8 ? 1 : 3)) {
		img[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		struct fsp *f;
		int rc = t_open(&f, img, len, vkey, NULL);
		tried++;
		if (rc < 0) {
			at_open++;
		} else {
			int r = read_everything(f, fsp_root_ino(f), 0);
			fsp_close(f);
			if (r == -FSP_EAUTH)
				at_read++;
			else
				FAIL("%s: flip of bit %llu undetected (rc %d)", name, (unsigned long long)bit, r);
		}
		img[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* truncations and extensions */
	for (uint64_t cut = 1; cut < len; cut += 97) {
		struct fsp *f;
		if (t_open(&f, img, len - cut, vkey, NULL) == 0) {
			FAIL("%s: truncation by %llu accepted", name, (unsigned long long)cut);
			fsp_close(f);
		}
	}
	free(img);
	printf("%s: bit flips: %llu tried, %llu refused at open, %llu failed at read\n", name,
	       (unsigned long long)tried, (unsigned long long)at_open, (unsigned long long)at_read);
}

/* HKDF of vkey with the label "scone-fsp v<version> <name>". */
static void hkdf32(uint32_t version, const char *name, uint8_t out[32])
{
	char label[64];
	snprintf(label, sizeof label, "scone-fsp v%u %s", version, name);
	br_hkdf_context hc;
	br_hkdf_init(&hc, &br_sha256_vtable, BR_HKDF_NO_SALT, 0);
	br_hkdf_inject(&hc, vkey, 32);
	br_hkdf_flip(&hc);
	br_hkdf_produce(&hc, label, strlen(label), out, 32);
}

/* Re-encrypts a (mutated) index plaintext into img, which has ok.img's
 * (or v2-ok.img's) layout, and fixes the index hash and header MAC: the
 * result is a correctly keyed image with a possibly malformed index. */
static void reseal(uint8_t *img, uint64_t len, const uint8_t *plain, size_t plen)
{
	uint32_t version = get_u32(img + 8);
	uint64_t hs = hdr_size(version);
	uint8_t *h = img + len - hs, kidx[32], kmac[32];
	uint64_t ioff = get_u64(h + 40);
	hkdf32(version, "index key", kidx);
	hkdf32(version, "header mac", kmac);
	br_aes_x86ni_ctr_keys ak;
	br_aes_ct64_ctr_keys ak64;
	const br_block_ctr_class **vt;
	if (br_aes_x86ni_ctr_get_vtable() != NULL) {
		br_aes_x86ni_ctr_init(&ak, kidx, 32);
		vt = &ak.vtable;
	} else {
		br_aes_ct64_ctr_init(&ak64, kidx, 32);
		vt = &ak64.vtable;
	}
	br_gcm_context gc;
	br_gcm_init(&gc, vt, &br_ghash_ctmul64);
	br_gcm_reset(&gc, h + 64, 12);
	br_gcm_aad_inject(&gc, h, 64);
	br_gcm_flip(&gc);
	memcpy(img + ioff, plain, plen);
	br_gcm_run(&gc, 1, img + ioff, plen);
	br_gcm_get_tag(&gc, img + ioff + plen);
	br_sha256_context sc;
	br_sha256_init(&sc);
	br_sha256_update(&sc, img + ioff, plen + 16);
	br_sha256_out(&sc, h + 128);
	br_hmac_key_context hk;
	br_hmac_context hm;
	br_hmac_key_init(&hk, &br_sha256_vtable, kmac, 32);
	br_hmac_init(&hm, &hk, 0);
	br_hmac_update(&hm, h, hs - 32);
	br_hmac_out(&hm, h + hs - 32);
}

/* Opens vector name with vkey: the fsp (NULL after a FAIL) and the image it
 * reads, which the caller frees after fsp_close. */
static struct fsp *open_vec(const char *name, uint8_t **img, uint64_t *len)
{
	struct fsp *f;
	*img = read_vec(name, len);
	if (*img == NULL || t_open(&f, *img, *len, vkey, NULL) != 0) {
		FAIL("open %s", name);
		free(*img);
		*img = NULL;
		return NULL;
	}
	return f;
}

/* Authenticated but malformed indexes: random mutations of ok.img's index,
 * resealed. fsp_open must refuse them with -FSP_EFORMAT or accept them, and
 * then every read must stay in bounds (ASan watches). */
static void index_mutations(const char *name)
{
	uint64_t len;
	uint8_t *img;
	struct fsp *f = open_vec(name, &img, &len);
	if (f == NULL)
		return;
	/* recover the plaintext index: reseal the original, check it opens */
	uint32_t version = get_u32(img + 8);
	uint8_t *h = img + len - hdr_size(version);
	uint64_t ioff = get_u64(h + 40), ilen = get_u64(h + 48);
	fsp_close(f);
	size_t plen = (size_t)ilen - 16;
	uint8_t *plain = malloc(plen), *work = malloc(len);
	{
		uint8_t kidx[32];
		hkdf32(version, "index key", kidx);
		br_aes_ct64_ctr_keys ak;
		br_aes_ct64_ctr_init(&ak, kidx, 32);
		br_gcm_context gc;
		br_gcm_init(&gc, &ak.vtable, &br_ghash_ctmul64);
		br_gcm_reset(&gc, h + 64, 12);
		br_gcm_aad_inject(&gc, h, 64);
		br_gcm_flip(&gc);
		memcpy(plain, img + ioff, plen);
		br_gcm_run(&gc, 0, plain, plen);
		if (!br_gcm_check_tag(&gc, img + ioff + plen))
			FAIL("cannot decrypt %s's index", name);
	}
	memcpy(work, img, len);
	reseal(work, len, plain, plen);
	if (memcmp(work, img, len) != 0)
		FAIL("resealing the unchanged index changes the image");
	unsigned seed = 12345;
	int accepted = 0, refused = 0;
	uint8_t *mut = malloc(plen);
	for (int it = 0; it < 3000; it++) {
		memcpy(mut, plain, plen);
		int flips = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 4;
		for (int k = 0; k < flips; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t pos = (seed >> 8) % plen;
			/* bias towards the fixed-size records at the start */
			if (k == 0)
				pos %= plen < 2048 ? plen : 2048;
			seed = seed * 1103515245u + 12345u;
			mut[pos] = (uint8_t)(seed >> 16);
		}
		memcpy(work, img, len);
		reseal(work, len, mut, plen);
		int rc = t_open(&f, work, len, vkey, NULL);
		if (rc == 0) {
			accepted++;
			(void)read_everything(f, fsp_root_ino(f), 0);
			fsp_close(f);
		} else if (rc == -FSP_EFORMAT) {
			refused++;
		} else {
			FAIL("%s: mutated index: %s", name, fsp_strerror(rc));
		}
	}
	printf("%s: index mutations: %d refused, %d accepted (and read)\n", name, refused, accepted);
	free(mut);
	free(plain);
	free(work);
	free(img);
}

struct thr {
	const struct fsp *f;
	int rc;
};

static void *reader_thread(void *p)
{
	struct thr *t = p;
	for (int i = 0; i < 200 && t->rc == 0; i++)
		t->rc = read_everything(t->f, fsp_root_ino(t->f), 0);
	return NULL;
}

static void concurrent_reads(const char *name)
{
	uint64_t len;
	uint8_t *img;
	struct fsp *f = open_vec(name, &img, &len);
	if (f == NULL)
		return;
	pthread_t th[3];
	struct thr t[3] = {{f, 0}, {f, 0}, {f, 0}};
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, reader_thread, &t[i]);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		if (t[i].rc != 0)
			FAIL("thread %d: %s", i, fsp_strerror(t[i].rc));
	}
	/* API edge cases */
	uint32_t ino;
	char buf[8];
	if (fsp_lookup(f, fsp_root_ino(f), "nope", 4, &ino) != -FSP_ENOENT)
		FAIL("lookup of a missing name");
	if (resolve(f, "etc/hello", &ino) != 0 || fsp_lookup(f, ino, "x", 1, &ino) != -FSP_ENOTDIR)
		FAIL("lookup in a file");
	if (fsp_lookup(f, fsp_root_ino(f), "a/b", 3, &ino) != -FSP_EINVAL)
		FAIL("lookup with a slash");
	if (resolve(f, "etc", &ino) != 0 || fsp_lookup(f, ino, "..", 2, &ino) != 0 || ino != fsp_root_ino(f))
		FAIL("lookup of ..");
	if (fsp_pread(f, fsp_root_ino(f), buf, 1, 0) != -FSP_EISDIR)
		FAIL("pread on a directory");
	if (fsp_stat(f, 0, &(struct fsp_stat){0}) != -FSP_ENOENT ||
	    fsp_stat(f, 1000000, &(struct fsp_stat){0}) != -FSP_ENOENT)
		FAIL("stat of a bad inode");
	if (resolve(f, "bin", &ino) != 0) {
		FAIL("resolve bin");
	} else {
		uint64_t cookie = 0;
		uint32_t cino, type;
		if (fsp_readdir(f, ino, &cookie, &cino, buf, 2, &type) != -FSP_ERANGE || cookie != 0)
			FAIL("readdir with a small buffer");
	}
	if (resolve(f, "etc/hello", &ino) != 0 || fsp_pread(f, ino, buf, sizeof buf, 7) != 8 ||
	    memcmp(buf, "enclave\n", 8) != 0)
		FAIL("pread at an offset");
	fsp_close(f);
	free(img);
}

/* Security finding 8c: a read of a tampered chunk must not put anything
 * of it into the caller's buffer, not even wiped bytes. chunk0.img has
 * chunk 0 (a whole 4 KiB chunk) of bin/two-chunks (4196 bytes) tampered,
 * chunk.img its chunk 1 (100 bytes); prefix "" or "v2-". */
static void tampered_reads(const char *prefix)
{
	char name[64];
	uint64_t len, oklen;
	uint8_t *img, *okimg;
	snprintf(name, sizeof name, "%sok.img", prefix);
	struct fsp *ok = open_vec(name, &okimg, &oklen);
	snprintf(name, sizeof name, "%schunk0.img", prefix);
	struct fsp *f0 = open_vec(name, &img, &len);
	uint8_t *img1;
	uint64_t len1;
	snprintf(name, sizeof name, "%schunk.img", prefix);
	struct fsp *f1 = open_vec(name, &img1, &len1);
	static uint8_t want[8192], buf[8192];
	uint32_t ino;
	if (ok == NULL || f0 == NULL || f1 == NULL || resolve(ok, "bin/two-chunks", &ino) != 0 ||
	    fsp_pread(ok, ino, want, sizeof want, 0) != 4196) {
		FAIL("%s: cannot set up", prefix);
		goto out;
	}
	static const struct {
		int chunk1; /* which image: chunk.img (1) or chunk0.img (0) */
		uint64_t off, len;
		long authentic; /* leading bytes that must hold the file's content */
	} reads[] = {
		{0, 0, 4096, 0},    /* the whole tampered chunk: decrypted in place before the fix */
		{0, 0, 8192, 0},    /* the whole file, failing at its first chunk */
		{0, 10, 100, 0},    /* part of the tampered chunk */
		{1, 4096, 100, 0},  /* the tampered last chunk */
		{1, 0, 8192, 4096}, /* the whole file: chunk 0 is authentic, chunk 1 fails */
		{1, 4000, 196, 96}, /* straddling both */
	};
	for (size_t k = 0; k < sizeof reads / sizeof reads[0]; k++) {
		struct fsp *f = reads[k].chunk1 ? f1 : f0;
		memset(buf, 0xA5, sizeof buf);
		long r = fsp_pread(f, ino, buf, reads[k].len, reads[k].off);
		if (r != -FSP_EAUTH)
			FAIL("%s read %zu: got %ld, want -FSP_EAUTH", prefix, k, r);
		if (memcmp(buf, want + reads[k].off, (size_t)reads[k].authentic) != 0)
			FAIL("%s read %zu: the authentic chunk before the tampered one differs", prefix, k);
		for (size_t i = (size_t)reads[k].authentic; i < sizeof buf; i++)
			if (buf[i] != 0xA5) {
				FAIL("%s read %zu: byte %zu of the caller's buffer changed (0x%02x)", prefix, k, i,
				     buf[i]);
				break;
			}
	}
	/* The untampered chunk of each image still reads. */
	if (fsp_pread(f0, ino, buf, 100, 4096) != 100 || memcmp(buf, want + 4096, 100) != 0)
		FAIL("%s: the intact chunk 1 of chunk0.img does not read", prefix);
	if (fsp_pread(f1, ino, buf, 4096, 0) != 4096 || memcmp(buf, want, 4096) != 0)
		FAIL("%s: the intact chunk 0 of chunk.img does not read", prefix);
out:
	fsp_close(ok);
	fsp_close(f0);
	fsp_close(f1);
	free(okimg);
	free(img);
	free(img1);
}

/* v2d-chunk-block.img: chunk 0 of z/text is authentic but its block does
 * not decode against the dictionary. Whole-chunk reads (which may decode
 * in a dictionary slot and copy straight into the caller's buffer) and
 * partial ones fail with -FSP_EFORMAT and leave the caller's buffer
 * untouched; chunk 1 still reads as in v2d-ok.img. */
static void dict_block_reads(void)
{
	uint64_t len, len1;
	uint8_t *img, *img1;
	struct fsp *ok = open_vec("v2d-ok.img", &img, &len);
	struct fsp *fb = open_vec("v2d-chunk-block.img", &img1, &len1);
	static uint8_t want[12288], buf[12288];
	uint32_t ino;
	if (ok == NULL || fb == NULL || resolve(ok, "z/text", &ino) != 0 ||
	    fsp_pread(ok, ino, want, sizeof want, 0) != 11000) {
		FAIL("v2d-chunk-block: cannot set up");
		goto out;
	}
	static const uint64_t reads[][2] = {{0, 12288}, {0, 4096}, {10, 50}, {0, 8192}};
	for (size_t k = 0; k < sizeof reads / sizeof reads[0]; k++) {
		memset(buf, 0xA5, sizeof buf);
		long r = fsp_pread(fb, ino, buf, reads[k][1], reads[k][0]);
		if (r != -FSP_EFORMAT)
			FAIL("v2d-chunk-block read %zu: got %ld, want -FSP_EFORMAT", k, r);
		for (size_t i = 0; i < sizeof buf; i++)
			if (buf[i] != 0xA5) {
				FAIL("v2d-chunk-block read %zu: byte %zu of the caller's buffer changed", k, i);
				break;
			}
	}
	if (fsp_pread(fb, ino, buf, 4096, 4096) != 4096 || memcmp(buf, want + 4096, 4096) != 0)
		FAIL("v2d-chunk-block: the intact chunk 1 of z/text does not read");
out:
	fsp_close(ok);
	fsp_close(fb);
	free(img);
	free(img1);
}

/* Images with compression (v2z-*.img): reads at every offset and length
 * class agree with a whole-file read; a tampered compressed chunk
 * (v2z-chunk-comp.img, chunk 1 of z/text) fails with -FSP_EAUTH and an
 * authentic chunk whose LZ4 block is malformed (v2z-chunk-block.img, chunk
 * 0 of z/text) with -FSP_EFORMAT, both leaving the caller's buffer from the
 * failed chunk on untouched; three threads read everything at once. */
static void compressed_reads(void)
{
	uint64_t len, len1, len2;
	uint8_t *img, *img1, *img2;
	struct fsp *ok = open_vec("v2z-ok.img", &img, &len);
	struct fsp *fc = open_vec("v2z-chunk-comp.img", &img1, &len1);
	struct fsp *fb = open_vec("v2z-chunk-block.img", &img2, &len2);
	static uint8_t want[12288], buf[12288];
	uint32_t ino;
	if (ok == NULL || fc == NULL || fb == NULL || resolve(ok, "z/text", &ino) != 0 ||
	    fsp_pread(ok, ino, want, sizeof want, 0) != 11000) {
		FAIL("v2z: cannot set up");
		goto out;
	}
	for (uint64_t off = 0; off < 11000; off += 997)
		for (uint64_t l = 1; l <= 9000; l = l * 3 + 1) {
			long r = fsp_pread(ok, ino, buf, l, off);
			long w = (long)(off + l > 11000 ? 11000 - off : l);
			if (r != w || memcmp(buf, want + off, (size_t)w) != 0)
				FAIL("v2z: pread(%llu, %llu) = %ld", (unsigned long long)off, (unsigned long long)l, r);
		}
	static const struct {
		int block; /* v2z-chunk-block.img (chunk 0 bad) or v2z-chunk-comp.img (chunk 1) */
		uint64_t off, len;
		long authentic;
		long rc;
	} reads[] = {
		{0, 0, 12288, 4096, -FSP_EAUTH}, {0, 4096, 100, 0, -FSP_EAUTH}, {0, 4000, 200, 96, -FSP_EAUTH},
		{1, 0, 12288, 0, -FSP_EFORMAT},	 {1, 10, 50, 0, -FSP_EFORMAT},
	};
	for (size_t k = 0; k < sizeof reads / sizeof reads[0]; k++) {
		memset(buf, 0xA5, sizeof buf);
		long r = fsp_pread(reads[k].block ? fb : fc, ino, buf, reads[k].len, reads[k].off);
		if (r != reads[k].rc)
			FAIL("v2z read %zu: got %ld, want %ld", k, r, reads[k].rc);
		if (memcmp(buf, want + reads[k].off, (size_t)reads[k].authentic) != 0)
			FAIL("v2z read %zu: the authentic chunk before the failing one differs", k);
		for (size_t i = (size_t)reads[k].authentic; i < sizeof buf; i++)
			if (buf[i] != 0xA5) {
				FAIL("v2z read %zu: byte %zu of the caller's buffer changed", k, i);
				break;
			}
	}
	if (fsp_pread(fb, ino, buf, 100, 4096) != 100 || memcmp(buf, want + 4096, 100) != 0)
		FAIL("v2z: the intact chunk 1 of v2z-chunk-block.img does not read");
	pthread_t th[3];
	struct thr t[3] = {{ok, 0}, {ok, 0}, {ok, 0}};
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, reader_thread, &t[i]);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		if (t[i].rc != 0)
			FAIL("v2z thread %d: %s", i, fsp_strerror(t[i].rc));
	}
out:
	fsp_close(ok);
	fsp_close(fc);
	fsp_close(fb);
	free(img);
	free(img1);
	free(img2);
}

/* Benchmark mode (not run by make): build without sanitizers, e.g.
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Iruntime/include -Iruntime/lib -o /tmp/fspbench \
 *      -Iruntime/tests runtime/tests/test_fsp.c runtime/lib/fsp.c runtime/lib/rlock.c runtime/tests/host_shim.c \
 *      -lbearssl -llz4 -lpthread
 *   /tmp/fspbench bench IMAGE KEYHEX PATH
 * prints the latency of random 4 KiB preads (4 KiB-aligned) and the
 * throughput of sequential 4 KiB, 32 KiB and 1 MiB preads of file PATH. */
static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench(const char *imgpath, const char *keyhex, const char *path)
{
	size_t n;
	uint8_t key[32];
	uint8_t *img = read_file(imgpath, &n);
	if (img == NULL || unhex(keyhex, key, 32) != 0)
		return 2;
	struct fsp *f;
	uint32_t ino;
	struct fsp_stat st;
	double t0 = now_sec();
	int rc = t_open(&f, img, (uint64_t)n, key, NULL);
	double topen = now_sec() - t0;
	if (rc != 0 || resolve(f, path, &ino) != 0 || fsp_stat(f, ino, &st) != 0) {
		fprintf(stderr, "open: %s\n", fsp_strerror(rc));
		return 1;
	}
	uint8_t *buf = malloc(1 << 20);
	unsigned seed = 1;
	int iters = 20000;
	t0 = now_sec();
	for (int i = 0; i < iters; i++) {
		seed = seed * 1103515245u + 12345u;
		uint64_t off = ((uint64_t)(seed >> 4) % (st.size / 4096)) * 4096;
		if (fsp_pread(f, ino, buf, 4096, off) != 4096)
			return 1;
	}
	double trand = (now_sec() - t0) / iters;
	printf("chunk %u: open %.0f us, random 4 KiB pread %.2f us", fsp_chunk_size(f), topen * 1e6, trand * 1e6);
	static const uint64_t sizes[3] = {4096, 32768, 1 << 20};
	for (int s = 0; s < 3; s++) {
		double best = 0;
		for (int rep = 0; rep < 3; rep++) {
			t0 = now_sec();
			for (uint64_t off = 0; off < st.size; off += sizes[s])
				if (fsp_pread(f, ino, buf, sizes[s], off) <= 0)
					return 1;
			double r = (double)st.size / (now_sec() - t0) / 1e6;
			best = r > best ? r : best;
		}
		printf(", seq %llu KiB reads %.0f MB/s", (unsigned long long)(sizes[s] >> 10), best);
	}
	printf("\n");
	fsp_close(f);
	free(buf);
	free(img);
	return 0;
}

/* Reads of an image compressed against its dictionary from more threads
 * than it has decoding slots: each thread reads z/text and z/fromdict
 * over and over and compares them with a read made before the threads
 * started (the slots and the slow path must give the same bytes). */
struct dthr {
	const struct fsp *f;
	uint32_t ino[2];
	const uint8_t *want[2];
	size_t len[2];
	int bad;
};

static void *dict_reader(void *p)
{
	struct dthr *t = p;
	uint8_t buf[16384];
	for (int it = 0; it < 300 && !t->bad; it++)
		for (int k = 0; k < 2; k++) {
			long n = fsp_pread(t->f, t->ino[k], buf, t->len[k], 0);
			if (n != (long)t->len[k] || memcmp(buf, t->want[k], t->len[k]) != 0)
				t->bad = 1;
		}
	return NULL;
}

static void dict_concurrent_reads(void)
{
	uint64_t len;
	uint8_t *img;
	struct fsp *f = open_vec("v2d-ok.img", &img, &len);
	if (f == NULL)
		return;
	static uint8_t want[2][16384];
	struct dthr t[8];
	const char *names[2] = {"z/text", "z/fromdict"};
	for (int k = 0; k < 2; k++) {
		uint32_t ino;
		long n = resolve(f, names[k], &ino) == 0 ? fsp_pread(f, ino, want[k], sizeof want[k], 0) : -1;
		if (n <= 0) {
			FAIL("v2d-ok.img: cannot read %s", names[k]);
			fsp_close(f);
			free(img);
			return;
		}
		for (int i = 0; i < 8; i++) {
			t[i].f = f;
			t[i].ino[k] = ino;
			t[i].want[k] = want[k];
			t[i].len[k] = (size_t)n;
			t[i].bad = 0;
		}
	}
	pthread_t th[8];
	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, dict_reader, &t[i]);
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		if (t[i].bad)
			FAIL("v2d-ok.img: thread %d read other bytes", i);
	}
	fsp_close(f);
	free(img);
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "bench") == 0)
		return bench(argv[2], argv[3], argv[4]);
	run_manifest();
	static const char *const images[] = {"ok.img", "v2-ok.img"};
	for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
		bitflip_campaign(images[i]);
		index_mutations(images[i]);
		concurrent_reads(images[i]);
	}
	tampered_reads("");
	tampered_reads("v2-");
	bitflip_campaign("v2z-ok.img");
	index_mutations("v2z-ok.img");
	bitflip_campaign("v2d-ok.img");
	index_mutations("v2d-ok.img");
	dict_concurrent_reads();
	dict_block_reads();
	compressed_reads();
	/* Again with BearSSL's GCM, as on CPUs without AES-NI (the one-pass
	 * opener is what ran above where the CPU has it): the vectors, the
	 * tampered reads and one campaign of bit flips per format. */
	open_flags = FSP_OPEN_BEARSSL;
	run_manifest();
	tampered_reads("");
	tampered_reads("v2-");
	bitflip_campaign("v2-ok.img");
	bitflip_campaign("v2d-ok.img");
	dict_block_reads();
	compressed_reads();
	return test_summary("test_fsp");
}
