/* Table-driven test of the TLS record and readiness state machine
 * (runtime/lib/tlsconn.c), the part of the network shield that decides what
 * poll/select/epoll report and when a read would block.
 *
 * The server under test talks through a non-blocking socketpair (s[0]); the
 * test plays the network on s[1]: it carries the client's records to the
 * server in pieces it chooses (a partial header, half a record, two records
 * at once, garbage), so each case checks the readiness the application would
 * see after exactly that much ciphertext. The client is a tlsconn too, on
 * memory buffers. Certificates: testdata/tls (test-only). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tlscred.h"
#include "tlsconn.h"
#include "ecfast.h"
#include "testutil.h"

/* ---- I/O: the server's socket and the client's memory wire ---- */

static long sock_recv(void *ctx, void *buf, size_t len)
{
	long n = recv(*(int *)ctx, buf, len, MSG_DONTWAIT);
	return n < 0 ? -errno : n;
}

static int sock_sends; /* send calls, for the one-send-per-flight check */

static long sock_send(void *ctx, const void *buf, size_t len)
{
	sock_sends++;
	long n = send(*(int *)ctx, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	return n < 0 ? -errno : n;
}

static const struct tlsconn_io sock_io = {sock_recv, sock_send};

struct mem {
	uint8_t in[1 << 18], out[1 << 18];
	size_t inlen, outlen;
	int eof;
};

static long mem_recv(void *ctx, void *buf, size_t len)
{
	struct mem *m = ctx;
	if (!m->inlen)
		return m->eof ? 0 : -EAGAIN;
	if (len > m->inlen)
		len = m->inlen;
	memcpy(buf, m->in, len);
	memmove(m->in, m->in + len, m->inlen - len);
	m->inlen -= len;
	return (long)len;
}

static long mem_send(void *ctx, const void *buf, size_t len)
{
	struct mem *m = ctx;
	if (len > sizeof m->out - m->outlen)
		len = sizeof m->out - m->outlen;
	if (!len)
		return -EAGAIN;
	memcpy(m->out + m->outlen, buf, len);
	m->outlen += len;
	return (long)len;
}

static const struct tlsconn_io mem_io = {mem_recv, mem_send};

/* ---- fixtures ---- */

static struct tlscred_chain chain_ec, chain_rsa, chain_client, chain_client_other;
static struct tlscred_key key_ec, key_rsa, key_client, key_client_other;
static struct tlscred_anchors cas, other_cas;
static uint32_t days, secs;

static void load(const char *name, int (*parse)(const uint8_t *, size_t, void *), void *out)
{
	char p[256];
	size_t len;
	snprintf(p, sizeof p, "testdata/tls/%s", name);
	uint8_t *b = read_file(p, &len);
	if (!b || parse(b, len, out)) {
		fprintf(stderr, "cannot load %s (run from the repository root)\n", p);
		exit(1);
	}
	free(b);
}

static void fixtures(void)
{
	load("server-ec.pem", (void *)tlscred_chain_parse, &chain_ec);
	load("server-ec.key", (void *)tlscred_key_parse, &key_ec);
	load("server-rsa.pem", (void *)tlscred_chain_parse, &chain_rsa);
	load("server-rsa.key", (void *)tlscred_key_parse, &key_rsa);
	load("client.pem", (void *)tlscred_chain_parse, &chain_client);
	load("client.key", (void *)tlscred_key_parse, &key_client);
	load("client-other.pem", (void *)tlscred_chain_parse, &chain_client_other);
	load("client-other.key", (void *)tlscred_key_parse, &key_client_other);
	load("ca.pem", (void *)tlscred_anchors_parse, &cas);
	load("other-ca.pem", (void *)tlscred_anchors_parse, &other_cas);
	time_t t = time(NULL);
	days = (uint32_t)(t / 86400 + 719528);
	secs = (uint32_t)(t % 86400);
}

/* ---- a server and a client ---- */

struct pair {
	int s[2];
	struct tlsconn *srv, *cli;
	struct mem *wire;
};

struct opts {
	int rsa;	 /* server key RSA (else EC) */
	int mtls;	 /* server asks for client certificates */
	int client_cert; /* 0 none, 1 from the CA, 2 from another CA */
	int client_ca;	 /* 0 the right CA, 1 another */
	const char *name;
};

static void pair_open(struct pair *p, const struct opts *o)
{
	static const uint8_t seed[32] = {1, 2, 3};
	memset(p, 0, sizeof *p);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p->s))
		abort();
	for (int i = 0; i < 2; i++)
		fcntl(p->s[i], F_SETFL, O_NONBLOCK);
	p->srv = calloc(1, sizeof *p->srv);
	p->cli = calloc(1, sizeof *p->cli);
	p->wire = calloc(1, sizeof *p->wire);
	const struct tlscred_chain *ch = o->rsa ? &chain_rsa : &chain_ec;
	const struct tlscred_key *k = o->rsa ? &key_rsa : &key_ec;
	struct tlsconn_server_cfg sc = {ch->certs, ch->n, k->type, ch->issuer_key_type, &k->rsa, &k->ec, NULL, 0};
	if (o->mtls) {
		sc.client_cas = cas.ta;
		sc.nclient_cas = cas.n;
	}
	CHECK_EQ(tlsconn_server_init(p->srv, &sc, seed, days, secs), 0);
	const struct tlscred_anchors *a = o->client_ca ? &other_cas : &cas;
	struct tlsconn_client_cfg cc = {a->ta, a->n, NULL, 0, 0, NULL, NULL};
	if (o->client_cert) {
		const struct tlscred_chain *c = o->client_cert == 1 ? &chain_client : &chain_client_other;
		const struct tlscred_key *ck = o->client_cert == 1 ? &key_client : &key_client_other;
		cc.chain = c->certs;
		cc.chain_len = c->n;
		cc.key_type = ck->type;
		cc.rsa = &ck->rsa;
		cc.ec = &ck->ec;
	}
	CHECK_EQ(tlsconn_client_init(p->cli, &cc, o->name ? o->name : "localhost", seed, days, secs), 0);
	/* ECDHE and ECDSA on the runtime's curves, not BearSSL's defaults
	 * (which br_ssl_engine_set_default_ecdsa would have put back) */
	CHECK(br_ssl_engine_get_ec(tlsconn_engine(p->srv)) == &rt_ec_fast);
	CHECK(br_ssl_engine_get_ec(tlsconn_engine(p->cli)) == &rt_ec_fast);
}

static void pair_close(struct pair *p)
{
	close(p->s[0]);
	close(p->s[1]);
	free(p->srv);
	free(p->cli);
	free(p->wire);
}

/* The network: up to max bytes of the client's output to the server. */
static size_t c2s(struct pair *p, size_t max)
{
	size_t n = p->wire->outlen < max ? p->wire->outlen : max;
	if (n && write(p->s[1], p->wire->out, n) != (ssize_t)n)
		abort();
	memmove(p->wire->out, p->wire->out + n, p->wire->outlen - n);
	p->wire->outlen -= n;
	if (n)
		p->srv->sock_rd = 1; /* what a poll on the socket reports */
	return n;
}

/* The server's output to the client. */
static void s2c(struct pair *p)
{
	for (;;) {
		ssize_t n = read(p->s[1], p->wire->in + p->wire->inlen, sizeof p->wire->in - p->wire->inlen);
		if (n <= 0)
			break;
		p->wire->inlen += (size_t)n;
		p->cli->sock_rd = 1;
	}
}

/* Runs the handshake; returns 1 when both ends completed it. The server
 * must never look readable or writable before it completed. */
static int handshake(struct pair *p)
{
	for (int i = 0; i < 50; i++) {
		tlsconn_pump(p->cli, &mem_io, p->wire, 1);
		if (getenv("TLSDBG"))
			fprintf(stderr, "it %d: cli st %#x out %zu in %zu; srv st %#x rx %u\n", i,
				br_ssl_engine_current_state(tlsconn_engine(p->cli)), p->wire->outlen, p->wire->inlen,
				br_ssl_engine_current_state(tlsconn_engine(p->srv)), p->srv->rx_len);
		c2s(p, ~(size_t)0);
		int sends = sock_sends;
		unsigned ev = tlsconn_pump(p->srv, &sock_io, &p->s[0], 1);
		if (!p->srv->hs_done && !p->srv->err)
			CHECK_EQ(ev & (TLSCONN_IN | TLSCONN_OUT), 0);
		/* a flight (ServerHello .. ServerHelloDone; ChangeCipherSpec and
		 * Finished) in one send: records sent one by one wait for the
		 * peer's delayed ACK (Nagle) */
		CHECK_MSG(sock_sends - sends <= 1, "%d sends in one server flight", sock_sends - sends);
		s2c(p);
		if (p->srv->hs_done && p->cli->hs_done)
			return 1;
		if (p->srv->err || p->cli->err)
			return 0;
	}
	return 0;
}

/* The client writes msg; its records stay on the wire (not delivered). */
static size_t client_says(struct pair *p, const char *msg)
{
	struct tlsconn_iov v = {(void *)msg, strlen(msg)};
	size_t before = p->wire->outlen;
	CHECK_EQ(tlsconn_write(p->cli, &mem_io, p->wire, &v, 1, 0), (long)strlen(msg));
	return p->wire->outlen - before; /* the record's size */
}

static long srv_read(struct pair *p, char *buf, size_t n, int flags)
{
	struct tlsconn_iov v = {buf, n};
	return tlsconn_read(p->srv, &sock_io, &p->s[0], &v, 1, flags);
}

/* ---- the cases ---- */

static void test_handshakes(void)
{
	static const struct {
		const char *what;
		struct opts o;
		int ok;
		int srv_fails; /* the server's error is what the test expects */
	} cases[] = {
		{"ECDSA server", {0}, 1, 0},
		{"RSA server", {.rsa = 1}, 1, 0},
		{"client pins another CA", {.client_ca = 1}, 0, 0},
		{"wrong server name", {.name = "other.test"}, 0, 0},
		{"mutual TLS, client certificate", {.mtls = 1, .client_cert = 1}, 1, 0},
		{"mutual TLS, no client certificate", {.mtls = 1}, 0, 1},
		{"mutual TLS, certificate of another CA", {.mtls = 1, .client_cert = 2}, 0, 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pair p;
		pair_open(&p, &cases[i].o);
		int ok = handshake(&p);
		/* what remains in flight (alerts) */
		for (int k = 0; k < 4; k++) {
			tlsconn_pump(p.cli, &mem_io, p.wire, 1);
			c2s(&p, ~(size_t)0);
			tlsconn_pump(p.srv, &sock_io, &p.s[0], 1);
			s2c(&p);
		}
		if (ok != cases[i].ok)
			fprintf(stderr, "%s: handshake %d (server err %d/%d, client err %d/%d)\n", cases[i].what, ok,
				p.srv->err, p.srv->br_err, p.cli->err, p.cli->br_err);
		CHECK_EQ(ok, cases[i].ok);
		if (cases[i].srv_fails) {
			CHECK(p.srv->err != 0);
			unsigned ev = tlsconn_events(p.srv);
			CHECK((ev & TLSCONN_ERR) && (ev & TLSCONN_IN));
			char b[8];
			CHECK_EQ(srv_read(&p, b, sizeof b, 0), -ECONNRESET);
		}
		if (ok) {
			unsigned ev = tlsconn_events(p.srv);
			CHECK_EQ(ev & (TLSCONN_IN | TLSCONN_OUT | TLSCONN_ERR), TLSCONN_OUT);
			CHECK_EQ(tlsconn_needs(p.srv), TLSCONN_IN);
		}
		pair_close(&p);
	}
}

/* How a record of the client reaches the server, and what the server's
 * application sees after each piece. */
static void test_partial_records(void)
{
	static const struct {
		const char *what;
		size_t pieces[4]; /* bytes per delivery; ~0: the rest */
		int readable[4];  /* TLSCONN_IN after each delivery */
	} cases[] = {
		{"whole record", {~(size_t)0}, {1}},
		{"3 header bytes, then the rest", {3, ~(size_t)0}, {0, 1}},
		{"header, then all but one byte, then the last", {5, 20, ~(size_t)0}, {0, 0, 1}},
		{"one byte at a time at the start", {1, 1, 1, ~(size_t)0}, {0, 0, 0, 1}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pair p;
		struct opts o = {0};
		pair_open(&p, &o);
		CHECK(handshake(&p));
		uint32_t gen = p.srv->gen;
		size_t rec = client_says(&p, "GET / HTTP/1.1\r\n\r\n");
		CHECK(rec > 25);
		for (int k = 0; k < 4 && cases[i].pieces[k]; k++) {
			c2s(&p, cases[i].pieces[k]);
			unsigned ev = tlsconn_pump(p.srv, &sock_io, &p.s[0], 1);
			if (!!(ev & TLSCONN_IN) != cases[i].readable[k])
				fprintf(stderr, "%s: piece %d: events %#x\n", cases[i].what, k, ev);
			CHECK_EQ(!!(ev & TLSCONN_IN), cases[i].readable[k]);
			if (!(ev & TLSCONN_IN)) {
				/* a read must not block nor return ciphertext: EAGAIN,
				 * and the connection waits for the socket */
				char b[64];
				CHECK_EQ(srv_read(&p, b, sizeof b, 0), -EAGAIN);
				CHECK_EQ(tlsconn_needs(p.srv), TLSCONN_IN);
				CHECK_EQ(p.srv->gen, gen);
			}
		}
		CHECK(p.srv->gen != gen); /* an edge for edge-triggered epoll */
		char b[64] = {0};
		CHECK_EQ(srv_read(&p, b, sizeof b, 0), 18);
		CHECK(!memcmp(b, "GET / HTTP/1.1\r\n\r\n", 18));
		CHECK_EQ(tlsconn_events(p.srv) & TLSCONN_IN, 0);
		CHECK_EQ(srv_read(&p, b, sizeof b, 0), -EAGAIN);
		pair_close(&p);
	}
}

static void test_reads(void)
{
	struct pair p;
	struct opts o = {0};
	pair_open(&p, &o);
	CHECK(handshake(&p));
	char b[64];
	/* two records in one delivery: one read takes both (the second was staged) */
	client_says(&p, "first ");
	client_says(&p, "second");
	c2s(&p, ~(size_t)0);
	CHECK_EQ(srv_read(&p, b, sizeof b, 0), 12);
	CHECK(!memcmp(b, "first second", 12));
	/* a record and the start of the next: the first is readable, then EAGAIN */
	client_says(&p, "third");
	size_t r2 = client_says(&p, "fourth");
	c2s(&p, p.wire->outlen - r2 + 4);
	CHECK_EQ(srv_read(&p, b, sizeof b, 0), 5);
	CHECK_EQ(tlsconn_events(p.srv) & TLSCONN_IN, 0);
	CHECK_EQ(srv_read(&p, b, sizeof b, 0), -EAGAIN);
	c2s(&p, ~(size_t)0);
	/* small reads and MSG_PEEK leave the rest readable */
	CHECK_EQ(srv_read(&p, b, 3, TLSCONN_PEEK), 3);
	CHECK(tlsconn_events(p.srv) & TLSCONN_IN);
	CHECK_EQ(srv_read(&p, b, 2, 0), 2);
	CHECK(!memcmp(b, "fo", 2));
	CHECK_EQ(tlsconn_readable(p.srv), 4);
	CHECK(tlsconn_events(p.srv) & TLSCONN_IN);
	CHECK_EQ(srv_read(&p, b, sizeof b, 0), 4);
	/* scattered reads (readv) */
	client_says(&p, "abcdefgh");
	c2s(&p, ~(size_t)0);
	char x[3], y[10];
	struct tlsconn_iov v[2] = {{x, 3}, {y, 10}};
	CHECK_EQ(tlsconn_read(p.srv, &sock_io, &p.s[0], v, 2, 0), 8);
	CHECK(!memcmp(x, "abc", 3) && !memcmp(y, "defgh", 5));
	/* close_notify: end of stream, readable, RDHUP */
	tlsconn_shutdown(p.cli, &mem_io, p.wire);
	c2s(&p, ~(size_t)0);
	unsigned ev = tlsconn_pump(p.srv, &sock_io, &p.s[0], 1);
	CHECK((ev & TLSCONN_IN) && (ev & TLSCONN_RDHUP));
	CHECK_EQ(srv_read(&p, b, sizeof b, 0), 0);
	/* the server answered with its close_notify */
	s2c(&p);
	tlsconn_pump(p.cli, &mem_io, p.wire, 1);
	CHECK(p.cli->rd_closed);
	struct tlsconn_iov w = {"late", 4};
	CHECK_EQ(tlsconn_write(p.srv, &sock_io, &p.s[0], &w, 1, 0), -EPIPE);
	pair_close(&p);
}

/* The peer closes TCP without close_notify, or sends what is not TLS. */
static void test_bad_peers(void)
{
	static const struct {
		const char *what;
		const char *bytes;
		size_t len;
		int after_handshake;
		long read; /* what the application's read returns */
	} cases[] = {
		{"plain HTTP", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, 0, -ECONNRESET},
		{"garbage", "\x16\x03\x01\xff\xff garbage", 13, 0, -ECONNRESET},
		{"TCP FIN during the handshake", NULL, 0, 0, -ECONNRESET},
		{"TCP FIN after the handshake", NULL, 0, 1, 0},
		{"garbage after the handshake", "\x17\x03\x03\x00\x10 0123456789abcdef", 21, 1, -ECONNRESET},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pair p;
		struct opts o = {0};
		pair_open(&p, &o);
		if (cases[i].after_handshake)
			CHECK(handshake(&p));
		if (cases[i].len) {
			if (write(p.s[1], cases[i].bytes, cases[i].len) < 0)
				abort();
		} else {
			shutdown(p.s[1], SHUT_WR);
		}
		p.srv->sock_rd = 1;
		unsigned ev = tlsconn_pump(p.srv, &sock_io, &p.s[0], 1);
		CHECK(ev & TLSCONN_IN); /* the application reads and sees it */
		char b[64];
		long r = srv_read(&p, b, sizeof b, 0);
		if (r != cases[i].read)
			fprintf(stderr, "%s: read %ld\n", cases[i].what, r);
		CHECK_EQ(r, cases[i].read);
		pair_close(&p);
	}
}

/* Writes when the socket is full: accepted bytes stay in a pending record,
 * the connection is not writable and waits for OUT; when the peer drains
 * the socket the record goes and OUT comes back (a new edge). */
static void test_writes(void)
{
	struct pair p;
	struct opts o = {0};
	pair_open(&p, &o);
	struct tlsconn_iov w = {"early", 5};
	CHECK_EQ(tlsconn_write(p.srv, &sock_io, &p.s[0], &w, 1, 0), -EAGAIN); /* before the handshake */
	CHECK(handshake(&p));
	int sz = 4096;
	setsockopt(p.s[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	static char big[1 << 20];
	memset(big, 'x', sizeof big);
	size_t total = 0;
	long r;
	struct tlsconn_iov v = {big, sizeof big};
	while ((r = tlsconn_write(p.srv, &sock_io, &p.s[0], &v, 1, 0)) > 0)
		total += (size_t)r;
	CHECK_EQ(r, -EAGAIN);
	CHECK(total > 0 && total < sizeof big);
	CHECK(tlsconn_pending_out(p.srv));
	CHECK_EQ(tlsconn_events(p.srv) & TLSCONN_OUT, 0);
	CHECK(tlsconn_needs(p.srv) & TLSCONN_OUT);
	uint32_t gen = p.srv->gen;
	/* the peer reads everything; the client decrypts all that was accepted */
	size_t got = 0;
	static char rb[1 << 16];
	for (int k = 0; k < 10000 && got < total; k++) {
		s2c(&p);
		p.srv->sock_wr = 1; /* the socket became writable (a poll would say so) */
		tlsconn_pump(p.srv, &sock_io, &p.s[0], 0);
		struct tlsconn_iov rv = {rb, sizeof rb};
		long n = tlsconn_read(p.cli, &mem_io, p.wire, &rv, 1, 0);
		if (n > 0)
			got += (size_t)n;
	}
	CHECK_EQ(got, total);
	CHECK(!tlsconn_pending_out(p.srv));
	CHECK(tlsconn_events(p.srv) & TLSCONN_OUT);
	CHECK(p.srv->gen != gen);
	/* gathered writes (writev) make one record */
	struct tlsconn_iov g[3] = {{"HTTP/1.1 200 OK\r\n", 17}, {"\r\n", 2}, {"body", 4}};
	CHECK_EQ(tlsconn_write(p.srv, &sock_io, &p.s[0], g, 3, 0), 23);
	s2c(&p);
	char b[64];
	struct tlsconn_iov rv = {b, sizeof b};
	CHECK_EQ(tlsconn_read(p.cli, &mem_io, p.wire, &rv, 1, 0), 23);
	CHECK(!memcmp(b, "HTTP/1.1 200 OK\r\n\r\nbody", 23));
	/* shutdown queues close_notify; later writes fail */
	CHECK_EQ(tlsconn_shutdown(p.srv, &sock_io, &p.s[0]), 0);
	CHECK_EQ(tlsconn_write(p.srv, &sock_io, &p.s[0], g, 1, 0), -EPIPE);
	s2c(&p);
	CHECK_EQ(tlsconn_read(p.cli, &mem_io, p.wire, &rv, 1, 0), 0);
	pair_close(&p);
}

/* The client reads until it has n bytes or nothing more comes. */
static size_t cli_read_all(struct pair *p, char *buf, size_t n)
{
	size_t got = 0;
	for (int k = 0; k < 100 && got < n; k++) {
		s2c(p);
		struct tlsconn_iov rv = {buf + got, n - got};
		long r = tlsconn_read(p->cli, &mem_io, p->wire, &rv, 1, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* TLSCONN_MORE (a corked socket, MSG_MORE) holds bytes in the open record:
 * nothing leaves until a write without it, tlsconn_flush or shutdown seals
 * it, and then one record in one send; a full record leaves at once. */
static void test_held(void)
{
	struct pair p;
	struct opts o = {0};
	pair_open(&p, &o);
	CHECK(handshake(&p));
	char b[64];
	/* held, then sealed by tlsconn_flush: one send, one record */
	struct tlsconn_iov h = {"HTTP/1.1 200 OK\r\n\r\n", 19}, body = {"body", 4};
	sock_sends = 0;
	CHECK_EQ(tlsconn_write(p.srv, &sock_io, &p.s[0], &h, 1, TLSCONN_MORE), 19);
	CHECK_EQ(tlsconn_write(p.srv, &sock_io, &p.s[0], &body, 1, TLSCONN_MORE), 4);
	CHECK_EQ(sock_sends, 0);
	CHECK(p.srv->held);
	CHECK(!tlsconn_pending_out(p.srv)); /* nothing sealed waits for the socket */
	CHECK(tlsconn_events(p.srv) & TLSCONN_OUT);
	s2c(&p);
	struct tlsconn_iov rv = {b, sizeof b};
	CHECK_EQ(tlsconn_read(p.cli, &mem_io, p.wire, &rv, 1, 0), -EAGAIN); /* the client has nothing */
	CHECK_EQ(tlsconn_flush(p.srv, &sock_io, &p.s[0]), 0);
	CHECK_EQ(sock_sends, 1);
	CHECK(!p.srv->held);
	CHECK_EQ(cli_read_all(&p, b, 23), 23);
	CHECK(!memcmp(b, "HTTP/1.1 200 OK\r\n\r\nbody", 23));
	/* a flush with nothing held sends nothing */
	CHECK_EQ(tlsconn_flush(p.srv, &sock_io, &p.s[0]), 0);
	CHECK_EQ(sock_sends, 1);
	/* held, then a write without TLSCONN_MORE seals both in one send */
	sock_sends = 0;
	CHECK_EQ(tlsconn_write(p.srv, &sock_io, &p.s[0], &h, 1, TLSCONN_MORE), 19);
	CHECK_EQ(tlsconn_write(p.srv, &sock_io, &p.s[0], &body, 1, 0), 4);
	CHECK_EQ(sock_sends, 1);
	CHECK_EQ(cli_read_all(&p, b, 23), 23);
	CHECK(!memcmp(b, "HTTP/1.1 200 OK\r\n\r\nbody", 23));
	/* more than a record: the full ones leave, the rest is held */
	static char big[40000], rb[40000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 7);
	struct tlsconn_iov v = {big, sizeof big};
	sock_sends = 0;
	CHECK_EQ(tlsconn_write(p.srv, &sock_io, &p.s[0], &v, 1, TLSCONN_MORE), (long)sizeof big);
	CHECK(sock_sends >= 1);
	CHECK(p.srv->held);
	size_t early = cli_read_all(&p, rb, sizeof rb);
	CHECK(early >= 16384 && early < sizeof big);
	CHECK_EQ(tlsconn_flush(p.srv, &sock_io, &p.s[0]), 0);
	CHECK_EQ(early + cli_read_all(&p, rb + early, sizeof rb - early), sizeof big);
	CHECK(!memcmp(rb, big, sizeof big));
	/* held bytes go before close_notify */
	CHECK_EQ(tlsconn_write(p.srv, &sock_io, &p.s[0], &body, 1, TLSCONN_MORE), 4);
	CHECK_EQ(tlsconn_shutdown(p.srv, &sock_io, &p.s[0]), 0);
	CHECK_EQ(cli_read_all(&p, b, 4), 4);
	CHECK(!memcmp(b, "body", 4));
	CHECK_EQ(tlsconn_read(p.cli, &mem_io, p.wire, &rv, 1, 0), 0);
	pair_close(&p);
}

int main(void)
{
	fixtures();
	test_handshakes();
	test_partial_records();
	test_reads();
	test_bad_peers();
	test_writes();
	test_held();
	return test_summary("test_tlsconn");
}
