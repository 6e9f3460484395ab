/* Calls that may block but provably do not (nonblock.h). */
#include "nonblock.h"
#include "sys.h"

/* One bit per descriptor: O_NONBLOCK as the host calls set it. */
#define NB_FDS 65536
static unsigned long nb_bits[NB_FDS / 64];

static int nb_get(long fd)
{
	if (fd < 0 || fd >= NB_FDS)
		return 0;
	return (__atomic_load_n(&nb_bits[fd / 64], __ATOMIC_RELAXED) >> (fd % 64)) & 1;
}

static void nb_set(long fd, int on)
{
	if (fd < 0 || fd >= NB_FDS)
		return;
	unsigned long bit = 1UL << (fd % 64);
	if (on)
		__atomic_or_fetch(&nb_bits[fd / 64], bit, __ATOMIC_RELAXED);
	else
		__atomic_and_fetch(&nb_bits[fd / 64], ~bit, __ATOMIC_RELAXED);
}

#define NB_FLAG 04000 /* O_NONBLOCK = SOCK_NONBLOCK = EFD/TFD/SFD/IN_NONBLOCK */

void rt_nb_track(long nr, const long *a, long r)
{
	if (r < 0)
		return;
	switch (nr) {
	case __NR_socket:
		nb_set(r, (a[1] & NB_FLAG) != 0);
		break;
	case __NR_accept:
		nb_set(r, 0);
		break;
	case __NR_accept4:
		nb_set(r, (a[3] & NB_FLAG) != 0);
		break;
	case __NR_open:
		nb_set(r, (a[1] & NB_FLAG) != 0);
		break;
	case __NR_openat:
		nb_set(r, (a[2] & NB_FLAG) != 0);
		break;
	case __NR_eventfd2:
		nb_set(r, (a[1] & NB_FLAG) != 0);
		break;
	case __NR_timerfd_create:
		nb_set(r, (a[1] & NB_FLAG) != 0);
		break;
	case __NR_signalfd4:
		nb_set(r, (a[3] & NB_FLAG) != 0);
		break;
	case __NR_inotify_init1:
		nb_set(r, (a[0] & NB_FLAG) != 0);
		break;
	case __NR_pipe2:
	case __NR_pipe:
		if (a[0]) {
			const int *fd = (const int *)a[0];
			int on = nr == __NR_pipe2 && (a[1] & NB_FLAG);
			nb_set(fd[0], on);
			nb_set(fd[1], on);
		}
		break;
	case __NR_socketpair:
		if (a[3]) {
			const int *fd = (const int *)a[3];
			nb_set(fd[0], (a[1] & NB_FLAG) != 0);
			nb_set(fd[1], (a[1] & NB_FLAG) != 0);
		}
		break;
	case __NR_dup:
		nb_set(r, nb_get(a[0]));
		break;
	case __NR_dup2:
	case __NR_dup3:
		nb_set(a[1], nb_get(a[0]));
		break;
	case __NR_fcntl:
		if (a[1] == 0 /* F_DUPFD */ || a[1] == 1030 /* F_DUPFD_CLOEXEC */)
			nb_set(r, nb_get(a[0]));
		else if (a[1] == 4 /* F_SETFL */)
			nb_set(a[0], (a[2] & NB_FLAG) != 0);
		break;
	case __NR_ioctl:
		if (a[1] == 0x5421 /* FIONBIO */ && a[2])
			nb_set(a[0], *(const int *)a[2] != 0);
		break;
	case __NR_close:
		nb_set(a[0], 0);
		break;
	case __NR_close_range:
		if (!(a[2] & 4 /* CLOSE_RANGE_CLOEXEC */))
			for (unsigned long fd = (unsigned long)a[0]; fd <= (unsigned long)a[1] && fd < NB_FDS; fd++)
				nb_set((long)fd, 0);
		break;
	}
}

static int zero_timespec(long p) { return p && !((const long *)p)[0] && !((const long *)p)[1]; }

int rt_call_nonblocking(long nr, const long *a)
{
	switch (nr) {
	case __NR_futex:
		switch (a[1] & 0x7f) { /* FUTEX_CMD_MASK */
		case 1:		       /* WAKE */
		case 3:		       /* REQUEUE */
		case 4:		       /* CMP_REQUEUE */
		case 5:		       /* WAKE_OP */
		case 10:	       /* WAKE_BITSET */
			return 1;
		}
		return 0; /* WAIT*, and the PI ops (owner = the caller's tid) */
	case __NR_epoll_wait:
	case __NR_epoll_pwait:
		return a[3] == 0;
	case __NR_epoll_pwait2:
		return zero_timespec(a[4]);
	case __NR_poll:
		return a[2] == 0;
	case __NR_ppoll:
		return zero_timespec(a[2]);
	case __NR_select:
		return zero_timespec(a[4]); /* struct timeval: two longs as well */
	case __NR_pselect6:
		return zero_timespec(a[4]);
	case __NR_read:
	case __NR_write:
	case __NR_readv:
	case __NR_writev:
	case __NR_accept:
	case __NR_accept4:
	case __NR_connect:
		return nb_get(a[0]);
	case __NR_sendfile:
		return nb_get(a[0]); /* the output descriptor (the input is a file) */
	case __NR_recvfrom:
	case __NR_sendto:
		return (a[3] & 0x40) != 0 /* MSG_DONTWAIT */ || nb_get(a[0]);
	case __NR_recvmsg:
	case __NR_sendmsg:
		return (a[2] & 0x40) != 0 || nb_get(a[0]);
	case __NR_wait4:
		return (a[2] & 1) != 0; /* WNOHANG */
	case __NR_waitid:
		return (a[3] & 1) != 0;
	case __NR_fcntl:
		return a[1] != 7 /* F_SETLKW */ && a[1] != 38 /* F_OFD_SETLKW */;
	case __NR_ioctl:
		switch ((unsigned long)a[1]) {
		case 0x5401: /* TCGETS */
		case 0x5413: /* TIOCGWINSZ */
		case 0x541B: /* FIONREAD */
		case 0x5421: /* FIONBIO */
		case 0x5451: /* FIOCLEX */
		case 0x5450: /* FIONCLEX */
			return 1;
		}
		return 0;
	}
	return 0;
}
