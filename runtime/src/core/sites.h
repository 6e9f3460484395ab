/* Where trapped system calls come from (SCONE_STATS=1): the kind of code
 * each trapping `syscall` instruction lies in.
 *
 * Code reaches the trap from four kinds of places (docs/rewrite.md):
 *  - a stub of a rewritten file: its own `syscall`, when the slot is empty
 *    or the fast entry sent the call on (signals, clone, execve, ...);
 *  - a site the rewriter left in a rewritten file (no 5-byte window, a
 *    jump table in its function, bytes it could not decode);
 *  - a file that was not rewritten (convert --no-rewrite, a file the
 *    rewriter refused);
 *  - memory no file was mapped to: code generated at run time (a JIT, a
 *    trampoline), or mapped by a way the runtime does not see (shmat).
 * The runtime records the first three as code is mapped (the loader for
 * the program and its interpreter, the mmap of a library's segments) and
 * forgets them when the range is unmapped or mapped over; what is in none
 * of them is the fourth. Kept only with SCONE_STATS=1: reading a library's
 * program headers at each of its executable mappings costs host calls. */
#ifndef SCONE_SITES_H
#define SCONE_SITES_H
#include <stdint.h>

enum rt_site_kind {
	RT_SITE_STUB,  /* a stub of a rewritten file */
	RT_SITE_LEFT,  /* a rewritten file's code outside its stubs: a site left */
	RT_SITE_PLAIN, /* a file that was not rewritten */
	RT_SITE_OTHER, /* no file's code: generated at run time */
	RT_SITE_KINDS
};

/* Whether sites are kept (SCONE_STATS=1): set once at start-up. */
extern int rt_sites_on;
/* [lo, hi) is code of kind (STUB, LEFT or PLAIN) from now on. */
void rt_sites_code(uint64_t lo, uint64_t hi, enum rt_site_kind kind);
/* [lo, hi) was unmapped, or mapped over: no file's code any more. */
void rt_sites_forget(uint64_t lo, uint64_t hi);
/* The kind of the code at pc. */
enum rt_site_kind rt_sites_kind(uint64_t pc);
/* execve: the old program's code is gone. */
void rt_sites_reset(void);
/* The kinds' names in the statistics line. */
extern const char *const rt_site_kind_names[RT_SITE_KINDS];
#endif
