/* Enclave configuration (config.bin) parser.
 *
 * config.bin is the canonical, measured enclave configuration written by
 * pkg/enclave (Go). Its bytes are part of MRENCLAVE (see sgxs.h), so the
 * runtime may trust a parsed config once sim-EINIT has checked the
 * measurement. The encoding (version 1) is specified in docs/enclave.md:
 *
 *   "SCONECFG" | u32 version (1) | u32 body length | records
 *   record = u32 tag | u32 length | value      (little-endian)
 *
 * Records 1-21 are present exactly once, in ascending tag order; optional
 * records follow them in ascending order, each at most once, only when set
 * (so configs without them parse and measure as before): the CAS records
 * 22-24 (all three or none) and the network shield's client side and
 * mutual TLS (25-27), the protected volumes (28),
 * the scheduler (29). The parser refuses anything else (unknown version,
 * unknown, missing or repeated tag, trailing bytes, NUL inside strings,
 * out-of-range values), never trusts a length in
 * the input, allocates only with rt_malloc/rt_calloc/rt_free and keeps no
 * global state.
 */
#ifndef SCONE_ECONFIG_H
#define SCONE_ECONFIG_H

#include <stddef.h>
#include <stdint.h>

#define ECONFIG_MAGIC "SCONECFG"
#define ECONFIG_VERSION 1u
/* config.bin is at most this large (Go refuses to write bigger ones). */
#define ECONFIG_MAX_SIZE (1u << 20)

/* Record tags, in the order they appear. */
enum econfig_tag {
	ECONFIG_TAG_ARGV = 1,			/* string list */
	ECONFIG_TAG_ENV = 2,			/* string list, "NAME=value" */
	ECONFIG_TAG_HOST_ENV = 3,		/* string list of names the host may set */
	ECONFIG_TAG_HOST_ARGS = 4,		/* u32 0|1 */
	ECONFIG_TAG_CWD = 5,			/* string, absolute */
	ECONFIG_TAG_UID = 6,			/* u32 */
	ECONFIG_TAG_GID = 7,			/* u32 */
	ECONFIG_TAG_HEAP_SIZE = 8,		/* u64 bytes, page multiple */
	ECONFIG_TAG_STACK_SIZE = 9,		/* u64 bytes, page multiple */
	ECONFIG_TAG_MAX_THREADS = 10,		/* u32 */
	ECONFIG_TAG_FS_ROOT = 11,		/* 32 bytes */
	ECONFIG_TAG_CONSOLE = 12,		/* u32 0|1 */
	ECONFIG_TAG_TLS_PORTS = 13,		/* n x u16, strictly ascending */
	ECONFIG_TAG_TLS_CERT = 14,		/* string, path inside the FS, "" if no ports */
	ECONFIG_TAG_TLS_KEY = 15,		/* string, path inside the FS, "" if no ports */
	ECONFIG_TAG_TRANSPORT = 16,		/* u32 enum econfig_transport */
	ECONFIG_TAG_EXIT_CYCLES = 17,		/* u64 simulated enclave-exit cost, cycles */
	ECONFIG_TAG_ENTRYPOINT = 18,		/* string, absolute path inside the FS */
	ECONFIG_TAG_INTERP = 19,		/* string, absolute path or "" (static) */
	ECONFIG_TAG_LIBS = 20,			/* string list of absolute paths */
	ECONFIG_TAG_VOLUMES = 21,		/* string list of absolute host paths */
	ECONFIG_TAG_LAST = ECONFIG_TAG_VOLUMES, /* the last record every config has */
	/* Optional, in this order, only when set; 22-24 all three or none: */
	ECONFIG_TAG_CAS_ADDR = 22,	/* string, HOST:PORT (netaddr.h) */
	ECONFIG_TAG_CAS_ID = 23,	/* 32 bytes: SHA-256 of the CAS's DER public key */
	ECONFIG_TAG_CAS_POLICY = 24,	/* string, a policy name (docs/cas.md) */
	ECONFIG_TAG_TLS_CLIENT_CA = 25, /* string, path inside the FS: mutual TLS on the TLS ports */
	ECONFIG_TAG_TLS_CONNECT = 26,	/* string list of HOST:PORT (netaddr.h) */
	ECONFIG_TAG_TLS_CA = 27,	/* string, path inside the FS: CA bundle for TLS_CONNECT */
	ECONFIG_TAG_PVOLUMES = 28,	/* string list: protected volumes (docs/volume.md) */
	ECONFIG_TAG_SCHEDULER = 29,	/* u32 enum econfig_scheduler, only ECONFIG_SCHED_MN */
	ECONFIG_TAG_LAST_OPTIONAL = ECONFIG_TAG_SCHEDULER
};

enum econfig_transport { ECONFIG_TRANSPORT_SYNC = 1, ECONFIG_TRANSPORT_ASYNC = 2 };

/* OS (absent record): a kernel thread per application thread; MN: user-level
 * threads on the enclave threads (docs/runtime.md, "User-level threads"). */
enum econfig_scheduler { ECONFIG_SCHED_OS = 0, ECONFIG_SCHED_MN = 1 };

/* Limits checked by both the Go writer and this parser. */
#define ECONFIG_PAGE 4096u
#define ECONFIG_MIN_HEAP (1ull << 20)	/* 1 MiB */
#define ECONFIG_MAX_HEAP (16ull << 30)	/* 16 GiB */
#define ECONFIG_MIN_STACK (64ull << 10) /* 64 KiB */
#define ECONFIG_MAX_STACK (1ull << 30)	/* 1 GiB */
#define ECONFIG_MAX_THREADS 1024u
#define ECONFIG_MAX_POLICY 63	/* bytes of a policy name */
#define ECONFIG_MAX_PVOLUMES 16 /* protected volumes */

/* Error codes returned by econfig_parse (0 on success). */
#define ECONFIG_OK 0
#define ECONFIG_ETRUNC (-1)   /* input shorter than a length says */
#define ECONFIG_EMAGIC (-2)   /* not a config.bin */
#define ECONFIG_EVERSION (-3) /* unknown version */
#define ECONFIG_EFORMAT (-4)  /* bad tag order, record length, trailing bytes */
#define ECONFIG_EVALUE (-5)   /* a value out of range (NUL in string, ...) */
#define ECONFIG_ENOMEM (-6)
#define ECONFIG_EINVAL (-7)   /* NULL argument */
#define ECONFIG_ECODEVAR (-8) /* host env names a variable that chooses code (PATH, LD_*, ...) */

/* A parsed config. Every string is NUL-terminated; every string array has a
 * terminating NULL after its count entries (argv[argc] == NULL), so argv and
 * env can be handed to the application as they are. Optional strings
 * (tls_cert, tls_key, interp, cas_addr, cas_policy, tls_client_ca, tls_ca)
 * are "" when unset, never NULL. */
struct econfig {
	uint32_t version;

	char **argv;
	size_t argc;
	char **env; /* fixed environment, "NAME=value" */
	size_t envc;
	char **host_env; /* names of variables the host may set/override */
	size_t host_envc;
	int host_args; /* 1: the host may replace argv[1..] */

	char *cwd;
	uint32_t uid, gid;

	uint64_t heap_size;
	uint64_t stack_size;
	uint32_t max_threads;

	uint8_t fs_root[32];

	int console_shield;  /* 1: stdout/stderr are encrypted records */
	uint16_t *tls_ports; /* NULL when ntls_ports == 0 */
	size_t ntls_ports;
	char *tls_cert;
	char *tls_key;

	uint32_t transport; /* enum econfig_transport */
	uint32_t scheduler; /* enum econfig_scheduler */
	uint64_t exit_cycles;

	char *entrypoint;
	char *interp;
	char **libs;
	size_t nlibs;
	char **volumes;
	size_t nvolumes;
	/* Protected volumes (record 28): clean absolute paths other than /,
	 * none inside another, a plain volume, /proc, /dev or /sys; an empty
	 * list (never NULL) when the config names none. */
	char **pvolumes;
	size_t npvolumes;

	/* The CAS the enclave obtains its secrets from (records 22-24):
	 * has_cas 0 and "" / zero when the config names none. */
	int has_cas;
	char *cas_addr; /* HOST:PORT, validated with netaddr_parse */
	uint8_t cas_id[32];
	char *cas_policy; /* 1-63 of a-z 0-9 . _ -, starting with a letter or digit */

	/* The network shield's client side and mutual TLS (records 25-27):
	 * "" and an empty list when unset. */
	char *tls_client_ca;
	char **tls_connect; /* HOST:PORT, validated with netaddr_parse */
	size_t ntls_connect;
	char *tls_ca;
};

/* Parses buf[0:len] into a newly allocated *out (free with econfig_free).
 * Returns ECONFIG_OK or a negative ECONFIG_E* code; *out is NULL on error. */
int econfig_parse(const uint8_t *buf, size_t len, struct econfig **out);

/* Frees a config returned by econfig_parse; NULL is allowed. */
void econfig_free(struct econfig *c);

/* A static English description of an ECONFIG_* code. */
const char *econfig_strerror(int err);

#endif
