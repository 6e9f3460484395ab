package archcheck

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// segmentOperands decodes the executable sections of the ELF file at path
// (linear sweep, as objdump -d) and counts the memory operands through FS
// and those that read GS:0x28.
func segmentOperands(t *testing.T, path string) (fs []string, gsCanary int) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	defer f.Close()
	for _, s := range f.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_EXECINSTR == 0 {
			continue
		}
		code, err := s.Data()
		if err != nil {
			t.Fatalf("reading %s of %s: %v", s.Name, path, err)
		}
		for off := 0; off < len(code); {
			inst, err := x86asm.Decode(code[off:], 64)
			if err != nil || inst.Len == 0 {
				off++
				continue
			}
			for _, a := range inst.Args {
				m, ok := a.(x86asm.Mem)
				if !ok {
					continue
				}
				switch {
				case m.Segment == x86asm.FS:
					fs = append(fs, x86asm.GNUSyntax(inst, s.Addr+uint64(off), nil))
				case m.Segment == x86asm.GS && m.Base == 0 && m.Index == 0 && m.Disp == 0x28:
					gsCanary++
				}
			}
			off += inst.Len
		}
	}
	return fs, gsCanary
}

// The runtime's code never depends on FS, the application's thread pointer:
// BearSSL's and LZ4's canary reads were moved to GS at build time
// (runtime/tools/canarygs.c), so no call has to switch FS to the runtime's
// block (two arch_prctl calls where the kernel lacks FSGSBASE).
func TestRuntimeNeverUsesFS(t *testing.T) {
	bin := filepath.Join(root, "build", "scone-run")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("runtime not built (%v): run `make runtime` (make test does)", err)
	}
	fs, gs := segmentOperands(t, bin)
	for i, s := range fs {
		if i == 10 {
			t.Errorf("... %d more", len(fs)-10)
			break
		}
		t.Errorf("scone-run uses FS: %s", s)
	}
	// BearSSL's GCM, ChaCha20 and EC code run with a stack protector.
	if gs < 100 {
		t.Errorf("scone-run reads GS:0x28 %d times, want the >= 100 canary reads of BearSSL and LZ4: was canarygs run?", gs)
	}
}

// canarygs patches exactly the canary reads objdump lists and refuses any
// other FS operand, leaving the file as it was.
func TestCanaryGS(t *testing.T) {
	tool := filepath.Join(root, "build", "tools", "canarygs")
	if _, err := os.Stat(tool); err != nil {
		t.Skipf("canarygs not built (%v): run `make runtime` (make test does)", err)
	}
	for _, c := range []string{"cc", "objdump"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s not installed (build-essential): %v", c, err)
		}
	}
	// A freestanding program: its canary reads come from the compiler's
	// stack protector, as in Debian's BearSSL; fsread adds a read of the
	// thread pointer that is not the canary.
	const src = `
static char sink[256];
void __stack_chk_fail(void) { for (;;) ; }
__attribute__((noinline)) void fill(char *p, int n) { for (int i = 0; i < n; i++) sink[i] = p[i]; }
__attribute__((noinline)) int work(int n) { char buf[128]; for (int i = 0; i < 128; i++) buf[i] = (char)(i * n); fill(buf, n); return buf[n]; }
#ifdef FSREAD
__attribute__((noinline)) long fsread(void) { long v; __asm__ volatile("mov %%fs:0x30, %0" : "=r"(v)); return v; }
#endif
void _start(void) { for (;;) work(7); }
`
	dir := t.TempDir()
	build := func(t *testing.T, name string, defs ...string) string {
		t.Helper()
		c := filepath.Join(dir, name+".c")
		if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name)
		args := append([]string{"-O2", "-fstack-protector-all", "-ffreestanding", "-nostdlib", "-static", "-no-pie", "-o", out, c}, defs...)
		if b, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
			t.Fatalf("cc %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return out
	}
	patch := func(bin string) (string, error) {
		dis, err := exec.Command("objdump", "-d", "--no-show-raw-insn", bin).Output()
		if err != nil {
			t.Fatalf("objdump %s: %v", bin, err)
		}
		cmd := exec.Command(tool, bin)
		cmd.Stdin = bytes.NewReader(dis)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	t.Run("canary reads move to GS", func(t *testing.T) {
		bin := build(t, "ok")
		if fs, _ := segmentOperands(t, bin); len(fs) < 2 {
			t.Fatalf("the test program has %d FS operands, want the stack protector's (>= 2)", len(fs))
		}
		out, err := patch(bin)
		if err != nil {
			t.Fatalf("canarygs: %v\n%s", err, out)
		}
		fs, gs := segmentOperands(t, bin)
		if len(fs) != 0 || gs < 2 {
			t.Errorf("after canarygs: FS operands %q, GS:0x28 reads %d; want none and >= 2", fs, gs)
		}
		if !strings.Contains(out, "canary reads moved to GS") {
			t.Errorf("canarygs said %q", out)
		}
	})
	t.Run("another FS operand is refused, the file unchanged", func(t *testing.T) {
		bin := build(t, "fsread", "-DFSREAD")
		before, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		out, err := patch(bin)
		if err == nil || !strings.Contains(out, "other than the canary") {
			t.Errorf("canarygs accepted %%fs:0x30 (err %v): %s", err, out)
		}
		after, _ := os.ReadFile(bin)
		if !bytes.Equal(before, after) {
			t.Error("canarygs changed the file although it refused it")
		}
	})
	t.Run("a listed address that holds no canary read", func(t *testing.T) {
		bin := build(t, "forged")
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		entry := f.Entry
		f.Close()
		before, _ := os.ReadFile(bin)
		cmd := exec.Command(tool, bin)
		cmd.Stdin = strings.NewReader(strings.Join([]string{"", "Disassembly of section .text:", "",
			"  " + strconv.FormatUint(entry, 16) + ":\tmov    %fs:0x28,%rax", ""}, "\n"))
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "not encoded as") {
			t.Errorf("canarygs patched the entry point on a forged listing (err %v): %s", err, out)
		}
		if after, _ := os.ReadFile(bin); !bytes.Equal(before, after) {
			t.Error("canarygs changed the file although it refused it")
		}
	})
	t.Run("no disassembly", func(t *testing.T) {
		bin := build(t, "empty")
		cmd := exec.Command(tool, bin)
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "no disassembly") {
			t.Errorf("canarygs without input: err %v, %s", err, out)
		}
	})
	t.Run("not an ELF file", func(t *testing.T) {
		p := filepath.Join(dir, "junk")
		if err := os.WriteFile(p, []byte("not an ELF file at all, just text"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(tool, p)
		cmd.Stdin = strings.NewReader("  401000:\tmov    %fs:0x28,%rax\n")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "not an x86-64 ELF") {
			t.Errorf("canarygs on a text file: err %v, %s", err, out)
		}
	})
}
