/* The enclave's heap in simulation mode (heap.c): the config's heap size
 * (convert --heap) bounds the application's memory as an enclave's fixed
 * size would on SGX hardware.
 *
 * What counts is what the kernel counts as a process's data (RLIMIT_DATA
 * since Linux 4.7): private writable mappings (brk, anonymous memory, thread
 * stacks, private copies of files) beyond those of the runtime and the
 * loaded program at start. Address space reserved with PROT_NONE does not
 * count until it is made writable; shared memory does not count (the
 * ephemeral file system has its own limit). Past the heap, mmap, mremap,
 * mprotect and brk fail with ENOMEM, as in an enclave; the runtime says so
 * once, naming --heap.
 *
 * The application sees the heap as its RLIMIT_DATA (getrlimit, prlimit64;
 * it may lower it, not raise it past the heap) and as the machine's memory
 * in sysinfo (total and free RAM at most the heap), so runtimes that size
 * themselves from physical memory (the JVM's default heap) fit the enclave.
 *
 * Each process of the enclave has its own heap, as each SGX enclave process
 * does: a forked child inherits the limit, an execve starts afresh. */
#ifndef SCONE_HEAP_H
#define SCONE_HEAP_H
#include <stdint.h>

/* The config's heap size in bytes; 0 (dev mode): not enforced. */
void rt_heap_init(uint64_t heap);
/* Around loading a program (rt_launch, execve): the limit is lifted before
 * and set after, counting from what the runtime and the program hold. */
void rt_heap_before_load(void);
void rt_heap_after_load(void);
/* After a memory call nr failed with ENOMEM asking for len more bytes:
 * tells the user once when the request went past the heap. */
void rt_heap_note_enomem(long nr, unsigned long len);
/* getrlimit, setrlimit, prlimit64 and sysinfo: 1 when handled (result in
 * *ret), 0 to pass the call on. */
int rt_heap_dispatch(long nr, const long *a, long *ret);
#endif
