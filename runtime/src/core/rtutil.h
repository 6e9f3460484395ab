/* Small libc-free helpers: diagnostics on the host's stderr, environment,
 * number parsing. */
#ifndef SCONE_RTUTIL_H
#define SCONE_RTUTIL_H
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>

/* Exit codes of scone-run (documented in docs/runtime.md). */
#define RT_EX_USAGE 64	      /* bad command line / mode */
#define RT_EX_NOINPUT 66      /* program or enclave file missing/unreadable */
#define RT_EX_UNAVAILABLE 69  /* the CAS could not be reached or stayed busy */
#define RT_EX_SOFTWARE 70     /* internal runtime error */
#define RT_EX_OSERR 71	      /* host refused a resource (mmap, prctl, ...) */
#define RT_EX_PROTOCOL 76     /* the CAS's answer is not the CAS protocol */
#define RT_EX_NOPERM 77	      /* wrong or missing FS key or quote key */
#define RT_EX_CONFIG 78	      /* enclave verification (sim EINIT) failed */
#define RT_EX_CAS_REFUSED 79  /* the CAS refused to release the secrets */
#define RT_EX_CAS_IDENTITY 80 /* the server is not the CAS the image pins */
#define RT_EX_ROLLBACK 81     /* a protected volume is older than the CAS's record */
#define RT_EX_NOEXEC 126      /* program cannot be loaded (bad ELF) */

/* printf subset: %s %c %d %u %ld %lu %lx %x %p %% (no width/precision). */
int rt_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int rt_snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void rt_eprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The name of system call nr, "an unknown system call" past the table
 * (sysname.c). */
const char *rt_sysname(long nr);
/* Tells the user once per system call number, on stderr, that the runtime
 * refuses it and why: "scone-run: NAME refused with ERR: WHY". For what a
 * program may hit but the enclave does not support (docs/compatibility.md). */
void rt_refuse_once(long nr, const char *err, const char *why);
__attribute__((noreturn)) void rt_fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern char **rt_environ;
const char *rt_getenv(const char *name);
/* A hexadecimal number at *p (lowercase or uppercase digits, as in
 * /proc/self/maps), *p left after it; 0 when there is none. */
unsigned long rt_parse_hexnum(const char **p);
/* Parses hex into out (exactly outlen bytes, ignoring one trailing newline). 0 ok. */
int rt_parse_hex(const char *s, size_t slen, unsigned char *out, size_t outlen);
/* Decimal unsigned; -1 on error. */
long rt_parse_ulong(const char *s);
/* Reads a whole host file with raw host syscalls (no shields), at most max
 * bytes, NUL-terminated; NULL and *err < 0 on failure. */
uint8_t *rt_read_host_file(const char *path, size_t max, size_t *len, long *err);

#endif
