/* Protected volumes, format version 1 (docs/volume.md): the runtime's
 * implementation of the format of pkg/volume (Go). Open (with crash
 * recovery: replay of the log, cut of an interrupted commit, checkpoint),
 * create, read, write, commit, checkpoint; the namespace operations the
 * volume shield (runtime/src/vol) serves.
 *
 * Portable like the other runtime/lib modules: no libc beyond mem and str
 * functions, fsv_sh_malloc (the shared arena when there is one, so that
 * the enclave's processes share a volume: fsv_arena.h), BearSSL; every
 * host access goes through struct vol_host, so host unit tests run it
 * over real directories. Not thread-safe: the caller serializes (the
 * shield holds one lock, shared by the processes).
 *
 * Errors are negative errnos. Authentication failures are -EIO, and
 * vol_err() then names what failed (a page of which file, the log, ...). */
#ifndef SCONE_VOL_H
#define SCONE_VOL_H

#include <stddef.h>
#include <stdint.h>

#define VOL_KEY_SIZE 32
#define VOL_PAGE 4096u
#define VOL_ROOT_ID 1u
#define VOL_MAX_FILE (1ull << 44)
#define VOL_NAME_MAX 255u
#define VOL_PATH_MAX 4095u
#define VOL_IFMT 0170000u
#define VOL_IFREG 0100000u
#define VOL_IFDIR 0040000u
#define VOL_IFLNK 0120000u

/* The volume directory on the host. Names are relative to it ("volume",
 * "meta.<gen>", "f/<id>"). Every function returns 0 (or a count) or a
 * negative errno; -ENOENT when the file does not exist. */
struct vol_host {
	void *ctx;
	/* Reads up to n bytes at off: the count (short at end of file). */
	long (*pread)(void *ctx, const char *name, void *buf, size_t n, uint64_t off);
	/* Writes n bytes at off, creating the file (mode 0600, and the f/
	 * directory) when missing. */
	long (*pwrite)(void *ctx, const char *name, const void *buf, size_t n, uint64_t off);
	long (*size)(void *ctx, const char *name, uint64_t *size);
	long (*sync)(void *ctx, const char *name); /* "." is the directory */
	long (*truncate)(void *ctx, const char *name, uint64_t size);
	long (*remove)(void *ctx, const char *name); /* 0 also when missing */
	long (*rename)(void *ctx, const char *from, const char *to);
	/* Calls fn for each name in the directory ("." or "f"), no . or ..;
	 * -ENOENT when it does not exist. */
	long (*list)(void *ctx, const char *dir, void (*fn)(void *arg, const char *name), void *arg);
	void (*now)(void *ctx, int64_t *sec, uint32_t *nsec);
	long (*random)(void *ctx, void *buf, size_t n);
};

struct vol;

struct vol_attr {
	uint64_t id;
	uint32_t mode, uid, gid, nlink;
	uint64_t size;
	int64_t atime, mtime, ctime;
	uint32_t atime_ns, mtime_ns, ctime_ns;
};

/* HKDF-SHA-256(FS key, info "scone-vol v1 volume key" 0x00 path): the key
 * of the volume mounted at path when no CAS grants one. */
void vol_derive_key(const uint8_t fs_key[32], const char *path, uint8_t out[VOL_KEY_SIZE]);

/* Opens the volume in the host directory; an empty directory (or one with
 * only the leftovers of an interrupted creation) becomes a new volume for
 * mount_path whose root is owned by uid:gid, unless readonly. Unless
 * readonly, an interrupted commit is cut off, leftovers are removed and a
 * non-empty log is checkpointed. Errors: -ENOTDIR (not a volume: other
 * files and no header), -EKEYREJECTED (wrong key), -EPROTO (unknown
 * version), -EIO (modified: vol_open_err names what), host errors. */
int vol_open(struct vol **out, const struct vol_host *h, const uint8_t key[VOL_KEY_SIZE], const char *mount_path,
	     uint32_t uid, uint32_t gid, int readonly, char *err, size_t errlen);
/* Frees the volume (no commit). */
void vol_free(struct vol *v);
/* The last error's description (after -EIO and host failures). */
const char *vol_err(const struct vol *v);
/* Commits every change (sync: durably). A failed commit makes the volume
 * unusable (every later change fails with -EIO) until reopened. */
int vol_commit(struct vol *v, int sync);
/* Whether changes are waiting for a commit, and how many bytes of data. */
uint64_t vol_dirty_bytes(const struct vol *v);
int vol_changed(const struct vol *v);
/* The version of the last commit and its root R_V. */
uint64_t vol_version(const struct vol *v, uint8_t root[16]);
/* The volume id of the header (random, made when the volume was created). */
void vol_id(const struct vol *v, uint8_t id[16]);

/* Path walk inside the volume: path relative to its root (no leading
 * slash; "" is the root). Follows symlinks in the middle, and at the end
 * when follow; a symlink leaving the volume is -EXDEV. *id is 0 when only
 * the last component is missing; *dir and name (nlen bytes, NUL-
 * terminated; "" for the root) say where the last component is. */
int vol_walk(struct vol *v, const char *path, int follow, uint64_t *dir, uint64_t *id, char name[VOL_NAME_MAX + 1],
	     size_t *nlen);
int vol_lookup(struct vol *v, uint64_t dir, const char *name, size_t nlen, uint64_t *id);
int vol_getattr(struct vol *v, uint64_t id, struct vol_attr *a);
int vol_setattr(struct vol *v, uint64_t id, const uint32_t *mode, const uint32_t *uid, const uint32_t *gid,
		const int64_t *atime, const uint32_t *atime_ns, const int64_t *mtime, const uint32_t *mtime_ns);
/* Creates a file or directory (mode with its type) named name in dir. */
int vol_create(struct vol *v, uint64_t dir, const char *name, size_t nlen, uint32_t mode, uint32_t uid, uint32_t gid,
	       uint64_t *id);
/* A hard link: a new name in dir for the file id (not a directory). */
int vol_link(struct vol *v, uint64_t id, uint64_t dir, const char *name, size_t nlen);
/* A symbolic link named name in dir to target (tlen bytes, no NUL). */
int vol_symlink(struct vol *v, uint64_t dir, const char *name, size_t nlen, const char *target, size_t tlen,
		uint32_t uid, uint32_t gid, uint64_t *id);
/* Removes a name: rmdir (directory, empty) or unlink (not a directory). */
int vol_remove(struct vol *v, uint64_t dir, const char *name, size_t nlen, int rmdir);
/* rename(2) semantics, replacing the target; noreplace: -EEXIST instead. */
int vol_rename(struct vol *v, uint64_t odir, const char *oname, size_t olen, uint64_t ndir, const char *nname,
	       size_t nlen, int noreplace);
long vol_readlink(struct vol *v, uint64_t id, char *buf, size_t n);
/* Directory entry i (in name order): 1 with name/id/mode, 0 at the end. */
int vol_dirent(struct vol *v, uint64_t dir, size_t i, const char **name, size_t *nlen, uint64_t *id, uint32_t *mode);
/* An open file keeps its inode (and data) after the last name goes. */
void vol_hold(struct vol *v, uint64_t id);
void vol_release(struct vol *v, uint64_t id);
long vol_read(struct vol *v, uint64_t id, void *buf, size_t n, uint64_t off);
long vol_write(struct vol *v, uint64_t id, const void *buf, size_t n, uint64_t off);
int vol_truncate(struct vol *v, uint64_t id, uint64_t size);

#endif
