/* Protected FS image reader (format versions 1 and 2, the latter with or
 * without per-chunk LZ4 compression; docs/fsprotect.md).
 *
 * Opens an image held in memory (the runtime maps fs.img), authenticates its
 * header and encrypted index with the 32-byte FS key, and serves lookups,
 * stat, reads, readlink, readdir and xattrs. Every byte returned by
 * fsp_pread/fsp_readlink/fsp_readdir/fsp_getxattr has been authenticated.
 *
 * Rules (runtime/runtime.mk): C11, no libc except memcpy/memset/memmove/
 * memcmp/strlen, allocation only through rt_malloc/rt_calloc/rt_free, no
 * global mutable state. After fsp_open returns, a struct fsp is immutable:
 * every function taking a const struct fsp * may run concurrently on any
 * number of threads. The image memory is treated as hostile and changing
 * under our feet: every byte is copied into private memory before it is
 * authenticated and used.
 *
 * Errors are negative return values: -FSP_E*. fsp_strerror() names them. */
#ifndef SCONE_FSP_H
#define SCONE_FSP_H

#include <stddef.h>
#include <stdint.h>

#define FSP_VERSION 2u	   /* the newest format version read */
#define FSP_VERSION_MIN 1u /* the oldest */
#define FSP_KEY_LEN 32u
#define FSP_ROOT_LEN 32u
/* Inode number of the root directory. Inode numbers are 1..ninodes. */
#define FSP_ROOT_INO 1u

/* Entry types (struct fsp_stat.type, fsp_readdir *type). A hard link is a
 * second directory entry for the same inode, not a type of its own. */
enum {
	FSP_T_FILE = 1,
	FSP_T_DIR = 2,
	FSP_T_SYMLINK = 3,
	FSP_T_CHR = 4, /* character device */
	FSP_T_BLK = 5, /* block device */
	FSP_T_FIFO = 6,
};

/* Error codes; functions return their negation. */
enum {
	FSP_OK = 0,
	FSP_EAUTH = 1,	  /* authentication failed: the image was modified */
	FSP_EKEY = 2,	  /* wrong key (key-check value mismatch) */
	FSP_ETRUNC = 3,	  /* image truncated (or bytes appended after it) */
	FSP_EVERSION = 4, /* unknown format version */
	FSP_EFORMAT = 5,  /* not an fsp image, or malformed structure */
	FSP_EROOT = 6,	  /* root hash differs from the expected root */
	FSP_ENOENT = 7,	  /* no such entry / no such inode */
	FSP_ENOTDIR = 8,  /* not a directory */
	FSP_EISDIR = 9,	  /* is a directory (pread on a dir) */
	FSP_EINVAL = 10,  /* invalid argument (e.g. readlink on a non-symlink) */
	FSP_ENOMEM = 11,  /* rt_malloc failed */
	FSP_ERANGE = 12,  /* caller's buffer too small */
	FSP_ENODATA = 13, /* no such xattr */
	FSP_ENAMETOOLONG = 14,
};

struct fsp; /* an opened image */

struct fsp_stat {
	uint32_t ino;
	uint32_t type; /* FSP_T_* */
	uint32_t mode; /* st_mode including the S_IFMT bits */
	uint32_t uid, gid;
	uint32_t nlink;
	uint64_t size; /* file: content bytes; symlink: target length; else 0 */
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t rdev_major, rdev_minor; /* FSP_T_CHR / FSP_T_BLK */
	uint32_t blksize;		 /* the image's chunk size */
	uint64_t blocks;		 /* 512-byte blocks, ceil(size/512) */
};

/* Opens the image img[0..img_len). key: the 32-byte FS key. expected_root:
 * the 32-byte root hash from the measured enclave config, or NULL to accept
 * any image made with this key. The image memory must stay mapped until
 * fsp_close. Returns 0 and *out, or -FSP_ETRUNC, -FSP_EFORMAT, -FSP_EVERSION,
 * -FSP_EKEY, -FSP_EAUTH, -FSP_EROOT, -FSP_ENOMEM. */
int fsp_open(struct fsp **out, const uint8_t *img, uint64_t img_len, const uint8_t key[FSP_KEY_LEN],
	     const uint8_t *expected_root);
/* fsp_open with flags. FSP_OPEN_BEARSSL: chunks are opened with BearSSL's
 * GCM (a private copy, then two passes) even where the CPU has AES-NI and
 * PCLMULQDQ for the one-pass opener (gcmni.h): the path of CPUs without
 * them, for tests. */
#define FSP_OPEN_BEARSSL 1u
int fsp_open_flags(struct fsp **out, const uint8_t *img, uint64_t img_len, const uint8_t key[FSP_KEY_LEN],
		   const uint8_t *expected_root, unsigned flags);
/* Frees everything fsp_open allocated (wipes the derived keys). NULL is ok. */
void fsp_close(struct fsp *f);

/* The root hash of the opened image (SHA-256 of its header: 192 bytes in
 * version 1, 256 in version 2). */
void fsp_root_hash(const struct fsp *f, uint8_t out[FSP_ROOT_LEN]);
uint32_t fsp_root_ino(const struct fsp *f);
/* The chunk size of the image (bytes), a power of two in [4 KiB, 1 MiB]. */
uint32_t fsp_chunk_size(const struct fsp *f);

/* Looks up one path component name[0..namelen) in directory dir_ino. "." (and
 * the empty name) is dir_ino itself, ".." its parent (the root's parent is the root). No
 * symlinks are followed. Returns 0 and *ino, or -FSP_ENOENT, -FSP_ENOTDIR,
 * -FSP_ENAMETOOLONG (namelen > 255), -FSP_EINVAL (name contains '/' or NUL). */
int fsp_lookup(const struct fsp *f, uint32_t dir_ino, const char *name, size_t namelen, uint32_t *ino);

/* Fills *st. Returns 0 or -FSP_ENOENT (no such inode). */
int fsp_stat(const struct fsp *f, uint32_t ino, struct fsp_stat *st);

/* Reads up to len bytes at offset off of regular file ino. Returns the number
 * of bytes read (0 at or past end of file), or -FSP_EAUTH (a chunk failed
 * authentication), -FSP_EFORMAT (an authentic compressed chunk that does not
 * decode to its length: only the image's writer could make one),
 * -FSP_EISDIR, -FSP_EINVAL (not a regular file), -FSP_ENOENT, -FSP_ENOMEM.
 * A read of at most LONG_MAX bytes is served per call. Each chunk is
 * decrypted and authenticated in private memory, decompressed there if it is
 * stored compressed (never before it authenticated), and copied into buf
 * only once authentic: unauthenticated plaintext never reaches buf. On an
 * error the part of buf for the failed chunk and after it is left untouched
 * (chunks before it, authentic, may have been copied). Uses one chunk of
 * private memory per call (two for images with compression): on the stack
 * for chunks of up to 4 KiB (the default), else one rt_malloc. */
long fsp_pread(const struct fsp *f, uint32_t ino, void *buf, uint64_t len, uint64_t off);

/* Copies the target of symlink ino into buf (no NUL terminator), at most len
 * bytes, like readlink(2). Returns the number of bytes copied, or
 * -FSP_EINVAL (not a symlink), -FSP_ENOENT. */
long fsp_readlink(const struct fsp *f, uint32_t ino, char *buf, uint64_t len);

/* Iterates over directory dir_ino in name order (bytewise), without "." and
 * "..". *cookie starts at 0 and is advanced by each call. On an entry:
 * returns 1, *ino, *type (FSP_T_*) and name (NUL-terminated; namecap must be
 * at least the name length + 1, else -FSP_ERANGE and *cookie is unchanged).
 * Returns 0 at the end, or -FSP_ENOTDIR, -FSP_ENOENT. */
int fsp_readdir(const struct fsp *f, uint32_t dir_ino, uint64_t *cookie, uint32_t *ino, char *name, size_t namecap,
		uint32_t *type);

/* Extended attributes (from tar PAX SCHILY.xattr.*). fsp_getxattr copies the
 * value of attribute name[0..namelen) into val; cap == 0 only returns the
 * size. Returns the value length, -FSP_ENODATA, -FSP_ERANGE (cap too small),
 * -FSP_ENOENT. fsp_listxattr writes the NUL-terminated names one after the
 * other (like listxattr(2)); cap == 0 only returns the size needed. */
long fsp_getxattr(const struct fsp *f, uint32_t ino, const char *name, size_t namelen, void *val, size_t cap);
long fsp_listxattr(const struct fsp *f, uint32_t ino, char *buf, size_t cap);

/* A static English name for an error (accepts err or -err). */
const char *fsp_strerror(int err);

#endif
