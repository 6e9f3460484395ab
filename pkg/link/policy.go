package link

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// This file is the compatibility policy: what the runtime does with each
// feature, as documented in docs/compatibility.md. The runtime's contract:
//
//   - every system call is intercepted with Syscall User Dispatch (SUD), so
//     static binaries, raw syscall instructions and Go work;
//   - threads (clone with CLONE_VM|CLONE_THREAD) are supported;
//   - creating a process (fork, vfork, clone without CLONE_VM, posix_spawn,
//     system, popen) is supported: the child is another process of the same
//     enclave, under the same interception, sharing its ephemeral file
//     system (docs/runtime.md, "fork"); in sim mode only;
//   - execve is supported only for ELF programs inside the image, which
//     replace the current program in the same enclave;
//   - dlopen works for libraries inside the image.

// Finding codes; docs/compatibility.md documents each.
const (
	CodeMachine        = "machine"
	CodeMalformed      = "malformed-elf"
	CodeNotExecutable  = "not-executable"
	CodeMissingLibrary = "missing-library"
	CodeMissingInterp  = "missing-interpreter"
	CodeLibraryUnsupp  = "library-unsupported"
	CodeFork           = "fork"
	CodeSpawn          = "spawn"
	CodeExec           = "exec"
	CodeClone          = "clone"
	CodeDlopen         = "dlopen"
	CodeRawSyscalls    = "raw-syscalls"
	CodeExecStack      = "exec-stack"
	CodeTextRel        = "textrel"
	CodeStaticTLS      = "static-tls"
	CodeNonPIE         = "non-pie"
	CodeStatic         = "static"
	CodeGo             = "go"
	CodeUnknownInterp  = "unknown-interpreter"
	CodeScript         = "script"
	CodeShellForm      = "shell-form"
)

const (
	fixPlatform = "use the linux/amd64 variant of the image (e.g. pull with --platform linux/amd64) or rebuild the program for x86-64"
)

// objectFindings are the findings about one object on its own.
func objectFindings(b *Binary, unsupported error) []Finding {
	out := []Finding{}
	add := func(f Finding) { out = append(out, f) }
	var ue *UnsupportedError
	if errors.As(unsupported, &ue) {
		add(Finding{Code: CodeMachine, Severity: SeverityUnsupported,
			Message: fmt.Sprintf("%s %s: the runtime runs only 64-bit x86-64 code", ue.What, ue.Value),
			Fix:     fixPlatform})
		return out
	}
	if b.Kind != KindExecutable && b.Kind != KindSharedLibrary {
		add(notExecutable(b, SeverityInfo))
		return out
	}
	ft := b.Features
	if len(ft.Fork) > 0 {
		add(Finding{Code: CodeFork, Severity: SeverityInfo, Details: ft.Fork,
			Message: "creates processes with " + strings.Join(ft.Fork, ", ") + ": children run as processes of the same enclave under the same interception and share its ephemeral file system; each fork costs ~0.1 ms more than natively (sim mode; hardware mode will need an enclave fork protocol)"})
	}
	if len(ft.Spawn) > 0 {
		add(Finding{Code: CodeSpawn, Severity: SeverityCaveat, Details: ft.Spawn,
			Message: "starts programs with " + strings.Join(ft.Spawn, ", ") + ": supported (a fork plus an in-enclave exec); with glibc, a program that cannot be started shows as exit status 127 instead of an error from posix_spawn",
			Fix:     "make sure every program it starts is in the image"})
	}
	if len(ft.Exec) > 0 {
		add(Finding{Code: CodeExec, Severity: SeverityCaveat, Details: ft.Exec,
			Message: "calls " + strings.Join(ft.Exec, ", ") + ": execve is supported only for x86-64 programs inside the image; they replace the current program in the same enclave, programs outside the image fail with ENOENT",
			Fix:     "make sure every program it executes is in the image and itself supported (see its entry in this report)"})
	}
	if len(ft.Clone) > 0 {
		add(Finding{Code: CodeClone, Severity: SeverityInfo, Details: ft.Clone,
			Message: "calls " + strings.Join(ft.Clone, ", ") + " directly: threads (CLONE_VM|CLONE_THREAD) are supported, clone without CLONE_VM creates a process of the same enclave, like fork"})
	}
	if len(ft.Dlopen) > 0 && b.Kind == KindExecutable && b.Interpreter == "" {
		add(Finding{Code: CodeDlopen, Severity: SeverityInfo, Details: ft.Dlopen,
			Message: "statically linked with " + strings.Join(ft.Dlopen, ", ") + " (static glibc always links it for NSS and iconv): works for libraries inside the image"})
	} else if len(ft.Dlopen) > 0 {
		add(Finding{Code: CodeDlopen, Severity: SeverityCaveat, Details: ft.Dlopen,
			Message: "loads libraries at run time with " + strings.Join(ft.Dlopen, ", ") + ": works for libraries inside the image (they are read from the protected FS image); such libraries are not part of the dependency closure checked here",
			Fix:     "make sure plugins and modules the program loads are in the image; check them with this report (every ELF file of the image is analysed)"})
	}
	if ft.ExecStack {
		why := "PT_GNU_STACK is executable"
		if ft.NoGNUStack {
			why = "there is no PT_GNU_STACK header, so the loader assumes an executable stack"
		}
		add(Finding{Code: CodeExecStack, Severity: SeverityCaveat,
			Message: "executable stack (" + why + "): stack pages must be mapped writable and executable; allowed in sim mode, weakens protection, and glibc 2.41+ refuses to dlopen such libraries",
			Fix:     "rebuild with -Wl,-z,noexecstack (or clear the flag: patchelf --clear-execstack FILE)"})
	}
	if ft.TextRel {
		add(Finding{Code: CodeTextRel, Severity: SeverityCaveat,
			Message: "text relocations (DT_TEXTREL): the loader writes into code pages, which must then be writable and executable",
			Fix:     "rebuild every object with -fPIC (-fPIE for executables)"})
	}
	if ft.StaticTLS && b.Kind == KindSharedLibrary {
		add(Finding{Code: CodeStaticTLS, Severity: SeverityInfo,
			Message: "uses the initial-exec TLS model (DF_STATIC_TLS): fine when loaded at start-up, dlopen may fail with 'cannot allocate memory in static TLS block'",
			Fix:     "load it at start-up (link against it) rather than with dlopen, or rebuild with -ftls-model=global-dynamic"})
	}
	if b.Kind == KindExecutable && !b.PIE {
		add(Finding{Code: CodeNonPIE, Severity: SeverityInfo,
			Message: "not position independent (ET_EXEC): loaded at its link-time address; works in sim mode, but the enclave range must cover that address (fixed layout, no ASLR), which hw mode will have to arrange",
			Fix:     "rebuild with -fPIE -pie"})
	}
	if b.Go != nil {
		cgo := "without cgo"
		if b.Go.CGO {
			cgo = "with cgo"
		}
		add(Finding{Code: CodeGo, Severity: SeverityInfo,
			Message: fmt.Sprintf("Go program (%s, %s): the Go runtime makes raw system calls, all of which Syscall User Dispatch intercepts", b.Go.Version, cgo)})
	}
	if b.Kind == KindExecutable && b.Interpreter == "" {
		add(Finding{Code: CodeStatic, Severity: SeverityInfo,
			Message: fmt.Sprintf("statically linked (%s, libc %s): no loader or libraries needed, every system call is intercepted by Syscall User Dispatch", b.Linking, b.Libc.Flavour)})
	}
	if ft.RawSyscalls > 0 && b.Kind == KindExecutable {
		add(Finding{Code: CodeRawSyscalls, Severity: SeverityInfo,
			Message: fmt.Sprintf("%d syscall instruction(s) (bytes 0F 05) in executable code: intercepted by Syscall User Dispatch, no action needed", ft.RawSyscalls)})
	}
	if b.Interpreter != "" && !knownInterpreter(b.Interpreter) {
		add(Finding{Code: CodeUnknownInterp, Severity: SeverityInfo,
			Message: fmt.Sprintf("unusual interpreter %s (neither glibc's ld-linux-x86-64.so.2 nor musl's ld-musl-x86_64.so.1): its library search rules are assumed to be glibc's", b.Interpreter)})
	}
	sortFindings(out)
	return out
}

// notExecutable is an info finding for object files, debug information and
// core files in the image, and unsupported for an entrypoint.
func notExecutable(b *Binary, sev Severity) Finding {
	return Finding{Code: CodeNotExecutable, Severity: sev, Path: b.Path,
		Message: fmt.Sprintf("ELF %s file, not an executable or shared library: it cannot be run", b.Kind),
		Fix:     "point the entrypoint at a linked program"}
}

func knownInterpreter(p string) bool {
	base := p[strings.LastIndexByte(p, '/')+1:]
	return base == "ld-linux-x86-64.so.2" || base == "ld-musl-x86_64.so.1"
}

func malformedFinding(err error) Finding {
	return Finding{Code: CodeMalformed, Severity: SeverityUnsupported,
		Message: err.Error(),
		Fix:     "the file is corrupt or not a Linux ELF file; rebuild it, or remove it from the image"}
}

// sortFindings orders findings by severity (worst first), code, path.
func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity.rank() != b.Severity.rank() {
			return a.Severity.rank() > b.Severity.rank()
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
}
