package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/scone-build/scone-build/pkg/enclave"
)

// BenchmarkSpawn: a shell starting programs, the work of every shell
// script, make and git: dash runs a program 20 times (fork, execve, the
// dynamic loader mapping libc), natively and in simulation mode from a
// protected FS image holding dash, the program, its libraries and the
// loader, in one run. Programs: /usr/bin/true (small, libc only) and
// `perl -e 1` (a 3.6 MB program, libm, libcrypt). ns/spawn is one fork and
// execve; "x-native" is the ratio to the native run.
//
//	go test ./runtime/e2e -run '^$' -bench Spawn -benchtime 20x
func BenchmarkSpawn(b *testing.B) {
	rt := runtimeBin(b)
	const n = 20
	lib := "/lib/x86_64-linux-gnu/"
	for _, prog := range []struct {
		name, cmd string
		files     []string
	}{
		{"true", "/usr/bin/true", []string{"/usr/bin/true"}},
		{"perl", "/usr/bin/perl -e 1", []string{"/usr/bin/perl", lib + "libm.so.6", lib + "libcrypt.so.1"}},
	} {
		b.Run(prog.name, func(b *testing.B) {
			script := "i=0; while [ $i -lt " + strconv.Itoa(n) + " ]; do " + prog.cmd + "; i=$((i+1)); done"
			var files []tarEntry
			for _, p := range append([]string{"/usr/bin/dash", lib + "libc.so.6", lib + "ld-linux-x86-64.so.2"}, prog.files...) {
				content, err := os.ReadFile(p)
				if err != nil {
					b.Skipf("the host's dash, libc and %s are the benchmark's programs: %v", prog.name, err)
				}
				files = append(files, tarEntry{name: p, content: content})
			}
			files = append(files, tarEntry{name: "/lib64/ld-linux-x86-64.so.2", link: lib + "ld-linux-x86-64.so.2"},
				tarEntry{name: "/tmp", dir: true})
			enc := makeEnclaveFiles(b, rt, files, func(cfg *enclave.Config) {
				cfg.Entrypoint = "/usr/bin/dash"
				cfg.Argv = []string{"sh", "-c", script}
			})
			spawnRuns(b, rt, enc, script, n)
		})
	}
}

// spawnRuns times the script natively and in simulation mode.
func spawnRuns(b *testing.B, rt string, enc simEnclave, script string, n int) {
	start := func(b *testing.B, cmd *exec.Cmd) time.Duration {
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", cmd.Args, err, out)
		}
		return time.Since(t0)
	}
	var native time.Duration
	for _, c := range []string{"native", "sim"} {
		b.Run(c, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				var cmd *exec.Cmd
				if c == "native" {
					cmd = exec.Command("/usr/bin/dash", "-c", script)
				} else {
					cmd = exec.Command(rt)
					cmd.Env = enc.env()
				}
				total += start(b, cmd)
			}
			per := total / time.Duration(b.N*n)
			b.ReportMetric(float64(per.Nanoseconds()), "ns/spawn")
			if c == "native" {
				native = per
			} else if native > 0 {
				b.ReportMetric(float64(per)/float64(native), "x-native")
			}
		})
	}
}
