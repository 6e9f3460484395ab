package main

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// tree describes files: "d:" prefix directory, "l:TARGET" symlink, else contents.
func makeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(root, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		c := files[n]
		var err error
		switch {
		case c == "d:":
			err = os.MkdirAll(p, 0o755)
		case strings.HasPrefix(c, "l:"):
			err = os.Symlink(c[2:], p)
		case strings.HasPrefix(c, "h:"):
			err = os.Link(filepath.Join(root, c[2:]), p)
		default:
			err = os.WriteFile(p, []byte(c), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// tarList renders a tar stream as "name type [link]" lines, calling each
// check on every header.
func tarList(t *testing.T, r io.Reader, checks ...func(*tar.Header)) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, check := range checks {
			check(h)
		}
		s := h.Name + " " + string(h.Typeflag)
		if h.Linkname != "" {
			s += " " + h.Linkname
		}
		out = append(out, s)
	}
}

func TestDiffEntries(t *testing.T) {
	base := map[string]string{
		"etc/a": "1", "etc/b": "2", "etc/c": "3", "usr/lib/x/f": "x", "usr/lib/y": "y",
		"bin/sh": "l:busybox", "var/d": "d:",
	}
	tests := []struct {
		name string
		next map[string]string
		want []string
	}{
		{"unchanged", base, nil},
		{"changed file", with(base, "etc/b", "22"), []string{"etc/ 5", "etc/b 0"}},
		{"same size other bytes", with(base, "etc/b", "9"), []string{"etc/ 5", "etc/b 0"}},
		{"new nested file", with(base, "usr/share/doc/z", "z"), []string{"usr/ 5", "usr/share/ 5", "usr/share/doc/ 5", "usr/share/doc/z 0"}},
		{"deleted file", without(base, "etc/c"), []string{"etc/ 5", "etc/.wh.c 0"}},
		{"deleted dir", without(base, "usr/lib/x/f", "usr/lib/x"), []string{"usr/ 5", "usr/lib/ 5", "usr/lib/.wh.x 0"}},
		{"changed symlink", with(base, "bin/sh", "l:dash"), []string{"bin/ 5", "bin/sh 2 dash"}},
		{"dir replaced by file", with(without(base, "var/d"), "var/d", "f"), []string{"var/ 5", "var/d 0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b, n := filepath.Join(dir, "base"), filepath.Join(dir, "next")
			makeTree(t, b, base)
			makeTree(t, n, tc.next)
			entries, err := diffEntries(b, n)
			if err != nil {
				t.Fatal(err)
			}
			pr, pw := io.Pipe()
			go func() { pw.CloseWithError(writeTar(pw, entries, time.Unix(1, 0))) }()
			got := tarList(t, pr)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("layer = %q, want %q", got, tc.want)
			}
		})
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

func without(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for a, b := range m {
		out[a] = b
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

func TestTreeLayerOrderLinksAndTimes(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]string{"bin/busybox": "bb", "bin/sh": "h:bin/busybox", "bin/ls": "h:bin/busybox", "a.b": "x", "a/c": "y"})
	entries, err := treeEntries(root)
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Unix(1000, 0)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, entries, epoch)) }()
	got := tarList(t, pr, func(h *tar.Header) {
		if !h.ModTime.Equal(epoch) || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %v uname %q gname %q, want epoch and no names", h.Name, h.ModTime, h.Uname, h.Gname)
		}
	})
	want := []string{"a/ 5", "a/c 0", "a.b 0", "bin/ 5", "bin/busybox 0", "bin/ls 1 bin/busybox", "bin/sh 1 bin/busybox"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("layer = %q, want %q", got, want)
	}
}

// TestRunDeterministic builds the same image twice and compares the layouts.
func TestRunDeterministic(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	makeTree(t, root, map[string]string{"bin/busybox": "bb", "bin/sh": "l:busybox", "etc/passwd": "root:x:0:0::/root:/bin/sh\n"})
	next := filepath.Join(dir, "next")
	makeTree(t, next, map[string]string{"bin/busybox": "bb", "bin/sh": "l:busybox", "app/x": "x"})
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte(`{"Cmd":["sh"],"Env":["PATH=/bin"],"ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGQUIT"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var digests []string
	for i := 0; i < 2; i++ {
		out := filepath.Join(dir, "out"+string(rune('0'+i)))
		if err := run(out, cfg, "latest", "test", time.Unix(1700000000, 0), []string{"dir:" + root, "diff:" + root + ":" + next}); err != nil {
			t.Fatal(err)
		}
		m, img := readLayout(t, out)
		if len(m.Manifests) != 1 || m.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "latest" || m.Manifests[0].MediaType != "application/vnd.oci.image.manifest.v1+json" {
			t.Fatalf("index = %+v", m.Manifests)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 2 {
			t.Fatalf("%d layers, %v", len(layers), err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Config.StopSignal != "SIGQUIT" || cf.Created.Unix() != 1700000000 || len(cf.History) != 2 {
			t.Errorf("config = %+v", cf)
		}
		digests = append(digests, m.Manifests[0].Digest.String())
		// Change mtimes between runs: the result must not depend on them.
		now := time.Now()
		os.Chtimes(filepath.Join(root, "etc/passwd"), now, now)
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds differ: %s, %s", digests[0], digests[1])
	}
	// A base layer written once with -write-layer and reused as gz: gives the same image.
	gz := filepath.Join(dir, "base.tar.gz")
	if err := writeLayer(gz, "dir:"+root, time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out-gz")
	if err := run(out, cfg, "latest", "test", time.Unix(1700000000, 0), []string{"gz:" + gz, "diff:" + root + ":" + next}); err != nil {
		t.Fatal(err)
	}
	_, gzImg := readLayout(t, out)
	layers, err := gzImg.Layers()
	if err != nil {
		t.Fatal(err)
	}
	_, dirImg := readLayout(t, filepath.Join(dir, "out0"))
	img0, err := dirImg.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := layers[0].Digest()
	d0, _ := img0[0].Digest()
	if d0 != d1 {
		t.Errorf("gz: base layer %s, dir: base layer %s: want equal", d1, d0)
	}
}

// readLayout opens the OCI layout at dir: its index manifest and the image
// of the first entry.
func readLayout(t *testing.T, dir string) (*v1.IndexManifest, v1.Image) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) == 0 {
		t.Fatalf("%s: empty index", dir)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return m, img
}
