/* The application's live mappings, as the runtime has seen them made
 * (an ivset.h range set).
 *
 * host_syscall (transport.h) reports every mmap, munmap and mremap result
 * here. A host that answers a fresh mapping (mmap without MAP_FIXED, or with
 * MAP_FIXED_NOREPLACE, or an mremap that moves or grows) with memory that
 * is already in use would make the application overwrite its own data (an
 * Iago attack): the runtime stops instead. Mappings the kernel makes on its
 * own (vDSO, the initial stack and its growth, the runtime) are recorded at
 * start-up from /proc/self/maps; System V shared memory (shmat) and AIO
 * rings are not tracked (only missed checks, never false alarms). */
#ifndef SCONE_VMA_H
#define SCONE_VMA_H

#include <stddef.h>
#include <stdint.h>

/* Records the mappings at start-up. maps: the text of /proc/self/maps. */
void rt_vma_init(const char *maps);
/* Before and after a host call (transport.c). */
void rt_vma_before(long nr, const long *a);
void rt_vma_after(long nr, const long *a, long r);
/* Whether [addr, addr+len) intersects a live mapping. */
int rt_vma_in_use(unsigned long addr, unsigned long len);
/* Whether [addr, addr+len) intersects a mapping of a host file (mmap with
 * a descriptor the host serves: protected files are mapped as anonymous
 * copies by the FS shield), which must never become executable. */
int rt_vma_host_file(unsigned long addr, unsigned long len);
/* Whether [addr, addr+len) intersects a MAP_SHARED mapping the application
 * made (another process may share it: a futex there is the host's). */
int rt_vma_shared(unsigned long addr, unsigned long len);
/* [lo, hi) (page-aligned) is a private copy of key's bytes from off (key:
 * content that never changes, core/mmapcopy.h), mapped without write
 * permission. It stays pristine until a host call may change its bytes:
 * munmap, mremap, mmap MAP_FIXED, mprotect with PROT_WRITE, madvise
 * (rt_vma_before). rt_vma_pristine: whether [lo, hi) holds key's bytes
 * from off, pristine. */
void rt_vma_pristine_add(unsigned long lo, unsigned long hi, uint64_t key, uint64_t off);
int rt_vma_pristine(unsigned long lo, unsigned long hi, uint64_t key, uint64_t off);
/* [lo, hi) (page-aligned) maps the memory of key's bytes from off, shared,
 * with protection prot (a shield's alias of a file's own pages, which the
 * host's mremap would extend with other pages). The record lasts until
 * munmap, mremap or mmap MAP_FIXED over the range succeeds (rt_vma_before
 * marks the range, rt_vma_after ends it or, when the call failed, keeps
 * it); mprotect changes its protection. rt_vma_alias_add: -1 when the
 * table is full. rt_vma_alias: 1 when [lo, hi) lies in one file's aliases,
 * contiguous (key, the offset at lo and the protection at lo stored), 0
 * when it meets none, -1 when it meets some only in part. */
int rt_vma_alias_add(unsigned long lo, unsigned long hi, uint64_t key, uint64_t off, int prot);
int rt_vma_alias(unsigned long lo, unsigned long hi, uint64_t *key, uint64_t *off, int *prot);
/* Whether the process may still map key's memory: a record of key (one
 * being unmapped too), or a range of it that lost its record without an
 * unmap (a cut that found the table full, shmat SHM_REMAP), which keeps
 * key held for the process's life. */
int rt_vma_alias_held(uint64_t key);
/* The keys that lost a record since the last call, up to cap of them into
 * keys (their count returned; *all set when there were more, or too many
 * to remember: any key may have); a hint for the shield, which asks
 * rt_vma_alias_held before it lets a key go. rt_vma_alias_lost_any: whether
 * there is something to ask (no lock). */
size_t rt_vma_alias_lost(uint64_t *keys, size_t cap, int *all);
int rt_vma_alias_lost_any(void);
#endif
