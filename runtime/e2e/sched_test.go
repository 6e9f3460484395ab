package e2e

import (
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/enclave"
)

// TestSchedulerMNRefused: the mn scheduler (user-level threads, issue 19) is
// recorded in the measured config (record 29) and selectable in dev mode
// (SCONE_SCHEDULER), but this runtime does not have it yet: it refuses by
// name before the application runs, rather than run the threads otherwise
// than configured. SCONE_SCHEDULER=os (the default) runs as before.
func TestSchedulerMNRefused(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "hello-musl-static")
	args := []string{bin, "first arg"}
	native := run(t, baseEnv(), args...)
	if strings.TrimSpace(native.stdout) == "" {
		t.Fatalf("native run printed nothing: the comparison would be empty")
	}
	t.Run("sim config", func(t *testing.T) {
		e := makeEnclave(t, rt, bin, func(c *enclave.Config) {
			c.Argv = args
			c.Env = baseEnv()
			c.Scheduler = enclave.SchedulerMN
		})
		got := run(t, e.env(), rt)
		if got.code != 78 || !strings.Contains(got.stderr, "mn scheduler") || got.stdout != "" {
			t.Fatalf("mn config: exit %d, stdout %q, stderr:\n%s", got.code, got.stdout, got.stderr)
		}
	})
	dev := func(sched string) result {
		env := append(baseEnv(), "SCONE_MODE=dev", "SCONE_SIM_EXIT_CYCLES=0", "SCONE_SCHEDULER="+sched)
		return run(t, env, append([]string{rt, "--dev-exec"}, args...)...)
	}
	for _, tt := range []struct {
		sched, msg string
	}{
		{"mn", "SCONE_SCHEDULER=mn: this runtime does not have the mn scheduler"},
		{"m:n", "SCONE_SCHEDULER=m:n: unknown scheduler"},
	} {
		t.Run("dev "+tt.sched, func(t *testing.T) {
			got := dev(tt.sched)
			if got.code != 64 || !strings.Contains(got.stderr, tt.msg) || got.stdout != "" {
				t.Fatalf("SCONE_SCHEDULER=%s: exit %d, stdout %q, stderr:\n%s", tt.sched, got.code, got.stdout, got.stderr)
			}
		})
	}
	t.Run("dev os", func(t *testing.T) {
		got := dev("os")
		if got.stdout != native.stdout || got.code != native.code {
			t.Fatalf("SCONE_SCHEDULER=os: exit %d, stdout:\n%s\nstderr:\n%s\nnative:\n%s", got.code, got.stdout, got.stderr, native.stdout)
		}
	})
}
