/* FS shield: nodes of the ephemeral layer that the host kernel backs: FIFOs
 * (mkfifo, mknod S_IFIFO) and unix sockets bound to a path (fs_sock.c).
 *
 * A FIFO's data goes from process to process through the host kernel, as a
 * pipe's does, so a FIFO node is backed by a named FIFO on the host: in a
 * private directory of the enclave (0700, made at the first mkfifo under
 * /dev/shm, else /tmp; its name is in the shared arena, so every process
 * of the enclave finds it), named by the node's inode number. The tree
 * holds the node (name, permissions, owner, times, links, renames), and
 * opening it opens the host FIFO with the application's flags: the kernel
 * gives the semantics (an O_RDONLY open blocks until a writer comes,
 * O_WRONLY|O_NONBLOCK without a reader is ENXIO, EOF after the last writer
 * closes, PIPE_BUF atomicity) and the descriptor is a host one, like a
 * pipe's. The host FIFO is unlinked when the node is freed; the last
 * process of the enclave to exit removes the directory (fs_host_nodes_exit).
 * A socket node is backed the same way: bind binds the host socket to the
 * node's path in that directory, connect and sendto address it there. */
#include "fs.h"
#include "fsv_arena.h"
#include "getdents.h"
#include "random.h"

#define S_IFIFO_ 0010000

static const char hexd[] = "0123456789abcdef";

/* dir/INO (hex) into buf[FS_HOST_NODE_PATH_MAX]. */
static void fifo_path(const char *dir, uint64_t ino, char *buf)
{
	size_t l = strlen(dir);
	memcpy(buf, dir, l);
	buf[l++] = '/';
	char tmp[16];
	int n = 0;
	do {
		tmp[n++] = hexd[ino & 15];
		ino >>= 4;
	} while (ino);
	while (n)
		buf[l++] = tmp[--n];
	buf[l] = 0;
}

/* The enclave's FIFO directory, made at the first call; NULL without the
 * arena or when the host has no place for it. Lock held. */
static const char *fifo_dir(void)
{
	struct fsv_arena_shared *sh = fsv_arena_shared();
	if (!sh)
		return NULL;
	if (sh->fifo_dir[0])
		return sh->fifo_dir;
	static const char *const bases[] = {"/dev/shm", "/tmp"};
	uint8_t rnd[8];
	rt_random(rnd, sizeof rnd);
	for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
		char d[sizeof sh->fifo_dir];
		size_t l = strlen(bases[b]);
		memcpy(d, bases[b], l);
		memcpy(d + l, "/.scone-fifo-", 13);
		l += 13;
		for (size_t i = 0; i < sizeof rnd; i++) {
			d[l++] = hexd[rnd[i] >> 4];
			d[l++] = hexd[rnd[i] & 15];
		}
		d[l] = 0;
		if (host_syscall(__NR_mkdirat, AT_FDCWD, (long)d, 0700, 0, 0, 0) == 0) {
			memcpy(sh->fifo_dir, d, l + 1);
			return sh->fifo_dir;
		}
	}
	return NULL;
}

long fs_host_node_path(uint64_t ino, char *buf, int make)
{
	struct fsv_arena_shared *sh = fsv_arena_shared();
	const char *dir = make ? fifo_dir() : sh && sh->fifo_dir[0] ? sh->fifo_dir : NULL;
	if (!dir)
		return make ? -EPERM : -ENOENT;
	fifo_path(dir, ino, buf);
	return 0;
}

int fs_is_host_node_path(const char *p, uint64_t *ino)
{
	struct fsv_arena_shared *sh = fsv_arena_shared();
	if (!sh || !sh->fifo_dir[0])
		return 0;
	size_t l = strlen(sh->fifo_dir);
	if (rt_strncmp(p, sh->fifo_dir, l) || p[l] != '/' || !p[l + 1])
		return 0;
	uint64_t v = 0;
	for (const char *c = p + l + 1; *c; c++) {
		int d = *c >= '0' && *c <= '9' ? *c - '0' : *c >= 'a' && *c <= 'f' ? *c - 'a' + 10 : -1;
		if (d < 0 || v >> 60)
			return 0;
		v = v << 4 | (uint64_t)d;
	}
	*ino = v;
	return 1;
}

long fs_fifo_mknod(struct fsv_res *r, uint32_t perm)
{
	const char *dir = fifo_dir();
	if (!dir)
		return -EPERM;
	struct fsv_node *n = NULL;
	long e = fsv_create(FS(), r->dir, r->name, r->namelen, FSV_IFIFO | (perm & 07777), NULL, &n);
	if (e < 0)
		return e;
	char path[FS_HOST_NODE_PATH_MAX];
	fifo_path(dir, n->ino, path);
	e = host_syscall(__NR_mknodat, AT_FDCWD, (long)path, S_IFIFO_ | 0600, 0, 0, 0);
	if (e < 0)
		fsv_remove(FS(), r->dir, r->name, r->namelen, 0); /* the node goes, and with it the path */
	fsv_unref(FS(), n);
	return e < 0 ? (e == -EEXIST ? -EIO : e) : 0;
}

/* The address each socket node was bound to, by inode number: what
 * getsockname and getpeername answer for it (Linux reports the path given
 * to bind, even after a rename). In the arena, so every process of the
 * enclave knows the names of sockets bound by the others. */
struct sockname {
	struct sockname *next;
	uint64_t ino;
	char path[];
};
static struct sockname *private_names; /* without an arena */

static struct sockname **names(void)
{
	struct fsv_arena_shared *sh = fsv_arena_shared();
	return sh ? (struct sockname **)&sh->socknames : &private_names;
}

int fs_host_node_set_name(uint64_t ino, const char *path)
{
	size_t l = strlen(path);
	struct sockname *n = fsv_sh_malloc(sizeof *n + l + 1);
	if (!n)
		return -ENOMEM;
	n->ino = ino;
	memcpy(n->path, path, l + 1);
	n->next = *names();
	*names() = n;
	return 0;
}

const char *fs_host_node_name(uint64_t ino)
{
	for (struct sockname *n = *names(); n; n = n->next)
		if (n->ino == ino)
			return n->path;
	return NULL;
}

void fs_host_node_gone(void *ctx, uint64_t ino)
{
	(void)ctx;
	for (struct sockname **p = names(); *p; p = &(*p)->next) {
		if ((*p)->ino == ino) {
			struct sockname *n = *p;
			*p = n->next;
			fsv_sh_free(n);
			break;
		}
	}
	struct fsv_arena_shared *sh = fsv_arena_shared();
	if (!sh || !sh->fifo_dir[0])
		return;
	char path[FS_HOST_NODE_PATH_MAX];
	fifo_path(sh->fifo_dir, ino, path);
	host_syscall(__NR_unlinkat, AT_FDCWD, (long)path, 0, 0, 0, 0);
}

long fs_fifo_open(uint64_t ino, long flags)
{
	/* fifo_dir is written once, before the node existed: no lock needed */
	struct fsv_arena_shared *sh = fsv_arena_shared();
	if (!sh || !sh->fifo_dir[0])
		return -ENXIO;
	char path[FS_HOST_NODE_PATH_MAX];
	fifo_path(sh->fifo_dir, ino, path);
	long hf = (flags & ~(long)(O_CREAT | O_EXCL | O_TRUNC | O_DIRECTORY)) | O_NOFOLLOW;
	long fd = host_syscall(__NR_openat, AT_FDCWD, (long)path, hf, 0, 0, 0);
	if (fd < 0)
		return fd == -ENOENT ? -ENXIO : fd;
	/* Iago: what the host opened must be a FIFO, not a file it put there */
	uint8_t st[144] = {0};
	uint32_t mode = 0;
	long s = host_syscall(__NR_fstat, fd, (long)st, 0, 0, 0, 0);
	memcpy(&mode, st + 24, sizeof mode); /* st_mode (x86-64 struct stat) */
	if (s < 0 || (mode & FSV_IFMT) != S_IFIFO_) {
		host_syscall(__NR_close, fd, 0, 0, 0, 0, 0);
		return -EIO;
	}
	return fd;
}

void fs_host_nodes_exit(void)
{
	struct fsv_arena_shared *sh = fsv_arena_shared();
	if (!sh || !sh->fifo_dir[0])
		return;
	long dfd = host_syscall(__NR_openat, AT_FDCWD, (long)sh->fifo_dir,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0, 0, 0);
	if (dfd >= 0) {
		char buf[2048];
		long n;
		while ((n = host_syscall(__NR_getdents64, dfd, (long)buf, sizeof buf, 0, 0, 0)) > 0 &&
		       (size_t)n <= sizeof buf) {
			size_t pos = 0;
			struct rt_dirent d;
			while (rt_dirent_next(buf, (size_t)n, &pos, &d) == 1)
				if (rt_strcmp(d.name, ".") && rt_strcmp(d.name, ".."))
					host_syscall(__NR_unlinkat, dfd, (long)d.name, 0, 0, 0, 0);
		}
		host_syscall(__NR_close, dfd, 0, 0, 0, 0, 0);
	}
	host_syscall(__NR_unlinkat, AT_FDCWD, (long)sh->fifo_dir, AT_REMOVEDIR, 0, 0, 0);
	sh->fifo_dir[0] = 0;
}
