/* FS shield core: what the runtime answers itself at a passthrough mount
 * (fsv.h, fsv_magic).
 *
 * /proc and /dev pass to the host, but not blindly:
 *  - /proc is an allow-list. Per-process entries that would hand the host's
 *    view of the process to the application, or the host's file system, are
 *    refused with EACCES: root, cwd, mem, map_files, environ of another
 *    process, pagemap, auxv, syscall, stack, ... (docs/fs-shield.md lists the
 *    allowed ones). /proc/self/root/<path> would otherwise reach any host
 *    file, the FS key file included.
 *  - The process's own environ and cmdline are the application's view,
 *    built by the runtime (fs->proc_data), never the host's initial stack;
 *    its status is the host's with the virtual ids (Uid, Gid, Groups).
 *  - Magic links resolve to what the application's descriptor is:
 *    /proc/{self,thread-self,<own pid>,self/task/<tid>}/fd/N, /dev/fd/N and
 *    /dev/stdin|stdout|stderr reach the virtual node of a virtual fd, never
 *    a host path that the container engine could have replaced; the exe
 *    link names the running program inside the image.
 *  - /dev/random and /dev/urandom are served by the runtime (fs->random):
 *    randomness never comes from the host.
 *  - /dev/attestation (Gramine's pseudo-files: user_report_data, quote,
 *    keys/_sgx_mrenclave, keys/_sgx_mrsigner) is served by the runtime
 *    (fs->attestation): each open is a snapshot of the file's content. */
#include <string.h>
#include <linux/errno.h>

#include "fsv.h"
#include "rt_alloc.h"

/* Decision for one /proc entry. */
enum {
	P_DENY = 0, /* EACCES */
	P_HOST,	    /* the host's answer is fine */
	P_VIRT,	    /* the runtime answers (self), EACCES for other processes */
	P_LINK,	    /* a magic link: self resolves it, others may only readlink it */
	P_DIR_FD,   /* fd/ */
	P_FDINFO,   /* fdinfo/: the host's, but for numbers closed in the application's view */
	P_DIR_TASK, /* task/ */
	P_STATUS,   /* status: self (not a task) answered by the runtime, others the host's */
};

struct entry {
	const char *name;
	unsigned char kind;
};

/* Per-process entries (man 5 proc). Sorted for reading, searched linearly. */
static const struct entry proc_pid_entries[] = {
	{"attr", P_HOST},
	{"autogroup", P_HOST},
	{"cgroup", P_HOST},
	{"cmdline", P_VIRT},
	{"comm", P_HOST},
	{"coredump_filter", P_HOST},
	{"cpuset", P_HOST},
	{"environ", P_VIRT},
	{"exe", P_LINK},
	{"fd", P_DIR_FD},
	{"fdinfo", P_FDINFO},
	{"gid_map", P_HOST},
	{"io", P_HOST},
	{"limits", P_HOST},
	{"loginuid", P_HOST},
	{"maps", P_HOST},
	{"mountinfo", P_HOST},
	{"mounts", P_HOST},
	{"mountstats", P_HOST},
	{"net", P_HOST},
	{"ns", P_HOST},
	{"numa_maps", P_HOST},
	{"oom_adj", P_HOST},
	{"oom_score", P_HOST},
	{"oom_score_adj", P_HOST},
	{"personality", P_HOST},
	{"projid_map", P_HOST},
	{"sched", P_HOST},
	{"schedstat", P_HOST},
	{"sessionid", P_HOST},
	{"setgroups", P_HOST},
	{"smaps", P_HOST},
	{"smaps_rollup", P_HOST},
	{"stat", P_HOST},
	{"statm", P_HOST},
	{"status", P_STATUS},
	{"task", P_DIR_TASK},
	{"timers", P_HOST},
	{"timerslack_ns", P_HOST},
	{"uid_map", P_HOST},
	{"wchan", P_HOST},
};

/* Entries of /proc itself besides the process directories. */
static const char *const proc_top_entries[] = {
	"buddyinfo", "cgroups",	    "cmdline",	   "consoles", "cpuinfo",    "crypto",	 "devices",
	"diskstats", "execdomains", "filesystems", "fs",       "interrupts", "loadavg",	 "locks",
	"meminfo",   "misc",	    "mounts",	   "net",      "partitions", "pressure", "schedstat",
	"self",	     "softirqs",    "stat",	   "swaps",    "sys",	     "sysvipc",	 "thread-self",
	"tty",	     "uptime",	    "version",	   "vmstat",   "zoneinfo",
};

/* Where a rewritten path goes (FSV_PATH_MAX bytes; the pieces being parsed
 * live in a separate normalized copy) and the node of a NODE result. */
struct magic {
	char *path;
	struct fsv_node *node;
};

/* The first component of p (after any '/'): *len bytes at the return value;
 * *next points after it (at '/' or NUL). */
static const char *component(const char *p, size_t *len, const char **next)
{
	while (*p == '/')
		p++;
	const char *s = p;
	while (*p && *p != '/')
		p++;
	*len = (size_t)(p - s);
	*next = p;
	return s;
}

static int is_comp(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/* A decimal number without leading zeros (what /proc names look like), or -1. */
static long number(const char *s, size_t len)
{
	if (len == 0 || len > 9 || (len > 1 && s[0] == '0'))
		return -1;
	long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int only_slashes(const char *p)
{
	while (*p == '/')
		p++;
	return *p == 0;
}

/* Whether the process's descriptor fd is open on the host but closed in
 * the application's view (the fd_closed hook): no /proc/self/fd/N. */
static int fd_closed(struct fsv *fs, long fd)
{
	return fs->fd_closed && fd <= 0x7fffffff && fs->fd_closed(fs->hook_ctx, (int)fd);
}

/* Jumps to the node of a virtual fd (the kernel's magic link semantics). */
static int fd_link(struct fsv *fs, long fd, const char *after_in, struct magic *m)
{
	char after[FSV_PATH_MAX]; /* after_in points into m->path, which is rewritten */
	memcpy(after, after_in, strlen(after_in) + 1);
	struct fsv_node *n = fs->fd_node ? fs->fd_node(fs->hook_ctx, (int)fd) : NULL;
	if (!n) {
		/* a host descriptor: the canonical host path reopens it */
		char tmp[FSV_PATH_MAX];
		size_t al = strlen(after);
		int k = 0;
		char num[12];
		long v = fd;
		do {
			num[k++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		size_t pre = 14; /* "/proc/self/fd/" */
		if (pre + (size_t)k + al + 1 > FSV_PATH_MAX)
			return -ENAMETOOLONG;
		memcpy(tmp, "/proc/self/fd/", pre);
		for (int i = 0; i < k; i++)
			tmp[pre + (size_t)i] = num[k - 1 - i];
		memcpy(tmp + pre + (size_t)k, after, al + 1);
		memcpy(m->path, tmp, pre + (size_t)k + al + 1);
		return FSV_MAGIC_HOST;
	}
	if (only_slashes(after)) {
		m->node = n; /* the caller's reference */
		return FSV_MAGIC_NODE;
	}
	/* more components after a virtual directory: walk on from its path */
	char tmp[FSV_PATH_MAX];
	long pl = fsv_node_path(fs, n, tmp, FSV_PATH_MAX);
	fsv_unref(fs, n);
	size_t al = strlen(after);
	if (pl < 0 || (size_t)pl + al + 1 > FSV_PATH_MAX)
		return pl < 0 ? (int)pl : -ENAMETOOLONG;
	memcpy(m->path, tmp, (size_t)pl);
	memcpy(m->path + pl, after, al + 1);
	return FSV_MAGIC_RESTART;
}

/* The running program (the exe link of the own process). */
static int exe_link(struct fsv *fs, const char *after, struct magic *m)
{
	if (!fs->exe)
		return FSV_MAGIC_HOST;
	size_t el = strlen(fs->exe), al = strlen(after);
	if (el + al + 1 > FSV_PATH_MAX)
		return -ENAMETOOLONG;
	memmove(m->path + el, after, al + 1);
	memcpy(m->path, fs->exe, el);
	return FSV_MAGIC_RESTART;
}

/* rest: what follows /proc/<process> (or /proc/<process>/task/<tid>). */
static int proc_process(struct fsv *fs, int self, const char *rest, int follow, int in_task, struct magic *m)
{
	size_t len;
	const char *next;
	const char *e = component(rest, &len, &next);
	if (len == 0)
		return FSV_MAGIC_HOST; /* the directory itself */
	const struct entry *hit = NULL;
	for (size_t i = 0; i < sizeof proc_pid_entries / sizeof proc_pid_entries[0]; i++)
		if (is_comp(e, len, proc_pid_entries[i].name))
			hit = &proc_pid_entries[i];
	if (!hit)
		return -EACCES; /* not on the allow-list: root, cwd, mem, map_files, pagemap, auxv, ... */
	int last = only_slashes(next);
	switch (hit->kind) {
	case P_HOST:
		return FSV_MAGIC_HOST;
	case P_STATUS: {
		if (!self || in_task || !fs->proc_data || !last)
			return FSV_MAGIC_HOST;
		const char *data = NULL;
		size_t dlen = 0;
		fs->proc_data(fs->hook_ctx, FSV_PROC_STATUS, &data, &dlen);
		if (!data)
			return FSV_MAGIC_HOST; /* the ids are the host's */
		int r = fsv_anon_file(fs, FSV_IFREG | 0444, data, dlen, &m->node);
		if (r < 0)
			return r;
		m->node->special = FSV_SPECIAL_PROC;
		return FSV_MAGIC_NODE;
	}
	case P_VIRT: {
		if (!self || !fs->proc_data)
			return is_comp(e, len, "cmdline") && !self ? FSV_MAGIC_HOST : -EACCES;
		if (!last)
			return -ENOTDIR;
		int which = is_comp(e, len, "environ") ? FSV_PROC_ENVIRON : FSV_PROC_CMDLINE;
		const char *data = NULL;
		size_t dlen = 0;
		fs->proc_data(fs->hook_ctx, which, &data, &dlen);
		int r = fsv_anon_file(fs, FSV_IFREG | 0400, data, dlen, &m->node);
		if (r < 0)
			return r;
		m->node->special = FSV_SPECIAL_PROC;
		return FSV_MAGIC_NODE;
	}
	case P_LINK:
		if (!(follow || !last))
			return FSV_MAGIC_HOST; /* readlink / lstat */
		return self ? exe_link(fs, next, m) : -EACCES;
	case P_FDINFO:
	case P_DIR_FD: {
		const char *nn;
		const char *f = component(next, &len, &nn);
		if (len == 0)
			return FSV_MAGIC_HOST; /* the directory */
		long fd = number(f, len);
		if (fd < 0 || (self && fd_closed(fs, fd)))
			return -ENOENT;
		if (hit->kind == P_FDINFO)
			return FSV_MAGIC_HOST;
		if (!(follow || !only_slashes(nn)))
			return FSV_MAGIC_HOST; /* readlink / lstat of the link */
		return self ? fd_link(fs, fd, nn, m) : -EACCES;
	}
	case P_DIR_TASK: {
		if (in_task)
			return -ENOENT; /* no task/ inside a task */
		const char *nn;
		const char *t = component(next, &len, &nn);
		if (len == 0)
			return FSV_MAGIC_HOST;
		if (number(t, len) < 0)
			return -ENOENT;
		return proc_process(fs, self, nn, follow, 1, m);
	}
	}
	return -EACCES;
}

static int proc_path(struct fsv *fs, const char *rest, int follow, struct magic *m)
{
	size_t len;
	const char *next;
	const char *top = component(rest, &len, &next);
	if (len == 0)
		return FSV_MAGIC_HOST; /* /proc */
	if (is_comp(top, len, "self"))
		return proc_process(fs, 1, next, follow, 0, m);
	if (is_comp(top, len, "thread-self"))
		return proc_process(fs, 1, next, follow, 1, m);
	long pid = number(top, len);
	if (pid >= 0) {
		long own = fs->self_pid ? fs->self_pid(fs->hook_ctx) : -1;
		return proc_process(fs, pid == own, next, follow, 0, m);
	}
	for (size_t i = 0; i < sizeof proc_top_entries / sizeof proc_top_entries[0]; i++)
		if (is_comp(top, len, proc_top_entries[i]))
			return FSV_MAGIC_HOST;
	return -EACCES; /* kcore, kmsg, kallsyms, sysrq-trigger, keys, ... */
}

/* /dev/attestation/... (rest after "attestation"). */
static int attestation_path(struct fsv *fs, const char *rest, struct magic *m)
{
	static const struct {
		const char *path;
		int which;
		uint32_t mode;
	} files[] = {
		{"/user_report_data", FSV_ATT_REPORT_DATA, 0666},
		{"/quote", FSV_ATT_QUOTE, 0444},
		{"/keys/_sgx_mrenclave", FSV_ATT_KEY_MRENCLAVE, 0444},
		{"/keys/_sgx_mrsigner", FSV_ATT_KEY_MRSIGNER, 0444},
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		size_t pl = strlen(files[i].path);
		if (strlen(rest) != pl || memcmp(rest, files[i].path, pl))
			continue;
		uint8_t *buf = rt_malloc(FSV_ATT_MAX);
		if (!buf)
			return -ENOMEM;
		long n = fs->attestation(fs->hook_ctx, files[i].which, buf);
		int r = n < 0 ? (int)n : fsv_anon_file(fs, FSV_IFREG | files[i].mode, buf, (size_t)n, &m->node);
		memset(buf, 0, FSV_ATT_MAX); /* a sealing key */
		rt_free(buf);
		if (r < 0)
			return r;
		m->node->uid = m->node->gid = 0;
		m->node->special = files[i].which == FSV_ATT_REPORT_DATA ? FSV_SPECIAL_REPORT_DATA : FSV_SPECIAL_PROC;
		return FSV_MAGIC_NODE;
	}
	return -ENOENT;
}

static int dev_path(struct fsv *fs, const char *rest, int follow, struct magic *m)
{
	size_t len;
	const char *next;
	const char *d = component(rest, &len, &next);
	static const char *const std[] = {"stdin", "stdout", "stderr"};
	for (int i = 0; i < 3; i++)
		if (is_comp(d, len, std[i])) {
			if (!(follow || !only_slashes(next)))
				return FSV_MAGIC_HOST; /* the symlink itself */
			return fd_link(fs, i, next, m);
		}
	if (is_comp(d, len, "fd")) {
		const char *nn;
		const char *f = component(next, &len, &nn);
		if (len == 0)
			return FSV_MAGIC_HOST;
		long fd = number(f, len);
		if (fd < 0 || fd_closed(fs, fd))
			return -ENOENT;
		if (!(follow || !only_slashes(nn)))
			return FSV_MAGIC_HOST;
		return fd_link(fs, fd, nn, m);
	}
	if ((is_comp(d, len, "urandom") || is_comp(d, len, "random")) && fs->random) {
		if (!only_slashes(next))
			return -ENOTDIR;
		int r = fsv_anon_file(fs, FSV_IFCHR | 0666, NULL, 0, &m->node);
		if (r < 0)
			return r;
		m->node->special = FSV_SPECIAL_RANDOM;
		m->node->uid = m->node->gid = 0;
		m->node->rdev_major = 1;
		m->node->rdev_minor = is_comp(d, len, "urandom") ? 9 : 8;
		return FSV_MAGIC_NODE;
	}
	if (is_comp(d, len, "attestation") && fs->attestation)
		return attestation_path(fs, next, m);
	return FSV_MAGIC_HOST;
}

int fsv_magic(struct fsv *fs, char *path, int follow, struct fsv_node **node)
{
	/* Decide on the lexically normalized path ("//" and "." removed; the
	 * caller restarted the walk for ".."), but hand an unchanged path to the
	 * host, trailing slash included. */
	char norm[FSV_PATH_MAX];
	long nl = fsv_normalize(path, strlen(path), norm, sizeof norm);
	if (nl < 0)
		return (int)nl;
	struct magic m = {path, NULL};
	int r = FSV_MAGIC_HOST;
	if (!memcmp(norm, "/proc", 5) && (norm[5] == 0 || norm[5] == '/'))
		r = proc_path(fs, norm + 5, follow, &m);
	else if (!memcmp(norm, "/dev", 4) && (norm[4] == 0 || norm[4] == '/'))
		r = dev_path(fs, norm + 4, follow, &m);
	*node = m.node;
	return r;
}
