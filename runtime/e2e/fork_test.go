package e2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/console"
	"github.com/scone-build/scone-build/pkg/enclave"
)

func init() {
	recipes["fork-glibc"] = recipe{"fork.c", cc("gcc", "-pthread")}
	recipes["fork-glibc-static"] = recipe{"fork.c", cc("gcc", "-static", "-pthread")}
	recipes["go-exec"] = recipe{"goexec.go", func(src, out string) error { return gobuild(src, out) }}
	recipes["fork-musl-static"] = recipe{"fork.c", cc("musl-gcc", "-static", "-pthread")}
}

// forkModes: argv after the program (the exec target is the program itself).
func forkModes(bin string) [][]string {
	return [][]string{
		{"wait"}, {"exec", bin}, {"pipe"}, {"file"}, {"system"}, {"spawn", bin}, {"threads"}, {"vfork", bin}, {"many", "50"},
	}
}

// TestForkDevModeMatchesNative: fork, vfork, posix_spawn, system, popen,
// pipelines and fork from a multi-threaded process under scone-run (dev
// mode, the host's file system) print what they print natively.
func TestForkDevModeMatchesNative(t *testing.T) {
	runtimeBin(t)
	for _, name := range []string{"fork-glibc", "fork-glibc-static", "fork-musl-static"} {
		t.Run(name, func(t *testing.T) {
			bin := prog(t, name)
			for _, m := range forkModes(bin) {
				args := append([]string{bin}, m...)
				native := run(t, baseEnv(), args...)
				got := devRun(t, args...)
				if got.stdout != native.stdout || got.code != native.code {
					t.Fatalf("%v under scone-run: exit %d, stdout:\n%s\nstderr:\n%s\nnative: exit %d, stdout:\n%s",
						m, got.code, got.stdout, got.stderr, native.code, native.stdout)
				}
				if m[0] == "many" {
					t.Logf("%s: native %s; scone-run (dev, no simulated exit cost) %s", name,
						strings.TrimSpace(native.stderr), strings.TrimSpace(got.stderr))
				}
			}
		})
	}
}

// TestGoExecDevMode: Go's os/exec (clone(CLONE_VM|CLONE_VFORK) on the
// parent's stack, exec errors through a pipe) works like natively.
func TestGoExecDevMode(t *testing.T) {
	runtimeBin(t)
	bin := prog(t, "go-exec")
	native := run(t, baseEnv(), bin)
	got := devRun(t, bin)
	if got.stdout != native.stdout || got.code != native.code || !strings.Contains(native.stdout, "exit 3") {
		t.Fatalf("under scone-run: exit %d, stdout:\n%s\nstderr:\n%s\nnative: exit %d, stdout:\n%s",
			got.code, got.stdout, got.stderr, native.code, native.stdout)
	}
}

// TestGoSyscallExec: syscall.Exec from a Go program (many threads, one of
// them spinning) replaces it, as natively.
func TestGoSyscallExec(t *testing.T) {
	runtimeBin(t)
	bin := prog(t, "go-exec")
	native := run(t, baseEnv(), bin, "syscall-exec")
	if native.code != 3 || !strings.Contains(native.stdout, "child says after syscall.Exec") {
		t.Fatalf("native: %+v", native)
	}
	for _, tr := range []string{"sync", "async"} {
		got := devRunEnv(t, []string{"SCONE_TRANSPORT=" + tr}, bin, "syscall-exec")
		if got.stdout != native.stdout || got.code != native.code {
			t.Fatalf("%s: exit %d, stdout:\n%s\nstderr:\n%s\nnative: exit %d, stdout:\n%s",
				tr, got.code, got.stdout, got.stderr, native.code, native.stdout)
		}
	}
}

// TestForkerRuns: the old refusal is gone.
func TestForkerRuns(t *testing.T) {
	bin := prog(t, "forker")
	if got := devRun(t, bin); got.code != 0 || !strings.Contains(got.stdout, "fork succeeded") {
		t.Fatalf("fork under scone-run: %+v", got)
	}
}

// forkEnclave: an image with the fork test program at /app/fork, a static
// busybox as /bin/sh (and tr, cat, echo) for system() and popen(), /tmp.
func forkEnclave(t testing.TB, rt, bin string, argv []string, consoleShield bool, mutate ...func(*enclave.Config)) simEnclave {
	t.Helper()
	bb := "/usr/bin/busybox"
	bbc, err := os.ReadFile(bb)
	if err != nil {
		t.Skipf("static busybox not installed: %v", err)
	}
	pc, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	entries := []tarEntry{{name: "tmp/", dir: true}, {name: "app/fork", content: pc}, {name: "bin/busybox", content: bbc}}
	for _, a := range []string{"sh", "tr", "cat", "echo", "ls", "sort", "head", "wc", "grep", "mkdir", "rm"} {
		entries = append(entries, tarEntry{name: "bin/" + a, link: "busybox"})
	}
	return makeEnclaveFiles(t, rt, entries, func(c *enclave.Config) {
		c.Argv = argv
		c.Env = []string{"PATH=/bin"}
		c.Entrypoint = argv[0]
		c.HostArgs = true
		c.ConsoleShield = consoleShield
		for _, m := range mutate {
			m(c)
		}
	})
}

// TestForkSimMode: the same programs in sim mode, where files live in the
// protected FS: a file the child writes in /tmp (the ephemeral layer) is
// seen by the parent and nothing reaches the host's /tmp; system/popen run
// the image's /bin/sh; posix_spawn's failed exec shows as exit status 127.
func TestForkSimMode(t *testing.T) {
	rt := runtimeBin(t)
	for _, name := range []string{"fork-glibc-static", "fork-musl-static"} {
		t.Run(name, func(t *testing.T) {
			bin := prog(t, name)
			e := forkEnclave(t, rt, bin, []string{"/app/fork"}, false)
			os.RemoveAll("/tmp/fork-dir")
			os.Remove("/tmp/fork-shared")
			for _, m := range forkModes("/app/fork") {
				native := run(t, baseEnv(), append([]string{bin}, append([]string{m[0]}, replaceApp(m[1:], bin)...)...)...)
				got := run(t, e.env(), append([]string{rt}, m...)...)
				want := strings.ReplaceAll(native.stdout, bin, "/app/fork")
				if got.stdout != want || got.code != native.code {
					t.Fatalf("%v in sim mode: exit %d, stdout:\n%s\nstderr:\n%s\nnative: exit %d, stdout:\n%s",
						m, got.code, got.stdout, got.stderr, native.code, want)
				}
			}
			os.RemoveAll("/tmp/fork-dir")
			os.Remove("/tmp/fork-shared")
			// The host's /tmp never saw the enclave's files.
			got := run(t, e.env(), rt, "file")
			if _, err := os.Stat("/tmp/fork-shared"); err == nil || got.code != 0 {
				t.Fatalf("enclave file reached the host /tmp (or run failed: %+v)", got)
			}
		})
	}
}

func replaceApp(args []string, bin string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == "/app/fork" {
			out[i] = bin
		}
	}
	return out
}

// forkShell runs "sh -c script" in sim mode in a forkEnclave of
// fork-glibc-static (with the console shield if asked).
func forkShell(t testing.TB, script string, consoleShield bool) (result, simEnclave) {
	t.Helper()
	rt := runtimeBin(t)
	e := forkEnclave(t, rt, prog(t, "fork-glibc-static"), []string{"/bin/sh", "-c", script}, consoleShield)
	return run(t, e.env(), rt), e
}

// TestForkShellPipelineSimMode: busybox sh pipelines and redirections in
// sim mode (each stage a forked child running an emulated execve).
func TestForkShellPipelineSimMode(t *testing.T) {
	script := "echo hello enclave | tr a-z A-Z; echo data > /tmp/f && cat /tmp/f; mkdir -p /tmp/d; " +
		"echo x > /tmp/d/y; ls /tmp/d | sort | head -3; wc -l < /tmp/f; grep -c data /tmp/f; rm -r /tmp/d; ls /tmp; " +
		"{ sh -c 'echo one'; sh -c 'echo two'; } > /tmp/o; cat /tmp/o"
	got, _ := forkShell(t, script, false)
	want := "HELLO ENCLAVE\ndata\ny\n1\n1\nf\none\ntwo\n"
	if got.code != 0 || got.stdout != want {
		t.Fatalf("exit %d\nstdout:\n%q\nwant:\n%q\nstderr:\n%s", got.code, got.stdout, want, got.stderr)
	}
}

// TestForkConsoleShieldSimMode: with the console shield, every forked
// process that writes to the console writes its own session to the shared
// stdout; the log decodes (interleaved sessions) to what the shell printed,
// nothing is plaintext, and the sessions form one run of this enclave: the
// root session first, children naming their parent and fork counter.
func TestForkConsoleShieldSimMode(t *testing.T) {
	script := "echo hello enclave | tr a-z A-Z; echo data > /tmp/f && cat /tmp/f; /app/fork wait; /app/fork system; " +
		"sh -c 'echo inner; echo nested | cat'; " +
		"i=0; while [ $i -lt 20 ]; do echo line $i; i=$((i+1)); done | cat"
	got, e := forkShell(t, script, true)
	if got.code != 0 || strings.Contains(got.stdout, "HELLO") || strings.Contains(got.stdout, "line 1") {
		t.Fatalf("exit %d, plaintext or failure on stdout:\n%q\nstderr: %q", got.code, got.stdout, got.stderr)
	}
	key := e.consoleKey(t)
	var plain bytes.Buffer
	log, err := console.Decrypt(&plain, strings.NewReader(got.stdout), key, console.Stdout, console.WithMRENCLAVE(e.mrenclave))
	if err != nil {
		t.Fatalf("decrypt: %v\n%s", err, plain.String())
	}
	want := "HELLO ENCLAVE\ndata\nchild: ppid matches: 1\nparent: child exit status 42\nfrom system\nsystem status 3\npopen read: FROM POPEN\npclose status 0\ninner\nnested\n"
	for i := 0; i < 20; i++ {
		want += "line " + strconv.Itoa(i) + "\n"
	}
	if plain.String() != want {
		t.Fatalf("decrypted:\n%s\nwant:\n%s", plain.String(), want)
	}
	// One run: the root's session first; every other session is a forked
	// process's, with a fork counter; some name the root as their parent,
	// some a child that wrote too (grandchildren: /app/fork's child, the
	// nested shell's cat).
	ss := log.Sessions
	if len(ss) < 5 || !ss[0].Root() || ss[0].Nonce != log.Run || log.MRENCLAVE != e.mrenclave {
		t.Fatalf("not one run of this enclave rooted in its first session: %+v", log)
	}
	children, grandchildren := 0, 0
	for i, s := range ss[1:] {
		if s.Root() || s.ForkCounter == 0 || s.Run != log.Run || !s.Final {
			t.Fatalf("session %d: %+v", i+1, s)
		}
		switch {
		case s.ParentIndex == 0:
			children++
		case s.ParentIndex > 0 && ss[s.ParentIndex].ParentIndex == 0:
			grandchildren++
		}
	}
	if children < 2 || grandchildren < 2 {
		t.Fatalf("%d sessions: %d children and %d grandchildren of the root, want at least 2 each", len(ss), children, grandchildren)
	}
	// stderr: the root's session alone (nothing was written to it), also
	// bound to this enclave; it does not decode as stdout.
	if _, err := console.Decrypt(io.Discard, strings.NewReader(got.stderr), key, console.Stderr, console.WithMRENCLAVE(e.mrenclave)); err != nil {
		t.Fatalf("stderr: %v", err)
	}
	if _, err := console.Decrypt(io.Discard, strings.NewReader(got.stderr), key, console.Stdout); !errors.Is(err, console.ErrWrongStream) {
		t.Fatalf("stderr log decoded as stdout: %v", err)
	}
	t.Logf("%d sessions on stdout: %d children, %d grandchildren of the root", len(ss), children, grandchildren)
}

// TestConsoleSplicingSimMode (security finding 7): logs the runtime wrote
// cannot be spliced. Same FS key throughout: a result=GRANTED log of
// another enclave (another config, the same signer and FS image), a log of
// another run of the same enclave, and the same run's stderr, appended to a
// result=DENIED log, all fail to decode, before a byte of them is printed.
func TestConsoleSplicingSimMode(t *testing.T) {
	rt := runtimeBin(t)
	script := func(word string) []string {
		return []string{"/bin/sh", "-c", "echo result=" + word + " | cat; echo " + word + " >&2"}
	}
	e := forkEnclave(t, rt, prog(t, "fork-glibc-static"), script("DENIED"), true)
	other := e
	other.dir = resign(t, rt, e, signingKey(t), func(c *enclave.Config) { c.Argv = script("GRANTED") })
	denied, again, granted := run(t, e.env(), rt), run(t, e.env(), rt), run(t, other.env(), rt)
	for _, r := range []result{denied, again, granted} {
		if r.code != 0 {
			t.Fatalf("run failed: %+v", r)
		}
	}
	key := e.consoleKey(t)
	var plain bytes.Buffer
	if _, err := console.Decrypt(&plain, strings.NewReader(denied.stdout), key, console.Stdout, console.WithMRENCLAVE(e.mrenclave)); err != nil || plain.String() != "result=DENIED\n" {
		t.Fatalf("the DENIED log: %q, %v", plain.String(), err)
	}
	if _, err := console.Decrypt(io.Discard, strings.NewReader(granted.stdout), key, console.Stdout); err != nil {
		t.Fatalf("the other enclave's log does not decode on its own: %v", err)
	}
	for _, tc := range []struct {
		name   string
		log    string
		opts   []console.Option
		stream console.Stream
		want   error
	}{
		{"another enclave's result=GRANTED log appended", denied.stdout + granted.stdout, nil, console.Stdout, console.ErrWrongEnclave},
		{"another enclave's log, the expected MRENCLAVE given", granted.stdout, []console.Option{console.WithMRENCLAVE(e.mrenclave)}, console.Stdout, console.ErrWrongEnclave},
		{"another run of the same enclave appended", denied.stdout + again.stdout, nil, console.Stdout, console.ErrSpliced},
		{"the run's stderr appended to its stdout", denied.stdout + denied.stderr, nil, console.Stdout, console.ErrWrongStream},
		{"the run's stderr passed off as its stdout", denied.stderr, nil, console.Stdout, console.ErrWrongStream},
		{"another enclave's stderr appended to stdout", denied.stdout + granted.stderr, nil, console.Stdout, console.ErrWrongStream},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := console.Decrypt(&out, strings.NewReader(tc.log), key, tc.stream, tc.opts...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if strings.Contains(out.String(), "GRANTED") {
				t.Fatalf("the spliced session's plaintext was printed: %q", out.String())
			}
		})
	}
}

// TestForkLatency logs fork+_exit+waitpid round trips: native, dev mode
// (no simulated exit cost) and sim mode (protected FS, shields, default
// simulated exit cost). Informational: no bound is asserted.
func TestForkLatency(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "fork-glibc-static")
	e := forkEnclave(t, rt, bin, []string{"/app/fork"}, false)
	native := run(t, baseEnv(), bin, "many", "300")
	dev := devRun(t, bin, "many", "300")
	env := e.env()
	for i, v := range env {
		if strings.HasPrefix(v, "SCONE_SIM_EXIT_CYCLES=") {
			env = append(env[:i:i], env[i+1:]...)
			break
		}
	}
	sim := run(t, env, rt, "many", "300")
	ec := forkEnclave(t, rt, bin, []string{"/app/fork"}, true)
	simc := run(t, ec.env(), rt, "many", "300")
	for _, r := range []result{native, dev, sim, simc} {
		if r.code != 0 {
			t.Fatalf("run failed: %+v", r)
		}
	}
	var cs bytes.Buffer
	if _, err := console.Decrypt(&cs, strings.NewReader(simc.stderr), ec.consoleKey(t), console.Stderr, console.WithMRENCLAVE(ec.mrenclave)); err != nil {
		t.Fatalf("console stderr: %v", err)
	}
	t.Logf("fork+_exit+waitpid: native %s | dev %s | sim (8000-cycle exits) %s | sim + console shield (no exit cost) %s",
		strings.TrimSpace(native.stderr), strings.TrimSpace(dev.stderr), strings.TrimSpace(sim.stderr), strings.TrimSpace(cs.String()))
}

// TestForkConcurrentProcessesSimMode: four background subshells create and
// write files in the shared ephemeral layer at the same time (the shared
// lock serializes processes), then the parent sees all of them.
func TestForkConcurrentProcessesSimMode(t *testing.T) {
	script := "for j in 1 2 3 4; do ( k=0; while [ $k -lt 50 ]; do echo $j.$k > /tmp/c$j.$k; " +
		"echo $k >> /tmp/log$j; k=$((k+1)); done; rm /tmp/c$j.0 ) & done; wait; " +
		"ls /tmp | grep -c '^c'; cat /tmp/c3.49; cat /tmp/log1 /tmp/log2 /tmp/log3 /tmp/log4 | wc -l"
	got, _ := forkShell(t, script, false)
	if want := "196\n3.49\n200\n"; got.code != 0 || got.stdout != want {
		t.Fatalf("exit %d\nstdout:\n%q\nwant:\n%q\nstderr:\n%s", got.code, got.stdout, want, got.stderr)
	}
}

// TestKilledChildDoesNotHangTheEnclave: children killed (SIGKILL) while
// they use the file system, often inside the FS shield's critical section,
// must not leave the enclave-wide lock held: the parent goes on (issue 15,
// defect 1; the lock is runtime/lib/rlock.c).
func TestKilledChildDoesNotHangTheEnclave(t *testing.T) {
	rt := runtimeBin(t)
	for _, name := range []string{"fork-glibc-static", "fork-musl-static"} {
		t.Run(name, func(t *testing.T) {
			bin := prog(t, name)
			e := forkEnclave(t, rt, bin, []string{"/app/fork"}, false)
			native := run(t, baseEnv(), bin, "killfs", "60")
			got := run(t, e.env(), rt, "killfs", "60")
			if got.stdout != native.stdout || got.code != 0 {
				t.Fatalf("sim mode: exit %d, stdout:\n%s\nstderr:\n%s\nnative:\n%s", got.code, got.stdout, got.stderr, native.stdout)
			}
			t.Logf("lock takeovers reported: %d", strings.Count(got.stderr, "took over a lock of the enclave"))
		})
	}
}
