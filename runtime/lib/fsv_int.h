/* FS shield core: what the fsv_*.c files share and the rest of the runtime
 * does not need (fsv.h is the interface). */
#ifndef SCONE_FSV_INT_H
#define SCONE_FSV_INT_H

#include "fsv.h"

/* The counters live where fs->*_p point: in the shared arena when there is
 * one, so that every process of the enclave counts the same. */
#define FSV_NEXT_INO(fs) (*(fs)->next_ino_p)
#define FSV_EPH_BYTES(fs) (*(fs)->eph_bytes_p)

static inline int fsv_is_dir(const struct fsv_node *n) { return (n->mode & FSV_IFMT) == FSV_IFDIR; }

/* The time from fs->now (0 without the hook). */
void fsv_now(struct fsv *fs, int64_t *sec, uint32_t *nsec);
/* Sets ctime (and mtime) of n to now. */
void fsv_touch(struct fsv *fs, struct fsv_node *n, int mtime);
/* A NUL-terminated copy of s[0..len) from the tree's allocator. */
char *fsv_dupname(const char *s, size_t len);
/* A fresh ephemeral node (one reference), owned by the current ids. */
struct fsv_node *fsv_node_new(struct fsv *fs, uint32_t mode);
/* The node of image inode ino (one reference); NULL with *err set. */
struct fsv_node *fsv_node_from_img(struct fsv *fs, uint64_t ino, int *err);
/* Maps an image backend error: an integrity failure is reported through
 * fs->on_integrity (with n's path when known) and becomes -EIO. */
int fsv_img_err(struct fsv *fs, struct fsv_node *n, long err);
/* Drops every entry of directory d (a removed or freed directory). */
void fsv_free_ents(struct fsv *fs, struct fsv_node *d);
/* Makes room for size bytes of n's data in the ephemeral layer. */
int fsv_grow(struct fsv *fs, struct fsv_node *n, uint64_t size);

#endif
