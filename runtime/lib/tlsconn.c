/* One TLS connection over a non-blocking socket (tlsconn.h). */
#include <linux/errno.h>
#include <string.h>

#include "tlsconn.h"
#include "ecfast.h"

/* TLS 1.2 only, ECDHE key exchange, AEAD ciphers (AES-GCM, ChaCha20-Poly1305):
 * the server's order (ECDSA first; a server with an RSA key skips the ECDSA
 * suites, and the other way round). */
static const uint16_t suites[] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,	  BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,	  BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};

static const br_hash_class *const hashes[] = {
	&br_sha1_vtable, &br_sha224_vtable, &br_sha256_vtable, &br_sha384_vtable, &br_sha512_vtable,
};

br_ssl_engine_context *tlsconn_engine(struct tlsconn *c) { return c->server ? &c->u.s.eng : &c->u.c.eng; }

static const br_ssl_engine_context *eng_c(const struct tlsconn *c) { return c->server ? &c->u.s.eng : &c->u.c.eng; }

/* What both ends share: versions, suites, hashes, PRFs, ciphers, curves. */
static void profile(struct tlsconn *c, br_ssl_engine_context *e)
{
	br_ssl_engine_set_versions(e, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(e, suites, sizeof suites / sizeof suites[0]);
	for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
		br_ssl_engine_set_hash(e, hashes[i]->desc >> BR_HASHDESC_ID_OFF & BR_HASHDESC_ID_MASK, hashes[i]);
	br_ssl_engine_set_prf_sha256(e, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(e, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_aes_gcm(e);
	br_ssl_engine_set_default_chapol(e);
	br_ssl_engine_set_default_rsavrfy(e);
	br_ssl_engine_set_default_ecdsa(e);
	/* after set_default_ecdsa, which also sets BearSSL's curves: ECDHE and
	 * ECDSA verification on the runtime's 64-bit curves (ecfast.h) */
	br_ssl_engine_set_ec(e, &rt_ec_fast);
	br_ssl_engine_add_flags(e, BR_OPT_NO_RENEGOTIATION);
	br_ssl_engine_set_buffer(e, c->iobuf, sizeof c->iobuf, 1);
}

/* Certificate validation against anchors (the client's check of the
 * server, the server's check of client certificates). */
static void validator(struct tlsconn *c, const br_x509_trust_anchor *tas, size_t n, uint32_t days, uint32_t secs)
{
	br_x509_minimal_init(&c->x509, &br_sha256_vtable, tas, n);
	for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
		br_x509_minimal_set_hash(&c->x509, hashes[i]->desc >> BR_HASHDESC_ID_OFF & BR_HASHDESC_ID_MASK,
					 hashes[i]);
	br_x509_minimal_set_rsa(&c->x509, br_rsa_pkcs1_vrfy_get_default());
	br_x509_minimal_set_ecdsa(&c->x509, &rt_ec_fast, br_ecdsa_vrfy_asn1_get_default());
	br_x509_minimal_set_time(&c->x509, days, secs);
}

static void start(struct tlsconn *c, int server)
{
	c->rx_off = c->rx_len = c->tx_len = 0;
	c->server = (uint8_t)server;
	c->hs_done = c->peer_eof = c->rd_closed = c->wr_shut = 0;
	c->sock_rd = c->sock_wr = 1;
	c->err = c->br_err = 0;
	c->last_ev = 0;
	c->gen = 0;
}

int tlsconn_server_init(struct tlsconn *c, const struct tlsconn_server_cfg *cfg, const uint8_t seed[32], uint32_t days,
			uint32_t secs)
{
	start(c, 1);
	br_ssl_server_context *s = &c->u.s;
	br_ssl_server_zero(s);
	profile(c, &s->eng);
	if (cfg->key_type == BR_KEYTYPE_EC && cfg->ec)
		br_ssl_server_set_single_ec(s, cfg->chain, cfg->chain_len, cfg->ec, BR_KEYTYPE_SIGN,
					    (unsigned)cfg->issuer_key_type, &rt_ec_fast,
					    br_ecdsa_sign_asn1_get_default());
	else if (cfg->key_type == BR_KEYTYPE_RSA && cfg->rsa)
		br_ssl_server_set_single_rsa(s, cfg->chain, cfg->chain_len, cfg->rsa, BR_KEYTYPE_SIGN,
					     br_rsa_private_get_default(), br_rsa_pkcs1_sign_get_default());
	else
		return -EINVAL;
	if (cfg->nclient_cas) {
		validator(c, cfg->client_cas, cfg->nclient_cas, days, secs);
		br_ssl_server_set_trust_anchor_names_alt(s, cfg->client_cas, cfg->nclient_cas);
		br_ssl_engine_set_x509(&s->eng, &c->x509.vtable);
	}
	br_ssl_engine_inject_entropy(&s->eng, seed, 32);
	if (!br_ssl_server_reset(s))
		return -EIO;
	return 0;
}

int tlsconn_client_init(struct tlsconn *c, const struct tlsconn_client_cfg *cfg, const char *server_name,
			const uint8_t seed[32], uint32_t days, uint32_t secs)
{
	start(c, 0);
	br_ssl_client_context *cl = &c->u.c;
	br_ssl_client_zero(cl);
	profile(c, &cl->eng);
	br_ssl_client_set_default_rsapub(cl);
	validator(c, cfg->cas, cfg->ncas, days, secs);
	br_ssl_engine_set_x509(&cl->eng, &c->x509.vtable);
	if (cfg->chain_len && cfg->key_type == BR_KEYTYPE_EC && cfg->ec)
		br_ssl_client_set_single_ec(cl, cfg->chain, cfg->chain_len, cfg->ec, BR_KEYTYPE_SIGN, 0, &rt_ec_fast,
					    br_ecdsa_sign_asn1_get_default());
	else if (cfg->chain_len && cfg->key_type == BR_KEYTYPE_RSA && cfg->rsa)
		br_ssl_client_set_single_rsa(cl, cfg->chain, cfg->chain_len, cfg->rsa, br_rsa_pkcs1_sign_get_default());
	br_ssl_engine_inject_entropy(&cl->eng, seed, 32);
	if (!br_ssl_client_reset(cl, server_name && *server_name ? server_name : 0, 0))
		return -EIO;
	return 0;
}

/* ---- state ---- */

static void fail(struct tlsconn *c, int err)
{
	if (!c->err) {
		c->err = err;
		c->br_err = br_ssl_engine_last_error(eng_c(c));
	}
}

/* The engine is closed: a clean closure (close_notify) or a failure. */
static void closed(struct tlsconn *c)
{
	int e = br_ssl_engine_last_error(eng_c(c));
	if (e == BR_ERR_OK)
		c->rd_closed = 1;
	else
		fail(c, -ECONNRESET);
}

unsigned tlsconn_events(const struct tlsconn *c)
{
	if (c->err)
		return TLSCONN_IN | TLSCONN_OUT | TLSCONN_ERR | TLSCONN_HUP | TLSCONN_RDHUP;
	unsigned st = br_ssl_engine_current_state(eng_c(c)), ev = 0;
	int eof = c->rd_closed || (c->peer_eof && !c->rx_len && !(st & BR_SSL_RECVAPP));
	if ((st & BR_SSL_RECVAPP) || eof)
		ev |= TLSCONN_IN;
	if (eof)
		ev |= TLSCONN_RDHUP;
	/* writable: the engine takes data, or a write fails at once (EPIPE) */
	if ((c->hs_done && (st & BR_SSL_SENDAPP)) || c->wr_shut || (st & BR_SSL_CLOSED))
		ev |= TLSCONN_OUT;
	if (eof && (c->wr_shut || (st & BR_SSL_CLOSED)))
		ev |= TLSCONN_HUP;
	return ev;
}

unsigned tlsconn_needs(const struct tlsconn *c)
{
	if (c->err)
		return 0;
	unsigned st = br_ssl_engine_current_state(eng_c(c)), n = 0;
	if ((st & BR_SSL_SENDREC) || c->tx_len)
		n |= TLSCONN_OUT;
	if ((st & BR_SSL_RECVREC) && !c->rx_len && !c->peer_eof)
		n |= TLSCONN_IN;
	return n;
}

/* Records the readiness bits gained since the last call (edges). */
static unsigned note(struct tlsconn *c)
{
	unsigned ev = tlsconn_events(c);
	if (ev & ~c->last_ev)
		c->gen++;
	c->last_ev = ev;
	return ev;
}

int tlsconn_pending_out(const struct tlsconn *c)
{
	return !c->err && (c->tx_len || (br_ssl_engine_current_state(eng_c(c)) & BR_SSL_SENDREC));
}

size_t tlsconn_readable(const struct tlsconn *c)
{
	size_t n = 0;
	if (!c->err && br_ssl_engine_recvapp_buf(eng_c(c), &n))
		return n;
	return 0;
}

/* ---- moving records ---- */

unsigned tlsconn_pump(struct tlsconn *c, const struct tlsconn_io *io, void *ctx, int may_recv)
{
	br_ssl_engine_context *e = tlsconn_engine(c);
	while (!c->err) {
		unsigned st = br_ssl_engine_current_state(e);
		if (!c->hs_done && (st & BR_SSL_SENDAPP))
			c->hs_done = 1;
		/* take what the engine has ready; send once it has no more */
		if ((st & BR_SSL_SENDREC) && c->tx_len < sizeof c->tx) {
			size_t len;
			unsigned char *b = br_ssl_engine_sendrec_buf(e, &len);
			if (len > sizeof c->tx - c->tx_len)
				len = sizeof c->tx - c->tx_len;
			memcpy(c->tx + c->tx_len, b, len);
			c->tx_len += (uint32_t)len;
			br_ssl_engine_sendrec_ack(e, len);
			continue;
		}
		if (c->tx_len && c->sock_wr) {
			long n = io->send(ctx, c->tx, c->tx_len);
			if (n > 0 && (size_t)n <= c->tx_len) {
				memmove(c->tx, c->tx + n, c->tx_len - (size_t)n);
				c->tx_len -= (uint32_t)n;
			} else if (n == -EAGAIN || n == -EINTR) {
				c->sock_wr = 0;
			} else {
				fail(c, n < 0 ? (int)n : -EIO); /* 0 or more than asked: broken host */
			}
			continue;
		}
		if (st & BR_SSL_CLOSED) {
			if (!c->tx_len) /* its last records (close_notify) have left */
				closed(c);
			break;
		}
		if (!(st & BR_SSL_RECVREC))
			break;
		if (c->rx_len) {
			size_t len;
			unsigned char *b = br_ssl_engine_recvrec_buf(e, &len);
			if (len > c->rx_len)
				len = c->rx_len;
			memcpy(b, c->rx + c->rx_off, len);
			c->rx_off += (uint32_t)len;
			c->rx_len -= (uint32_t)len;
			br_ssl_engine_recvrec_ack(e, len);
			continue;
		}
		if (!may_recv || !c->sock_rd || c->peer_eof)
			break;
		long n = io->recv(ctx, c->rx, sizeof c->rx);
		if (n > 0 && (size_t)n <= sizeof c->rx) {
			c->rx_off = 0;
			c->rx_len = (uint32_t)n;
		} else if (n == 0) {
			c->peer_eof = 1;
			if (!c->hs_done)
				fail(c, -ECONNRESET); /* the peer left during the handshake */
		} else if (n == -EAGAIN || n == -EINTR) {
			c->sock_rd = 0;
		} else {
			fail(c, n < 0 ? (int)n : -EIO);
		}
	}
	if (!c->hs_done && (br_ssl_engine_current_state(e) & BR_SSL_SENDAPP))
		c->hs_done = 1;
	return note(c);
}

/* Copies up to len bytes from src into iov at offset *done. */
static size_t copy_out(const struct tlsconn_iov *iov, int n, size_t *done, const unsigned char *src, size_t len)
{
	size_t copied = 0, skip = *done;
	for (int i = 0; i < n && copied < len; i++) {
		if (skip >= iov[i].len) {
			skip -= iov[i].len;
			continue;
		}
		size_t k = iov[i].len - skip;
		if (k > len - copied)
			k = len - copied;
		memcpy((unsigned char *)iov[i].base + skip, src + copied, k);
		copied += k;
		skip = 0;
	}
	*done += copied;
	return copied;
}

static size_t iov_total(const struct tlsconn_iov *iov, int n)
{
	size_t t = 0;
	for (int i = 0; i < n; i++)
		t += iov[i].len;
	return t;
}

long tlsconn_read(struct tlsconn *c, const struct tlsconn_io *io, void *ctx, const struct tlsconn_iov *iov, int n,
		  int flags)
{
	br_ssl_engine_context *e = tlsconn_engine(c);
	size_t want = iov_total(iov, n), done = 0;
	int recvd = c->sock_rd; /* whether this call may ask the socket */
	if (c->err) {
		note(c);
		return c->err;
	}
	if (!want)
		return 0;
	for (;;) {
		tlsconn_pump(c, io, ctx, 1);
		size_t len;
		unsigned char *b = br_ssl_engine_recvapp_buf(e, &len);
		if (!b)
			break;
		size_t k = copy_out(iov, n, &done, b, len);
		if (flags & TLSCONN_PEEK)
			break;
		br_ssl_engine_recvapp_ack(e, k);
		/* more without another recv: a record already staged */
		if (done == want || !c->rx_len)
			break;
	}
	note(c);
	if (done)
		return (long)done;
	if (c->err)
		return c->err;
	if (c->rd_closed || c->peer_eof)
		return 0;
	/* "the socket was empty" holds until a readiness event says otherwise;
	 * an application that retries without one (busy polling) gets it once
	 * and the next read asks the socket again */
	if (!c->sock_rd && !recvd)
		c->sock_rd = 1;
	return -EAGAIN;
}

long tlsconn_write(struct tlsconn *c, const struct tlsconn_io *io, void *ctx, const struct tlsconn_iov *iov, int n,
		   int flags)
{
	br_ssl_engine_context *e = tlsconn_engine(c);
	if (c->err)
		return c->err;
	if (c->wr_shut || c->rd_closed)
		return -EPIPE;
	c->sock_wr = 1;
	tlsconn_pump(c, io, ctx, !c->hs_done);
	if (c->err) {
		note(c);
		return c->err;
	}
	if (!c->hs_done) {
		note(c);
		return -EAGAIN;
	}
	size_t want = iov_total(iov, n), done = 0;
	int idx = 0;
	size_t off = 0;
	while (done < want) {
		size_t len;
		unsigned char *b = br_ssl_engine_sendapp_buf(e, &len);
		if (b) {
			/* gather into the record being built */
			size_t k = 0;
			while (k < len && idx < n) {
				size_t m = iov[idx].len - off;
				if (m > len - k)
					m = len - k;
				memcpy(b + k, (const unsigned char *)iov[idx].base + off, m);
				k += m;
				off += m;
				if (off == iov[idx].len) {
					idx++;
					off = 0;
				}
			}
			if (k)
				br_ssl_engine_sendapp_ack(e, k);
			done += k;
			continue;
		}
		/* a full record waits for the socket */
		if (!(br_ssl_engine_current_state(e) & BR_SSL_SENDREC) || !c->sock_wr)
			break; /* (gathered records are sent by the pump below) */
		tlsconn_pump(c, io, ctx, 0);
		if (c->err || !c->sock_wr)
			break;
	}
	if (done && (flags & TLSCONN_MORE))
		c->held = 1; /* sealed by tlsconn_flush, or once the record is full */
	else if (done || c->held) {
		br_ssl_engine_flush(e, 0);
		c->held = 0;
	}
	tlsconn_pump(c, io, ctx, 0);
	note(c);
	if (done)
		return (long)done;
	return c->err ? c->err : -EAGAIN;
}

int tlsconn_flush(struct tlsconn *c, const struct tlsconn_io *io, void *ctx)
{
	if (c->err)
		return c->err;
	if (c->held) {
		c->held = 0;
		br_ssl_engine_flush(tlsconn_engine(c), 0);
	}
	c->sock_wr = 1;
	tlsconn_pump(c, io, ctx, 0);
	return tlsconn_pending_out(c) ? -EAGAIN : 0;
}

int tlsconn_shutdown(struct tlsconn *c, const struct tlsconn_io *io, void *ctx)
{
	if (c->err)
		return c->err;
	if (!c->wr_shut) {
		c->wr_shut = 1;
		if (c->held) { /* held bytes go before close_notify */
			c->held = 0;
			br_ssl_engine_flush(tlsconn_engine(c), 0);
		}
		br_ssl_engine_close(tlsconn_engine(c));
	}
	c->sock_wr = 1;
	tlsconn_pump(c, io, ctx, 0);
	return tlsconn_pending_out(c) ? -EAGAIN : 0;
}
