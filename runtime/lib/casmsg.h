/* Messages of the CAS enclave protocol, version 1 (docs/cas.md, "Enclave
 * protocol"): the binary bodies the runtime and the CAS exchange.
 *
 *   "SCAS" | version u16 = 1 | type u16 | records...
 *   record: tag u16 | length u32 | value        (little-endian)
 *
 * At most 1 MiB in all; records in ascending tag order (a repeatable tag
 * repeats in place); an unknown tag, a missing required record, a duplicate
 * non-repeatable one, a value of the wrong size or form, or trailing bytes
 * make the message invalid. pkg/casproto (Go) is the other implementation;
 * both pass the vectors in testdata/casproto.
 *
 * No libc, no global state; allocation only through rt_alloc.h. Decoded
 * views point into the caller's buffer unless said otherwise. */
#ifndef SCONE_CASMSG_H
#define SCONE_CASMSG_H

#include <stddef.h>
#include <stdint.h>

#define CASMSG_MAGIC "SCAS"
#define CASMSG_VERSION 1
#define CASMSG_MAX (1u << 20)
#define CASMSG_HDR 8

enum casmsg_type {
	CASMSG_ATTEST_REQUEST = 1,
	CASMSG_ATTEST_RESPONSE = 2,
	CASMSG_SECRETS = 3,
	CASMSG_VOLUME_REQUEST = 4,
	CASMSG_VOLUME_RESPONSE = 5,
};

/* Attest request records. */
enum {
	CASMSG_REQ_POLICY = 1,
	CASMSG_REQ_NONCE = 2,
	CASMSG_REQ_SESSION_KEY = 3,
	CASMSG_REQ_QUOTE = 4,
	CASMSG_REQ_CLIENT = 5,
};
/* Attest response records. */
enum {
	CASMSG_RESP_STATUS = 1,
	CASMSG_RESP_REASON = 2,
	CASMSG_RESP_SIMULATION = 3,
	CASMSG_RESP_POLICY_HASH = 4,
	CASMSG_RESP_CAS_KEY = 5,
	CASMSG_RESP_SEALED = 6,
};
/* Secrets records. */
enum {
	CASMSG_SEC_FS_KEY = 16,
	CASMSG_SEC_VOLUME_KEY = 17,
	CASMSG_SEC_ENV = 18,
	CASMSG_SEC_ARGS_SET = 19,
	CASMSG_SEC_ARG = 20,
	CASMSG_SEC_FILE = 21,
	CASMSG_SEC_VOLUME_FRESHNESS = 22,
};
/* Volume request (type 4) and response (type 5) records. */
enum {
	CASMSG_VOL_SESSION = 1, /* request: SHA-256 of the session public key */
	CASMSG_VOL_PATH = 2,	/* request */
	CASMSG_VOL_OP = 3,	/* request: CASMSG_VOL_GET, _RECORD, _REINIT */
	CASMSG_VOL_VERSION = 4, /* both: u64 V */
	CASMSG_VOL_ROOT = 5,	/* both: 32 bytes */
	CASMSG_VOL_MAC = 6,	/* both: HMAC-SHA256 under the record key */
	CASMSG_VOL_STATUS = 7,	/* response */
	CASMSG_VOL_REASON = 8,	/* response, optional */
};
enum { CASMSG_VOL_GET = 1, CASMSG_VOL_RECORD = 2, CASMSG_VOL_REINIT = 3 };
enum { CASMSG_VOL_OK = 1, CASMSG_VOL_ROLLBACK = 2, CASMSG_VOL_REFUSED = 3, CASMSG_VOL_RETRY = 4 };
/* Volume freshness modes (CASMSG_SEC_VOLUME_FRESHNESS) and its flag. */
enum { CASMSG_FRESH_EVERY_FSYNC = 1, CASMSG_FRESH_INTERVAL = 2 };
#define CASMSG_FRESH_ALLOW_REINIT 1u
#define CASMSG_FRESH_MAX_INTERVAL 60000u

/* Attest response status. */
enum { CASMSG_RELEASED = 0, CASMSG_REFUSED = 1, CASMSG_TRY_LATER = 2 };

#define CASMSG_NONCE 32
#define CASMSG_POINT 65 /* uncompressed P-256 point: 04 || X || Y */
#define CASMSG_HASH 32
#define CASMSG_KEY 32
#define CASMSG_TAG 16 /* AES-GCM tag */
#define CASMSG_MAX_POLICY 63
#define CASMSG_MAX_CLIENT 256
#define CASMSG_MAX_REASON 1024
#define CASMSG_MAC 32
#define CASMSG_MAX_PATH 4096

/* Error codes (0 on success). */
#define CASMSG_EFORMAT (-1) /* not a message: magic, version, type, header, trailing bytes */
#define CASMSG_ETAG (-2)    /* unknown tag, tags out of order, a duplicate */
#define CASMSG_EMISSING (-3)
#define CASMSG_EVALUE (-4) /* a value of the wrong size or form */
#define CASMSG_ENOMEM (-5)
#define CASMSG_ETOOBIG (-6)

const char *casmsg_strerror(int err);

/* ---- writing ---- */
struct casmsg_writer {
	uint8_t *b;
	size_t len, cap;
	int err; /* first error; the writer ignores calls after one */
};

/* Starts a message of type into w (rt_malloc'd buffer). */
void casmsg_begin(struct casmsg_writer *w, uint16_t type);
void casmsg_put(struct casmsg_writer *w, uint16_t tag, const void *v, size_t n);
/* The finished message (w->b, w->len) or a negative error; on error the
 * buffer is freed. The caller frees w->b (after wiping it if it is secret). */
int casmsg_end(struct casmsg_writer *w);

/* The attest request (type 1). client may be NULL (no record 5). */
int casmsg_attest_request(const char *policy, const uint8_t nonce[CASMSG_NONCE],
			  const uint8_t session_key[CASMSG_POINT], const uint8_t *quote, size_t quote_len,
			  const char *client, uint8_t **out, size_t *out_len);

/* ---- reading ---- */
struct casmsg_rec {
	uint16_t tag;
	uint32_t len;
	const uint8_t *v;
};

/* Checks the header and the record structure of buf[0:len] for type (the
 * record rules of that type, per record: tags, order, repetition, sizes and
 * forms), and returns the records (rt_malloc'd, pointing into buf) in *recs.
 * The rules that concern several records are the typed decoders'. */
int casmsg_parse(const uint8_t *buf, size_t len, uint16_t type, struct casmsg_rec **recs, size_t *nrecs);

struct casmsg_request {
	const char *policy; /* views, not NUL-terminated: lengths below */
	size_t policy_len;
	const uint8_t *nonce, *session_key, *quote;
	size_t quote_len;
	const char *client; /* NULL when absent */
	size_t client_len;
};
int casmsg_decode_request(const uint8_t *buf, size_t len, struct casmsg_request *out);

struct casmsg_response {
	uint32_t status;    /* CASMSG_RELEASED, _REFUSED, _TRY_LATER */
	const char *reason; /* NULL when released */
	size_t reason_len;
	uint32_t simulation;			       /* 1: the CAS verified a simulation quote */
	const uint8_t *policy_hash, *cas_key, *sealed; /* when released */
	size_t sealed_len;			       /* ciphertext and 16-byte tag */
};
/* Released: policy hash, CAS key and sealed secrets present, no reason;
 * otherwise a reason and none of the three. */
int casmsg_decode_response(const uint8_t *buf, size_t len, struct casmsg_response *out);

/* What a policy releases to the enclave (the sealed secrets, type 3). Every
 * string is a NUL-terminated copy (rt_malloc'd); free with
 * casmsg_secrets_free, which wipes it all first. */
struct casmsg_volume_key {
	char *path;
	uint8_t key[CASMSG_KEY];
};
struct casmsg_file {
	char *path;
	uint32_t mode; /* permission bits, at most 0777 */
	uint8_t *data;
	size_t len;
};
/* A volume whose state the runtime records with the CAS. */
struct casmsg_volume_fresh {
	char *path;
	uint32_t mode;	      /* CASMSG_FRESH_EVERY_FSYNC or _INTERVAL */
	uint32_t interval_ms; /* 1..CASMSG_FRESH_MAX_INTERVAL with _INTERVAL, else 0 */
	int allow_reinit;
};
struct casmsg_secrets {
	int has_fs_key;
	uint8_t fs_key[CASMSG_KEY];
	struct casmsg_volume_key *volumes; /* ascending paths */
	size_t nvolumes;
	char **env; /* "NAME=value", ascending names, NULL-terminated */
	size_t nenv;
	int args_set; /* the policy replaces argv[1..] with args */
	char **args;  /* NULL-terminated */
	size_t nargs;
	struct casmsg_file *files; /* ascending paths */
	size_t nfiles;
	struct casmsg_volume_fresh *fresh; /* ascending paths */
	size_t nfresh;
};
/* Arguments only with args set; volume and file paths clean and absolute
 * (not "/"), strictly ascending; env names ([A-Za-z_][A-Za-z0-9_]*)
 * strictly ascending; env values and arguments without NUL. */
int casmsg_decode_secrets(const uint8_t *buf, size_t len, struct casmsg_secrets *out);
void casmsg_secrets_free(struct casmsg_secrets *s);

/* ---- volume state (docs/cas.md, "Volume state") ---- */

/* A signed volume request (type 4): session is the session ID, key the
 * record key; its MAC goes to mac (the response answers it). */
int casmsg_volume_request(const uint8_t session[CASMSG_HASH], const char *path, uint32_t op, uint64_t version,
			  const uint8_t root[CASMSG_HASH], const uint8_t key[CASMSG_KEY], uint8_t mac[CASMSG_MAC],
			  uint8_t **out, size_t *out_len);

struct casmsg_volume_response {
	uint64_t version;
	const uint8_t *root; /* 32 bytes, a view */
	uint32_t status;     /* CASMSG_VOL_* */
	const char *reason;  /* a view, NULL when absent */
	size_t reason_len;
	int authentic; /* its MAC answers req_mac under the record key */
};
/* Decodes a volume response and checks its MAC against the request's
 * (req_mac) under key: out->authentic. A CAS signs every answer but an
 * unauthenticated refusal; the caller trusts nothing else unsigned. */
int casmsg_decode_volume_response(const uint8_t *buf, size_t len, const uint8_t key[CASMSG_KEY],
				  const uint8_t req_mac[CASMSG_MAC], struct casmsg_volume_response *out);

#endif
