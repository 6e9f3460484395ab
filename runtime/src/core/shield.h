/* The shields: the subsystems that serve the application's system calls
 * (file system, console, network), as one ops table each, like the
 * kernel's file_operations. The core knows no shield by name: a shield
 * registers its table with RT_SHIELD (a pointer in the rt_shields linker
 * section), so the build selects the shields by linking them, and the core
 * calls every registered table in `order` (shields.c).
 *
 * Calls: the trap decodes a trapped system call into a struct sys_call and
 * offers it to the shields in order. A shield either handles the call
 * completely (SHIELD_DONE, result in *ret, a negative errno on failure) or
 * passes it on (SHIELD_PASS). Calls no shield handles go to the host through
 * the syscall transport (transport.h: host_syscall). The loader and the
 * runtime itself open and map the application's files through shield_call(),
 * the same path a trapped call takes, so the loader never needs to know where
 * a file lives.
 *
 * Shields never call each other. What one must tell the others goes through
 * the core: a descriptor that now means something else (rt_fd_gone,
 * rt_fd_dup), a diagnostic line (rt_diag).
 *
 * Calling context (trap.c): a shield runs on the calling thread's runtime
 * signal stack (256 KiB, thread.h), with FS pointing at the runtime's
 * per-thread block (stack-protector canary and errno for BearSSL), all
 * signals blocked except around calls that may block (rt_syscall_may_block),
 * and possibly on many threads at once. Calls the runtime core emulates
 * itself never reach the shields: rt_sigaction, rt_sigprocmask, sigaltstack,
 * clone/clone3/fork/vfork/execve/exit, arch_prctl(ARCH_SET_FS/GET_FS), brk,
 * getrandom, readlink(at) of /proc/self/exe. mmap/munmap/mprotect/mremap/
 * madvise reach the shields after the runtime checked they do not touch its
 * memory. To allocate address space inside the runtime's protected range,
 * use rt_region_alloc / rt_region_map_file (region.h). */
#ifndef SCONE_SHIELD_H
#define SCONE_SHIELD_H

#include <stddef.h>
#include <stdint.h>

struct sys_call {
	long nr;
	long a[6];
};

enum { SHIELD_PASS = 0, SHIELD_DONE = 1 };

/* Ends a shield's handler: the call is served with result v. */
static inline int shield_done(long *ret, long v)
{
	*ret = v;
	return SHIELD_DONE;
}

struct fsp;
struct econfig;
struct casmsg_file;
struct casmsg_volume_key;
struct casmsg_volume_fresh;

/* Gramine's /dev/attestation pseudo-files (docs/attestation.md), served
 * by the attest subsystem (attest/devattest.c) and handed to the FS shield
 * through the core (struct shield_env.attestation). */
struct rt_attestation {
	/* The content of file which (FSV_ATT_* of fsv.h) into buf (cap
	 * bytes): its length, or a negative errno. */
	long (*read)(int which, uint8_t *buf, size_t cap);
	/* The 64 bytes written to user_report_data: 0 or a negative errno. */
	int (*set_report_data)(const uint8_t data[64]);
};

/* What the shields get at start-up in sim mode, after the software EINIT
 * verified the enclave (einit.c). */
/* The CAS's record of the protected volumes' states (docs/volume.md,
 * "Freshness"), which the volume shield checks at start and keeps current.
 * The calls are thread-safe and may block (network round trips, retries
 * with back-off). */
enum { VOLF_OK = 0, VOLF_ROLLBACK = 1, VOLF_FAILED = 2 };
struct volf_error {
	int code;      /* exit code (docs/exit-codes.md) if this ends the runtime */
	char msg[640]; /* what went wrong and how to fix it */
};
struct vol_freshness_ops {
	/* The recorded state of the volume at path: VOLF_OK with *v (0: none)
	 * and root, or VOLF_FAILED. */
	int (*get)(void *ctx, const char *path, uint64_t *v, uint8_t root[32], struct volf_error *err);
	/* Records (v, root): VOLF_OK (also when a later state is recorded
	 * already), VOLF_ROLLBACK with the recorded state in *rv and rroot, or
	 * VOLF_FAILED. reinit: even below the recorded state (allow_reinit). */
	int (*record)(void *ctx, const char *path, int reinit, uint64_t v, const uint8_t root[32], uint64_t *rv,
		      uint8_t rroot[32], struct volf_error *err);
	/* In a forked child (one thread, before any call): drops the copy of
	 * the parent's connection, without a word on it (the parent's
	 * session goes on); the next call opens the child's own. */
	void (*forked)(void *ctx);
};
struct vol_freshness {
	const struct vol_freshness_ops *ops;
	void *ctx;
	const struct casmsg_volume_fresh *vols; /* the volumes the policy tracks */
	size_t nvols;
};

struct shield_env {
	const struct fsp *fs;	   /* the authenticated protected FS image */
	const struct econfig *cfg; /* the verified, measured config */
	const uint8_t *fs_key;	   /* 32 bytes; wiped after the shields' init */
	const uint8_t *mrenclave;  /* 32 bytes: the enclave's measurement */
	/* What the CAS policy grants (docs/cas.md; none without a CAS):
	 * files to place into the in-enclave file system before the program
	 * runs (casmsg.h; wiped after the shields' init), and the keys of
	 * protected volumes, which stay in enclave memory for the volume
	 * shield (src/vol: a granted key takes precedence over the one derived
	 * from the FS key). */
	const struct casmsg_file *files;
	size_t nfiles;
	const struct casmsg_volume_key *volume_keys;
	size_t nvolume_keys;
	/* The volume state the CAS records; NULL without a CAS or when its
	 * policy tracks no volume. Lives as long as the process. */
	const struct vol_freshness *freshness;
	/* /dev/attestation; NULL: not served */
	const struct rt_attestation *attestation;
	/* A TLS certificate chain and its private key (PEM) handed in at
	 * start-up, e.g. issued by the CAS policy; NULL without. The network
	 * shield serves its TLS ports with them instead of the config's
	 * certificate and key paths. The caller wipes them after the shields'
	 * init. */
	const uint8_t *tls_cert_pem, *tls_key_pem;
	size_t tls_cert_pem_len, tls_key_pem_len;
};

/* A program starts (launch or execve): its path inside the image and where
 * its argument and environment strings are, as the kernel records them for
 * /proc/self/cmdline and /proc/self/environ. */
struct rt_program {
	const char *exe;
	const char *arg_start, *arg_end, *env_start, *env_end;
};

struct shield_ops {
	const char *name;
	int order; /* lower sees calls first */
	/* Sim mode start-up: 0 or a negative errno (start-up then fails). */
	int (*init)(const struct shield_env *env);
	/* A trapped call: SHIELD_DONE with *ret, or SHIELD_PASS. */
	int (*call)(const struct sys_call *c, long *ret);
	/* Optional: 0 when call passes everything (the shield did not start or
	 * has nothing to guard), asked once after the shields started; the
	 * core then leaves the shield out of the calls' path. NULL: active. */
	int (*active)(void);
	/* fork (fork.c), pthread_atfork style: prepare takes the shield's locks
	 * in the parent, parent(pid) and child release them; pid is the
	 * child's, or a negative errno when the fork failed. */
	void (*fork_prepare)(void);
	void (*fork_parent)(long pid);
	void (*fork_child)(void);
	/* A program starts. */
	void (*program)(const struct rt_program *p);
	/* Another shield made fd mean something else (closed it, or put a
	 * descriptor of its own there): drop any state for fd. */
	void (*fd_gone)(int fd);
	/* Another shield (or the core) made newfd a duplicate of oldfd. */
	void (*fd_dup)(int oldfd, int newfd);
	/* Whether the shield holds state for fd. */
	int (*owns_fd)(int fd);
	/* Whether code may be loaded from fd: 1 yes (a file the shield
	 * vouches for), 0 no, -1 no opinion (the shield serves no files). */
	int (*code_fd)(int fd);
	/* Writes a diagnostic line for the operator: 1 when written. */
	int (*diag)(const char *msg, size_t len);
	/* A call that another shield resolved to a host path (absolute, dirfd
	 * AT_FDCWD) and is about to hand to the host (shield_host_path_call):
	 * SHIELD_DONE to serve it instead (protected volumes), or SHIELD_PASS. */
	int (*host_path)(const struct sys_call *c, long *ret);
};

/* Registers a shield's table (in the rt_shields section). */
#define RT_SHIELD(ops)                                            \
	static const struct shield_ops *const rt_shield_reg_##ops \
		__attribute__((used, section("rt_shields"), aligned(sizeof(void *)))) = &(ops)

/* ---- the core's side (shields.c) ---- */

/* Sorts the registered tables; once, at start-up (main.c). */
void rt_shields_setup(void);
/* The registered shield named name, or NULL. */
const struct shield_ops *rt_shield_find(const char *name);
/* Calls every shield's init; 0 or the first negative errno. */
int rt_shields_init(const struct shield_env *env);
void rt_shields_fork_prepare(void);
void rt_shields_fork_parent(long pid);
void rt_shields_fork_child(void);
/* A program starts: tells the core (/proc/self/exe) and every shield. */
void rt_program_started(const struct rt_program *p);
/* The running program's path inside the image (for /proc/self/exe); NULL
 * before the first program starts. */
extern const char *rt_app_exe;

/* Runs a call through the shields and then the transport; returns the
 * result (negative errno on failure). */
long shield_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
/* The application's own call (trap.c): as shield_call, but when no shield
 * serves it and cp is not NULL (a call that may block), the host call is
 * cancelled by a signal queued for the thread before it starts
 * (host_syscall_cp; cp = the thread's count of queued signals). */
long shield_call_app(const volatile unsigned *cp, long nr, long a0, long a1, long a2, long a3, long a4, long a5);
/* A shield serving the application's own blocking call on a host
 * descriptor (e.g. recvmsg, to look at what it received) makes the host
 * call with this: a signal queued for the calling thread before the call
 * starts cancels it, as for calls no shield serves. */
long shield_app_host_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
/* A wait of the application's for a word of shared memory (futex, not
 * process-private), as its own blocking call: until *word differs from
 * val, ns nanoseconds pass or a signal comes (-EINTR); else 0. */
long shield_app_wait(volatile uint32_t *word, uint32_t val, long ns);

/* A call with resolved host paths that shield `by` would hand to the host:
 * offered to the other shields' host_path first, then to the host. The FS
 * shield resolves paths (cwd, dirfds, symlinks, "..") and sends every
 * path that reaches a mount point through here, so a shield that owns
 * such a path (a protected volume) sees it whatever its spelling. */
long shield_host_path_call(const struct shield_ops *by, long nr, long a0, long a1, long a2, long a3, long a4, long a5);

/* A shield's notices to the others (never to itself). Lock order: sent,
 * like shield_host_path_call, with no lock of the shared state held (the
 * receiver takes its own; a fork takes them all in the shields' order):
 * the core says so as an internal error otherwise (shields.c). */
void rt_fd_gone(const struct shield_ops *by, int fd);
void rt_fd_dup(const struct shield_ops *by, int oldfd, int newfd);
/* Whether a shield other than except (NULL: any) holds state for fd. */
int rt_shields_own_fd_except(const struct shield_ops *except, int fd);
static inline int rt_shields_own_fd(int fd) { return rt_shields_own_fd_except(NULL, fd); }
/* Whether code may be loaded, executed or mapped executable from fd: a
 * file of the protected image or of the in-enclave file system, never a
 * host file (a volume, /dev/shm, a memfd). Always when no shield serves
 * files (dev mode). */
int rt_code_fd_ok(int fd);
/* A diagnostic line for the operator: through a shield that writes them
 * (the console shield, as records), else plain on stderr. */
void rt_diag(const char *msg, size_t len);

/* User pointer plausibility (non-NULL, no wrap, below the user-space end). */
static inline int rt_user_ok(const void *p, size_t len)
{
	unsigned long a = (unsigned long)p;
	return p && a + len >= a && a + len <= 0x800000000000UL;
}

#endif
