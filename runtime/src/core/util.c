/* Diagnostics, environment and parsing helpers (rtutil.h). */
#include "rtutil.h"
#include "rtstring.h"
#include "sys.h"
#include "rt_alloc.h"

char **rt_environ;
int rt_fsgsbase_ok;

static void put(char *buf, size_t n, size_t *pos, char c)
{
	if (*pos + 1 < n)
		buf[*pos] = c;
	(*pos)++;
}

static void putnum(char *buf, size_t n, size_t *pos, unsigned long v, unsigned base, int neg)
{
	char tmp[24];
	int i = 0;
	do {
		tmp[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		put(buf, n, pos, '-');
	while (i)
		put(buf, n, pos, tmp[--i]);
}

int rt_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
	size_t pos = 0;
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			put(buf, n, &pos, *f);
			continue;
		}
		f++;
		int lng = 0;
		while (*f == 'l' || *f == 'z') {
			lng = 1;
			f++;
		}
		switch (*f) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			for (s = s ? s : "(null)"; *s; s++)
				put(buf, n, &pos, *s);
			break;
		}
		case 'c':
			put(buf, n, &pos, (char)va_arg(ap, int));
			break;
		case 'd': {
			long v = lng ? va_arg(ap, long) : va_arg(ap, int);
			putnum(buf, n, &pos, v < 0 ? -(unsigned long)v : (unsigned long)v, 10, v < 0);
			break;
		}
		case 'u':
			putnum(buf, n, &pos, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, 0);
			break;
		case 'x':
			putnum(buf, n, &pos, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, 0);
			break;
		case 'p':
			put(buf, n, &pos, '0');
			put(buf, n, &pos, 'x');
			putnum(buf, n, &pos, (unsigned long)va_arg(ap, void *), 16, 0);
			break;
		case '%':
			put(buf, n, &pos, '%');
			break;
		default:
			put(buf, n, &pos, '?');
			if (!*f)
				f--;
		}
	}
	if (n)
		buf[pos < n ? pos : n - 1] = 0;
	return (int)pos;
}

int rt_snprintf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = rt_vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

static void veprintf(const char *fmt, va_list ap)
{
	char buf[1024];
	int len = rt_vsnprintf(buf, sizeof buf, fmt, ap);
	if (len > (int)sizeof buf - 1)
		len = sizeof buf - 1;
	rt_write(2, buf, (size_t)len);
}

void rt_eprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	veprintf(fmt, ap);
	va_end(ap);
}

void rt_fatal(int code, const char *fmt, ...)
{
	char buf[1100];
	va_list ap;
	va_start(ap, fmt);
	int len = rt_vsnprintf(buf, sizeof buf - 20, fmt, ap);
	va_end(ap);
	if (len > (int)sizeof buf - 21)
		len = sizeof buf - 21;
	static const char pre[] = "scone-run: ";
	rt_write(2, pre, sizeof pre - 1);
	buf[len++] = '\n';
	rt_write(2, buf, (size_t)len);
	rt_exit_group(code);
}

const char *rt_getenv(const char *name)
{
	size_t l = strlen(name);
	for (char **e = rt_environ; e && *e; e++)
		if (!rt_strncmp(*e, name, l) && (*e)[l] == '=')
			return *e + l + 1;
	return 0;
}

/* Reads a whole host file (runtime-internal: raw host syscalls, no shields),
 * at most max bytes, NUL-terminated (not counted in *len). Lengths the host
 * returns are checked. */
uint8_t *rt_read_host_file(const char *path, size_t max, size_t *len, long *err)
{
	long fd = rt_sys4(__NR_openat, RT_AT_FDCWD, path, RT_O_RDONLY | RT_O_CLOEXEC, 0);
	if (fd < 0) {
		*err = fd;
		return 0;
	}
	size_t cap = 64 * 1024, n = 0;
	uint8_t *buf = rt_malloc(cap);
	for (;;) {
		if (!buf) {
			*err = -RT_ENOMEM;
			break;
		}
		if (n + 1 >= cap) { /* keep a byte for the terminating NUL */
			if (cap > max) {
				*err = -RT_EINVAL; /* too large */
				rt_free(buf);
				buf = 0;
				break;
			}
			uint8_t *nb = rt_malloc(cap * 2);
			if (nb)
				memcpy(nb, buf, n);
			rt_free(buf);
			buf = nb;
			cap *= 2;
			continue;
		}
		long r = rt_sys3(__NR_read, fd, buf + n, cap - 1 - n);
		if (r == -RT_EINTR)
			continue;
		if (r < 0 || (size_t)r > cap - 1 - n) {
			*err = r < 0 ? r : -RT_EIO;
			rt_free(buf);
			buf = 0;
			break;
		}
		if (r == 0) {
			if (n > max) {
				*err = -RT_EINVAL; /* too large */
				rt_free(buf);
				buf = 0;
				break;
			}
			buf[n] = 0;
			*len = n;
			break;
		}
		n += (size_t)r;
	}
	rt_sys1(__NR_close, fd);
	return buf;
}
