/* A program that persists files on a protected volume (runtime/e2e
 * volume_test.go): "write DIR" creates them, "read DIR" checks them in a
 * later run, "links DIR" checks links, fallocate and mmap, "forks DIR N" forks N
 * children in turn, "procs DIR" the volume
 * shared by forked processes (data, offsets, flock and record locks, a
 * holder killed), "forkopen DIR N" N forks while another thread opens
 * and closes an image directory (the shields' lock order). Prints "ok" and exits 0 when every check holds. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <signal.h>
#include <unistd.h>

static int fails;
#define CHECK(c)                                                                              \
	do {                                                                                  \
		if (!(c)) {                                                                   \
			printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
			fails++;                                                              \
		}                                                                             \
	} while (0)

/* dir/name in one of four rotating buffers (two paths per call) */
static const char *at(const char *dir, const char *name)
{
	static char p[4][4096];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
	return p[k];
}

#define MARKER "PLAINTEXT-MARKER-volprobe"

static void do_write(const char *d)
{
	CHECK(mkdir(at(d, "db"), 0750) == 0);
	CHECK(mkdir(at(d, "db"), 0750) == -1 && errno == EEXIST);
	int fd = open(at(d, "db/data.txt"), O_CREAT | O_EXCL | O_RDWR, 0640);
	CHECK(fd >= 0);
	CHECK(open(at(d, "db/data.txt"), O_CREAT | O_EXCL | O_RDWR, 0640) == -1 && errno == EEXIST);
	CHECK(write(fd, MARKER " line one\n", strlen(MARKER) + 10) == (ssize_t)strlen(MARKER) + 10);
	struct iovec iov[2] = {{"two ", 4}, {"three\n", 6}};
	CHECK(writev(fd, iov, 2) == 10);
	CHECK(pwrite(fd, "X", 1, 100000) == 1); /* a hole, then one byte */
	CHECK(lseek(fd, 0, SEEK_END) == 100001);
	CHECK(ftruncate(fd, 50000) == 0);
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && st.st_size == 50000 && S_ISREG(st.st_mode));
	CHECK(fsync(fd) == 0);
	char buf[64] = {0};
	CHECK(pread(fd, buf, 10, 0) == 10 && !memcmp(buf, MARKER, 10));
	CHECK(close(fd) == 0);
	/* append */
	fd = open(at(d, "db/log"), O_CREAT | O_WRONLY | O_APPEND, 0600);
	CHECK(fd >= 0);
	for (int i = 0; i < 100; i++) {
		char line[32];
		int n = snprintf(line, sizeof line, "entry %03d\n", i);
		lseek(fd, 0, SEEK_SET);
		CHECK(write(fd, line, (size_t)n) == n);
	}
	CHECK(fdatasync(fd) == 0);
	close(fd);
	/* atomic replace: write a temporary file, rename it over the old one */
	fd = open(at(d, "db/config.tmp"), O_CREAT | O_TRUNC | O_WRONLY, 0600);
	CHECK(fd >= 0 && write(fd, "version=2\n", 10) == 10);
	close(fd);
	fd = open(at(d, "db/config"), O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0 && write(fd, "version=1\n", 10) == 10);
	close(fd);
	int keep = open(at(d, "db/config"), O_RDONLY);
	char old[16] = {0};
	CHECK(rename(at(d, "db/config.tmp"), at(d, "db/config")) == 0);
	CHECK(read(keep, old, 10) == 10 && !strcmp(old, "version=1\n")); /* still the old file */
	close(keep);
	/* unlink while open */
	fd = open(at(d, "scratch"), O_CREAT | O_RDWR, 0600);
	CHECK(fd >= 0 && write(fd, "temp", 4) == 4);
	CHECK(unlink(at(d, "scratch")) == 0);
	CHECK(access(at(d, "scratch"), F_OK) == -1 && errno == ENOENT);
	CHECK(pread(fd, buf, 4, 0) == 4 && !memcmp(buf, "temp", 4));
	close(fd);
	/* a directory made and removed, relative paths through chdir */
	CHECK(mkdir(at(d, "gone"), 0700) == 0 && rmdir(at(d, "gone")) == 0);
	CHECK(chdir(at(d, "db")) == 0);
	fd = open("rel.txt", O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0 && write(fd, "relative\n", 9) == 9);
	close(fd);
	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	fd = openat(dfd, "at.txt", O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0 && write(fd, "at\n", 3) == 3);
	close(fd);
	close(dfd);
	/* what is refused, clearly */
	CHECK(mknod(at(d, "db/fifo"), S_IFIFO | 0600, 0) == -1 && errno == EPERM);
	fd = open(at(d, "db/log"), O_RDWR);
	CHECK(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096) == -1 && errno == EOPNOTSUPP);
	close(fd);
}

static void do_read(const char *d)
{
	struct stat st;
	CHECK(stat(at(d, "db/data.txt"), &st) == 0 && st.st_size == 50000 && (st.st_mode & 0777) == 0640);
	CHECK(stat(at(d, "db"), &st) == 0 && S_ISDIR(st.st_mode));
	FILE *f = fopen(at(d, "db/data.txt"), "r");
	CHECK(f != NULL);
	char line[128] = {0};
	CHECK(f && fgets(line, sizeof line, f) && !strcmp(line, MARKER " line one\n"));
	CHECK(f && fgets(line, sizeof line, f) && !strcmp(line, "two three\n"));
	if (f)
		fclose(f);
	f = fopen(at(d, "db/log"), "r");
	int n = 0;
	while (f && fgets(line, sizeof line, f)) {
		char want[32];
		snprintf(want, sizeof want, "entry %03d\n", n);
		CHECK(!strcmp(line, want));
		n++;
	}
	CHECK(n == 100);
	if (f)
		fclose(f);
	f = fopen(at(d, "db/config"), "r");
	CHECK(f && fgets(line, sizeof line, f) && !strcmp(line, "version=2\n"));
	if (f)
		fclose(f);
	CHECK(access(at(d, "db/config.tmp"), F_OK) == -1 && errno == ENOENT);
	CHECK(access(at(d, "scratch"), F_OK) == -1 && errno == ENOENT);
	DIR *dir = opendir(at(d, "db"));
	CHECK(dir != NULL);
	int seen = 0;
	struct dirent *e;
	while (dir && (e = readdir(dir))) {
		if (!strcmp(e->d_name, "data.txt") || !strcmp(e->d_name, "log") || !strcmp(e->d_name, "config") ||
		    !strcmp(e->d_name, "rel.txt") || !strcmp(e->d_name, "at.txt"))
			seen++;
		else if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			printf("unexpected entry %s\n", e->d_name), fails++;
	}
	CHECK(seen == 5);
	if (dir)
		closedir(dir);
}

static void *unlock_later(void *arg)
{
	struct timespec ts = {0, 200000000};
	nanosleep(&ts, NULL);
	CHECK(flock((int)(long)arg, LOCK_UN) == 0);
	return NULL;
}

/* "links DIR": hard links, symbolic links, fallocate and mmap, with
 * Linux's answers (run natively and on a protected volume); leaves
 * links/b (content "hello links", two names: b and c) and links/s -> b. */
static void do_links(const char *d)
{
	CHECK(mkdir(at(d, "links"), 0700) == 0);
	int fd = open(at(d, "links/a"), O_CREAT | O_RDWR, 0600);
	CHECK(fd >= 0 && write(fd, "hello links", 11) == 11 && close(fd) == 0);
	CHECK(link(at(d, "links/a"), at(d, "links/b")) == 0);
	CHECK(link(at(d, "links/a"), at(d, "links/b")) == -1 && errno == EEXIST);
	CHECK(link(at(d, "links"), at(d, "links/dirlink")) == -1 && errno == EPERM);
	CHECK(link(at(d, "links/nothing"), at(d, "links/x")) == -1 && errno == ENOENT);
	struct stat sa, sb;
	CHECK(stat(at(d, "links/a"), &sa) == 0 && stat(at(d, "links/b"), &sb) == 0);
	CHECK(sa.st_ino == sb.st_ino && sa.st_nlink == 2 && sb.st_size == 11);
	CHECK(unlink(at(d, "links/a")) == 0);
	CHECK(stat(at(d, "links/b"), &sb) == 0 && sb.st_nlink == 1);
	CHECK(linkat(AT_FDCWD, at(d, "links/b"), AT_FDCWD, at(d, "links/c"), 0) == 0);
	CHECK(symlink("b", at(d, "links/s")) == 0);
	CHECK(symlink("b", at(d, "links/s")) == -1 && errno == EEXIST);
	char t[64] = {0};
	CHECK(readlink(at(d, "links/s"), t, sizeof t) == 1 && t[0] == 'b');
	CHECK(lstat(at(d, "links/s"), &sa) == 0 && S_ISLNK(sa.st_mode) && sa.st_size == 1);
	char buf[64] = {0};
	fd = open(at(d, "links/s"), O_RDONLY);
	CHECK(fd >= 0 && read(fd, buf, sizeof buf) == 11 && !memcmp(buf, "hello links", 11));
	close(fd);
	/* a link to the symlink itself (linkat without AT_SYMLINK_FOLLOW), and through it */
	CHECK(linkat(AT_FDCWD, at(d, "links/s"), AT_FDCWD, at(d, "links/s2"), 0) == 0);
	CHECK(lstat(at(d, "links/s2"), &sa) == 0 && S_ISLNK(sa.st_mode));
	CHECK(linkat(AT_FDCWD, at(d, "links/s"), AT_FDCWD, at(d, "links/f2"), AT_SYMLINK_FOLLOW) == 0);
	CHECK(lstat(at(d, "links/f2"), &sa) == 0 && S_ISREG(sa.st_mode) && sa.st_nlink == 3);
	CHECK(unlink(at(d, "links/f2")) == 0 && unlink(at(d, "links/s2")) == 0);
	/* fallocate: extend with zeros, keep the size, punch a hole */
	fd = open(at(d, "links/fa"), O_CREAT | O_RDWR, 0600);
	CHECK(fd >= 0 && write(fd, "abcdefgh", 8) == 8);
	CHECK(fallocate(fd, 0, 0, 20000) == 0);
	CHECK(fstat(fd, &sa) == 0 && sa.st_size == 20000);
	CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 50000) == 0);
	CHECK(fstat(fd, &sa) == 0 && sa.st_size == 20000);
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2, 3) == 0);
	CHECK(pread(fd, buf, 8, 0) == 8 && !memcmp(buf, "ab\0\0\0fgh", 8));
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 1) == -1 && errno == EOPNOTSUPP);
	CHECK(pread(fd, buf, 4, 19990) == 4 && !memcmp(buf, "\0\0\0\0", 4));
	/* mmap: a private mapping reads the file; a shared writable one works
	 * natively and is refused on a protected volume */
	char *m = mmap(NULL, 8, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(m != MAP_FAILED && !memcmp(m, "ab\0\0\0fgh", 8));
	if (m != MAP_FAILED)
		munmap(m, 8);
	m = mmap(NULL, 8, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED && m[0] == 'a');
	if (m != MAP_FAILED)
		munmap(m, 8);
	m = mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED || errno == ENODEV);
	printf("shared-writable-mmap %s\n", m != MAP_FAILED ? "works" : "ENODEV");
	if (m != MAP_FAILED)
		munmap(m, 8);
	CHECK(close(fd) == 0);
	/* flock: per open file description; dups share it; two opens conflict */
	int l1 = open(at(d, "links/b"), O_RDONLY), l2 = open(at(d, "links/c"), O_RDONLY);
	CHECK(l1 >= 0 && l2 >= 0 && flock(l1, LOCK_EX | LOCK_NB) == 0);
	CHECK(flock(l2, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK);
	int l3 = dup(l1);
	CHECK(flock(l3, LOCK_EX | LOCK_NB) == 0); /* the same description */
	CHECK(close(l1) == 0);
	CHECK(flock(l2, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK); /* the dup still holds it */
	pthread_t th;
	CHECK(pthread_create(&th, NULL, unlock_later, (void *)(long)l3) == 0);
	CHECK(flock(l2, LOCK_SH) == 0); /* waits for the thread's unlock */
	CHECK(pthread_join(th, NULL) == 0);
	int l4 = open(at(d, "links/b"), O_RDONLY);
	CHECK(l4 >= 0 && flock(l4, LOCK_SH | LOCK_NB) == 0); /* shared with shared */
	CHECK(flock(l4, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK);
	CHECK(flock(l2, LOCK_UN) == 0 && flock(l4, LOCK_EX | LOCK_NB) == 0);
	CHECK(flock(l2, 0) == -1 && errno == EINVAL);
	close(l2);
	close(l3);
	close(l4);
	/* a file over 4 GiB, sparse: one byte at 5 GiB, zeros before it */
	const off_t five = 5LL << 30;
	fd = open(at(d, "links/big"), O_CREAT | O_RDWR, 0600);
	CHECK(fd >= 0 && pwrite(fd, "Z", 1, five) == 1 && fsync(fd) == 0);
	CHECK(fstat(fd, &sa) == 0 && sa.st_size == five + 1);
	CHECK(pread(fd, buf, 1, five) == 1 && buf[0] == 'Z');
	CHECK(pread(fd, buf, 4, (3LL << 30) + 17) == 4 && !memcmp(buf, "\0\0\0\0", 4));
	CHECK(lseek(fd, 0, SEEK_END) == five + 1);
	CHECK(close(fd) == 0);
}

/* ---- procs: forked processes share the volume ---- */

/* A forked child's end: its FAIL lines out, its verdict as the status. */
static void child_done(void)
{
	fflush(stdout);
	_exit(fails ? 1 : 0);
}

/* Waits for child pid; its checks count as failures of the parent. */
static void reap_child(pid_t pid, const char *what)
{
	int st = 0;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		printf("FAIL child (%s): status %#x\n", what, st);
		fails++;
	}
}

static void slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, cap - 1);
	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

static int lk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &fl);
}

static void do_procs(const char *d)
{
	char buf[65536];
	mkdir(at(d, "procs"), 0700);
	fflush(stdout);
	/* an inherited descriptor: one offset for both processes */
	int fd = open(at(d, "procs/shared"), O_CREAT | O_RDWR | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, "P1", 2) == 2);
	pid_t pid = fork();
	if (pid == 0) {
		CHECK(write(fd, "C1", 2) == 2);
		CHECK(lseek(fd, 0, SEEK_CUR) == 4);
		child_done();
	}
	reap_child(pid, "shared offset");
	CHECK(lseek(fd, 0, SEEK_CUR) == 4 && write(fd, "P2", 2) == 2);
	CHECK(pread(fd, buf, 16, 0) == 6 && !memcmp(buf, "P1C1P2", 6));

	/* the parent's unsynced writes, seen by the child; the child's files
	 * and directories, seen by the parent; a child that exits without
	 * closing what it wrote */
	int pf = open(at(d, "procs/fromparent"), O_CREAT | O_WRONLY | O_TRUNC, 0600);
	CHECK(pf >= 0 && write(pf, "hello from parent", 17) == 17);
	pid = fork();
	if (pid == 0) {
		slurp(at(d, "procs/fromparent"), buf, sizeof buf);
		CHECK(!strcmp(buf, "hello from parent"));
		int cf = open(at(d, "procs/fromchild"), O_CREAT | O_WRONLY | O_EXCL, 0600);
		CHECK(cf >= 0 && write(cf, "hello from child", 16) == 16 && close(cf) == 0);
		CHECK(mkdir(at(d, "procs/cdir"), 0700) == 0);
		cf = open(at(d, "procs/cdir/unclosed"), O_CREAT | O_WRONLY, 0600);
		CHECK(cf >= 0 && write(cf, "left open", 9) == 9);
		child_done();
	}
	reap_child(pid, "files");
	close(pf);
	slurp(at(d, "procs/fromchild"), buf, sizeof buf);
	CHECK(!strcmp(buf, "hello from child"));
	slurp(at(d, "procs/cdir/unclosed"), buf, sizeof buf);
	CHECK(!strcmp(buf, "left open"));
	struct stat sa;
	CHECK(stat(at(d, "procs/cdir"), &sa) == 0 && S_ISDIR(sa.st_mode));

	/* four writers appending to one file at once: whole lines, none lost */
	enum { WRITERS = 4, LINES = 200 };
	pid_t w[WRITERS];
	for (int k = 0; k < WRITERS; k++) {
		w[k] = fork();
		if (w[k] == 0) {
			int lf = open(at(d, "procs/log"), O_CREAT | O_WRONLY | O_APPEND, 0600);
			CHECK(lf >= 0);
			for (int i = 0; i < LINES; i++) {
				char line[64];
				int n = snprintf(line, sizeof line, "writer %d line %03d\n", k, i);
				CHECK(write(lf, line, (size_t)n) == n);
			}
			CHECK(close(lf) == 0);
			child_done();
		}
	}
	for (int k = 0; k < WRITERS; k++)
		reap_child(w[k], "appender");
	slurp(at(d, "procs/log"), buf, sizeof buf);
	int count[WRITERS] = {0}, lines = 0;
	for (char *l = buf, *e; (e = strchr(l, '\n')); l = e + 1, lines++) {
		int k, i;
		if (sscanf(l, "writer %d line %d", &k, &i) == 2 && k >= 0 && k < WRITERS && i == count[k])
			count[k]++;
	}
	CHECK(lines == WRITERS * LINES);
	for (int k = 0; k < WRITERS; k++)
		CHECK(count[k] == LINES);

	/* flock between processes: two descriptions conflict; the waiter
	 * gets the lock when the holder releases it, after its note */
	int a = open(at(d, "procs/lock"), O_CREAT | O_RDWR, 0600);
	CHECK(a >= 0 && flock(a, LOCK_EX) == 0);
	pid = fork();
	if (pid == 0) {
		int b = open(at(d, "procs/lock"), O_RDWR);
		CHECK(flock(b, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK);
		CHECK(flock(b, LOCK_EX) == 0);
		slurp(at(d, "procs/note"), buf, sizeof buf);
		CHECK(!strcmp(buf, "released"));
		child_done();
	}
	usleep(200000);
	int nf = open(at(d, "procs/note"), O_CREAT | O_WRONLY | O_TRUNC, 0600);
	CHECK(nf >= 0 && write(nf, "released", 8) == 8 && close(nf) == 0);
	CHECK(flock(a, LOCK_UN) == 0);
	reap_child(pid, "flock");

	/* a holder killed: its lock goes with it */
	int pfd[2];
	CHECK(pipe(pfd) == 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int b = open(at(d, "procs/lock"), O_RDWR);
		CHECK(flock(b, LOCK_EX) == 0 && lk(b, F_SETLK, F_WRLCK, 0, 10) == 0);
		CHECK(write(pfd[1], "x", 1) == 1);
		pause();
		_exit(3);
	}
	CHECK(read(pfd[0], buf, 1) == 1);
	CHECK(flock(a, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK);
	CHECK(lk(a, F_SETLK, F_WRLCK, 5, 1) == -1 && (errno == EAGAIN || errno == EACCES));
	kill(pid, SIGKILL);
	int got = 0;
	for (int i = 0; i < 200 && !got; i++) {
		got = flock(a, LOCK_EX | LOCK_NB) == 0;
		if (!got)
			usleep(10000);
	}
	CHECK(got);
	CHECK(lk(a, F_SETLK, F_WRLCK, 5, 1) == 0);
	CHECK(waitpid(pid, NULL, 0) == pid);
	CHECK(flock(a, LOCK_UN) == 0 && lk(a, F_SETLK, F_UNLCK, 0, 0) == 0);

	/* record locks between processes: a conflict, F_GETLK naming the
	 * holder, F_SETLKW waiting for the release; a POSIX lock is not
	 * inherited, and goes when its process closes any descriptor */
	CHECK(lk(a, F_SETLK, F_WRLCK, 0, 10) == 0);
	pid_t parent = getpid();
	pid = fork();
	if (pid == 0) {
		int b = open(at(d, "procs/lock"), O_RDWR);
		CHECK(lk(b, F_SETLK, F_WRLCK, 5, 10) == -1 && (errno == EAGAIN || errno == EACCES));
		CHECK(lk(a, F_SETLK, F_RDLCK, 9, 1) == -1 && (errno == EAGAIN || errno == EACCES));
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1};
		CHECK(fcntl(b, F_GETLK, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_pid == parent && fl.l_start == 0 &&
		      fl.l_len == 10);
		CHECK(lk(b, F_SETLK, F_WRLCK, 10, 10) == 0);
		CHECK(lk(b, F_SETLKW, F_WRLCK, 0, 10) == 0);
		slurp(at(d, "procs/note"), buf, sizeof buf);
		CHECK(!strcmp(buf, "unlocked"));
		child_done();
	}
	usleep(200000);
	nf = open(at(d, "procs/note"), O_CREAT | O_WRONLY | O_TRUNC, 0600);
	CHECK(nf >= 0 && write(nf, "unlocked", 8) == 8 && close(nf) == 0);
	int other = open(at(d, "procs/lock"), O_RDONLY);
	CHECK(other >= 0 && close(other) == 0); /* closing any descriptor of the file drops the lock */
	reap_child(pid, "record locks");
	CHECK(close(a) == 0 && close(fd) == 0);

	/* a child that closes every descriptor but the standard ones (as
	 * daemons and subprocess libraries do) still reaches the volume */
	pid = fork();
	if (pid == 0) {
		CHECK(syscall(SYS_close_range, 3U, ~0U, 0U) == 0);
		int cf = open(at(d, "procs/afterclose"), O_CREAT | O_WRONLY | O_TRUNC, 0600);
		CHECK(cf >= 0 && write(cf, "still here", 10) == 10 && close(cf) == 0);
		child_done();
	}
	reap_child(pid, "close_range");
	slurp(at(d, "procs/afterclose"), buf, sizeof buf);
	CHECK(!strcmp(buf, "still here"));

	/* the working directory inside the volume: getcwd, realpath and
	 * relative paths (databases chdir to their data directory) */
	char real[4096], cwd[4096], old[4096];
	CHECK(getcwd(old, sizeof old) != NULL);
	CHECK(realpath(d, real) != NULL);
	CHECK(chdir(at(d, "procs")) == 0);
	CHECK(getcwd(cwd, sizeof cwd) != NULL && !strcmp(cwd, at(real, "procs")));
	char rp[4096];
	CHECK(realpath("./cdir/unclosed", rp) != NULL && !strcmp(rp, at(real, "procs/cdir/unclosed")));
	CHECK(realpath(".", rp) != NULL && !strcmp(rp, cwd));
	int rf = open("./rel.txt", O_CREAT | O_WRONLY | O_TRUNC, 0600);
	CHECK(rf >= 0 && write(rf, "rel", 3) == 3 && close(rf) == 0);
	CHECK(access("./rel.txt", R_OK | W_OK) == 0 && access("rel.txt", F_OK) == 0);
	CHECK(chdir(old) == 0);
	slurp(at(d, "procs/rel.txt"), buf, sizeof buf);
	CHECK(!strcmp(buf, "rel"));
}

static volatile int opener_stop;

/* Opens and closes the image's root until told to stop: each open takes
 * the FS shield's lock and tells the volume shield that the descriptor
 * number is the FS shield's now. */
static void *opener(void *arg)
{
	long *opens = arg;
	while (!opener_stop) {
		int fd = open("/", O_RDONLY | O_DIRECTORY);
		CHECK(fd >= 0 && close(fd) == 0);
		++*opens;
	}
	return NULL;
}

/* Forks (the shields take their locks, volume then FS) while the opener
 * runs: an open that held the FS shield's lock while it took the volume
 * shield's deadlocked with the fork (postgres's initdb hung on it). */
static void do_forkopen(const char *d, long n)
{
	long opens = 0;
	pthread_t th;
	int fd = open(at(d, "forkopen.txt"), O_CREAT | O_RDWR, 0600); /* the volume shield holds a descriptor */
	CHECK(fd >= 0);
	CHECK(pthread_create(&th, NULL, opener, &opens) == 0);
	for (long i = 0; i < n && !fails; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		reap_child(pid, "fork beside opens");
	}
	opener_stop = 1;
	CHECK(pthread_join(th, NULL) == 0);
	CHECK(opens > 0 && close(fd) == 0);
	printf("%ld forks, %ld opens\n", n, opens);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	if (!strcmp(argv[1], "write"))
		do_write(argv[2]);
	else if (!strcmp(argv[1], "read"))
		do_read(argv[2]);
	else if (!strcmp(argv[1], "links"))
		do_links(argv[2]);
	else if (!strcmp(argv[1], "procs"))
		do_procs(argv[2]);
	else if (!strcmp(argv[1], "forkopen"))
		do_forkopen(argv[2], argc > 3 ? atol(argv[3]) : 500);
	else if (!strcmp(argv[1], "forks")) {
		/* N forked children, a volume file open in each, one after the
		 * other: their exits must not pile anything up */
		int fd = open(at(argv[2], "forks.txt"), O_CREAT | O_RDWR, 0600);
		CHECK(fd >= 0);
		for (long i = 0, n = argc > 3 ? atol(argv[3]) : 100; i < n && !fails; i++) {
			pid_t pid = fork();
			if (pid == 0)
				_exit(write(fd, "x", 1) == 1 ? 0 : 1);
			reap_child(pid, "fork loop");
		}
		struct stat st;
		CHECK(fstat(fd, &st) == 0 && st.st_size == (argc > 3 ? atol(argv[3]) : 100));
	} else {
		/* "cat DIR NAME": the content, or the errno */
		int fd = open(at(argv[2], argv[3]), O_RDONLY);
		char buf[256];
		ssize_t r = fd < 0 ? -1 : read(fd, buf, sizeof buf);
		if (r < 0) {
			printf("error %d %s\n", errno, strerror(errno));
			return 1;
		}
		fwrite(buf, 1, (size_t)r, stdout);
		return 0;
	}
	if (fails)
		return 1;
	printf("ok\n");
	return 0;
}
