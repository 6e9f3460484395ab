/* Virtual file system of the FS shield: the portable core.
 *
 * The application sees one merged tree:
 *   - the protected FS image (read-only; every byte authenticated by the
 *     image backend, struct fsv_image_ops, implemented over fsp.h in the
 *     runtime and by a mock in host tests),
 *   - overlaid by an in-memory ephemeral layer: created files, directories
 *     and symlinks, copied-up image files (a write to an image file first
 *     copies it into memory), metadata changes, whiteouts for deletions,
 *   - with passthrough mount points (/proc, /dev, /sys, volumes): at such a
 *     path the resolver stops and hands the path to the host unchanged.
 *
 * The tree is made of reference-counted nodes (struct fsv_node), created
 * lazily from the image as paths are looked up and cached in their parent
 * directory, so a node's identity is stable (an open file keeps seeing the
 * node; a copy-up is seen by every open descriptor).
 *
 * No globals, no libc: the caller (runtime/src/fs_*.c) owns one struct fsv
 * and serializes all calls on it with one lock. Errors are negative errno
 * values (Linux numbering). Paths are at most FSV_PATH_MAX bytes including
 * the NUL, names at most FSV_NAME_MAX bytes, 40 symlinks per resolution. */
#ifndef SCONE_FSV_H
#define SCONE_FSV_H

#include <stddef.h>
#include <stdint.h>

#define FSV_PATH_MAX 4096
/* A regular file past this size keeps its content in chunks of this size,
 * allocated when written: a sparse file costs what it holds (fsv_data.c). */
#define FSV_CHUNK ((uint64_t)64 << 10)
#define FSV_NAME_MAX 255
#define FSV_SYMLOOP_MAX 40
#define FSV_MAX_MOUNTS 32

/* File types: the S_IFMT values of st_mode. */
#define FSV_IFMT 0170000
#define FSV_IFSOCK 0140000
#define FSV_IFLNK 0120000
#define FSV_IFREG 0100000
#define FSV_IFBLK 0060000
#define FSV_IFDIR 0040000
#define FSV_IFCHR 0020000
#define FSV_IFIFO 0010000

/* Internal error code of the image backend: authentication failed. The
 * core reports it through on_integrity and returns -EIO to the caller. */
#define FSV_EAUTH 10001

struct fsv_stat {
	uint64_t ino;
	uint32_t mode; /* S_IFMT | permission bits */
	uint32_t uid, gid, nlink;
	uint64_t size;
	int64_t atime_sec; /* set at creation and by utimes: reads do not update it (noatime) */
	uint32_t atime_nsec;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	int64_t ctime_sec;
	uint32_t ctime_nsec;
	uint32_t rdev_major, rdev_minor;
	uint32_t blksize;
	uint64_t blocks;
	uint32_t dev; /* the virtual device number (fsv.dev) */
};

/* Read-only image backend. Inode numbers are the backend's; errors are
 * negative errno values, or -FSV_EAUTH. */
struct fsv_image_ops {
	int (*lookup)(void *ctx, uint64_t dir, const char *name, size_t len, uint64_t *ino);
	int (*stat)(void *ctx, uint64_t ino, struct fsv_stat *st);
	long (*pread)(void *ctx, uint64_t ino, void *buf, size_t len, uint64_t off);
	long (*readlink)(void *ctx, uint64_t ino, char *buf, size_t cap);
	/* Returns 1 with *ino, name (NUL-terminated) and *mode (S_IFMT bits) for
	 * the next entry (no "." or ".."), 0 at the end, or an error. */
	int (*readdir)(void *ctx, uint64_t dir, uint64_t *cookie, uint64_t *ino, char *name, size_t cap,
		       uint32_t *mode);
};

struct fsv_dent;
struct fsv_reclock;

struct fsv_node {
	uint32_t refs;
	uint32_t mode; /* S_IFMT | permissions */
	uint32_t uid, gid, nlink;
	uint8_t img;	 /* backed by image inode img_ino (for REG: until copied up) */
	uint8_t copied;	 /* REG: content lives in data (copied up or ephemeral) */
	uint8_t dead;	 /* removed from the tree */
	uint8_t opaque;	 /* DIR: do not consult the image (new dir over a whiteout) */
	uint8_t special; /* FSV_SPECIAL_*: answered by the runtime, never stored */
	uint64_t ino, img_ino;
	uint64_t size;
	int64_t atime_sec, mtime_sec, ctime_sec;
	uint32_t atime_nsec, mtime_nsec, ctime_nsec;
	uint32_t rdev_major, rdev_minor;
	uint8_t *data; /* REG: content (copied) up to FSV_CHUNK bytes; LNK: target (ephemeral) */
	size_t cap;    /* REG: bytes charged to the ephemeral layer (data, or chunks and index) */
	/* REG past FSV_CHUNK bytes (fsv_data.c): nchunk slots of FSV_CHUNK-byte
	 * page-aligned chunks (fsv_sh_pages), NULL for a hole that reads as
	 * zeros; data is then NULL. */
	uint8_t **chunk;
	size_t nchunk;
	/* REG: mapped MAP_SHARED (fsv_share): chunks whatever the size, none
	 * freed or moved while the node lives (each process that maps it holds
	 * a reference), the bytes past size zeroed when it changes. */
	uint8_t shared;
	struct fsv_node *parent; /* where it was last linked (not a reference) */
	char *name;		 /* its name there (NUL-terminated) */
	struct fsv_dent *ents;	 /* DIR: overlay entries */
	size_t nents, entcap;
	struct fsv_file *flockers;    /* descriptions holding a flock on it (fsv_flock) */
	struct fsv_reclock *reclocks; /* its POSIX and OFD record locks (fsv_lock.h) */
	struct fsv_xattr *xattrs;     /* its own extended attributes (fsv_xattr.c) */
	uint8_t xattrs_own;	      /* xattrs is the whole truth (else: the image's) */
};

/* Nodes the runtime answers itself (fsv_magic.c): they live in no
 * directory. */
#define FSV_SPECIAL_NONE 0
#define FSV_SPECIAL_PROC 1	  /* a read-only snapshot (/proc/self/environ, cmdline) */
#define FSV_SPECIAL_RANDOM 2	  /* /dev/urandom, /dev/random: reads come from fs->random */
#define FSV_SPECIAL_REPORT_DATA 3 /* /dev/attestation/user_report_data: writes go to fs->set_report_data */

/* Gramine's /dev/attestation files (fs->attestation). */
#define FSV_ATT_REPORT_DATA 1	/* user_report_data: 64 bytes */
#define FSV_ATT_QUOTE 2		/* quote: of the enclave with the report data */
#define FSV_ATT_KEY_MRENCLAVE 3 /* keys/_sgx_mrenclave: 16-byte sealing key */
#define FSV_ATT_KEY_MRSIGNER 4	/* keys/_sgx_mrsigner: 16-byte sealing key */
#define FSV_ATT_MAX 8192	/* the largest content */

/* What fs->proc_data is asked for. */
#define FSV_PROC_ENVIRON 1
#define FSV_PROC_CMDLINE 2
#define FSV_PROC_STATUS 3 /* the host's, with the virtual ids */

struct fsv_dent {
	char *name;
	uint32_t len;
	struct fsv_node *node; /* NULL: whiteout (the image entry is deleted) */
};

struct fsv {
	struct fsv_image_ops ops;
	void *img; /* backend context; NULL: no image (empty root) */
	uint64_t img_root;
	struct fsv_node *root;
	uint32_t dev;
	uint64_t next_ino;	     /* ephemeral inode numbers */
	uint32_t uid, gid;	     /* credentials for permission checks */
	uint64_t eph_bytes, eph_max; /* ephemeral content accounting (ENOSPC) */
	/* Where next_ino and eph_bytes really live: NULL (fsv_init points them
	 * at the fields above) or words in the shared arena (fsv_arena.h), so
	 * that forked processes share one ephemeral layer. */
	uint64_t *next_ino_p, *eph_bytes_p;
	/* Chunk size of the image (a power of two, 0: none). Small reads of an
	 * image file load the whole chunk into a per-description cache, so a
	 * sequence of small reads authenticates each chunk once, not per read. */
	uint32_t chunk;
	/* Mount points handed to the host: normalized absolute paths. */
	char *mounts[FSV_MAX_MOUNTS];
	size_t nmounts;
	/* Path of the running program inside the image (/proc/self/exe). */
	char *exe;
	/* Hooks (may be NULL). */
	void *hook_ctx;
	void (*on_integrity)(void *ctx, const char *path, int err);
	void (*now)(void *ctx, int64_t *sec, uint32_t *nsec);
	/* Node of a virtual fd for /proc/self/fd/N (ref taken by the caller's
	 * fsv_ref), NULL if fd is not virtual. */
	struct fsv_node *(*fd_node)(void *ctx, int fd);
	/* Whether fd is open on the host but closed in the application's
	 * view (a spare placeholder, the runtime's own): /proc/self/fd/N and
	 * fdinfo/N of it do not exist (ENOENT). May be NULL. */
	int (*fd_closed)(void *ctx, int fd);
	/* The process's own pid (to recognise /proc/<pid> as the process). */
	long (*self_pid)(void *ctx);
	/* The application's view of /proc/self/environ or cmdline
	 * (FSV_PROC_*): data and len, valid until the call returns. */
	void (*proc_data)(void *ctx, int which, const char **data, size_t *len);
	/* Fills buf with len random bytes from inside the enclave (never the
	 * host); 0 or a negative errno. NULL: /dev/[u]random pass to the host. */
	int (*random)(void *ctx, void *buf, size_t len);
	/* Gramine's /dev/attestation (NULL: they pass to the host): the
	 * content of file which (FSV_ATT_*) into buf (FSV_ATT_MAX bytes), its
	 * length or a negative errno; and the 64 bytes written to
	 * user_report_data. */
	long (*attestation)(void *ctx, int which, uint8_t *buf);
	int (*set_report_data)(void *ctx, const uint8_t data[64]);
	/* A FIFO or socket node (FSV_IFIFO, FSV_IFSOCK; ephemeral) is freed:
	 * whatever backs it on the host can go (may be NULL). */
	void (*host_gone)(void *ctx, uint64_t ino);
	/* A flock lock went or got weaker (fsv_flock; may be NULL). */
	void (*flock_released)(void *ctx);
	/* Record locks (fsv_lock.h) went because a descriptor or description
	 * closed (fsv_fd.c; may be NULL). The owner of a process's POSIX locks
	 * is self_pid's answer. */
	void (*reclock_released)(void *ctx);
};

/* Sets up fs (zeroed by the caller) with an image backend (img may be NULL
 * for an empty root). Returns 0 or -ENOMEM / an image error. */
int fsv_init(struct fsv *fs, const struct fsv_image_ops *ops, void *img, uint64_t img_root);
/* Frees every node not referenced from outside. */
void fsv_destroy(struct fsv *fs);
/* Adds a passthrough mount point (absolute; normalized here) and creates its
 * parent directories and itself (a directory if is_dir, else an empty file)
 * in the ephemeral layer when the image lacks them, so that it shows up in
 * listings with the right type. */
int fsv_add_mount(struct fsv *fs, const char *path, int is_dir);
int fsv_set_exe(struct fsv *fs, const char *path);

void fsv_ref(struct fsv_node *n);
void fsv_unref(struct fsv *fs, struct fsv_node *n);

/* ---- nodes (fsv_node.c) ---- */
/* One component in dir (no "." / ".." handling). 0 and *out (a reference),
 * -ENOENT, -ENOTDIR, -EIO. */
int fsv_lookup(struct fsv *fs, struct fsv_node *dir, const char *name, size_t len, struct fsv_node **out);
int fsv_getattr(struct fsv *fs, struct fsv_node *n, struct fsv_stat *st);
/* Permission check: mask of 4 (r), 2 (w), 1 (x) against fs->uid/gid. */
int fsv_access(struct fsv *fs, struct fsv_node *n, int mask);
/* Creates name in dir: type FSV_IFREG, FSV_IFDIR, FSV_IFLNK (target), FSV_IFIFO...
 * -EEXIST if it exists. *out gets a reference (may be NULL). */
int fsv_create(struct fsv *fs, struct fsv_node *dir, const char *name, size_t len, uint32_t mode, const char *target,
	       struct fsv_node **out);
/* Links existing non-directory node under a new name (hard link). */
int fsv_link(struct fsv *fs, struct fsv_node *n, struct fsv_node *dir, const char *name, size_t len);
/* Removes name from dir: rmdir != 0 for rmdir semantics (ENOTDIR/ENOTEMPTY),
 * else unlink semantics (EISDIR). */
int fsv_remove(struct fsv *fs, struct fsv_node *dir, const char *name, size_t len, int rmdir);
/* rename(2)/renameat2 with flags 0, RENAME_NOREPLACE (1), RENAME_EXCHANGE (2). */
int fsv_rename(struct fsv *fs, struct fsv_node *od, const char *on, size_t ol, struct fsv_node *nd, const char *nn,
	       size_t nl, unsigned flags);
long fsv_read(struct fsv *fs, struct fsv_node *n, void *buf, size_t len, uint64_t off);
long fsv_write(struct fsv *fs, struct fsv_node *n, const void *buf, size_t len, uint64_t off);
int fsv_truncate(struct fsv *fs, struct fsv_node *n, uint64_t size);
/* Copies an image file's content into the ephemeral layer (idempotent). */
int fsv_copy_up(struct fsv *fs, struct fsv_node *n);
/* Shares the content of regular file n over [off, off + len) (page-aligned)
 * with a MAP_SHARED mapping: copies it up, makes it chunks whatever its
 * size, allocates every chunk of the range (past the end of the file too)
 * and calls map(ctx, src, k, at) for each piece, in order: k bytes of the
 * file's memory at src are what the mapping shows at at (from its start).
 * From then on n's chunks are never freed or moved (a mapping may alias
 * them): writes through the mapping and fsv_write see each other. 0, the
 * first error of map, -ENOSPC past eph_max, -ENOMEM, -EINVAL or -ENODEV. */
int fsv_share(struct fsv *fs, struct fsv_node *n, uint64_t off, uint64_t len,
	      int (*map)(void *ctx, void *src, size_t len, uint64_t at), void *ctx);
long fsv_readlink(struct fsv *fs, struct fsv_node *n, char *buf, size_t cap);
int fsv_chmod(struct fsv *fs, struct fsv_node *n, uint32_t mode);
int fsv_chown(struct fsv *fs, struct fsv_node *n, uint32_t uid, uint32_t gid);
/* New access and modification times of utimes/utimensat: a time with
 * omit set stays as it is. */
struct fsv_times {
	int64_t atime_sec, mtime_sec;
	uint32_t atime_nsec, mtime_nsec;
	uint8_t atime_omit, mtime_omit;
};
int fsv_utimes(struct fsv *fs, struct fsv_node *n, const struct fsv_times *t);
/* Absolute path of n (by its last link); -ENOENT for a removed node. */
long fsv_node_path(struct fsv *fs, struct fsv_node *n, char *buf, size_t cap);
/* A new node in no directory (nlink 0), owned by fs->uid/gid, with len bytes
 * of content for a regular file: *out gets the only reference. */
int fsv_anon_file(struct fsv *fs, uint32_t mode, const void *data, size_t len, struct fsv_node **out);

/* ---- files the runtime places (fsv_place.c) ---- */
/* Places a regular file at the absolute path (no "." or "..") with
 * permission bits mode (at most 0777), owner uid:gid and len bytes of
 * content, as the runtime (root) before the program runs: missing parent
 * directories are created (0755, owned by root), symlinks above it are
 * followed, a file or symlink already there (in the image or the layer) is
 * replaced. -EXDEV when the path is at or below a passthrough mount (the
 * file would land on the host), -EISDIR when a directory is there,
 * -ENOTDIR when a parent is not a directory, -ENOSPC over eph_max. */
int fsv_place_file(struct fsv *fs, const char *path, uint32_t mode, uint32_t uid, uint32_t gid, const void *data,
		   size_t len);

/* ---- extended attributes (fsv_xattr.c) ----
 * The node's own list, once xattrs_own is set (an image node's attributes
 * are the image's until the shield copies them in with fsv_xattr_set).
 * set: flags FSV_XATTR_CREATE / _REPLACE; 0, -EEXIST, -ENODATA, -ERANGE
 * (name), -E2BIG (value), -ENOSPC. get and list as getxattr(2) and
 * listxattr(2) with cap 0 asking for the size. */
#define FSV_XATTR_CREATE 1
#define FSV_XATTR_REPLACE 2
#define FSV_XATTR_NAME_MAX 255
#define FSV_XATTR_SIZE_MAX 65536
struct fsv_xattr;
int fsv_xattr_set(struct fsv_node *n, const char *name, const void *val, size_t len, int flags);
long fsv_xattr_get(const struct fsv_node *n, const char *name, void *buf, size_t cap);
long fsv_xattr_list(const struct fsv_node *n, char *buf, size_t cap);
int fsv_xattr_remove(struct fsv_node *n, const char *name);
void fsv_xattr_free(struct fsv_node *n);

/* Directory listing snapshot (for getdents64): the merged entries of dir,
 * "." and ".." first. */
struct fsv_dirent {
	uint64_t ino;
	uint8_t type; /* DT_* */
	char *name;
};
struct fsv_dirlist {
	struct fsv_dirent *e;
	size_t n;
};
int fsv_list(struct fsv *fs, struct fsv_node *dir, struct fsv_dirlist *out);
void fsv_list_free(struct fsv_dirlist *l);

/* ---- path resolution (fsv_path.c) ---- */
#define FSV_FOLLOW 0x1 /* follow a symlink in the last component */
#define FSV_PARENT 0x2 /* the last component may be missing (create) */
/* The last component is created (mkdir, mknod, symlink, link): as Linux's
 * filename_create, a symlink there is the object (EEXIST), not followed
 * even with a trailing slash, and an existing non-directory with a
 * trailing slash is no ENOTDIR either. Goes with FSV_PARENT. */
#define FSV_CREATE 0x4

/* Where a relative path starts: a node, or a host directory path. */
struct fsv_start {
	struct fsv_node *node; /* NULL: host_dir */
	const char *host_dir;  /* absolute host path when node is NULL */
};

struct fsv_res {
	int host; /* 1: the path belongs to the host: use host_path */
	char host_path[FSV_PATH_MAX];
	struct fsv_node *dir;  /* parent of the last component (reference) */
	struct fsv_node *node; /* the object, or NULL if missing (reference) */
	char name[FSV_NAME_MAX + 1];
	size_t namelen;
	int dot;	    /* last component was "." or ".." (or path "/") */
	int trailing_slash; /* path ended in '/' */
};

/* Resolves path. 0: either r->host, or r->dir (+ r->node when it exists;
 * a missing last component is an error unless FSV_PARENT). Errors: -ENOENT,
 * -ENOTDIR, -ELOOP, -ENAMETOOLONG, -EACCES, -EIO. Release with fsv_res_put. */
int fsv_resolve(struct fsv *fs, const struct fsv_start *start, const char *path, int flags, struct fsv_res *r);
void fsv_res_put(struct fsv *fs, struct fsv_res *r);
/* Is the normalized absolute path at or below a mount point? */
int fsv_is_mounted(const struct fsv *fs, const char *abs, size_t len);
/* Lexically normalizes absolute path in (len bytes) into out (cap bytes):
 * collapses "//", "." and "..". Returns the length or -ENAMETOOLONG. */
long fsv_normalize(const char *in, size_t len, char *out, size_t cap);

/* ---- what the runtime answers at a passthrough mount (fsv_magic.c) ---- */
#define FSV_MAGIC_HOST 0    /* path (possibly rewritten) goes to the host */
#define FSV_MAGIC_RESTART 1 /* path was rewritten: resolve it again from the root */
#define FSV_MAGIC_NODE 2    /* *node (a reference) is the object */
/* path: an absolute path at or below a passthrough mount without ".."
 * (FSV_PATH_MAX bytes, may be rewritten); follow: the last component's
 * magic link is followed. Returns FSV_MAGIC_* or a negative errno (EACCES
 * for what the /proc allow-list refuses). */
int fsv_magic(struct fsv *fs, char *path, int follow, struct fsv_node **node);

/* ---- open files and the fd table (fsv_fd.c) ---- */
/* An open file description (shared by dup'ed descriptors). */
struct fsv_file {
	uint32_t refs;
	uint32_t flags; /* open(2) flags: access mode, O_APPEND, O_NONBLOCK, O_PATH, ... */
	struct fsv_node *node;
	uint64_t off;
	struct fsv_dirlist dir; /* getdents snapshot, taken at offset 0 */
	int dir_valid;
	uint8_t *cache; /* one authenticated image chunk (fsv.chunk bytes) */
	uint64_t cache_off;
	size_t cache_len;
	uint8_t flock;		     /* 0, FSV_FLOCK_SH or FSV_FLOCK_EX held by this description */
	struct fsv_file *flock_next; /* in node->flockers */
};

/* Record locks (fsv_lock.h, node->reclocks) go with descriptors too: the
 * process's POSIX locks on a file (owner fs->self_pid) whenever it drops
 * one of its descriptors of the file (fsv_fd_install over it,
 * fsv_fd_remove, fsv_fd_destroy), a description's OFD locks when it is
 * freed; fs->reclock_released is called then. */

/* flock(2) locks belong to open file descriptions: shared ones, an
 * exclusive one, or none. fsv_flock applies op (FSV_FLOCK_SH, _EX or _UN)
 * for f without waiting: 0, or -EWOULDBLOCK when another description holds
 * a conflicting lock (a conversion then gives up the lock f held, as
 * Linux's does before it waits). A description's lock goes when it is
 * freed. fs->flock_released is called whenever a lock goes or gets weaker,
 * for waiters to try again. */
#define FSV_FLOCK_SH 1
#define FSV_FLOCK_EX 2
#define FSV_FLOCK_UN 8
int fsv_flock(struct fsv *fs, struct fsv_file *f, int op);

struct fsv_fdtab {
	struct fsv_file **v;
	size_t cap;
	size_t count;
	/* Optional (NULL: none): a bitmap of FSV_FD_LIMIT bits, set where v
	 * holds a description, kept in step by install/remove/destroy with
	 * atomic stores, so that a reader without the table's lock can tell a
	 * descriptor that is certainly not virtual (fsv_fd_maybe). The memory
	 * is the caller's and never moves. */
	unsigned long *live;
	/* Optional (NULL: none), FSV_FD_LIMIT bits: the owner's mark on a
	 * descriptor it installed and knows more of (the FS shield: its
	 * FD_CLOEXEC, fsv_fd_mark). Every install and remove clears it, so a
	 * mark never outlives the entry it was made for. */
	unsigned long *mark;
};

#define FSV_FD_LIMIT (1 << 20)
#define FSV_FD_LIVE_WORDS (FSV_FD_LIMIT / (8 * sizeof(unsigned long)))

/* Without the lock: 0 when fd is certainly not virtual now (no live
 * bitmap: 1, ask under the lock). A descriptor installed by another thread
 * is seen once that thread's open returned and the number reached this
 * thread (any synchronisation that passes it orders the store before). */
static inline int fsv_fd_maybe(const struct fsv_fdtab *t, int fd)
{
	if (!t->live)
		return 1;
	if (fd < 0 || fd >= FSV_FD_LIMIT)
		return 0;
	unsigned long w = __atomic_load_n(&t->live[(unsigned)fd / (8 * sizeof(unsigned long))], __ATOMIC_ACQUIRE);
	return (int)((w >> ((unsigned)fd % (8 * sizeof(unsigned long)))) & 1);
}

/* Marks fd's entry (fsv_fdtab.mark), clears the mark, reads it. */
void fsv_fd_mark(struct fsv_fdtab *t, int fd);
void fsv_fd_unmark(struct fsv_fdtab *t, int fd);
int fsv_fd_marked(const struct fsv_fdtab *t, int fd);

/* New description of node (takes its own reference of node). */
struct fsv_file *fsv_file_new(struct fsv_node *node, uint32_t flags);
void fsv_file_ref(struct fsv_file *f);
void fsv_file_unref(struct fsv *fs, struct fsv_file *f);

/* Maps fd to f (takes a reference of f); a previous mapping is released. */
int fsv_fd_install(struct fsv *fs, struct fsv_fdtab *t, int fd, struct fsv_file *f);
/* The description of fd (no reference taken), NULL if fd is not virtual. */
struct fsv_file *fsv_fd_get(const struct fsv_fdtab *t, int fd);
/* Drops the mapping of fd; 1 if there was one. */
int fsv_fd_remove(struct fsv *fs, struct fsv_fdtab *t, int fd);
void fsv_fd_destroy(struct fsv *fs, struct fsv_fdtab *t);
/* The table of a process that is gone (killed: it never destroyed it),
 * as another process frees it: owner's POSIX locks on its files and its
 * references go (not its bitmaps, which were its own memory). The table's
 * array is allocated with fsv_sh_calloc (in the arena when there is one),
 * so that another process can read it. */
void fsv_fd_orphan(struct fsv *fs, struct fsv_fdtab *t, uint64_t owner);

/* read/write/seek on a description, honouring and advancing its offset
 * (pos < 0) or at pos (pread/pwrite). */
long fsv_file_read(struct fsv *fs, struct fsv_file *f, void *buf, size_t len, int64_t pos);
long fsv_file_write(struct fsv *fs, struct fsv_file *f, const void *buf, size_t len, int64_t pos);
int64_t fsv_file_seek(struct fsv *fs, struct fsv_file *f, int64_t off, int whence);
/* Fills buf with struct linux_dirent64 records (getdents64). */
long fsv_file_getdents(struct fsv *fs, struct fsv_file *f, void *buf, size_t len);

/* ---- small helpers ---- */
size_t fsv_strlen(const char *s);
int fsv_streq(const char *a, size_t al, const char *b, size_t bl);

#endif
