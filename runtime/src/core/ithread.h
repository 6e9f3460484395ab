/* Runtime-internal threads: threads of the runtime that run no application
 * code (the volume shield's state recorder). Each owns a block of
 * RT_TBLOCK_SIZE bytes from the runtime region, which is its stack and its
 * thread pointer (FS and GS: the canary the runtime's code checks, its
 * errno, its thread id for rt_task_self). It
 * starts with every signal blocked (signals are the application's), is not
 * counted among the application's threads, and is gone in a forked child
 * and after execve, like any thread but the caller.
 *
 * The async transport's workers (transport/async.c) are threads of the same
 * kind with their own loop. */
#ifndef SCONE_ITHREAD_H
#define SCONE_ITHREAD_H

/* Starts fn(arg) on a new internal thread; it exits when fn returns. Its
 * thread id, or a negative errno. */
long rt_ithread_start(void (*fn)(void *arg), void *arg);

#endif
