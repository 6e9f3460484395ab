package link

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
)

// Default library directories, searched last.
var (
	glibcDefaultDirs = []string{"/lib64", "/usr/lib64", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"}
	muslDefaultDirs  = []string{"/lib", "/usr/local/lib", "/usr/lib"}
)

const (
	ldCachePath  = "/etc/ld.so.cache"
	ldConfPath   = "/etc/ld.so.conf"
	muslPathFile = "/etc/ld-musl-x86_64.path"
	platform     = "x86_64"
	// maxClosure bounds the objects of one dependency closure.
	maxClosure = 4096
)

// image holds what is shared by all lookups in one image: the loader
// configuration and the memoised analyses.
type image struct {
	fsys          FS
	maxFileSize   int64
	imports       bool
	workdir       string
	ldLibraryPath []string
	libDir        string // $LIB
	cache         *LDCache
	confDirs      []string // used only when there is no usable cache
	muslDirs      []string

	mu    sync.Mutex
	objs  map[string]*object // by resolved fs name
	res   map[string]resolved
	byKey map[any]analysed // by content (hard links: contentKey)
}

// analysed is AnalyzeFile's result for a file's content, shared by its
// names (busybox's 400 applets are one file).
type analysed struct {
	b   *Binary // without Path; copied for each name
	err error
}

type resolved struct {
	name string
	err  error
}

// object is one analysed file; b and own are immutable once once has run.
type object struct {
	once sync.Once
	b    *Binary // nil if not an ELF file
	err  error   // why b is nil, or why b.Error is set
	own  []Finding
}

func newImage(fsys FS, o *options, e Entry) *image {
	im := &image{fsys: fsys, maxFileSize: o.maxFileSize, imports: o.imports, workdir: "/", objs: map[string]*object{}, res: map[string]resolved{}}
	if e.WorkingDir != "" {
		im.workdir = path.Clean("/" + e.WorkingDir)
	}
	if v, ok := lookupEnv(e.Env, "LD_LIBRARY_PATH"); ok {
		for _, d := range strings.FieldsFunc(v, func(r rune) bool { return r == ':' || r == ';' }) {
			im.ldLibraryPath = append(im.ldLibraryPath, im.abs(d))
		}
	}
	im.libDir = "lib64"
	if fi, err := im.stat("/lib/x86_64-linux-gnu"); err == nil && fi.IsDir() {
		im.libDir = "lib/x86_64-linux-gnu"
	}
	if real, err := im.resolve(ldCachePath); err == nil {
		if of, err := openResolved(fsys, real, maxLDCacheSize); err == nil {
			im.cache, _ = ParseLDCache(of.r, of.size)
			of.Close()
		}
	}
	if im.cache == nil {
		im.confDirs = parseLDConf(fsys, ldConfPath, 0, map[string]bool{})
	}
	im.muslDirs = muslDefaultDirs
	if real, err := im.resolve(muslPathFile); err == nil {
		if data, err := readSmallFile(fsys, real, 1<<20); err == nil {
			var dirs []string
			for _, d := range strings.FieldsFunc(string(data), func(r rune) bool { return r == ':' || r == '\n' }) {
				if d = strings.TrimSpace(d); d != "" {
					dirs = append(dirs, im.abs(d))
				}
			}
			im.muslDirs = dirs
		}
	}
	return im
}

func lookupEnv(env []string, key string) (string, bool) {
	v, ok := "", false
	for _, kv := range env {
		if k, val, found := strings.Cut(kv, "="); found && k == key {
			v, ok = val, true // last one wins, as in execve
		}
	}
	return v, ok
}

// abs makes p absolute against the working directory.
func (im *image) abs(p string) string {
	if strings.HasPrefix(p, "/") {
		return path.Clean(p)
	}
	return path.Join(im.workdir, p)
}

// resolve is a memoised resolvePath.
func (im *image) resolve(p string) (string, error) {
	p = im.abs(p)
	im.mu.Lock()
	r, ok := im.res[p]
	im.mu.Unlock()
	if ok {
		return r.name, r.err
	}
	name, err := resolvePath(im.fsys, p)
	im.mu.Lock()
	im.res[p] = resolved{name, err}
	im.mu.Unlock()
	return name, err
}

func (im *image) stat(p string) (fs.FileInfo, error) {
	real, err := im.resolve(p)
	if err != nil {
		return nil, err
	}
	return im.fsys.Lstat(real)
}

// load analyses the file with resolved fs name real, once.
func (im *image) load(real string) *object {
	im.mu.Lock()
	o, ok := im.objs[real]
	if !ok {
		o = &object{}
		im.objs[real] = o
	}
	im.mu.Unlock()
	o.once.Do(func() {
		o.b, o.err = im.analyzeFile(real)
		if o.b != nil && !im.imports {
			o.b.Imports = nil
		}
		if o.b != nil {
			o.own = append([]Finding(nil), o.b.Findings...)
		}
	})
	return o
}

// analyzeFile analyses one file of the image, once per content: the other
// names of a hard-linked file get a copy. It returns a nil Binary and
// ErrNotELF for files that are not ELF; malformed or unreadable ELF files
// give a Binary with Error set and verdict unsupported, and the error.
func (im *image) analyzeFile(real string) (*Binary, error) {
	p := toImagePath(real)
	of, err := openResolved(im.fsys, real, im.maxFileSize)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", p, err)
	}
	defer of.Close()
	if of.key != nil {
		im.mu.Lock()
		a, ok := im.byKey[of.key]
		im.mu.Unlock()
		if ok {
			return a.forName(p)
		}
	}
	b, err := AnalyzeFile(of.r, of.size)
	var ue *UnsupportedError
	switch {
	case err == nil, errors.As(err, &ue):
		im.remember(of.key, analysed{b: b})
		cp := *b
		cp.Path = p
		return &cp, nil
	case errors.Is(err, ErrNotELF):
		im.remember(of.key, analysed{err: err})
		return nil, err
	}
	err = fmt.Errorf("analyze %q: %w", p, err)
	f := malformedFinding(err)
	return &Binary{Path: p, Size: of.size, Class: "unknown", Machine: "unknown", Kind: KindOther,
		Libc: Libc{Flavour: "unknown"}, Verdict: Unsupported, Findings: []Finding{f}, Error: err.Error()}, err
}

func (im *image) remember(key any, a analysed) {
	if key == nil {
		return
	}
	im.mu.Lock()
	if im.byKey == nil {
		im.byKey = map[any]analysed{}
	}
	im.byKey[key] = a
	im.mu.Unlock()
}

func (a analysed) forName(p string) (*Binary, error) {
	if a.b == nil {
		return nil, a.err
	}
	cp := *a.b
	cp.Path = p
	return &cp, nil
}

// isX8664 reports whether b is a 64-bit x86-64 ELF (possibly malformed
// later on), the only kind the loader accepts as a library candidate.
func isX8664(b *Binary) bool {
	return b.Error != "" || (b.Class == "ELF64" && b.Machine == "x86-64")
}

// loaded is one object of a closure being built.
type loaded struct {
	names  []string
	path   string // image path as the loader found it
	real   string // fs name
	obj    *object
	parent *loaded
	lib    *Library
}

type closure struct {
	plan     *LoadPlan
	missing  []Library
	findings []Finding
}

func muslReserved(name string) bool {
	rest, ok := strings.CutPrefix(name, "lib")
	if !ok {
		return false
	}
	for _, r := range []string{"c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."} {
		if strings.HasPrefix(rest, r) {
			return true
		}
	}
	return false
}

// closure resolves the dependencies of the object at real (fs name) as the
// dynamic loader would, breadth first.
func (im *image) closure(root *object, real string, withInterp bool) closure {
	b := root.b
	musl := b.Libc.Flavour == "musl" || strings.Contains(b.Interpreter, "ld-musl-")
	c := closure{plan: &LoadPlan{Interception: "sud", Libraries: []Library{}}}
	rootL := &loaded{names: []string{b.SOName}, path: toImagePath(real), real: real, obj: root}
	all := []*loaded{rootL}
	var interp *loaded
	if withInterp && b.Interpreter != "" {
		ir, err := im.resolve(b.Interpreter)
		var io *object
		if err == nil {
			io = im.load(ir)
		}
		if err != nil || io.b == nil {
			msg := fmt.Sprintf("interpreter %s is not in the image", b.Interpreter)
			if err == nil {
				msg = fmt.Sprintf("interpreter %s is not an ELF file", b.Interpreter)
			}
			c.findings = append(c.findings, Finding{Code: CodeMissingInterp, Severity: SeverityUnsupported, Path: b.Path,
				Message: msg, Fix: "install the C library the program was built for (" + b.Libc.Flavour + ") in the image, or rebuild the program statically"})
		} else {
			c.plan.Interpreter = toImagePath(ir)
			interp = &loaded{names: []string{b.Interpreter, io.b.SOName, path.Base(b.Interpreter)}, path: b.Interpreter, real: ir, obj: io}
			all = append(all, interp)
		}
	}
	missing := map[string]*Library{}
	addNeededBy := func(l *Library, by string) {
		if !contains(l.NeededBy, by) {
			l.NeededBy = append(l.NeededBy, by)
		}
	}
	queue := []*loaded{rootL}
	for qi := 0; qi < len(queue) && len(all) < maxClosure; qi++ {
		obj := queue[qi]
		if obj.obj.b == nil || obj.obj.b.Error != "" {
			continue
		}
		for _, need := range obj.obj.b.Needed {
			if need == "" {
				continue
			}
			if l := matchLoaded(all, need); l != nil {
				if l.lib != nil {
					addNeededBy(l.lib, obj.path)
				}
				continue
			}
			if musl && muslReserved(need) && interp != nil {
				interp.names = append(interp.names, need)
				continue
			}
			p, r, o := im.search(need, obj, rootL, musl)
			if o == nil {
				m := missing[need]
				if m == nil {
					m = &Library{Name: need}
					missing[need] = m
				}
				addNeededBy(m, obj.path)
				continue
			}
			if l := loadedReal(all, r); l != nil {
				l.names = append(l.names, need)
				if l.lib != nil {
					addNeededBy(l.lib, obj.path)
				}
				continue
			}
			l := &loaded{names: []string{need, o.b.SOName, path.Base(p)}, path: p, real: r, obj: o, parent: obj,
				lib: &Library{Name: need, Path: p, NeededBy: []string{obj.path}}}
			all = append(all, l)
			queue = append(queue, l)
		}
	}
	for _, l := range all {
		if l.lib != nil {
			c.plan.Libraries = append(c.plan.Libraries, *l.lib)
		}
	}
	for _, m := range missing {
		c.missing = append(c.missing, *m)
	}
	sort.Slice(c.missing, func(i, j int) bool { return c.missing[i].Name < c.missing[j].Name })
	for _, m := range c.missing {
		c.findings = append(c.findings, Finding{Code: CodeMissingLibrary, Severity: SeverityUnsupported, Path: b.Path,
			Message: fmt.Sprintf("library %s (needed by %s) is not in the image", m.Name, strings.Join(m.NeededBy, ", ")),
			Fix:     "install the package that provides " + m.Name + " in the image, or fix RPATH/RUNPATH, LD_LIBRARY_PATH or /etc/ld.so.conf (then run ldconfig)",
			Details: m.NeededBy})
	}
	// Problems of the loaded objects (not the root's own findings).
	for _, l := range all[1:] {
		lb := l.obj.b
		if lb == nil {
			continue
		}
		if verdictOf(l.obj.own) == Unsupported {
			var why []string
			for _, f := range l.obj.own {
				if f.Severity == SeverityUnsupported {
					why = append(why, f.Message)
				}
			}
			c.findings = append(c.findings, Finding{Code: CodeLibraryUnsupp, Severity: SeverityUnsupported, Path: lb.Path,
				Message: fmt.Sprintf("library %s is unsupported: %s", lb.Path, strings.Join(why, "; ")),
				Fix:     "replace the library with a well-formed x86-64 build"})
			continue
		}
		for _, f := range l.obj.own {
			if f.Severity == SeverityCaveat {
				f.Path = lb.Path
				c.findings = append(c.findings, f)
			}
		}
	}
	return c
}

func matchLoaded(all []*loaded, name string) *loaded {
	for _, l := range all {
		for _, n := range l.names {
			if n == name {
				return l
			}
		}
	}
	return nil
}

func loadedReal(all []*loaded, real string) *loaded {
	for _, l := range all {
		if l.real == real {
			return l
		}
	}
	return nil
}

// expand substitutes $ORIGIN, $LIB and $PLATFORM (also in ${...} form).
func (im *image) expand(s, origin string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	r := strings.NewReplacer("${ORIGIN}", origin, "$ORIGIN", origin, "${LIB}", im.libDir, "$LIB", im.libDir,
		"${PLATFORM}", platform, "$PLATFORM", platform)
	return r.Replace(s)
}

// origin is the directory $ORIGIN stands for: the executable's real
// directory, a library's directory as found.
func origin(l *loaded) string {
	return path.Dir(l.path)
}

// search finds need for obj; it returns the path as found, the resolved fs
// name and the analysed object, or a nil object.
func (im *image) search(need string, obj, root *loaded, musl bool) (string, string, *object) {
	try := func(p string) (string, string, *object) {
		p = im.abs(p)
		r, err := im.resolve(p)
		if err != nil {
			return "", "", nil
		}
		o := im.load(r)
		if o.b == nil || !isX8664(o.b) {
			return "", "", nil
		}
		return p, r, o
	}
	inDirs := func(dirs []string, org string) (string, string, *object) {
		for _, d := range dirs {
			d = im.expand(d, org)
			if p, r, o := try(path.Join(im.abs(d), need)); o != nil {
				return p, r, o
			}
		}
		return "", "", nil
	}
	if strings.Contains(need, "/") {
		return try(im.expand(need, origin(obj)))
	}
	if musl {
		if p, r, o := inDirs(im.ldLibraryPath, ""); o != nil {
			return p, r, o
		}
		for l := obj; l != nil; l = l.parent {
			rp := l.obj.b.RunPath
			if rp == nil {
				rp = l.obj.b.RPath
			}
			if p, r, o := inDirs(rp, origin(l)); o != nil {
				return p, r, o
			}
		}
		return inDirs(im.muslDirs, "")
	}
	if obj.obj.b.RunPath == nil {
		didRoot := false
		for l := obj; l != nil; l = l.parent {
			if l.obj.b.RunPath != nil {
				continue // an object with RUNPATH contributes no RPATH
			}
			didRoot = didRoot || l == root
			if p, r, o := inDirs(l.obj.b.RPath, origin(l)); o != nil {
				return p, r, o
			}
		}
		if !didRoot && root.obj.b.RunPath == nil {
			if p, r, o := inDirs(root.obj.b.RPath, origin(root)); o != nil {
				return p, r, o
			}
		}
	}
	if p, r, o := inDirs(im.ldLibraryPath, ""); o != nil {
		return p, r, o
	}
	if p, r, o := inDirs(obj.obj.b.RunPath, origin(obj)); o != nil {
		return p, r, o
	}
	if obj.obj.b.NoDefaultLib {
		return "", "", nil
	}
	if im.cache != nil {
		if cp, ok := im.cache.Lookup(need); ok {
			if p, r, o := try(cp); o != nil {
				return p, r, o
			}
		}
	} else if p, r, o := inDirs(im.confDirs, ""); o != nil {
		return p, r, o
	}
	return inDirs(glibcDefaultDirs, "")
}
