/* sim mode start-up (launch.h): software EINIT, FS key, protected FS, shields,
 * and the application's argv/env/cwd/ids from the measured config.
 *
 * Order, all before any application code:
 *  1. read config.bin and sigstruct.bin from SCONE_ENCLAVE_DIR (default
 *     /scone/enclave);
 *  2. re-measure: MRENCLAVE of (own executable from /proc/self/exe,
 *     config.bin) via sgxs_measure, after checking that the runtime's
 *     read-only segments in memory equal the file's bytes;
 *  3. SIGSTRUCT: RSA signature (sigstruct_verify), ENCLAVEHASH == MRENCLAVE;
 *  4. FS key: when the config names a CAS, from the CAS (einit_cas.c: the
 *     attest subsystem; a host key is refused), with the policy's secrets;
 *     else SCONE_FS_KEY_FILE, else SCONE_FS_KEY (both wiped from the
 *     environment) and the enclave identity its owner expects (the key file,
 *     SCONE_EXPECTED_*): fail closed (docs/keys.md); fs.img mapped inside the
 *     runtime region, fsp_open with expected root = config's fs_root;
 *  5. shields initialised (with the policy's files); argv/env/cwd/uid/gid
 *     from the config, the policy's env and args applied. */
#include <elf.h>
#include "launch.h"
#include "region.h"
#include "shield.h"
#include "shared.h"
#include "transport.h"
#include "thread.h"
#include "rtsched.h"
#include "ids.h"
#include "heap.h"
#include "econfig.h"
#include "sgxs.h"
#include "sigstruct.h"
#include "fsp.h"
#include "fskey.h"
#include "casmsg.h"
#include "einit_cas.h"
#include "devattest.h"
#include "rt_alloc.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

#define EINIT_FAIL(...) rt_fatal(RT_EX_CONFIG, "sim EINIT failed: " __VA_ARGS__)

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[b[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[b[i] & 15];
	}
	out[2 * n] = 0;
}

/* The runtime's read-only PT_LOAD segments and its RELRO range (function
 * pointer tables, .data.rel.ro and the GOT, in the writable segment) in
 * memory must equal the file: what is measured is what runs. The RELRO
 * pages are then made read-only, as a dynamic loader would. */
static void check_text(const uint8_t *elf, size_t len)
{
	const Elf64_Ehdr *eh = (const void *)elf;
	if (len < sizeof *eh || eh->e_phoff > len || eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
		EINIT_FAIL("own executable is not a valid ELF");
	const Elf64_Phdr *ph = (const void *)(elf + eh->e_phoff);
	int checked = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || (ph[i].p_flags & PF_W))
			continue;
		if (ph[i].p_offset > len || ph[i].p_filesz > len - ph[i].p_offset)
			EINIT_FAIL("own executable: segment %d outside the file", i);
		if (memcmp((const void *)ph[i].p_vaddr, elf + ph[i].p_offset, ph[i].p_filesz))
			EINIT_FAIL("runtime segment %d in memory differs from /proc/self/exe", i);
		checked++;
	}
	if (!checked)
		EINIT_FAIL("own executable has no read-only segment");
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_GNU_RELRO)
			continue;
		if (ph[i].p_offset > len || ph[i].p_filesz > len - ph[i].p_offset || ph[i].p_filesz != ph[i].p_memsz)
			EINIT_FAIL("own executable: RELRO range outside the file");
		if (memcmp((const void *)ph[i].p_vaddr, elf + ph[i].p_offset, ph[i].p_filesz))
			EINIT_FAIL("runtime RELRO data in memory differs from /proc/self/exe");
		unsigned long lo = ph[i].p_vaddr & ~(RT_PAGE - 1),
			      hi = (ph[i].p_vaddr + ph[i].p_memsz) & ~(RT_PAGE - 1);
		if (hi > lo && rt_sys3(__NR_mprotect, lo, hi - lo, RT_PROT_READ))
			EINIT_FAIL("cannot make the runtime's RELRO pages read-only");
	}
}

/* Overwrites the value of the host environment variable NAME in place (the
 * strings live on the initial stack, which /proc/self/environ shows): a key
 * or a key path must not outlive its use. */
static void wipe_env(const char *name)
{
	size_t nl = strlen(name);
	for (char **e = rt_environ; *e; e++)
		if (!rt_strncmp(*e, name, nl) && (*e)[nl] == '=') {
			volatile char *v = *e + nl + 1;
			while (*v)
				*v++ = 0;
		}
}

/* The FS key and the identity its owner expects (docs/keys.md): from
 * SCONE_FS_KEY_FILE (a key file), else SCONE_FS_KEY (64 hex digits, a bare
 * key). Both variables are wiped from the environment afterwards. */
static void load_key(struct fskey_file *out)
{
	const char *file = rt_getenv("SCONE_FS_KEY_FILE");
	const char *hexkey = rt_getenv("SCONE_FS_KEY");
	int r;
	unsigned line = 0;
	if (file && *file) {
		size_t n = 0;
		long err = 0;
		uint8_t *b = rt_read_host_file(file, FSKEY_MAX_FILE + 1, &n, &err);
		if (!b)
			rt_fatal(RT_EX_NOPERM, "cannot read the FS key file %s (SCONE_FS_KEY_FILE): error %ld", file,
				 -err);
		r = fskey_parse(b, n, out, &line);
		memset(b, 0, n);
		rt_free(b);
		if (r && line)
			rt_fatal(RT_EX_NOPERM, "FS key file %s, line %u: %s", file, line, fskey_strerror(r));
		if (r)
			rt_fatal(RT_EX_NOPERM, "FS key file %s: %s", file, fskey_strerror(r));
	} else if (hexkey && *hexkey) {
		r = fskey_parse((const uint8_t *)hexkey, strlen(hexkey), out, &line);
		if (r || !fskey_bare(&out->id))
			rt_fatal(RT_EX_NOPERM, "SCONE_FS_KEY: expected 64 hex digits");
	} else {
		rt_fatal(RT_EX_NOPERM, "no FS key: set SCONE_FS_KEY_FILE to a key file made by scone-build keygen");
	}
	wipe_env("SCONE_FS_KEY");
	wipe_env("SCONE_FS_KEY_FILE");
}

/* The identity the deployer names on the host, for a bare key:
 * SCONE_EXPECTED_MRSIGNER and SCONE_EXPECTED_MRENCLAVE (64 hex digits each). */
static void env_identity(struct fskey_identity *id)
{
	memset(id, 0, sizeof *id);
	const char *s = rt_getenv("SCONE_EXPECTED_MRSIGNER");
	if (s && *s) {
		if (rt_parse_hex(s, strlen(s), id->mrsigner, 32))
			rt_fatal(RT_EX_USAGE, "SCONE_EXPECTED_MRSIGNER: expected 64 hex digits");
		id->has_mrsigner = 1;
	}
	const char *e = rt_getenv("SCONE_EXPECTED_MRENCLAVE");
	if (e && *e) {
		if (rt_parse_hex(e, strlen(e), id->mrenclave[0], 32))
			rt_fatal(RT_EX_USAGE, "SCONE_EXPECTED_MRENCLAVE: expected 64 hex digits");
		id->n_mrenclave = 1;
	}
}

static const char *id_field(int which)
{
	switch (which) {
	case FSKEY_ID_MRSIGNER:
		return "MRSIGNER";
	case FSKEY_ID_MRENCLAVE:
		return "MRENCLAVE";
	case FSKEY_ID_ISVPRODID:
		return "ISVPRODID";
	default:
		return "ISVSVN";
	}
}

/* Fails closed: the key is used only for an enclave whose identity its
 * owner expects, named by the key file, or for a bare key by the deployer's
 * SCONE_EXPECTED_*; a bare key with neither runs only with the explicit
 * development switch SCONE_ALLOW_ANY_SIGNER=1. With a CAS (keyid NULL) the
 * policy named the enclaves the key goes to; SCONE_EXPECTED_*, when set,
 * must accept the enclave too. */
static void check_identity(const struct fskey_identity *keyid, const uint8_t mr[32], const struct sigstruct_info *si)
{
	static const struct fskey_identity none;
	int cas = !keyid;
	if (cas)
		keyid = &none;
	struct fskey_identity envid;
	env_identity(&envid);
	char got[65];
	const struct {
		const struct fskey_identity *id;
		const char *who;
	} ids[] = {{keyid, "the FS key file"}, {&envid, "SCONE_EXPECTED_*"}};
	int named = 0;
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		if (fskey_bare(ids[i].id))
			continue;
		named = 1;
		int w = fskey_check(ids[i].id, mr, si->mrsigner, si->isvprodid, si->isvsvn);
		if (!w)
			continue;
		if (w == FSKEY_ID_MRSIGNER || w == FSKEY_ID_MRENCLAVE) {
			hex(w == FSKEY_ID_MRSIGNER ? si->mrsigner : mr, 32, got);
			rt_fatal(
				RT_EX_NOPERM,
				"sim EINIT: this enclave's %s is %s, which %s does not expect: refusing to give it the FS key "
				"(an image re-signed or replaced by someone else?)",
				id_field(w), got, ids[i].who);
		}
		rt_fatal(RT_EX_NOPERM, "sim EINIT: this enclave's %s is %u, which %s does not accept (%s %u)",
			 id_field(w), w == FSKEY_ID_ISVPRODID ? si->isvprodid : si->isvsvn, ids[i].who,
			 w == FSKEY_ID_ISVPRODID ? "expected" : "minimum",
			 w == FSKEY_ID_ISVPRODID ? ids[i].id->isvprodid : ids[i].id->min_isvsvn);
	}
	if (named || cas)
		return;
	const char *dev = rt_getenv("SCONE_ALLOW_ANY_SIGNER");
	if (dev && !rt_strcmp(dev, "1")) {
		hex(si->mrsigner, 32, got);
		rt_eprintf("scone-run: WARNING: SCONE_ALLOW_ANY_SIGNER=1: giving the FS key to an enclave signed by %s "
			   "without checking who signed it (development only)\n",
			   got);
		return;
	}
	rt_fatal(RT_EX_NOPERM,
		 "the FS key names no enclave identity, so anyone could re-sign this image and receive it: use a key "
		 "file made by scone-build keygen (it records MRSIGNER), pin it with 'scone-build key pin', or set "
		 "SCONE_EXPECTED_MRSIGNER (SCONE_ALLOW_ANY_SIGNER=1 skips this check, for development only)");
}

/* The policy's files are in the enclave's file system now: the copies
 * go. */
static void wipe_files(struct casmsg_secrets *sec)
{
	for (size_t i = 0; i < sec->nfiles; i++) {
		rt_memzero(sec->files[i].data, sec->files[i].len);
		rt_free(sec->files[i].data);
		rt_memzero(sec->files[i].path, strlen(sec->files[i].path));
		rt_free(sec->files[i].path);
	}
	rt_free(sec->files);
	sec->files = 0;
	sec->nfiles = 0;
}

static const struct fsp *open_fs(const char *dir, const struct econfig *cfg, const uint8_t key[32])
{
	char path[512];
	rt_snprintf(path, sizeof path, "%s/fs.img", dir);
	long fd = rt_sys4(__NR_openat, RT_AT_FDCWD, path, RT_O_RDONLY | RT_O_CLOEXEC, 0);
	if (fd < 0)
		rt_fatal(RT_EX_NOINPUT, "cannot open the protected file system %s: error %ld", path, -fd);
	long size = rt_sys3(__NR_lseek, fd, 0, RT_SEEK_END);
	if (size <= 0)
		rt_fatal(RT_EX_NOINPUT, "%s: empty or unreadable (error %ld)", path, size < 0 ? -size : 0);
	const uint8_t *img = rt_region_map_file((size_t)size, (int)fd);
	rt_sys1(__NR_close, fd);
	if (!img)
		rt_fatal(RT_EX_OSERR, "cannot map %s", path);
	struct fsp *f = 0;
	int r = fsp_open(&f, img, (uint64_t)size, key, cfg->fs_root);
	if (r == -FSP_EKEY)
		rt_fatal(RT_EX_NOPERM, "wrong FS key for %s (%s)", path, fsp_strerror(r));
	if (r)
		rt_fatal(RT_EX_CONFIG, "protected file system %s rejected: %s", path, fsp_strerror(r));
	return f;
}

static int name_allowed(const struct econfig *cfg, const char *kv)
{
	for (size_t i = 0; i < cfg->host_envc; i++) {
		size_t l = strlen(cfg->host_env[i]);
		if (!rt_strncmp(kv, cfg->host_env[i], l) && kv[l] == '=')
			return 1;
	}
	return 0;
}

static int same_name(const char *a, const char *b)
{
	while (*a && *a != '=' && *a == *b)
		a++, b++;
	return *a == '=' && *b == '=';
}

/* Config env, with host variables the config allows overriding or adding,
 * then the CAS policy's variables (they win). SCONE_* from the host never
 * reach the application. */
static char **build_env(const struct econfig *cfg, const struct casmsg_secrets *sec)
{
	size_t nh = 0;
	for (char **e = rt_environ; *e; e++)
		nh++;
	char **out = rt_calloc(cfg->envc + nh + sec->nenv + 1, sizeof *out);
	if (!out)
		rt_fatal(RT_EX_SOFTWARE, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < cfg->envc; i++) {
		const char *v = cfg->env[i];
		for (char **e = rt_environ; *e; e++)
			if (same_name(*e, cfg->env[i]) && name_allowed(cfg, *e) && rt_strncmp(*e, "SCONE_", 6))
				v = *e;
		out[k++] = (char *)v;
	}
	for (char **e = rt_environ; *e; e++) {
		if (!rt_strncmp(*e, "SCONE_", 6) || !name_allowed(cfg, *e))
			continue;
		int dup = 0;
		for (size_t i = 0; i < cfg->envc; i++)
			dup |= same_name(*e, cfg->env[i]);
		if (!dup)
			out[k++] = *e;
	}
	out[k] = 0;
	einit_cas_env(out, k, sec->env, sec->nenv);
	return out;
}

void rt_sim_start(struct rt_launch *L, int host_argc, char **host_argv, long env_exit_cycles)
{
	const char *dir = rt_getenv("SCONE_ENCLAVE_DIR");
	if (!dir || !*dir)
		dir = "/scone/enclave";
	char path[512];
	size_t clen = 0, slen = 0, elen = 0;
	long err = 0;

	rt_snprintf(path, sizeof path, "%s/config.bin", dir);
	uint8_t *config = rt_read_host_file(path, ECONFIG_MAX_SIZE, &clen, &err);
	if (!config)
		rt_fatal(RT_EX_NOINPUT, "cannot read the enclave config %s: error %ld", path, -err);
	rt_snprintf(path, sizeof path, "%s/sigstruct.bin", dir);
	uint8_t *sig = rt_read_host_file(path, 4096, &slen, &err);
	if (!sig)
		rt_fatal(RT_EX_NOINPUT, "cannot read the SIGSTRUCT %s: error %ld", path, -err);
	uint8_t *elf = rt_read_host_file("/proc/self/exe", SGXS_MAX_IMAGE, &elen, &err);
	if (!elf)
		EINIT_FAIL("cannot read own executable /proc/self/exe: error %ld", -err);

	check_text(elf, elen);
	uint8_t mr[32];
	int r = sgxs_measure(elf, elen, config, clen, mr, 0);
	if (r)
		EINIT_FAIL("cannot measure the enclave: %s", sgxs_strerror(r));
	struct sigstruct_info si;
	r = sigstruct_verify(sig, slen, &si);
	if (r)
		EINIT_FAIL("SIGSTRUCT %s/sigstruct.bin: %s", dir, sigstruct_strerror(r));
	char h1[65], h2[65];
	if (memcmp(si.enclavehash, mr, 32)) {
		hex(mr, 32, h1);
		hex(si.enclavehash, 32, h2);
		EINIT_FAIL("MRENCLAVE mismatch: measured %s, SIGSTRUCT.ENCLAVEHASH %s", h1, h2);
	}
	rt_free(elf);
	rt_free(sig);

	struct econfig *cfg = 0;
	r = econfig_parse(config, clen, &cfg);
	if (r)
		EINIT_FAIL("config.bin: %s", econfig_strerror(r));
	if (!cfg->argc || !cfg->entrypoint[0])
		EINIT_FAIL("config.bin has no entrypoint");

	/* The transport the measured config names; the simulated exit cost
	 * may be overridden from the host for experiments (it only costs time). */
	uint64_t cycles = env_exit_cycles >= 0 ? (uint64_t)env_exit_cycles : cfg->exit_cycles;
	const char *tname = cfg->transport == ECONFIG_TRANSPORT_ASYNC ? "async" : "sync";
	r = transport_select(tname, cycles);
	if (r == -RT_ENOENT)
		rt_fatal(RT_EX_CONFIG, "config asks for the %s syscall transport, which this runtime does not have",
			 tname);
	if (r < 0)
		rt_fatal(RT_EX_OSERR, "cannot start the %s syscall transport: error %d", tname, -r);

	struct fskey_file key = {0};
	/* what a CAS releases (nothing without a CAS); it lives on: the
	 * application's env/args point into it, the volume keys stay */
	struct casmsg_secrets *sec = rt_calloc(1, sizeof *sec);
	if (!sec)
		rt_fatal(RT_EX_SOFTWARE, "out of memory");
	const uint8_t *fs_key;
	const struct vol_freshness *fresh = NULL;
	if (cfg->has_cas) {
		einit_cas(cfg, mr, &si, sec, &fresh);
		check_identity(NULL, mr, &si);
		fs_key = sec->fs_key;
	} else {
		load_key(&key);
		check_identity(&key.id, mr, &si);
		fs_key = key.key;
	}
	const struct fsp *fs = open_fs(dir, cfg, fs_key);
	struct sgx_identity id = {
		.isvprodid = si.isvprodid,
		.isvsvn = si.isvsvn,
		.miscselect = si.miscselect,
		.flags = si.attr_flags | SGX_FLAG_INIT, /* an initialized enclave's SECS.ATTRIBUTES */
		.xfrm = si.attr_xfrm,
	};
	memcpy(id.mrenclave, mr, 32);
	memcpy(id.mrsigner, si.mrsigner, 32);
	if (!rt_shield_find("fs"))
		rt_fatal(RT_EX_SOFTWARE,
			 "this runtime was built without the file-system shield: it cannot run an enclave");
	/* A runtime built without the network shield would serve in plaintext
	 * what the config asks to protect. */
	if ((cfg->ntls_ports || cfg->ntls_connect) && !rt_shield_find("net"))
		rt_fatal(RT_EX_CONFIG,
			 "config asks the network shield for TLS (%lu port(s), %lu destination(s)), but this runtime "
			 "was built without it; refusing to run rather than send plaintext",
			 (unsigned long)cfg->ntls_ports, (unsigned long)cfg->ntls_connect);
	struct shield_env env = {.fs = fs,
				 .cfg = cfg,
				 .fs_key = fs_key,
				 .mrenclave = mr,
				 .files = sec->files,
				 .nfiles = sec->nfiles,
				 .volume_keys = sec->volumes,
				 .nvolume_keys = sec->nvolumes,
				 .freshness = fresh,
				 .attestation = devattest_setup(&id)};
	/* the memory the shields share between the enclave's processes: the
	 * config's heap size, at least RT_ARENA_MIN (address space only) */
	r = rt_shared_setup(cfg->heap_size);
	if (r < 0)
		rt_fatal(RT_EX_OSERR, "cannot map the memory the enclave's processes share (%llu MiB): error %d",
			 (unsigned long long)((cfg->heap_size > RT_ARENA_MIN ? cfg->heap_size : RT_ARENA_MIN) >> 20),
			 -r);
	r = rt_shields_init(&env);
	fskey_wipe(&key);
	rt_memzero(sec->fs_key, sizeof sec->fs_key);
	wipe_files(sec);
	if (r == -RT_EXDEV) /* a policy's file on a host path (the FS shield said which) */
		rt_fatal(RT_EX_CONFIG, "the CAS policy's files cannot be placed");
	if (r < 0)
		rt_fatal(RT_EX_SOFTWARE, "shield initialisation failed: error %d", -r);

	char **argv = cfg->argv;
	if (sec->args_set) { /* the policy's arguments replace argv[1..] */
		argv = rt_calloc(sec->nargs + 2, sizeof *argv);
		if (!argv)
			rt_fatal(RT_EX_SOFTWARE, "out of memory");
		argv[0] = cfg->argv[0];
		for (size_t i = 0; i < sec->nargs; i++)
			argv[i + 1] = sec->args[i];
	} else if (cfg->host_args && host_argc > 1) {
		argv = rt_calloc((size_t)host_argc + 1, sizeof *argv);
		if (!argv)
			rt_fatal(RT_EX_SOFTWARE, "out of memory");
		argv[0] = cfg->argv[0];
		for (int i = 1; i < host_argc; i++)
			argv[i] = host_argv[i];
	}
	rt_max_threads = cfg->max_threads;
	/* the application's threads as user-level threads on max_threads
	 * enclave threads (rtsched.h) */
	if (cfg->scheduler == ECONFIG_SCHED_MN && rt_sched_init(rt_self_from_gs()) < 0)
		rt_fatal(RT_EX_OSERR, "cannot start the mn scheduler: out of memory");
	rt_heap_init(cfg->heap_size);
	rt_ids_init(cfg->uid, cfg->gid);
	L->path = cfg->entrypoint;
	L->resolve_argv0 = 1;
	L->require_program = cfg->entrypoint;
	L->argv = argv;
	L->envp = build_env(cfg, sec);
	L->cwd = cfg->cwd;
	L->uid = cfg->uid;
	L->gid = cfg->gid;
	/* cfg stays allocated: the application's argv/env point into it. */
}
