package e2e

import (
	"strings"
	"testing"
)

func init() {
	recipes["ptrace-static"] = recipe{"ptrace.c", cc("gcc", "-static")}
}

// TestPtraceRefused: ptrace inside the enclave fails with EPERM (a forked
// child's PTRACE_TRACEME, as Go's SysProcAttr.Ptrace does, and
// PTRACE_ATTACH). Passed to the host, the traced child stopped at its next
// trapped system call and hung (the Go standard library's
// syscall.TestExecPtrace, run converted).
func TestPtraceRefused(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "ptrace-static")
	e := makeEnclave(t, rt, bin, nil)
	got := run(t, e.env(), rt)
	if got.code != 0 || strings.TrimSpace(got.stdout) != "ptrace: EPERM" {
		t.Fatalf("sim mode: exit %d, stdout %q, stderr:\n%s", got.code, got.stdout, got.stderr)
	}
}
