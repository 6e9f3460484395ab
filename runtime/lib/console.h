/* Console-shield record writer (format: docs/console.md, version 1).
 *
 * When the console shield is on, everything the application writes to
 * stdout/stderr leaves the runtime as a stream of authenticated, encrypted
 * records instead of plaintext:
 *
 *   header  = "SCNC" | version (1) | stream id (1) | reserved u16 = 0 | nonce[16]
 *   record  = seq u64be | flags u8 | len u32be | ciphertext[len] | tag[16]
 *
 * The per-session key is HKDF-SHA256(ikm = FS key, salt = header,
 * info = "scone console v1"); each record is AES-256-GCM with
 * nonce = 0x00000000 | seq u64be and AAD = seq | flags | len, so a dropped,
 * reordered, replayed or modified record fails decryption, and a stream
 * without a record flagged CONSOLE_FLAG_FINAL was truncated.
 *
 * Portable: no libc, no globals; allocation via rt_malloc only. One stream
 * object per output stream; the caller serializes calls on one stream. */
#ifndef SCONE_CONSOLE_H
#define SCONE_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#define CONSOLE_MAGIC "SCNC"
#define CONSOLE_VERSION 1
#define CONSOLE_HDR_LEN 24
#define CONSOLE_NONCE_LEN 16
#define CONSOLE_REC_HDR_LEN 13
#define CONSOLE_TAG_LEN 16
#define CONSOLE_MAX_RECORD 65536 /* plaintext bytes per record (decoders accept up to 1 MiB) */
#define CONSOLE_FLAG_FINAL 0x01
#define CONSOLE_LABEL "scone console v1"

enum { CONSOLE_STDOUT = 1, CONSOLE_STDERR = 2 };

struct console_stream;

/* Writes all of buf (len bytes) to the output or returns a negative errno. */
typedef long (*console_emit_fn)(void *ctx, const void *buf, size_t len);

/* Creates a stream for stream id (CONSOLE_STDOUT/CONSOLE_STDERR) with a
 * fresh 16-byte session nonce (the caller provides randomness that the host
 * cannot choose, e.g. RDRAND mixed with getrandom). NULL on bad arguments or
 * out of memory. The header is emitted with the first record. */
struct console_stream *console_open(const uint8_t fs_key[32], uint8_t stream_id,
				    const uint8_t nonce[CONSOLE_NONCE_LEN]);

/* Encrypts len bytes as one or more records (at most CONSOLE_MAX_RECORD
 * plaintext bytes each) and emits each record with one emit call (the first
 * one preceded by the stream header in the same call). Returns len or a
 * negative errno from emit. len == 0 writes nothing. After a failed emit the
 * stream is broken (-EIO on later calls): a gap would be reported as
 * tampering by the decoder anyway. */
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
