package e2e

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/enclave"
)

func init() {
	recipes["liar"] = recipe{"liar.c", cc("gcc")}
	recipes["iago-static"] = recipe{"iago.c", cc("gcc", "-static", "-no-pie")}
}

// symbol returns the address of a symbol of a static non-PIE program.
func symbol(t testing.TB, bin, name string) uint64 {
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

// TestCodeOnlyFromTheImage (security finding 4): code from a host path (a
// volume, here) is never executed, loaded or mapped executable inside the
// enclave, and the program that runs is the measured entrypoint.
func TestCodeOnlyFromTheImage(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "iago-static")
	hello := prog(t, "hello-glibc-static")
	vol := t.TempDir()
	hostProg := filepath.Join(vol, "hello")
	b, err := os.ReadFile(hello)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hostProg, b, 0o755); err != nil {
		t.Fatal(err)
	}
	e := makeEnclave(t, rt, bin, func(c *enclave.Config) { c.HostArgs = true; c.Volumes = []string{vol} }, hello)
	t.Run("exec of a host file", func(t *testing.T) {
		got := run(t, e.env(), rt, "exec", hostProg)
		if got.code != 0 || !strings.Contains(got.stdout, "exec "+hostProg+": Permission denied") || strings.Contains(got.stdout, "argv[") {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
		}
	})
	t.Run("exec of a file of the image", func(t *testing.T) {
		got := run(t, e.env(), rt, "exec", hello)
		if got.code != 3 || !strings.Contains(got.stdout, "argv[0]=") {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
		}
	})
	t.Run("executable mappings of a host file", func(t *testing.T) {
		got := run(t, e.env(), rt, "mmapexec", hostProg)
		want := "mmap exec: Permission denied\nmmap read: mapped\nmprotect exec: Permission denied\n"
		if got.code != 0 || got.stdout != want {
			t.Fatalf("exit %d\nstdout: %s\nwant:\n%s\nstderr: %s", got.code, got.stdout, want, got.stderr)
		}
		got = run(t, e.env(), rt, "mmapexec", hello)
		want = "mmap exec: mapped\nmmap read: mapped\nmprotect exec: done\n"
		if got.code != 0 || got.stdout != want {
			t.Fatalf("the image's own file: exit %d\nstdout: %s\nwant:\n%s\nstderr: %s", got.code, got.stdout, want, got.stderr)
		}
	})
	t.Run("argv[0] that resolves to another program than the entrypoint", func(t *testing.T) {
		other := makeEnclave(t, rt, bin, func(c *enclave.Config) {
			c.Argv = []string{filepath.Base(hello)}
			c.Env = []string{"PATH=" + filepath.Dir(hello)}
		}, hello)
		got := run(t, other.env(), rt)
		if got.code != 78 || !strings.Contains(got.stderr, "not the measured entrypoint") || strings.Contains(got.stdout, "argv[") {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
		}
	})
}
