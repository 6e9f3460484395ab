package link

import (
	"debug/buildinfo"
	"debug/elf"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/ianlancetaylor/demangle"
)

// Risky functions, by feature. Names are matched on imports (undefined
// dynamic symbols) and, for static binaries with a symbol table, on defined
// functions.
var (
	forkSyms   = []string{"fork", "vfork", "_Fork", "__fork", "__vfork"}
	cloneSyms  = []string{"clone", "clone3", "__clone", "__clone3"}
	spawnSyms  = []string{"posix_spawn", "posix_spawnp", "system", "popen", "pidfd_spawn", "pidfd_spawnp", "syscall.forkExec"}
	execSyms   = []string{"execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle", "fexecve", "execveat", "syscall.Exec"}
	dlopenSyms = []string{"dlopen", "dlmopen"}
)

// AnalyzeFile analyses one ELF file read from r (size bytes). The result has
// no Path, LoadPlan or Missing: those need the image (see Analyze).
//
// It returns ErrNotELF (wrapped) when r is not an ELF file and a
// *FormatError for a malformed one. For a well-formed ELF file of another
// class or machine it returns the partial Binary (class, machine, kind,
// verdict unsupported) together with an *UnsupportedError.
func AnalyzeFile(r io.ReaderAt, size int64) (*Binary, error) {
	id, err := readIdent(r, size)
	if err != nil {
		return nil, err
	}
	b := &Binary{Size: size, Class: className(id.class), Machine: machineName(id.machine), Kind: kindOf(id.typ)}
	if err := id.checkSupported(); err != nil {
		b.Libc.Flavour = "unknown"
		b.Findings = objectFindings(b, err)
		b.Verdict = verdictOf(b.Findings)
		return b, err
	}
	f, err := parseELF(r, size)
	if err != nil {
		return nil, err
	}
	if f.debugInfoOnly() {
		b.Kind = KindDebugInfo
		b.Libc.Flavour = "unknown"
	} else if err := analyze(b, f, r); err != nil {
		return nil, err
	}
	b.Findings = objectFindings(b, nil)
	b.Verdict = verdictOf(b.Findings)
	return b, nil
}

func kindOf(t elf.Type) Kind {
	switch t {
	case elf.ET_EXEC:
		return KindExecutable
	case elf.ET_DYN:
		return KindSharedLibrary // refined by analyze
	case elf.ET_REL:
		return KindRelocatable
	case elf.ET_CORE:
		return KindCore
	}
	return KindOther
}

func splitPath(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ":") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func analyze(b *Binary, f *elfFile, r io.ReaderAt) error {
	if p := f.prog(elf.PT_INTERP); p != nil {
		buf, err := readAt(r, f.size, p.off, min(p.filesz, 4096), "interpreter path")
		if err != nil {
			return err
		}
		b.Interpreter = cstring(buf, 0)
		if b.Interpreter == "" {
			return formatErr(int64(p.off), "empty interpreter path")
		}
	}

	strs, err := f.dynStrtab()
	if err != nil {
		return err
	}
	var flags, flags1 uint64
	if f.dyn != nil {
		for _, v := range f.dynVals(elf.DT_NEEDED) {
			b.Needed = append(b.Needed, cstring(strs, v))
		}
		if v, ok := f.dynVal(elf.DT_SONAME); ok {
			b.SOName = cstring(strs, v)
		}
		if v, ok := f.dynVal(elf.DT_RPATH); ok {
			b.RPath = splitPath(cstring(strs, v))
		}
		if v, ok := f.dynVal(elf.DT_RUNPATH); ok {
			b.RunPath = splitPath(cstring(strs, v))
		}
		flags, _ = f.dynVal(elf.DT_FLAGS)
		flags1, _ = f.dynVal(elf.DT_FLAGS_1)
		_, textrel := f.dynVal(elf.DT_TEXTREL)
		b.Features.TextRel = textrel || flags&uint64(elf.DF_TEXTREL) != 0
		b.Features.StaticTLS = flags&uint64(elf.DF_STATIC_TLS) != 0
		b.NoDefaultLib = flags1&uint64(elf.DF_1_NODEFLIB) != 0
	}

	// Kind and linking.
	if elf.Type(f.typ) == elf.ET_DYN {
		pie := flags1&uint64(elf.DF_1_PIE) != 0
		if pie || (b.Interpreter != "" && b.SOName == "") {
			b.Kind = KindExecutable
			b.PIE = true
		}
	}
	if b.Kind == KindExecutable {
		switch {
		case b.Interpreter != "":
			b.Linking = LinkDynamic
		case b.PIE:
			b.Linking = LinkStaticPIE
		default:
			b.Linking = LinkStatic
		}
	} else if b.Kind == KindSharedLibrary {
		b.Linking = LinkDynamic
	}

	// Stack and TLS.
	if p := f.prog(elf.PT_GNU_STACK); p != nil {
		b.Features.ExecStack = p.flags&uint32(elf.PF_X) != 0
	} else if f.prog(elf.PT_LOAD) != nil && (b.Kind == KindExecutable || b.Kind == KindSharedLibrary) {
		b.Features.ExecStack = true
		b.Features.NoGNUStack = true
	}
	b.Features.TLS = f.prog(elf.PT_TLS) != nil

	// Imports with versions.
	glibcMax := ""
	if f.dyn != nil && strs != nil {
		syms, err := f.dynSyms(strs)
		if err != nil {
			return err
		}
		vers, err := f.versyms(uint64(len(syms)))
		if err != nil {
			return err
		}
		need, err := f.verneeds(strs)
		if err != nil {
			return err
		}
		for _, vn := range need {
			if v, ok := strings.CutPrefix(vn.name, "GLIBC_"); ok && versionLess(glibcMax, v) {
				glibcMax = v
			}
		}
		for i, s := range syms {
			if i == 0 || s.name == "" || s.shndx != uint16(elf.SHN_UNDEF) {
				continue
			}
			bind := elf.ST_BIND(s.info)
			if bind != elf.STB_GLOBAL && bind != elf.STB_WEAK {
				continue
			}
			sym := Symbol{Name: s.name, Weak: bind == elf.STB_WEAK}
			if i < len(vers) {
				if vn, ok := need[vers[i]&0x7fff]; ok && vers[i]&0x7fff >= 2 {
					sym.Version, sym.Library = vn.name, vn.file
				}
			}
			if strings.HasPrefix(s.name, "_Z") || strings.HasPrefix(s.name, "_R") {
				if d, err := demangle.ToString(s.name, demangle.MaxLength(14)); err == nil {
					sym.Demangled = d
				}
			}
			b.Imports = append(b.Imports, sym)
		}
		sort.Slice(b.Imports, func(i, j int) bool {
			if b.Imports[i].Name != b.Imports[j].Name {
				return b.Imports[i].Name < b.Imports[j].Name
			}
			return b.Imports[i].Version < b.Imports[j].Version
		})
		names := make(map[string]bool, len(b.Imports))
		for _, s := range b.Imports {
			names[s.Name] = true
		}
		addFeatures(&b.Features, names)
	}

	// Go build information.
	if f.section(".go.buildinfo") != nil || (len(f.sects) == 0 && b.Kind == KindExecutable) {
		if bi, err := buildinfo.Read(r); err == nil {
			g := &GoInfo{Version: bi.GoVersion, Path: bi.Path}
			for _, s := range bi.Settings {
				if s.Key == "CGO_ENABLED" {
					g.CGO = s.Value == "1"
				}
			}
			b.Go = g
		}
	}

	// Static binaries and Go: defined functions in the symbol table tell
	// which risky code is linked in, and which libc.
	var defined map[string]bool
	if (b.Kind == KindExecutable && b.Interpreter == "") || b.Go != nil {
		syms, err := f.staticSyms()
		if err != nil {
			return err
		}
		defined = make(map[string]bool)
		for _, s := range syms {
			if s.shndx == uint16(elf.SHN_UNDEF) || s.name == "" {
				continue
			}
			if t := elf.ST_TYPE(s.info); t != elf.STT_FUNC && t != elf.STT_GNU_IFUNC {
				continue
			}
			if b := elf.ST_BIND(s.info); b != elf.STB_GLOBAL && b != elf.STB_WEAK {
				continue
			}
			defined[s.name] = true
		}
		addFeatures(&b.Features, defined)
	}

	b.Libc = libcOf(b, f, glibcMax, defined)

	n, err := f.countSyscalls()
	if err != nil {
		return err
	}
	b.Features.RawSyscalls = n
	return nil
}

func addFeatures(ft *Features, names map[string]bool) {
	pick := func(dst *[]string, cands []string) {
		for _, c := range cands {
			if names[c] && !contains(*dst, c) {
				*dst = append(*dst, c)
			}
		}
		sort.Strings(*dst)
	}
	pick(&ft.Fork, forkSyms)
	pick(&ft.Clone, cloneSyms)
	pick(&ft.Spawn, spawnSyms)
	pick(&ft.Exec, execSyms)
	pick(&ft.Dlopen, dlopenSyms)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func libcOf(b *Binary, f *elfFile, glibcMax string, defined map[string]bool) Libc {
	musl := strings.Contains(b.Interpreter, "ld-musl-")
	glibc := strings.Contains(b.Interpreter, "ld-linux") || glibcMax != ""
	for _, n := range b.Needed {
		switch {
		case strings.HasPrefix(n, "libc.musl-") || n == "libc.so":
			musl = true
		case n == "libc.so.6":
			glibc = true
		}
	}
	switch b.SOName {
	case "libc.so.6", "ld-linux-x86-64.so.2":
		glibc = true
	case "libc.musl-x86_64.so.1", "libc.so":
		musl = true
	}
	if b.Kind == KindExecutable && b.Interpreter == "" && defined != nil {
		switch {
		case defined["__libc_start_call_main"] || defined["__libc_setup_tls"] && f.section(".note.ABI-tag") != nil:
			glibc = true
		case defined["__init_libc"] || defined["__libc_start_init"]:
			musl = true
		}
	}
	switch {
	case musl:
		return Libc{Flavour: "musl"}
	case glibc:
		return Libc{Flavour: "glibc", MinVersion: glibcMax}
	case b.Go != nil && !b.Go.CGO:
		return Libc{Flavour: "none"}
	case b.Kind == KindExecutable && b.Interpreter == "" && f.section(".note.ABI-tag") != nil:
		return Libc{Flavour: "glibc"}
	}
	return Libc{Flavour: "unknown"}
}

// versionLess compares dotted decimal versions ("2.17" < "2.34"); versions
// that are not all digits (GLIBC_PRIVATE) never win.
func versionLess(a, b string) bool {
	pb, okb := parseVersion(b)
	if !okb {
		return false
	}
	pa, oka := parseVersion(a)
	if !oka {
		return true
	}
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func parseVersion(s string) ([]int, bool) {
	if s == "" {
		return nil, false
	}
	var out []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}
