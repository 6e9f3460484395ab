package testimages_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/scone-build/scone-build/internal/podmantest"
	"github.com/scone-build/scone-build/internal/testimages"
)

// The smoke test runs every built image natively under podman and checks it
// works: the inputs of the end-to-end tests and benchmarks are sound.

const startTimeout = 60 * time.Second

type smoke struct {
	name string
	// Expected image config.
	user, stopSignal, workdir string
	ports                     []string
	layers                    int
	check                     func(t *testing.T, p *podmantest.Podman, id string)
}

var smokes = []smoke{
	{name: "busybox", layers: 1, check: func(t *testing.T, p *podmantest.Podman, id string) {
		runExpect(t, p, id, podmantest.RunOpts{Args: []string{"sh", "-c", "echo $PATH; ls -i /bin/sh /bin/ls | awk '{print $1}' | uniq | wc -l"}},
			"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n1\n")
	}},
	{name: "musl", layers: 2, ports: []string{"7777/tcp"}, check: func(t *testing.T, p *podmantest.Podman, id string) {
		runExpect(t, p, id, podmantest.RunOpts{}, "hello from musl\n")
		out := runExpect(t, p, id, podmantest.RunOpts{Args: []string{"readfile"}}, "")
		if !strings.Contains(out, "The quick brown fox") {
			t.Errorf("readfile output %q lacks the data file", out)
		}
		port := podmantest.FreePort(t)
		c := p.Start(t, id, podmantest.RunOpts{Args: []string{"echod"}, Ports: []string{fmt.Sprintf("127.0.0.1:%d:7777", port)}})
		c.WaitTCP(t, fmt.Sprintf("127.0.0.1:%d", port), startTimeout)
		if got := exchange(t, fmt.Sprintf("127.0.0.1:%d", port), "ping musl\n", "\n"); got != "ping musl\n" {
			t.Errorf("echod answered %q", got)
		}
	}},
	{name: "gohttp", layers: 2, user: "65532:65532", workdir: "/app", ports: []string{"8080/tcp"}, check: func(t *testing.T, p *podmantest.Podman, id string) {
		want, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata/images/gohttp/data/hello.txt"))
		if err != nil {
			t.Fatal(err)
		}
		url := serveHTTP(t, p, id, 8080)
		getExpect(t, url+"/", "hello from gohttp\n")
		getExpect(t, url+"/file", string(want))
	}},
	{name: "debian", layers: 1, check: func(t *testing.T, p *podmantest.Podman, id string) {
		out := runExpect(t, p, id, podmantest.RunOpts{Args: []string{"cat", "/etc/debian_version"}}, "")
		if !strings.HasPrefix(out, "12.") {
			t.Errorf("/etc/debian_version = %q, want 12.x", out)
		}
	}},
	{name: "nginx", layers: 2, stopSignal: "SIGQUIT", ports: []string{"80/tcp"}, check: func(t *testing.T, p *podmantest.Podman, id string) {
		getContains(t, serveHTTP(t, p, id, 80)+"/", "Welcome to nginx")
	}},
	{name: "apache2", layers: 2, stopSignal: "SIGWINCH", ports: []string{"80/tcp"}, check: func(t *testing.T, p *podmantest.Podman, id string) {
		getContains(t, serveHTTP(t, p, id, 80)+"/", "Apache2 Debian Default Page")
	}},
	{name: "redis", layers: 2, user: "redis", workdir: "/data", ports: []string{"6379/tcp"}, check: func(t *testing.T, p *podmantest.Podman, id string) {
		addr := serveTCP(t, p, id, 6379, "PING\r\n", "\r\n")
		if got := exchange(t, addr, "PING\r\n", "\r\n"); got != "+PONG\r\n" {
			t.Errorf("PING answered %q", got)
		}
		if got := exchange(t, addr, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "hello\r\n"); got != "+OK\r\n$5\r\nhello\r\n" {
			t.Errorf("SET/GET answered %q", got)
		}
	}},
	{name: "memcached", layers: 2, user: "memcache", ports: []string{"11211/tcp"}, check: func(t *testing.T, p *podmantest.Podman, id string) {
		addr := serveTCP(t, p, id, 11211, "version\r\n", "\r\n")
		if got := exchange(t, addr, "version\r\n", "\r\n"); !strings.HasPrefix(got, "VERSION 1.") {
			t.Errorf("version answered %q", got)
		}
		if got := exchange(t, addr, "set k 0 0 5\r\nhello\r\nget k\r\n", "END\r\n"); got != "STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\n" {
			t.Errorf("set/get answered %q", got)
		}
	}},
	{name: "sqlite", layers: 2, workdir: "/data", check: func(t *testing.T, p *podmantest.Podman, id string) {
		runExpect(t, p, id, podmantest.RunOpts{Args: []string{"sqlite3", "/data/sample.db",
			"select count(*) from cities; select count(*) from readings; select name from cities order by population desc limit 1"}},
			"5\n1825\nDresden\n")
	}},
	{name: "python3", layers: 2, check: func(t *testing.T, p *podmantest.Podman, id string) {
		runExpect(t, p, id, podmantest.RunOpts{Args: []string{"python3", "-c", "import sys, json; print(json.dumps({'v': sys.version_info[0], 'x': 6*7}))"}},
			"{\"v\": 3, \"x\": 42}\n")
	}},
	{name: "perl", layers: 2, check: func(t *testing.T, p *podmantest.Podman, id string) {
		runExpect(t, p, id, podmantest.RunOpts{Args: []string{"perl", "-MList::Util=sum", "-MDigest::SHA=sha256_hex", "-e", "print sum(1..10), ' ', substr(sha256_hex('abc'), 0, 8), qq(\\n)"}},
			"55 ba7816bf\n")
	}},
	{name: "shell", layers: 2, check: func(t *testing.T, p *podmantest.Podman, id string) {
		runExpect(t, p, id, podmantest.RunOpts{Args: []string{"bash", "-c", "seq 1 3000 | gzip | xz | xz -d | gzip -d | tail -1; tar --version | head -1 | cut -d' ' -f1-3"}},
			"3000\ntar (GNU tar)\n")
	}},
	{name: "lua", layers: 2, check: func(t *testing.T, p *podmantest.Podman, id string) {
		runExpect(t, p, id, podmantest.RunOpts{Args: []string{"lua5.4", "-e", "local co = coroutine.wrap(function() coroutine.yield(6 * 7) end); print(_VERSION, co())"}},
			"Lua 5.4\t42\n")
	}},
	{name: "git", layers: 2, check: func(t *testing.T, p *podmantest.Podman, id string) {
		runExpect(t, p, id, podmantest.RunOpts{Args: []string{"sh", "-c", "cd /tmp && git init -q r && cd r && echo x > f && git add f && git -c user.name=n -c user.email=e@x commit -q -m m && git ls-files"}},
			"f\n")
	}},
	{name: "openssl", layers: 2, check: func(t *testing.T, p *podmantest.Podman, id string) {
		runExpect(t, p, id, podmantest.RunOpts{Args: []string{"sh", "-c", "printf abc | openssl dgst -sha256 -r"}},
			"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad *stdin\n")
	}},
	{name: "curl", layers: 2, check: func(t *testing.T, p *podmantest.Podman, id string) {
		runExpect(t, p, id, podmantest.RunOpts{Args: []string{"sh", "-c", "curl -sS file:///etc/debian_version | cut -d. -f1; busybox httpd --help 2>&1 | head -1 | cut -d' ' -f1"}},
			"12\nBusyBox\n")
	}},
	{name: "postgres", layers: 2, user: "100:102", stopSignal: "SIGINT", workdir: "/var/lib/postgresql", ports: []string{"5432/tcp"}, check: func(t *testing.T, p *podmantest.Podman, id string) {
		runExpect(t, p, id, podmantest.RunOpts{Args: []string{"sh", "-c", "initdb -D /tmp/d >/dev/null && echo 'SELECT 6 * 7' | postgres --single -D /tmp/d postgres | grep -o '= \"42\"'"}},
			"= \"42\"\n")
	}},
	{name: "node", layers: 2, check: func(t *testing.T, p *podmantest.Podman, id string) {
		runExpect(t, p, id, podmantest.RunOpts{Args: []string{"node", "-e", "console.log(process.versions.node.split('.')[0] >= 18, [3, 1, 2].sort().join())"}},
			"true 1,2,3\n")
	}},
	{name: "mariadb", layers: 2, user: "100:101", workdir: "/var/lib/mysql", ports: []string{"3306/tcp"}, check: func(t *testing.T, p *podmantest.Podman, id string) {
		runExpect(t, p, id, podmantest.RunOpts{Args: []string{"sh", "-c", "mariadbd --version | grep -o MariaDB | head -1; mariadb-install-db --help | grep -o -- --datadir | head -1"}},
			"MariaDB\n--datadir\n")
	}},
	{name: "openjdk", layers: 2, check: func(t *testing.T, p *podmantest.Podman, id string) {
		runExpect(t, p, id, podmantest.RunOpts{Args: []string{"sh", "-c", "java -version 2>&1 | head -1 | cut -d'\"' -f2 | cut -d. -f1; javac -version 2>&1 | cut -d' ' -f1"}},
			"17\njavac\n")
	}},
}

func TestSmokeImagesRunUnderPodman(t *testing.T) {
	if len(smokes) != len(testimages.Names) {
		t.Fatalf("smoke table has %d images, testimages.Names %d", len(smokes), len(testimages.Names))
	}
	for _, s := range smokes {
		t.Run(s.name, func(t *testing.T) {
			dir := testimages.Layout(t, s.name)
			img := testimages.Image(t, s.name)
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			if len(layers) != s.layers {
				t.Errorf("%d layers, want %d", len(layers), s.layers)
			}
			p := podmantest.New(t)
			testimages.Pin(t, p, s.name) // test/e2e's pulls of it then copy no layer
			id := p.PullOCI(t, dir, testimages.Tag)
			cfg := p.Inspect(t, id)
			var ports []string
			for pt := range cfg.ExposedPorts {
				ports = append(ports, pt)
			}
			if cfg.User != s.user || cfg.StopSignal != s.stopSignal || cfg.WorkingDir != s.workdir || !reflect.DeepEqual(ports, s.ports) {
				t.Errorf("config user %q stop %q workdir %q ports %v, want %q %q %q %v",
					cfg.User, cfg.StopSignal, cfg.WorkingDir, ports, s.user, s.stopSignal, s.workdir, s.ports)
			}
			if !hasPath(cfg.Env) {
				t.Errorf("config env %q lacks PATH", cfg.Env)
			}
			s.check(t, p, id)
		})
	}
}

func hasPath(env []string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=/") {
			return true
		}
	}
	return false
}

func runExpect(t *testing.T, p *podmantest.Podman, id string, opts podmantest.RunOpts, want string) string {
	t.Helper()
	opts.Timeout = startTimeout
	out, stderr, code := p.Run(t, id, opts)
	if code != 0 || (want != "" && out != want) {
		t.Errorf("run %v: exit %d, stdout %q (want %q), stderr %q", opts.Args, code, out, want, stderr)
	}
	return out
}

// serveHTTP starts the image's default command with port published and
// returns the base URL once it answers.
func serveHTTP(t *testing.T, p *podmantest.Podman, id string, port int) string {
	t.Helper()
	host := podmantest.FreePort(t)
	c := p.Start(t, id, podmantest.RunOpts{Ports: []string{fmt.Sprintf("127.0.0.1:%d:%d", host, port)}})
	url := fmt.Sprintf("http://127.0.0.1:%d", host)
	c.WaitHTTP(t, url+"/", startTimeout)
	return url
}

// serveTCP starts the image's default command with port published and
// returns the address once the server answers probe with something ending in end.
func serveTCP(t *testing.T, p *podmantest.Podman, id string, port int, probe, end string) string {
	t.Helper()
	host := podmantest.FreePort(t)
	c := p.Start(t, id, podmantest.RunOpts{Ports: []string{fmt.Sprintf("127.0.0.1:%d:%d", host, port)}})
	addr := fmt.Sprintf("127.0.0.1:%d", host)
	deadline := time.Now().Add(startTimeout)
	for {
		_, err := exchangeErr(addr, probe, end)
		if err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no answer to %q on %s within %v: %v\nlogs:\n%s", id, probe, addr, startTimeout, err, c.Logs(t))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// exchange sends req on a new connection and reads until the answer ends with end.
func exchange(t *testing.T, addr, req, end string) string {
	t.Helper()
	got, err := exchangeErr(addr, req, end)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func exchangeErr(addr, req, end string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(req)); err != nil {
		return "", err
	}
	var got strings.Builder
	r := bufio.NewReader(conn)
	for !strings.HasSuffix(got.String(), end) {
		b, err := r.ReadByte()
		if err != nil {
			return got.String(), fmt.Errorf("reading answer to %q from %s after %q: %w", req, addr, got.String(), err)
		}
		got.WriteByte(b)
	}
	return got.String(), nil
}

func getExpect(t *testing.T, url, want string) {
	t.Helper()
	code, body, err := podmantest.GetWait(url, 10*time.Second)
	if err != nil || code != 200 || body != want {
		t.Errorf("GET %s = %d %q, %v; want 200 %q", url, code, body, err, want)
	}
}

func getContains(t *testing.T, url, want string) {
	t.Helper()
	code, body, err := podmantest.GetWait(url, 10*time.Second)
	if err != nil || code != 200 || !strings.Contains(body, want) {
		t.Errorf("GET %s = %d, %d bytes, %v; want 200 containing %q", url, code, len(body), err, want)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("locating the source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}
