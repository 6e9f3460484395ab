/* The async syscall transport (SCONE's asynchronous system calls).
 *
 * Enclave (application) threads put a call into a shared-memory slot and
 * wait; host worker threads started by the runtime (outside Syscall User
 * Dispatch, all signals blocked, own stacks in the runtime region) execute
 * it from the runtime's exempt text and post the result. Calls that must run
 * on the calling thread (thread identity and context) or that may block are
 * executed by the calling thread through the sync path (with its simulated
 * exit cost). See async.c and docs/runtime.md (Transport) for the policy and
 * the cost model. */
#ifndef SCONE_ASYNC_H
#define SCONE_ASYNC_H
#include <stdint.h>

/* The transport's table (transport.h). init starts the workers
 * (SCONE_ASYNC_WORKERS, default min(cpus, 4)); in a forked child no worker
 * exists, they are restarted lazily at the first async call (calls made
 * meanwhile go sync). */
extern const struct transport async_transport;
/* Whether the calling thread must execute nr itself (or it may block). */
int async_must_be_sync(long nr, const long *a);
/* A signal on the thread whose block is block: 1 when that is a worker
 * (RT_SIG_REQ cancels the posted call it executes: transport.h). */
int async_worker_signal(const void *block, void *uc);
#endif
