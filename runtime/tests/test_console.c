/* Host test of the console record writer (runtime/lib/console.c).
 * With SCONE_CONSOLE_FIXTURE=DIR it also writes the Go decoder's fixtures
 * (the .bin files in testdata/console/, see testdata/console/README.md). */
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

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

/* Independent decoder (BearSSL, portable AES) used to check the writer.
 * Returns the number of plaintext bytes, -1 on any error; *final set when a
 * final record was seen. */
static long decode(const uint8_t key[32], const uint8_t *in, size_t n, uint8_t *out, int *final)
{
	*final = 0;
	if (n < CONSOLE_HDR_LEN || memcmp(in, "SCNC", 4) || in[4] != 1)
		return -1;
	uint8_t k[32];
	br_hkdf_context hc;
	br_hkdf_init(&hc, &br_sha256_vtable, in, CONSOLE_HDR_LEN);
	br_hkdf_inject(&hc, key, 32);
	br_hkdf_flip(&hc);
	br_hkdf_produce(&hc, "scone console v1", 16, k, 32);
	br_aes_ct_ctr_keys aes;
	br_aes_ct_ctr_init(&aes, k, 32);
	br_gcm_context g;
	br_gcm_init(&g, &aes.vtable, br_ghash_ctmul32);
	size_t off = CONSOLE_HDR_LEN, outlen = 0;
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

static void test_roundtrip(void)
{
	uint8_t key[32], nonce[16];
	fill(key, 32, 1);
	fill(nonce, 16, 2);
	struct console_stream *s = console_open(key, CONSOLE_STDOUT, nonce);
	CHECK(s != NULL);
	struct sink sk = {0};
	CHECK(console_write(s, "", 0, emit, &sk) == 0);
	CHECK(sk.calls == 0);
	CHECK(console_write(s, "hello\n", 6, emit, &sk) == 6);
	CHECK(sk.calls == 1);
	CHECK(sk.len == CONSOLE_HDR_LEN + CONSOLE_REC_HDR_LEN + 6 + CONSOLE_TAG_LEN);
	CHECK(memcmp(sk.buf, "SCNC\x01\x01\0\0", 8) == 0);
	CHECK(memcmp(sk.buf + 8, nonce, 16) == 0);
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
	long n = decode(key, sk.buf, sk.len, out, &final);
	CHECK(n == (long)(6 + big));
	CHECK(final == 1);
	CHECK(n > 6 && memcmp(out, "hello\n", 6) == 0 && memcmp(out + 6, p, big) == 0);

	/* any flipped bit is detected */
	for (size_t i = 0; i < sk.len; i += 997) {
		sk.buf[i] ^= 0x10;
		CHECK(decode(key, sk.buf, sk.len, out, &final) < 0); /* header bytes change the key */
		sk.buf[i] ^= 0x10;
	}
	/* wrong key */
	key[0] ^= 1;
	CHECK(decode(key, sk.buf, sk.len, out, &final) < 0);
	/* truncation before the final record is visible */
	key[0] ^= 1;
	n = decode(key, sk.buf, CONSOLE_HDR_LEN + CONSOLE_REC_HDR_LEN + 6 + CONSOLE_TAG_LEN, out, &final);
	CHECK(n == 6 && final == 0);
	console_close(s);
	free(out);
	free(p);
	free(sk.buf);
}

static void test_errors(void)
{
	uint8_t key[32] = {0}, nonce[16] = {0};
	CHECK(console_open(key, 3, nonce) == NULL);
	CHECK(console_open(NULL, 1, nonce) == NULL);
	struct console_stream *s = console_open(key, CONSOLE_STDERR, nonce);
	struct sink sk = {.fail_at = 2};
	CHECK(console_write(s, "a", 1, emit, &sk) == 1);
	CHECK(console_write(s, "b", 1, emit, &sk) == -EPIPE);
	CHECK(console_write(s, "c", 1, emit, &sk) == -EIO); /* broken */
	CHECK(console_finish(s, emit, &sk) == -EIO);
	CHECK(console_write(NULL, "a", 1, emit, &sk) == -EINVAL);
	/* two sessions with different nonces never share a key stream */
	uint8_t n2[16] = {1};
	struct console_stream *a = console_open(key, 1, nonce), *b = console_open(key, 1, n2);
	struct sink sa = {0}, sb = {0};
	console_write(a, "same", 4, emit, &sa);
	console_write(b, "same", 4, emit, &sb);
	CHECK(memcmp(sa.buf + 24 + 13, sb.buf + 24 + 13, 4 + 16) != 0);
	console_close(a);
	console_close(b);
	console_close(s);
	console_close(NULL);
	free(sk.buf);
	free(sa.buf);
	free(sb.buf);
}

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
}

/* Fixtures: key = 00 01 .. 1f, nonces fixed (a real runtime uses fresh ones). */
static void fixtures(const char *dir)
{
	uint8_t key[32], nonce[16];
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	write_file(dir, "key.hex", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 65);
	for (int i = 0; i < 16; i++)
		nonce[i] = (uint8_t)(0xa0 + i);
	struct sink sk = {0};
	struct console_stream *s = console_open(key, CONSOLE_STDOUT, nonce);
	console_write(s, "hello, console\n", 15, emit, &sk);
	console_write(s, "second line\n", 12, emit, &sk);
	console_finish(s, emit, &sk);
	console_close(s);
	/* a second session appended to the same log */
	nonce[0] ^= 0xff;
	s = console_open(key, CONSOLE_STDOUT, nonce);
	console_write(s, "after restart\n", 14, emit, &sk);
	console_finish(s, emit, &sk);
	console_close(s);
	write_file(dir, "stdout.bin", sk.buf, sk.len);
	write_file(dir, "stdout.txt", "hello, console\nsecond line\nafter restart\n", 41);
	free(sk.buf);

	memset(&sk, 0, sizeof(sk));
	nonce[1] ^= 0xff;
	s = console_open(key, CONSOLE_STDERR, nonce);
	size_t big = CONSOLE_MAX_RECORD + 100;
	uint8_t *p = malloc(big);
	for (size_t i = 0; i < big; i++)
		p[i] = (uint8_t)('a' + i % 26);
	console_write(s, p, big, emit, &sk);
	console_finish(s, emit, &sk);
	console_close(s);
	write_file(dir, "stderr.bin", sk.buf, sk.len);
	write_file(dir, "stderr.txt", p, big);
	free(p);
	free(sk.buf);
}

int main(void)
{
	test_roundtrip();
	test_errors();
	const char *dir = getenv("SCONE_CONSOLE_FIXTURE");
	if (dir)
		fixtures(dir);
	return test_summary("test_console");
}
