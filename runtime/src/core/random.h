/* Randomness from inside the enclave: the CPU's RDSEED (or RDRAND) seeds an
 * AES-CTR DRBG (BearSSL's AESCTR_DRBG, AES-NI when present) that the
 * runtime owns. Nothing the host controls enters it: the application's
 * getrandom, /dev/urandom and /dev/random, AT_RANDOM and the load address
 * (ASLR) of its programs all come from here, as in SCONE. A CPU without
 * RDRAND cannot run the runtime (every SGX CPU has it). */
#ifndef SCONE_RANDOM_H
#define SCONE_RANDOM_H
#include <stddef.h>

/* Seeds the generator; fatal when the CPU has no working RDRAND/RDSEED.
 * Called once at start-up, before anything needs randomness. */
void rt_random_init(void);
/* Fills buf with len random bytes. Safe on any thread, inside the SIGSYS
 * handler. */
void rt_random(void *buf, size_t len);
/* In a forked child: reseed, so that parent and child never share a stream. */
void rt_random_fork_child(void);
#endif
