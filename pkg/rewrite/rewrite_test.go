package rewrite

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// compile assembles or compiles src (by its extension) with the given tool
// into a temporary file and returns its bytes and path.
func compile(t *testing.T, tool, name, src string, flags ...string) ([]byte, string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed: %v", tool, err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, name)
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "prog")
	args := append([]string{"-o", out, in}, flags...)
	if b, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b, out
}

func asm(t *testing.T, src string) ([]byte, string) {
	t.Helper()
	return compile(t, "gcc", "prog.s", src, "-nostdlib", "-static", "-no-pie", "-Wl,--build-id=none")
}

// runFile writes b as an executable and runs it natively.
func runFile(t *testing.T, b []byte, args ...string) (string, int) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rw")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(p, args...).Output()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func siteIn(r *Result, fn string) []Site {
	var s []Site
	for _, x := range r.Sites {
		if x.Func == fn {
			s = append(s, x)
		}
	}
	return s
}

// checkLayout verifies the rewritten file against the original: only the
// patched ranges and the ELF header's program-header fields change in the
// original bytes; each patch is a jmp into the stub segment padded with
// int3; the new segment is the last PT_LOAD, R+X, page aligned, and starts
// with the header.
func checkLayout(t *testing.T, orig []byte, r *Result) {
	t.Helper()
	out := r.Data
	f, err := elf.NewFile(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("rewritten file does not parse: %v", err)
	}
	var seg *elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			seg = p
		}
	}
	if seg == nil || seg.Flags != elf.PF_R|elf.PF_X || seg.Off%page != 0 || seg.Vaddr%page != 0 ||
		string(out[seg.Off:seg.Off+8]) != Magic {
		t.Fatalf("last PT_LOAD is not the stub segment: %+v", seg)
	}
	if f.Type == elf.ET_DYN && seg.Off != seg.Vaddr {
		t.Fatalf("ET_DYN stub segment: offset %#x != vaddr %#x", seg.Off, seg.Vaddr)
	}
	if got := binary.LittleEndian.Uint32(out[seg.Off+12:]); int(got) != r.Rewritten {
		t.Fatalf("header counts %d sites, result %d", got, r.Rewritten)
	}
	checkTable(t, orig, out, seg, r)
	changed := make([]bool, len(orig))
	for i := 0x20; i < 0x28; i++ { // e_phoff
		changed[i] = true
	}
	changed[0x38], changed[0x39] = true, true // e_phnum
	of, _ := elf.NewFile(bytes.NewReader(orig))
	for _, s := range r.Sites {
		if !s.Rewritten {
			continue
		}
		_, off, ok := codeAt(orig, of, s.Start, s.End-s.Start)
		if !ok {
			t.Fatalf("site %#x not in the file", s.Addr)
		}
		p := out[off : off+s.End-s.Start]
		if p[0] != 0xe9 {
			t.Fatalf("site %#x: patch starts with %#x", s.Addr, p[0])
		}
		to := s.Start + 5 + uint64(int64(int32(binary.LittleEndian.Uint32(p[1:]))))
		if to < seg.Vaddr || to >= seg.Vaddr+seg.Memsz {
			t.Fatalf("site %#x jumps to %#x, outside the stub segment", s.Addr, to)
		}
		for _, c := range p[5:] {
			if c != 0xcc {
				t.Fatalf("site %#x: filler %#x", s.Addr, c)
			}
		}
		for i := range p {
			changed[off+uint64(i)] = true
		}
	}
	for i := range orig {
		if !changed[i] && out[i] != orig[i] {
			t.Fatalf("byte %#x changed outside the patches", i)
		}
	}
}

// checkTable verifies the site table against the rewritten sites: one
// entry per site in order, each naming the site's patched range, the
// syscall's place in it and the stub its jmp goes to, whose displaced
// instructions and own syscall are where the runtime will look for them.
func checkTable(t *testing.T, orig, out []byte, seg *elf.Prog, r *Result) {
	t.Helper()
	le := binary.LittleEndian
	hdr := out[seg.Off:]
	if v := le.Uint32(hdr[8:]); v != Version {
		t.Fatalf("stub segment version %d, want %d", v, Version)
	}
	tab := uint64(le.Uint32(hdr[TableOffset:]))
	n := uint64(le.Uint32(hdr[12:]))
	if tab%16 != 0 || tab+n*TableEntrySize != seg.Filesz {
		t.Fatalf("site table at %#x with %d entries does not end the segment (%#x bytes)", tab, n, seg.Filesz)
	}
	of, _ := elf.NewFile(bytes.NewReader(orig))
	i := uint64(0)
	for _, s := range r.Sites {
		if !s.Rewritten {
			continue
		}
		e := hdr[tab+i*TableEntrySize:]
		i++
		stub := seg.Vaddr + uint64(le.Uint32(e[0:]))
		start := uint64(int64(seg.Vaddr) + int64(int32(le.Uint32(e[4:]))))
		sc, n := uint64(e[8]), uint64(e[9])
		if start != s.Start || sc != s.Addr-s.Start || n != s.End-s.Start || le.Uint16(e[10:]) != 0 || le.Uint32(e[12:]) != 0 {
			t.Fatalf("site %#x: table entry start %#x, syscall at +%d, %d bytes; want %#x, +%d, %d",
				s.Addr, start, sc, n, s.Start, s.Addr-s.Start, s.End-s.Start)
		}
		site, off, _ := codeAt(orig, of, s.Start, n)
		if to := s.Start + 5 + uint64(int64(int32(le.Uint32(out[off+1:])))); to != stub {
			t.Fatalf("site %#x jumps to %#x, the table says its stub is at %#x", s.Addr, to, stub)
		}
		code := out[seg.Off+(stub-seg.Vaddr):]
		if !bytes.Equal(code[:sc], site[:sc]) || !bytes.Equal(code[sc+stubSyscallOff:sc+stubAfterOff], []byte{0x0f, 0x05}) ||
			!bytes.Equal(code[sc+stubAfterOff:sc+stubAfterOff+n-sc-2], site[sc+2:]) {
			t.Fatalf("site %#x: the stub at %#x does not hold the displaced instructions where the table says", s.Addr, stub)
		}
	}
}

const exitProg = `
	.text
	.globl _start
	.type _start, @function
_start:
	call leaf
	mov %eax, %edi
	mov $60, %eax
	syscall
	.size _start, .-_start

	.type leaf, @function
leaf:	/* keeps 0x55 in its red zone across getpid; returns 7 when intact */
	movq $0x55, -8(%rsp)
	movq $0x66, -128(%rsp)
	mov $39, %eax
	syscall
	cmpq $0x55, -8(%rsp)
	jne 1f
	cmpq $0x66, -128(%rsp)
	jne 1f
	mov $7, %eax
	ret
1:	mov $1, %eax
	ret
	.size leaf, .-leaf
`

func TestRewriteHandAssembled(t *testing.T) {
	b, _ := asm(t, exitProg)
	r, err := Rewrite(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Rewritten != 2 || r.Left != 0 {
		t.Fatalf("rewritten %d, left %d: %+v", r.Rewritten, r.Left, r.Sites)
	}
	leaf := siteIn(r, "leaf")
	if len(leaf) != 1 || leaf[0].Nr != 39 || leaf[0].End-leaf[0].Start != 7 {
		t.Fatalf("leaf site: %+v", leaf)
	}
	if s := siteIn(r, "_start"); len(s) != 1 || s[0].Nr != 60 {
		t.Fatalf("_start site: %+v", s)
	}
	checkLayout(t, b, r)
	// Without the runtime every stub executes its own syscall.
	if _, code := runFile(t, r.Data); code != 7 {
		t.Fatalf("rewritten program exited %d, want 7 (red zone intact, exit through the stub)", code)
	}
}

func TestRewriteLeavesUnprovableSites(t *testing.T) {
	cases := []struct {
		name, body string
		reason     string
	}{
		{"rip-relative neighbour", "lea msg(%rip), %rsi\n\tsyscall\n\tret", ReasonNoWindow},
		{"branch into the range", "xor %eax, %eax\n\ttest %edi, %edi\n\tjz 1f\n\tmov $39, %eax\n1:\tsyscall\n\tret", ReasonJumpTarget},
		{"indirect jump", "mov $39, %eax\n\tsyscall\n\tjmp *%rdi", ReasonIndirectJump},
		{"inner symbol", "mov $39, %eax\n\t.globl inner\ninner:\n\tsyscall\n\tret", ReasonInnerSymbol},
		{"undecodable", "mov $39, %eax\n\tsyscall\n\t.byte 0x06\n\tret", ReasonUndecodable},
		{"rt_sigreturn (a signal restorer)", "mov $15, %rax\n\tsyscall\n\tnop\n\tnop\n\tnop\n\tret", ReasonSigreturn},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "\t.text\n\t.globl _start\n\t.type _start, @function\n_start:\n\t" + c.body +
				"\n\t.size _start, .-_start\n\t.section .rodata\nmsg:\t.quad 0\n"
			b, _ := asm(t, src)
			r, err := Rewrite(b, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Sites) != 1 || r.Sites[0].Rewritten || r.Sites[0].Reason != c.reason {
				t.Fatalf("sites %+v, want one left because %q", r.Sites, c.reason)
			}
			if r.Data != nil {
				t.Fatal("a file was built with nothing rewritten")
			}
		})
	}
}

// A branch to the syscall itself: the range must start there (the jump
// then lands on the patch's jmp), taking the instructions after it.
func TestRewriteWindowAfterBranchTarget(t *testing.T) {
	src := `
	.text
	.globl _start
	.type _start, @function
_start:
	mov $60, %eax
	test %edi, %edi
	jz 1f
	mov $60, %eax
1:	syscall
	mov %rax, %rdi
	mov %rax, %rsi
	ret
	.size _start, .-_start
`
	b, _ := asm(t, src)
	r, err := Rewrite(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Sites) != 1 || !r.Sites[0].Rewritten || r.Sites[0].Start != r.Sites[0].Addr || r.Sites[0].End != r.Sites[0].Addr+5 {
		t.Fatalf("sites %+v: want the range [syscall, +5)", r.Sites)
	}
	checkLayout(t, b, r)
}

// A branch from another function, one without system calls (which is
// scanned, not decoded), into the instruction before a syscall keeps the
// window from starting there: near (rel8, a function just after) and far
// (rel32, past 300 bytes of padding), a jump, a conditional jump and a
// call.
func TestRewriteBranchFromAnotherFunction(t *testing.T) {
	for _, c := range []struct{ name, branch, pad string }{
		{"jmp rel8", "jmp .Linner", ""},
		{"jcc rel8", "test %edi, %edi\n\tjnz .Linner", ""},
		{"jmp rel32", "jmp .Linner", ".skip 300, 0x90"},
		{"jcc rel32", "test %edi, %edi\n\tjnz .Linner", ".skip 300, 0x90"},
		{"call rel32", "call .Linner", ".skip 300, 0x90"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.ReplaceAll(strings.ReplaceAll(`
	.text
	.globl _start
	.type _start, @function
_start:
	mov $60, %eax
.Linner: # no symbol: a label in the symbol table would keep the site a trap
	syscall
	mov %rax, %rdi
	mov %rax, %rsi
	ret
	.size _start, .-_start
	PAD
	.globl other
	.type other, @function
other:
	BRANCH
	ret
	.size other, .-other
`, "BRANCH", c.branch), "PAD", c.pad)
			b, _ := asm(t, src)
			r, err := Rewrite(b, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Sites) != 1 || !r.Sites[0].Rewritten || r.Sites[0].Start != r.Sites[0].Addr {
				t.Fatalf("sites %+v: want the window to start at the syscall (other jumps there)", r.Sites)
			}
			checkLayout(t, b, r)
		})
	}
}

// Every branch target that decoding the functions without system calls
// finds inside the functions with them, scanTargets finds too (it may find
// more): on a static glibc program, and on this machine's libc and dynamic
// loader when it has them.
func TestScanTargetsCoverDecodedBranches(t *testing.T) {
	hello, err := os.ReadFile("../../runtime/e2e/testdata/hello.c")
	if err != nil {
		t.Fatal(err)
	}
	prog, _ := compile(t, "gcc", "hello.c", string(hello), "-O2", "-static")
	files := map[string][]byte{"glibc static hello": prog}
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"} {
		if b, err := os.ReadFile(p); err == nil {
			files[p] = b
		} else {
			t.Logf("%s: not read (%v): not checked", p, err)
		}
	}
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			f, err := elf.NewFile(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			fns, _ := functions(f)
			var cand, rest []int
			for i := range fns {
				if code, _, ok := codeAt(b, f, fns[i].Start, fns[i].Size); ok && bytes.Contains(code, syscallBytes) {
					cand = append(cand, i)
				} else {
					rest = append(rest, i)
				}
			}
			scanned := addrSet(scanTargets(b, f, fns, cand, rest, nil))
			slices.Sort(scanned)
			inCand := func(a uint64) bool {
				for _, i := range cand {
					if fns[i].Start <= a && a < fns[i].Start+fns[i].Size {
						return true
					}
				}
				return false
			}
			checked := 0
			for _, a := range decodeSome(b, f, fns, rest, false) {
				if !inCand(a) {
					continue
				}
				checked++
				if !scanned.has(a) {
					t.Errorf("target %#x of a decoded branch is not among the scanned ones", a)
				}
			}
			if len(cand) == 0 || checked == 0 {
				t.Fatalf("%d functions with 0f 05, %d decoded targets inside them: nothing was compared", len(cand), checked)
			}
			t.Logf("%d decoded targets inside %d functions with 0f 05, all among %d scanned", checked, len(cand), len(scanned))
		})
	}
}

// Assembly functions without a size (musl's vfork, __clone) end at the
// next symbol.
func TestRewriteUnsizedFunction(t *testing.T) {
	src := `
	.text
	.globl _start
	.type _start, @function
_start:
	mov $42, %edi
	mov $60, %eax
	syscall
	.globl after
	.type after, @function
after:
	ret
	.size after, .-after
`
	b, _ := asm(t, src)
	r, err := Rewrite(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := siteIn(r, "_start"); len(s) != 1 || !s[0].Rewritten {
		t.Fatalf("sites %+v", r.Sites)
	}
	if _, code := runFile(t, r.Data); code != 42 {
		t.Fatalf("exit %d, want 42", code)
	}
}

func TestRewriteDeterministicAndIdempotent(t *testing.T) {
	b, _ := asm(t, exitProg)
	r1, err := Rewrite(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Rewrite(append([]byte(nil), b...), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r1.Data, r2.Data) {
		t.Fatal("two rewrites of the same input differ")
	}
	r3, err := Rewrite(r1.Data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r3.Already || r3.Data != nil {
		t.Fatalf("rewriting a rewritten file: %+v", r3)
	}
	d, err := Rewrite(b, Options{DryRun: true})
	if err != nil || d.Data != nil || d.Rewritten != r1.Rewritten {
		t.Fatalf("dry run: %+v, %v", d, err)
	}
}

func TestRewriteRejects(t *testing.T) {
	if _, err := Rewrite([]byte("#!/bin/sh\n"), Options{}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("not ELF: %v", err)
	}
	b, _ := asm(t, exitProg)
	b32 := append([]byte(nil), b...)
	b32[4] = 1 // ELFCLASS32
	if _, err := Rewrite(b32, Options{}); err == nil {
		t.Fatal("32-bit class accepted")
	}
}

// Real programs: static glibc and musl (the runtime e2e hello), static
// Go. The rewritten file behaves as the original natively (every stub's
// own syscall runs).
func TestRewriteRealPrograms(t *testing.T) {
	hello, err := os.ReadFile("../../runtime/e2e/testdata/hello.c")
	if err != nil {
		t.Fatal(err)
	}
	gohello, err := os.ReadFile("../../runtime/e2e/testdata/gohello.go")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, tool, file string
		src              []byte
		flags            []string
		min              int
	}{
		{"glibc static", "gcc", "hello.c", hello, []string{"-O2", "-static"}, 50},
		{"glibc static-pie", "gcc", "hello.c", hello, []string{"-O2", "-static-pie"}, 50},
		{"musl static", "musl-gcc", "hello.c", hello, []string{"-O2", "-static"}, 20},
		{"go static", "go", "", gohello, nil, 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b []byte
			var path string
			if c.tool == "go" {
				if _, err := exec.LookPath("go"); err != nil {
					t.Skip("go not installed")
				}
				dir := t.TempDir()
				src := filepath.Join(dir, "main.go")
				os.WriteFile(src, c.src, 0o644)
				path = filepath.Join(dir, "prog")
				cmd := exec.Command("go", "build", "-o", path, src)
				cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("go build: %v\n%s", err, out)
				}
				b, _ = os.ReadFile(path)
			} else {
				b, path = compile(t, c.tool, c.file, string(c.src), c.flags...)
			}
			r, err := Rewrite(b, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d sites rewritten, %d left", r.Rewritten, r.Left)
			if r.Rewritten < c.min {
				t.Fatalf("only %d sites rewritten (left %d)", r.Rewritten, r.Left)
			}
			checkLayout(t, b, r)
			want, wcode := runFile(t, b, "a", "b")
			got, gcode := runFile(t, r.Data, "a", "b")
			if got != want || gcode != wcode || strings.TrimSpace(want) == "" {
				t.Fatalf("rewritten: exit %d\n%s\noriginal: exit %d\n%s", gcode, got, wcode, want)
			}
			_ = path
		})
	}
}

// A stripped program: functions come from .eh_frame. An FDE that starts
// inside an instruction (as glibc describes __restore_rt from the last byte
// of the nop before it) is not decoded: decoding from there would take
// that byte for an instruction and patch across the real ones.
func TestRewriteEHFrameOnly(t *testing.T) {
	src := `
	.text
	.globl _start
	.p2align 4
_start:
	.cfi_startproc
	mov $42, %edi
	mov $60, %eax
	syscall
	.cfi_endproc
	.p2align 4
	.byte 0x0f, 0x1f, 0x40
	.cfi_startproc
	.byte 0x00
	mov $15, %rax
	syscall
	.cfi_endproc
`
	b, _ := compile(t, "gcc", "prog.s", src, "-nostdlib", "-static", "-no-pie", "-s", "-Wl,--build-id=none")
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Symbols(); err == nil {
		t.Fatal("the program has a symbol table: the test needs a stripped one")
	}
	r, err := Rewrite(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Sites) != 1 || !r.Sites[0].Rewritten || r.Sites[0].Nr != 60 {
		t.Fatalf("sites %+v: want only _start's, rewritten", r.Sites)
	}
	checkLayout(t, b, r)
	if _, code := runFile(t, r.Data); code != 42 {
		t.Fatalf("exit %d, want 42", code)
	}
}

// BenchmarkRewrite: real files of the host (libc, bash, perl) and a static
// Go program, each rewritten whole; the decoder is most of a conversion's
// rewrite time.
func BenchmarkRewrite(b *testing.B) {
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/bash", "/usr/bin/perl", "/usr/bin/ls", "/bin/busybox"} {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Logf("skipping %s: %v", p, err)
			continue
		}
		b.Run(filepath.Base(p), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Rewrite(data, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
