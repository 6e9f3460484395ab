package archcheck

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const root = ".." // runtime/

// objects returns the runtime's object files (runtime/build/obj), or skips.
func objects(t *testing.T) []string {
	t.Helper()
	var objs []string
	filepath.Walk(filepath.Join(root, "build", "obj"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".o") && !strings.Contains(p, "/src/host/") {
			objs = append(objs, p)
		}
		return nil
	})
	if len(objs) < 20 {
		t.Skipf("runtime objects not built (%d found in runtime/build/obj): run `make runtime` (make test does)", len(objs))
	}
	if _, err := exec.LookPath("nm"); err != nil {
		t.Skipf("nm not installed (binutils, from build-essential): %v", err)
	}
	sort.Strings(objs)
	return objs
}

// name is an object's source file, relative to runtime/.
func name(obj string) string {
	s := strings.TrimPrefix(filepath.ToSlash(obj), "../build/obj/")
	return strings.TrimSuffix(s, ".o")
}

// cycles returns the strongly connected components with more than one node
// (Tarjan), each sorted.
func cycles(g map[string]map[string]bool) [][]string {
	index, low := map[string]int{}, map[string]int{}
	on := map[string]bool{}
	var stack []string
	var out [][]string
	n := 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = n, n
		n++
		stack = append(stack, v)
		on[v] = true
		for w := range g[v] {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			if len(comp) > 1 {
				sort.Strings(comp)
				out = append(out, comp)
			}
		}
	}
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, v := range keys {
		if _, seen := index[v]; !seen {
			visit(v)
		}
	}
	return out
}

// TestNoCallCircles: file A calls a function of file B (an undefined symbol
// of A that B defines as text) gives the edge A -> B.
func TestNoCallCircles(t *testing.T) {
	objs := objects(t)
	// One nm for all objects (-A prefixes each line with its file): one
	// process per object took 37 s of the suite, ~90 ms each here.
	out, err := exec.Command("nm", append([]string{"-A"}, objs...)...).Output()
	if err != nil {
		t.Fatalf("nm -A on %d objects: %v", len(objs), err)
	}
	defines := map[string]string{} // function -> file
	undef := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		o, sym, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			t.Fatalf("nm -A: line without a file name: %q", sc.Text())
		}
		switch f := strings.Fields(sym); {
		case len(f) == 3 && (f[1] == "T" || f[1] == "W"):
			defines[f[2]] = name(o)
		case len(f) == 2 && f[0] == "U":
			undef[name(o)] = append(undef[name(o)], f[1])
		}
	}
	if len(defines) == 0 || len(undef) == 0 {
		t.Fatalf("nm -A on %d objects: %d functions defined, %d files with undefined symbols: not nm's output", len(objs), len(defines), len(undef))
	}
	g := map[string]map[string]bool{}
	for file, syms := range undef {
		for _, s := range syms {
			if to, ok := defines[s]; ok && to != file {
				if g[file] == nil {
					g[file] = map[string]bool{}
				}
				g[file][to] = true
			}
		}
	}
	for _, c := range cycles(g) {
		t.Errorf("call circle among %s", strings.Join(c, ", "))
	}
}

var includeRE = regexp.MustCompile(`^\s*#\s*include\s+"([^"]+)"`)

// TestNoIncludeCircles: header A includes header B gives the edge A -> B.
func TestNoIncludeCircles(t *testing.T) {
	headers := map[string]string{} // base name -> path
	for _, dir := range []string{"include", "lib", "src/core", "src/fs", "src/console", "src/transport"} {
		hs, _ := filepath.Glob(filepath.Join(root, dir, "*.h"))
		for _, h := range hs {
			headers[filepath.Base(h)] = h
		}
	}
	if len(headers) < 10 {
		t.Fatalf("found %d runtime headers", len(headers))
	}
	g := map[string]map[string]bool{}
	for base, p := range headers {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if m := includeRE.FindStringSubmatch(line); m != nil {
				inc := filepath.Base(m[1])
				if _, ok := headers[inc]; ok && inc != base {
					if g[base] == nil {
						g[base] = map[string]bool{}
					}
					g[base][inc] = true
				}
			}
		}
	}
	for _, c := range cycles(g) {
		t.Errorf("include circle among %s", strings.Join(c, ", "))
	}
}
