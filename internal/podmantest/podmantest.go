package podmantest

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrTimeout reports a podman call killed because it ran past its timeout.
var ErrTimeout = errors.New("podman timed out")

// DefaultTimeout bounds every podman call made without an explicit timeout.
const DefaultTimeout = 2 * time.Minute

// Podman runs the podman binary with a private configuration.
type Podman struct {
	Bin string   // path of the podman executable
	Dir string   // directory holding containers.conf, storage.conf and the storage
	Env []string // environment of every podman call (os.Environ plus CONTAINERS_*)
}

// ContainersConf is the containers.conf that works on machines without
// CAP_SYS_RESOURCE and with hybrid cgroups (crun fails there). Its one home
// is containers.conf next to this file: scripts/podman-env.sh copies it.
//
//go:embed containers.conf
var ContainersConf string

// StorageConf returns the storage.conf that keeps all storage under dir.
func StorageConf(dir string) string {
	return fmt.Sprintf("[storage]\ndriver = \"overlay\"\nrunroot = %q\ngraphroot = %q\n",
		filepath.Join(dir, "run"), filepath.Join(dir, "storage"))
}

// ConfigDir returns the directory used by Setup when dir is empty:
// $SCONE_PODMAN_DIR, else os.TempDir()/scone-podman.
func ConfigDir() string {
	if d := os.Getenv("SCONE_PODMAN_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "scone-podman")
}

// Setup writes the configuration files into dir (ConfigDir() when empty) and
// returns a Podman using them. It does not check that podman works.
func Setup(dir string) (*Podman, error) {
	if dir == "" {
		dir = ConfigDir()
	}
	bin, err := exec.LookPath("podman")
	if err != nil {
		return nil, fmt.Errorf("finding podman: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating podman dir %q: %w", dir, err)
	}
	cc := filepath.Join(dir, "containers.conf")
	sc := filepath.Join(dir, "storage.conf")
	if err := writeIfChanged(cc, ContainersConf); err != nil {
		return nil, err
	}
	if err := writeIfChanged(sc, StorageConf(dir)); err != nil {
		return nil, err
	}
	env := make([]string, 0, len(os.Environ())+2)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CONTAINERS_CONF=") || strings.HasPrefix(kv, "CONTAINERS_STORAGE_CONF=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "CONTAINERS_CONF="+cc, "CONTAINERS_STORAGE_CONF="+sc)
	return &Podman{Bin: bin, Dir: dir, Env: env}, nil
}

// writeIfChanged writes content to path atomically (several test processes may
// set up the same directory at once) unless the file already holds it.
func writeIfChanged(path, content string) error {
	if b, err := os.ReadFile(path); err == nil && string(b) == content {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("writing podman config %q: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return fmt.Errorf("writing podman config %q: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing podman config %q: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing podman config %q: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing podman config %q: %w", path, err)
	}
	return nil
}

// New returns a working Podman for the test, or skips the test with the
// reason when podman is not installed or `podman info` fails.
func New(t testing.TB) *Podman {
	t.Helper()
	p, err := Setup("")
	if err != nil {
		t.Skipf("podman unavailable: %v", err)
	}
	if err := p.works(); err != nil {
		t.Skipf("podman unavailable: %v", err)
	}
	return p
}

// checked holds, per podman binary and directory, the outcome of the one
// `podman info` a test process runs (about a second of CPU on a PVM guest;
// test/e2e calls New in every test).
var checked sync.Map // Bin+"\x00"+Dir -> *check

type check struct {
	once sync.Once
	err  error
}

// works runs `podman info` once per process and directory.
func (p *Podman) works() error {
	c, _ := checked.LoadOrStore(p.Bin+"\x00"+p.Dir, new(check))
	ck := c.(*check)
	ck.once.Do(func() {
		if _, stderr, err := p.Exec(30*time.Second, "info", "--format", "{{.Host.OCIRuntime.Name}}"); err != nil {
			ck.err = fmt.Errorf("`podman info` failed: %w: %s", err, lastLines(stderr, 5))
		}
	})
	return ck.err
}

// Command returns an exec.Cmd running podman with args and p's environment.
func (p *Podman) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, p.Bin, args...)
	cmd.Env = p.Env
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Exec runs podman with args, bounded by timeout (DefaultTimeout when 0), and
// returns its output. A non-zero exit is an *exec.ExitError; running past the
// timeout is ErrTimeout (the podman process is killed).
func (p *Podman) Exec(timeout time.Duration, args ...string) (stdout, stderr string, err error) {
	return p.execIn(nil, timeout, args...)
}

// execIn is Exec with stdin (nil: none).
func (p *Podman) execIn(stdin io.Reader, timeout time.Duration, args ...string) (stdout, stderr string, err error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var o, e bytes.Buffer
	cmd := p.Command(ctx, args...)
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &o, &e, stdin
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("running podman %s: after %v: %w", strings.Join(args, " "), timeout, ErrTimeout)
	}
	return o.String(), e.String(), err
}

// Must runs podman with args and fails the test when it does not exit 0.
func (p *Podman) Must(t testing.TB, args ...string) string {
	t.Helper()
	out, stderr, err := p.Exec(0, args...)
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, withDiagnosis(stderr))
	}
	return out
}

// Load loads a docker-archive (or oci-archive) tarball and returns the image
// ID. The image is removed at the end of the test unless something else uses
// it. The archive's name is taken over by a name of the test's own: two tests
// loading archives of the same name at once may see each other's image (use
// PullOCI, whose names are unique, where that matters).
func (p *Podman) Load(t testing.TB, archive string) string {
	t.Helper()
	out := p.Must(t, "load", "-q", "-i", archive)
	// "Loaded image: NAME" or "Loaded image(s): NAME,NAME" or an ID.
	line := strings.TrimSpace(lastLines(out, 1))
	ref := line
	if i := strings.Index(line, ": "); i >= 0 {
		ref = strings.TrimSpace(line[i+2:])
	}
	if i := strings.IndexByte(ref, ','); i >= 0 {
		ref = ref[:i]
	}
	id := strings.TrimSpace(p.Must(t, "image", "inspect", "--format", "{{.Id}}", ref))
	if id == "" {
		t.Fatalf("podman image inspect %q: empty image ID", ref)
	}
	own := "localhost/podmantest-" + randomName() + ":latest"
	p.Must(t, "tag", id, own)
	t.Cleanup(func() { p.releaseImage(own) })
	if !strings.HasPrefix(id, ref) {
		// the archive's own name: the test's name now holds the image
		_, _, _ = p.Exec(30*time.Second, "untag", id, ref)
	}
	return id
}

// PullOCI copies the image tagged tag in the OCI layout layoutDir into podman's
// storage and returns its ID. The image is removed at the end of the test
// unless something else uses it.
func (p *Podman) PullOCI(t testing.TB, layoutDir, tag string) string {
	t.Helper()
	abs, err := filepath.Abs(layoutDir)
	if err != nil {
		t.Fatalf("resolving layout %q: %v", layoutDir, err)
	}
	// podman names the image after the layout path, which must then be a
	// valid lower-case repository name: pull through a symlink with a unique
	// lower-case name, relative to the working directory.
	links := filepath.Join(p.Dir, "layouts")
	if err := os.MkdirAll(links, 0o755); err != nil {
		t.Fatalf("creating %q: %v", links, err)
	}
	own := "podmantest-" + randomName()
	link := filepath.Join(links, own)
	if err := os.Symlink(abs, link); err != nil {
		t.Fatalf("linking layout %q: %v", abs, err)
	}
	defer os.Remove(link)
	if tag == "" {
		tag = "latest"
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	var o, e bytes.Buffer
	cmd := p.Command(ctx, "pull", "-q", "oci:"+own+":"+tag)
	cmd.Dir, cmd.Stdout, cmd.Stderr = links, &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("podman pull oci:%s:%s: %v\n%s", abs, tag, err, withDiagnosis(e.String()))
	}
	id := strings.TrimSpace(lastLines(o.String(), 1))
	t.Cleanup(func() { p.releasePulled(id, own) })
	return id
}

// releaseImage drops the test's name own; podman removes the image with its
// last name. It never forces: an image another name or a container still
// uses stays.
func (p *Podman) releaseImage(own string) {
	_, _, _ = p.Exec(30*time.Second, "rmi", own)
}

// releasePulled drops the name podman gave the image id pulled through the
// layout link own. Podman 4.3 (Debian 12) names it localhost/OWN:latest
// whatever the layout's tag; later versions may differ: then the name is
// looked up among the image's names.
func (p *Podman) releasePulled(id, own string) {
	if _, _, err := p.Exec(30*time.Second, "rmi", "localhost/"+own+":latest"); err == nil {
		return
	}
	out, _, err := p.Exec(30*time.Second, "image", "inspect", "--format", "{{json .RepoTags}}", id)
	if err != nil {
		return
	}
	var names []string
	if json.Unmarshal([]byte(out), &names) != nil {
		return
	}
	for _, n := range names {
		if strings.Contains(n, own) {
			_, _, _ = p.Exec(30*time.Second, "rmi", n)
		}
	}
}

// RemoveImage removes ref (forced) and fails the test on error.
func (p *Podman) RemoveImage(t testing.TB, ref string) {
	t.Helper()
	p.Must(t, "rmi", "-f", ref)
}

// Inspect returns the image configuration (entrypoint, cmd, env, user, ...).
func (p *Podman) Inspect(t testing.TB, image string) v1.Config {
	t.Helper()
	out := p.Must(t, "image", "inspect", "--format", "json", image)
	var data []struct {
		Config v1.Config `json:"Config"`
	}
	if err := json.Unmarshal([]byte(out), &data); err != nil {
		t.Fatalf("parsing podman image inspect %q: %v", image, err)
	}
	if len(data) != 1 {
		t.Fatalf("podman image inspect %q: %d results, want 1", image, len(data))
	}
	return data[0].Config
}

// RunOpts are the options of Run and Start.
type RunOpts struct {
	Args       []string      // arguments after the image (replace CMD)
	Entrypoint []string      // replaces the image entrypoint when non-nil ([]string{} clears it)
	Env        []string      // KEY=VALUE
	Ports      []string      // -p values, e.g. "127.0.0.1:18080:80"
	Network    string        // --network value, e.g. "host"; empty: podman's default
	User       string        // --user
	Workdir    string        // --workdir
	Volumes    []string      // -v values
	Extra      []string      // further podman run flags, placed before the image
	Detach     bool          // Run: start in the background and return the container name as stdout
	Timeout    time.Duration // foreground run: kill after this (DefaultTimeout when 0)
	Stdin      io.Reader     // foreground run: the container's stdin (podman run -i)
}

func (o RunOpts) flags(name string) []string {
	args := []string{"run", "--pull", "never", "--name", name}
	if o.Detach {
		args = append(args, "-d")
	} else {
		args = append(args, "--rm")
	}
	if o.Stdin != nil {
		args = append(args, "-i")
	}
	if o.Entrypoint != nil {
		b, _ := json.Marshal(o.Entrypoint)
		args = append(args, "--entrypoint", string(b))
	}
	for _, e := range o.Env {
		args = append(args, "-e", e)
	}
	if v := os.Getenv("SCONE_E2E_ASYNC_POST"); v != "" {
		// the posting mode of the async transport's blocking calls
		// (internal/testruntime), for every converted image's runtime
		args = append(args, "-e", "SCONE_ASYNC_POST="+v)
	}
	for _, pt := range o.Ports {
		args = append(args, "-p", pt)
	}
	if o.Network != "" {
		args = append(args, "--network", o.Network)
	}
	if o.User != "" {
		args = append(args, "--user", o.User)
	}
	if o.Workdir != "" {
		args = append(args, "--workdir", o.Workdir)
	}
	for _, v := range o.Volumes {
		args = append(args, "-v", v)
	}
	return append(args, o.Extra...)
}

// Run runs image in the foreground and returns its output and exit code
// (podman's own failures use 125-127). It fails the test on timeout. With
// opts.Detach it behaves like Start and returns the container name as stdout.
func (p *Podman) Run(t testing.TB, image string, opts RunOpts) (stdout, stderr string, exitCode int) {
	t.Helper()
	if opts.Detach {
		return p.Start(t, image, opts).Name, "", 0
	}
	name := "podmantest-" + randomName()
	args := append(opts.flags(name), image)
	args = append(args, opts.Args...)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	stdout, stderr, err := p.execIn(opts.Stdin, timeout, args...)
	checkInternal(t, name, stdout+stderr)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && !errors.Is(err, ErrTimeout) {
			if code := ee.ExitCode(); code >= 125 {
				// podman's own failure (125-127): a missing piece of the
				// host set-up is not the image's fault, say which.
				if h := Diagnose(stderr); h != "" {
					t.Fatalf("podman run %s: exit %d: %s\nhost set-up: %s", image, code, lastLines(stderr, 5), h)
				}
			}
			return stdout, stderr, ee.ExitCode()
		}
		_, _, _ = p.Exec(30*time.Second, "rm", "-f", "-t", "0", name)
		t.Fatalf("podman run %s: %v\nstdout: %s\nstderr: %s", image, err, lastLines(stdout, 20), withDiagnosis(stderr))
	}
	return stdout, stderr, 0
}

// internalError starts the line the runtime of a converted image writes when
// one of its own consistency checks fails (a lock-order inversion, a lock
// taken twice): whatever the test asserts, that is a failure.
const internalError = "scone-run: internal error"

func checkInternal(t testing.TB, name, output string) {
	t.Helper()
	if i := strings.Index(output, internalError); i >= 0 {
		line, _, _ := strings.Cut(output[i:], "\n")
		t.Errorf("container %s: %s", name, line)
	}
}

// Container is a container started by Start.
type Container struct {
	p    *Podman
	Name string
}

// Start runs image in the background; the container is removed at the end
// of the test. opts.Detach is implied.
func (p *Podman) Start(t testing.TB, image string, opts RunOpts) *Container {
	t.Helper()
	opts.Detach = true
	name := "podmantest-" + randomName()
	args := append(opts.flags(name), image)
	args = append(args, opts.Args...)
	c := &Container{p: p, Name: name}
	t.Cleanup(func() {
		if logs, _, err := p.Exec(30*time.Second, "logs", name); err == nil {
			checkInternal(t, name, logs)
		}
		_, _, _ = p.Exec(60*time.Second, "rm", "-f", "-v", "-t", "0", name)
	})
	p.Must(t, args...)
	return c
}

// Logs returns the container's stdout and stderr so far (interleaved).
func (c *Container) Logs(t testing.TB) string {
	t.Helper()
	out, stderr, err := c.p.Exec(30*time.Second, "logs", c.Name)
	if err != nil {
		t.Fatalf("podman logs %s: %v: %s", c.Name, err, lastLines(stderr, 5))
	}
	return out + stderr
}

// Running reports whether the container is still running.
func (c *Container) Running(t testing.TB) bool {
	t.Helper()
	out := c.p.Must(t, "inspect", "--format", "{{.State.Running}}", c.Name)
	return strings.TrimSpace(out) == "true"
}

// Stop sends the image's stop signal and waits up to grace before killing;
// it returns the container's exit code.
func (c *Container) Stop(t testing.TB, grace time.Duration) int {
	t.Helper()
	secs := int((grace + time.Second - 1) / time.Second)
	c.p.Must(t, "stop", "-t", fmt.Sprint(secs), c.Name)
	return c.ExitCode(t)
}

// Wait waits up to timeout for the container to exit and returns its exit code.
func (c *Container) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	out, stderr, err := c.p.Exec(timeout, "wait", c.Name)
	if err != nil {
		t.Fatalf("podman wait %s: %v: %s\nlogs:\n%s", c.Name, err, lastLines(stderr, 5), lastLines(c.Logs(t), 20))
	}
	var code int
	if _, err := fmt.Sscan(strings.TrimSpace(out), &code); err != nil {
		t.Fatalf("podman wait %s: parsing exit code %q: %v", c.Name, out, err)
	}
	return code
}

// ExitCode returns the exit code of a stopped container.
func (c *Container) ExitCode(t testing.TB) int {
	t.Helper()
	out := c.p.Must(t, "inspect", "--format", "{{.State.ExitCode}}", c.Name)
	var code int
	if _, err := fmt.Sscan(strings.TrimSpace(out), &code); err != nil {
		t.Fatalf("podman inspect %s: parsing exit code %q: %v", c.Name, out, err)
	}
	return code
}

// Remove removes the container at once (SIGKILL).
func (c *Container) Remove(t testing.TB) {
	t.Helper()
	c.p.Must(t, "rm", "-f", "-v", "-t", "0", c.Name)
}

func randomName() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprint(time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}

// knownFailures maps what podman prints when a piece of the host set-up is
// missing to the piece and its fix.
var knownFailures = []struct{ needle, hint string }{
	{"netavark: No such file or directory", "netavark (podman's network backend) could not run iptables: install Debian's iptables " +
		"(scripts/setup.sh installs it; scripts/setup.sh --check lists what is missing), or run with --network none"},
	{"netavark: iptables", "netavark's iptables call failed: install Debian's iptables (scripts/setup.sh)"},
	{"could not find \"netavark\"", "podman's network backend is missing: install netavark and aardvark-dns (scripts/setup.sh)"},
	{"setrlimit `RLIMIT_NOFILE`", "the container's ulimits exceed the host's hard limits: use podmantest.Setup's containers.conf (scripts/podman-env.sh)"},
	{"runc: executable file not found", "runc is missing: install runc (scripts/setup.sh)"},
}

// Diagnose returns what podman's stderr says is missing on this host and how
// to fix it, or "" when the failure is not a known set-up problem.
func Diagnose(stderr string) string {
	for _, k := range knownFailures {
		if strings.Contains(stderr, k.needle) {
			return k.hint
		}
	}
	return ""
}

// withDiagnosis appends Diagnose's hint to a failure message.
func withDiagnosis(stderr string) string {
	if h := Diagnose(stderr); h != "" {
		return lastLines(stderr, 20) + "\nhost set-up: " + h
	}
	return lastLines(stderr, 20)
}

// lastLines returns at most the last n lines of s, without the final newline.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Threads describes every thread of the container's processes as the host
// kernel sees them, one line each: pid/tid, name, state, the kernel
// function it sleeps in (wchan) and the system call it is in
// (/proc/TID/syscall: its number, or "running"), each process preceded by
// its command line (a converted image's processes all run the runtime
// binary; their names are the programs'), for a test to print when
// a containerized program stops answering (a hang or just slowness).
// Empty when the container is not running; lines the host does not let
// us read say so.
func (c *Container) Threads(t testing.TB) string {
	t.Helper()
	out, _, err := c.p.Exec(30*time.Second, "inspect", "--format", "{{.State.Pid}}", c.Name)
	if err != nil {
		return ""
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || pid <= 0 {
		return ""
	}
	var b strings.Builder
	seen := map[int]bool{}
	var walk func(pid int)
	walk = func(pid int) {
		if seen[pid] || len(seen) > 256 {
			return
		}
		seen[pid] = true
		if cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
			args := strings.TrimRight(strings.ReplaceAll(string(cl), "\x00", " "), " ")
			if len(args) > 200 {
				args = args[:200] + "..."
			}
			fmt.Fprintf(&b, "%d: %s\n", pid, args)
		}
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			fmt.Fprintf(&b, "%d: %v\n", pid, err)
			return
		}
		var children []int
		for _, task := range tasks {
			dir := fmt.Sprintf("/proc/%d/task/%s", pid, task.Name())
			read := func(name string) string {
				v, err := os.ReadFile(dir + "/" + name)
				if err != nil {
					return "?"
				}
				return strings.TrimSpace(string(v))
			}
			state := "?"
			if st := read("stat"); st != "?" {
				if i := strings.LastIndexByte(st, ')'); i >= 0 && i+2 < len(st) {
					state = st[i+2 : i+3]
				}
			}
			sys, _, _ := strings.Cut(read("syscall"), " ")
			fmt.Fprintf(&b, "%d/%s %s state %s wchan %s syscall %s\n", pid, task.Name(), read("comm"), state, read("wchan"), sys)
			for _, f := range strings.Fields(read("children")) {
				if n, err := strconv.Atoi(f); err == nil {
					children = append(children, n)
				}
			}
		}
		for _, ch := range children {
			walk(ch)
		}
	}
	walk(pid)
	return b.String()
}

// keptPrefix names the images Keep leaves in the storage.
const keptPrefix = "localhost/podmantest-keep/"

// kept: the keys this process has kept already.
var kept sync.Map

// Keep leaves the image tagged tag of the OCI layout layoutDir in podman's
// storage as localhost/podmantest-keep/GROUP:VERSION, pulled unless there
// already, and returns that name. Tests pull and remove their images; while
// a kept image holds the layers, a later pull of an image built on them
// (another entrypoint, a derived image) copies no layer. A kept image of
// the same group and another version is removed (when nothing uses it).
func (p *Podman) Keep(t testing.TB, layoutDir, tag, group, version string) string {
	t.Helper()
	ref := keptPrefix + group + ":" + version
	if _, done := kept.Load(ref); done {
		return ref
	}
	if _, _, err := p.Exec(30*time.Second, "image", "exists", ref); err != nil {
		id := p.PullOCI(t, layoutDir, tag)
		// PullOCI's cleanup drops its own name; the kept name stays.
		p.Must(t, "tag", id, ref)
		out, _, err := p.Exec(30*time.Second, "images", "--format", "{{.Repository}}:{{.Tag}}", keptPrefix+group)
		if err == nil {
			for _, old := range strings.Fields(out) {
				if old != ref {
					_, _, _ = p.Exec(30*time.Second, "rmi", old)
				}
			}
		}
	}
	kept.Store(ref, true)
	return ref
}
