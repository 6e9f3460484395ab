/* Console-shield record writer (format: docs/console.md, version 2).
 *
 * When the console shield is on, everything the application writes to
 * stdout/stderr leaves the runtime as a stream of authenticated, encrypted
 * records instead of plaintext:
 *
 *   header  = "SCNC" | version (2) | stream id (1) | reserved u16 = 0
 *           | MRENCLAVE[32] | run nonce[16] | nonce[16] | parent nonce[16]
 *           | fork counter u64be | header MAC[32]
 *   record  = seq u64be | flags u8 | len u32be | ciphertext[len] | tag[16]
 *
 * Keys: the console key CK = HKDF-SHA256(ikm = FS key, no salt,
 * info = "scone console v2 key"); the header MAC is HMAC-SHA256 under
 * HKDF(CK, "scone console v2 header mac") over the first 96 header bytes;
 * the session key is HKDF-SHA256(ikm = CK, salt = those 96 bytes,
 * info = "scone console v2 session"). Each record is AES-256-GCM with
 * nonce = 0x00000000 | seq u64be and AAD = seq | flags | len, so a dropped,
 * reordered, replayed or modified record fails decryption, and a stream
 * without a record flagged CONSOLE_FLAG_FINAL was truncated. The header
 * binds the session to its enclave (MRENCLAVE), to one run (run nonce), to
 * its place in the run's process tree (nonce, parent nonce, fork counter)
 * and to its stream.
 *
 * Portable: no libc, no globals; allocation via rt_malloc only. One stream
 * object per output stream; the caller serializes calls on one stream. */
#ifndef SCONE_CONSOLE_H
#define SCONE_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#define CONSOLE_MAGIC "SCNC"
#define CONSOLE_VERSION 2
#define CONSOLE_HDR_LEN 128
#define CONSOLE_HDR_MACED 96 /* header bytes the MAC covers (and the session key's salt) */
#define CONSOLE_NONCE_LEN 16
#define CONSOLE_KEY_LEN 32
#define CONSOLE_REC_HDR_LEN 13
#define CONSOLE_TAG_LEN 16
#define CONSOLE_MAX_RECORD 65536 /* plaintext bytes per record (decoders accept up to 1 MiB) */
#define CONSOLE_FLAG_FINAL 0x01
/* HKDF-SHA256 info strings (docs/console.md). */
#define CONSOLE_LABEL_KEY "scone console v2 key"
#define CONSOLE_LABEL_HDR_MAC "scone console v2 header mac"
#define CONSOLE_LABEL_SESSION "scone console v2 session"

enum { CONSOLE_STDOUT = 1, CONSOLE_STDERR = 2 };

/* Where a session comes from: what its header authenticates besides the
 * stream id. The first process of a run (the root) has nonce == run_nonce,
 * a zero parent_nonce and fork_counter 0; a process forked inside the
 * enclave has a fresh nonce, its parent's nonce as parent_nonce and
 * fork_counter n >= 1 when it is its parent's n-th fork. */
struct console_origin {
	uint8_t mrenclave[32];
	uint8_t run_nonce[CONSOLE_NONCE_LEN];
	uint8_t nonce[CONSOLE_NONCE_LEN];
	uint8_t parent_nonce[CONSOLE_NONCE_LEN];
	uint64_t fork_counter;
};

struct console_stream;

/* Writes all of buf (len bytes) to the output or returns a negative errno. */
typedef long (*console_emit_fn)(void *ctx, const void *buf, size_t len);

/* The console key of an FS key: it decrypts console logs, and nothing of
 * the protected FS (a one-way HKDF output with its own label). */
void console_derive_key(const uint8_t fs_key[32], uint8_t console_key[CONSOLE_KEY_LEN]);

/* 1 if o is a valid root or child origin (the rules above, and no zero
 * nonce), else 0. */
int console_origin_valid(const struct console_origin *o);

/* Creates a stream for stream id (CONSOLE_STDOUT/CONSOLE_STDERR) under the
 * console key, with the header o describes (nonces from randomness the host
 * cannot choose). NULL on bad arguments (an invalid origin included) or out
 * of memory. The header is emitted by console_start, or with the first
 * record. */
struct console_stream *console_open(const uint8_t console_key[CONSOLE_KEY_LEN], uint8_t stream_id,
				    const struct console_origin *o);

/* Emits the header alone, unless it was already sent. 0 or a negative
 * errno from emit; after a failure the header goes with the first record. */
long console_start(struct console_stream *s, console_emit_fn emit, void *ctx);

/* Encrypts len bytes as one or more records (at most CONSOLE_MAX_RECORD
 * plaintext bytes each) and emits each record with one emit call (the first
 * one preceded by the stream header in the same call, unless console_start
 * sent it). Returns len or a negative errno from emit. len == 0 writes
 * nothing. After a failed emit the stream is broken (-EIO on later calls):
 * a gap would be reported as tampering by the decoder anyway. */
long console_write(struct console_stream *s, const void *buf, size_t len, console_emit_fn emit, void *ctx);

/* Emits the final (empty, CONSOLE_FLAG_FINAL) record; later writes fail with
 * -EPIPE. Returns 0 or a negative errno. */
long console_finish(struct console_stream *s, console_emit_fn emit, void *ctx);

/* Limits the plaintext bytes per record (0 or >= CONSOLE_MAX_RECORD: the
 * default). Used after a fork, when several processes write records to the
 * same pipe: a record written with one write of at most PIPE_BUF (4096)
 * bytes, header included, cannot interleave with another process's record.
 * CONSOLE_PIPE_RECORD is the largest such plaintext. */
#define CONSOLE_PIPE_RECORD (4096 - CONSOLE_HDR_LEN - CONSOLE_REC_HDR_LEN - CONSOLE_TAG_LEN)
void console_set_max_record(struct console_stream *s, size_t n);

/* Sequence number of the next record (for tests and diagnostics). */
uint64_t console_next_seq(const struct console_stream *s);

/* Wipes the key material and frees the stream. NULL is accepted. */
void console_close(struct console_stream *s);
/* console_close without wiping the record buffer, which holds no plaintext
 * after console_write returns (a forked child drops its copy of the
 * parent's streams without copying 64 KiB on write). */
void console_drop(struct console_stream *s);

#endif
