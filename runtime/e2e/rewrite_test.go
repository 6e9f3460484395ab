package e2e

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/console"
	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/rewrite"
)

// rewriteTo writes the program with its system call sites rewritten
// (pkg/rewrite) to out (an unchanged copy when no site could be).
func rewriteTo(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	r, err := rewrite.Rewrite(b, rewrite.Options{})
	if err != nil {
		return err
	}
	if r.Data != nil {
		b = r.Data
	}
	return os.WriteFile(out, b, 0o755)
}

// dryRewrite: how the rewriter classifies the sites of the program at path.
func dryRewrite(t testing.TB, path string) *rewrite.Result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := rewrite.Rewrite(b, rewrite.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// progRW: the program with its system call sites rewritten.
func progRW(t testing.TB, name string) string {
	t.Helper()
	return progPlain(t, name) + ".rw"
}

var statsRE = regexp.MustCompile(`stats: (\d+) system calls trapped, (\d+) fast \(rewritten sites\), (\d+) of them sent`)

// fastStats parses SCONE_STATS=1 output: trapped, fast, fast sent to the trap.
func fastStats(t testing.TB, stderr string) (trapped, fast, sent int) {
	t.Helper()
	m := statsRE.FindAllStringSubmatch(stderr, -1)
	if m == nil {
		t.Fatalf("no stats line in stderr:\n%s", stderr)
	}
	for _, x := range m { // one line per process that exits with exit_group
		a, _ := strconv.Atoi(x[1])
		b, _ := strconv.Atoi(x[2])
		c, _ := strconv.Atoi(x[3])
		trapped, fast, sent = trapped+a, fast+b, sent+c
	}
	return
}

func devRunEnv(t testing.TB, extra []string, args ...string) result {
	env := append(append(baseEnv(), "SCONE_MODE=dev", "SCONE_SIM_EXIT_CYCLES=0"), extra...)
	return run(t, env, append([]string{runtimeBin(t), "--dev-exec"}, args...)...)
}

// TestRewrittenMatchesNative runs each program kind with its system call
// sites rewritten: natively (the stubs' own syscalls, no runtime), under
// scone-run with the fast path and with it off (SCONE_FASTPATH=0: every
// rewritten site traps); all must behave as the original program natively.
// Where sites were rewritten, the fast path must serve calls.
func TestRewrittenMatchesNative(t *testing.T) {
	names := []string{"hello-glibc-dynamic", "hello-glibc-static", "hello-static-pie",
		"hello-musl-static", "hello-musl-dynamic", "hello-musl-static-pie", "threads-glibc-static", "threads-musl-static",
		"signals-musl-static", "go-hello", "go-preempt", "go-pie", "brk-static", "stress-musl-static"}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			orig := progPlain(t, name)
			bin := progRW(t, name)
			res := dryRewrite(t, orig)
			args := []string{"first arg", "-x", ""}
			native := run(t, baseEnv(), append([]string{orig}, args...)...)
			if strings.TrimSpace(native.stdout) == "" {
				t.Fatalf("native run printed nothing: the comparison would be empty")
			}
			check := func(what string, got result) {
				t.Helper()
				if got.stdout != native.stdout || got.code != native.code {
					t.Fatalf("%s: exit %d, stdout:\n%s\nstderr:\n%s\nnative: exit %d, stdout:\n%s",
						what, got.code, got.stdout, got.stderr, native.code, native.stdout)
				}
			}
			check("rewritten, native", run(t, baseEnv(), append([]string{bin}, args...)...))
			check("rewritten, fast path off", devRunEnv(t, []string{"SCONE_FASTPATH=0"}, append([]string{bin}, args...)...))
			got := devRunEnv(t, []string{"SCONE_STATS=1"}, append([]string{bin}, args...)...)
			check("rewritten, fast path", got)
			_, fast, _ := fastStats(t, got.stderr)
			t.Logf("%d sites rewritten, %d left; %d fast calls", res.Rewritten, res.Left, fast)
			if res.Rewritten > 0 && fast == 0 {
				t.Fatalf("%d sites rewritten but no call took the fast path:\n%s", res.Rewritten, got.stderr)
			}
		})
	}
}

// TestRewriteRedZone: a leaf function keeps values in its red zone across a
// rewritten syscall (the stub must step over it), with a timer signal
// interrupting the loop (delivered on the trap and the fast path alike).
func TestRewriteRedZone(t *testing.T) {
	for _, name := range []string{"redzone-glibc-static", "redzone-musl-static"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(progPlain(t, name))
			if err != nil {
				t.Fatal(err)
			}
			res, err := rewrite.Rewrite(b, rewrite.Options{DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			leaf := false
			for _, s := range res.Sites {
				if s.Func == "leaf_getppid" {
					leaf = s.Rewritten && s.Nr == 110
					if !leaf {
						t.Fatalf("the leaf's site was not rewritten: %+v", s)
					}
				}
			}
			if !leaf {
				t.Fatal("no site found in leaf_getppid")
			}
			got := devRunEnv(t, []string{"SCONE_STATS=1"}, progRW(t, name))
			if got.code != 0 || !strings.Contains(got.stdout, "corrupted red-zone slots: 0\nwrong results: 0\nsignals: delivered") {
				t.Fatalf("exit %d\n%s\n%s", got.code, got.stdout, got.stderr)
			}
			if _, fast, _ := fastStats(t, got.stderr); fast < 200000 {
				t.Fatalf("%d fast calls: the loop did not take the fast path\n%s", fast, got.stderr)
			}
		})
	}
}

// TestRewriteSignalsDuringFastPath: timer signals interrupt a loop of fast
// calls (results stay right, handlers run), a blocking read on the fast path
// is restarted under SA_RESTART and fails with EINTR without it.
func TestRewriteSignalsDuringFastPath(t *testing.T) {
	for _, name := range []string{"fastsig-glibc-static", "fastsig-musl-static"} {
		t.Run(name, func(t *testing.T) {
			want := "loop: wrong results 0, signals delivered\nSA_RESTART read: 1 x\nno SA_RESTART read: -1 EINTR\n"
			native := run(t, baseEnv(), progPlain(t, name))
			if native.code != 0 || native.stdout != want {
				t.Fatalf("natively: exit %d\n%s", native.code, native.stdout)
			}
			got := devRunEnv(t, []string{"SCONE_STATS=1"}, progRW(t, name))
			if got.code != 0 || got.stdout != want {
				t.Fatalf("exit %d\n%s\n%s", got.code, got.stdout, got.stderr)
			}
			if _, fast, _ := fastStats(t, got.stderr); fast < 300000 {
				t.Fatalf("%d fast calls: the loop did not take the fast path\n%s", fast, got.stderr)
			}
		})
	}
}

// TestRewriteCloneAndVfork: rewritten clone and vfork sites (musl's
// __clone and vfork, Go's clone) reach the fast entry, which sends them to
// the trap: the child returns on its own stack at the stub's continuation.
func TestRewriteCloneAndVfork(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"threads-musl-static", nil},
		{"threads-glibc-static", nil},
		{"go-preempt", nil},
		{"fork-musl-static", []string{"vfork", "/bin/echo"}},
		{"fork-musl-static", []string{"spawn", "/bin/echo"}},
		{"fork-glibc-static", []string{"vfork", "/bin/echo"}},
		{"fork-glibc-static", []string{"wait"}},
	}
	for _, c := range cases {
		t.Run(c.name+" "+strings.Join(c.args, " "), func(t *testing.T) {
			native := run(t, baseEnv(), append([]string{progPlain(t, c.name)}, c.args...)...)
			got := devRunEnv(t, []string{"SCONE_STATS=1"}, append([]string{progRW(t, c.name)}, c.args...)...)
			if got.code != native.code || got.stdout != native.stdout {
				t.Fatalf("exit %d (native %d)\n%s\nnative:\n%s\nstderr:\n%s", got.code, native.code, got.stdout, native.stdout, got.stderr)
			}
			if _, _, sent := fastStats(t, got.stderr); sent == 0 {
				t.Fatalf("no call was sent from the fast entry to the trap (clone sites not rewritten?)\n%s", got.stderr)
			}
		})
	}
}

// TestRewriteSharedLibrary: the host's libc.so.6 rewritten into a
// directory on LD_LIBRARY_PATH; glibc's dynamic loader maps it and the
// runtime fills its slot at that mmap: glibc programs (threads, signals,
// fork) behave as natively and their libc calls take the fast path.
func TestRewriteSharedLibrary(t *testing.T) {
	const libc = "/lib/x86_64-linux-gnu/libc.so.6"
	if _, err := os.Stat(libc); err != nil {
		t.Skipf("no %s: %v", libc, err)
	}
	dir := t.TempDir()
	if err := rewriteTo(libc, dir+"/libc.so.6"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
	}{
		{"hello-glibc-dynamic", []string{"x"}},
		{"threads-glibc", nil},
		{"signals-glibc", nil},
		{"fork-glibc", []string{"wait"}},
		{"fork-glibc", []string{"vfork", "/bin/echo"}},
		{"fork-glibc", []string{"spawn", "/bin/echo"}},
	}
	for _, c := range cases {
		t.Run(c.name+" "+strings.Join(c.args, " "), func(t *testing.T) {
			argv := append([]string{progPlain(t, c.name)}, c.args...)
			native := run(t, baseEnv(), argv...)
			lib := "LD_LIBRARY_PATH=" + dir
			nativeRW := run(t, append(baseEnv(), lib), argv...)
			got := devRunEnv(t, []string{lib, "SCONE_STATS=1"}, argv...)
			for what, r := range map[string]result{"rewritten libc natively": nativeRW, "under scone-run": got} {
				if r.code != native.code || r.stdout != native.stdout {
					t.Fatalf("%s: exit %d (native %d)\n%s\nnative:\n%s\nstderr:\n%s", what, r.code, native.code, r.stdout, native.stdout, r.stderr)
				}
			}
			if _, fast, _ := fastStats(t, got.stderr); fast == 0 {
				t.Fatalf("no fast call through the rewritten libc\n%s", got.stderr)
			}
		})
	}
	// The library's stub segment, mapped by the dynamic loader, is told
	// apart from its other code (SCONE_STATS, sites.h): with the fast path
	// off libc's rewritten calls trap in its stubs.
	got := devRunEnv(t, []string{"LD_LIBRARY_PATH=" + dir, "SCONE_STATS=1", "SCONE_FASTPATH=0"}, progPlain(t, "threads-glibc"))
	if k := siteStats(t, got.stderr); got.code != 0 || k[0] < 10 {
		t.Fatalf("fast path off: exit %d, %d calls trapped in stubs (%v), want libc's\n%s", got.code, k[0], k, got.stderr)
	} else {
		t.Logf("fast path off: stubs %d, left %d, not rewritten %d, generated %d", k[0], k[1], k[2], k[3])
	}
}

// TestSimModeRewrittenFastPath: in sim mode a rewritten program read from
// the protected FS image takes the fast path, with the FS shield (its file
// reads decrypt: vector state saved) and with the console shield (writes to
// stdout become encrypted records; the final one at exit_group), and exits
// as the original does.
func TestSimModeRewrittenFastPath(t *testing.T) {
	rt := runtimeBin(t)
	for _, shield := range []bool{false, true} {
		t.Run(fmt.Sprintf("console=%v", shield), func(t *testing.T) {
			orig := makeEnclave(t, rt, progPlain(t, "hello-glibc-static"), func(c *enclave.Config) { c.ConsoleShield = shield })
			rw := makeEnclave(t, rt, progRW(t, "hello-glibc-static"), func(c *enclave.Config) { c.ConsoleShield = shield })
			want := run(t, orig.env("SCONE_STATS=1"), rt)
			got := run(t, rw.env("SCONE_STATS=1"), rt)
			plain := func(e simEnclave, r result) string {
				if !shield {
					return r.stdout
				}
				if strings.Contains(r.stdout, "malloc ok") {
					t.Fatalf("console shield: plaintext on stdout:\n%q", r.stdout)
				}
				var b bytes.Buffer
				if _, err := console.Decrypt(&b, strings.NewReader(r.stdout), e.consoleKey(t), console.Stdout, console.WithMRENCLAVE(e.mrenclave)); err != nil {
					t.Fatalf("console records: %v", err)
				}
				return b.String()
			}
			if got.code != 3 || got.code != want.code || plain(rw, got) != plain(orig, want) || !strings.Contains(plain(rw, got), "malloc ok") {
				t.Fatalf("rewritten: exit %d\n%s\n%s\noriginal: exit %d\n%s", got.code, plain(rw, got), got.stderr, want.code, plain(orig, want))
			}
			if _, fast, _ := fastStats(t, want.stderr); fast != 0 {
				t.Fatalf("the original program took the fast path: %s", want.stderr)
			}
			if _, fast, _ := fastStats(t, got.stderr); fast < 50 {
				t.Fatalf("%d fast calls\n%s", fast, got.stderr)
			}
		})
	}
}

// TestApplicationOwnGS: a program that sets its own GS base, with GS:0x28 in
// a guard page, reads its protected file in sim mode, its system call sites
// trapped and rewritten. The runtime's code (stack-protector canary at
// GS:0x28: runtime/tools/canarygs.c) must run with its block in GS and give
// the application's GS back after every call, in a second thread too.
func TestApplicationOwnGS(t *testing.T) {
	rt := runtimeBin(t)
	for _, v := range []struct{ name, path string }{
		{"trapped", progPlain(t, "appgs-static")},
		{"rewritten", progRW(t, "appgs-static")},
	} {
		t.Run(v.name, func(t *testing.T) {
			native := run(t, baseEnv(), v.path)
			if native.code != 0 || !strings.HasPrefix(native.stdout, "appgs ok") {
				t.Fatalf("natively: exit %d\n%s%s", native.code, native.stdout, native.stderr)
			}
			e := makeEnclave(t, rt, v.path, func(c *enclave.Config) { c.Argv = []string{v.path} })
			got := run(t, e.env(), rt)
			if got.code != 0 || got.stdout != native.stdout {
				t.Fatalf("sim mode: exit %d\n%s%s\nnatively:\n%s", got.code, got.stdout, got.stderr, native.stdout)
			}
		})
	}
}

// TestMNApplicationOwnGS: 8 threads, each with a GS base of its own, take
// turns on one and on two enclave threads of the mn scheduler (with the
// async transport and every blocking call posted on two): GS follows the
// user-level thread, as FS does, and the runtime's code still runs with its
// block in GS (the guard page at GS:0x28).
func TestMNApplicationOwnGS(t *testing.T) {
	for _, v := range []struct{ name, path string }{
		{"trapped", progPlain(t, "appgs-static")},
		{"rewritten", progRW(t, "appgs-static")},
	} {
		native := run(t, baseEnv(), v.path, "threads")
		if native.code != 0 || native.stdout != "appgs threads ok\n" {
			t.Fatalf("natively: exit %d\n%s%s", native.code, native.stdout, native.stderr)
		}
		for _, env := range [][]string{
			{"SCONE_SCHEDULER=mn", "SCONE_THREADS=1"},
			{"SCONE_SCHEDULER=mn", "SCONE_THREADS=2", "SCONE_TRANSPORT=async", "SCONE_ASYNC_POST=2"},
		} {
			t.Run(v.name+"/"+strings.Join(env[1:], ","), func(t *testing.T) {
				got := devRunEnv(t, env, v.path, "threads")
				if got.code != 0 || got.stdout != native.stdout {
					t.Fatalf("exit %d\n%s%s\nnatively:\n%s", got.code, got.stdout, got.stderr, native.stdout)
				}
			})
		}
	}
}

var sitesRE = regexp.MustCompile(`trapped calls by site: (\d+) in stubs, (\d+) at sites left in rewritten files, (\d+) in files not rewritten, (\d+) in code no file holds`)

// siteStats parses SCONE_STATS=1's trapped calls by kind of code (sites.h):
// stubs, sites left, files not rewritten, generated code; summed over the
// processes.
func siteStats(t testing.TB, stderr string) (k [4]int) {
	t.Helper()
	m := sitesRE.FindAllStringSubmatch(stderr, -1)
	if m == nil {
		t.Fatalf("no trapped-calls-by-site line in stderr:\n%s", stderr)
	}
	for _, x := range m {
		for i := range k {
			v, _ := strconv.Atoi(x[i+1])
			k[i] += v
		}
	}
	return k
}

// TestTrappedSitesByKind: SCONE_STATS tells where trapped calls come from
// (issue 14): stubs of rewritten files, sites the rewriter left, files not
// rewritten, and code generated at run time. testdata/sites.c makes n calls
// from each of libc (rewritten), a function with an indirect jump (left)
// and an anonymous page made executable.
func TestTrappedSitesByKind(t *testing.T) {
	const n = 300
	plain, rw := progPlain(t, "sites-glibc-static"), progRW(t, "sites-glibc-static")
	r := dryRewrite(t, plain)
	indirect := 0
	for _, s := range r.Sites {
		if s.Reason == rewrite.ReasonIndirectJump {
			indirect++
		}
	}
	if indirect == 0 || r.Rewritten == 0 {
		t.Fatalf("sites.c no longer has both kinds of site: %d rewritten, %d left for an indirect jump", r.Rewritten, indirect)
	}
	const (
		stub = iota
		left
		notRW
		generated
	)
	for _, c := range []struct {
		name string
		bin  string
		env  []string
		// at least n from each of these kinds, and fewer than n from the others
		want []int
		fast bool
	}{
		{"original", plain, nil, []int{notRW, generated}, false},
		{"rewritten", rw, nil, []int{left, generated}, true},
		{"rewritten, fast path off", rw, []string{"SCONE_FASTPATH=0"}, []int{stub, left, generated}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := devRunEnv(t, append([]string{"SCONE_STATS=1"}, c.env...), c.bin, strconv.Itoa(n))
			if got.code != 0 || got.stdout != "ok\n" {
				t.Fatalf("exit %d\n%s\n%s", got.code, got.stdout, got.stderr)
			}
			k := siteStats(t, got.stderr)
			trapped, fast, _ := fastStats(t, got.stderr)
			if k[0]+k[1]+k[2]+k[3] != trapped {
				t.Errorf("kinds %v add up to %d, not the %d calls trapped", k, k[0]+k[1]+k[2]+k[3], trapped)
			}
			for kind := range k {
				if slices.Contains(c.want, kind) {
					if k[kind] < n {
						t.Errorf("kind %d: %d calls, want at least %d (%v)", kind, k[kind], n, k)
					}
				} else if k[kind] >= n {
					t.Errorf("kind %d: %d calls, want fewer than %d (%v)", kind, k[kind], n, k)
				}
			}
			if (fast >= n) != c.fast {
				t.Errorf("%d fast calls (fast path expected: %v)", fast, c.fast)
			}
			t.Logf("stubs %d, left %d, not rewritten %d, generated %d; fast %d", k[stub], k[left], k[notRW], k[generated], fast)
		})
	}
}
