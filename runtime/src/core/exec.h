/* execve inside the process (exec.c): the new program is loaded through the
 * shields into the same enclave; the runtime stays. */
#ifndef SCONE_EXEC_H
#define SCONE_EXEC_H
#include "ksig.h"
#include "thread.h"

/* execveat(dirfd, path, argv, envp, flags): the path is made absolute from
 * the descriptors' paths (AT_EMPTY_PATH: dirfd itself, fexecve) as the FS
 * shield names them in /proc/self/fd, then it is rt_do_execve's. */
long rt_do_execveat(struct rt_thread *t, struct kucontext *uc, int dirfd, const char *upath, char *const *uargv,
		    char *const *uenvp, long flags);
long rt_do_execve(struct rt_thread *t, struct kucontext *uc, const char *path, char *const *argv, char *const *envp);
/* The main thread t takes over the execve another thread prepared
 * (RT_REQ_EXEC, thread.h) at a safe point with its registers in uc: once
 * the other thread has exited, the new program replaces the old one and
 * uc enters it. Nothing happens for a late copy of the request. */
void rt_exec_take_over(struct rt_thread *t, struct kucontext *uc);
/* Closes close-on-exec descriptors through the shields. */
void rt_close_on_exec(void);
/* argv[0] as execvp finds it: itself when it contains '/', else the first
 * executable PATH entry (PATH from envp) through the shields; NULL if none. */
const char *rt_resolve_command(const char *argv0, char **envp);
#endif
