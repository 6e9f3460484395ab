/* Program execution: the initial launch (launch.h) and the in-process
 * emulation of execve.
 *
 * Both follow the kernel's execve: a file starting with "#!" runs its
 * interpreter with argv = [interpreter, optional argument, path, argv[1..]]
 * (up to 4 nested scripts, binfmt_script), an ELF runs with its PT_INTERP.
 * Every file is opened and mapped through the shields.
 *
 * execve inside the enclave cannot start a new process (that would leave
 * the enclave). It replaces the program in the same process instead: after
 * the new program has been checked (it exists, is executable, is a script or
 * a loadable x86-64 ELF whose interpreter exists) the old program's memory is
 * unmapped, close-on-exec descriptors are closed, caught signals are reset
 * to SIG_DFL, the application's sigaltstack and rseq registration are
 * dropped, and the new program is loaded and entered with a fresh stack and
 * clean registers and FPU state. The signal mask, pending signals, ids, cwd,
 * and other descriptors are kept, as the kernel does. Only a single-threaded
 * process may execve (the kernel would kill the other threads; the runtime
 * refuses with ENOSYS). */
#include "launch.h"
#include "loader.h"
#include "random.h"
#include "fdtab.h"
#include "transport.h"
#include "vma.h"
#include "region.h"
#include "shield.h"
#include "thread.h"
#include "exec.h"
#include "sites.h"
#include "stubmap.h"
#include "ids.h"
#include "mem.h"
#include "heap.h"
#include "rtsignal.h"
#include "rtsched.h"
#include "rt_alloc.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

#define MAX_SCRIPT_DEPTH 4
#define ARG_MAX_BYTES (2UL << 20)

static unsigned long *exec_host_auxv;
static char *exec_stack_top;

/* vDSO policy: AT_SYSINFO_EHDR is passed to the application, so
 * clock_gettime/gettimeofday/time/getcpu run from the host's vDSO without a
 * trap. Time is host-controlled either way (SGX enclaves also take time from
 * the untrusted host); SCONE_VDSO=0 hides it (every time call then traps). */
static int vdso_passed = 1;

struct exec_plan {
	char *path;			  /* the ELF that runs */
	char **argv;			  /* rt_malloc'd vector; strings owned by the caller or by strs */
	char *strs[MAX_SCRIPT_DEPTH * 2]; /* interpreter strings from #! lines */
};

static void plan_free(struct exec_plan *p)
{
	rt_free(p->argv);
	for (unsigned i = 0; i < sizeof p->strs / sizeof p->strs[0]; i++)
		rt_free(p->strs[i]);
	memset(p, 0, sizeof *p);
}

static char *strdup_rt(const char *s, size_t n)
{
	char *d = rt_malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

static size_t vlen(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

/* Parses a "#!" line like fs/binfmt_script.c. 0, or -ENOEXEC. */
static int parse_shebang(const char *buf, size_t n, char **interp, char **arg)
{
	size_t end = 2;
	while (end < n && buf[end] != '\n')
		end++;
	if (end == n && n == 256) /* line longer than the kernel's buffer */
		return -RT_ENOEXEC;
	size_t i = 2;
	while (i < end && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	size_t is = i;
	while (i < end && buf[i] != ' ' && buf[i] != '\t')
		i++;
	if (i == is)
		return -RT_ENOEXEC;
	*interp = strdup_rt(buf + is, i - is);
	while (i < end && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	size_t ae = end;
	while (ae > i && (buf[ae - 1] == ' ' || buf[ae - 1] == '\t' || buf[ae - 1] == '\r'))
		ae--;
	*arg = ae > i ? strdup_rt(buf + i, ae - i) : 0;
	return *interp ? 0 : -RT_ENOMEM;
}

/* Reads the first bytes of path through the shields. A host file (a volume,
 * /dev/shm) is refused with EACCES: code from the host never runs inside
 * the enclave, whether a program, an interpreter or a #! script. */
static long read_head(const char *path, char *buf, size_t n)
{
	long fd = shield_call(__NR_openat, RT_AT_FDCWD, (long)path, RT_O_RDONLY | RT_O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return fd;
	if (!rt_code_fd_ok((int)fd)) {
		shield_call(__NR_close, fd, 0, 0, 0, 0, 0);
		return -RT_EACCES;
	}
	long r = shield_call(__NR_pread64, fd, (long)buf, (long)n, 0, 0, 0);
	shield_call(__NR_close, fd, 0, 0, 0, 0, 0);
	if (r > (long)n)
		r = -RT_EIO;
	return r;
}

/* The interpreter of an ELF, checked to exist (before the point of no return). */
static int check_interp(const char *path, char *err, size_t errlen)
{
	char head[64];
	long n = read_head(path, head, sizeof head);
	if (n < 0) {
		rt_snprintf(err, errlen, "cannot open the program interpreter %s: error %ld", path, -n);
		return (int)n;
	}
	if (n < 4 || memcmp(head, "\177ELF", 4)) {
		rt_snprintf(err, errlen, "program interpreter %s is not an ELF file", path);
		return -RT_ENOEXEC;
	}
	return 0;
}

/* Resolves the script chain of path and checks that the final ELF (and its
 * interpreter) can be loaded, without changing anything. */
static int exec_prepare(const char *path, char *const *argv, struct exec_plan *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof *p);
	size_t argc = vlen(argv);
	p->argv = rt_calloc(argc + 1, sizeof *p->argv);
	if (!p->argv)
		return -RT_ENOMEM;
	for (size_t i = 0; i < argc; i++)
		p->argv[i] = argv[i];
	const char *cur = path;
	for (int depth = 0;; depth++) {
		long ax = shield_call(__NR_faccessat, RT_AT_FDCWD, (long)cur, 1 /* X_OK */, 0, 0, 0);
		if (ax == -13 /* EACCES */ || ax == -RT_ENOENT || ax == -20 /* ENOTDIR */) {
			rt_snprintf(err, errlen, "%s: %s", cur, ax == -13 ? "not executable" : "not found");
			return (int)ax;
		}
		char head[256];
		long n = read_head(cur, head, sizeof head);
		if (n == -RT_EACCES) {
			rt_snprintf(err, errlen,
				    "%s is a host file, not a file of the protected image: code from the host "
				    "never runs inside the enclave",
				    cur);
			return (int)n;
		}
		if (n < 0) {
			rt_snprintf(err, errlen, "cannot open %s: error %ld", cur, -n);
			return (int)n;
		}
		if (n >= 2 && head[0] == '#' && head[1] == '!') {
			if (depth == MAX_SCRIPT_DEPTH) {
				rt_snprintf(err, errlen, "%s: too many nested #! interpreters", path);
				return -40; /* ELOOP */
			}
			char *interp = 0, *arg = 0;
			int r = parse_shebang(head, (size_t)n, &interp, &arg);
			if (r) {
				rt_snprintf(err, errlen, "%s: malformed #! line", cur);
				return r;
			}
			p->strs[2 * depth] = interp;
			p->strs[2 * depth + 1] = arg;
			size_t k = vlen(p->argv);
			char **nv = rt_calloc(k + 3, sizeof *nv);
			if (!nv)
				return -RT_ENOMEM;
			size_t j = 0;
			nv[j++] = interp;
			if (arg)
				nv[j++] = arg;
			nv[j++] = (char *)cur;
			for (size_t i = 1; i < k; i++)
				nv[j++] = p->argv[i];
			nv[j] = 0;
			rt_free(p->argv);
			p->argv = nv;
			cur = interp;
			continue;
		}
		if (n < 4 || memcmp(head, "\177ELF", 4)) {
			rt_snprintf(err, errlen, "%s: not an x86-64 ELF executable or #! script", cur);
			return -RT_ENOEXEC;
		}
		char interp[256];
		int r = rt_elf_peek(cur, interp, sizeof interp, err, errlen);
		if (r)
			return r;
		if (interp[0] && (r = check_interp(interp, err, errlen)))
			return r;
		p->path = (char *)cur;
		return 0;
	}
}

/* Loads the plan's program and interpreter and builds the initial stack.
 * Returns the entry point and stack pointer, or exits on failure. */
/* The program's path as the kernel shows it in /proc/self/exe: every
 * symbolic link resolved (through the shields: the enclave's files), so
 * that ld.so's $ORIGIN is the directory the program really is in (Debian's
 * /usr/bin/java is a link, via /etc/alternatives, to the JDK's bin/java,
 * whose RUNPATH $ORIGIN/../lib finds libjli.so). abs is absolute. NULL
 * when that fails: the caller keeps abs. */
static char *resolve_links(const char *abs)
{
	char *cur = rt_malloc(RT_PATH_MAX), *rest = rt_malloc(RT_PATH_MAX), *link = rt_malloc(RT_PATH_MAX);
	char *ok = NULL;
	size_t cl = 0, rl = strlen(abs);
	if (!cur || !rest || !link || abs[0] != '/' || rl >= RT_PATH_MAX)
		goto out;
	memcpy(rest, abs, rl + 1);
	for (int hops = 0; rest[0];) {
		const char *c = rest;
		while (*c == '/')
			c++;
		const char *e = c;
		while (*e && *e != '/')
			e++;
		size_t n = (size_t)(e - c);
		if (!n)
			break;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			while (cl > 0 && cur[cl - 1] != '/')
				cl--;
			if (cl > 0)
				cl--;
		} else if (!(n == 1 && c[0] == '.')) {
			if (cl + 1 + n >= RT_PATH_MAX)
				goto out;
			cur[cl++] = '/';
			memcpy(cur + cl, c, n);
			cl += n;
			cur[cl] = 0;
			long k = shield_call(__NR_readlink, (long)cur, (long)link, RT_PATH_MAX - 1, 0, 0, 0);
			if (k >= 0) {
				size_t left = strlen(e);
				if (++hops > 40 || (size_t)k + left >= RT_PATH_MAX)
					goto out;
				/* the link's target, then what was left */
				memmove(rest + k, e, left + 1);
				memcpy(rest, link, (size_t)k);
				if (link[0] == '/')
					cl = 0;
				else
					while (cl > 0 && cur[--cl] != '/')
						;
				continue;
			}
			if (k != -RT_EINVAL)
				goto out; /* gone, or unreadable: keep the path as it is */
		}
		memmove(rest, e, strlen(e) + 1);
	}
	if (!cl)
		cur[cl++] = '/';
	cur[cl] = 0;
	ok = cur;
	cur = NULL;
out:
	rt_free(cur);
	rt_free(rest);
	rt_free(link);
	return ok;
}

/* The thread's name (comm) as the kernel sets it at execve: the last
 * component of the file name given, at most 15 bytes. Else every converted
 * program would be named after the runtime ("scone-run") in
 * /proc/PID/comm, top, and its own PR_GET_NAME. */
static void set_comm(const char *execfn)
{
	const char *b = execfn;
	for (const char *q = execfn; *q; q++)
		if (*q == '/')
			b = q + 1;
	char name[16];
	size_t n = 0;
	while (n < sizeof name - 1 && b[n]) {
		name[n] = b[n];
		n++;
	}
	name[n] = 0;
	host_syscall(__NR_prctl, 15 /* PR_SET_NAME */, (long)name, 0, 0, 0, 0);
	rt_sched_comm(name); /* the mn scheduler keeps it per ULT */
}

static void load_and_stack(struct exec_plan *p, const char *execfn, char **envp, unsigned long uid, unsigned long gid,
			   unsigned long *entry_out, unsigned long *sp_out)
{
	struct rt_image prog, interp;
	char err[512];
	unsigned long rnd = 0;
	rt_random(&rnd, sizeof rnd);
	rt_heap_before_load();
	/* like the kernel: ELF_ET_DYN_BASE + up to 2^28 random pages */
	int r = rt_load_elf(p->path, &prog, RT_ET_DYN_BASE + ((rnd & ((1UL << 28) - 1)) << 12), err, sizeof err);
	if (r)
		rt_fatal(r == -RT_ENOENT ? RT_EX_NOINPUT : RT_EX_NOEXEC, "cannot load the program: %s", err);
	unsigned long entry = prog.entry, base = 0;
	if (prog.interp[0]) {
		r = rt_load_elf(prog.interp, &interp, 0, err, sizeof err);
		if (r)
			rt_fatal(r == -RT_ENOENT ? RT_EX_NOINPUT : RT_EX_NOEXEC,
				 "cannot load the program interpreter: %s", err);
		entry = interp.entry;
		base = interp.bias;
	}
	rt_mem_set_brk(prog.end);
	if (execfn)
		set_comm(execfn);

	struct rt_stack_params sp = {0};
	sp.argv = p->argv;
	sp.envp = envp;
	sp.host_auxv = exec_host_auxv;
	sp.pass_vdso = vdso_passed;
	sp.phdr = prog.phdr;
	sp.phent = prog.phent;
	sp.phnum = prog.phnum;
	sp.entry = prog.entry;
	sp.base = base;
	sp.uid = uid;
	sp.gid = gid;
	sp.execfn = execfn;
	rt_random(sp.random, sizeof sp.random); /* AT_RANDOM: the CPU's, not the host's */
	unsigned long s = rt_build_stack(exec_stack_top, exec_stack_top - (4UL << 20), &sp);
	if (!s)
		rt_fatal(RT_EX_USAGE, "arguments and environment do not fit in 4 MiB");
	static char *exe; /* the running program's, for /proc/self/exe */
	char *resolved = p->path[0] == '/' ? resolve_links(p->path) : NULL;
	if (resolved) {
		rt_free(exe);
		exe = resolved;
	}
	struct rt_program prog_info = {resolved ? resolved : p->path, sp.arg_start, sp.arg_end, sp.env_start,
				       sp.env_end};
	rt_program_started(&prog_info);
	rt_heap_after_load();
	*entry_out = entry;
	*sp_out = s;
}

/* PATH lookup of a command name (no '/') through the shields, like execvp. */
static const char *path_lookup(const char *name, char **envp)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (char **e = envp; e && *e; e++)
		if (!rt_strncmp(*e, "PATH=", 5))
			path = *e + 5;
	size_t nl = strlen(name);
	for (const char *d = path; *d;) {
		const char *c = d;
		while (*c && *c != ':')
			c++;
		size_t dl = (size_t)(c - d);
		char *cand = rt_malloc(dl + nl + 3);
		if (!cand)
			return 0;
		if (dl) {
			memcpy(cand, d, dl);
			cand[dl] = '/';
			memcpy(cand + dl + 1, name, nl + 1);
		} else {
			memcpy(cand, name, nl + 1);
		}
		if (!shield_call(__NR_faccessat, RT_AT_FDCWD, (long)cand, 1 /* X_OK */, 0, 0, 0))
			return cand;
		rt_free(cand);
		d = *c ? c + 1 : c;
	}
	return 0;
}

const char *rt_resolve_command(const char *argv0, char **envp)
{
	if (!argv0 || !*argv0)
		return 0;
	for (const char *c = argv0; *c; c++)
		if (*c == '/')
			return argv0;
	return path_lookup(argv0, envp);
}

/* Whether two paths name the same file (symbolic links followed, as the
 * config's entrypoint has them resolved): same device and inode through
 * the shields. */
static int same_file(const char *a, const char *b)
{
	if (!rt_strcmp(a, b))
		return 1;
	unsigned long sa[18], sb[18]; /* struct stat (x86-64): st_dev at 0, st_ino at 8 */
	if (shield_call(__NR_newfstatat, RT_AT_FDCWD, (long)a, (long)sa, 0, 0, 0) ||
	    shield_call(__NR_newfstatat, RT_AT_FDCWD, (long)b, (long)sb, 0, 0, 0))
		return 0;
	return sa[0] == sb[0] && sa[1] == sb[1];
}

void rt_launch(struct rt_launch *L, unsigned long *entry, unsigned long *sp)
{
	const char *v = rt_getenv("SCONE_VDSO");
	vdso_passed = !(v && !rt_strcmp(v, "0"));
	exec_host_auxv = L->host_auxv;
	exec_stack_top = L->stack_top;

	/* What the runtime checks host answers against (iago.h): the open
	 * descriptors and the mappings as they are before the program. */
	rt_fdtab_init();
	transport_launched();
	size_t mlen;
	long merr = 0;
	char *maps = (char *)rt_read_host_file("/proc/thread-self/maps", 64u << 20, &mlen, &merr);
	if (!maps)
		rt_fatal(RT_EX_OSERR, "cannot read /proc/self/maps: error %ld", -merr);
	rt_vma_init(maps);
	rt_free(maps);

	if (L->cwd && *L->cwd) {
		long c = shield_call(__NR_chdir, (long)L->cwd, 0, 0, 0, 0, 0);
		if (c < 0)
			rt_fatal(RT_EX_CONFIG, "cannot change to the working directory %s: error %ld", L->cwd, -c);
	}
	if (L->resolve_argv0) {
		const char *found = rt_resolve_command(L->argv[0], L->envp);
		if (found)
			L->path = found;
	}
	struct exec_plan plan;
	char err[512];
	int r = exec_prepare(L->path, L->argv, &plan, err, sizeof err);
	if (r)
		rt_fatal(r == -RT_ENOENT ? RT_EX_NOINPUT : RT_EX_NOEXEC, "cannot run the program: %s", err);
	/* What runs is what was measured: argv[0] may name a script or a
	 * command found through PATH, but the ELF that runs in the end must be
	 * the config's entrypoint. */
	if (L->require_program && !same_file(plan.path, L->require_program))
		rt_fatal(RT_EX_CONFIG, "argv[0] %s runs %s, not the measured entrypoint %s: refusing to run it",
			 L->argv[0], plan.path, L->require_program);
	load_and_stack(&plan, L->path, L->envp, L->uid, L->gid, entry, sp);
}

/* ---- execve emulation ---- */

/* Deep copy of a NULL-terminated string vector from application memory. */
static char **strv_dup(char *const *v, size_t *total, long *err)
{
	size_t n = vlen(v);
	if (n > 100000) {
		*err = -7; /* E2BIG */
		return 0;
	}
	char **out = rt_calloc(n + 1, sizeof *out);
	if (!out) {
		*err = -RT_ENOMEM;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i]);
		*total += l + 1 + sizeof(char *);
		if (*total > ARG_MAX_BYTES || !(out[i] = strdup_rt(v[i], l))) {
			*err = *total > ARG_MAX_BYTES ? -7 : -RT_ENOMEM;
			for (size_t j = 0; j < i; j++)
				rt_free(out[j]);
			rt_free(out);
			return 0;
		}
	}
	return out;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		rt_free(v[i]);
	rt_free(v);
}

/* Unmaps every mapping of the old program: all but the runtime's range, the
 * kernel's [vdso]/[vvar]/[vsyscall] and the process [stack] (reused). */
static void unmap_old_program(void)
{
	size_t len;
	long err = 0;
	char *buf = (char *)rt_read_host_file("/proc/thread-self/maps", 64u << 20, &len, &err);
	if (!buf)
		rt_fatal(RT_EX_OSERR, "execve: cannot read /proc/self/maps: error %ld", -err);
	for (const char *l = buf; *l;) {
		const char *p = l;
		unsigned long lo = rt_parse_hexnum(&p);
		p++;
		unsigned long hi = rt_parse_hexnum(&p);
		const char *eol = p;
		while (*eol && *eol != '\n')
			eol++;
		const char *name = eol;
		while (name > p && name[-1] != ' ')
			name--;
		int keep = rt_region_overlaps(lo, hi - lo) || !rt_strncmp(name, "[stack]", 7) ||
			   !rt_strncmp(name, "[vdso]", 6) || !rt_strncmp(name, "[vvar", 5) ||
			   !rt_strncmp(name, "[vsyscall]", 10);
		if (!keep && hi > lo)
			shield_call(__NR_munmap, (long)lo, (long)(hi - lo), 0, 0, 0, 0);
		l = *eol ? eol + 1 : eol;
	}
	rt_free(buf);
}

/* Closes descriptors marked close-on-exec, through the shields so that a
 * shield's virtual descriptors are released too. The open descriptors are
 * the runtime's own table (fdtab.h), not a listing the host writes. */
void rt_close_on_exec(void)
{
	for (int fd = rt_fdtab_next(0); fd >= 0; fd = rt_fdtab_next(fd + 1)) {
		long fl = rt_sys2(__NR_fcntl, fd, 1 /* F_GETFD */);
		if (fl > 0 && (fl & 1 /* FD_CLOEXEC */))
			shield_call(__NR_close, fd, 0, 0, 0, 0, 0);
	}
	host_drop_spares(); /* the new program starts without them */
}

/* The program's path as /proc/self/exe gives it: absolute, as the kernel's
 * (execve("dir/prog") from "/" runs "/dir/prog"). A relative rel is joined
 * to the working directory (through the shields: the enclave's), ".", ".."
 * and repeated slashes resolved lexically; NULL when that fails (rel is
 * then used as is). */
static char *absolute_program(const char *rel)
{
	char *cwd = rt_malloc(RT_PATH_MAX);
	if (!cwd)
		return 0;
	long n = shield_call(__NR_getcwd, (long)cwd, RT_PATH_MAX, 0, 0, 0, 0);
	size_t cl = n > 0 && (size_t)n <= RT_PATH_MAX ? (size_t)n - 1 : 0, rl = strlen(rel);
	char *out = cl && cwd[0] == '/' && cl + 1 + rl < RT_PATH_MAX ? rt_malloc(cl + 2 + rl) : 0;
	if (out) {
		memcpy(out, cwd, cl);
		size_t o = cl > 1 ? cl : 0; /* "/" is the empty prefix */
		for (const char *c = rel; *c;) {
			while (*c == '/')
				c++;
			const char *e = c;
			while (*e && *e != '/')
				e++;
			if (e - c == 2 && c[0] == '.' && c[1] == '.') {
				while (o > 0 && out[o - 1] != '/')
					o--;
				if (o > 0)
					o--;
			} else if (e > c && !(e - c == 1 && c[0] == '.')) {
				out[o++] = '/';
				memcpy(out + o, c, (size_t)(e - c));
				o += (size_t)(e - c);
			}
			c = e;
		}
		if (!o)
			out[o++] = '/';
		out[o] = 0;
	}
	rt_free(cwd);
	return out;
}

/* An execve past its checks: what the point of no return needs. */
struct exec_job {
	struct exec_plan plan;
	char *path;
	char **envp;
};

/* Replaces the program (the point of no return): failures from here on end
 * the process, as the kernel's execve does. t is the only thread left. */
static void exec_finish(struct rt_thread *t, struct kucontext *uc, struct exec_job *j)
{
	/* rseq first: the kernel writes the registered area (in the old
	 * program's TLS) on every return to user space and kills the process
	 * with SIGSEGV if it is gone. */
	if (t->rseq_addr)
		rt_sys4(__NR_rseq, t->rseq_addr, t->rseq_len, 1 /* RSEQ_FLAG_UNREGISTER */, t->rseq_sig);
	t->rseq_addr = 0;
	rt_sched_drain_hostcalls(); /* no worker writes into the new program's memory */
	unmap_old_program();
	rt_sites_reset();
	rt_stubmap_reset();
	rt_close_on_exec();
	rt_signals_exec_reset(t);
	rt_sched_exec(t);
	unsigned long uid = (unsigned long)rt_sys0(__NR_getuid), gid = (unsigned long)rt_sys0(__NR_getgid);
	long v;
	if (rt_ids_dispatch(__NR_getuid, (long[6]){0}, &v))
		uid = (unsigned long)v;
	if (rt_ids_dispatch(__NR_getgid, (long[6]){0}, &v))
		gid = (unsigned long)v;
	unsigned long entry, sp;
	/* plan strings and path stay allocated: the new program uses them */
	load_and_stack(&j->plan, j->path, j->envp, uid, gid, &entry, &sp);

	unsigned long *g = uc->uc_mcontext.gregs;
	for (int i = 0; i <= KR_RIP; i++)
		g[i] = 0;
	g[KR_RIP] = entry;
	g[KR_RSP] = sp;
	g[KR_EFL] = 0x202;
	uc->uc_mcontext.fpregs = 0; /* the kernel resets the FPU state */
	t->app_fs = 0;
	t->app_gs = 0;
}

/* The execve a thread other than the main one prepared, for the main thread
 * to run (RT_REQ_EXEC); taken is set once it has. */
static struct {
	struct exec_job *job;
	int taken;
} handoff;

void rt_exec_take_over(struct rt_thread *t, struct kucontext *uc)
{
	struct exec_job *j = __atomic_load_n(&handoff.job, __ATOMIC_ACQUIRE);
	if (!j || __atomic_exchange_n(&handoff.taken, 1, __ATOMIC_ACQ_REL))
		return;			    /* a late copy of the request */
	while (rt_thread_others_alive(t)) { /* the thread that prepared it exits now */
		struct {
			long sec, nsec;
		} ts = {0, 100000};
		rt_sys2(__NR_nanosleep, &ts, 0);
	}
	__atomic_store_n(&handoff.job, 0, __ATOMIC_RELEASE);
	rt_thread_exec_done();
	exec_finish(t, uc, j);
	rt_free(j); /* its strings stay: the new program uses them */
}

static void exec_job_free(struct exec_job *j)
{
	plan_free(&j->plan);
	rt_free(j->path);
	strv_free(j->envp);
	rt_free(j);
}

/* The main thread, which lost a race with another thread's execve, waits
 * for that thread to hand it the new program (the winner exits the other
 * threads first: up to 10 s, rt_thread_exit_others) and runs it. */
static long exec_await_handoff(struct rt_thread *t, struct kucontext *uc)
{
	for (int round = 0; !__atomic_load_n(&handoff.job, __ATOMIC_ACQUIRE); round++) {
		if (round == 20000)
			rt_fatal(RT_EX_SOFTWARE, "execve: the thread that won a race of two execve calls did not "
						 "hand the new program over within 20 s");
		struct {
			long sec, nsec;
		} ts = {0, 1000000};
		rt_sys2(__NR_nanosleep, &ts, 0);
	}
	rt_exec_take_over(t, uc);
	return 0;
}

long rt_do_execve(struct rt_thread *t, struct kucontext *uc, const char *upath, char *const *uargv, char *const *uenvp)
{
	if (!upath)
		return -RT_EFAULT;
	size_t total = 0;
	long e = 0;
	struct exec_job *j = rt_malloc(sizeof *j);
	char *path = j ? strdup_rt(upath, strlen(upath)) : 0;
	char *const empty[] = {0};
	char **argv = path ? strv_dup(uargv ? uargv : empty, &total, &e) : 0;
	char **envp = argv ? strv_dup(uenvp ? uenvp : empty, &total, &e) : 0;
	if (!envp) {
		rt_free(j);
		rt_free(path);
		strv_free(argv);
		return e ? e : -RT_ENOMEM;
	}
	j->path = path;
	j->envp = envp;
	char err[512];
	int r = exec_prepare(path, argv, &j->plan, err, sizeof err);
	if (r) {
		exec_job_free(j);
		strv_free(argv);
		return r;
	}
	if (j->plan.path[0] != '/') {
		char *abs = absolute_program(j->plan.path);
		if (abs)
			j->plan.path = abs; /* the old string stays allocated, as the plan's do */
	}

	/* The program is found and loadable: as Linux's de_thread, the other
	 * threads go before anything of the old program is replaced, and the
	 * new program runs on the main thread (its thread id is the process
	 * id) when that is alive. No thread of the old program starts to run
	 * meanwhile (the mn scheduler's ULTs). */
	rt_sched_exec_begin();
	if (rt_thread_live() > 1) {
		struct rt_thread *leader = rt_thread_leader();
		if (leader == t)
			leader = 0;
		if (rt_thread_exit_others(t, leader)) {
			/* this main thread lost to another thread's execve: it
			 * runs that one, as Linux's de_thread moves the winner
			 * to the process id */
			exec_job_free(j);
			strv_free(argv);
			return exec_await_handoff(t, uc);
		}
		if (leader) {
			__atomic_store_n(&handoff.taken, 0, __ATOMIC_RELEASE);
			__atomic_store_n(&handoff.job, j, __ATOMIC_RELEASE);
			for (int round = 0; !__atomic_load_n(&handoff.taken, __ATOMIC_ACQUIRE); round++) {
				if (!__atomic_load_n(&leader->state, __ATOMIC_ACQUIRE))
					break; /* it exited meanwhile: this thread runs it */
				if (round == 10000)
					rt_fatal(RT_EX_SOFTWARE,
						 "execve: the main thread did not take over within 10 s");
				rt_thread_ask(leader, RT_REQ_EXEC);
				struct {
					long sec, nsec;
				} ts = {0, 1000000};
				rt_sys2(__NR_nanosleep, &ts, 0);
			}
			if (__atomic_exchange_n(&handoff.taken, 1, __ATOMIC_ACQ_REL))
				rt_thread_exit_requested_now(t); /* the main thread runs it */
			__atomic_store_n(&handoff.job, 0, __ATOMIC_RELEASE);
			rt_thread_exit_others(t, 0);
		}
	}
	rt_thread_exec_done();
	exec_finish(t, uc, j);
	rt_free(j); /* its strings stay: the new program uses them */
	return 0;
}

/* The path of descriptor fd as /proc/self/fd/N reads (the FS shield answers
 * for its virtual files with their path in the image). */
static long fd_path(int fd, char *out, size_t cap)
{
	char link[32];
	rt_snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	long n = shield_call(__NR_readlinkat, RT_AT_FDCWD, (long)link, (long)out, (long)cap - 1, 0, 0);
	if (n == -RT_ENOENT)
		return -RT_EBADF;
	if (n < 0)
		return n;
	if ((size_t)n >= cap - 1 || n == 0 || out[0] != '/')
		return n == 0 || out[0] != '/' ? -RT_ENOENT : -RT_ENAMETOOLONG; /* not a file: pipe:[..], socket:[..] */
	out[n] = 0;
	return n;
}

long rt_do_execveat(struct rt_thread *t, struct kucontext *uc, int dirfd, const char *upath, char *const *uargv,
		    char *const *uenvp, long flags)
{
	if (flags & ~(long)(RT_AT_EMPTY_PATH | RT_AT_SYMLINK_NOFOLLOW))
		return -RT_EINVAL;
	if (!upath || !rt_user_ok(upath, 1))
		return -RT_EFAULT;
	if (dirfd == RT_AT_FDCWD && upath[0] && !(flags & RT_AT_SYMLINK_NOFOLLOW))
		return rt_do_execve(t, uc, upath, uargv, uenvp);
	char *path = rt_malloc(RT_PATH_MAX);
	if (!path)
		return -RT_ENOMEM;
	long e = 0;
	size_t ul = strlen(upath);
	if (!upath[0]) { /* fexecve: the file dirfd is open on */
		if (!(flags & RT_AT_EMPTY_PATH))
			e = -RT_ENOENT;
		else
			e = fd_path(dirfd, path, RT_PATH_MAX);
	} else if (upath[0] == '/' || dirfd == RT_AT_FDCWD) {
		if (ul >= RT_PATH_MAX)
			e = -RT_ENAMETOOLONG;
		else
			memcpy(path, upath, ul + 1);
	} else { /* relative to the directory dirfd */
		long n = fd_path(dirfd, path, RT_PATH_MAX);
		if (n > 0 && (size_t)n + 1 + ul >= RT_PATH_MAX)
			n = -RT_ENAMETOOLONG;
		if (n > 0) {
			path[n] = '/';
			memcpy(path + n + 1, upath, ul + 1);
		}
		e = n < 0 ? n : 0;
	}
	if (e >= 0 && (flags & RT_AT_SYMLINK_NOFOLLOW)) {
		uint8_t st[144]; /* struct stat: st_mode at offset 24 */
		long r = shield_call(__NR_newfstatat, RT_AT_FDCWD, (long)path, (long)st, RT_AT_SYMLINK_NOFOLLOW, 0, 0);
		uint32_t mode;
		memcpy(&mode, st + 24, sizeof mode);
		if (r < 0)
			e = r;
		else if ((mode & 0170000) == 0120000)
			e = -RT_ELOOP;
	}
	long r = e < 0 ? e : rt_do_execve(t, uc, path, uargv, uenvp);
	rt_free(path); /* rt_do_execve keeps a copy of its own */
	return r;
}
