/* Host test of runtime/lib/casmsg.c and casseal.c against the vectors of
 * testdata/casproto (which pkg/casproto passes too): requests encode to and
 * decode from their bytes, released responses open to their secrets, every
 * must-fail message and every must-not-open sealed blob is refused; plus
 * tables of our own for what the vectors do not cover. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bearssl.h>

#include "casmsg.h"
#include "casseal.h"
#include "testutil.h"
#include <stddef.h>
#include "vectors.h"

#define VDIR "testdata/casproto/"

static int same(const uint8_t *a, size_t al, const void *b, size_t bl) { return al == bl && !memcmp(a, b, al); }

/* The public point of a 32-byte private scalar. */
static void pub_of(const uint8_t priv[32], uint8_t pub[65])
{
	uint8_t k[32], out[BR_EC_KBUF_PUB_MAX_SIZE];
	memcpy(k, priv, 32);
	br_ec_private_key sk = {BR_EC_secp256r1, k, 32};
	br_ec_public_key pk;
	CHECK(br_ec_compute_pub(&br_ec_p256_m15, &pk, out, &sk) == 65);
	memcpy(pub, out, 65);
}

static void test_requests(void)
{
	struct vec_file f;
	CHECK(vec_read(VDIR "attest-request.txt", &f) == 0);
	CHECK(f.n >= 2);
	for (int i = 0; i < f.n; i++) {
		const struct vec_entry *e = &f.e[i];
		size_t ml, ql;
		uint8_t *msg = vec_bytes(e, "message", 0, &ml), *quote = vec_bytes(e, "quote", 0, &ql);
		uint8_t *nonce = vec_bytes(e, "nonce", 32, NULL), *pub = vec_bytes(e, "session_public", 65, NULL);
		uint8_t *priv = vec_bytes(e, "session_private", 32, NULL), *rd = vec_bytes(e, "report_data", 64, NULL);
		const char *policy = vec_get(e, "policy"), *client = vec_get(e, "client");
		CHECK(msg && quote && nonce && pub && priv && rd && policy);
		if (!(msg && quote && nonce && pub && priv && rd && policy))
			continue;
		/* decode */
		struct casmsg_request r;
		CHECK(casmsg_decode_request(msg, ml, &r) == 0);
		CHECK(same((const uint8_t *)r.policy, r.policy_len, policy, strlen(policy)));
		CHECK(r.nonce && !memcmp(r.nonce, nonce, 32));
		CHECK(r.session_key && !memcmp(r.session_key, pub, 65));
		CHECK(same(r.quote, r.quote_len, quote, ql));
		CHECK(client ? same((const uint8_t *)r.client, r.client_len, client, strlen(client)) :
			       r.client == NULL);
		/* encode */
		uint8_t *out = NULL;
		size_t ol = 0;
		CHECK(casmsg_attest_request(policy, nonce, pub, quote, ql, client, &out, &ol) == 0);
		CHECK(out && same(out, ol, msg, ml));
		free(out);
		/* REPORTDATA and the session key pair */
		uint8_t got[64], p2[65];
		casseal_report_data(nonce, pub, got);
		CHECK(!memcmp(got, rd, 64));
		pub_of(priv, p2);
		CHECK(!memcmp(p2, pub, 65));
		/* the quote carries that REPORTDATA (report body at 48, REPORTDATA at 320) */
		CHECK(ql > 48 + 384 && !memcmp(quote + 48 + 320, rd, 64));
		free(msg), free(quote), free(nonce), free(pub), free(priv), free(rd);
	}
	vec_free(&f);
}

/* The secrets lines of a released vector against the decoded message. */
static void check_secrets(const struct vec_entry *e, const struct casmsg_secrets *s)
{
	size_t n;
	uint8_t *fk = vec_bytes(e, "fs_key", 32, &n);
	CHECK(s->has_fs_key == (fk != NULL));
	if (fk)
		CHECK(!memcmp(s->fs_key, fk, 32));
	free(fk);
	CHECK((size_t)vec_count(e, "volume_key") == s->nvolumes);
	for (size_t i = 0; i < s->nvolumes; i++) {
		const char *v = vec_get_nth(e, "volume_key", (int)i);
		const char *sp = v ? strchr(v, ' ') : NULL;
		CHECK(sp && strlen(s->volumes[i].path) == (size_t)(sp - v) &&
		      !memcmp(v, s->volumes[i].path, (size_t)(sp - v)));
		uint8_t *k = sp ? vec_hex(sp + 1, &n) : NULL;
		CHECK(k && n == 32 && !memcmp(k, s->volumes[i].key, 32));
		free(k);
	}
	CHECK((size_t)vec_count(e, "env") == s->nenv && s->env[s->nenv] == NULL);
	for (size_t i = 0; i < s->nenv; i++)
		CHECK(!strcmp(vec_get_nth(e, "env", (int)i), s->env[i]));
	CHECK(s->args_set == (vec_get(e, "args_set") != NULL));
	CHECK((size_t)vec_count(e, "arg") == s->nargs && s->args[s->nargs] == NULL);
	for (size_t i = 0; i < s->nargs; i++)
		CHECK(!strcmp(vec_get_nth(e, "arg", (int)i), s->args[i]));
	CHECK((size_t)vec_count(e, "file") == s->nfiles);
	for (size_t i = 0; i < s->nfiles; i++) {
		char mode[16], path[256], hex[1024];
		const char *v = vec_get_nth(e, "file", (int)i);
		CHECK(v && sscanf(v, "%15s %255s %1023s", mode, path, hex) == 3);
		CHECK(strtoul(mode, NULL, 8) == s->files[i].mode);
		CHECK(!strcmp(path, s->files[i].path));
		uint8_t *c = vec_hex(hex, &n);
		CHECK(c && same(c, n, s->files[i].data, s->files[i].len));
		free(c);
	}
	CHECK((size_t)vec_count(e, "volume_freshness") == s->nfresh);
	for (size_t i = 0; i < s->nfresh; i++) {
		char path[256], reinit[8];
		unsigned mode, iv;
		const char *v = vec_get_nth(e, "volume_freshness", (int)i);
		CHECK(v && sscanf(v, "%255s %u %u %7s", path, &mode, &iv, reinit) == 4);
		CHECK(!strcmp(path, s->fresh[i].path) && mode == s->fresh[i].mode && iv == s->fresh[i].interval_ms);
		CHECK(s->fresh[i].allow_reinit == !strcmp(reinit, "true"));
	}
}

static void test_released(void)
{
	struct vec_file f;
	CHECK(vec_read(VDIR "attest-response-released.txt", &f) == 0);
	CHECK(f.n >= 3);
	for (int i = 0; i < f.n; i++) {
		const struct vec_entry *e = &f.e[i];
		size_t ml, sl, pl;
		uint8_t *msg = vec_bytes(e, "message", 0, &ml), *sealed = vec_bytes(e, "sealed", 0, &sl);
		uint8_t *plain = vec_bytes(e, "secrets", 0, &pl), *nonce = vec_bytes(e, "nonce", 32, NULL);
		uint8_t *priv = vec_bytes(e, "session_private", 32, NULL),
			*pub = vec_bytes(e, "session_public", 65, NULL);
		uint8_t *epriv = vec_bytes(e, "cas_ephemeral_private", 32, NULL);
		uint8_t *epub = vec_bytes(e, "cas_ephemeral_public", 65, NULL);
		uint8_t *hash = vec_bytes(e, "policy_hash", 32, NULL), *key = vec_bytes(e, "secrets_key", 32, NULL);
		CHECK(msg && sealed && plain && nonce && priv && pub && epriv && epub && hash && key);
		if (!(msg && sealed && plain && nonce && priv && pub && epriv && epub && hash && key))
			continue;
		struct casmsg_response r;
		CHECK(casmsg_decode_response(msg, ml, &r) == 0);
		CHECK(r.status == CASMSG_RELEASED && r.reason == NULL);
		CHECK(r.simulation == (uint32_t)atoi(vec_get(e, "simulation")));
		CHECK(r.policy_hash && !memcmp(r.policy_hash, hash, 32));
		CHECK(r.cas_key && !memcmp(r.cas_key, epub, 65));
		CHECK(same(r.sealed, r.sealed_len, sealed, sl));
		/* K from either side */
		uint8_t k1[32], k2[32];
		CHECK(casseal_key(priv, epub, nonce, k1) == 0 && !memcmp(k1, key, 32));
		CHECK(casseal_key(epriv, pub, nonce, k2) == 0 && !memcmp(k2, key, 32));
		/* open, and seal again (deterministic: K is used once, zero nonce) */
		uint8_t *out = malloc(sl);
		CHECK(casseal_open(priv, epub, nonce, hash, sealed, sl, out) == 0);
		CHECK(same(out, sl - 16, plain, pl));
		uint8_t *re = malloc(pl + 16);
		CHECK(casseal_seal(epriv, pub, nonce, hash, plain, pl, re) == 0 && same(re, pl + 16, sealed, sl));
		/* in place */
		memcpy(re, sealed, sl);
		CHECK(casseal_open(priv, epub, nonce, hash, re, sl, re) == 0 && same(re, pl, plain, pl));
		struct casmsg_secrets s;
		CHECK(casmsg_decode_secrets(out, sl - 16, &s) == 0);
		check_secrets(e, &s);
		casmsg_secrets_free(&s);
		free(out), free(re);
		free(msg), free(sealed), free(plain), free(nonce), free(priv), free(pub), free(epriv), free(epub);
		free(hash), free(key);
	}
	vec_free(&f);
}

static void test_refused(void)
{
	struct vec_file f;
	CHECK(vec_read(VDIR "attest-response-refused.txt", &f) == 0);
	CHECK(f.n >= 2);
	for (int i = 0; i < f.n; i++) {
		const struct vec_entry *e = &f.e[i];
		size_t ml;
		uint8_t *msg = vec_bytes(e, "message", 0, &ml);
		const char *reason = vec_get(e, "reason");
		CHECK(msg && reason);
		struct casmsg_response r;
		CHECK(msg && casmsg_decode_response(msg, ml, &r) == 0);
		CHECK(r.status == (uint32_t)atoi(vec_get(e, "status")) && r.status != CASMSG_RELEASED);
		CHECK(r.simulation == (uint32_t)atoi(vec_get(e, "simulation")));
		CHECK(reason && same((const uint8_t *)r.reason, r.reason_len, reason, strlen(reason)));
		CHECK(!r.policy_hash && !r.cas_key && !r.sealed);
		free(msg);
	}
	vec_free(&f);
}

static void test_open_must_fail(void)
{
	struct vec_file f;
	CHECK(vec_read(VDIR "open-must-fail.txt", &f) == 0);
	CHECK(f.n >= 5);
	for (int i = 0; i < f.n; i++) {
		const struct vec_entry *e = &f.e[i];
		size_t sl;
		uint8_t *priv = vec_bytes(e, "session_private", 32, NULL),
			*epub = vec_bytes(e, "cas_ephemeral_public", 65, NULL);
		uint8_t *nonce = vec_bytes(e, "nonce", 32, NULL), *hash = vec_bytes(e, "policy_hash", 32, NULL);
		uint8_t *sealed = vec_bytes(e, "sealed", 0, &sl);
		CHECK(priv && epub && nonce && hash && sealed);
		if (priv && epub && nonce && hash && sealed) {
			uint8_t *out = malloc(sl + 1);
			memset(out, 0x5a, sl + 1);
			int r = casseal_open(priv, epub, nonce, hash, sealed, sl, out);
			if (r == 0)
				fprintf(stderr, "opened: %s\n", vec_get(e, "name"));
			CHECK(r != 0);
			/* nothing of the plaintext is left behind */
			for (size_t k = 0; r == -2 && sl >= 16 && k < sl - 16; k++)
				CHECK(out[k] == 0);
			free(out);
		}
		free(priv), free(epub), free(nonce), free(hash), free(sealed);
	}
	vec_free(&f);
}

static int decode_as(int type, const uint8_t *m, size_t n)
{
	struct casmsg_request q;
	struct casmsg_response r;
	struct casmsg_secrets s;
	int e;
	switch (type) {
	case 1:
		return casmsg_decode_request(m, n, &q);
	case 2:
		return casmsg_decode_response(m, n, &r);
	case 3:
		e = casmsg_decode_secrets(m, n, &s);
		if (!e)
			casmsg_secrets_free(&s);
		return e;
	}
	return 0;
}

static void test_must_fail(void)
{
	struct vec_file f;
	CHECK(vec_read(VDIR "must-fail.txt", &f) == 0);
	CHECK(f.n >= 50);
	for (int i = 0; i < f.n; i++) {
		const struct vec_entry *e = &f.e[i];
		size_t ml;
		uint8_t *msg = vec_bytes(e, "message", 0, &ml);
		CHECK(msg != NULL);
		int r = msg ? decode_as(atoi(vec_get(e, "type")), msg, ml) : -1;
		if (r == 0)
			fprintf(stderr, "accepted: %s\n", vec_get(e, "name"));
		CHECK(r != 0);
		free(msg);
	}
	vec_free(&f);
}

/* Our own table: secrets messages built record by record. */
struct rec {
	uint16_t tag;
	const char *v;
	size_t n; /* 0: strlen(v) */
};

static int secrets_of(const struct rec *recs, size_t n, struct casmsg_secrets *s)
{
	struct casmsg_writer w;
	casmsg_begin(&w, CASMSG_SECRETS);
	for (size_t i = 0; i < n; i++)
		casmsg_put(&w, recs[i].tag, recs[i].v, recs[i].n ? recs[i].n : strlen(recs[i].v));
	CHECK(casmsg_end(&w) == 0);
	int e = casmsg_decode_secrets(w.b, w.len, s);
	free(w.b);
	return e;
}

#define K32 "0123456789abcdef0123456789abcdef"
#define ONE "\x01\x00\x00\x00"

static void test_secrets_table(void)
{
	static const struct {
		const char *name;
		struct rec r[4];
		size_t n;
		int ok;
	} cases[] = {
		{"empty", {{0, 0, 0}}, 0, 1},
		{"fs key", {{16, K32, 0}}, 1, 1},
		{"fs key of 31 bytes", {{16, K32, 31}}, 1, 0},
		{"two fs keys", {{16, K32, 0}, {16, K32, 0}}, 2, 0},
		{"volume", {{17, "/v\0" K32, 35}}, 1, 1},
		{"volume at /", {{17, "/\0" K32, 34}}, 1, 0},
		{"volume not clean", {{17, "/a/\0" K32, 36}}, 1, 0},
		{"volume with ..", {{17, "/a/..\0" K32, 38}}, 1, 0},
		{"volume relative", {{17, "ab\0" K32, 35}}, 1, 0},
		{"volumes unsorted", {{17, "/b\0" K32, 35}, {17, "/a\0" K32, 35}}, 2, 0},
		{"volume twice", {{17, "/a\0" K32, 35}, {17, "/a\0" K32, 35}}, 2, 0},
		{"env", {{18, "A=1", 0}, {18, "B=", 0}}, 2, 1},
		{"env value not UTF-8", {{18, "A=\xff", 0}}, 1, 1},
		{"env unsorted", {{18, "B=1", 0}, {18, "A=1", 0}}, 2, 0},
		{"env prefix sorts first", {{18, "A=1", 0}, {18, "AB=1", 0}}, 2, 1},
		{"env name with digit first", {{18, "1A=1", 0}}, 1, 0},
		{"env without =", {{18, "AB", 0}}, 1, 0},
		{"env NUL", {{18, "A=b\0c", 5}}, 1, 0},
		{"args set, none", {{19, ONE, 4}}, 1, 1},
		{"args set 2", {{19, "\x02\x00\x00\x00", 4}}, 1, 0},
		{"arg without args set", {{20, "x", 0}}, 1, 0},
		{"args in order, unsorted is fine", {{19, ONE, 4}, {20, "z", 0}, {20, "a", 0}}, 3, 1},
		{"arg with NUL", {{19, ONE, 4}, {20, "a\0b", 3}}, 2, 0},
		{"file", {{21, "\x00\x01\x00\x00/f\0data", 11}}, 1, 1},
		{"file mode 01000", {{21, "\x00\x02\x00\x00/f\0data", 11}}, 1, 0},
		{"file without NUL", {{21, "\x00\x01\x00\x00/fdata", 10}}, 1, 0},
		{"file path //", {{21, "\x00\x01\x00\x00//f\0x", 9}}, 1, 0},
		{"tag 22", {{22, "", 0}}, 1, 0},
		{"order 18 then 17", {{18, "A=1", 0}, {17, "/v\0" K32, 35}}, 2, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct casmsg_secrets s;
		int e = secrets_of(cases[i].r, cases[i].n, &s);
		if ((e == 0) != cases[i].ok)
			fprintf(stderr, "%s: %s\n", cases[i].name, casmsg_strerror(e));
		CHECK((e == 0) == cases[i].ok);
		if (!e)
			casmsg_secrets_free(&s);
	}
	/* what a decoded file and volume look like */
	struct rec r[] = {{17, "/v\0" K32, 35}, {21, "\xa4\x01\x00\x00/etc/a\0x\0y", 14}};
	struct casmsg_secrets s;
	CHECK(secrets_of(r, 2, &s) == 0);
	CHECK(s.nvolumes == 1 && !strcmp(s.volumes[0].path, "/v") && !memcmp(s.volumes[0].key, K32, 32));
	CHECK(s.nfiles == 1 && s.files[0].mode == 0644 && !strcmp(s.files[0].path, "/etc/a") && s.files[0].len == 3 &&
	      !memcmp(s.files[0].data, "x\0y", 3));
	casmsg_secrets_free(&s);
}

/* Writer limits and the request encoder's own checks. */
static void test_writer(void)
{
	uint8_t nonce[32] = {1}, pub[65], priv[32], seed[32] = {7}, q[4] = {1, 2, 3, 4};
	CHECK(casseal_keygen(seed, sizeof seed, priv, pub) == 0);
	uint8_t p2[65];
	pub_of(priv, p2);
	CHECK(!memcmp(p2, pub, 65));
	CHECK(casseal_keygen(seed, 16, priv, pub) != 0);
	uint8_t *out;
	size_t n;
	CHECK(casmsg_attest_request("web", nonce, pub, q, 4, NULL, &out, &n) == 0);
	free(out);
	CHECK(casmsg_attest_request("Web", nonce, pub, q, 4, NULL, &out, &n) != 0);
	CHECK(casmsg_attest_request("web", nonce, pub, q, 4, "", &out, &n) != 0);
	pub[64] ^= 1; /* off the curve */
	CHECK(casmsg_attest_request("web", nonce, pub, q, 4, NULL, &out, &n) != 0);
	pub[64] ^= 1;
	CHECK(casmsg_attest_request("web", nonce, pub, q, 0, NULL, &out, &n) != 0);
	struct casmsg_writer w;
	casmsg_begin(&w, CASMSG_SECRETS);
	casmsg_put(&w, 20, NULL, CASMSG_MAX);
	CHECK(casmsg_end(&w) == CASMSG_ETOOBIG && w.b == NULL);
	/* a bad point as the CAS key cannot open anything */
	uint8_t bad[65] = {4}, buf[32] = {0}, key[32];
	CHECK(casseal_key(priv, bad, nonce, key) == -1);
	CHECK(casseal_open(priv, bad, nonce, nonce, buf, sizeof buf, buf) == -1);
	CHECK(casseal_open(priv, pub, nonce, nonce, buf, 15, buf) == -2);
}

/* The record key of testdata/casproto/volume.txt, both sides of the
 * exchange (the CAS side only has the ephemeral public key in the vectors:
 * the enclave side is what the runtime computes). */
static void test_record_key(void)
{
	struct vec_file f;
	CHECK(vec_read(VDIR "volume.txt", &f) == 0);
	CHECK(f.n >= 1);
	for (int i = 0; i < f.n; i++) {
		const struct vec_entry *e = &f.e[i];
		uint8_t *priv = vec_bytes(e, "session_private", 32, NULL),
			*pub = vec_bytes(e, "session_public", 65, NULL);
		uint8_t *eph = vec_bytes(e, "cas_ephemeral_public", 65, NULL), *nonce = vec_bytes(e, "nonce", 32, NULL);
		uint8_t *want = vec_bytes(e, "record_key", 32, NULL), *sid = vec_bytes(e, "session_id", 32, NULL);
		CHECK(priv && pub && eph && nonce && want && sid);
		if (!(priv && pub && eph && nonce && want && sid))
			continue;
		uint8_t k[32], sk[32], id[32];
		CHECK(casseal_record_key(priv, eph, nonce, k) == 0);
		CHECK(!memcmp(k, want, 32));
		CHECK(casseal_key(priv, eph, nonce, sk) == 0);
		CHECK(memcmp(k, sk, 32) != 0); /* not the sealing key */
		br_sha256_context h;
		br_sha256_init(&h);
		br_sha256_update(&h, pub, 65);
		br_sha256_out(&h, id);
		CHECK(!memcmp(id, sid, 32));
		eph[0] = 2; /* not an uncompressed point */
		CHECK(casseal_record_key(priv, eph, nonce, k) == -1);
		free(priv), free(pub), free(eph), free(nonce), free(want), free(sid);
	}
	vec_free(&f);
}

/* The volume messages of testdata/casproto/volume.txt: the runtime's
 * request encodes to the vector's bytes (MAC included), the CAS's response
 * decodes to its fields and authenticates against that request only. */
static void test_volume_messages(void)
{
	struct vec_file f;
	CHECK(vec_read(VDIR "volume.txt", &f) == 0);
	CHECK(f.n >= 4);
	int saw_rollback = 0;
	for (int i = 0; i < f.n; i++) {
		const struct vec_entry *e = &f.e[i];
		size_t ql, rl;
		uint8_t *priv = vec_bytes(e, "session_private", 32, NULL);
		uint8_t *eph = vec_bytes(e, "cas_ephemeral_public", 65, NULL), *nonce = vec_bytes(e, "nonce", 32, NULL);
		uint8_t *sid = vec_bytes(e, "session_id", 32, NULL), *root = vec_bytes(e, "root", 32, NULL);
		uint8_t *req = vec_bytes(e, "request", 0, &ql), *resp = vec_bytes(e, "response", 0, &rl);
		uint8_t *rroot = vec_bytes(e, "recorded_root", 32, NULL);
		const char *path = vec_get(e, "path"), *op = vec_get(e, "op"), *ver = vec_get(e, "version");
		const char *st = vec_get(e, "status"), *rv = vec_get(e, "recorded_version"),
			   *why = vec_get(e, "reason");
		CHECK(priv && eph && nonce && sid && root && req && resp && rroot && path && op && ver && st && rv);
		if (!(priv && eph && nonce && sid && root && req && resp && rroot && path && op && ver && st && rv))
			continue;
		uint8_t key[32], mac[32];
		CHECK(casseal_record_key(priv, eph, nonce, key) == 0);
		uint8_t *out = NULL;
		size_t ol = 0;
		CHECK(casmsg_volume_request(sid, path, (uint32_t)strtoul(op, NULL, 10), strtoull(ver, NULL, 10), root,
					    key, mac, &out, &ol) == 0);
		CHECK(out && same(out, ol, req, ql));
		CHECK(ql > 32 && !memcmp(mac, req + ql - 32, 32));
		free(out);
		struct casmsg_volume_response r;
		CHECK(casmsg_decode_volume_response(resp, rl, key, mac, &r) == 0);
		CHECK(r.authentic && r.status == strtoul(st, NULL, 10) && r.version == strtoull(rv, NULL, 10));
		CHECK(r.root && !memcmp(r.root, rroot, 32));
		CHECK(why && (*why ? same((const uint8_t *)r.reason, r.reason_len, why, strlen(why)) : !r.reason));
		saw_rollback |= r.status == CASMSG_VOL_ROLLBACK;
		/* another request's MAC, another key, a changed field: not authentic */
		uint8_t other[32];
		memcpy(other, mac, 32);
		other[0] ^= 1;
		CHECK(casmsg_decode_volume_response(resp, rl, key, other, &r) == 0 && !r.authentic);
		key[31] ^= 1;
		CHECK(casmsg_decode_volume_response(resp, rl, key, mac, &r) == 0 && !r.authentic);
		key[31] ^= 1;
		resp[CASMSG_HDR + 6] ^= 1; /* the version */
		CHECK(casmsg_decode_volume_response(resp, rl, key, mac, &r) == 0 && !r.authentic);
		resp[CASMSG_HDR + 6] ^= 1;
		resp[rl - 1] ^= 1; /* the last byte: the status or the reason */
		CHECK(casmsg_decode_volume_response(resp, rl, key, mac, &r) != 0 || !r.authentic);
		resp[rl - 1] ^= 1;
		/* structure: truncated, or a request where a response belongs */
		CHECK(casmsg_decode_volume_response(resp, rl - 1, key, mac, &r) != 0);
		CHECK(casmsg_decode_volume_response(req, ql, key, mac, &r) == CASMSG_EFORMAT);
		free(priv), free(eph), free(nonce), free(sid), free(root), free(req), free(resp), free(rroot);
	}
	CHECK(saw_rollback);
	vec_free(&f);
	/* what the encoder refuses */
	uint8_t z[32] = {0}, mac[32], *out = NULL;
	size_t ol;
	CHECK(casmsg_volume_request(z, "data", CASMSG_VOL_GET, 0, z, z, mac, &out, &ol) == CASMSG_EVALUE);
	CHECK(casmsg_volume_request(z, "/data/../x", CASMSG_VOL_GET, 0, z, z, mac, &out, &ol) == CASMSG_EVALUE);
	CHECK(casmsg_volume_request(z, "/data", 4, 0, z, z, mac, &out, &ol) == CASMSG_EVALUE);
	CHECK(casmsg_volume_request(z, "/data", 0, 0, z, z, mac, &out, &ol) == CASMSG_EVALUE);
	CHECK(out == NULL);
}

/* Whether view v[0:n] lies inside buf[0:len] (NULL: absent). */
static int inside(const void *v, size_t n, const uint8_t *buf, size_t len)
{
	const uint8_t *p = v;
	return !p || (p >= buf && n <= len && p - buf <= (ptrdiff_t)(len - n));
}

/* Mutations of the vectors' released responses and their secrets: the
 * decoders read only inside the message (the sanitizers), the views they
 * return lie inside it, and what decode_secrets accepts frees cleanly. */
static void test_mutations(void)
{
	struct vec_file f;
	CHECK(vec_read(VDIR "attest-response-released.txt", &f) == 0);
	uint64_t rs = 5;
	long ok_resp = 0, ok_sec = 0, rounds = 0;
	for (int i = 0; i < f.n; i++) {
		size_t ml, pl;
		uint8_t *msg = vec_bytes(&f.e[i], "message", 0, &ml), *plain = vec_bytes(&f.e[i], "secrets", 0, &pl);
		CHECK(msg && plain);
		if (!msg || !plain)
			continue;
		for (int round = 0; round < 6000; round++, rounds++) {
			int sec = round & 1;
			const uint8_t *seed = sec ? plain : msg;
			size_t len = sec ? pl : ml, cap = len + 64;
			uint8_t *b = malloc(cap);
			memcpy(b, seed, len);
			len = test_mutate(b, len, cap, &rs);
			uint8_t *in = test_exact(b, len);
			free(b);
			if (sec) {
				struct casmsg_secrets sc;
				if (casmsg_decode_secrets(in, len, &sc) == 0) {
					ok_sec++;
					CHECK(sc.nenv == 0 || sc.env[sc.nenv] == NULL);
					casmsg_secrets_free(&sc);
				}
			} else {
				struct casmsg_response r;
				if (casmsg_decode_response(in, len, &r) == 0) {
					ok_resp++;
					CHECK_MSG(inside(r.reason, r.reason_len, in, len) &&
							  inside(r.policy_hash, 32, in, len) &&
							  inside(r.cas_key, 65, in, len) &&
							  inside(r.sealed, r.sealed_len, in, len),
						  "vector %d round %d: a view outside the message", i, round);
				}
			}
			free(in);
		}
		free(msg), free(plain);
	}
	vec_free(&f);
	printf("test_casmsg: %ld mutated messages and secrets, %ld responses and %ld secrets accepted\n", rounds,
	       ok_resp, ok_sec);
}

int main(void)
{
	test_requests();
	test_record_key();
	test_volume_messages();
	test_released();
	test_refused();
	test_open_must_fail();
	test_must_fail();
	test_secrets_table();
	test_writer();
	test_mutations();
	return test_summary("test_casmsg");
}
