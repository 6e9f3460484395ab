/* Host test of the console record writer (runtime/lib/console.c, format
 * version 2, docs/console.md).
 *
 * It also owns the shared test vectors in testdata/console/ (format in
 * testdata/console/README.md): it builds every vector in memory and checks
 * that the files there are byte for byte what the writer produces (run from
 * the repository root, as make test-runtime does); with
 * SCONE_CONSOLE_FIXTURE=DIR it writes them to DIR instead. pkg/console's
 * tests decode the same files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bearssl.h>

#include "console.h"
#include "testutil.h"

struct sink {
	uint8_t *buf;
	size_t len, cap;
	int calls;
	int fail_at; /* fail the n-th call (1-based), 0: never */
};

static long emit(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;
	s->calls++;
	if (s->fail_at && s->calls == s->fail_at)
		return -EPIPE;
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->buf = realloc(s->buf, s->cap);
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

/* Appends bytes to a sink without counting an emit call. */
static void sink_add(struct sink *s, const void *p, size_t n)
{
	int calls = s->calls;
	emit(s, p, n);
	s->calls = calls;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

static void hkdf(const uint8_t *ikm, const void *salt, size_t slen, const char *label, uint8_t out[32])
{
	br_hkdf_context hc;
	br_hkdf_init(&hc, &br_sha256_vtable, salt ? salt : BR_HKDF_NO_SALT, slen);
	br_hkdf_inject(&hc, ikm, 32);
	br_hkdf_flip(&hc);
	br_hkdf_produce(&hc, label, strlen(label), out, 32);
}

/* Independent decoder of one session (BearSSL, portable AES, spelled-out
 * labels) used to check the writer. fs_key is the FS key. Returns the
 * number of plaintext bytes, -1 on any error; *final set when a final
 * record was seen. */
static long decode(const uint8_t fs_key[32], const uint8_t *in, size_t n, uint8_t *out, int *final)
{
	*final = 0;
	if (n < 128 || memcmp(in, "SCNC", 4) || in[4] != 2 || in[6] || in[7])
		return -1;
	uint8_t ck[32], k[32], mac[32];
	hkdf(fs_key, NULL, 0, "scone console v2 key", ck);
	hkdf(ck, NULL, 0, "scone console v2 header mac", k);
	br_hmac_key_context kc;
	br_hmac_context mc;
	br_hmac_key_init(&kc, &br_sha256_vtable, k, 32);
	br_hmac_init(&mc, &kc, 0);
	br_hmac_update(&mc, in, 96);
	br_hmac_out(&mc, mac);
	if (memcmp(mac, in + 96, 32))
		return -1;
	hkdf(ck, in, 96, "scone console v2 session", k);
	br_aes_ct_ctr_keys aes;
	br_aes_ct_ctr_init(&aes, k, 32);
	br_gcm_context g;
	br_gcm_init(&g, &aes.vtable, br_ghash_ctmul32);
	size_t off = 128, outlen = 0;
	uint64_t want = 0;
	while (off < n) {
		if (*final || n - off < CONSOLE_REC_HDR_LEN + CONSOLE_TAG_LEN)
			return -1;
		const uint8_t *rh = in + off;
		uint32_t len = be32(rh + 9);
		if (be64(rh) != want || n - off - CONSOLE_REC_HDR_LEN - CONSOLE_TAG_LEN < len)
			return -1;
		uint8_t iv[12] = {0};
		memcpy(iv + 4, rh, 8);
		br_gcm_reset(&g, iv, 12);
		br_gcm_aad_inject(&g, rh, CONSOLE_REC_HDR_LEN);
		br_gcm_flip(&g);
		memcpy(out + outlen, rh + CONSOLE_REC_HDR_LEN, len);
		br_gcm_run(&g, 0, out + outlen, len);
		if (!br_gcm_check_tag(&g, rh + CONSOLE_REC_HDR_LEN + len))
			return -1;
		if (rh[8] & CONSOLE_FLAG_FINAL)
			*final = 1;
		outlen += len;
		off += CONSOLE_REC_HDR_LEN + len + CONSOLE_TAG_LEN;
		want++;
	}
	return (long)outlen;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

static struct console_origin root_origin(uint8_t mr, uint8_t run)
{
	struct console_origin o;
	memset(&o, 0, sizeof o);
	memset(o.mrenclave, mr, 32);
	memset(o.run_nonce, run, 16);
	memset(o.nonce, run, 16);
	return o;
}

static struct console_origin child_origin(const struct console_origin *parent, uint8_t nonce, uint64_t n)
{
	struct console_origin o = *parent;
	memcpy(o.parent_nonce, parent->nonce, 16);
	memset(o.nonce, nonce, 16);
	o.fork_counter = n;
	return o;
}

static void test_roundtrip(void)
{
	uint8_t fs[32], ck[32];
	fill(fs, 32, 1);
	console_derive_key(fs, ck);
	struct console_origin o = root_origin(0xaa, 0x11);
	struct console_stream *s = console_open(ck, CONSOLE_STDOUT, &o);
	CHECK(s != NULL);
	struct sink sk = {0};
	CHECK(console_write(s, "", 0, emit, &sk) == 0);
	CHECK(sk.calls == 0);
	CHECK(console_write(s, "hello\n", 6, emit, &sk) == 6);
	CHECK(sk.calls == 1);
	CHECK(sk.len == CONSOLE_HDR_LEN + CONSOLE_REC_HDR_LEN + 6 + CONSOLE_TAG_LEN);
	CHECK(memcmp(sk.buf, "SCNC\x02\x01\0\0", 8) == 0);
	CHECK(memcmp(sk.buf + 8, o.mrenclave, 32) == 0);
	CHECK(memcmp(sk.buf + 40, o.run_nonce, 16) == 0 && memcmp(sk.buf + 56, o.run_nonce, 16) == 0);
	CHECK(be64(sk.buf + 88) == 0);
	/* ciphertext differs from plaintext */
	CHECK(memcmp(sk.buf + CONSOLE_HDR_LEN + CONSOLE_REC_HDR_LEN, "hello\n", 6) != 0);
	size_t big = CONSOLE_MAX_RECORD * 2 + 5;
	uint8_t *p = malloc(big);
	fill(p, big, 3);
	CHECK(console_write(s, p, big, emit, &sk) == (long)big);
	CHECK(sk.calls == 4); /* split into 3 records */
	CHECK(console_next_seq(s) == 4);
	CHECK(console_finish(s, emit, &sk) == 0);
	CHECK(console_finish(s, emit, &sk) == 0); /* idempotent */
	CHECK(sk.calls == 5);
	CHECK(console_write(s, "x", 1, emit, &sk) == -EPIPE);

	uint8_t *out = malloc(sk.len);
	int final;
	long n = decode(fs, sk.buf, sk.len, out, &final);
	CHECK(n == (long)(6 + big));
	CHECK(final == 1);
	CHECK(n > 6 && memcmp(out, "hello\n", 6) == 0 && memcmp(out + 6, p, big) == 0);

	/* any flipped bit is detected, the header's included */
	for (size_t i = 0; i < sk.len; i += i < 200 ? 1 : 997) {
		sk.buf[i] ^= 0x10;
		CHECK(decode(fs, sk.buf, sk.len, out, &final) < 0);
		sk.buf[i] ^= 0x10;
	}
	/* the console key is not the FS key: used as one, nothing decodes */
	CHECK(decode(ck, sk.buf, sk.len, out, &final) < 0);
	fs[0] ^= 1;
	CHECK(decode(fs, sk.buf, sk.len, out, &final) < 0);
	fs[0] ^= 1;
	/* truncation before the final record is visible */
	n = decode(fs, sk.buf, CONSOLE_HDR_LEN + CONSOLE_REC_HDR_LEN + 6 + CONSOLE_TAG_LEN, out, &final);
	CHECK(n == 6 && final == 0);
	console_close(s);
	free(out);
	free(p);
	free(sk.buf);
}

/* console_start sends the header alone, once; records then go without it. */
static void test_start(void)
{
	uint8_t ck[32] = {7};
	struct console_origin o = root_origin(0xaa, 0x11);
	struct console_stream *s = console_open(ck, CONSOLE_STDERR, &o);
	struct sink sk = {.fail_at = 1};
	CHECK(console_start(s, emit, &sk) == -EPIPE); /* not sent: it goes with the first record */
	CHECK(sk.len == 0);
	CHECK(console_write(s, "a", 1, emit, &sk) == 1);
	CHECK(sk.len == CONSOLE_HDR_LEN + CONSOLE_REC_HDR_LEN + 1 + CONSOLE_TAG_LEN);
	CHECK(console_start(s, emit, &sk) == 0 && sk.calls == 2); /* already sent */
	console_close(s);
	free(sk.buf);

	s = console_open(ck, CONSOLE_STDOUT, &o);
	struct sink s2 = {0};
	CHECK(console_start(s, emit, &s2) == 0 && s2.len == CONSOLE_HDR_LEN);
	CHECK(console_start(s, emit, &s2) == 0 && s2.calls == 1);
	CHECK(console_write(s, "b", 1, emit, &s2) == 1);
	CHECK(s2.len == CONSOLE_HDR_LEN + CONSOLE_REC_HDR_LEN + 1 + CONSOLE_TAG_LEN);
	CHECK(be64(s2.buf + CONSOLE_HDR_LEN) == 0);
	console_close(s);
	free(s2.buf);
}

static void test_origins(void)
{
	uint8_t ck[32] = {0};
	struct console_origin r = root_origin(0xaa, 0x11), bad;
	struct console_origin c = child_origin(&r, 0x21, 1);
	CHECK(console_origin_valid(&r) && console_origin_valid(&c));
	CHECK(!console_origin_valid(NULL));
	bad = r;
	bad.nonce[3] ^= 1; /* a root's nonce is the run nonce */
	CHECK(!console_origin_valid(&bad));
	bad = r;
	bad.parent_nonce[0] = 1; /* a root has no parent */
	CHECK(!console_origin_valid(&bad));
	bad = c;
	bad.fork_counter = 0; /* a child without a fork counter */
	CHECK(!console_origin_valid(&bad));
	bad = c;
	memset(bad.parent_nonce, 0, 16); /* a child without a parent */
	CHECK(!console_origin_valid(&bad));
	bad = c;
	memcpy(bad.nonce, bad.run_nonce, 16); /* a child with the root's nonce */
	CHECK(!console_origin_valid(&bad));
	bad = child_origin(&c, 0x21, 1); /* a grandchild with its parent's nonce */
	CHECK(!console_origin_valid(&bad));
	bad = r;
	memset(bad.run_nonce, 0, 16);
	memset(bad.nonce, 0, 16);
	CHECK(!console_origin_valid(&bad));
	CHECK(console_open(ck, CONSOLE_STDOUT, &bad) == NULL);
	CHECK(console_open(ck, 3, &r) == NULL);
	CHECK(console_open(NULL, 1, &r) == NULL);
	CHECK(console_open(ck, 1, NULL) == NULL);
}

static void test_errors(void)
{
	uint8_t ck[32] = {0};
	struct console_origin o = root_origin(0xaa, 0x11);
	struct console_stream *s = console_open(ck, CONSOLE_STDERR, &o);
	struct sink sk = {.fail_at = 2};
	CHECK(console_write(s, "a", 1, emit, &sk) == 1);
	CHECK(console_write(s, "b", 1, emit, &sk) == -EPIPE);
	CHECK(console_write(s, "c", 1, emit, &sk) == -EIO); /* broken */
	CHECK(console_finish(s, emit, &sk) == -EIO);
	CHECK(console_write(NULL, "a", 1, emit, &sk) == -EINVAL);
	/* sessions that differ in any header field never share a key stream */
	struct console_origin c = child_origin(&o, 0x21, 1), c2 = child_origin(&o, 0x21, 2), other = o;
	other.mrenclave[31] ^= 1;
	struct console_stream *v[] = {console_open(ck, 1, &o), console_open(ck, 2, &o), console_open(ck, 1, &c),
				      console_open(ck, 1, &c2), console_open(ck, 1, &other)};
	struct sink out[5] = {{0}};
	for (int i = 0; i < 5; i++)
		CHECK(console_write(v[i], "same", 4, emit, &out[i]) == 4);
	for (int i = 0; i < 5; i++)
		for (int j = i + 1; j < 5; j++)
			CHECK(memcmp(out[i].buf + 128 + 13, out[j].buf + 128 + 13, 4 + 16) != 0);
	for (int i = 0; i < 5; i++) {
		console_close(v[i]);
		free(out[i].buf);
	}
	console_close(s);
	console_close(NULL);
	free(sk.buf);
}

/* ---- test vectors (testdata/console/README.md) ---- */

static const char *vec_dir; /* write here (SCONE_CONSOLE_FIXTURE), else check */
static int vec_files;

static void vector(const char *name, const void *p, size_t n)
{
	char path[4096];
	vec_files++;
	if (vec_dir) {
		snprintf(path, sizeof(path), "%s/%s", vec_dir, name);
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
			fprintf(stderr, "cannot write %s\n", path);
			exit(1);
		}
		return;
	}
	snprintf(path, sizeof(path), "testdata/console/%s", name);
	size_t len = 0;
	uint8_t *b = read_file(path, &len);
	if (!b || len != n || memcmp(b, p, n)) {
		fprintf(stderr,
			"%s is not what the writer produces now (%s): regenerate the vectors, see "
			"testdata/console/README.md\n",
			path, b ? "differs" : "missing");
		test_failures++;
	}
	free(b);
}

static void vector_sink(const char *name, struct sink *s)
{
	vector(name, s->buf, s->len);
	free(s->buf);
	memset(s, 0, sizeof *s);
}

static void hexs(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

/* A whole session (header, one record per string, final) into sk. */
static void session(struct sink *sk, const uint8_t ck[32], int stream, const struct console_origin *o,
		    const char *const *recs)
{
	struct console_stream *s = console_open(ck, (uint8_t)stream, o);
	CHECK(s != NULL);
	for (; *recs; recs++)
		CHECK(console_write(s, *recs, strlen(*recs), emit, sk) == (long)strlen(*recs));
	CHECK(console_finish(s, emit, sk) == 0);
	console_close(s);
}

#define W(s, str) CHECK(console_write((s), (str), strlen(str), emit, &out) == (long)strlen(str))

static void vectors(void)
{
	uint8_t fs[32], ck[32];
	for (int i = 0; i < 32; i++)
		fs[i] = (uint8_t)i;
	console_derive_key(fs, ck);
	char manifest[8192], kh[65], ch[65], ah[65], line[512];
	hexs(kh, fs, 32);
	hexs(ch, ck, 32);

	/* Enclave A (MRENCLAVE aa..): runs A1 (stdout.bin, stderr.bin), A2
	 * (denied), A3 (another run of the same image). Enclave B (bb..): run
	 * B1 (another image, the same FS key). */
	struct console_origin a1 = root_origin(0xaa, 0x11), a2 = root_origin(0xaa, 0x31), a3 = root_origin(0xaa, 0x41),
			      b1 = root_origin(0xbb, 0x51);
	hexs(ah, a1.mrenclave, 32);
	struct console_origin c1 = child_origin(&a1, 0x21, 1), g = child_origin(&c1, 0x22, 1),
			      c2 = child_origin(&a1, 0x23, 2), g2 = child_origin(&c2, 0x24, 1);
	struct console_origin a3c = child_origin(&a3, 0x42, 1);
	struct console_origin bc = child_origin(&a2, 0x52, 1); /* claims run A2, written by enclave B */
	memset(bc.mrenclave, 0xbb, 32);

	struct sink out = {0};
	/* stdout.bin: run A1's stdout. The root header first (as the runtime
	 * writes it at start), a child interleaved with the root, a grandchild,
	 * and the child of a child that wrote nothing on stdout (c2). */
	struct console_stream *root = console_open(ck, CONSOLE_STDOUT, &a1);
	struct console_stream *sc1 = console_open(ck, CONSOLE_STDOUT, &c1);
	struct console_stream *sg = console_open(ck, CONSOLE_STDOUT, &g);
	struct console_stream *sg2 = console_open(ck, CONSOLE_STDOUT, &g2);
	CHECK(console_start(root, emit, &out) == 0);
	W(root, "hello from the root\n");
	size_t c1_start = out.len;
	W(sc1, "child 1\n");
	size_t c1_rec0_end = out.len;
	W(root, "root again\n");
	W(sg, "grandchild\n");
	CHECK(console_finish(sg, emit, &out) == 0);
	size_t c1_final = out.len;
	CHECK(console_finish(sc1, emit, &out) == 0);
	size_t c1_final_end = out.len;
	W(sg2, "child of a child that wrote nothing here\n");
	CHECK(console_finish(sg2, emit, &out) == 0);
	CHECK(console_finish(root, emit, &out) == 0);
	console_close(root);
	console_close(sc1);
	console_close(sg);
	console_close(sg2);
	struct sink std = out;
	memset(&out, 0, sizeof out);
	vector("stdout.bin", std.buf, std.len);
	static const char stdout_txt[] = "hello from the root\nchild 1\nroot again\ngrandchild\n"
					 "child of a child that wrote nothing here\n";
	vector("stdout.txt", stdout_txt, sizeof stdout_txt - 1);
	/* replayed-session.bin: child 1's whole session once more at the end */
	sink_add(&out, std.buf, std.len);
	sink_add(&out, std.buf + c1_start, c1_rec0_end - c1_start);
	sink_add(&out, std.buf + c1_final, c1_final_end - c1_final);
	vector_sink("replayed-session.bin", &out);
	/* child-first.bin: child 1's session alone (the log's start is missing) */
	sink_add(&out, std.buf + c1_start, c1_rec0_end - c1_start);
	sink_add(&out, std.buf + c1_final, c1_final_end - c1_final);
	vector_sink("child-first.bin", &out);
	free(std.buf);

	/* stderr.bin: run A1's stderr, one write split into two records */
	root = console_open(ck, CONSOLE_STDERR, &a1);
	CHECK(console_start(root, emit, &out) == 0);
	size_t big = CONSOLE_MAX_RECORD + 100;
	uint8_t *p = malloc(big);
	for (size_t i = 0; i < big; i++)
		p[i] = (uint8_t)('a' + i % 26);
	CHECK(console_write(root, p, big, emit, &out) == (long)big);
	CHECK(console_finish(root, emit, &out) == 0);
	console_close(root);
	vector_sink("stderr.bin", &out);
	vector("stderr.txt", p, big);
	free(p);

	/* denied.bin: run A2 says DENIED; the attacks splice into it. */
	static const char *const denied[] = {"result=DENIED\n", NULL}, *const granted[] = {"result=GRANTED\n", NULL},
				 *const errs[] = {"error: access denied\n", NULL};
	vector("denied.txt", "result=DENIED\n", 14);
	session(&out, ck, CONSOLE_STDOUT, &a2, denied);
	struct sink den = out;
	memset(&out, 0, sizeof out);
	vector("denied.bin", den.buf, den.len);
	size_t den_final = den.len - CONSOLE_REC_HDR_LEN - CONSOLE_TAG_LEN; /* where the root's final record starts */

	sink_add(&out, den.buf, den.len);
	session(&out, ck, CONSOLE_STDOUT, &b1, granted);
	vector_sink("splice-other-image.bin", &out);

	sink_add(&out, den.buf, den_final);
	session(&out, ck, CONSOLE_STDOUT, &bc, granted);
	sink_add(&out, den.buf + den_final, den.len - den_final);
	vector_sink("splice-other-image-child.bin", &out);

	sink_add(&out, den.buf, den.len);
	session(&out, ck, CONSOLE_STDOUT, &a3, granted);
	vector_sink("splice-other-run.bin", &out);

	sink_add(&out, den.buf, den_final);
	session(&out, ck, CONSOLE_STDOUT, &a3c, granted);
	sink_add(&out, den.buf + den_final, den.len - den_final);
	vector_sink("splice-other-run-child.bin", &out);

	sink_add(&out, den.buf, den.len);
	session(&out, ck, CONSOLE_STDERR, &a2, errs);
	vector_sink("stream-swap.bin", &out);

	sink_add(&out, den.buf, den.len);
	session(&out, ck, CONSOLE_STDERR, &b1, errs);
	vector_sink("stream-swap-other-image.bin", &out);
	free(den.buf);

	/* The console key file of the vectors' FS key (docs/console.md). */
	snprintf(line, sizeof line,
		 "# scone-build console key (docs/console.md): it decrypts console logs, not the file system.\n"
		 "scone-console-key v1\nkey %s\n",
		 ch);
	vector("console.key", line, strlen(line));

	int m = snprintf(manifest, sizeof manifest,
			 "# Written by runtime/tests/test_console.c. Format: testdata/console/README.md\n"
			 "fskey %s\nconsolekey %s\n"
			 "decode stdout.bin stdout - ok stdout.txt\n"
			 "decode stdout.bin stdout %s ok stdout.txt\n"
			 "tree stdout.bin - 0 1 -\n"
			 "decode stdout.bin stderr - stream -\n"
			 "decode stderr.bin stderr %s ok stderr.txt\n"
			 "tree stderr.bin -\n"
			 "decode stderr.bin stdout - stream -\n"
			 "decode denied.bin stdout %s ok denied.txt\n"
			 "decode denied.bin stdout %.62s00 enclave -\n"
			 "decode splice-other-image.bin stdout - enclave denied.txt\n"
			 "decode splice-other-image.bin stdout %s enclave denied.txt\n"
			 "decode splice-other-image-child.bin stdout - enclave denied.txt\n"
			 "decode splice-other-run.bin stdout - spliced denied.txt\n"
			 "decode splice-other-run.bin stdout %s spliced denied.txt\n"
			 "decode splice-other-run-child.bin stdout - spliced denied.txt\n"
			 "decode stream-swap.bin stdout - stream denied.txt\n"
			 "decode stream-swap-other-image.bin stdout %s stream denied.txt\n"
			 "decode replayed-session.bin stdout - spliced stdout.txt\n"
			 "decode child-first.bin stdout - truncated -\n"
			 "decode v1.bin stdout - version -\n",
			 kh, ch, ah, ah, ah, ah, ah, ah, ah);
	CHECK(m > 0 && (size_t)m < sizeof manifest);
	vector("vectors.txt", manifest, (size_t)m);
}

int main(void)
{
	test_roundtrip();
	test_start();
	test_origins();
	test_errors();
	vec_dir = getenv("SCONE_CONSOLE_FIXTURE");
	vectors();
	printf("vectors: %d files %s\n", vec_files, vec_dir ? "written" : "checked");
	return test_summary("test_console");
}
