/* One TLS connection over a non-blocking socket: BearSSL's I/O-agnostic
 * engine (br_ssl_engine_sendrec_buf/recvrec_buf) driven by the calls the
 * application makes, and the readiness the application must see
 * (docs/net-shield.md).
 *
 * Nothing here blocks: every transfer goes through struct tlsconn_io, whose
 * recv and send never wait (-EAGAIN). A caller that must block (a blocking
 * socket) waits for the host events tlsconn_needs() names, then calls again.
 *
 * Readiness is that of the decrypted stream, never of the ciphertext:
 *  - TLSCONN_IN: plaintext can be read now without waiting (a complete
 *    record was decrypted), or the stream ended (close_notify, end of the
 *    TCP stream: a read returns 0), or failed (a read returns the error).
 *    Ciphertext that holds no complete record is not readable;
 *  - TLSCONN_OUT: the handshake is done and the engine takes application
 *    data (no record waiting for the socket);
 *  - TLSCONN_ERR, TLSCONN_HUP, TLSCONN_RDHUP as the kernel reports them for
 *    a TCP socket (values of POLL* and EPOLL* alike).
 * `gen` counts the changes that gave the application a readiness bit it did
 * not have (edge-triggered epoll reports those).
 *
 * Incoming ciphertext is staged in rx (one recv takes up to TLSCONN_RXBUF
 * bytes) and fed to the engine one record at a time; the engine holds one
 * decrypted record until the application has read it. Outgoing records are
 * gathered in tx and sent together once the engine has no more ready.
 *
 * Portable: no libc, no syscalls, no globals. The struct has no pointers to
 * itself other than those BearSSL keeps, so it may live in memory that
 * forked processes share at the same address. The caller serializes calls
 * on one connection. */
#ifndef SCONE_TLSCONN_H
#define SCONE_TLSCONN_H

#include <stddef.h>
#include <stdint.h>
#include <bearssl.h>

#define TLSCONN_RXBUF 16384
/* Outgoing records are gathered (one full record and a little more) so
 * that a flight of them leaves in one send: ServerHello, Certificate,
 * ServerKeyExchange and ServerHelloDone sent one by one made Nagle hold the
 * second until the client's delayed ACK, 40 ms per handshake. */
#define TLSCONN_TXBUF 17408

/* Readiness bits: the kernel's POLL and EPOLL values. */
#define TLSCONN_IN 0x001
#define TLSCONN_OUT 0x004
#define TLSCONN_ERR 0x008
#define TLSCONN_HUP 0x010
#define TLSCONN_RDHUP 0x2000

/* tlsconn_read flags */
#define TLSCONN_PEEK 1	  /* copy without consuming (MSG_PEEK) */
#define TLSCONN_WAITALL 2 /* informational: the caller loops (MSG_WAITALL) */
/* tlsconn_write flags */
#define TLSCONN_MORE 4 /* more follows (TCP_CORK, MSG_MORE): leave the record open */

struct tlsconn_io {
	/* Transfer without waiting: bytes moved (> 0), 0 at the end of the
	 * stream (recv), -EAGAIN when nothing can move now, or another
	 * negative errno. */
	long (*recv)(void *ctx, void *buf, size_t len);
	long (*send)(void *ctx, const void *buf, size_t len);
};

/* Same layout as struct iovec. */
struct tlsconn_iov {
	void *base;
	size_t len;
};

/* What a server presents and checks; shared by its connections, read only. */
struct tlsconn_server_cfg {
	const br_x509_certificate *chain;
	size_t chain_len;
	int key_type;	     /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	int issuer_key_type; /* the key type of the certificate's signer */
	const br_rsa_private_key *rsa;
	const br_ec_private_key *ec;
	/* Mutual TLS: client certificates must chain to these (NULL: no
	 * client certificate is asked for). */
	const br_x509_trust_anchor *client_cas;
	size_t nclient_cas;
};

/* What a client checks: the server's chain must end at one of these. */
struct tlsconn_client_cfg {
	const br_x509_trust_anchor *cas;
	size_t ncas;
	/* A client certificate to present when the server asks (optional). */
	const br_x509_certificate *chain;
	size_t chain_len;
	int key_type;
	const br_rsa_private_key *rsa;
	const br_ec_private_key *ec;
};

struct tlsconn {
	union {
		br_ssl_server_context s;
		br_ssl_client_context c;
	} u;
	br_x509_minimal_context x509;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	unsigned char rx[TLSCONN_RXBUF];
	uint32_t rx_off, rx_len; /* staged ciphertext */
	unsigned char tx[TLSCONN_TXBUF];
	uint32_t tx_len; /* records taken from the engine, not sent yet */
	uint8_t server;
	uint8_t hs_done;   /* the initial handshake completed */
	uint8_t sock_rd;   /* the socket may hold bytes not read yet (cleared by -EAGAIN) */
	uint8_t sock_wr;   /* the socket may take bytes (cleared by -EAGAIN) */
	uint8_t peer_eof;  /* recv returned 0 */
	uint8_t rd_closed; /* close_notify received: reads return 0 */
	uint8_t wr_shut;   /* close_notify queued (shutdown or close): writes fail */
	uint8_t held;	   /* application bytes in the engine's open record (TLSCONN_MORE) */
	int err;	   /* sticky negative errno once the connection failed */
	int br_err;	   /* BearSSL's error code when it failed (BR_ERR_*) */
	unsigned last_ev;  /* readiness after the last operation */
	uint32_t gen;	   /* readiness bits gained (edges) */
};

/* Prepares c (zeroed by the caller or not) for a server or client
 * handshake. seed: 32 bytes the host cannot choose. days/secs: the current
 * time for certificate validity (days since January 1st, 0 AD; seconds in
 * the day). server_name (client): checked against the server's certificate
 * and sent as SNI; NULL or "" checks the chain only. 0 or a negative errno. */
int tlsconn_server_init(struct tlsconn *c, const struct tlsconn_server_cfg *cfg, const uint8_t seed[32], uint32_t days,
			uint32_t secs);
int tlsconn_client_init(struct tlsconn *c, const struct tlsconn_client_cfg *cfg, const char *server_name,
			const uint8_t seed[32], uint32_t days, uint32_t secs);

/* Moves records between the engine and the socket as far as they go
 * without waiting; reads the socket only when may_recv (and the engine wants
 * input). Returns the readiness (tlsconn_events). */
unsigned tlsconn_pump(struct tlsconn *c, const struct tlsconn_io *io, void *ctx, int may_recv);
/* The application-visible readiness now (no I/O). */
unsigned tlsconn_events(const struct tlsconn *c);
/* The socket events that let the connection make progress: TLSCONN_IN
 * (the engine wants ciphertext) and/or TLSCONN_OUT (records wait to be
 * sent); 0 when nothing is pending. */
unsigned tlsconn_needs(const struct tlsconn *c);

/* Reads decrypted bytes into iov: count, 0 at the end of the stream,
 * -EAGAIN (nothing decrypted yet: wait for tlsconn_needs()), or the
 * connection's error. */
long tlsconn_read(struct tlsconn *c, const struct tlsconn_io *io, void *ctx, const struct tlsconn_iov *iov, int n,
		  int flags);
/* Encrypts and sends from iov: count accepted (every accepted byte is in a
 * record; records the socket did not take yet stay pending and are sent by
 * later calls), -EAGAIN (handshake not done, or a record still waits for
 * the socket), -EPIPE after shutdown or close_notify, or the error.
 * With TLSCONN_MORE the last record stays open for the next write (bytes
 * are held, as the kernel holds a corked socket's partial segment) until a
 * write without it, tlsconn_flush, tlsconn_shutdown, or the record is full. */
long tlsconn_write(struct tlsconn *c, const struct tlsconn_io *io, void *ctx, const struct tlsconn_iov *iov, int n,
		   int flags);
/* Seals the open record (held bytes) and sends what it can: 0 when
 * everything is sent, -EAGAIN while records remain pending, or the error. */
int tlsconn_flush(struct tlsconn *c, const struct tlsconn_io *io, void *ctx);
/* Seals held bytes, queues close_notify (once) and sends what it can: 0
 * when everything is sent, -EAGAIN while records remain pending. */
int tlsconn_shutdown(struct tlsconn *c, const struct tlsconn_io *io, void *ctx);
/* Decrypted bytes readable now without I/O (FIONREAD). */
size_t tlsconn_readable(const struct tlsconn *c);
/* Whether records wait to be sent. */
int tlsconn_pending_out(const struct tlsconn *c);
/* BearSSL's engine of c. */
br_ssl_engine_context *tlsconn_engine(struct tlsconn *c);

#endif
