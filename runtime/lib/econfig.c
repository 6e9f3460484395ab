/* Enclave configuration (config.bin) parser; see econfig.h and docs/enclave.md. */
#include <string.h>

#include "econfig.h"
#include "netaddr.h"
#include "rt_alloc.h"

struct rd {
	const uint8_t *p;
	size_t n;
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static int take(struct rd *r, size_t n, const uint8_t **out)
{
	if (n > r->n)
		return ECONFIG_ETRUNC;
	*out = r->p;
	r->p += n;
	r->n -= n;
	return 0;
}

static int take32(struct rd *r, uint32_t *v)
{
	const uint8_t *p;
	int e = take(r, 4, &p);
	if (e == 0)
		*v = le32(p);
	return e;
}

/* Copies a string of n bytes (no NUL allowed inside) into a new buffer. */
static int dupstr(const uint8_t *p, size_t n, char **out)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == 0)
			return ECONFIG_EVALUE;
	char *s = rt_malloc(n + 1);
	if (s == NULL)
		return ECONFIG_ENOMEM;
	memcpy(s, p, n);
	s[n] = 0;
	*out = s;
	return 0;
}

static void free_list(char **l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; l[i] != NULL; i++)
		rt_free(l[i]);
	rt_free(l);
}

/* Parses a string-list value that must span exactly v[0:n]. */
static int parse_list(const uint8_t *v, size_t n, char ***out, size_t *count)
{
	struct rd r = {v, n};
	uint32_t c;
	int e = take32(&r, &c);
	if (e)
		return ECONFIG_EFORMAT;
	/* Each entry needs at least its 4-byte length: bounds the allocation. */
	if (c > r.n / 4)
		return ECONFIG_EFORMAT;
	char **l = rt_calloc((size_t)c + 1, sizeof(char *));
	if (l == NULL)
		return ECONFIG_ENOMEM;
	for (uint32_t i = 0; i < c; i++) {
		uint32_t sl;
		const uint8_t *sp;
		if (take32(&r, &sl) || take(&r, sl, &sp)) {
			free_list(l);
			return ECONFIG_EFORMAT;
		}
		e = dupstr(sp, sl, &l[i]);
		if (e) {
			free_list(l);
			return e;
		}
	}
	if (r.n != 0) {
		free_list(l);
		return ECONFIG_EFORMAT;
	}
	*out = l;
	*count = c;
	return 0;
}

static int is_abs(const char *s) { return s[0] == '/'; }

static int list_abs(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_abs(l[i]))
			return 0;
	return 1;
}

/* a is b or below b ("/" contains everything). */
static int within(const char *a, const char *b)
{
	size_t n = strlen(b);
	if (n == 1 && b[0] == '/')
		return 1;
	return strlen(a) >= n && memcmp(a, b, n) == 0 && (a[n] == 0 || a[n] == '/');
}

/* A clean absolute path other than "/": no "//", no "." or ".."
 * component, no trailing slash. */
static int clean_abs(const char *p)
{
	size_t n = strlen(p);
	if (n < 2 || n > 4095 || p[0] != '/' || p[n - 1] == '/')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '/')
			continue;
		const char *c = p + i + 1;
		if (c[0] == '/' || (c[0] == '.' && (c[1] == '/' || c[1] == 0)) ||
		    (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == 0)))
			return 0;
	}
	return 1;
}

/* The rules of pkg/enclave validateProtectedVolumes: 0 when they hold. */
static int validate_pvolumes(const struct econfig *c)
{
	static const char *const kernel[] = {"/proc", "/dev", "/sys"};
	if (c->npvolumes > ECONFIG_MAX_PVOLUMES)
		return -1;
	for (size_t i = 0; i < c->npvolumes; i++) {
		const char *p = c->pvolumes[i];
		if (!clean_abs(p))
			return -1;
		for (size_t k = 0; k < 3; k++)
			if (within(p, kernel[k]) || within(kernel[k], p))
				return -1;
		for (size_t j = 0; j < c->npvolumes; j++)
			if (i != j && (within(p, c->pvolumes[j]) || within(c->pvolumes[j], p)))
				return -1;
		for (size_t j = 0; j < c->nvolumes; j++)
			if (within(p, c->volumes[j]) || within(c->volumes[j], p))
				return -1;
	}
	return 0;
}

/* NAME: non-empty, no '='. */
static int valid_name(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '=')
			return 0;
	return 1;
}

static size_t name_len(const char *s)
{
	size_t i = 0;
	while (s[i] != 0 && s[i] != '=')
		i++;
	return i;
}

static int names_unique(char **l, size_t n, int env)
{
	for (size_t i = 0; i < n; i++) {
		size_t li = env ? name_len(l[i]) : strlen(l[i]);
		for (size_t j = 0; j < i; j++) {
			size_t lj = env ? name_len(l[j]) : strlen(l[j]);
			if (li == lj && memcmp(l[i], l[j], li) == 0)
				return 0;
		}
	}
	return 1;
}

/* Variables that choose which code runs (pkg/enclave/hostenv.go has the
 * same list): the host must not be allowed to set them. */
static int code_var(const char *n)
{
	static const char *const prefixes[] = {"LD_", "BASH_FUNC_", "LUA_PATH", "LUA_CPATH", "LUA_INIT"};
	static const char *const names[] = {"PATH",
					    "GCONV_PATH",
					    "PYTHONPATH",
					    "PYTHONHOME",
					    "PYTHONSTARTUP",
					    "PYTHONUSERBASE",
					    "PYTHONEXECUTABLE",
					    "PYTHONPLATLIBDIR",
					    "PYTHONBREAKPOINT",
					    "PERL5LIB",
					    "PERLLIB",
					    "PERL5OPT",
					    "PERL5DB",
					    "RUBYLIB",
					    "RUBYOPT",
					    "NODE_OPTIONS",
					    "NODE_PATH",
					    "JAVA_TOOL_OPTIONS",
					    "_JAVA_OPTIONS",
					    "JDK_JAVA_OPTIONS",
					    "CLASSPATH",
					    "BASH_ENV",
					    "ENV",
					    "SHELLOPTS",
					    "BASHOPTS",
					    "PS4",
					    "PROMPT_COMMAND",
					    "PHPRC",
					    "PHP_INI_SCAN_DIR",
					    "TCLLIBPATH"};
	size_t nl = strlen(n);
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		size_t pl = strlen(prefixes[i]);
		if (nl >= pl && memcmp(n, prefixes[i], pl) == 0)
			return 1;
	}
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == nl && memcmp(n, names[i], nl) == 0)
			return 1;
	return 0;
}

/* Records 25-27 (pkg/enclave/tlsconfig.go has the same rules). */
static int validate_tls(const struct econfig *c)
{
	if (c->tls_client_ca[0] && (!is_abs(c->tls_client_ca) || !c->ntls_ports))
		return ECONFIG_EVALUE;
	if (!c->ntls_connect != !c->tls_ca[0] || (c->tls_ca[0] && !is_abs(c->tls_ca)))
		return ECONFIG_EVALUE;
	for (size_t i = 0; i < c->ntls_connect; i++) {
		struct netaddr a;
		if (netaddr_parse(c->tls_connect[i], strlen(c->tls_connect[i]), &a))
			return ECONFIG_EVALUE;
	}
	if (!names_unique(c->tls_connect, c->ntls_connect, 0))
		return ECONFIG_EVALUE;
	return 0;
}

/* A CAS policy name: 1-63 of a-z 0-9 . _ -, starting with a letter or digit. */
static int valid_policy(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ECONFIG_MAX_POLICY)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return 0;
	}
	return 1;
}

static int validate_cas(const struct econfig *c)
{
	if (!c->has_cas)
		return 0;
	struct netaddr a;
	static const uint8_t zero[32];
	if (netaddr_parse(c->cas_addr, strlen(c->cas_addr), &a) || !memcmp(c->cas_id, zero, 32) ||
	    !valid_policy(c->cas_policy))
		return ECONFIG_EVALUE;
	return 0;
}

static int validate(const struct econfig *c)
{
	if (c->argc < 1)
		return ECONFIG_EVALUE;
	for (size_t i = 0; i < c->envc; i++) {
		size_t nl = name_len(c->env[i]);
		if (c->env[i][nl] != '=' || !valid_name(c->env[i], nl))
			return ECONFIG_EVALUE;
	}
	if (!names_unique(c->env, c->envc, 1))
		return ECONFIG_EVALUE;
	for (size_t i = 0; i < c->host_envc; i++) {
		if (!valid_name(c->host_env[i], strlen(c->host_env[i])))
			return ECONFIG_EVALUE;
		if (code_var(c->host_env[i]))
			return ECONFIG_ECODEVAR;
	}
	if (!names_unique(c->host_env, c->host_envc, 0))
		return ECONFIG_EVALUE;
	if (!is_abs(c->cwd))
		return ECONFIG_EVALUE;
	if (c->heap_size % ECONFIG_PAGE || c->heap_size < ECONFIG_MIN_HEAP || c->heap_size > ECONFIG_MAX_HEAP)
		return ECONFIG_EVALUE;
	if (c->stack_size % ECONFIG_PAGE || c->stack_size < ECONFIG_MIN_STACK || c->stack_size > ECONFIG_MAX_STACK)
		return ECONFIG_EVALUE;
	if (c->max_threads < 1 || c->max_threads > ECONFIG_MAX_THREADS)
		return ECONFIG_EVALUE;
	for (size_t i = 0; i < c->ntls_ports; i++)
		if (c->tls_ports[i] == 0 || (i > 0 && c->tls_ports[i] <= c->tls_ports[i - 1]))
			return ECONFIG_EVALUE;
	if (c->ntls_ports > 0) {
		if (!is_abs(c->tls_cert) || !is_abs(c->tls_key))
			return ECONFIG_EVALUE;
	} else if (c->tls_cert[0] != 0 || c->tls_key[0] != 0) {
		return ECONFIG_EVALUE;
	}
	if (c->transport != ECONFIG_TRANSPORT_SYNC && c->transport != ECONFIG_TRANSPORT_ASYNC)
		return ECONFIG_EVALUE;
	if (!is_abs(c->entrypoint))
		return ECONFIG_EVALUE;
	if (c->interp[0] != 0 && !is_abs(c->interp))
		return ECONFIG_EVALUE;
	if (!list_abs(c->libs, c->nlibs) || !list_abs(c->volumes, c->nvolumes))
		return ECONFIG_EVALUE;
	if (validate_pvolumes(c))
		return ECONFIG_EVALUE;
	int e = validate_cas(c);
	return e ? e : validate_tls(c);
}

static int bool32(const uint8_t *v, int *out)
{
	uint32_t x = le32(v);
	if (x > 1)
		return ECONFIG_EVALUE;
	*out = (int)x;
	return 0;
}

/* Fixed value length of each tag, or 0 for variable-length values. */
static size_t fixed_len(uint32_t tag)
{
	switch (tag) {
	case ECONFIG_TAG_HOST_ARGS:
	case ECONFIG_TAG_UID:
	case ECONFIG_TAG_GID:
	case ECONFIG_TAG_MAX_THREADS:
	case ECONFIG_TAG_CONSOLE:
	case ECONFIG_TAG_TRANSPORT:
	case ECONFIG_TAG_SCHEDULER:
		return 4;
	case ECONFIG_TAG_HEAP_SIZE:
	case ECONFIG_TAG_STACK_SIZE:
	case ECONFIG_TAG_EXIT_CYCLES:
		return 8;
	case ECONFIG_TAG_FS_ROOT:
	case ECONFIG_TAG_CAS_ID:
		return 32;
	default:
		return 0;
	}
}

static int record(struct econfig *c, uint32_t tag, const uint8_t *v, size_t n)
{
	size_t fl = fixed_len(tag);
	if (fl != 0 && n != fl)
		return ECONFIG_EFORMAT;
	switch (tag) {
	case ECONFIG_TAG_ARGV:
		return parse_list(v, n, &c->argv, &c->argc);
	case ECONFIG_TAG_ENV:
		return parse_list(v, n, &c->env, &c->envc);
	case ECONFIG_TAG_HOST_ENV:
		return parse_list(v, n, &c->host_env, &c->host_envc);
	case ECONFIG_TAG_HOST_ARGS:
		return bool32(v, &c->host_args);
	case ECONFIG_TAG_CWD:
		return dupstr(v, n, &c->cwd);
	case ECONFIG_TAG_UID:
		c->uid = le32(v);
		return 0;
	case ECONFIG_TAG_GID:
		c->gid = le32(v);
		return 0;
	case ECONFIG_TAG_HEAP_SIZE:
		c->heap_size = le64(v);
		return 0;
	case ECONFIG_TAG_STACK_SIZE:
		c->stack_size = le64(v);
		return 0;
	case ECONFIG_TAG_MAX_THREADS:
		c->max_threads = le32(v);
		return 0;
	case ECONFIG_TAG_FS_ROOT:
		memcpy(c->fs_root, v, 32);
		return 0;
	case ECONFIG_TAG_CONSOLE:
		return bool32(v, &c->console_shield);
	case ECONFIG_TAG_TLS_PORTS:
		if (n % 2)
			return ECONFIG_EFORMAT;
		c->ntls_ports = n / 2;
		if (n == 0)
			return 0;
		c->tls_ports = rt_calloc(n / 2, sizeof(uint16_t));
		if (c->tls_ports == NULL)
			return ECONFIG_ENOMEM;
		for (size_t i = 0; i < n / 2; i++)
			c->tls_ports[i] = (uint16_t)(v[2 * i] | v[2 * i + 1] << 8);
		return 0;
	case ECONFIG_TAG_TLS_CERT:
		return dupstr(v, n, &c->tls_cert);
	case ECONFIG_TAG_TLS_KEY:
		return dupstr(v, n, &c->tls_key);
	case ECONFIG_TAG_TRANSPORT:
		c->transport = le32(v);
		return 0;
	case ECONFIG_TAG_EXIT_CYCLES:
		c->exit_cycles = le64(v);
		return 0;
	case ECONFIG_TAG_ENTRYPOINT:
		return dupstr(v, n, &c->entrypoint);
	case ECONFIG_TAG_INTERP:
		return dupstr(v, n, &c->interp);
	case ECONFIG_TAG_LIBS:
		return parse_list(v, n, &c->libs, &c->nlibs);
	case ECONFIG_TAG_VOLUMES:
		return parse_list(v, n, &c->volumes, &c->nvolumes);
	case ECONFIG_TAG_CAS_ADDR:
		c->has_cas = 1;
		return dupstr(v, n, &c->cas_addr);
	case ECONFIG_TAG_CAS_ID:
		memcpy(c->cas_id, v, 32);
		return 0;
	case ECONFIG_TAG_CAS_POLICY:
		return dupstr(v, n, &c->cas_policy);
	case ECONFIG_TAG_TLS_CLIENT_CA:
		return n ? dupstr(v, n, &c->tls_client_ca) : ECONFIG_EVALUE;
	case ECONFIG_TAG_TLS_CONNECT: {
		int e = parse_list(v, n, &c->tls_connect, &c->ntls_connect);
		return e ? e : c->ntls_connect ? 0 : ECONFIG_EVALUE;
	}
	case ECONFIG_TAG_TLS_CA:
		return n ? dupstr(v, n, &c->tls_ca) : ECONFIG_EVALUE;
	case ECONFIG_TAG_PVOLUMES: {
		int e = parse_list(v, n, &c->pvolumes, &c->npvolumes);
		return e ? e : c->npvolumes ? 0 : ECONFIG_EFORMAT;
	}
	case ECONFIG_TAG_SCHEDULER:
		c->scheduler = le32(v);
		return c->scheduler == ECONFIG_SCHED_MN ? 0 : ECONFIG_EVALUE;
	default:
		return ECONFIG_EFORMAT;
	}
}

int econfig_parse(const uint8_t *buf, size_t len, struct econfig **out)
{
	if (out == NULL)
		return ECONFIG_EINVAL;
	*out = NULL;
	if (buf == NULL && len != 0)
		return ECONFIG_EINVAL;
	if (len < 16)
		return len >= 8 && memcmp(buf, ECONFIG_MAGIC, 8) != 0 ? ECONFIG_EMAGIC : ECONFIG_ETRUNC;
	if (memcmp(buf, ECONFIG_MAGIC, 8) != 0)
		return ECONFIG_EMAGIC;
	if (le32(buf + 8) != ECONFIG_VERSION)
		return ECONFIG_EVERSION;
	if (len > ECONFIG_MAX_SIZE)
		return ECONFIG_EFORMAT;
	uint32_t body = le32(buf + 12);
	if (body > len - 16)
		return ECONFIG_ETRUNC;
	if (body != len - 16)
		return ECONFIG_EFORMAT;

	struct econfig *c = rt_calloc(1, sizeof(*c));
	if (c == NULL)
		return ECONFIG_ENOMEM;
	c->version = ECONFIG_VERSION;
	struct rd r = {buf + 16, body};
	int e = 0;
	for (uint32_t want = 1; want <= ECONFIG_TAG_LAST; want++) {
		uint32_t tag, n;
		const uint8_t *v;
		if (take32(&r, &tag) || take32(&r, &n)) {
			e = ECONFIG_ETRUNC;
			break;
		}
		if (tag != want) {
			e = ECONFIG_EFORMAT;
			break;
		}
		if (take(&r, n, &v)) {
			e = ECONFIG_ETRUNC;
			break;
		}
		e = record(c, tag, v, n);
		if (e)
			break;
	}
	/* optional records: ascending, known, each once */
	uint32_t seen = 0;
	for (uint32_t last = ECONFIG_TAG_LAST; e == 0 && r.n != 0;) {
		uint32_t tag, n;
		const uint8_t *v;
		if (r.n < 8) { /* bytes after the last record */
			e = ECONFIG_EFORMAT;
			break;
		}
		if (take32(&r, &tag) || take32(&r, &n) || take(&r, n, &v)) {
			e = ECONFIG_ETRUNC;
			break;
		}
		if (tag <= last || tag > ECONFIG_TAG_LAST_OPTIONAL) {
			e = ECONFIG_EFORMAT;
			break;
		}
		last = tag;
		seen |= 1u << (tag - ECONFIG_TAG_LAST);
		e = record(c, tag, v, n);
	}
	/* the CAS records: all three or none */
	const uint32_t cas = 1u << (ECONFIG_TAG_CAS_ADDR - ECONFIG_TAG_LAST) |
			     1u << (ECONFIG_TAG_CAS_ID - ECONFIG_TAG_LAST) |
			     1u << (ECONFIG_TAG_CAS_POLICY - ECONFIG_TAG_LAST);
	if (e == 0 && (seen & cas) != 0 && (seen & cas) != cas)
		e = ECONFIG_EFORMAT;
	/* optional fields left unset: "" and an empty list, never NULL */
	if (e == 0 && !c->cas_addr)
		e = dupstr((const uint8_t *)"", 0, &c->cas_addr);
	if (e == 0 && !c->cas_policy)
		e = dupstr((const uint8_t *)"", 0, &c->cas_policy);
	if (e == 0 && !c->tls_client_ca)
		e = dupstr((const uint8_t *)"", 0, &c->tls_client_ca);
	if (e == 0 && !c->tls_ca)
		e = dupstr((const uint8_t *)"", 0, &c->tls_ca);
	if (e == 0 && !c->tls_connect && !(c->tls_connect = rt_calloc(1, sizeof(char *))))
		e = ECONFIG_ENOMEM;
	if (e == 0 && !c->pvolumes && !(c->pvolumes = rt_calloc(1, sizeof(char *))))
		e = ECONFIG_ENOMEM;
	if (e == 0)
		e = validate(c);
	if (e) {
		econfig_free(c);
		return e;
	}
	*out = c;
	return ECONFIG_OK;
}

void econfig_free(struct econfig *c)
{
	if (c == NULL)
		return;
	free_list(c->argv);
	free_list(c->env);
	free_list(c->host_env);
	rt_free(c->cwd);
	rt_free(c->tls_ports);
	rt_free(c->tls_cert);
	rt_free(c->tls_key);
	rt_free(c->entrypoint);
	rt_free(c->interp);
	free_list(c->libs);
	free_list(c->volumes);
	free_list(c->pvolumes);
	rt_free(c->cas_addr);
	rt_free(c->cas_policy);
	rt_free(c->tls_client_ca);
	free_list(c->tls_connect);
	rt_free(c->tls_ca);
	rt_free(c);
}

const char *econfig_strerror(int err)
{
	switch (err) {
	case ECONFIG_OK:
		return "ok";
	case ECONFIG_ETRUNC:
		return "enclave config truncated";
	case ECONFIG_EMAGIC:
		return "not an enclave config (bad magic)";
	case ECONFIG_EVERSION:
		return "unsupported enclave config version";
	case ECONFIG_EFORMAT:
		return "malformed enclave config record";
	case ECONFIG_EVALUE:
		return "invalid value in enclave config";
	case ECONFIG_ENOMEM:
		return "out of memory";
	case ECONFIG_EINVAL:
		return "invalid argument";
	case ECONFIG_ECODEVAR:
		return "the host may set a variable that chooses code to run (PATH, LD_*, PYTHONPATH, ...): refused";
	default:
		return "unknown enclave config error";
	}
}
