package link

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Fixtures are compiled once per test binary from testdata/link into a
// temporary directory; tests that need a missing compiler skip.

var (
	fixOnce sync.Once
	fixDir  string
	fixErr  = map[string]error{}
	fixMu   sync.Mutex
)

const srcDir = "../../testdata/link"

type fixture struct {
	name string
	tool string // "gcc", "g++", "musl-gcc", "go"
	args []string
	env  []string
	dir  string // for go builds
}

func fixtures() []fixture {
	c := func(f string) string { return filepath.Join(srcDir, "c", f) }
	return []fixture{
		{name: "hello-dyn", tool: "gcc", args: []string{"-O1", "-o", "hello-dyn", c("hello.c")}},
		{name: "hello-static", tool: "gcc", args: []string{"-O1", "-static", "-o", "hello-static", c("hello.c")}},
		{name: "hello-static-pie", tool: "gcc", args: []string{"-O1", "-static-pie", "-o", "hello-static-pie", c("hello.c")}},
		{name: "hello-nopie", tool: "gcc", args: []string{"-O1", "-fno-pie", "-no-pie", "-o", "hello-nopie", c("hello.c")}},
		{name: "hello-execstack", tool: "gcc", args: []string{"-O1", "-z", "execstack", "-o", "hello-execstack", c("hello.c")}},
		{name: "risky", tool: "gcc", args: []string{"-O1", "-o", "risky", c("risky.c")}},
		{name: "cxx", tool: "g++", args: []string{"-O1", "-o", "cxx", c("cxx.cc")}},
		{name: "libtextrel.so", tool: "gcc", args: []string{"-shared", "-fno-pic", "-mcmodel=large", "-Wl,-z,notext", "-o", "libtextrel.so", c("textrel.c")}},
		{name: "libtls.so", tool: "gcc", args: []string{"-shared", "-fPIC", "-o", "libtls.so", c("tls.c")}},
		{name: "libdep.so", tool: "gcc", args: []string{"-shared", "-fPIC", "-Wl,-soname,libdep.so", "-o", "libdep.so", c("libdep.c")}},
		{name: "liba.so", tool: "gcc", args: []string{"-shared", "-fPIC", "-Wl,-soname,liba.so", "-o", "liba.so", c("liba.c"), "-L.", "-ldep"}},
		{name: "usedep-plain", tool: "gcc", args: []string{"-o", "usedep-plain", c("usedep.c"), "-L.", "-ldep"}},
		{name: "usedep-rpath", tool: "gcc", args: []string{"-o", "usedep-rpath", c("usedep.c"), "-L.", "-ldep", "-Wl,--disable-new-dtags,-rpath,$ORIGIN/../dep"}},
		{name: "usedep-runpath", tool: "gcc", args: []string{"-o", "usedep-runpath", c("usedep.c"), "-L.", "-ldep", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../dep"}},
		{name: "usea-rpath", tool: "gcc", args: []string{"-o", "usea-rpath", c("usea.c"), "-L.", "-la", "-Wl,-rpath-link,.", "-Wl,--disable-new-dtags,-rpath,/opt/dep"}},
		{name: "usea-runpath", tool: "gcc", args: []string{"-o", "usea-runpath", c("usea.c"), "-L.", "-la", "-Wl,-rpath-link,.", "-Wl,--enable-new-dtags,-rpath,/opt/dep"}},
		{name: "musl-dyn", tool: "musl-gcc", args: []string{"-O1", "-o", "musl-dyn", c("hello.c")}},
		{name: "musl-static", tool: "musl-gcc", args: []string{"-O1", "-static", "-o", "musl-static", c("hello.c")}},
		{name: "go-static", tool: "go", dir: "go/static", env: []string{"CGO_ENABLED=0"}},
		{name: "go-cgo", tool: "go", dir: "go/cgo", env: []string{"CGO_ENABLED=1"}},
	}
}

func buildFixtures() {
	d, err := os.MkdirTemp("", "link-fixtures-")
	if err != nil {
		panic(err) // test set-up only
	}
	fixDir = d
	abs, _ := filepath.Abs(srcDir)
	for _, f := range fixtures() {
		tool, err := exec.LookPath(f.tool)
		if f.tool == "go" {
			tool, err = filepath.Join(runtime.GOROOT(), "bin", "go"), nil
		}
		if err != nil {
			fixErr[f.name] = fmt.Errorf("%s not installed: %w", f.tool, err)
			continue
		}
		args := f.args
		if f.tool == "go" {
			args = []string{"build", "-trimpath", "-o", filepath.Join(d, f.name), "."}
		}
		cmd := exec.Command(tool, args...)
		cmd.Dir = d
		if f.tool == "go" {
			cmd.Dir = filepath.Join(abs, f.dir)
		} else {
			for i, a := range cmd.Args {
				if strings.HasPrefix(a, srcDir) {
					cmd.Args[i] = filepath.Join(abs, strings.TrimPrefix(a, srcDir))
				}
			}
		}
		cmd.Env = append(os.Environ(), f.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			fixErr[f.name] = fmt.Errorf("build %s: %v: %s", f.name, err, out)
		}
	}
}

// fix returns the path of a compiled fixture, or skips the test.
func fix(t testing.TB, name string) string {
	t.Helper()
	fixOnce.Do(buildFixtures)
	fixMu.Lock()
	err := fixErr[name]
	fixMu.Unlock()
	if err != nil {
		if strings.Contains(err.Error(), "not installed") {
			t.Skipf("fixture %s: %v", name, err)
		}
		t.Fatalf("fixture %s: %v", name, err)
	}
	return filepath.Join(fixDir, name)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixDir != "" {
		os.RemoveAll(fixDir)
	}
	os.Exit(code)
}

func analyzePath(t testing.TB, p string) *Binary {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b, err := AnalyzeFile(f, st.Size())
	if err != nil {
		t.Fatalf("AnalyzeFile(%s): %v", p, err)
	}
	return b
}

// copyFile copies src to root/dst (dst an image path), creating parents.
func copyFile(t testing.TB, root, dst, src string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, dst, data, mode)
}

func writeFile(t testing.TB, root, dst string, data []byte, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, dst)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t testing.TB, root, link, target string) {
	t.Helper()
	p := filepath.Join(root, link)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func findingCodes(fs []Finding) map[string]Severity {
	m := map[string]Severity{}
	for _, f := range fs {
		if s, ok := m[f.Code]; !ok || f.Severity.rank() > s.rank() {
			m[f.Code] = f.Severity
		}
	}
	return m
}
