package link

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

// mirror copies the host path p into root at the same path, recreating
// every symbolic link on the way (absolute targets stay absolute, so the
// analysis must resolve them against the image root).
func mirror(t testing.TB, root, p string) {
	t.Helper()
	mirrorN(t, root, p, 0)
}

func mirrorN(t testing.TB, root, p string, depth int) {
	if depth > 40 {
		t.Fatalf("mirror %s: symlink loop", p)
	}
	parts := strings.Split(strings.Trim(p, "/"), "/")
	cur := "/"
	for i, c := range parts {
		cur = path.Join(cur, c)
		fi, err := os.Lstat(cur)
		if err != nil {
			t.Fatalf("mirror %s: %v", p, err)
		}
		dst := filepath.Join(root, cur)
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(cur)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(dst); err != nil {
				symlink(t, root, cur, target)
			}
			abs := target
			if !strings.HasPrefix(target, "/") {
				abs = path.Join(path.Dir(cur), target)
			}
			rest := path.Join(append([]string{abs}, parts[i+1:]...)...)
			mirrorN(t, root, rest, depth+1)
			return
		}
		if fi.IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := os.Lstat(dst); err != nil {
			copyFile(t, root, cur, cur, fi.Mode().Perm())
		}
	}
}

// hostClosure analyses the host binary bin with the host root as the image
// and returns its load plan.
func hostClosure(t testing.TB, bin string) *LoadPlan {
	return hostBinary(t, bin).LoadPlan
}

func hostBinary(t testing.TB, bin string) *Binary {
	t.Helper()
	h, err := OpenDir("/")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	r, err := Analyze(context.Background(), h, Entry{Argv: []string{bin}}, WithScope(ScopeEntrypoint))
	if err != nil {
		t.Fatalf("analyse host %s: %v", bin, err)
	}
	if r.Entrypoint.LoadPlan == nil {
		t.Fatalf("host %s: no load plan", bin)
	}
	return r.Entrypoint
}

// mirrorWithClosure mirrors a host binary, its interpreter and libraries.
func mirrorWithClosure(t testing.TB, root, bin string) *LoadPlan {
	t.Helper()
	hb := hostBinary(t, bin)
	plan := hb.LoadPlan
	mirror(t, root, bin)
	mirror(t, root, hb.Interpreter)
	for _, l := range plan.Libraries {
		mirror(t, root, l.Path)
	}
	return plan
}

func needGlibcHost(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/ls"); err != nil {
		t.Skip("no /usr/bin/ls on this host")
	}
	b := analyzePath(t, "/usr/bin/ls")
	if b.Libc.Flavour != "glibc" {
		t.Skip("host /usr/bin/ls is not a glibc program")
	}
}

func analyzeDir(t testing.TB, root string, e Entry, opts ...Option) (*Report, error) {
	t.Helper()
	h, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	return Analyze(context.Background(), h, e, opts...)
}

func libNames(p *LoadPlan) []string {
	var out []string
	for _, l := range p.Libraries {
		out = append(out, l.Name)
	}
	sort.Strings(out)
	return out
}

// lddPaths runs ldd on a host binary: name -> path.
func lddPaths(t testing.TB, bin string) map[string]string {
	t.Helper()
	ldd, err := exec.LookPath("ldd")
	if err != nil {
		return nil
	}
	out, err := exec.Command(ldd, bin).Output()
	if err != nil {
		return nil
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/") {
			m[f[0]] = f[2]
		}
	}
	return m
}

// TestFakeRootLs assembles an image from the host's /usr/bin/ls, its
// libraries (with the host's symbolic links, e.g. merged /usr) and
// /etc/ld.so.cache, and checks the closure against ldd.
func TestFakeRootLs(t *testing.T) {
	needGlibcHost(t)
	root := t.TempDir()
	hostPlan := mirrorWithClosure(t, root, "/usr/bin/ls")
	hasCache := false
	if _, err := os.Stat(ldCachePath); err == nil {
		mirror(t, root, ldCachePath)
		hasCache = true
	}
	e := Entry{Argv: []string{"ls", "-l"}, Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}}
	r, err := analyzeDir(t, root, e)
	if err != nil {
		t.Fatal(err)
	}
	if r.Entrypoint == nil || r.Entrypoint.Path != "/usr/bin/ls" || r.Entry.Program != "/usr/bin/ls" {
		t.Fatalf("entrypoint %+v", r.Entry)
	}
	if r.Verdict == Unsupported || r.Err() != nil {
		t.Fatalf("verdict %s: %v (%+v)", r.Verdict, r.Err(), r.Findings)
	}
	plan := r.Entrypoint.LoadPlan
	if plan.Interception != "sud" || plan.Interpreter != hostPlan.Interpreter {
		t.Errorf("plan interpreter %q interception %q, host %q", plan.Interpreter, plan.Interception, hostPlan.Interpreter)
	}
	if !reflect.DeepEqual(libNames(plan), libNames(hostPlan)) || len(plan.Libraries) == 0 {
		t.Errorf("libraries %v, host %v", libNames(plan), libNames(hostPlan))
	}
	if ldd := lddPaths(t, "/usr/bin/ls"); ldd != nil && hasCache {
		got := map[string]string{}
		for _, l := range plan.Libraries {
			got[l.Name] = l.Path
		}
		if !reflect.DeepEqual(got, ldd) {
			t.Errorf("closure %v, ldd says %v", got, ldd)
		}
	}
	// Every ELF in the image is in Binaries, sorted.
	if len(r.Binaries) < 2+len(plan.Libraries) {
		t.Errorf("%d binaries", len(r.Binaries))
	}
	if !sort.SliceIsSorted(r.Binaries, func(i, j int) bool { return r.Binaries[i].Path < r.Binaries[j].Path }) {
		t.Error("binaries not sorted")
	}
	// JSON is stable and round-trips.
	j1, _ := json.Marshal(r)
	r2, err := analyzeDir(t, root, e, WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	j2, _ := json.Marshal(r2)
	if !bytes.Equal(j1, j2) {
		t.Error("report JSON differs between runs (workers 2 vs 1)")
	}
	if len(r.Entrypoint.Imports) == 0 {
		t.Error("no imports for ls")
	}
	r3, err := analyzeDir(t, root, e, WithImports(false), WithScope(ScopeEntrypoint))
	if err != nil || len(r3.Entrypoint.Imports) != 0 || r3.Verdict != r.Verdict || !reflect.DeepEqual(r3.Findings, r.Findings) {
		t.Errorf("WithImports(false): err %v, %d imports, verdict %s", err, len(r3.Entrypoint.Imports), r3.Verdict)
	}
	var back Report
	if err := json.Unmarshal(j1, &back); err != nil || back.Verdict != r.Verdict || back.Entrypoint.LoadPlan.Interpreter != plan.Interpreter {
		t.Errorf("round trip: %v", err)
	}

	t.Run("missing-library", func(t *testing.T) {
		victim := plan.Libraries[len(plan.Libraries)-1]
		real, err := filepath.EvalSymlinks(filepath.Join(root, victim.Path))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(real)
		os.Remove(real)
		defer os.WriteFile(real, data, 0o755)
		r, err := analyzeDir(t, root, e, WithScope(ScopeEntrypoint))
		if err != nil {
			t.Fatal(err)
		}
		var ie *IncompatibleError
		if r.Verdict != Unsupported || !errors.As(r.Err(), &ie) {
			t.Fatalf("verdict %s err %v", r.Verdict, r.Err())
		}
		if len(r.Entrypoint.Missing) != 1 || r.Entrypoint.Missing[0].Name != victim.Name ||
			!reflect.DeepEqual(r.Entrypoint.Missing[0].NeededBy, victim.NeededBy) {
			t.Errorf("missing %+v, want %s needed by %v", r.Entrypoint.Missing, victim.Name, victim.NeededBy)
		}
		if !strings.Contains(ie.Error(), victim.Name) {
			t.Errorf("error %q does not name %s", ie, victim.Name)
		}
	})
}

// glibcRoot mirrors the host C library (from hello-dyn's closure) into a new
// image root.
func glibcRoot(t *testing.T) string {
	needGlibcHost(t)
	root := t.TempDir()
	hb := hostBinary(t, "/usr/bin/ls")
	plan := hb.LoadPlan
	mirror(t, root, hb.Interpreter)
	for _, l := range plan.Libraries {
		if l.Name == "libc.so.6" {
			mirror(t, root, l.Path)
		}
	}
	return root
}

func TestLibrarySearch(t *testing.T) {
	libdep := fix(t, "libdep.so")
	liba := fix(t, "liba.so")
	type file struct{ dst, src string }
	tests := []struct {
		name    string
		files   []file
		extra   func(t *testing.T, root string)
		env     []string
		argv    string
		want    map[string]string // lib name -> path ("" = missing)
		verdict Verdict
	}{
		{name: "rpath-origin", argv: "/app/bin/usedep",
			files: []file{{"/app/bin/usedep", fix(t, "usedep-rpath")}, {"/app/dep/libdep.so", libdep}},
			want:  map[string]string{"libdep.so": "/app/dep/libdep.so"}},
		{name: "runpath-origin", argv: "/app/bin/usedep",
			files: []file{{"/app/bin/usedep", fix(t, "usedep-runpath")}, {"/app/dep/libdep.so", libdep}},
			want:  map[string]string{"libdep.so": "/app/dep/libdep.so"}},
		{name: "rpath-inherited", argv: "/usr/bin/usea",
			files: []file{{"/usr/bin/usea", fix(t, "usea-rpath")}, {"/usr/lib/liba.so", liba}, {"/opt/dep/libdep.so", libdep}},
			want:  map[string]string{"liba.so": "/usr/lib/liba.so", "libdep.so": "/opt/dep/libdep.so"}},
		{name: "runpath-not-inherited", argv: "/usr/bin/usea",
			files:   []file{{"/usr/bin/usea", fix(t, "usea-runpath")}, {"/usr/lib/liba.so", liba}, {"/opt/dep/libdep.so", libdep}},
			want:    map[string]string{"liba.so": "/usr/lib/liba.so", "libdep.so": ""},
			verdict: Unsupported},
		{name: "ld-library-path", argv: "/usr/bin/usedep", env: []string{"LD_LIBRARY_PATH=/opt/dep"},
			files: []file{{"/usr/bin/usedep", fix(t, "usedep-plain")}, {"/opt/dep/libdep.so", libdep}},
			want:  map[string]string{"libdep.so": "/opt/dep/libdep.so"}},
		{name: "no-path", argv: "/usr/bin/usedep",
			files:   []file{{"/usr/bin/usedep", fix(t, "usedep-plain")}, {"/opt/dep/libdep.so", libdep}},
			want:    map[string]string{"libdep.so": ""},
			verdict: Unsupported},
		{name: "default-dir", argv: "/usr/bin/usedep",
			files: []file{{"/usr/bin/usedep", fix(t, "usedep-plain")}, {"/usr/lib64/libdep.so", libdep}},
			want:  map[string]string{"libdep.so": "/usr/lib64/libdep.so"}},
		{name: "ld.so.conf-without-cache", argv: "/usr/bin/usedep",
			files: []file{{"/usr/bin/usedep", fix(t, "usedep-plain")}, {"/opt/dep/libdep.so", libdep}},
			extra: func(t *testing.T, root string) {
				os.Remove(filepath.Join(root, "etc/ld.so.cache"))
				writeFile(t, root, "/etc/ld.so.conf", []byte("# conf\ninclude ld.so.conf.d/*.conf\n"), 0o644)
				writeFile(t, root, "/etc/ld.so.conf.d/a.conf", []byte("/nonexistent\n/opt/dep  # trailing comment\n"), 0o644)
				writeFile(t, root, "/etc/ld.so.conf.d/b.conf.disabled", []byte("/wrong\n"), 0o644)
			},
			want: map[string]string{"libdep.so": "/opt/dep/libdep.so"}},
		{name: "ld.so.cache-wins", argv: "/usr/bin/usedep",
			files: []file{{"/usr/bin/usedep", fix(t, "usedep-plain")}, {"/opt/dep/libdep.so", libdep}, {"/opt/cached/libdep.so", libdep}},
			extra: func(t *testing.T, root string) {
				writeFile(t, root, "/etc/ld.so.conf", []byte("/opt/dep\n"), 0o644)
				host, err := os.ReadFile(filepath.Join(root, "etc/ld.so.cache"))
				if err != nil {
					t.Skip("host has no ld.so.cache")
				}
				c, err := ParseLDCache(bytes.NewReader(host), int64(len(host)))
				if err != nil {
					t.Fatal(err)
				}
				ents := append([]LDCacheEntry{{Name: "libdep.so", Path: "/opt/cached/libdep.so", Flags: ldCacheX8664}}, c.Entries...)
				writeFile(t, root, "/etc/ld.so.cache", makeLDCache(ents, false), 0o644)
			},
			want: map[string]string{"libdep.so": "/opt/cached/libdep.so"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := glibcRoot(t)
			if _, err := os.Stat(ldCachePath); err == nil {
				mirror(t, root, ldCachePath)
			}
			for _, f := range tc.files {
				copyFile(t, root, f.dst, f.src, 0o755)
			}
			if tc.extra != nil {
				tc.extra(t, root)
			}
			r, err := analyzeDir(t, root, Entry{Argv: []string{tc.argv}, Env: tc.env}, WithScope(ScopeEntrypoint))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, l := range r.Entrypoint.LoadPlan.Libraries {
				got[l.Name] = l.Path
			}
			for _, m := range r.Entrypoint.Missing {
				got[m.Name] = ""
			}
			// Compare real files: with a merged /usr, /lib/x is /usr/lib/x.
			real := func(p string) string {
				if p == "" {
					return ""
				}
				r, err := filepath.EvalSymlinks(filepath.Join(root, p))
				if err != nil {
					return "unresolvable " + p
				}
				return r
			}
			for name, want := range tc.want {
				if p, ok := got[name]; !ok || real(p) != real(want) {
					t.Errorf("%s: got %q (found %v), want %q", name, p, ok, want)
				}
			}
			want := tc.verdict
			if want == "" {
				want = Supported
			}
			if r.Verdict != want {
				t.Errorf("verdict %s, want %s (%+v)", r.Verdict, want, r.Findings)
			}
			if want == Unsupported && findingCodes(r.Findings)[CodeMissingLibrary] != SeverityUnsupported {
				t.Errorf("no missing-library finding: %+v", r.Findings)
			}
		})
	}
}

func TestMuslImage(t *testing.T) {
	dyn, static := fix(t, "musl-dyn"), fix(t, "musl-static")
	b := analyzePath(t, dyn)
	if _, err := os.Stat(b.Interpreter); err != nil {
		t.Skipf("musl loader %s not installed: %v", b.Interpreter, err)
	}
	root := t.TempDir()
	mirror(t, root, b.Interpreter)
	copyFile(t, root, "/usr/bin/hello", dyn, 0o755)
	copyFile(t, root, "/usr/bin/hello-static", static, 0o755)
	r, err := analyzeDir(t, root, Entry{Argv: []string{"hello"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Supported || r.Entrypoint.Libc.Flavour != "musl" {
		t.Fatalf("verdict %s libc %s findings %+v", r.Verdict, r.Entrypoint.Libc.Flavour, r.Findings)
	}
	real, _ := filepath.EvalSymlinks(b.Interpreter)
	if r.Entrypoint.LoadPlan.Interpreter != real || len(r.Entrypoint.LoadPlan.Libraries) != 0 || len(r.Entrypoint.Missing) != 0 {
		t.Errorf("plan %+v missing %+v (want interpreter %s and libc.so served by it)", r.Entrypoint.LoadPlan, r.Entrypoint.Missing, real)
	}
	r, err = analyzeDir(t, root, Entry{Argv: []string{"/usr/bin/hello-static"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Supported || r.Entrypoint.LoadPlan.Interpreter != "" || r.Entrypoint.Linking == LinkDynamic {
		t.Errorf("static musl: verdict %s plan %+v", r.Verdict, r.Entrypoint.LoadPlan)
	}
}

// genRoot is an image made only of generated ELF files (no host files).
func genRoot() fstest.MapFS {
	exe := func(s elfSpec) *fstest.MapFile {
		d, _ := genELF(s)
		return &fstest.MapFile{Data: d, Mode: 0o755}
	}
	ld := elfSpec{soname: "ld-linux-x86-64.so.2"}
	interp := "/lib64/ld-linux-x86-64.so.2"
	link := func(target string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
	}
	return fstest.MapFS{
		"lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": exe(ld),
		"lib64/ld-linux-x86-64.so.2":                link("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
		"lib/x86_64-linux-gnu/libc.so.6":            exe(elfSpec{soname: "libc.so.6", needed: []string{"ld-linux-x86-64.so.2"}}),
		"usr/bin/app":                               exe(elfSpec{interp: interp, needed: []string{"libx.so", "libc.so.6"}, flags1: uint64(elf.DF_1_PIE)}),
		"usr/bin/loop":                              exe(elfSpec{interp: interp, needed: []string{"libloop.so"}, flags1: uint64(elf.DF_1_PIE)}),
		"usr/bin/arm":                               exe(elfSpec{machine: elf.EM_AARCH64, typ: elf.ET_EXEC}),
		"usr/bin/static":                            exe(elfSpec{typ: elf.ET_EXEC}),
		"usr/bin/broken":                            {Data: corpus()["dynamic-no-null"], Mode: 0o755},
		"usr/bin/text":                              {Data: []byte("just text\n"), Mode: 0o755},
		"usr/bin/noexec":                            exe(elfSpec{typ: elf.ET_EXEC}),
		// Cyclic DT_NEEDED through symbolic links.
		"usr/lib/libx.so.1":   exe(elfSpec{soname: "libx.so.1", needed: []string{"liby.so", "libc.so.6"}}),
		"usr/lib/libx.so":     link("libx.so.1"),
		"usr/lib/liby.so.1":   exe(elfSpec{soname: "liby.so.1", needed: []string{"libx.so"}}),
		"usr/lib/liby.so":     link("/usr/lib/liby.so.1"),
		"usr/lib/libloop.so":  link("libloop2.so"),
		"usr/lib/libloop2.so": link("../lib/libloop.so"),
		// Scripts.
		"entry.sh":              {Data: []byte("#!/bin/sh -e\nexec app\n"), Mode: 0o755},
		"entry.py":              {Data: []byte("#!/usr/bin/env -S python3 -u\nprint(1)\n"), Mode: 0o755},
		"nested.sh":             {Data: []byte("#!/entry.sh\n"), Mode: 0o755},
		"deep1":                 {Data: []byte("#!/deep2\n"), Mode: 0o755},
		"deep2":                 {Data: []byte("#!/deep3\n"), Mode: 0o755},
		"deep3":                 {Data: []byte("#!/deep4\n"), Mode: 0o755},
		"deep4":                 {Data: []byte("#!/deep5\n"), Mode: 0o755},
		"deep5":                 {Data: []byte("#!/deep1\n"), Mode: 0o755},
		"bin":                   link("usr/bin"),
		"usr/bin/sh":            exe(elfSpec{interp: interp, needed: []string{"libc.so.6"}, flags1: uint64(elf.DF_1_PIE)}),
		"usr/bin/env":           exe(elfSpec{interp: interp, needed: []string{"libc.so.6"}, flags1: uint64(elf.DF_1_PIE)}),
		"usr/local/bin/python3": exe(elfSpec{interp: interp, needed: []string{"libc.so.6"}, flags1: uint64(elf.DF_1_PIE)}),
		"etc/passwd":            {Data: []byte("root:x:0:0::/root:/bin/sh\n"), Mode: 0o644},
	}
}

func TestEntrypoint(t *testing.T) {
	m := genRoot()
	m["usr/bin/noexec"].Mode = 0o644
	tests := []struct {
		name    string
		e       Entry
		program string
		scripts int
		verdict Verdict
		codes   map[string]Severity
		err     error
		errType any
	}{
		{name: "path-lookup", e: Entry{Argv: []string{"app"}, Env: []string{"PATH=/nope:/bin"}}, program: "/usr/bin/app", verdict: Supported},
		{name: "default-path", e: Entry{Argv: []string{"app"}}, program: "/usr/bin/app", verdict: Supported},
		{name: "relative-workdir", e: Entry{Argv: []string{"./app"}, WorkingDir: "/usr/bin"}, program: "/usr/bin/app", verdict: Supported},
		{name: "cyclic-needed", e: Entry{Argv: []string{"/bin/app"}}, program: "/usr/bin/app", verdict: Supported},
		{name: "symlink-loop", e: Entry{Argv: []string{"loop"}}, program: "/usr/bin/loop", verdict: Unsupported,
			codes: map[string]Severity{CodeMissingLibrary: SeverityUnsupported}},
		{name: "shell-script", e: Entry{Argv: []string{"/entry.sh", "x"}}, program: "/usr/bin/sh", scripts: 1, verdict: Supported,
			codes: map[string]Severity{CodeScript: SeverityInfo}},
		{name: "nested-script", e: Entry{Argv: []string{"/nested.sh"}}, program: "/usr/bin/sh", scripts: 2, verdict: Supported},
		{name: "env-script", e: Entry{Argv: []string{"/entry.py"}, Env: []string{"PATH=/usr/local/bin:/usr/bin"}}, program: "/usr/local/bin/python3", scripts: 1, verdict: Supported},
		{name: "shell-form", e: Entry{Argv: []string{"/bin/sh", "-c", "app --flag"}}, program: "/usr/bin/sh", verdict: Supported,
			codes: map[string]Severity{CodeShellForm: SeverityInfo}},
		{name: "shell-form-exec", e: Entry{Argv: []string{"/bin/sh", "-c", "exec app --flag"}}, program: "/usr/bin/sh", verdict: Supported,
			codes: map[string]Severity{CodeShellForm: SeverityInfo}},
		{name: "aarch64", e: Entry{Argv: []string{"arm"}}, program: "/usr/bin/arm", verdict: Unsupported,
			codes: map[string]Severity{CodeMachine: SeverityUnsupported}},
		{name: "static", e: Entry{Argv: []string{"static"}}, program: "/usr/bin/static", verdict: Supported,
			codes: map[string]Severity{CodeStatic: SeverityInfo}},
		{name: "no-argv", e: Entry{}, err: ErrNoEntrypoint},
		{name: "not-found", e: Entry{Argv: []string{"nothere"}}, err: ErrEntrypointNotFound},
		{name: "not-executable", e: Entry{Argv: []string{"noexec"}}, err: ErrEntrypointNotFound},
		{name: "text", e: Entry{Argv: []string{"text"}}, err: ErrNotELF},
		{name: "too-deep", e: Entry{Argv: []string{"/deep1"}}, err: ErrNotELF},
		{name: "malformed", e: Entry{Argv: []string{"broken"}}, errType: new(*FormatError)},
		{name: "escape", e: Entry{Argv: []string{"/../../../../usr/bin/app"}}, program: "/usr/bin/app", verdict: Supported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Analyze(context.Background(), m, tc.e, WithScope(ScopeEntrypoint))
			if tc.err != nil || tc.errType != nil {
				if tc.err != nil && !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if tc.errType != nil && !errors.As(err, tc.errType) {
					t.Fatalf("err = %v (%T), want %T", err, err, tc.errType)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Entry.Program != tc.program || len(r.Entry.Scripts) != tc.scripts {
				t.Errorf("program %s scripts %+v", r.Entry.Program, r.Entry.Scripts)
			}
			if r.Verdict != tc.verdict {
				t.Errorf("verdict %s, want %s: %+v", r.Verdict, tc.verdict, r.Findings)
			}
			got := findingCodes(r.Findings)
			for c, s := range tc.codes {
				if got[c] != s {
					t.Errorf("finding %s = %q, want %q", c, got[c], s)
				}
			}
			if (r.Verdict == Unsupported) != (r.Err() != nil) {
				t.Errorf("Err() = %v for verdict %s", r.Err(), r.Verdict)
			}
		})
	}
}

func TestCyclicClosure(t *testing.T) {
	r, err := Analyze(context.Background(), genRoot(), Entry{Argv: []string{"app"}}, WithScope(ScopeEntrypoint))
	if err != nil {
		t.Fatal(err)
	}
	p := r.Entrypoint.LoadPlan
	want := []string{"/usr/lib/libx.so", "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/liby.so"}
	var got []string
	for _, l := range p.Libraries {
		got = append(got, l.Path)
	}
	if !reflect.DeepEqual(got, want) || p.Interpreter != "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" {
		t.Errorf("plan %v interp %s, want %v (breadth first, each once)", got, p.Interpreter, want)
	}
	if nb := p.Libraries[0].NeededBy; !reflect.DeepEqual(nb, []string{"/usr/bin/app", "/usr/lib/liby.so"}) {
		t.Errorf("libx needed by %v", nb)
	}
}

func TestScopeImage(t *testing.T) {
	m := genRoot()
	r, err := Analyze(context.Background(), m, Entry{Argv: []string{"app"}}, WithWorkers(3))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]*Binary{}
	for _, b := range r.Binaries {
		by[b.Path] = b
	}
	for p, v := range map[string]Verdict{
		"/usr/bin/app":                    Supported,
		"/usr/bin/arm":                    Unsupported,
		"/usr/bin/broken":                 Unsupported,
		"/usr/bin/loop":                   Unsupported,
		"/usr/lib/libx.so.1":              Supported,
		"/lib/x86_64-linux-gnu/libc.so.6": Supported,
	} {
		if by[p] == nil || by[p].Verdict != v {
			t.Errorf("%s: %+v, want verdict %s", p, by[p], v)
		}
	}
	if by["/usr/bin/broken"] != nil && by["/usr/bin/broken"].Error == "" {
		t.Error("malformed file has no error")
	}
	if by["/usr/bin/text"] != nil || by["/entry.sh"] != nil {
		t.Error("non-ELF files listed")
	}
	if r.Verdict != Supported || r.Entrypoint != by["/usr/bin/app"] {
		t.Errorf("entrypoint verdict %s", r.Verdict)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Analyze(ctx, m, Entry{Argv: []string{"app"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestOptions(t *testing.T) {
	m := genRoot()
	for _, o := range []Option{WithWorkers(0), WithScope(Scope(7)), WithMaxFileSize(1)} {
		if _, err := Analyze(context.Background(), m, Entry{Argv: []string{"app"}}, o); err == nil || !strings.Contains(err.Error(), "invalid option") {
			t.Errorf("err = %v, want invalid option", err)
		}
	}
	if _, err := Analyze(context.Background(), nil, Entry{Argv: []string{"app"}}); err == nil {
		t.Error("nil FS accepted")
	}

}

func TestResolvePath(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/passwd", []byte("x"), 0o644)
	writeFile(t, root, "usr/lib/x86_64-linux-gnu/libc.so.6", []byte("x"), 0o644)
	symlink(t, root, "lib", "usr/lib")
	symlink(t, root, "lib64/ld.so", "/lib/x86_64-linux-gnu/libc.so.6")
	symlink(t, root, "escape", "../../../../../../etc/passwd")
	symlink(t, root, "abs-escape", "/../../etc/passwd")
	symlink(t, root, "loop1", "loop2")
	symlink(t, root, "loop2", "loop1")
	symlink(t, root, "dangling", "/nowhere")
	h, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"/lib64/ld.so", "usr/lib/x86_64-linux-gnu/libc.so.6", nil},
		{"lib/x86_64-linux-gnu/../x86_64-linux-gnu/libc.so.6", "usr/lib/x86_64-linux-gnu/libc.so.6", nil},
		{"/escape", "etc/passwd", nil},
		{"/abs-escape", "etc/passwd", nil},
		{"/../../etc/passwd", "etc/passwd", nil},
		{"/", ".", nil},
		{"/loop1", "", errLoop},
		{"/dangling", "", fs.ErrNotExist},
		{"/etc/passwd/x", "", nil},
	} {
		got, err := resolvePath(h, tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s: resolved to %q, want an error", tc.in, got)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("%s: %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("%s: err %v, want %v", tc.in, err, tc.err)
		}
	}
	// The host file behind the root is never reached.
	if _, err := h.Open("../" + filepath.Base(root)); err == nil {
		t.Error("HostDir opened a path outside the root")
	}
}

// makeLDCache writes a cache in the glibc format, with an old-format
// section first when old is set.
func makeLDCache(ents []LDCacheEntry, old bool) []byte {
	le := binary.LittleEndian
	var strs bytes.Buffer
	type off struct{ k, v uint32 }
	base := ldCacheNewHeader + len(ents)*ldCacheNewEntry
	offs := make([]off, len(ents))
	for i, e := range ents {
		offs[i].k = uint32(base + strs.Len())
		strs.WriteString(e.Name + "\x00")
		offs[i].v = uint32(base + strs.Len())
		strs.WriteString(e.Path + "\x00")
	}
	nw := make([]byte, base)
	copy(nw, ldCacheNewMagic)
	le.PutUint32(nw[20:], uint32(len(ents)))
	le.PutUint32(nw[24:], uint32(strs.Len()))
	for i, e := range ents {
		b := nw[ldCacheNewHeader+i*ldCacheNewEntry:]
		le.PutUint32(b[0:], uint32(e.Flags))
		le.PutUint32(b[4:], offs[i].k)
		le.PutUint32(b[8:], offs[i].v)
		le.PutUint64(b[16:], e.HWCap)
	}
	nw = append(nw, strs.Bytes()...)
	if !old {
		return nw
	}
	oh := make([]byte, ldCacheOldHeader+len(ents)*ldCacheOldEntry)
	copy(oh, ldCacheOldMagic)
	le.PutUint32(oh[12:], uint32(len(ents)))
	for len(oh)%8 != 0 {
		oh = append(oh, 0)
	}
	return append(oh, nw...)
}

func TestLDCache(t *testing.T) {
	ents := []LDCacheEntry{
		{Name: "libz.so.1", Path: "/usr/lib/glibc-hwcaps/x86-64-v3/libz.so.1", Flags: ldCacheX8664, HWCap: 1<<62 | 2},
		{Name: "libz.so.1", Path: "/lib/x86_64-linux-gnu/libz.so.1", Flags: ldCacheX8664},
		{Name: "libz.so.1", Path: "/lib32/libz.so.1", Flags: 0x0003},
		{Name: "libfoo.so", Path: "/usr/lib/i386/libfoo.so", Flags: 0x0803},
	}
	for _, old := range []bool{false, true} {
		data := makeLDCache(ents, old)
		c, err := ParseLDCache(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("old=%v: %v", old, err)
		}
		if len(c.Entries) != len(ents) {
			t.Errorf("old=%v: %d entries", old, len(c.Entries))
		}
		if p, ok := c.Lookup("libz.so.1"); !ok || p != "/lib/x86_64-linux-gnu/libz.so.1" {
			t.Errorf("old=%v: libz -> %q %v", old, p, ok)
		}
		if p, ok := c.Lookup("libfoo.so"); ok {
			t.Errorf("old=%v: non-x86-64 entry used: %s", old, p)
		}
	}
	good := makeLDCache(ents, false)
	bad := map[string][]byte{
		"empty":      {},
		"magic":      []byte("not a cache at all, sorry, no............................................"),
		"truncated":  good[:30],
		"nlibs-huge": func() []byte { b := bytes.Clone(good); binary.LittleEndian.PutUint32(b[20:], 1<<30); return b }(),
		"key-range": func() []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint32(b[ldCacheNewHeader+4:], 1<<30)
			return b
		}(),
		"unterminated": func() []byte {
			b := bytes.Clone(good)
			return b[:len(b)-1]
		}(),
		"old-only": func() []byte {
			b := make([]byte, 16)
			copy(b, ldCacheOldMagic)
			return b
		}(),
	}
	for name, data := range bad {
		_, err := ParseLDCache(bytes.NewReader(data), int64(len(data)))
		var ce *CacheFormatError
		if !errors.As(err, &ce) {
			t.Errorf("%s: err = %v, want *CacheFormatError", name, err)
		}
	}
}

// TestHostLDCache compares the host cache with ldconfig -p.
func TestHostLDCache(t *testing.T) {
	data, err := os.ReadFile(ldCachePath)
	if err != nil {
		t.Skip("no /etc/ld.so.cache on this host")
	}
	c, err := ParseLDCache(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	ldconfig, err := exec.LookPath("ldconfig")
	if err != nil {
		if _, err2 := os.Stat("/sbin/ldconfig"); err2 != nil {
			t.Skip("ldconfig not installed")
		}
		ldconfig = "/sbin/ldconfig"
	}
	out, err := exec.Command(ldconfig, "-p").Output()
	if err != nil {
		t.Skipf("ldconfig -p: %v", err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		// "\tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6"
		name, rest, ok := strings.Cut(strings.TrimSpace(line), " (libc6,x86-64) => ")
		if !ok {
			continue
		}
		if _, dup := want[name]; !dup {
			want[name] = rest
		}
	}
	if len(want) == 0 {
		t.Skip("ldconfig -p lists no x86-64 libraries")
	}
	for name, p := range want {
		if got, ok := c.Lookup(name); !ok || got != p {
			t.Errorf("%s: %q, ldconfig says %q", name, got, p)
		}
	}
	t.Logf("%d cache entries, %d x86-64 names checked against ldconfig -p", len(c.Entries), len(want))
}

// sameFile is a ContentKeyer for fstest.MapFS files (their Sys).
type sameFile int

func (k sameFile) ContentKey() any { return k }

// TestHardLinksAnalysedOnce: names whose FileInfo says they share their
// content (ContentKeyer: rootfs's hard-link groups; a host inode) are
// analysed once, and each gets a copy with its own path and findings. To
// see that the second name is not read at all, its bytes here are another
// program's (an ARM one): with the same key it gets the first's analysis.
func TestHardLinksAnalysedOnce(t *testing.T) {
	m := genRoot()
	app := *m["usr/bin/app"]
	app.Sys = sameFile(1)
	m["usr/bin/app"] = &app
	m["usr/bin/app-link"] = &fstest.MapFile{Data: m["usr/bin/arm"].Data, Mode: 0o755, Sys: sameFile(1)}
	r, err := Analyze(context.Background(), m, Entry{Argv: []string{"app"}}, WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]*Binary{}
	for _, b := range r.Binaries {
		by[b.Path] = b
	}
	a, l := by["/usr/bin/app"], by["/usr/bin/app-link"]
	if a == nil || l == nil {
		t.Fatalf("binaries %v", r.Binaries)
	}
	if a == l || l.Machine != "x86-64" || l.Verdict != a.Verdict || !reflect.DeepEqual(l.Needed, a.Needed) {
		t.Errorf("the link's analysis is not the program's: %+v vs %+v", l, a)
	}
	if by["/usr/bin/arm"] == nil || by["/usr/bin/arm"].Machine == "x86-64" {
		t.Errorf("a file with the same bytes and no key took the cached analysis: %+v", by["/usr/bin/arm"])
	}
	if len(a.Findings) > 0 && len(l.Findings) > 0 && &a.Findings[0] == &l.Findings[0] {
		t.Error("the two names share one findings slice")
	}
}
