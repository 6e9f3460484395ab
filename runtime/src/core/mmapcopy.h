/* mmap of a file whose bytes live in the enclave (the FS shield's virtual
 * files, the volume shield's files): the data is copied, never shared with
 * the host. Anonymous memory is mapped through the host (read-write),
 * filled by the shield, then given the requested protection. The shields
 * check the descriptor first (open mode, type, MAP_SHARED with PROT_WRITE). */
#ifndef SCONE_MMAPCOPY_H
#define SCONE_MMAPCOPY_H

#include <stddef.h>
#include <stdint.h>

struct sys_call;

/* What a shield does after its checks: fill(ctx, dst, n, off) copies up to
 * n bytes of the file at off to dst and returns the count (0 at the end of
 * the file) or a negative errno. Returns the address or a negative errno
 * (EINVAL for flags, lengths and offsets Linux refuses).
 *
 * key, when not 0, names content that never changes (an image file not
 * copied up): a private MAP_FIXED mapping of key's bytes over a copy of
 * the same bytes at the same offsets that nothing could have changed (no
 * write permission since, not unmapped, moved or advised) keeps that copy
 * and only changes its protection, as a dynamic loader's segment mappings
 * over its whole-file mapping are. Writes through /proc/self/mem or
 * process_vm_writev to a read-only copy are not seen (a debugger's
 * breakpoint would survive such a remapping). */
long rt_mmap_copy(const struct sys_call *c, long (*fill)(void *ctx, void *dst, size_t n, uint64_t off), void *ctx,
		  uint64_t key);

/* The address range of the call's mapping, as anonymous private memory
 * with protection prot, placed by the host as the call asks (address hint,
 * MAP_FIXED, MAP_FIXED_NOREPLACE), its pages mapped at once when populate
 * is set (MAP_POPULATE, whatever the call asked); the host's answer checked
 * (Iago). The address or a negative errno. */
long rt_mmap_reserve(const struct sys_call *c, int prot, int populate);

/* 0, or -EINVAL for flags, lengths and offsets Linux refuses (checked
 * before the descriptor, as Linux does). */
long rt_mmap_valid(const struct sys_call *c);
/* Whether the host backs memory advised MADV_HUGEPAGE with huge pages
 * (its transparent huge pages are not "never"): the copies of 128 KiB or
 * more then go on them (mmapcopy.c). */
int rt_mmap_huge(void);
/* Whether the call's flags ask for MAP_SHARED (or MAP_SHARED_VALIDATE). */
int rt_mmap_shared(const struct sys_call *c);

#endif
