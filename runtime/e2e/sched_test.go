package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/enclave"
)

// The mn scheduler (runtime/src/sched, issue 19): the application's threads
// as user-level threads on at most MaxThreads enclave threads. The programs
// of the other suites, and a storm of 1,000 threads, in sim mode on two
// enclave threads print what they print natively.

func init() {
	recipes["mnstorm-glibc"] = recipe{"mnstorm.c", cc("gcc", "-pthread")}
	recipes["mnstorm-musl-static"] = recipe{"mnstorm.c", cc("musl-gcc", "-static", "-pthread")}
	recipes["mnherd"] = recipe{"mnherd.c", cc("gcc", "-pthread")}
	recipes["mnpost-glibc-static"] = recipe{"mnpost.c", cc("gcc", "-static", "-pthread")}
	recipes["mnpost-musl-static"] = recipe{"mnpost.c", cc("musl-gcc", "-static", "-pthread")}
}

func mnConfig(threads uint32) func(*enclave.Config) {
	return func(c *enclave.Config) {
		c.Scheduler = enclave.SchedulerMN
		c.MaxThreads = threads
	}
}

var mnStatsRE = regexp.MustCompile(`mn scheduler: (\d+) user-level threads created, (\d+) kernel threads \(\d+ started\) for (\d+) enclave threads`)

func TestMNSimModeMatchesNative(t *testing.T) {
	rt := runtimeBin(t)
	for _, tt := range []struct {
		name      string
		args      []string
		transport enclave.Transport
		threads   uint32
	}{
		{name: "hello-glibc-dynamic"},
		{name: "hello-glibc-static"},
		{name: "hello-musl-static"},
		{name: "threads-glibc"},
		{name: "threads-glibc-static"},
		{name: "threads-musl-static"},
		{name: "threads-glibc", transport: enclave.TransportAsync},
		{name: "threads-musl-static", threads: 1},
		{name: "signals-glibc"},
		{name: "signals-musl-static"},
		{name: "stress-glibc"},
		{name: "stress-musl-static"},
		{name: "sigrace-static"},
		{name: "fork-glibc"},
		{name: "fork-musl-static"},
		{name: "go-hello"},
		{name: "go-preempt"},
		{name: "mnstorm-glibc"},
		{name: "mnstorm-musl-static"},
		{name: "mnstorm-glibc", transport: enclave.TransportAsync},
	} {
		threads := tt.threads
		if threads == 0 {
			threads = 2
		}
		label := strings.Join(append([]string{tt.name}, tt.args...), " ")
		if tt.transport == enclave.TransportAsync {
			label += " async"
		}
		label += " on " + strconv.Itoa(int(threads))
		t.Run(label, func(t *testing.T) {
			bin := prog(t, tt.name)
			var extra []string
			if strings.HasSuffix(tt.name, "-glibc") || tt.name == "hello-glibc-dynamic" {
				extra = dynamicDeps(t, bin)
			}
			args := append([]string{bin}, tt.args...)
			e := makeEnclave(t, rt, bin, func(c *enclave.Config) {
				mnConfig(threads)(c)
				if tt.transport != 0 {
					c.Transport = tt.transport
				}
				c.Argv = args
				c.Env = baseEnv()
			}, extra...)
			native := run(t, baseEnv(), args...)
			if native.stdout == "" {
				t.Fatalf("native run: exit %d, stdout %q, stderr:\n%s", native.code, native.stdout, native.stderr)
			}
			got := run(t, append(e.env(), "SCONE_STATS=1"), rt)
			if got.stdout != native.stdout || got.code != native.code {
				t.Fatalf("mn: exit %d, stdout:\n%s\nstderr:\n%s\nnative (exit %d):\n%s", got.code, got.stdout, got.stderr, native.code, native.stdout)
			}
			// the threads ran as user-level threads on at most `threads`
			// enclave threads (the last stats line: a forked child's or
			// the new program's after execve prints its own)
			m := mnStatsRE.FindAllStringSubmatch(got.stderr, -1)
			if len(m) == 0 {
				t.Fatalf("no mn scheduler stats in stderr:\n%s", got.stderr)
			}
			if m[len(m)-1][3] != strconv.Itoa(int(threads)) {
				t.Fatalf("stats name %s enclave threads, configured %d:\n%s", m[len(m)-1][3], threads, got.stderr)
			}
			if strings.HasPrefix(tt.name, "mnstorm") {
				if n, _ := strconv.Atoi(m[len(m)-1][1]); n < 1000 {
					t.Fatalf("%d user-level threads created, want at least 1000:\n%s", n, got.stderr)
				}
				if k, _ := strconv.Atoi(m[len(m)-1][2]); k > int(threads) {
					t.Fatalf("%d kernel threads ran 1,000 threads that never block in the host; want at most %d:\n%s", k, threads, got.stderr)
				}
			}
		})
	}
}

// TestMNDevMode: SCONE_SCHEDULER selects the scheduler in dev mode,
// SCONE_THREADS the enclave threads; bad values are refused by name.
func TestMNDevMode(t *testing.T) {
	bin := prog(t, "threads-musl-static")
	native := run(t, baseEnv(), bin)
	rt := runtimeBin(t)
	dev := func(extra ...string) result {
		env := append(baseEnv(), "SCONE_MODE=dev", "SCONE_SIM_EXIT_CYCLES=0", "SCONE_STATS=1")
		return run(t, append(env, extra...), rt, "--dev-exec", bin)
	}
	for _, tt := range []struct {
		env  []string
		code int
		msg  string
	}{
		{[]string{"SCONE_SCHEDULER=mn", "SCONE_THREADS=1"}, 0, "for 1 enclave threads"},
		{[]string{"SCONE_SCHEDULER=mn"}, 0, "for 4 enclave threads"},
		{[]string{"SCONE_SCHEDULER=os"}, 0, ""},
		{[]string{"SCONE_SCHEDULER=m:n"}, 64, "SCONE_SCHEDULER=m:n: unknown scheduler (available: os, mn)"},
		{[]string{"SCONE_SCHEDULER=mn", "SCONE_THREADS=0"}, 64, "SCONE_THREADS=0: not a number of enclave threads in [1, 1024]"},
		{[]string{"SCONE_SCHEDULER=mn", "SCONE_THREADS=two"}, 64, "SCONE_THREADS=two: not a number"},
	} {
		t.Run(strings.Join(tt.env, " "), func(t *testing.T) {
			got := dev(tt.env...)
			if got.code != tt.code || !strings.Contains(got.stderr, tt.msg) {
				t.Fatalf("exit %d, want %d with %q; stderr:\n%s", got.code, tt.code, tt.msg, got.stderr)
			}
			if tt.code == 0 && got.stdout != native.stdout {
				t.Fatalf("stdout %q, native %q", got.stdout, native.stdout)
			}
			if tt.env[0] == "SCONE_SCHEDULER=os" && strings.Contains(got.stderr, "mn scheduler") {
				t.Fatalf("the os scheduler printed mn stats:\n%s", got.stderr)
			}
		})
	}
}

// TestMNDevModeExec: execve from a process of user-level threads (some
// blocked in the host, one spinning, one creating threads), from the main
// thread, another thread and two at once, and Go's os/exec and
// syscall.Exec, on two enclave threads in dev mode (they run host
// programs), as natively; with the async transport too, where the blocked
// reads are posted to host workers, which execve must end first.
func TestMNDevModeExec(t *testing.T) {
	runtimeBin(t)
	for _, tt := range []struct{ prog, arg, transport string }{
		{"exec-mt", "main", "sync"}, {"exec-mt", "from-thread", "sync"}, {"exec-mt", "twice", "sync"}, {"exec-mt", "with-main", "sync"},
		{"go-exec", "", "sync"}, {"go-exec", "syscall-exec", "sync"},
		{"exec-mt", "main", "async"}, {"exec-mt", "from-thread", "async"}, {"exec-mt", "with-main", "async"},
		{"go-exec", "", "async"},
	} {
		mn := []string{"SCONE_SCHEDULER=mn", "SCONE_THREADS=2", "SCONE_TRANSPORT=" + tt.transport}
		t.Run(tt.prog+" "+tt.arg+" "+tt.transport, func(t *testing.T) {
			bin := prog(t, tt.prog)
			args := []string{bin}
			if tt.arg != "" {
				args = append(args, tt.arg)
			}
			native := run(t, baseEnv(), args...)
			if native.stdout == "" {
				t.Fatalf("native run printed nothing: %+v", native)
			}
			for i := 0; i < execRaceRounds(tt.arg); i++ {
				got := devRunEnv(t, mn, args...)
				if got.stdout != native.stdout || got.code != native.code {
					t.Fatalf("mn, run %d: exit %d, stdout:\n%s\nstderr:\n%s\nnative: exit %d, stdout:\n%s", i+1, got.code, got.stdout, got.stderr, native.code, native.stdout)
				}
			}
		})
	}
}

var (
	mnFastRE     = regexp.MustCompile(`(\d+) calls served on the fast path without a trap`)
	mnSlotWaitRE = regexp.MustCompile(`(\d+) waits for a free enclave thread after a blocking call`)
)

// TestMNRewrittenFastPath: programs with their system call sites rewritten
// run as user-level threads on two enclave threads (one) through the fast
// path, where the scheduler serves futex wakes, waits on a word that
// changed already and the thread identity calls without a trap, calls that
// may block give the enclave thread up there (and wait for one at the gate
// when none is free after them: on one enclave thread, stress's pipe
// readers), and the rest trap as before; as natively, with the fast path on
// and off. The thread-heavy programs must have had calls served there.
func TestMNRewrittenFastPath(t *testing.T) {
	runtimeBin(t)
	for _, tt := range []struct {
		name    string
		threads string
		fast    bool // must have scheduler calls served on the fast path
	}{
		{"threads-glibc-static", "2", false},
		{"threads-musl-static", "2", false},
		{"threads-musl-static", "1", false},
		{"signals-musl-static", "2", false},
		{"stress-musl-static", "2", true},
		{"stress-musl-static", "1", true},
		{"mnstorm-musl-static", "2", true},
		{"go-preempt", "2", false},
	} {
		t.Run(tt.name+" on "+tt.threads, func(t *testing.T) {
			orig, bin := progPlain(t, tt.name), progRW(t, tt.name)
			native := run(t, baseEnv(), orig)
			if native.stdout == "" {
				t.Fatalf("native run printed nothing: %+v", native)
			}
			for _, fp := range []string{"1", "0"} {
				got := devRunEnv(t, []string{"SCONE_SCHEDULER=mn", "SCONE_THREADS=" + tt.threads, "SCONE_STATS=1", "SCONE_FASTPATH=" + fp}, bin)
				if got.stdout != native.stdout || got.code != native.code {
					t.Fatalf("fast path %s: exit %d, stdout:\n%s\nstderr:\n%s\nnative: exit %d, stdout:\n%s",
						fp, got.code, got.stdout, got.stderr, native.code, native.stdout)
				}
				m := mnFastRE.FindAllStringSubmatch(got.stderr, -1)
				if len(m) == 0 {
					t.Fatalf("no mn scheduler stats in stderr:\n%s", got.stderr)
				}
				n, _ := strconv.Atoi(m[len(m)-1][1])
				if fp == "0" && n != 0 {
					t.Fatalf("fast path off, yet %d calls served on it:\n%s", n, got.stderr)
				}
				if fp == "1" && tt.fast && n == 0 {
					t.Fatalf("no scheduler call served on the fast path:\n%s", got.stderr)
				}
				w := mnSlotWaitRE.FindAllStringSubmatch(got.stderr, -1)
				t.Logf("fast path %s: %d scheduler calls served without a trap, %s waits for an enclave thread after a blocking call",
					fp, n, w[len(w)-1][1])
			}
		})
	}
}

var (
	mnParksRE      = regexp.MustCompile(`(\d+) parks \(`)
	mnIdleSleepsRE = regexp.MustCompile(`(\d+) idle sleeps`)
)

// TestMNTimekeeper: one idle enclave thread sleeps until the earliest
// deadline of the timed waits, the others without a timeout. mnherd keeps
// 14 waiters' enclave threads going idle while a thread sleeps 1 ms at a
// time; when every idle thread slept until the earliest deadline, each of
// the 200 deadlines woke all of them (2,082 idle sleeps for 366 parks on
// 16 enclave threads, 2026-12-06); with one timekeeper ~500. The bound:
// at most two idle sleeps per park.
func TestMNTimekeeper(t *testing.T) {
	bin := prog(t, "mnherd")
	got := devRunEnv(t, []string{"SCONE_SCHEDULER=mn", "SCONE_THREADS=16", "SCONE_STATS=1"}, bin, "14", "200")
	if got.code != 0 || !strings.Contains(got.stdout, "done") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
	}
	p, s := mnParksRE.FindStringSubmatch(got.stderr), mnIdleSleepsRE.FindStringSubmatch(got.stderr)
	if p == nil || s == nil {
		t.Fatalf("no mn scheduler statistics:\n%s", got.stderr)
	}
	parks, _ := strconv.Atoi(p[1])
	sleeps, _ := strconv.Atoi(s[1])
	t.Logf("%d parks, %d idle sleeps", parks, sleeps)
	if parks < 200 {
		t.Fatalf("%d parks: the sleeps did not park in the enclave:\n%s", parks, got.stderr)
	}
	if sleeps > 2*parks {
		t.Errorf("%d idle sleeps for %d parks: idle enclave threads wake together at the deadlines\n%s", sleeps, parks, got.stderr)
	}
}

// TestSignalInterruptsBlockedThread: a signal sent to a thread blocked in
// a host call (read on an empty pipe) runs its handler while the call
// waits, then the call goes on (SA_RESTART), with each scheduler and
// transport, trapped and on the fast path. The sender waits for the
// handler, yielding, as Go's AllThreadsSyscall does: the Go standard
// library's TestAllThreadsSyscallBlockedSyscall (test/gostd) hung on this
// with the mn scheduler. With mn and async the reads are posted to host
// workers, and the signals cancel them there.
func TestSignalInterruptsBlockedThread(t *testing.T) {
	for _, sched := range []string{"os", "mn"} {
		for _, tr := range []string{"sync", "async"} {
			for _, rw := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/rewritten=%v", sched, tr, rw)
				t.Run(name, func(t *testing.T) {
					bin := progPlain(t, "sigread-glibc-static")
					if rw {
						bin = progRW(t, "sigread-glibc-static")
					}
					// SCONE_ASYNC_POST=2: the reads are posted even with nothing
					// else to run (the default makes them on the calling thread)
					env := []string{"SCONE_SCHEDULER=" + sched, "SCONE_TRANSPORT=" + tr, "SCONE_THREADS=2", "SCONE_STATS=1", "SCONE_ASYNC_POST=2"}
					got := devRunEnv(t, env, bin, "400")
					if got.code != 0 || got.stdout != "ok\n" {
						t.Fatalf("exit %d\n%s\n%s", got.code, got.stdout, got.stderr)
					}
					if sched == "mn" && tr == "async" {
						// the reads were posted to host workers, and the
						// signals cancelled them there
						m := mnPostedRE.FindStringSubmatch(got.stderr)
						if m == nil {
							t.Fatalf("no posted-call statistics:\n%s", got.stderr)
						}
						if c, _ := strconv.Atoi(m[3]); c < 100 {
							t.Fatalf("%s cancelled by signals, want at least 100 of the 400 (every other signal is sent while the reader blocks):\n%s", m[3], got.stderr)
						}
					}
				})
			}
		}
	}
}

// TestMNPerThreadState: per-thread kernel state follows the thread: the
// keep-capabilities flag and the name (PR_SET_NAME), under the mn
// scheduler per user-level thread, not per enclave thread (the Go standard
// library's TestAllThreadsSyscall read another thread's flag back), both
// inherited by a new thread; the main thread is named after the program, as
// natively (not "scone-run"). Natively, trapped and on the fast path.
func TestMNPerThreadState(t *testing.T) {
	native := run(t, baseEnv(), progPlain(t, "thrstate-glibc-static"))
	if native.code != 0 || native.stdout != "ok\n" {
		t.Fatalf("natively: exit %d\n%s", native.code, native.stdout)
	}
	for _, sched := range []string{"os", "mn"} {
		for _, rw := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/rewritten=%v", sched, rw), func(t *testing.T) {
				bin := progPlain(t, "thrstate-glibc-static")
				if rw {
					bin = progRW(t, "thrstate-glibc-static")
				}
				got := devRunEnv(t, []string{"SCONE_SCHEDULER=" + sched, "SCONE_THREADS=2"}, bin)
				if got.code != 0 || got.stdout != "ok\n" {
					t.Fatalf("exit %d\n%s\n%s", got.code, got.stdout, got.stderr)
				}
			})
		}
	}
}

var (
	mnPostedRE  = regexp.MustCompile(`posted blocking calls: (\d+) served by workers while their threads were parked, (\d+) made by the calling thread \(no slot or worker free\), (\d+) cancelled by signals, (\d+) workers started for them`)
	mnParkedRE  = regexp.MustCompile(`(\d+) posted blocking calls waited for parked`)
	mnKthreadRE = regexp.MustCompile(`(\d+) kernel threads \(\d+ started\)`)
)

// TestMNPostedBlockingCalls: with the mn scheduler and the async transport,
// a call that blocks in the host is posted to a host worker and its
// user-level thread parks, so the enclave thread runs another: SCONE's
// exit-less blocking calls. mnpost blocks 24 threads at once in read,
// poll and accept on two enclave threads. They must behave as natively
// with each posting mode. Posting every call (SCONE_ASYNC_POST=2), all are
// posted and parked, and the scheduler runs them on its two enclave
// threads' kernel threads; without posting (0) each blocked thread holds a
// kernel thread of its own; the default (1) posts where it pays and must
// only behave. Trapped and through the fast path, glibc and musl.
func TestMNPostedBlockingCalls(t *testing.T) {
	const n = 24
	for _, name := range []string{"mnpost-glibc-static", "mnpost-musl-static"} {
		native := run(t, baseEnv(), progPlain(t, name), strconv.Itoa(n))
		if native.code != 0 || !strings.HasSuffix(native.stdout, "done\n") {
			t.Fatalf("%s natively: exit %d\n%s", name, native.code, native.stdout)
		}
		for _, rw := range []bool{false, true} {
			for _, post := range []string{"2", "1", "0"} {
				t.Run(fmt.Sprintf("%s/rewritten=%v/post=%s", name, rw, post), func(t *testing.T) {
					bin := progPlain(t, name)
					if rw {
						bin = progRW(t, name)
					}
					env := []string{"SCONE_SCHEDULER=mn", "SCONE_TRANSPORT=async", "SCONE_THREADS=2", "SCONE_STATS=1", "SCONE_ASYNC_POST=" + post}
					got := devRunEnv(t, env, bin, strconv.Itoa(n))
					if got.code != native.code || got.stdout != native.stdout {
						t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s\nnative: exit %d, stdout:\n%s", got.code, got.stdout, got.stderr, native.code, native.stdout)
					}
					k := mnKthreadRE.FindStringSubmatch(got.stderr)
					if k == nil {
						t.Fatalf("no mn scheduler statistics:\n%s", got.stderr)
					}
					kthreads, _ := strconv.Atoi(k[1])
					pm, parked := mnPostedRE.FindStringSubmatch(got.stderr), mnParkedRE.FindStringSubmatch(got.stderr)
					t.Logf("%d kernel threads; %s; %v", kthreads, strings.Join(pm, " "), parked)
					if post == "0" {
						if pm != nil {
							t.Fatalf("SCONE_ASYNC_POST=0, yet calls were posted:\n%s", got.stderr)
						}
						if kthreads <= n/2 {
							t.Fatalf("without posting, %d kernel threads for %d blocked threads: the test no longer blocks them in the host", kthreads, n+1)
						}
						return
					}
					if post == "1" {
						return // posted where it pays: what it did depends on the machine's load
					}
					if pm == nil || parked == nil {
						t.Fatalf("no posted-call statistics:\n%s", got.stderr)
					}
					served, _ := strconv.Atoi(pm[1])
					waited, _ := strconv.Atoi(parked[1])
					if served < n+1 || waited < n/2 {
						t.Fatalf("%d calls posted, %d waited for parked; want at least %d and %d:\n%s", served, waited, n+1, n/2, got.stderr)
					}
					if kthreads > 2 {
						t.Fatalf("%d kernel threads ran the enclave's 2 enclave threads while %d threads were blocked in posted calls; want 2:\n%s", kthreads, n+1, got.stderr)
					}
				})
			}
		}
	}
}

// TestMNPostedStress: stress (threads passing data through pipes, mutexes,
// condition variables, signals) with every blocking call posted, on one,
// two and four enclave threads, trapped and rewritten: as natively, with
// its pipe reads and writes posted. Runs on four threads repeat: the idle
// threads' roles (the timekeeper sleeping for the nanosleeps' deadlines,
// the reaper watching the workers' bell) change hands thousands of times
// per run, and a role left with a thread that no longer held it hung 2-10%
// of the runs (a posted read's completion or a deadline no one woke for).
func TestMNPostedStress(t *testing.T) {
	native := run(t, baseEnv(), progPlain(t, "stress-musl-static"))
	if native.code != 0 || native.stdout == "" {
		t.Fatalf("natively: exit %d\n%s", native.code, native.stdout)
	}
	for _, threads := range []string{"1", "2", "4"} {
		for _, rw := range []bool{false, true} {
			t.Run(fmt.Sprintf("on %s/rewritten=%v", threads, rw), func(t *testing.T) {
				bin := progPlain(t, "stress-musl-static")
				if rw {
					bin = progRW(t, "stress-musl-static")
				}
				env := []string{"SCONE_SCHEDULER=mn", "SCONE_TRANSPORT=async", "SCONE_THREADS=" + threads, "SCONE_STATS=1", "SCONE_ASYNC_POST=2"}
				runs := 1
				if threads == "4" {
					runs = 5
				}
				for i := 0; i < runs; i++ {
					postedStressOnce(t, env, bin, native)
				}
			})
		}
	}
}

func postedStressOnce(t *testing.T, env []string, bin string, native result) {
	t.Helper()
	got := devRunEnv(t, env, bin)
	if got.code != native.code || got.stdout != native.stdout {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s\nnative: exit %d, stdout:\n%s", got.code, got.stdout, got.stderr, native.code, native.stdout)
	}
	m := mnPostedRE.FindStringSubmatch(got.stderr)
	if m == nil {
		t.Fatalf("no posted-call statistics:\n%s", got.stderr)
	}
	if n, _ := strconv.Atoi(m[1]); n < 1000 {
		t.Fatalf("%d calls posted; stress blocks in pipe reads thousands of times:\n%s", n, got.stderr)
	}
}
