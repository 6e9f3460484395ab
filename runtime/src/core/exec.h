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
/* Closes close-on-exec descriptors through the shields. */
void rt_close_on_exec(void);
/* argv[0] as execvp finds it: itself when it contains '/', else the first
 * executable PATH entry (PATH from envp) through the shields; NULL if none. */
const char *rt_resolve_command(const char *argv0, char **envp);
#endif
