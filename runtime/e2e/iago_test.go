package e2e

import (
	"debug/elf"
	"fmt"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/enclave"
)

func init() {
	recipes["liar"] = recipe{"liar.c", cc("gcc")}
	recipes["iago-static"] = recipe{"iago.c", cc("gcc", "-static", "-no-pie")}
}

// symbol returns the address of a symbol of a static non-PIE program.
func symbol(t *testing.T, bin, name string) uint64 {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("%s: no symbol %s", bin, name)
	return 0
}

// TestIagoLyingHost (security finding 5): a host that controls system call
// results lies, through a seccomp user-notification supervisor (testdata/
// liar.c) that answers the runtime's host calls: the runtime refuses the
// lie, or never asks the host at all.
func TestIagoLyingHost(t *testing.T) {
	rt := runtimeBin(t)
	liar := prog(t, "liar")
	bin := prog(t, "iago-static")
	precious := symbol(t, bin, "precious")
	plain := makeEnclave(t, rt, bin, func(c *enclave.Config) { c.HostArgs = true })
	shielded := makeEnclave(t, rt, bin, func(c *enclave.Config) { c.HostArgs = true; c.ConsoleShield = true })
	for _, tc := range []struct {
		name  string
		e     simEnclave
		rules []string
		mode  string
		check func(t *testing.T, got result)
	}{
		{"open answered with the console's fd 1", shielded, []string{"openat=/etc/hosts:1"}, "console",
			func(t *testing.T, got result) {
				if strings.Contains(got.stdout, "PLAINTEXT-MARKER") {
					t.Fatalf("the console shield wrote plaintext after the lie:\n%s", got.stdout)
				}
				if got.code != 70 {
					t.Fatalf("exit %d, want 70 (the runtime stops)\nstderr: %s", got.code, got.stderr)
				}
			}},
		{"open answered with a protected file's fd", plain, []string{"openat=/etc/hosts:3"}, "protected " + bin,
			func(t *testing.T, got result) {
				if strings.Contains(got.stdout, "not the file") || got.code != 70 || !strings.Contains(got.stderr, "already open") {
					t.Fatalf("exit %d, want 70 with the reused descriptor named\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
				}
			}},
		{"an honest host", plain, nil, "protected " + bin,
			func(t *testing.T, got result) {
				if got.code != 0 || !strings.Contains(got.stdout, "read 4: ELF") {
					t.Fatalf("exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
				}
			}},
		{"anonymous mmap answered with the application's data", plain,
			[]string{fmt.Sprintf("mmap=%d:%x", 0x13000, precious)}, "alias",
			func(t *testing.T, got result) {
				if strings.Contains(got.stdout, "OVERWRITTEN") {
					t.Fatalf("the application overwrote its own data:\n%s", got.stdout)
				}
				if got.code != 70 || !strings.Contains(got.stderr, "overlaps memory the application is using") {
					t.Fatalf("exit %d, want 70 with the aliasing named\nstderr: %s", got.code, got.stderr)
				}
			}},
		{"getrandom answered with zeros", plain, []string{"getrandom=zero", "count=getrandom", "count=openat"}, "random",
			func(t *testing.T, got result) {
				if got.code != 0 {
					t.Fatalf("exit %d\nstderr: %s", got.code, got.stderr)
				}
				zero := strings.Repeat("0", 64)
				if strings.Contains(got.stdout, zero) {
					t.Fatalf("randomness came from the host:\n%s", got.stdout)
				}
				if !strings.Contains(got.stderr, "liar: getrandom 0\n") {
					t.Fatalf("the host saw getrandom calls:\n%s", got.stderr)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append(append([]string{liar}, tc.rules...), "--", rt), strings.Fields(tc.mode)...)
			got := run(t, tc.e.env(), args...)
			tc.check(t, got)
		})
	}
}
