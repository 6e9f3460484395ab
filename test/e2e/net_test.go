package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scone-build/scone-build/internal/podmantest"
	"github.com/scone-build/scone-build/internal/tlstest"
	"github.com/scone-build/scone-build/pkg/convert"
)

// tlsFiles is a fresh PKI for a test: the CA file clients trust and the
// server's certificate chain and key, added to an image as /etc/tls/*.
type tlsFiles struct {
	ca     *tlstest.CA
	leaf   *tlstest.Leaf
	caFile string
}

func newTLSFiles(t testing.TB) *tlsFiles {
	t.Helper()
	ca, err := tlstest.NewCA("test/e2e CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Server(tlstest.EC, "localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return &tlsFiles{ca: ca, leaf: leaf, caFile: f}
}

// image is img with the server's certificate chain and key as
// /etc/tls/server.pem and /etc/tls/server.key (a COPY in a Dockerfile). The
// key is readable by every user of the image (redis runs as its own user):
// the keys of these tests protect nothing; a real image would COPY --chown
// it to the server's user, mode 0600.
func (f *tlsFiles) image(t testing.TB, img v1.Image) v1.Image {
	return withFiles(t, img, map[string]string{"etc/tls/server.pem": string(f.leaf.ChainPEM), "etc/tls/server.key": string(f.leaf.KeyPEM)})
}

// capture is tcpdump on every interface (loopback, and the bridge to which
// podman forwards published ports), for the test's ports.
type capture struct {
	cmd  *exec.Cmd
	file string
	log  bytes.Buffer
}

func startCapture(t testing.TB, ports ...int) *capture {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Log("SKIP capture: tcpdump not installed (scripts/setup.sh installs it)")
		return nil
	}
	var filter []string
	for _, p := range ports {
		filter = append(filter, "tcp port "+itoa(p))
	}
	// -B: a 16 MiB kernel buffer, so that a loaded machine does not drop
	// packets of the connections under test.
	c := &capture{file: filepath.Join(t.TempDir(), "net.pcap")}
	c.cmd = exec.Command("tcpdump", "-Z", "root", "-i", "any", "--immediate-mode", "-U", "-B", "16384", "-s", "0", "-w", c.file, strings.Join(filter, " or "))
	stderr, _ := c.cmd.StderrPipe()
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(ready)
				break
			}
		}
		io.Copy(&c.log, stderr)
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		t.Fatal("tcpdump did not start")
	}
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *capture) stop() []byte {
	if c == nil {
		return nil
	}
	if c.cmd.ProcessState == nil {
		time.Sleep(time.Second) // the last packets
		c.cmd.Process.Signal(syscall.SIGINT)
		c.cmd.Wait()
	}
	b, _ := os.ReadFile(c.file)
	return b
}

// check: the capture saw the connections (the certificate, which TLS 1.2
// sends in clear, is in it) and none of the plaintext markers.
func (c *capture) check(t testing.TB, cert []byte, markers ...string) {
	t.Helper()
	pcap := c.stop()
	if pcap == nil {
		return
	}
	if !bytes.Contains(pcap, cert) {
		t.Fatalf("the capture (%d bytes) did not see the TLS connections: %s", len(pcap), c.log.String())
	}
	for _, m := range markers {
		if bytes.Contains(pcap, []byte(m)) {
			t.Errorf("plaintext %q in the packet capture", m)
		}
	}
}

func (e *env) startTLS(t testing.TB, id, cport string) (*podmantest.Container, int) {
	t.Helper()
	port := podmantest.FreePort(t)
	c := e.p.Start(t, id, podmantest.RunOpts{Ports: []string{"127.0.0.1:" + itoa(port) + ":" + cport},
		Env: []string{"SCONE_FS_KEY_FILE=/run/secrets/scone-fs-key"}, Volumes: []string{e.keyFile + ":/run/secrets/scone-fs-key:ro"}})
	t.Cleanup(func() { c.Stop(t, 10e9) })
	c.WaitTCP(t, "127.0.0.1:"+itoa(port), 60e9)
	return c, port
}

func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("SKIP: %s not installed (scripts/setup.sh installs it)", name)
	}
}

func toolOutput(t testing.TB, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// TestNetShieldNginx: the real nginx image with its plain-HTTP
// configuration, converted with --tls-port 80, serves HTTPS to curl (which
// verifies the certificate) and to wrk; plain HTTP to that port fails; the
// packet capture holds the TLS handshake but no plaintext.
func TestNetShieldNginx(t *testing.T) {
	e := setup(t)
	needTool(t, "curl")
	pki := newTLSFiles(t)
	img := e.image(t, "nginx")
	native := e.p.PullOCI(t, podmantest.WriteLayout(t, img, "native"), "native")
	nport := podmantest.FreePort(t)
	nc := e.p.Start(t, native, podmantest.RunOpts{Ports: []string{"127.0.0.1:" + itoa(nport) + ":80"}})
	_, want := nc.WaitHTTP(t, "http://127.0.0.1:"+itoa(nport)+"/", 60e9)
	nc.Stop(t, 10e9)

	conv, _ := e.convert(t, pki.image(t, img), convert.WithTLS([]uint16{80}, "/etc/tls/server.pem", "/etc/tls/server.key"))
	id := e.load(t, conv, "nginx-tls")
	c, port := e.startTLS(t, id, "80")
	cap := startCapture(t, port, 80)
	url := "https://localhost:" + itoa(port)
	resolve := "localhost:" + itoa(port) + ":127.0.0.1"
	const marker = "/marker-NGINX-PLAINTEXT-4d2a"
	for _, path := range []string{"/", marker} {
		out, err := toolOutput(t, 60*time.Second, "curl", "-sS", "--cacert", pki.caFile, "--resolve", resolve, "-o", "-", "-w", "\n%{http_code}", url+path)
		switch {
		case path == "/" && (err != nil || !strings.HasSuffix(out, "\n200") || strings.TrimSuffix(out, "\n200") != want):
			t.Fatalf("curl %s: %v\n%s\nwant the native page:\n%s", path, err, out, want)
		case path == marker && (err != nil || !strings.HasSuffix(out, "\n404")):
			t.Fatalf("curl %s: %v\n%s", path, err, out)
		}
	}
	// curl refuses a server whose certificate its CA file does not vouch for
	other := newTLSFiles(t)
	if out, err := toolOutput(t, 30*time.Second, "curl", "-sS", "--cacert", other.caFile, "--resolve", resolve, url+"/"); err == nil {
		t.Fatalf("curl trusted a certificate of another CA:\n%s", out)
	}
	// plain HTTP to the TLS port: no answer, the connection is closed
	out, err := toolOutput(t, 30*time.Second, "curl", "-sS", "-m", "20", "http://127.0.0.1:"+itoa(port)+"/")
	if err == nil || strings.Contains(out, "Welcome to nginx") {
		t.Fatalf("plain HTTP to the TLS port answered:\n%s", out)
	}
	if _, err := exec.LookPath("wrk"); err == nil {
		out, err := toolOutput(t, 60*time.Second, "wrk", "-t1", "-c4", "-d2s", url+"/")
		if err != nil || !strings.Contains(out, "requests in") || strings.Contains(out, "Non-2xx") || strings.Contains(out, "Socket errors") {
			t.Fatalf("wrk: %v\n%s", err, out)
		}
	} else {
		t.Log("SKIP wrk: not installed")
	}
	if !c.Running(t) {
		t.Fatalf("nginx exited:\n%s", c.Logs(t))
	}
	cap.check(t, pki.leaf.Cert.Raw, marker, "Welcome to nginx")
}

// TestNetShieldRedis: the real redis image converted with --tls-port 6379
// answers redis-cli --tls (verifying the certificate); redis-cli without
// TLS gets no answer; the capture holds no plaintext.
func TestNetShieldRedis(t *testing.T) {
	e := setup(t)
	needTool(t, "redis-cli")
	pki := newTLSFiles(t)
	img := e.image(t, "redis")
	conv, _ := e.convert(t, pki.image(t, img), convert.WithTLS([]uint16{6379}, "/etc/tls/server.pem", "/etc/tls/server.key"))
	id := e.load(t, conv, "redis-tls")
	c, port := e.startTLS(t, id, "6379")
	cap := startCapture(t, port, 6379)
	const value = "REDIS-PLAINTEXT-VALUE-91fe"
	cli := func(tls bool, args ...string) (string, error) {
		a := []string{"-h", "127.0.0.1", "-p", itoa(port)}
		if tls {
			a = append(a, "--tls", "--cacert", pki.caFile, "--sni", "localhost")
		}
		return toolOutput(t, 30*time.Second, "redis-cli", append(a, args...)...)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"SET", "k", value}, "OK"},
		{[]string{"GET", "k"}, value},
	} {
		out, err := cli(true, tc.args...)
		if err != nil || strings.TrimSpace(out) != tc.want {
			t.Fatalf("redis-cli --tls %v: %v: %q", tc.args, err, out)
		}
	}
	// without TLS: no PONG (redis-cli reports the closed connection)
	if out, _ := cli(false, "PING"); strings.Contains(out, "PONG") {
		t.Fatalf("redis answered without TLS: %q", out)
	}
	if !c.Running(t) {
		t.Fatalf("redis exited:\n%s", c.Logs(t))
	}
	cap.check(t, pki.leaf.Cert.Raw, value)
}

// TestNetShieldClient: busybox wget, a plain-HTTP client, converted with
// --tls-connect for a local TLS server (a Go HTTPS server on the host) and
// --tls-ca: its request goes out as TLS, the server's certificate verified
// against the CA bundle of the image; the capture holds no plaintext; with
// another CA bundle the connection fails.
func TestNetShieldClient(t *testing.T) {
	e := setup(t)
	pki := newTLSFiles(t)
	const marker = "WGET-PLAINTEXT-MARKER-3b8c"
	cert, err := tls.X509KeyPair(pki.leaf.ChainPEM, pki.leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the TLS server: "+r.URL.Path+"\n")
	}), ErrorLog: log.New(io.Discard, "", 0)} // the refused client's failed handshake
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	port := l.Addr().(*net.TCPAddr).Port
	dest := "127.0.0.1:" + itoa(port)
	run := func(caPEM []byte, name string) (string, string, int) {
		img := withCommand(t, e.image(t, "busybox"), []string{"/bin/busybox", "wget", "-q", "-O", "-", "http://" + dest + "/" + marker})
		img = withFiles(t, img, map[string]string{"etc/tls/ca.pem": string(caPEM)})
		conv, _ := e.convert(t, img, convert.WithTLSConnect([]string{dest}, "/etc/tls/ca.pem"))
		id := e.load(t, conv, name)
		return e.p.Run(t, id, podmantest.RunOpts{Network: "host", Env: []string{"SCONE_FS_KEY_FILE=/run/secrets/scone-fs-key"},
			Volumes: []string{e.keyFile + ":/run/secrets/scone-fs-key:ro"}})
	}
	cap := startCapture(t, port)
	out, stderr, code := run(pki.ca.CertPEM, "wget-tls")
	if code != 0 || out != "hello from the TLS server: /"+marker+"\n" {
		t.Fatalf("wget through --tls-connect: exit %d\nstdout %q\nstderr %s", code, out, stderr)
	}
	cap.check(t, pki.leaf.Cert.Raw, marker)
	other := newTLSFiles(t)
	if out, stderr, code := run(other.ca.CertPEM, "wget-other-ca"); code == 0 || strings.Contains(out, "hello") {
		t.Fatalf("wget trusted a server of another CA: exit %d\nstdout %q\nstderr %s", code, out, stderr)
	}
}
