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
// script, make and git: dash runs /usr/bin/true 20 times (fork, execve,
// the dynamic loader mapping libc), natively and in simulation mode from a
// protected FS image holding dash, true, libc and the loader, in one run.
// ns/op is one fork and execve; "x-native" is the ratio to the native run.
//
//	go test ./runtime/e2e -run '^$' -bench Spawn -benchtime 20x
func BenchmarkSpawn(b *testing.B) {
	rt := runtimeBin(b)
	const n = 20
	script := "i=0; while [ $i -lt " + strconv.Itoa(n) + " ]; do /usr/bin/true; i=$((i+1)); done"
	var files []tarEntry
	for _, p := range []string{"/usr/bin/dash", "/usr/bin/true", "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"} {
		content, err := os.ReadFile(p)
		if err != nil {
			b.Skipf("the host's dash and libc are the benchmark's programs: %v", err)
		}
		files = append(files, tarEntry{name: p, content: content})
	}
	files = append(files, tarEntry{name: "/lib64/ld-linux-x86-64.so.2", link: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"},
		tarEntry{name: "/tmp", dir: true})
	enc := makeEnclaveFiles(b, rt, files, func(cfg *enclave.Config) {
		cfg.Entrypoint = "/usr/bin/dash"
		cfg.Argv = []string{"sh", "-c", script}
	})
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
