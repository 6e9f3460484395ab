/* Network shield: start-up configuration (net.h). The ports and
 * destinations come from the measured config; certificates and keys from
 * the protected FS, read through the shields like the loader reads programs
 * (shield_call: the FS shield serves the path), or handed in at start-up
 * (struct shield_env: a CAS policy's); never from the host. */
#include <linux/fcntl.h>
#include "net.h"
#include "econfig.h"
#include "transport.h"
#include "rtstring.h"
#include "rtutil.h"
#include "rt_alloc.h"
#include "sys.h"

#define NET_PEM_MAX (4u << 20) /* bytes of one certificate, key or CA file */

struct net_state net_g;

/* Credentials, alive as long as the process (the engines point into them). */
static struct tlscred_chain srv_chain;
static struct tlscred_key srv_key;
static struct tlscred_anchors client_cas, server_cas;

uint64_t net_monotonic(void)
{
	struct {
		long sec, nsec;
	} ts = {0, 0};
	host_syscall(__NR_clock_gettime, 1 /* CLOCK_MONOTONIC */, (long)&ts, 0, 0, 0, 0);
	return (uint64_t)ts.sec * 1000000000ULL + (uint64_t)ts.nsec;
}

/* The host's clock (it is the host's anyway, as for every enclave):
 * certificate validity is checked against it. */
void net_now_x509(uint32_t *days, uint32_t *secs)
{
	struct {
		long sec, nsec;
	} ts = {0, 0};
	host_syscall(__NR_clock_gettime, 0 /* CLOCK_REALTIME */, (long)&ts, 0, 0, 0, 0);
	long t = ts.sec > 0 ? ts.sec : 0;
	*days = (uint32_t)(t / 86400 + 719528); /* 1970-01-01 is day 719528 after 0000-01-01 */
	*secs = (uint32_t)(t % 86400);
}

/* A whole file of the protected FS, read through the shields. */
static uint8_t *read_protected(const char *path, size_t *len, long *err)
{
	long fd = shield_call(__NR_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	size_t cap = 16384, n = 0;
	uint8_t *buf = rt_malloc(cap);
	*err = buf ? 0 : -ENOMEM;
	while (buf) {
		if (n == cap) {
			if (cap >= NET_PEM_MAX) {
				*err = -EFBIG;
				break;
			}
			uint8_t *b = rt_malloc(cap * 2);
			if (!b) {
				*err = -ENOMEM;
				break;
			}
			memcpy(b, buf, n);
			rt_memzero(buf, n);
			rt_free(buf);
			buf = b;
			cap *= 2;
		}
		long r = shield_call(__NR_read, fd, (long)(buf + n), (long)(cap - n), 0, 0, 0);
		if (r < 0 && r != -EINTR) {
			*err = r;
			break;
		}
		if (r == 0)
			break;
		if (r > 0)
			n += (size_t)r;
	}
	shield_call(__NR_close, fd, 0, 0, 0, 0, 0);
	if (*err) {
		if (buf) {
			rt_memzero(buf, n);
			rt_free(buf);
		}
		return NULL;
	}
	*len = n;
	return buf;
}

static void wipe_free(uint8_t *p, size_t n)
{
	if (p) {
		rt_memzero(p, n);
		rt_free(p);
	}
}

/* PEM from the environment (what: its name for messages) or from path. */
static uint8_t *pem_source(const uint8_t *given, size_t given_len, const char *path, const char *what, size_t *len)
{
	if (given) {
		uint8_t *b = rt_malloc(given_len ? given_len : 1);
		if (b) {
			memcpy(b, given, given_len);
			*len = given_len;
		}
		return b;
	}
	long err = 0;
	uint8_t *b = read_protected(path, len, &err);
	if (!b)
		rt_eprintf(
			"scone-run: network shield: cannot read the %s %s from the protected file system: error %ld\n",
			what, path, -err);
	return b;
}

static int load_server(const struct shield_env *env)
{
	const struct econfig *cfg = env->cfg;
	size_t clen = 0, klen = 0;
	uint8_t *cert = pem_source(env->tls_cert_pem, env->tls_cert_pem_len, cfg->tls_cert, "TLS certificate", &clen);
	uint8_t *key = cert ? pem_source(env->tls_key_pem, env->tls_key_pem_len, cfg->tls_key, "TLS key", &klen) : 0;
	if (!key) {
		wipe_free(cert, clen);
		return -ENOENT;
	}
	const char *src = env->tls_cert_pem ? "(from the start-up environment)" : cfg->tls_cert;
	int r = tlscred_chain_parse(cert, clen, &srv_chain);
	if (r)
		rt_eprintf("scone-run: network shield: TLS certificate %s: %s\n", src, tlscred_strerror(r));
	if (!r) {
		r = tlscred_key_parse(key, klen, &srv_key);
		if (r)
			rt_eprintf("scone-run: network shield: TLS key %s: %s\n",
				   env->tls_key_pem ? "(from the start-up environment)" : cfg->tls_key,
				   tlscred_strerror(r));
	}
	if (!r && (r = tlscred_key_matches(&srv_chain, &srv_key)))
		rt_eprintf("scone-run: network shield: TLS certificate %s and key: %s\n", src, tlscred_strerror(r));
	wipe_free(cert, clen);
	wipe_free(key, klen);
	if (r)
		return -EINVAL;
	net_g.srv = (struct tlsconn_server_cfg){
		.chain = srv_chain.certs,
		.chain_len = srv_chain.n,
		.key_type = srv_key.type,
		.issuer_key_type = srv_chain.issuer_key_type,
		.rsa = &srv_key.rsa,
		.ec = &srv_key.ec,
	};
	net_g.have_server = 1;
	return 0;
}

/* A CA bundle of the protected FS (what: its role, for messages). */
static int load_anchors(const char *path, const char *what, struct tlscred_anchors *out)
{
	size_t len = 0;
	uint8_t *pem = pem_source(NULL, 0, path, what, &len);
	if (!pem)
		return -ENOENT;
	int r = tlscred_anchors_parse(pem, len, out);
	wipe_free(pem, len);
	if (r) {
		rt_eprintf("scone-run: network shield: %s %s: %s\n", what, path, tlscred_strerror(r));
		return -EINVAL;
	}
	return 0;
}

static int load_client(const struct econfig *cfg)
{
	if (cfg->ntls_connect > NET_MAX_DESTS) {
		rt_eprintf("scone-run: network shield: %lu TLS connect destinations, at most %d\n",
			   (unsigned long)cfg->ntls_connect, NET_MAX_DESTS);
		return -E2BIG;
	}
	for (size_t i = 0; i < cfg->ntls_connect; i++)
		if (netaddr_parse(cfg->tls_connect[i], strlen(cfg->tls_connect[i]), &net_g.dests[i].a))
			return -EINVAL; /* econfig_parse checked them */
	net_g.ndests = cfg->ntls_connect;
	int r = load_anchors(cfg->tls_ca, "CA bundle (--tls-ca)", &server_cas);
	if (r)
		return r;
	net_g.cli = (struct tlsconn_client_cfg){.cas = server_cas.ta, .ncas = server_cas.n};
	net_g.have_client = 1;
	return 0;
}

int net_load_config(const struct shield_env *env)
{
	const struct econfig *cfg = env->cfg;
	if (!cfg)
		return 0;
	if (cfg->ntls_ports) {
		net_g.ports = cfg->tls_ports;
		net_g.nports = cfg->ntls_ports;
		int r = load_server(env);
		if (!r && cfg->tls_client_ca[0]) {
			r = load_anchors(cfg->tls_client_ca, "client CA bundle (--tls-client-ca)", &client_cas);
			net_g.srv.client_cas = client_cas.ta;
			net_g.srv.nclient_cas = client_cas.n;
		}
		if (r)
			return r;
	}
	return cfg->ntls_connect ? load_client(cfg) : 0;
}
