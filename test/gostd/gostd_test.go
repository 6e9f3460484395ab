package gostd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scone-build/scone-build/internal/testimages"
	"github.com/scone-build/scone-build/internal/testruntime"
	"github.com/scone-build/scone-build/pkg/convert"
	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
	"github.com/scone-build/scone-build/pkg/fsprotect"
	"github.com/scone-build/scone-build/pkg/runtimebin"
)

var (
	long    = flag.Bool("long", false, "run the tests without -test.short (make test-gostd)")
	table   = flag.String("table", "", "write the per-package table (Markdown) to this file")
	onlyPkg = flag.String("pkgs", "", "comma-separated packages to run (default: the whole suite)")
)

// A package of the suite.
type pkgSpec struct {
	path string
	heap uint64 // the enclave's heap when the default is too small (convert --heap)
	// nativeSkip: tests the native run leaves out in -test.short mode
	// because they take long natively here; the converted run must pass
	// (or skip) them all the same.
	nativeSkip []string
}

// packages: what issue 15 asks for. All of them run in `make test` with
// -test.short (about 80 s on the 2-core VM, docs/compatibility.md has the
// table); -long runs them without -test.short.
var packages = []pkgSpec{
	{path: "os"},
	{path: "os/exec"},
	{path: "os/signal"},
	{path: "os/user"},
	{path: "syscall"},
	{path: "io"},
	{path: "io/fs"},
	{path: "path/filepath"},
	// TestSendfileWithLargeFile (without -test.short) writes a 2 GiB
	// file to /tmp: the enclave's own file system, which holds at most
	// its shared arena, max(heap, 1 GiB) (ENOMEM with the default).
	{path: "net", heap: 4 << 30},
	{path: "net/http"},
	{path: "time"},
	{path: "sync"},
	{path: "sync/atomic"},
	// TestMemmoveOverflow takes 3 GiB of private writable memory
	// before it maps a file MAP_SHARED 49,152 times over it.
	// Natively it takes ~65 s on a PVM guest (first touches of 3 GiB,
	// shadow page tables), converted ~16 s: the native run is left out.
	{path: "runtime", heap: 4 << 30, nativeSkip: []string{"TestMemmoveOverflow"}},
	{path: "archive/tar"},
	{path: "compress/gzip"},
	{path: "crypto/tls"},
	{path: "bufio"},
	// added 2026-12-07 (all passed converted as natively): splice,
	// sendfile and copy_file_range between pipes, files and sockets;
	// unix datagram and stream sockets to a syslog server of the test's
	// own; CGI children executed by the test binary; heap dumps written
	// to a file; getrandom
	{path: "internal/poll"},
	{path: "log/syslog"},
	{path: "net/http/cgi"},
	{path: "runtime/debug"},
	{path: "crypto/rand"},
}

// The environment of both runs (the converted one gets it from the image
// config).
var testEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"GOROOT=/usr/local/go",
	"HOME=/root",
}

const (
	perPackageTimeout = 8 * time.Minute // -test.timeout of one run
	workers           = 2               // two shared cores
)

// nativeScript runs $3... in a chroot into $1 with working directory $2, in
// a private mount namespace (unshare -m) with the host's /dev, /proc, /sys,
// /etc/hosts and /etc/resolv.conf: what the converted run reaches on the
// host through its passthrough mounts.
const nativeScript = `set -e
T=$1; D=$2; shift 2
mount --rbind /dev "$T/dev"
mount -t proc proc "$T/proc"
mount --rbind /sys "$T/sys"
for f in /etc/hosts /etc/resolv.conf; do
	[ -e "$f" ] || continue
	[ -e "$T$f" ] || : >"$T$f"
	mount --bind "$f" "$T$f"
done
exec chroot "$T" /usr/bin/env -i ` + "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GOROOT=/usr/local/go HOME=/root" + ` /bin/sh -c 'cd "$0" && exec "$@"' "$D" "$@"
`

type outcome string

const (
	pass outcome = "PASS"
	fail outcome = "FAIL"
	skip outcome = "SKIP"
)

// run is one run of a test binary: the outcome and duration of each
// top-level test.
type run struct {
	tests  map[string]outcome
	secs   map[string]float64
	output string
	err    error // exit status or timeout
	dur    time.Duration
}

var resultLine = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (\S+) \(([0-9.]+)s\)`)

func parse(out []byte) (map[string]outcome, map[string]float64) {
	m, secs := map[string]outcome{}, map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if g := resultLine.FindSubmatch(sc.Bytes()); g != nil {
			m[string(g[2])] = outcome(g[1])
			secs[string(g[2])], _ = strconv.ParseFloat(string(g[3]), 64)
		}
	}
	return m, secs
}

// slowest names the n slowest tests of r.
func (r *run) slowest(n int) string {
	names := make([]string, 0, len(r.secs))
	for k := range r.secs {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return r.secs[names[i]] > r.secs[names[j]] })
	var b strings.Builder
	for i := 0; i < n && i < len(names); i++ {
		fmt.Fprintf(&b, " %s %.1fs", names[i], r.secs[names[i]])
	}
	return b.String()
}

func (r *run) count(o outcome) int {
	n := 0
	for _, v := range r.tests {
		if v == o {
			n++
		}
	}
	return n
}

// execRun runs argv with env, killing its process group after the timeout.
func execRun(argv, env []string, timeout time.Duration) *run {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("killed after %v: %w", timeout, ctx.Err())
	}
	tests, secs := parse(out.Bytes())
	return &run{tests: tests, secs: secs, output: out.String(), err: err, dur: time.Since(start)}
}

// suite is what every package's run shares.
type suite struct {
	work, base, bins string
	signer           enclave.Signer
	fsKey            fsprotect.Key
	keyFile          string
	// images: the converted image of each heap size (one conversion for
	// all packages of a size), its output directory
	images map[uint64]string
	// runtime: the transport and scheduler of the conversions
	// (testruntime.Options)
	runtime []convert.Option
}

func requirements(t *testing.T) {
	if testing.Short() {
		t.Skip("the Go standard library suite: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("the native runs chroot into the image's tree: needs root")
	}
	for _, tool := range []string{"go", "unshare", "chroot", "tar", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	if _, err := runtimebin.Binary(runtimebin.Run); err != nil {
		t.Skipf("runtime not embedded: run `make runtime` (make test does): %v", err)
	}
}

func selected(t *testing.T) []pkgSpec {
	if *onlyPkg == "" {
		return packages
	}
	return pkgsNamed(t, strings.Split(*onlyPkg, ","))
}

// pkgsNamed: the suite's packages of these paths; a path that is not one
// of them runs with the defaults.
func pkgsNamed(t *testing.T, names []string) []pkgSpec {
	var out []pkgSpec
	for _, name := range names {
		found := false
		for _, p := range packages {
			if p.path == name {
				out = append(out, p)
				found = true
			}
		}
		if !found { // another standard package, by hand (docs/compatibility.md)
			t.Logf("-pkgs: %q is not a package of the suite: run with the defaults", name)
			out = append(out, pkgSpec{path: name})
		}
	}
	return out
}

func goroot(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// buildBinaries runs `go test -c` for each package, two at a time.
func buildBinaries(t *testing.T, pkgs []pkgSpec, dir string) {
	var wg sync.WaitGroup
	errs := make([]error, len(pkgs))
	sem := make(chan struct{}, workers)
	for i, p := range pkgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.Command("go", "test", "-c", "-o", filepath.Join(dir, binName(p.path)), p.path)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go test -c %s: %v\n%s", p.path, err, out)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// newSuite: pkgs built, packed on the debian image's tree and converted
// with runtime (transport, scheduler: none for the defaults).
func newSuite(t *testing.T, pkgs []pkgSpec, runtime []convert.Option) *suite {
	layoutDir := testimages.Layout(t, "debian")
	s := &suite{work: t.TempDir(), runtime: runtime}
	s.base = filepath.Join(s.work, "base")
	s.bins = filepath.Join(s.work, "bins")
	for _, d := range []string{s.base, s.bins} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	buildBinaries(t, pkgs, s.bins)
	t.Logf("go test -c of %d packages: %v", len(pkgs), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := extractImage(layoutDir, s.base); err != nil {
		t.Fatal(err)
	}
	// Every package's sources (a package's tests may read its
	// neighbours': the tree is the same for all runs), and GOROOT's time
	// zone database (time's tests load America/Los_Angeles from it; the
	// debian image has no tzdata).
	root := goroot(t)
	dirs := []string{"lib/time"}
	for _, p := range pkgs {
		dirs = append(dirs, "src/"+p.path)
	}
	for _, d := range dirs {
		dst := filepath.Join(s.base, "usr/local/go", d)
		if _, err := os.Stat(dst); err == nil {
			continue // inside a directory copied already
		}
		if err := copyTree(filepath.Join(root, d), dst); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(s.base, "gostd"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("tree (debian + sources): %v", time.Since(start).Round(time.Millisecond))

	k, err := enclave.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if s.signer, err = enclave.NewKeySigner(k); err != nil {
		t.Fatal(err)
	}
	if s.fsKey, err = fskey.Generate(rand.Reader); err != nil {
		t.Fatal(err)
	}
	mrs, err := enclave.MRSIGNER(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	s.keyFile = filepath.Join(s.work, "fs.key")
	if err := (&fskey.File{Key: s.fsKey, Identity: fskey.Identity{MRSIGNER: &mrs}}).Write(s.keyFile, false); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := s.convertAll(pkgs); err != nil {
		t.Fatal(err)
	}
	t.Logf("converted %d images: %v", len(s.images), time.Since(start).Round(time.Millisecond))
	return s
}

// args are the test binary's flags in both runs.
func (p pkgSpec) args() []string {
	a := []string{"-test.v", "-test.timeout=" + perPackageTimeout.String()}
	if !*long {
		a = append(a, "-test.short")
	}
	return a
}

// entryScript is the converted images' entrypoint: /bin/sh -c entryScript
// DIR BINARY ARGS... (the host passes DIR and the rest: --host-args), the
// same way as the native runs start the binary.
const entryScript = `cd "$0" && exec "$@"`

// convertAll converts, for each heap size the packages ask for, one image
// holding the tree and every test binary of those packages, as
// `scone-build convert dir:TREE dir:OUT --source-config CFG --host-args`:
// one conversion instead of one per package (each converts the whole
// debian tree).
func (s *suite) convertAll(pkgs []pkgSpec) error {
	groups := map[uint64][]pkgSpec{}
	for _, p := range pkgs {
		groups[p.heap] = append(groups[p.heap], p)
	}
	s.images = map[uint64]string{}
	for heap, ps := range groups {
		dir := filepath.Join(s.work, fmt.Sprintf("image-heap-%d", heap))
		tree, out := filepath.Join(dir, "tree"), filepath.Join(dir, "out")
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		if err := linkTree(s.base, tree); err != nil {
			return err
		}
		for _, p := range ps {
			name := binName(p.path)
			if err := copyFile(filepath.Join(s.bins, name), filepath.Join(tree, "gostd", name), 0o755); err != nil {
				return err
			}
		}
		cfg := &v1.ConfigFile{
			Architecture: "amd64",
			OS:           "linux",
			Config: v1.Config{
				Entrypoint: []string{"/bin/sh"},
				WorkingDir: "/",
				Env:        testEnv,
			},
			RootFS: v1.RootFS{Type: "layers"},
		}
		opts := append([]convert.Option{convert.WithSigner(s.signer), convert.WithFSKey(s.fsKey), convert.WithHostArgs(true)}, s.runtime...)
		if heap != 0 {
			opts = append(opts, convert.WithHeapSize(heap))
		}
		res, err := convert.Build(context.Background(), convert.FromDir(tree, cfg, fmt.Sprintf("gostd-heap-%d", heap)), opts...)
		if err != nil {
			return fmt.Errorf("converting the tree for heap %d: %w", heap, err)
		}
		if err := res.Image.WriteDir(out); err != nil {
			return fmt.Errorf("writing the image for heap %d: %w", heap, err)
		}
		if err := os.RemoveAll(tree); err != nil {
			return err
		}
		s.images[heap] = out
	}
	return nil
}

type pkgResult struct {
	spec              pkgSpec
	native, converted *run
	regressions       []string // passed natively, not converted, not allowed
	allowed           []string // passed natively, not converted, allowed
	fixed             []string // allowed, but passed converted
	flaky             []string // failed converted, passed when run again alone
}

func (s *suite) runPkg(t *testing.T, p pkgSpec) *pkgResult {
	name := binName(p.path)
	dir := filepath.Join(s.work, strings.TrimSuffix(name, ".test"))
	tree := filepath.Join(dir, "tree")
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := linkTree(s.base, tree); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(filepath.Join(s.bins, name), filepath.Join(tree, "gostd", name), 0o755); err != nil {
		t.Fatal(err)
	}
	timeout := perPackageTimeout + time.Minute
	out := s.images[p.heap]
	convEnv := []string{"PATH=/usr/bin:/bin", "SCONE_ENCLAVE_DIR=" + filepath.Join(out, "rootfs/scone/enclave"),
		"SCONE_FS_KEY_FILE=" + s.keyFile}
	if v := os.Getenv("SCONE_E2E_ASYNC_POST"); v != "" {
		convEnv = append(convEnv, "SCONE_ASYNC_POST="+v) // internal/testruntime
	}
	converted := func(args []string) *run {
		return execRun(append([]string{filepath.Join(out, "rootfs/scone/bin/scone-run"), "-c", entryScript,
			pkgDir(p.path), "/gostd/" + name}, args...), convEnv, timeout)
	}
	conv := converted(p.args())
	nativeArgs := p.args()
	if len(p.nativeSkip) > 0 && !*long {
		nativeArgs = append(nativeArgs, "-test.skip=^("+strings.Join(p.nativeSkip, "|")+")$")
	}
	nat := execRun(append([]string{"unshare", "-m", "--propagation", "private", "sh", "-c", nativeScript, "sh",
		tree, pkgDir(p.path), "/gostd/" + name}, nativeArgs...), []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, timeout)
	r := compare(p, nat, conv)
	// A test that fails converted is run again on its own, up to twice:
	// the suite shares two cores with the rest of `make test`, and some
	// tests measure time. Only one that fails every time is a regression;
	// one that passes again is reported as flaky.
	for try := 0; try < 2 && len(r.regressions) > 0; try++ {
		quoted := make([]string, len(r.regressions))
		for i, n := range r.regressions {
			quoted[i] = regexp.QuoteMeta(n)
		}
		again := converted(append(p.args(), "-test.run=^("+strings.Join(quoted, "|")+")$"))
		var still []string
		for _, n := range r.regressions {
			if again.tests[n] == pass {
				r.flaky = append(r.flaky, n)
			} else {
				still = append(still, n)
			}
		}
		r.regressions = still
	}
	return r
}

func compare(p pkgSpec, nat, conv *run) *pkgResult {
	r := &pkgResult{spec: p, native: nat, converted: conv}
	for _, name := range p.nativeSkip {
		if _, ran := nat.tests[name]; ran {
			continue // -long: compared below
		}
		// left out natively: converted it must pass or skip
		if o, ok := conv.tests[name]; !ok || o == fail {
			r.regressions = append(r.regressions, name)
		}
	}
	for name, o := range nat.tests {
		key := p.path + "." + name
		_, known := knownDiffs[key]
		switch {
		case o != pass:
		case conv.tests[name] == pass:
			if known {
				r.fixed = append(r.fixed, name)
			}
		case known:
			r.allowed = append(r.allowed, name)
		default:
			r.regressions = append(r.regressions, name)
		}
	}
	sort.Strings(r.regressions)
	sort.Strings(r.allowed)
	sort.Strings(r.fixed)
	return r
}

// TestGoStdlib: the standard library's tests, converted vs native.
func TestGoStdlib(t *testing.T) {
	requirements(t)
	pkgs := selected(t)
	rt := testruntime.Options(t)
	if len(rt) > 0 {
		t.Logf("converting with SCONE_E2E_TRANSPORT=%q SCONE_E2E_SCHEDULER=%q", os.Getenv("SCONE_E2E_TRANSPORT"), os.Getenv("SCONE_E2E_SCHEDULER"))
	}
	md := runSuite(t, pkgs, rt)
	if *table != "" {
		if err := os.WriteFile(*table, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGoStdlibAsyncMN: the packages that exercise threads, signals and
// per-thread state the most, converted with the async transport and the
// user-level threads. The whole suite passes this way too
// (SCONE_E2E_TRANSPORT=async SCONE_E2E_SCHEDULER=mn, 2026-12-07); it found a
// hang (a signal just before a blocking call, async transport) and the
// keep-capabilities flag kept per kernel thread (syscall's
// TestAllThreadsSyscall*).
func TestGoStdlibAsyncMN(t *testing.T) {
	requirements(t)
	if *onlyPkg != "" {
		t.Skip("-pkgs selects the packages of TestGoStdlib")
	}
	_ = runSuite(t, pkgsNamed(t, []string{"syscall", "os/signal", "sync"}),
		[]convert.Option{convert.WithTransport(enclave.TransportAsync, enclave.DefaultExitCycles), convert.WithScheduler(enclave.SchedulerMN)})
}

// runSuite runs pkgs natively and converted with runtime, reports, and
// returns the per-package table (Markdown).
func runSuite(t *testing.T, pkgs []pkgSpec, runtime []convert.Option) string {
	s := newSuite(t, pkgs, runtime)
	results := make([]*pkgResult, len(pkgs))
	sem := make(chan struct{}, workers)
	t.Run("pkg", func(t *testing.T) {
		for i, p := range pkgs {
			t.Run(p.path, func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				r := s.runPkg(t, p)
				results[i] = r
				report(t, r)
			})
		}
	})
	md := markdown(results)
	t.Logf("Go standard library tests, converted vs native (%s, %s):\n%s", time.Now().Format("2006-01-02"), modeName(), md)
	return md
}

func report(t *testing.T, r *pkgResult) {
	t.Logf("native %v (%d pass, %d fail, %d skip; %v), converted %v (%d pass, %d fail, %d skip; %v)",
		r.native.dur.Round(time.Millisecond), r.native.count(pass), r.native.count(fail), r.native.count(skip), errText(r.native.err),
		r.converted.dur.Round(time.Millisecond), r.converted.count(pass), r.converted.count(fail), r.converted.count(skip), errText(r.converted.err))
	t.Logf("slowest converted:%s; native:%s", r.converted.slowest(3), r.native.slowest(3))
	if len(r.native.tests) == 0 {
		t.Errorf("the native run reported no test: %v\n%s", r.native.err, tail(r.native.output, 4000))
	}
	for _, name := range r.allowed {
		t.Logf("known difference %s: %s", name, knownDiffs[r.spec.path+"."+name])
	}
	for _, name := range r.fixed {
		t.Logf("%s passes converted now: remove it from knownDiffs", name)
	}
	for _, name := range r.flaky {
		t.Logf("%s failed converted in the package's run and passed run alone (flaky under load?):\n%s", name, excerpt(r.converted.output, name))
	}
	for _, name := range r.regressions {
		t.Errorf("%s passes natively but converted it is %s:\n%s", name, outcomeOf(r.converted, name), excerpt(r.converted.output, name))
	}
	if len(r.regressions) > 0 && r.converted.err != nil {
		t.Logf("converted run ended with %v; its output's end:\n%s", r.converted.err, tail(r.converted.output, 3000))
	}
}

func outcomeOf(r *run, name string) string {
	if o, ok := r.tests[name]; ok {
		return string(o)
	}
	return "not reported (the run ended before it)"
}

func errText(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

func modeName() string {
	if *long {
		return "-long: without -test.short"
	}
	return "-test.short"
}

// excerpt is what the run printed for test name: the lines from its
// "=== RUN", "=== CONT" or "=== NAME" headers (and its subtests') up to the
// next header of another test.
func excerpt(out, name string) string {
	var b strings.Builder
	in := false
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "=== ") {
			f := strings.Fields(l)
			in = len(f) >= 3 && (f[2] == name || strings.HasPrefix(f[2], name+"/"))
			continue
		}
		if g := resultLine.FindStringSubmatch(l); g != nil {
			in = g[2] == name
		}
		if in {
			b.WriteString(l)
			b.WriteByte('\n')
			if b.Len() > 6000 {
				b.WriteString("...\n")
				break
			}
		}
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

func markdown(results []*pkgResult) string {
	var b strings.Builder
	b.WriteString("| package | native pass / fail / skip | converted pass / fail / skip | native → converted regressions (allowed) | native s | converted s |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	var nt, ct [3]int
	var reg, allowed int
	for _, r := range results {
		if r == nil {
			continue
		}
		n := [3]int{r.native.count(pass), r.native.count(fail), r.native.count(skip)}
		c := [3]int{r.converted.count(pass), r.converted.count(fail), r.converted.count(skip)}
		for i := range n {
			nt[i] += n[i]
			ct[i] += c[i]
		}
		reg += len(r.regressions)
		allowed += len(r.allowed)
		fmt.Fprintf(&b, "| %s | %d / %d / %d | %d / %d / %d | %d (%d) | %.1f | %.1f |\n", r.spec.path,
			n[0], n[1], n[2], c[0], c[1], c[2], len(r.regressions), len(r.allowed),
			r.native.dur.Seconds(), r.converted.dur.Seconds())
	}
	fmt.Fprintf(&b, "| **all** | %d / %d / %d | %d / %d / %d | %d (%d) | | |\n", nt[0], nt[1], nt[2], ct[0], ct[1], ct[2], reg, allowed)
	return b.String()
}
