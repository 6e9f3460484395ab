package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scone-build/scone-build/internal/tlstest"
	"github.com/scone-build/scone-build/pkg/enclave"
)

// The marker every answer of netsrv holds: no byte sequence on the wire
// may contain it.
const netMarker = "PLAINTEXT-MARKER-7c1e"

// netServer is testdata/netsrv.c running under scone-run in sim mode with
// its port TLS-terminated by the network shield.
type netServer struct {
	port   int
	pool   *x509.CertPool
	caFile string
	cmd    *exec.Cmd
	out    *syncBuffer
	data   []byte // /srv/data.bin, served by sendfile
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startNetServer converts netsrv MODE with a fresh certificate and runs it.
func startNetServer(t testing.TB, mode string, mutate func(*enclave.Config, *tlstest.CA)) *netServer {
	t.Helper()
	rt := runtimeBin(t)
	bin := prog(t, "netsrv")
	ca, err := tlstest.NewCA("net e2e CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Server(tlstest.EC, "localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("protected file content "+netMarker+"\n"), 6000)
	port := freePort(t)
	entries := []tarEntry{
		{name: bin, content: mustRead(t, bin)},
		{name: "/etc/tls/server.pem", content: leaf.ChainPEM},
		{name: "/etc/tls/server.key", content: leaf.KeyPEM},
		{name: "/srv/data.bin", content: data},
	}
	e := makeEnclaveFiles(t, rt, entries, func(c *enclave.Config) {
		c.Argv = []string{"netsrv", mode, strconv.Itoa(port), "/srv/data.bin"}
		c.Entrypoint = bin
		c.TLSPorts = []uint16{uint16(port)}
		c.TLSCert, c.TLSKey = "/etc/tls/server.pem", "/etc/tls/server.key"
		if mutate != nil {
			mutate(c, ca)
		}
	})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, ca.CertPEM, 0o644)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	s := &netServer{port: port, pool: pool, caFile: caFile, data: data}
	s.start(t, rt, e.env())
	return s
}

// start runs scone-run with env and waits until the server's port accepts.
func (s *netServer) start(t testing.TB, rt string, env []string) {
	t.Helper()
	s.out = &syncBuffer{}
	s.cmd = exec.Command(rt)
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		if t.Failed() {
			t.Logf("server output:\n%s", s.out.String())
		}
	})
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", s.addr(), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i == 100 {
			t.Fatalf("server did not come up: %v\n%s", err, s.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s *netServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *netServer) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: s.pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// get does one HTTPS request over conn (a TCP connection to the server or
// to a recording proxy) and returns the body; the server must end the TLS
// stream with close_notify.
func (s *netServer) get(t testing.TB, conn net.Conn, path string) string {
	t.Helper()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	c := tls.Client(conn, s.tlsConfig())
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path)
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("GET %s: status %q", path, status)
	}
	n := -1
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("GET %s: header: %v", path, err)
		}
		if l == "\r\n" {
			break
		}
		if v, ok := strings.CutPrefix(l, "Content-Length: "); ok {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		t.Fatalf("GET %s: body: %v", path, err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("GET %s: after the body: %v, want io.EOF (close_notify)", path, err)
	}
	return string(body)
}

func (s *netServer) dial(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// recorder is a TCP proxy that keeps every byte it forwards, both ways.
type recorder struct {
	l    net.Listener
	mu   sync.Mutex
	seen bytes.Buffer
	wg   sync.WaitGroup
}

func newRecorder(t testing.TB, to string) *recorder {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			r.wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer r.wg.Done()
				buf := make([]byte, 32<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 {
						r.mu.Lock()
						r.seen.Write(buf[:n])
						r.mu.Unlock()
						dst.Write(buf[:n])
					}
					if err != nil {
						if tc, ok := dst.(*net.TCPConn); ok {
							tc.CloseWrite()
						}
						return
					}
				}
			}
			go pipe(s, c)
			go pipe(c, s)
		}
	}()
	t.Cleanup(func() { l.Close() })
	return r
}

func (r *recorder) dial(t testing.TB) net.Conn {
	c, err := net.Dial("tcp", r.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (r *recorder) bytes() []byte {
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.seen.Bytes())
}

var netModes = []string{"block", "fork", "poll", "select", "epoll-lt", "epoll-et"}

// TestNetShieldServes: a plain-HTTP server converted with a TLS port serves
// HTTPS to verifying clients in every I/O style (blocking, forked children,
// poll, select, level- and edge-triggered epoll): small answers, 1 MiB
// answers (the socket fills: partial writes, EAGAIN, EPOLLOUT), a protected
// file by sendfile, concurrent clients; and every byte on the wire is
// ciphertext (a recording proxy never sees the marker the answers hold).
func TestNetShieldServes(t *testing.T) {
	for _, mode := range netModes {
		t.Run(mode, func(t *testing.T) {
			s := startNetServer(t, mode, nil)
			rec := newRecorder(t, s.addr())
			if got := s.get(t, rec.dial(t), "/x"); !strings.Contains(got, "hello "+mode+" /x "+netMarker) {
				t.Fatalf("GET /x: %q", got)
			}
			big := s.get(t, rec.dial(t), "/big")
			if len(big) != 1<<20 || !strings.HasPrefix(big, netMarker) || big[1<<20-1] != byte('a'+(1<<20-1)%26) {
				t.Fatalf("GET /big: %d bytes, starts %q", len(big), big[:min(len(big), 40)])
			}
			if got := s.get(t, rec.dial(t), "/file"); got != string(s.data) {
				t.Fatalf("GET /file (sendfile of a protected file): %d bytes, want %d", len(got), len(s.data))
			}
			var wg sync.WaitGroup
			errs := make(chan string, 16)
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					conn := rec.dial(t)
					if got := s.get(t, conn, fmt.Sprintf("/c%d", i)); !strings.Contains(got, fmt.Sprintf("/c%d ", i)) {
						errs <- got
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Errorf("concurrent GET: %q", e)
			}
			wire := rec.bytes()
			if len(wire) < 1<<20 {
				t.Fatalf("recorded only %d bytes", len(wire))
			}
			if bytes.Contains(wire, []byte(netMarker)) || bytes.Contains(wire, []byte("HTTP/1.1")) {
				t.Fatal("plaintext on the wire")
			}
		})
	}
}

// TestNetShieldClients: curl and openssl s_client, verifying the
// certificate, against a converted server.
func TestNetShieldClients(t *testing.T) {
	s := startNetServer(t, "epoll-et", nil)
	t.Run("curl", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl not installed")
		}
		out, err := exec.Command("curl", "-sS", "--cacert", s.caFile, "--resolve", "localhost:"+strconv.Itoa(s.port)+":127.0.0.1",
			"https://localhost:"+strconv.Itoa(s.port)+"/curl").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "hello epoll-et /curl") {
			t.Fatalf("curl: %v\n%s", err, out)
		}
	})
	t.Run("openssl s_client", func(t *testing.T) {
		if _, err := exec.LookPath("openssl"); err != nil {
			t.Skip("openssl not installed")
		}
		cmd := exec.Command("openssl", "s_client", "-connect", s.addr(), "-CAfile", s.caFile, "-verify_return_error",
			"-servername", "localhost", "-quiet", "-ign_eof")
		cmd.Stdin = strings.NewReader("GET /s_client HTTP/1.1\r\nHost: localhost\r\n\r\n")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "hello epoll-et /s_client") {
			t.Fatalf("openssl s_client: %v\n%s", err, out)
		}
	})
	t.Run("wrong CA", func(t *testing.T) {
		other, _ := tlstest.NewCA("other")
		pool := x509.NewCertPool()
		pool.AddCert(other.Cert)
		c := tls.Client(s.dial(t), &tls.Config{RootCAs: pool, ServerName: "localhost"})
		defer c.Close()
		if err := c.Handshake(); err == nil {
			t.Fatal("handshake with an untrusted certificate succeeded")
		}
	})
	t.Run("TLS 1.2 with each cipher", func(t *testing.T) {
		for _, cs := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256} {
			cfg := s.tlsConfig()
			cfg.MaxVersion, cfg.CipherSuites = tls.VersionTLS12, []uint16{cs}
			c := tls.Client(s.dial(t), cfg)
			if err := c.Handshake(); err != nil {
				t.Fatalf("%s: %v", tls.CipherSuiteName(cs), err)
			}
			if st := c.ConnectionState(); st.Version != tls.VersionTLS12 || st.CipherSuite != cs {
				t.Fatalf("negotiated %x %x", st.Version, st.CipherSuite)
			}
			c.Close()
		}
	})
}

// closedWithin reads from conn until the server closes it (EOF or reset),
// failing when that takes longer than d or when the server answered in
// plaintext.
func closedWithin(t testing.TB, conn net.Conn, d time.Duration, what string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(d))
	got, err := io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("%s: the connection is still open after %v", what, d)
	}
	if bytes.Contains(got, []byte("HTTP/1.1")) || bytes.Contains(got, []byte(netMarker)) {
		t.Fatalf("%s: plaintext answer %q", what, got)
	}
}

// TestNetShieldBadClients: clients that speak plain text, send garbage,
// stall in the middle of the handshake or open many connections and say
// nothing get their connections closed (a stalled handshake after
// NET_HS_TIMEOUT_NS, 10 s); the server neither crashes nor hangs, and other
// clients are served meanwhile (an event-loop server: at once; a blocking
// one: once the stalled handshake timed out).
func TestNetShieldBadClients(t *testing.T) {
	t.Run("epoll-et", func(t *testing.T) {
		t.Parallel()
		s := startNetServer(t, "epoll-et", nil)
		plain := s.dial(t)
		io.WriteString(plain, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		closedWithin(t, plain, 5*time.Second, "plain HTTP")
		junk := s.dial(t)
		junk.Write(bytes.Repeat([]byte{0x16, 0x03, 0x03, 0xff, 0xff, 'j', 'u', 'n', 'k'}, 100))
		closedWithin(t, junk, 5*time.Second, "garbage")
		stall := s.dial(t)
		stall.Write([]byte{0x16, 0x03, 0x01, 0x01, 0x00, 0x01}) // a ClientHello that never comes
		var idle []net.Conn
		for i := 0; i < 300; i++ {
			idle = append(idle, s.dial(t)) // half-open: connected, silent
		}
		t0 := time.Now()
		for i := 0; i < 5; i++ {
			if got := s.get(t, s.dial(t), "/meanwhile"); !strings.Contains(got, "/meanwhile") {
				t.Fatalf("GET while clients stall: %q", got)
			}
		}
		if d := time.Since(t0); d > 5*time.Second {
			t.Fatalf("other clients waited %v", d)
		}
		closedWithin(t, stall, 15*time.Second, "stalled handshake")
		for i, c := range idle {
			closedWithin(t, c, 5*time.Second, fmt.Sprintf("half-open connection %d", i))
		}
		if got := s.get(t, s.dial(t), "/after"); !strings.Contains(got, "/after") {
			t.Fatalf("GET after the bad clients: %q", got)
		}
		if s.cmd.ProcessState != nil {
			t.Fatalf("the server exited: %v", s.cmd.ProcessState)
		}
		if !strings.Contains(s.out.String(), "network shield: TLS connection closed") {
			t.Errorf("no diagnostic for the failed connections:\n%s", s.out.String())
		}
	})
	t.Run("block", func(t *testing.T) {
		t.Parallel()
		s := startNetServer(t, "block", nil)
		plain := s.dial(t)
		io.WriteString(plain, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		closedWithin(t, plain, 5*time.Second, "plain HTTP")
		stall := s.dial(t)
		stall.Write([]byte{0x16, 0x03, 0x01})
		t0 := time.Now()
		if got := s.get(t, s.dial(t), "/next"); !strings.Contains(got, "/next") {
			t.Fatalf("GET after a stalled client: %q", got)
		}
		if d := time.Since(t0); d > 15*time.Second {
			t.Fatalf("the next client waited %v", d)
		}
		closedWithin(t, stall, 5*time.Second, "stalled handshake")
	})
}

// TestNetShieldFork: a server that forks a child per connection: the child
// serves the inherited wrapped socket (the TLS state is shared with the
// parent, which closes its descriptor without ending the stream) and ends
// it with close_notify.
func TestNetShieldFork(t *testing.T) {
	s := startNetServer(t, "fork", nil)
	pids := map[string]bool{}
	for i := 0; i < 5; i++ {
		got := s.get(t, s.dial(t), "/pid")
		if !strings.HasPrefix(got, "pid ") {
			t.Fatalf("GET /pid: %q", got)
		}
		pids[strings.Fields(got)[1]] = true
	}
	if len(pids) != 5 || pids[strconv.Itoa(s.cmd.Process.Pid)] {
		t.Fatalf("answers not from 5 children: %v (server %d)", pids, s.cmd.Process.Pid)
	}
}

// tapConn keeps what the server sent (ciphertext) for record counting.
type tapConn struct {
	net.Conn
	mu   sync.Mutex
	from bytes.Buffer
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.from.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// appRecords counts the TLS application-data records in a server's bytes.
func (c *tapConn) appRecords(t testing.TB) int {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	b, n := c.from.Bytes(), 0
	for len(b) >= 5 {
		l := int(b[3])<<8 | int(b[4])
		if len(b) < 5+l {
			t.Fatalf("a truncated record (%d of %d bytes)", len(b)-5, l)
		}
		if b[0] == 23 {
			n++
		}
		b = b[5+l:]
	}
	return n
}

// TestNetShieldHeldWrites: TCP_CORK and MSG_MORE are the shield's. Two
// writes under cork (or the first with MSG_MORE) leave as one record in one
// send, and getsockopt reads the cork back; plain writes make one record
// each (the count is real). A corked answer the server never uncorks leaves
// once the server waits (here: for the client to close), in every I/O
// style, as the kernel's cork timer would send it.
func TestNetShieldHeldWrites(t *testing.T) {
	for _, mode := range netModes {
		t.Run(mode, func(t *testing.T) {
			s := startNetServer(t, mode, nil)
			for _, tc := range []struct {
				path    string
				records int
				cork    string
			}{
				{"/split", 2, "cork=-1"},
				{"/cork", 1, "cork=1"},
				{"/more", 1, "cork=-1"},
				{"/cork-wait", 1, "cork=1"},
			} {
				tap := &tapConn{Conn: s.dial(t)}
				tap.SetDeadline(time.Now().Add(10 * time.Second))
				c := tls.Client(tap, s.tlsConfig())
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", tc.path)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("GET %s: %v", tc.path, err)
				}
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("GET %s: body: %v (a held answer that never left?)", tc.path, err)
				}
				want := "held " + tc.path + " " + tc.cork + " " + netMarker + "\n"
				if string(body) != want {
					t.Fatalf("GET %s: %q, want %q", tc.path, body, want)
				}
				if n := tap.appRecords(t); n != tc.records {
					t.Errorf("GET %s: %d application-data records, want %d", tc.path, n, tc.records)
				}
				c.Close()
			}
		})
	}
}

// TestNetShieldStartFailures: the certificate and key are checked before
// the application runs; a missing, malformed or mismatched file stops the
// start (the port is never served in plaintext).
func TestNetShieldStartFailures(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "hello-glibc-static")
	ca, _ := tlstest.NewCA("start CA")
	a, _ := ca.Server(tlstest.EC, "localhost")
	b, _ := ca.Server(tlstest.RSA, "localhost")
	for _, c := range []struct {
		name      string
		cert, key []byte
		msg       string
	}{
		{"certificate missing", nil, a.KeyPEM, "cannot read the TLS certificate /etc/tls/c.pem"},
		{"key of another certificate", a.ChainPEM, b.KeyPEM, "does not belong to the first certificate"},
		{"not PEM", []byte("garbage"), a.KeyPEM, "no object of the expected kind"},
		{"key file holds a certificate", a.ChainPEM, a.CertPEM, "TLS key /etc/tls/k.pem"},
	} {
		t.Run(c.name, func(t *testing.T) {
			entries := []tarEntry{{name: bin, content: mustRead(t, bin)}, {name: "/etc/tls/k.pem", content: c.key}}
			if c.cert != nil {
				entries = append(entries, tarEntry{name: "/etc/tls/c.pem", content: c.cert})
			}
			e := makeEnclaveFiles(t, rt, entries, func(cfg *enclave.Config) {
				cfg.Argv, cfg.Entrypoint = []string{"hello"}, bin
				cfg.TLSPorts, cfg.TLSCert, cfg.TLSKey = []uint16{443}, "/etc/tls/c.pem", "/etc/tls/k.pem"
			})
			got := run(t, e.env(), rt)
			if got.code == 0 || strings.Contains(got.stdout, "argv") || !strings.Contains(got.stderr, c.msg) {
				t.Fatalf("exit %d\nstdout %s\nstderr %s", got.code, got.stdout, got.stderr)
			}
		})
	}
}

// tlsTestServer is a Go TLS server that answers one HTTP/1.0 request per
// connection with the path it got and the marker; it records the server
// name each client asked for.
type tlsTestServer struct {
	l     net.Listener
	mu    sync.Mutex
	names []string
}

func newTLSTestServer(t testing.TB, leaf *tlstest.Leaf, clientCAs *x509.CertPool) *tlsTestServer {
	t.Helper()
	cert, err := tls.X509KeyPair(leaf.ChainPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsTestServer{}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAs != nil {
		cfg.ClientCAs, cfg.ClientAuth = clientCAs, tls.RequireAndVerifyClientCert
	}
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		s.mu.Lock()
		s.names = append(s.names, h.ServerName)
		s.mu.Unlock()
		return nil, nil
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.l = l
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				f := strings.Fields(line)
				if len(f) < 2 {
					return
				}
				fmt.Fprintf(c, "HTTP/1.0 200 OK\r\n\r\nhello client %s %s\n", f[1], netMarker)
			}()
		}
	}()
	return s
}

func (s *tlsTestServer) port() int { return s.l.Addr().(*net.TCPAddr).Port }

// TestNetShieldClientSide: a converted plain-HTTP client (testdata/netcli.c)
// whose destination is a --tls-connect destination talks TLS to a real TLS
// server, verified against the CA bundle of the image: blocking,
// non-blocking with poll, edge-triggered epoll; a destination given by
// name is the certificate's name (and the SNI); a certificate of another
// CA, or for another name, fails the connection; the wire holds no
// plaintext.
func TestNetShieldClientSide(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "netcli")
	ca, _ := tlstest.NewCA("client side CA")
	other, _ := tlstest.NewCA("other CA")
	leaf, _ := ca.Server(tlstest.EC, "localhost", "127.0.0.1")
	srv := newTLSTestServer(t, leaf, nil)
	rec := newRecorder(t, "127.0.0.1:"+strconv.Itoa(srv.port()))
	port := rec.l.Addr().(*net.TCPAddr).Port
	p := strconv.Itoa(port)
	for _, c := range []struct {
		name, mode, dest string
		caPEM            []byte
		ok               bool
		sni              string
	}{
		{"blocking, address", "block", "127.0.0.1:" + p, ca.CertPEM, true, ""},
		{"poll, address", "poll", "127.0.0.1:" + p, ca.CertPEM, true, ""},
		{"epoll-et, address", "epoll-et", "127.0.0.1:" + p, ca.CertPEM, true, ""},
		{"name", "poll", "localhost:" + p, ca.CertPEM, true, "localhost"},
		{"name the certificate does not have", "block", "other.test:" + p, ca.CertPEM, false, ""},
		{"certificate of another CA", "poll", "127.0.0.1:" + p, other.CertPEM, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := makeEnclaveFiles(t, rt, []tarEntry{{name: bin, content: mustRead(t, bin)}, {name: "/etc/tls/ca.pem", content: c.caPEM}},
				func(cfg *enclave.Config) {
					cfg.Argv, cfg.Entrypoint = []string{"netcli", c.mode, "127.0.0.1", p, "/path-" + netMarker}, bin
					cfg.TLSConnect, cfg.TLSCA = []string{c.dest}, "/etc/tls/ca.pem"
				})
			srv.mu.Lock()
			srv.names = nil
			srv.mu.Unlock()
			got := run(t, e.env(), rt)
			want := "hello client /path-" + netMarker
			if c.ok != (got.code == 0 && strings.Contains(got.stdout, want)) {
				t.Fatalf("exit %d\nstdout %s\nstderr %s", got.code, got.stdout, got.stderr)
			}
			if !c.ok && !strings.Contains(got.stdout, "error:") {
				t.Fatalf("no error reported by the client: %s", got.stdout)
			}
			srv.mu.Lock()
			names := srv.names
			srv.mu.Unlock()
			if c.ok && (len(names) != 1 || names[0] != c.sni) {
				t.Fatalf("server names asked: %q, want [%q]", names, c.sni)
			}
		})
	}
	if wire := rec.bytes(); bytes.Contains(wire, []byte(netMarker)) || len(wire) == 0 {
		t.Fatalf("recorded %d bytes; plaintext marker on the wire: %v", len(wire), bytes.Contains(wire, []byte(netMarker)))
	}
	// a destination that is not listed stays the host's (plain TCP)
	plain, _ := net.Listen("tcp", "127.0.0.1:0")
	defer plain.Close()
	go func() {
		c, err := plain.Accept()
		if err == nil {
			line, _ := bufio.NewReader(c).ReadString('\n')
			fmt.Fprintf(c, "HTTP/1.0 200 OK\r\n\r\nplain got %s", line)
			c.Close()
		}
	}()
	pp := strconv.Itoa(plain.Addr().(*net.TCPAddr).Port)
	e := makeEnclaveFiles(t, rt, []tarEntry{{name: bin, content: mustRead(t, bin)}, {name: "/etc/tls/ca.pem", content: ca.CertPEM}},
		func(cfg *enclave.Config) {
			cfg.Argv, cfg.Entrypoint = []string{"netcli", "block", "127.0.0.1", pp, "/unlisted"}, bin
			cfg.TLSConnect, cfg.TLSCA = []string{"127.0.0.1:" + p}, "/etc/tls/ca.pem"
		})
	if got := run(t, e.env(), rt); got.code != 0 || !strings.Contains(got.stdout, "plain got GET /unlisted") {
		t.Fatalf("unlisted destination: exit %d\n%s\n%s", got.code, got.stdout, got.stderr)
	}
}

// TestNetShieldMutualTLS: with --tls-client-ca the TLS ports require a
// client certificate issued by a CA of that bundle.
func TestNetShieldMutualTLS(t *testing.T) {
	var clientCA *tlstest.CA
	srv := startNetServer(t, "epoll-et", func(c *enclave.Config, ca *tlstest.CA) {
		clientCA = ca
		// the server's chain ends with its CA's certificate: a bundle
		// that trusts clients of that CA
		c.TLSClientCA = "/etc/tls/server.pem"
	})
	good, _ := clientCA.Client(tlstest.EC, "client.test")
	other, _ := tlstest.NewCA("other")
	bad, _ := other.Client(tlstest.EC, "client.test")
	for _, c := range []struct {
		name string
		leaf *tlstest.Leaf
		ok   bool
	}{{"certificate of the CA", good, true}, {"no certificate", nil, false}, {"certificate of another CA", bad, false}} {
		t.Run(c.name, func(t *testing.T) {
			cfg := srv.tlsConfig()
			if c.leaf != nil {
				cert, err := tls.X509KeyPair(c.leaf.ChainPEM, c.leaf.KeyPEM)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Certificates = []tls.Certificate{cert}
			}
			conn := tls.Client(srv.dial(t), cfg)
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			fmt.Fprintf(conn, "GET /mtls HTTP/1.1\r\nHost: localhost\r\n\r\n")
			b, err := io.ReadAll(conn)
			if c.ok != strings.Contains(string(b), "hello epoll-et /mtls") {
				t.Fatalf("answer %q, err %v", b, err)
			}
		})
	}
}
