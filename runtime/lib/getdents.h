/* Bounds-checked parsing of getdents64 buffers (struct linux_dirent64).
 *
 * Every caller that reads directory records the host wrote (the runtime's
 * scan of /proc/self/fd, the Iago check of the application's getdents64
 * results) walks them with rt_dirent_next, which refuses a record that does
 * not fit the buffer, a length that cannot hold a name, a name without its
 * NUL, or a misaligned length: a reclen of 0 cannot loop forever and no read
 * goes past the buffer. No allocation, no global state. */
#ifndef SCONE_GETDENTS_H
#define SCONE_GETDENTS_H
#include <stddef.h>
#include <stdint.h>

#define RT_DIRENT_HDR 19u /* d_ino (8), d_off (8), d_reclen (2), d_type (1) */

struct rt_dirent {
	uint64_t ino;
	int64_t off;
	uint8_t type;
	const char *name; /* NUL-terminated, inside the buffer */
	size_t namelen;
};

/* The record at *pos of buf[0:len]: 1 with *d and *pos moved past it, 0 at
 * the end (*pos == len), -1 when the buffer is malformed. */
int rt_dirent_next(const void *buf, size_t len, size_t *pos, struct rt_dirent *d);

/* Whether buf[0:len] is a well-formed sequence of records (0 or -1). */
int rt_dirent_check(const void *buf, size_t len);
#endif
