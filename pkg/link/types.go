package link

// Verdict says whether a binary can run in the enclave.
type Verdict string

const (
	// Supported: runs as is.
	Supported Verdict = "supported"
	// SupportedWithCaveats: runs, but some code paths behave differently
	// (see the findings of severity caveat).
	SupportedWithCaveats Verdict = "supported-with-caveats"
	// Unsupported: cannot run (see the findings of severity unsupported).
	Unsupported Verdict = "unsupported"
)

// Severity of a finding. A binary's verdict is its worst finding.
type Severity string

const (
	SeverityInfo        Severity = "info"
	SeverityCaveat      Severity = "caveat"
	SeverityUnsupported Severity = "unsupported"
)

func (s Severity) rank() int {
	switch s {
	case SeverityUnsupported:
		return 2
	case SeverityCaveat:
		return 1
	}
	return 0
}

func verdictOf(fs []Finding) Verdict {
	worst := 0
	for _, f := range fs {
		worst = max(worst, f.Severity.rank())
	}
	switch worst {
	case 2:
		return Unsupported
	case 1:
		return SupportedWithCaveats
	}
	return Supported
}

// Finding is one observation about a binary, with what to do about it.
// docs/compatibility.md lists every Code.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	// Path is the object the finding is about (a library of the closure,
	// for findings propagated to an executable).
	Path    string   `json:"path,omitempty"`
	Message string   `json:"message"`
	Fix     string   `json:"fix,omitempty"`
	Details []string `json:"details,omitempty"`
}

// Kind of ELF object.
type Kind string

const (
	KindExecutable    Kind = "executable"
	KindSharedLibrary Kind = "shared-library"
	KindRelocatable   Kind = "relocatable"
	KindCore          Kind = "core"
	// KindDebugInfo is a separate debug-information file (objcopy
	// --only-keep-debug): program headers without file contents.
	KindDebugInfo Kind = "debug-info"
	KindOther     Kind = "other"
)

// Linking of an executable.
type Linking string

const (
	LinkStatic    Linking = "static"
	LinkStaticPIE Linking = "static-pie"
	LinkDynamic   Linking = "dynamic"
)

// Libc describes the C library a binary was built against.
type Libc struct {
	// Flavour is "glibc", "musl", "none" (Go without cgo, or no libc at
	// all) or "unknown".
	Flavour string `json:"flavour"`
	// MinVersion is the highest GLIBC_2.x symbol version required (glibc
	// only), i.e. the oldest glibc the binary runs with.
	MinVersion string `json:"min_version,omitempty"`
}

// GoInfo is read from the Go build information.
type GoInfo struct {
	Version string `json:"version"`
	Path    string `json:"path,omitempty"`
	CGO     bool   `json:"cgo"`
}

// Symbol is an imported (undefined) dynamic symbol.
type Symbol struct {
	Name      string `json:"name"`
	Demangled string `json:"demangled,omitempty"`
	Version   string `json:"version,omitempty"`
	Library   string `json:"library,omitempty"`
	Weak      bool   `json:"weak,omitempty"`
}

// Features are the risky features found in one object. Symbol lists are
// sorted and name imports (dynamic objects) or, for static binaries with a
// symbol table, defined functions.
type Features struct {
	Fork   []string `json:"fork,omitempty"`   // fork, vfork, _Fork
	Clone  []string `json:"clone,omitempty"`  // clone, clone3 (threads or processes)
	Spawn  []string `json:"spawn,omitempty"`  // posix_spawn*, system, popen, Go syscall.forkExec
	Exec   []string `json:"exec,omitempty"`   // execve and friends
	Dlopen []string `json:"dlopen,omitempty"` // dlopen, dlmopen
	// RawSyscalls counts the bytes 0F 05 (syscall) in executable segments.
	RawSyscalls int `json:"raw_syscalls"`
	// ExecStack: PT_GNU_STACK has PF_X, or there is no PT_GNU_STACK (the
	// loader then assumes an executable stack); NoGNUStack tells which.
	ExecStack  bool `json:"exec_stack"`
	NoGNUStack bool `json:"no_gnu_stack,omitempty"`
	TextRel    bool `json:"textrel"`
	TLS        bool `json:"tls"`
	StaticTLS  bool `json:"static_tls"`
}

// Library is one entry of a dependency closure.
type Library struct {
	// Name as in DT_NEEDED.
	Name string `json:"name"`
	// Path inside the image where the loader finds it ("" if missing).
	Path string `json:"path,omitempty"`
	// NeededBy lists the objects (paths) whose DT_NEEDED names it.
	NeededBy []string `json:"needed_by"`
}

// LoadPlan is what the runtime loads for one executable; the pipeline
// records it in the enclave config.
type LoadPlan struct {
	// Interpreter is the dynamic loader's path inside the image, resolved
	// through symlinks ("" for static executables).
	Interpreter string `json:"interpreter,omitempty"`
	// Libraries in load order (breadth first, as ld.so loads them).
	Libraries []Library `json:"libraries"`
	// Interception is how system calls reach the runtime: "sud" (Syscall
	// User Dispatch).
	Interception string `json:"interception"`
}

// Binary is the analysis of one ELF file.
type Binary struct {
	// Path inside the image, absolute ("/usr/bin/ls"); empty for AnalyzeFile.
	Path        string   `json:"path,omitempty"`
	Size        int64    `json:"size"`
	Class       string   `json:"class"`
	Machine     string   `json:"machine"`
	Kind        Kind     `json:"kind"`
	Linking     Linking  `json:"linking,omitempty"`
	PIE         bool     `json:"pie"`
	Interpreter string   `json:"interpreter,omitempty"`
	SOName      string   `json:"soname,omitempty"`
	Needed      []string `json:"needed,omitempty"`
	RPath       []string `json:"rpath,omitempty"`
	RunPath     []string `json:"runpath,omitempty"`
	// NoDefaultLib is DF_1_NODEFLIB: the loader skips ld.so.cache and the
	// default directories for this object's dependencies.
	NoDefaultLib bool      `json:"nodeflib,omitempty"`
	Libc         Libc      `json:"libc"`
	Go           *GoInfo   `json:"go,omitempty"`
	Imports      []Symbol  `json:"imports,omitempty"`
	Features     Features  `json:"features"`
	LoadPlan     *LoadPlan `json:"load_plan,omitempty"`
	// Missing lists DT_NEEDED names of the closure not found in the image.
	Missing  []Library `json:"missing,omitempty"`
	Verdict  Verdict   `json:"verdict"`
	Findings []Finding `json:"findings"`
	// Error is set when the file could not be analysed (malformed ELF).
	Error string `json:"error,omitempty"`
	// SyscallRewrite: the system call sites the converter rewrote for the
	// runtime's fast path and those it left to the trap (pkg/rewrite); nil
	// when the file was not rewritten (libraries, --no-rewrite).
	SyscallRewrite *SyscallRewrite `json:"syscall_rewrite,omitempty"`
}

// SyscallRewrite counts a program's system call sites.
type SyscallRewrite struct {
	Rewritten int `json:"rewritten"`
	Left      int `json:"left"`
	// LeftBecause counts the sites left per reason.
	LeftBecause map[string]int `json:"left_because,omitempty"`
}

// Script is one "#!" step of the entrypoint.
type Script struct {
	Path        string   `json:"path"`
	Interpreter string   `json:"interpreter"`
	Args        []string `json:"args,omitempty"`
}

// EntryInfo is how the entrypoint was resolved.
type EntryInfo struct {
	Argv []string `json:"argv"`
	// Program is the ELF file that runs (after PATH lookup and "#!").
	Program string `json:"program"`
	// Scripts are the "#!" scripts between argv[0] and Program, outermost
	// first.
	Scripts []Script `json:"scripts,omitempty"`
}

// Report is the result of Analyze.
type Report struct {
	Entry      EntryInfo `json:"entry"`
	Entrypoint *Binary   `json:"entrypoint"`
	// Binaries is every ELF file analysed, sorted by path (the entrypoint
	// included).
	Binaries []*Binary `json:"binaries"`
	// Verdict and Findings are those of the entrypoint (including its
	// libraries and the entrypoint-level findings such as scripts).
	Verdict  Verdict   `json:"verdict"`
	Findings []Finding `json:"findings"`
}

// Err returns an *IncompatibleError when the entrypoint is unsupported and
// nil otherwise.
func (r *Report) Err() error {
	if r == nil || r.Verdict != Unsupported {
		return nil
	}
	e := &IncompatibleError{}
	if r.Entrypoint != nil {
		e.Path = r.Entrypoint.Path
	}
	for _, f := range r.Findings {
		if f.Severity == SeverityUnsupported {
			e.Reasons = append(e.Reasons, f)
		}
	}
	return e
}
