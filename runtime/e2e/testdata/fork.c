/* fork and friends under scone-run: one mode per argv[1], output compared
 * with a native run (dev mode) or checked (sim mode).
 *   wait      fork + waitpid, exit status, getppid
 *   exec      fork + execv(argv[2], "hello-from-exec") + wait
 *   pipe      pipeline: child writes into a pipe, parent reads
 *   file      child writes /tmp/fork-x (and renames, mkdirs, unlinks), parent reads
 *   system    system("echo from system; exit 3") and popen("echo from popen")
 *   spawn     posix_spawn(argv[2]) + a failing posix_spawn (exit 127)
 *   threads   fork from a process with 4 threads; the child allocates and
 *             writes, the threads keep running in the parent
 *   vfork     vfork + _exit / execv
 *   many      100 forks in a row (latency printed on stderr)
 *   killfs N  N children busy in the file system, each SIGKILLed at a random
 *             moment (inside a file-system call, often); then the parent
 *             still uses the file system */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int status_of(pid_t p)
{
	int st;
	if (waitpid(p, &st, 0) != p) {
		printf("waitpid failed: %s\n", strerror(errno));
		exit(1);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static volatile int stop;
static void *spin(void *arg)
{
	volatile long *n = arg;
	char name[64];
	snprintf(name, sizeof name, "/tmp/fork-spin-%d-%p", (int)getpid(), arg);
	while (!stop) {
		void *p = malloc(64);
		free(p);
		/* file work while other threads fork (the FS lock is taken around fork) */
		int fd = open(name, O_CREAT | O_RDWR | O_TRUNC, 0600);
		if (fd >= 0) {
			write(fd, name, strlen(name));
			close(fd);
			unlink(name);
		}
		(*n)++;
		usleep(100);
	}
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IONBF, 0);
	const char *m = argc > 1 ? argv[1] : "wait";
	if (!strcmp(m, "hello")) { /* the exec target */
		printf("hello from exec, argv[1]=%s\n", argc > 2 ? argv[2] : "");
		return 5;
	}
	if (!strcmp(m, "killfs")) {
		int n = argc > 2 ? atoi(argv[2]) : 100;
		srand(1);
		for (int i = 0; i < n; i++) {
			pid_t p = fork();
			if (p < 0)
				return 1;
			if (p == 0) {
				char path[64];
				snprintf(path, sizeof path, "/tmp/kf.%d", (int)getpid());
				for (;;) {
					int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
					if (fd >= 0) {
						if (write(fd, "x", 1) != 1)
							_exit(3);
						close(fd);
					}
					struct stat st;
					stat(path, &st);
					unlink(path);
				}
			}
			usleep((useconds_t)(rand() % 2000));
			kill(p, SIGKILL);
			waitpid(p, NULL, 0);
		}
		int fd = open("/tmp/kf.done", O_CREAT | O_WRONLY | O_TRUNC, 0644);
		if (fd < 0 || write(fd, "ok", 2) != 2)
			return 2;
		close(fd);
		struct stat st;
		if (stat("/tmp/kf.done", &st) < 0)
			return 2;
		unlink("/tmp/kf.done");
		printf("killfs: %d children killed, the file system still works (%ld bytes)\n", n, (long)st.st_size);
		return 0;
	}
	if (!strcmp(m, "wait")) {
		pid_t me = getpid();
		pid_t p = fork();
		if (p < 0) {
			printf("fork failed: %s\n", strerror(errno));
			return 1;
		}
		if (p == 0) {
			printf("child: ppid matches: %d\n", getppid() == me);
			exit(42);
		}
		printf("parent: child exit status %d\n", status_of(p));
		return 0;
	}
	if (!strcmp(m, "exec")) {
		pid_t p = fork();
		if (p == 0) {
			execl(argv[2], argv[2], "hello", "via-fork-exec", (char *)0);
			_exit(99);
		}
		printf("exec child status %d\n", status_of(p));
		return 0;
	}
	if (!strcmp(m, "pipe")) {
		int fd[2];
		if (pipe(fd))
			return 1;
		pid_t p = fork();
		if (p == 0) {
			close(fd[0]);
			for (int i = 0; i < 3; i++)
				dprintf(fd[1], "line %d\n", i);
			_exit(0);
		}
		close(fd[1]);
		char buf[256];
		ssize_t n, tot = 0;
		while ((n = read(fd[0], buf + tot, sizeof buf - 1 - tot)) > 0)
			tot += n;
		buf[tot] = 0;
		printf("parent read:\n%s", buf);
		printf("status %d\n", status_of(p));
		return 0;
	}
	if (!strcmp(m, "file")) {
		mkdir("/tmp", 0777);
		unlink("/tmp/fork-x");
		int fd = open("/tmp/fork-shared", O_CREAT | O_TRUNC | O_RDWR, 0644);
		pid_t p = fork();
		if (p == 0) {
			FILE *f = fopen("/tmp/fork-x", "w");
			if (!f)
				_exit(1);
			fprintf(f, "written by the child\n");
			fclose(f);
			mkdir("/tmp/fork-dir", 0755);
			rename("/tmp/fork-x", "/tmp/fork-dir/x");
			write(fd, "inherited fd\n", 13);
			_exit(0);
		}
		printf("status %d\n", status_of(p));
		char buf[128] = {0};
		int r = open("/tmp/fork-dir/x", O_RDONLY);
		if (r < 0) {
			printf("parent cannot open the child's file: %s\n", strerror(errno));
			return 1;
		}
		read(r, buf, sizeof buf - 1);
		close(r);
		printf("parent read: %s", buf);
		printf("old name gone: %d\n", access("/tmp/fork-x", F_OK) != 0);
		write(fd, "parent after\n", 13); /* at the offset the child moved (shared description) */
		memset(buf, 0, sizeof buf);
		pread(fd, buf, sizeof buf - 1, 0);
		printf("through the inherited fd:\n%s", buf);
		/* parent removes, child checks */
		unlink("/tmp/fork-dir/x");
		p = fork();
		if (p == 0)
			_exit(access("/tmp/fork-dir/x", F_OK) == 0 ? 1 : rmdir("/tmp/fork-dir") ? 2 : 0);
		printf("child saw the unlink and removed the dir: status %d\n", status_of(p));
		printf("dir gone in the parent: %d\n", access("/tmp/fork-dir", F_OK) != 0);
		return 0;
	}
	if (!strcmp(m, "system")) {
		int st = system("echo from system; exit 3");
		printf("system status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		FILE *f = popen("echo from popen | tr a-z A-Z", "r");
		if (!f) {
			printf("popen failed: %s\n", strerror(errno));
			return 1;
		}
		char buf[128] = {0};
		fgets(buf, sizeof buf, f);
		printf("popen read: %s", buf);
		printf("pclose status %d\n", WEXITSTATUS(pclose(f)));
		return 0;
	}
	if (!strcmp(m, "spawn")) {
		pid_t p;
		char *av[] = {argv[2], "hello", "via-posix_spawn", 0};
		int r = posix_spawn(&p, argv[2], 0, 0, av, environ);
		if (r) {
			printf("posix_spawn failed: %s\n", strerror(r));
			return 1;
		}
		printf("spawn status %d\n", status_of(p));
		char *bv[] = {"/nonexistent", 0};
		r = posix_spawn(&p, "/nonexistent", 0, 0, bv, environ);
		/* natively ENOENT; inside the enclave the child exits 127 */
		printf("failing spawn: %s\n", r == ENOENT ? "ENOENT" : r == 0 && status_of(p) == 127 ? "ENOENT" : "??");
		return 0;
	}
	if (!strcmp(m, "threads")) {
		mkdir("/tmp", 0777);
		pthread_t th[4];
		long cnt[4] = {0};
		for (int i = 0; i < 4; i++)
			pthread_create(&th[i], 0, spin, &cnt[i]);
		usleep(20000);
		for (int k = 0; k < 5; k++) {
			pid_t p = fork();
			if (p == 0) {
				/* only this thread exists here; malloc and stdio work */
				char *b = malloc(100000);
				memset(b, 'x', 100000);
				free(b);
				pthread_t t2;
				long c2 = 0;
				pthread_create(&t2, 0, spin, &c2);
				/* wait for the thread to make progress (bounded, not a fixed
				 * sleep: a loaded machine may not schedule it for a while) */
				for (int w = 0; w < 5000 && !*(volatile long *)&c2; w++)
					usleep(1000);
				stop = 1;
				pthread_join(t2, 0);
				_exit(c2 > 0 ? 7 : 8);
			}
			if (status_of(p) != 7) {
				printf("child %d failed\n", k);
				return 1;
			}
		}
		stop = 1;
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], 0);
		printf("5 forks from a 5-thread process: children ok, threads ran: %d\n",
		       cnt[0] > 0 && cnt[1] > 0 && cnt[2] > 0 && cnt[3] > 0);
		return 0;
	}
	if (!strcmp(m, "vfork")) {
		pid_t p = vfork();
		if (p == 0)
			_exit(9);
		printf("vfork _exit status %d\n", status_of(p));
		p = vfork();
		if (p == 0) {
			execl(argv[2], argv[2], "hello", "via-vfork", (char *)0);
			_exit(99);
		}
		printf("vfork exec status %d\n", status_of(p));
		return 0;
	}
	if (!strcmp(m, "many")) {
		int n = argc > 2 ? atoi(argv[2]) : 100;
		double t0 = now();
		for (int i = 0; i < n; i++) {
			pid_t p = fork();
			if (p == 0)
				_exit(0);
			status_of(p);
		}
		double dt = now() - t0;
		fprintf(stderr, "fork+exit+wait: %.1f us each\n", dt / n * 1e6);
		printf("%d forks ok\n", n);
		return 0;
	}
	printf("unknown mode %s\n", m);
	return 2;
}
