package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestThreadCancel: pthread_cancel of threads blocked in read, nanosleep
// and pthread_cond_wait, asynchronous cancellation, pthread_exit from a
// nested call and, with glibc, backtrace() in a signal handler, natively
// and under scone-run: trapped, through rewritten sites with the fast path
// on and off, and under the mn scheduler. Output and exit code must match
// the native run.
//
// glibc's cancellation unwinds from its SIGCANCEL handler through the
// signal frame: the frame must return through the application's restorer,
// whose CFI the unwinder knows, and show the original address of a
// rewritten site. musl's compares the interrupted program counter with the
// labels around its cancellable syscall: a thread blocked at a rewritten
// site was never cancelled (docs/rewrite.md, "Signals in rewritten code").
func TestThreadCancel(t *testing.T) {
	type variant struct {
		name string
		env  []string
	}
	variants := []variant{
		{"fast path", nil},
		{"fast path off", []string{"SCONE_FASTPATH=0"}},
		{"mn", []string{"SCONE_SCHEDULER=mn", "SCONE_THREADS=2"}},
	}
	// glibc: the program's calls are libc's; rewritten, libc comes from a
	// directory that holds the host's libc.so.6 rewritten.
	t.Run("glibc", func(t *testing.T) {
		bin := progPlain(t, "cancel-glibc")
		native := run(t, baseEnv(), bin)
		if !strings.Contains(native.stdout, "backtrace in a handler") || native.code != 0 {
			t.Fatalf("native run: exit %d, stdout:\n%s\nstderr:\n%s", native.code, native.stdout, native.stderr)
		}
		libdir := rewrittenLibc(t)
		for _, v := range variants {
			for _, rw := range []bool{false, true} {
				env := v.env
				name := v.name + "/libc as built"
				if rw {
					env = append(append([]string{}, env...), "LD_LIBRARY_PATH="+libdir)
					name = v.name + "/libc rewritten"
				}
				t.Run(name, func(t *testing.T) {
					got := devRunEnv(t, env, bin)
					if got.stdout != native.stdout || got.code != native.code {
						t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s\nnative: exit %d, stdout:\n%s",
							got.code, got.stdout, got.stderr, native.code, native.stdout)
					}
				})
			}
		}
	})
	t.Run("musl", func(t *testing.T) {
		orig := progPlain(t, "cancel-musl-static")
		native := run(t, baseEnv(), orig)
		if !strings.Contains(native.stdout, "pthread_exit: result 42") || native.code != 0 {
			t.Fatalf("native run: exit %d, stdout:\n%s\nstderr:\n%s", native.code, native.stdout, native.stderr)
		}
		if r := dryRewrite(t, orig); r.Rewritten == 0 {
			t.Fatal("no site of musl's was rewritten: the test would not reach the stubs")
		}
		for _, v := range variants {
			for _, bin := range []string{orig, progRW(t, "cancel-musl-static")} {
				name := v.name + "/as built"
				if bin != orig {
					name = v.name + "/rewritten"
				}
				t.Run(name, func(t *testing.T) {
					got := devRunEnv(t, v.env, bin)
					if got.stdout != native.stdout || got.code != native.code {
						t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s\nnative: exit %d, stdout:\n%s",
							got.code, got.stdout, got.stderr, native.code, native.stdout)
					}
				})
			}
		}
	})
}

// rewrittenLibc: a directory holding the host's glibc libc.so.6 with its
// system call sites rewritten.
func rewrittenLibc(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("gcc", "-print-file-name=libc.so.6").Output()
	if err != nil {
		t.Skipf("cannot find the C library: gcc -print-file-name: %v", err)
	}
	libc, err := filepath.EvalSymlinks(strings.TrimSpace(string(out)))
	if err != nil || !filepath.IsAbs(libc) {
		t.Skipf("cannot find the C library (gcc printed %q): %v", out, err)
	}
	dir := t.TempDir()
	if err := rewriteTo(libc, filepath.Join(dir, "libc.so.6")); err != nil {
		t.Fatal(err)
	}
	if r := dryRewrite(t, filepath.Join(dir, "libc.so.6")); !r.Already {
		t.Fatalf("%s: no site was rewritten", libc)
	}
	return dir
}
