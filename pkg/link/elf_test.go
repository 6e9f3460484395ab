package link

import (
	"bytes"
	"debug/elf"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/link/malformed from the corpus generator")

const malformedDir = "../../testdata/link/malformed"

// TestMalformedCorpus: every corpus file (generated, and on disk, which may
// also hold fuzzer finds) gives an error, never a panic or a Binary.
func TestMalformedCorpus(t *testing.T) {
	gen := corpus()
	if *update {
		if err := os.MkdirAll(malformedDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range gen {
			if err := os.WriteFile(filepath.Join(malformedDir, name+".elf"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	all := map[string][]byte{}
	for name, data := range gen {
		all[name] = data
	}
	ents, err := os.ReadDir(malformedDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".elf") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(malformedDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 2048 {
			t.Errorf("%s: %d bytes, corpus files must stay under 2 KiB", e.Name(), len(data))
		}
		name := strings.TrimSuffix(e.Name(), ".elf")
		if g, ok := gen[name]; ok && !bytes.Equal(g, data) {
			t.Errorf("%s is stale: run go test ./pkg/link -run TestMalformedCorpus -update", e.Name())
		}
		all[name] = data
	}
	for name := range gen {
		if _, err := os.Stat(filepath.Join(malformedDir, name+".elf")); err != nil {
			t.Errorf("%s.elf not committed: run with -update", name)
		}
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		data := all[name]
		t.Run(name, func(t *testing.T) {
			b, err := AnalyzeFile(bytes.NewReader(data), int64(len(data)))
			if err == nil {
				t.Fatalf("no error; got %+v", b)
			}
			var fe *FormatError
			if !errors.As(err, &fe) && !errors.Is(err, ErrNotELF) {
				t.Fatalf("error %v (%T) is neither *FormatError nor ErrNotELF", err, err)
			}
			if fe != nil && (fe.Off < 0 || fe.Off > int64(len(data))+1<<20) {
				t.Errorf("offset %#x out of range", fe.Off)
			}
			if b != nil {
				t.Errorf("binary returned with a format error")
			}
		})
	}
}

func TestGeneratedELF(t *testing.T) {
	data, _ := genELF(elfSpec{interp: "/lib/ld-musl-x86_64.so.1", needed: []string{"libc.so", "libz.so.1"},
		runpath: "$ORIGIN/../lib:/opt", sections: true, flags1: uint64(elf.DF_1_PIE)})
	b, err := AnalyzeFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if b.Kind != KindExecutable || !b.PIE || b.Linking != LinkDynamic || b.Libc.Flavour != "musl" {
		t.Errorf("kind %s pie %v linking %s libc %s", b.Kind, b.PIE, b.Linking, b.Libc.Flavour)
	}
	if strings.Join(b.Needed, ",") != "libc.so,libz.so.1" || strings.Join(b.RunPath, ",") != "$ORIGIN/../lib,/opt" {
		t.Errorf("needed %v runpath %v", b.Needed, b.RunPath)
	}
	// The same file through debug/elf, as a cross-check of the generator.
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	libs, _ := ef.ImportedLibraries()
	if strings.Join(libs, ",") != "libc.so,libz.so.1" {
		t.Errorf("debug/elf sees %v", libs)
	}
}

func TestUnsupportedMachine(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec elfSpec
		what string
	}{
		{"aarch64", elfSpec{machine: elf.EM_AARCH64}, "aarch64"},
		{"i386", elfSpec{class: elf.ELFCLASS32, machine: elf.EM_386}, "ELF32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, _ := genELF(tc.spec)
			b, err := AnalyzeFile(bytes.NewReader(data), int64(len(data)))
			var ue *UnsupportedError
			if !errors.As(err, &ue) || ue.Value != tc.what {
				t.Fatalf("err = %v, want *UnsupportedError for %s", err, tc.what)
			}
			if b == nil || b.Verdict != Unsupported || findingCodes(b.Findings)[CodeMachine] != SeverityUnsupported {
				t.Fatalf("binary %+v", b)
			}
		})
	}
}

func TestNotELF(t *testing.T) {
	for _, in := range []string{"", "#!/bin/sh\n", "MZ\x90\x00 not elf at all"} {
		if _, err := AnalyzeFile(strings.NewReader(in), int64(len(in))); !errors.Is(err, ErrNotELF) {
			t.Errorf("%q: err = %v, want ErrNotELF", in, err)
		}
	}
}

// TestFixtures analyses the binaries compiled from testdata/link.
func TestFixtures(t *testing.T) {
	type want struct {
		kind      Kind
		linking   Linking
		pie       bool
		libc      string
		interp    string // substring
		go_       bool
		cgo       bool
		features  func(Features) bool
		codes     map[string]Severity
		verdict   Verdict
		importHas string // an import's demangled name contains this
	}
	tests := []struct {
		fixture string
		want    want
	}{
		{"hello-dyn", want{kind: KindExecutable, linking: LinkDynamic, pie: true, libc: "glibc", interp: "ld-linux-x86-64.so.2", verdict: Supported}},
		{"hello-static", want{kind: KindExecutable, linking: LinkStatic, libc: "glibc", codes: map[string]Severity{CodeStatic: SeverityInfo, CodeNonPIE: SeverityInfo, CodeRawSyscalls: SeverityInfo},
			features: func(f Features) bool { return f.RawSyscalls > 0 && f.TLS }, verdict: Supported}},
		{"hello-static-pie", want{kind: KindExecutable, linking: LinkStaticPIE, pie: true, libc: "glibc", codes: map[string]Severity{CodeStatic: SeverityInfo},
			features: func(f Features) bool { return f.RawSyscalls > 0 }, verdict: Supported}},
		{"hello-nopie", want{kind: KindExecutable, linking: LinkDynamic, libc: "glibc", codes: map[string]Severity{CodeNonPIE: SeverityInfo}, verdict: Supported}},
		{"hello-execstack", want{kind: KindExecutable, linking: LinkDynamic, pie: true, libc: "glibc", codes: map[string]Severity{CodeExecStack: SeverityCaveat},
			features: func(f Features) bool { return f.ExecStack && !f.NoGNUStack }, verdict: SupportedWithCaveats}},
		{"risky", want{kind: KindExecutable, linking: LinkDynamic, pie: true, libc: "glibc",
			codes: map[string]Severity{CodeFork: SeverityInfo, CodeExec: SeverityCaveat, CodeSpawn: SeverityCaveat, CodeDlopen: SeverityCaveat},
			features: func(f Features) bool {
				return strings.Join(f.Fork, ",") == "fork" && strings.Join(f.Exec, ",") == "execve" &&
					strings.Join(f.Spawn, ",") == "posix_spawn,system" && strings.Join(f.Dlopen, ",") == "dlopen"
			}, verdict: SupportedWithCaveats}},
		{"cxx", want{kind: KindExecutable, linking: LinkDynamic, pie: true, libc: "glibc", importHas: "std::", verdict: Supported}},
		{"libtextrel.so", want{kind: KindSharedLibrary, linking: LinkDynamic, libc: "unknown", codes: map[string]Severity{CodeTextRel: SeverityCaveat},
			features: func(f Features) bool { return f.TextRel }, verdict: SupportedWithCaveats}},
		{"libtls.so", want{kind: KindSharedLibrary, linking: LinkDynamic, codes: map[string]Severity{CodeStaticTLS: SeverityInfo},
			features: func(f Features) bool { return f.TLS && f.StaticTLS }, verdict: Supported}},
		{"musl-dyn", want{kind: KindExecutable, linking: LinkDynamic, pie: true, libc: "musl", interp: "ld-musl-x86_64.so.1", verdict: Supported}},
		{"musl-static", want{kind: KindExecutable, libc: "musl", codes: map[string]Severity{CodeStatic: SeverityInfo}, verdict: Supported}},
		{"go-static", want{kind: KindExecutable, linking: LinkStatic, libc: "none", go_: true,
			codes:    map[string]Severity{CodeGo: SeverityInfo, CodeStatic: SeverityInfo, CodeSpawn: SeverityCaveat},
			features: func(f Features) bool { return f.RawSyscalls > 0 && contains(f.Spawn, "syscall.forkExec") }, verdict: SupportedWithCaveats}},
		{"go-cgo", want{kind: KindExecutable, linking: LinkDynamic, libc: "glibc", go_: true, cgo: true, codes: map[string]Severity{CodeGo: SeverityInfo}}},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			b := analyzePath(t, fix(t, tc.fixture))
			w := tc.want
			if b.Class != "ELF64" || b.Machine != "x86-64" {
				t.Errorf("class %s machine %s", b.Class, b.Machine)
			}
			if b.Kind != w.kind {
				t.Errorf("kind %s, want %s", b.Kind, w.kind)
			}
			if w.linking != "" && b.Linking != w.linking {
				t.Errorf("linking %s, want %s", b.Linking, w.linking)
			}
			if b.PIE != w.pie && tc.fixture != "go-cgo" && tc.fixture != "musl-static" {
				t.Errorf("pie %v, want %v", b.PIE, w.pie)
			}
			if w.libc != "" && b.Libc.Flavour != w.libc {
				t.Errorf("libc %s, want %s", b.Libc.Flavour, w.libc)
			}
			if b.Libc.Flavour == "glibc" && b.Interpreter != "" && !strings.HasPrefix(b.Libc.MinVersion, "2.") {
				t.Errorf("glibc min version %q", b.Libc.MinVersion)
			}
			if !strings.Contains(b.Interpreter, w.interp) || (w.interp == "" && b.Linking != LinkDynamic && b.Interpreter != "") {
				t.Errorf("interpreter %q, want %q", b.Interpreter, w.interp)
			}
			if (b.Go != nil) != w.go_ || (b.Go != nil && (b.Go.CGO != w.cgo || !strings.HasPrefix(b.Go.Version, "go1."))) {
				t.Errorf("go %+v, want go=%v cgo=%v", b.Go, w.go_, w.cgo)
			}
			if w.features != nil && !w.features(b.Features) {
				t.Errorf("features %+v", b.Features)
			}
			got := findingCodes(b.Findings)
			for code, sev := range w.codes {
				if got[code] != sev {
					t.Errorf("finding %s: %q, want %q (all: %v)", code, got[code], sev, got)
				}
			}
			if w.verdict != "" && b.Verdict != w.verdict {
				t.Errorf("verdict %s, want %s (findings %v)", b.Verdict, w.verdict, got)
			}
			if w.importHas != "" {
				found := false
				for _, s := range b.Imports {
					if strings.Contains(s.Demangled, w.importHas) && strings.HasPrefix(s.Name, "_Z") {
						found = true
					}
				}
				if !found {
					t.Errorf("no demangled import containing %q", w.importHas)
				}
			}
			for _, f := range b.Findings {
				if f.Message == "" || (f.Severity != SeverityInfo && f.Fix == "") {
					t.Errorf("finding %s lacks message or fix", f.Code)
				}
			}
		})
	}
}

// TestHostBinaries runs AnalyzeFile over /usr/bin and /usr/sbin: no error
// other than ErrNotELF, every ELF file x86-64 with a verdict, and imports
// cross-checked against debug/elf for a sample.
func TestHostBinaries(t *testing.T) {
	var files []string
	for _, d := range []string{"/usr/bin", "/usr/sbin"} {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.Type().IsRegular() {
				files = append(files, filepath.Join(d, e.Name()))
			}
		}
	}
	if len(files) == 0 {
		t.Skip("no /usr/bin or /usr/sbin on this host")
	}
	n, checked := 0, 0
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		st, _ := f.Stat()
		b, err := AnalyzeFile(f, st.Size())
		if errors.Is(err, ErrNotELF) {
			f.Close()
			continue
		}
		if err != nil {
			var ue *UnsupportedError
			if errors.As(err, &ue) {
				f.Close()
				continue
			}
			t.Errorf("%s: %v", p, err)
			f.Close()
			continue
		}
		n++
		if b.Verdict == "" || b.Libc.Flavour == "" {
			t.Errorf("%s: empty verdict or libc", p)
		}
		// Cross-check undefined dynamic symbols with debug/elf.
		if ef, err := elf.NewFile(f); err == nil && checked < 200 {
			if syms, err := ef.ImportedSymbols(); err == nil {
				checked++
				want := map[string]bool{}
				for _, s := range syms {
					want[s.Name+"@"+s.Version] = true
				}
				got := map[string]bool{}
				for _, s := range b.Imports {
					got[s.Name+"@"+s.Version] = true
				}
				for k := range want {
					if !got[k] {
						t.Errorf("%s: debug/elf import %s missing", p, k)
						break
					}
				}
			}
		}
		f.Close()
	}
	t.Logf("%d ELF files analysed, %d cross-checked with debug/elf", n, checked)
	if n == 0 {
		t.Skip("no ELF files found")
	}
}

// TestNoSectionHeaders removes the section headers of real binaries (as
// sstrip does): the dynamic symbols must then come from DT_GNU_HASH or
// DT_HASH, and the imports must not change.
func TestNoSectionHeaders(t *testing.T) {
	for _, name := range []string{"hello-dyn", "cxx", "risky", "libtls.so"} {
		t.Run(name, func(t *testing.T) {
			p := fix(t, name)
			want := analyzePath(t, p)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			ef, err := elf.NewFile(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if ef.Section(".gnu.hash") == nil && ef.Section(".hash") == nil {
				t.Skip("no hash table")
			}
			le.PutUint64(data[40:], 0) // e_shoff
			le.PutUint16(data[60:], 0) // e_shnum
			le.PutUint16(data[62:], 0) // e_shstrndx
			got, err := AnalyzeFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Imports) == 0 || !equalImports(got.Imports, want.Imports) {
				t.Errorf("imports without sections: %d, with: %d", len(got.Imports), len(want.Imports))
			}
			if got.Libc != want.Libc || got.Kind != want.Kind || got.Verdict != want.Verdict {
				t.Errorf("got %+v / %s / %s, want %+v / %s / %s", got.Libc, got.Kind, got.Verdict, want.Libc, want.Kind, want.Verdict)
			}
		})
	}
}

func equalImports(a, b []Symbol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
