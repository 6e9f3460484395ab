/* FS key file parser, format version 1 (docs/keys.md).
 *
 * Two forms: a version 1 file ("scone-fs-key v1", a key line and the
 * enclave identity the key's owner expects: mrsigner, mrenclave lines,
 * isvprodid, min-isvsvn) and a bare key (64 hex digits, an optional newline)
 * that names no identity. Anything else is refused, in particular 32 raw
 * bytes (a passphrase would be taken for a key). pkg/fskey is the Go
 * implementation; both pass testdata/fskey.
 *
 * No allocation, no global state: runs in the freestanding runtime and in
 * host tests. */
#ifndef SCONE_FSKEY_H
#define SCONE_FSKEY_H

#include <stddef.h>
#include <stdint.h>

#define FSKEY_SIZE 32u
#define FSKEY_MAX_FILE 4096u
#define FSKEY_MAX_MRENCLAVE 16u
#define FSKEY_MAGIC "scone-fs-key v1"

struct fskey_identity {
	int has_mrsigner;
	uint8_t mrsigner[32];
	unsigned n_mrenclave;
	uint8_t mrenclave[FSKEY_MAX_MRENCLAVE][32];
	int has_isvprodid;
	uint16_t isvprodid;
	int has_min_isvsvn;
	uint16_t min_isvsvn;
};

struct fskey_file {
	uint8_t key[FSKEY_SIZE];
	struct fskey_identity id; /* all zero for a bare key */
};

/* Errors (negative); fskey_parse also sets *line (1-based, 0: not one line). */
#define FSKEY_OK 0
#define FSKEY_EFORMAT (-1)   /* not a key file */
#define FSKEY_ERAW (-2)	     /* 32 bytes that are not a key file (raw key or passphrase) */
#define FSKEY_EVERSION (-3)  /* "scone-fs-key vN" with N != 1 */
#define FSKEY_ETOOBIG (-4)   /* more than FSKEY_MAX_FILE bytes */
#define FSKEY_EIDENTITY (-5) /* v1 file without mrsigner/mrenclave, or isv* without mrsigner */

int fskey_parse(const uint8_t *buf, size_t len, struct fskey_file *out, unsigned *line);
const char *fskey_strerror(int err);

/* 1 when id names no identity. */
int fskey_bare(const struct fskey_identity *id);

/* Checks an enclave against the expected identity. 0: accepted; else one of
 * the FSKEY_ID_* values naming the first expectation not met. */
#define FSKEY_ID_MRSIGNER 1
#define FSKEY_ID_MRENCLAVE 2
#define FSKEY_ID_ISVPRODID 3
#define FSKEY_ID_ISVSVN 4
#define FSKEY_ID_NONE 5 /* id names nothing */
int fskey_check(const struct fskey_identity *id, const uint8_t mrenclave[32], const uint8_t mrsigner[32],
		uint16_t isvprodid, uint16_t isvsvn);

/* Wipes *f (the key) so that the compiler cannot drop the stores. */
void fskey_wipe(struct fskey_file *f);

#endif
