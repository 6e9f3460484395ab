package podmantest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestStorageConfKeepsEverythingUnderDir(t *testing.T) {
	got := StorageConf("/x/y")
	for _, want := range []string{`driver = "overlay"`, `runroot = "/x/y/run"`, `graphroot = "/x/y/storage"`} {
		if !strings.Contains(got, want) {
			t.Errorf("StorageConf lacks %s:\n%s", want, got)
		}
	}
}

func TestSetupWritesConfig(t *testing.T) {
	if _, err := os.Stat("/usr/bin/podman"); err != nil {
		t.Skipf("podman not installed: %v", err)
	}
	dir := t.TempDir()
	p, err := Setup(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "containers.conf"))
	if err != nil || string(b) != ContainersConf {
		t.Fatalf("containers.conf = %q, %v", b, err)
	}
	var n int
	for _, kv := range p.Env {
		if kv == "CONTAINERS_CONF="+filepath.Join(dir, "containers.conf") || kv == "CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf") {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("env lacks CONTAINERS_CONF/CONTAINERS_STORAGE_CONF: %d found", n)
	}
}

func TestRunBusyboxFromLayoutAndArchive(t *testing.T) {
	p := New(t)
	img := BusyboxImage(t, "/bin/busybox", "echo", "hi")
	ids := map[string]string{
		"oci layout":     p.PullOCI(t, WriteLayout(t, img, "latest"), "latest"),
		"docker archive": p.Load(t, WriteDockerArchive(t, img, "localhost/podmantest-busybox:latest")),
	}
	for how, id := range ids {
		t.Run(how, func(t *testing.T) {
			cfg := p.Inspect(t, id)
			if got := strings.Join(cfg.Entrypoint, " "); got != "/bin/busybox echo hi" {
				t.Errorf("entrypoint = %q", got)
			}
			tests := []struct {
				name     string
				opts     RunOpts
				wantOut  string
				wantCode int
			}{
				{"entrypoint", RunOpts{}, "hi\n", 0},
				{"args", RunOpts{Args: []string{"there"}}, "hi there\n", 0},
				{"env", RunOpts{Entrypoint: []string{"/bin/sh", "-c", "echo $FOO"}, Env: []string{"FOO=bar"}}, "bar\n", 0},
				{"exit code", RunOpts{Entrypoint: []string{"/bin/sh", "-c", "exit 3"}}, "", 3},
				{"ulimit nofile", RunOpts{Entrypoint: []string{"/bin/sh", "-c", "ulimit -n"}}, "1024\n", 0},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					out, stderr, code := p.Run(t, id, tc.opts)
					if out != tc.wantOut || code != tc.wantCode {
						t.Errorf("got %q exit %d, want %q exit %d (stderr %q)", out, code, tc.wantOut, tc.wantCode, stderr)
					}
				})
			}
		})
	}
}

// TestImagesAreReleased: an image a test pulls or loads is gone from the
// storage after the test, whatever tag its layout or archive used (a pull
// of a layout tagged other than "latest" used to leave its image behind:
// 700 of them, 2 GB, had piled up on one machine).
func TestImagesAreReleased(t *testing.T) {
	p := New(t)
	for _, tc := range []struct {
		name string
		get  func(t *testing.T, img v1.Image) string
	}{
		{"oci layout tagged native", func(t *testing.T, img v1.Image) string {
			return p.PullOCI(t, WriteLayout(t, img, "native"), "native")
		}},
		{"oci layout tagged latest", func(t *testing.T, img v1.Image) string {
			return p.PullOCI(t, WriteLayout(t, img, "latest"), "latest")
		}},
		{"docker archive", func(t *testing.T, img v1.Image) string {
			return p.Load(t, WriteDockerArchive(t, img, "localhost/podmantest-release:v1"))
		}},
	} {
		// an image of its own: a label no other test's image has
		img := BusyboxImage(t, "/bin/busybox", "echo", tc.name+" "+randomName())
		var id string
		t.Run(tc.name, func(t *testing.T) {
			id = tc.get(t, img)
			if out, _, code := p.Run(t, id, RunOpts{}); code != 0 || !strings.HasPrefix(out, tc.name) {
				t.Fatalf("run: %q exit %d", out, code)
			}
		})
		if _, _, err := p.Exec(30*time.Second, "image", "exists", id); err == nil {
			t.Errorf("%s: image %s is still in the storage after its test", tc.name, id)
		}
	}
}

// TestKeep: a kept image outlives the test that kept it, and keeping a new
// version of its group removes the old one.
func TestKeep(t *testing.T) {
	p := New(t)
	layout := WriteLayout(t, BusyboxImage(t, "/bin/busybox", "echo", "kept"), "native")
	group := "keeptest-" + randomName()
	exists := func(ref string) bool {
		_, _, err := p.Exec(30*time.Second, "image", "exists", ref)
		return err == nil
	}
	var v1ref string
	t.Run("first", func(t *testing.T) { v1ref = p.Keep(t, layout, "native", group, "v1") })
	t.Cleanup(func() { _, _, _ = p.Exec(30*time.Second, "rmi", v1ref) })
	if !exists(v1ref) {
		t.Fatalf("%s is gone after the test that kept it", v1ref)
	}
	var v2ref string
	t.Run("second version", func(t *testing.T) { v2ref = p.Keep(t, layout, "native", group, "v2") })
	t.Cleanup(func() { _, _, _ = p.Exec(30*time.Second, "rmi", v2ref) })
	if !exists(v2ref) || exists(v1ref) {
		t.Fatalf("after keeping v2: v2 present %v, v1 present %v (want true, false)", exists(v2ref), exists(v1ref))
	}
	if out, _, code := p.Run(t, v2ref, RunOpts{}); code != 0 || out != "kept\n" {
		t.Fatalf("run %s: %q exit %d", v2ref, out, code)
	}
}

func TestRunTimesOut(t *testing.T) {
	p := New(t)
	id := p.PullOCI(t, WriteLayout(t, BusyboxImage(t, "/bin/busybox", "sleep", "60"), "latest"), "latest")
	ft := &fakeT{TB: t}
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil && r != any(ft) {
				panic(r)
			}
		}()
		p.Run(ft, id, RunOpts{Timeout: 2 * time.Second})
	}()
	<-done
	if !ft.failed {
		t.Fatal("Run of a 60 s sleep with a 2 s timeout did not fail")
	}
	if !strings.Contains(ft.msg, "timed out") {
		t.Errorf("failure message %q does not say it timed out", ft.msg)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("Run returned after %v, want about 2 s", d)
	}
}

// fakeT records Fatalf instead of failing the real test.
type fakeT struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	panic(f)
}

func TestStartPublishesPort(t *testing.T) {
	p := New(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("hello podman\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := p.PullOCI(t, WriteLayout(t, BusyboxImage(t, "/bin/busybox"), "latest"), "latest")
	for _, network := range []string{"", "host"} {
		t.Run("network="+network, func(t *testing.T) {
			port := FreePort(t)
			opts := RunOpts{
				Args:    []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
				Volumes: []string{dir + ":/www:ro"},
				Ports:   []string{fmt.Sprintf("127.0.0.1:%d:8080", port)},
			}
			if network == "host" {
				opts.Network, opts.Ports = "host", nil
				opts.Args[3] = fmt.Sprint(port)
			}
			c := p.Start(t, id, opts)
			code, body := c.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 20*time.Second)
			if code != 200 || body != "hello podman\n" {
				t.Fatalf("GET / = %d %q", code, body)
			}
			if !c.Running(t) {
				t.Fatal("container not running after answering")
			}
			// httpd waits for the next connection: its command line,
			// then one thread, asleep (state S) in a system call
			threads := c.Threads(t)
			if lines := strings.Split(strings.TrimSpace(threads), "\n"); len(lines) != 2 ||
				!strings.Contains(lines[0], "httpd -f -p ") || !strings.HasSuffix(lines[0], " -h /www") ||
				!strings.Contains(lines[1], " busybox state S wchan ") || strings.HasSuffix(lines[1], "syscall running") {
				t.Errorf("Threads of the idle httpd:\n%s", threads)
			}
			c.Stop(t, time.Second)
			if c.Running(t) {
				t.Fatal("container still running after Stop")
			}
			if threads := c.Threads(t); threads != "" {
				t.Errorf("Threads of a stopped container: %q", threads)
			}
		})
	}
}

// TestRunNamesMissingIptables runs podman as on a fresh machine without
// Debian's iptables (a PATH that holds only podman: netavark then cannot run
// iptables) and checks that Run's failure names the missing package rather
// than netavark's bare "No such file or directory".
func TestRunNamesMissingIptables(t *testing.T) {
	p := New(t)
	id := p.PullOCI(t, WriteLayout(t, BusyboxImage(t, "/bin/busybox", "true"), "latest"), "latest")
	bin := t.TempDir()
	if err := os.Symlink(p.Bin, filepath.Join(bin, "podman")); err != nil {
		t.Fatal(err)
	}
	broken := *p
	broken.Env = nil
	for _, kv := range p.Env {
		if !strings.HasPrefix(kv, "PATH=") {
			broken.Env = append(broken.Env, kv)
		}
	}
	broken.Env = append(broken.Env, "PATH="+bin)
	ft := &fakeT{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != any(ft) {
				panic(r)
			}
		}()
		broken.Run(ft, id, RunOpts{Timeout: time.Minute})
	}()
	if !ft.failed {
		t.Fatal("podman run with a network and no iptables in PATH succeeded; the test cannot reproduce a fresh machine here")
	}
	if !strings.Contains(ft.msg, "install Debian's iptables") {
		t.Errorf("failure does not name the missing iptables package:\n%s", ft.msg)
	}
}

func TestDiagnose(t *testing.T) {
	tests := []struct{ stderr, want string }{
		{"Error: netavark: No such file or directory (os error 2)\n", "iptables"},
		{"Error: runc: executable file not found in $PATH", "install runc"},
		{"Error: some other failure", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got := Diagnose(tc.stderr)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("Diagnose(%q) = %q, want a hint containing %q", tc.stderr, got, tc.want)
		}
	}
}
