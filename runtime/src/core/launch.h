/* What to run and how: filled by the mode (dev: command line; sim: the
 * verified enclave config), consumed by rt_launch (exec.c). */
#ifndef SCONE_LAUNCH_H
#define SCONE_LAUNCH_H

struct rt_launch {
	const char *path;  /* program to load (absolute) */
	char **argv;	   /* NULL-terminated */
	char **envp;	   /* NULL-terminated */
	const char *cwd;   /* NULL: keep */
	int resolve_argv0; /* run argv[0] as execvp would find it (PATH lookup), path as fallback */
	/* NULL, or the program that must run in the end (after the PATH lookup
	 * and any #! scripts): the measured entrypoint in sim mode. */
	const char *require_program;
	unsigned long uid, gid;
	unsigned long *host_auxv; /* the kernel's auxv for scone-run */
	char *stack_top;	  /* where the application's initial stack goes */
};

/* sim mode (einit.c): verifies the enclave (sim EINIT), starts the
 * transport the config names (env_exit_cycles >= 0: SCONE_SIM_EXIT_CYCLES
 * overrides its simulated exit cost, which only costs time), opens the
 * protected FS, initialises the shields and fills L from the measured
 * config. Exits with a message on any failure. */
void rt_sim_start(struct rt_launch *L, int host_argc, char **host_argv, long env_exit_cycles);

/* Prepares L->path like execve (#! scripts, ELF with PT_INTERP) through the
 * shields: loads it and builds the initial stack; *entry and *sp are where
 * the program starts (main.c installs the trap and jumps there). */
void rt_launch(struct rt_launch *L, unsigned long *entry, unsigned long *sp);

/* NULL-terminated copy of envp without SCONE_* variables (rt_malloc'd). */
char **rt_env_without_scone(char **envp);
#endif
