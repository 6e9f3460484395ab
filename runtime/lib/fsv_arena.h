/* Shared arena of the ephemeral file system (fsv): memory that every process
 * of the enclave sees at the same address.
 *
 * The runtime maps one MAP_SHARED anonymous region at start-up, before the
 * application can fork, and hands it to fsv_arena_init. From then on the
 * tree of the ephemeral layer (nodes, names, directory entries, file data)
 * is allocated here (fsv_node.c uses fsv_sh_malloc/fsv_sh_calloc/fsv_sh_free),
 * so a file written by a forked child is seen by its parent, like on a real
 * file system. Pointers stay valid in every process because the region is at
 * the same address in all of them (fork copies the mapping, it does not move
 * it).
 *
 * Allocator: 16-byte headers; power-of-two size classes from 16 bytes to
 * 2 GiB with one free list each (no splitting or coalescing: file data grows
 * by doubling, so classes fit); fresh memory from a bump pointer. Apart from
 * them, page blocks (FSV_ARENA_PAGES bytes, page-aligned, no header: the
 * chunks of large files) come down from the arena's top, so that a chunk can
 * be mapped into the application as it is (a shared file mapping,
 * fs/fs_mmap.c); a bitmap marks the free ones, and when the lowest are free
 * their room goes back to the size classes. One process-shared lock that survives its holder's death
 * (rlock.h).
 *
 * Also in the arena: the FS shield's lock word and the ephemeral layer's
 * counters (next inode number, content bytes), which must be shared too.
 *
 * Without fsv_arena_init (dev mode, host unit tests) the fsv_sh_* functions
 * fall back to rt_malloc/rt_calloc/rt_free. fsv_sh_free accepts pointers from
 * either allocator. Portable (runtime and host tests): no syscalls. */
#ifndef SCONE_FSV_ARENA_H
#define SCONE_FSV_ARENA_H
#include <stddef.h>
#include <stdint.h>

struct fsv_reclock_wait;

struct fsv_arena_shared {
	volatile int fs_lock;	      /* the FS shield's lock (fs_shield.c) */
	uint64_t next_ino, eph_bytes; /* struct fsv counters (fsv.h) */
	void *procs;		      /* the enclave's processes (struct fs_proc, fs_procs.c) */
	uint8_t untracked;	      /* a process has no entry there (fs_procs.c) */
	char fifo_dir[64];	      /* host directory of the FIFO and socket nodes, "" until made (fs_hostnode.c) */
	void *socknames;	      /* the paths socket nodes were bound to (fs_hostnode.c) */
	void *passed;		      /* descriptors passed with SCM_RIGHTS, not received yet (fs_scm.c) */
	uint32_t flock_seq;	      /* bumped by every flock release, for waiters (fs_flock.c) */
	uint32_t reclock_seq;	      /* bumped by every record lock release, for waiters (fs_reclock.c) */
	struct fsv_reclock_wait *reclock_waits; /* threads waiting in F_SETLKW, for EDEADLK (fs_reclock.c) */
};

struct rlock_ops;
/* base: size bytes (>= 64 KiB), zero-filled, shared between processes;
 * ops: how the arena's lock names and checks threads (rlock.h). 0, or
 * -EINVAL. Call once, before any fork. */
int fsv_arena_init(void *base, size_t size, const struct rlock_ops *ops);
int fsv_arena_active(void);
/* The shared words above (NULL without an arena). */
struct fsv_arena_shared *fsv_arena_shared(void);
/* Whether p lies inside the arena. */
int fsv_arena_contains(const void *p);
/* Bytes taken from fresh memory so far (size classes and page blocks), and
 * the arena's size. */
size_t fsv_arena_used(void);
size_t fsv_arena_size(void);

void *fsv_sh_malloc(size_t n);
void *fsv_sh_calloc(size_t n, size_t size);
void fsv_sh_free(void *p);

#define FSV_ARENA_PAGE 4096u
#define FSV_ARENA_PAGES ((size_t)64 << 10)
/* A zero-filled page block of FSV_ARENA_PAGES bytes, page-aligned in the
 * arena (without an arena: from rt_calloc, not aligned), or NULL. */
void *fsv_sh_pages(void);
/* Gives a block of fsv_sh_pages back; p may be NULL. */
void fsv_sh_pages_free(void *p);
#endif
