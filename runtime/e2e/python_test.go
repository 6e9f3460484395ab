package e2e

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pythonTests: CPython's regression tests of what the runtime emulates or
// passes through: signals (handlers, masks, sigwait, setitimer,
// pthread_kill, SA_RESTART, wakeup fds), threads, child processes (fork,
// exec, pipes, process groups, timeouts), the poll family, fcntl locks and
// mmap. test_threading fails on some hosts natively too (it counts on a
// fresh interpreter's modules); only differences count.
var pythonTests = []string{"test_signal", "test_threading", "test_subprocess", "test_selectors", "test_poll",
	"test_epoll", "test_fcntl", "test_mmap", "test_select", "test_time"}

// TestPythonRegressionSuite runs CPython's own tests (pythonTests, two at a
// time, a failed one again alone) with the host's Python natively and
// under scone-run with glibc's libc rewritten, one kernel thread per thread
// and under the mn scheduler: the same tests must fail, and as many run
// and are skipped. Skips without a Python that has its test package.
func TestPythonRegressionSuite(t *testing.T) {
	py := hostPython(t)
	libdir := rewrittenLibc(t)
	suite := func(t *testing.T, argv0 []string, env []string) pyResult {
		args := append(append(append([]string{}, argv0...), py, "-m", "test", "-j2", "-w", "--tempdir", t.TempDir()), pythonTests...)
		var res result
		if len(argv0) == 0 {
			res = run(t, append(baseEnv(), env...), args...)
		} else {
			res = run(t, env, args...)
		}
		r, ok := parsePyResult(res.stdout)
		if !ok {
			t.Fatalf("no result in the output (exit %d):\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
		}
		return r
	}
	native := suite(t, nil, nil)
	t.Logf("native: %s", native)
	if n, _ := strconv.Atoi(strings.ReplaceAll(native.run, ",", "")); n < 500 {
		t.Fatalf("only %s tests ran natively: the comparison would say little", native.run)
	}
	for _, sched := range []string{"os", "mn"} {
		t.Run(sched, func(t *testing.T) {
			env := append(baseEnv(), "SCONE_MODE=dev", "SCONE_SIM_EXIT_CYCLES=0", "SCONE_SCHEDULER="+sched,
				"LD_LIBRARY_PATH="+libdir)
			got := suite(t, []string{runtimeBin(t), "--dev-exec"}, env)
			t.Logf("converted: %s", got)
			// A test that failed once and passed when run again (timing
			// on a loaded machine) adds to the totals: they are compared
			// when both sides ran the same tests again.
			same := slices.Equal(got.failed, native.failed)
			if slices.Equal(got.reran, native.reran) {
				same = got.String() == native.String()
			}
			if !same {
				t.Fatalf("results differ\nnative:    %s\nscone-run: %s", native, got)
			}
		})
	}
}

// hostPython: the interpreter's own path (not a pyenv shim, a script) of a
// python3 whose test package is installed.
func hostPython(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import sys, test.support, test.test_signal; print(sys.executable)").Output()
	if err != nil {
		t.Skipf("no python3 with its regression tests (Debian: python3 and libpython3-testsuite): %v", err)
	}
	py, err := filepath.EvalSymlinks(strings.TrimSpace(string(out)))
	if err != nil {
		t.Skipf("python3's interpreter %q: %v", out, err)
	}
	return py
}

// pyResult: what regrtest's summary says.
type pyResult struct {
	run, failures, skipped string
	failed                 []string // after running them again
	reran                  []string // failed and ran again
}

func (r pyResult) String() string {
	return "run=" + r.run + " failures=" + r.failures + " skipped=" + r.skipped + " failed=" + strings.Join(r.failed, ",") +
		" ran again=" + strings.Join(r.reran, ",")
}

var (
	pyTotalRE  = regexp.MustCompile(`(?m)^Total tests: run=([\d,]+) failures=(\d+) skipped=(\d+)`)
	pyFailedRE = regexp.MustCompile(`(?m)^\d+ tests? failed:\n((?:    .*\n)+)`)
	pyRerunRE  = regexp.MustCompile(`(?m)^\d+ re-run tests?:\n((?:    .*\n)+)`)
)

// parsePyResult reads the last summary (after the failed tests ran again).
func parsePyResult(out string) (pyResult, bool) {
	i := strings.LastIndex(out, "== Tests result:")
	if i < 0 {
		return pyResult{}, false
	}
	out = out[i:]
	m := pyTotalRE.FindStringSubmatch(out)
	if m == nil {
		return pyResult{}, false
	}
	r := pyResult{run: m[1], failures: m[2], skipped: m[3]}
	if f := pyFailedRE.FindStringSubmatch(out); f != nil {
		r.failed = strings.Fields(f[1])
		slices.Sort(r.failed)
	}
	if f := pyRerunRE.FindStringSubmatch(out); f != nil {
		r.reran = strings.Fields(f[1])
		slices.Sort(r.reran)
	}
	return r, true
}
