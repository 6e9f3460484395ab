package buildkit

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/scone-build/scone-build/internal/podmantest"
	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/frontend"
	"github.com/scone-build/scone-build/pkg/fskey"
)

const (
	labelMRENCLAVE = "io.scone.mrenclave"
	labelMRSIGNER  = "io.scone.mrsigner"
	greeting       = "hello from a Dockerfile converted by the scone-build frontend"
)

// env is everything one end-to-end run needs.
type env struct {
	t        *testing.T
	root     string // repository root
	work     string // scratch directory
	buildctl string
	addr     string
	sb       string // scone-build binary inside the frontend image
	realRT   bool   // sb embeds the real runtime (else a stand-in that cannot run)
	feDigest string
	baseDig  string
	ctxDir   string
	registry string   // localhost:PORT of the test registry
	signer   string   // signer key file
	fsKey    string   // FS key file
	fsKeyHex string   // the FS key (64 hex digits)
	mrsigner [32]byte // the signer's MRSIGNER, which the FS key file records
}

// TestFrontendEndToEnd builds a Dockerfile with `# syntax=scone-frontend`
// under a real buildkitd, with the frontend image and the base image taken
// from OCI layouts (no registry), and checks the converted image, BuildKit's
// caching of the conversion step, and that MRENCLAVE equals what
// `scone-build convert` gives for the same image and keys.
func TestFrontendEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the BuildKit end-to-end test in -short mode")
	}
	e := setup(t)
	start := time.Now()

	// 1. The plain Dockerfile (no syntax line) as an OCI layout, converted by
	// the CLI with the same keys and options. The frontend converts a
	// directory, whose FS salt comes from its tree: --fs-salt tree makes the
	// CLI salt the same way (by default it salts by the source layers, to
	// encrypt while they decompress; docs/fsprotect.md).
	plainDir := filepath.Join(e.work, "plain-oci")
	e.build("plain", "Dockerfile.plain", nil, "type=oci,dest="+plainDir+",tar=false")
	cliOut := filepath.Join(e.work, "cli-out")
	cli := e.cliConvert("oci:"+plainDir, "oci:"+cliOut, "--heap=128M", "--fs-salt=tree")
	t.Logf("scone-build convert of the plain build: mrenclave %s mrsigner %s", cli.MRENCLAVE, cli.MRSIGNER)

	// 2. The same Dockerfile through the frontend, exported as a docker archive.
	opts := []string{"--opt", "build-arg:SCONE_HEAP=128M"}
	arch1 := filepath.Join(e.work, "scone1.tar")
	prog1 := e.build("frontend", "Dockerfile", opts, "type=docker,name=localhost/scone-e2e:1,dest="+arch1)
	if st := stepStates(prog1, frontend.StepConvert); !contains(st, "DONE") {
		t.Errorf("first build: conversion step states %v, want it run (DONE)", st)
	}
	img1 := readArchive(t, arch1)
	cfg1 := checkConverted(t, img1)
	if got := cfg1.Config.Labels[labelMRENCLAVE]; got != cli.MRENCLAVE {
		t.Errorf("MRENCLAVE via the frontend %s != scone-build convert %s", got, cli.MRENCLAVE)
	} else {
		t.Logf("MRENCLAVE via the frontend equals scone-build convert: %s", got)
	}
	if got := cfg1.Config.Labels[labelMRSIGNER]; got != cli.MRSIGNER {
		t.Errorf("MRSIGNER via the frontend %s != scone-build convert %s", got, cli.MRSIGNER)
	}
	checkSecretsAbsent(t, e, arch1, prog1)
	if !strings.Contains(prog1, `"mrenclave": "`+cli.MRENCLAVE+`"`) {
		t.Errorf("the build log lacks the --json report with the MRENCLAVE (docs/frontend.md promises it)")
	}

	// 3. Podman loads and runs the result.
	t.Run("podman", func(t *testing.T) { e.podmanRun(t, arch1, cfg1) })

	// 4. Rebuilding the unchanged Dockerfile hits the cache: no re-encryption.
	arch2 := filepath.Join(e.work, "scone2.tar")
	prog2 := e.build("frontend, unchanged", "Dockerfile", opts, "type=docker,name=localhost/scone-e2e:2,dest="+arch2)
	if st := stepStates(prog2, frontend.StepConvert); !contains(st, "CACHED") || contains(st, "DONE") {
		t.Errorf("unchanged rebuild: conversion step states %v, want CACHED only\n%s", st, tail(prog2, 40))
	} else {
		t.Logf("unchanged rebuild: %q is %v", frontend.StepConvert, st)
	}
	if got := readArchive(t, arch2); mustConfig(t, got).Config.Labels[labelMRENCLAVE] != cfg1.Config.Labels[labelMRENCLAVE] {
		t.Errorf("unchanged rebuild changed MRENCLAVE")
	}

	// 4b. The same build, invoked as `--frontend gateway.v0 --opt source=...`
	// on the Dockerfile without a syntax line: same LLB, so a cache hit too.
	arch2b := filepath.Join(e.work, "scone2b.tar")
	prog2b := e.buildWith("gateway.v0", "Dockerfile.plain",
		append([]string{"--opt", "source=scone-frontend"}, opts...), "type=docker,name=localhost/scone-e2e:2b,dest="+arch2b, true)
	if st := stepStates(prog2b, frontend.StepConvert); !contains(st, "CACHED") || contains(st, "DONE") {
		t.Errorf("--frontend gateway.v0: conversion step states %v, want CACHED only\n%s", st, tail(prog2b, 40))
	}
	if got := mustConfig(t, readArchive(t, arch2b)).Config.Labels[labelMRENCLAVE]; got != cfg1.Config.Labels[labelMRENCLAVE] {
		t.Errorf("--frontend gateway.v0: MRENCLAVE %s, want %s", got, cfg1.Config.Labels[labelMRENCLAVE])
	}

	// 4b'. `# syntax=localhost:PORT/scone-frontend:e2e`: the frontend image
	// pushed by scripts/frontend-image.sh --push, pulled by BuildKit.
	df, err := os.ReadFile(filepath.Join(e.ctxDir, "Dockerfile.plain"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.ctxDir, "Dockerfile.registry"), append([]byte("# syntax="+e.registry+"/scone-frontend:e2e\n"), df...), 0o644); err != nil {
		t.Fatal(err)
	}
	arch2c := filepath.Join(e.work, "scone2c.tar")
	e.buildWith("dockerfile.v0", "Dockerfile.registry", opts, "type=docker,name=localhost/scone-e2e:2c,dest="+arch2c, true, "frontend from a registry")
	if got := mustConfig(t, readArchive(t, arch2c)).Config.Labels[labelMRENCLAVE]; got != cfg1.Config.Labels[labelMRENCLAVE] {
		t.Errorf("frontend from the registry: MRENCLAVE %s, want %s", got, cfg1.Config.Labels[labelMRENCLAVE])
	}

	// 4c. Without the secrets the build fails and says which secrets to give.
	out, err := e.buildctlRun("dockerfile.v0", "Dockerfile", opts, "type=docker,name=localhost/scone-e2e:x,dest="+filepath.Join(e.work, "x.tar"), false)
	if err == nil || !strings.Contains(out, "--secret id="+frontend.SignerSecretID) {
		t.Errorf("build without secrets: err %v, want a failure naming the secrets\n%s", err, tail(out, 20))
	}

	// 5. A changed file in the context reconverts.
	if err := os.WriteFile(filepath.Join(e.ctxDir, "greeting.txt"), []byte(greeting+", changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	arch3 := filepath.Join(e.work, "scone3.tar")
	prog3 := e.build("frontend, changed file", "Dockerfile", opts, "type=docker,name=localhost/scone-e2e:3,dest="+arch3)
	if st := stepStates(prog3, frontend.StepConvert); !contains(st, "DONE") || contains(st, "CACHED") {
		t.Errorf("changed context: conversion step states %v, want DONE", st)
	}
	img3 := readArchive(t, arch3)
	cfg3 := mustConfig(t, img3)
	if a, b := layerDigest(t, img1, 0), layerDigest(t, img3, 0); a != b {
		t.Errorf("runtime layer differs between conversions: %s vs %s (it should be shared)", a, b)
	} else {
		t.Logf("runtime layer shared by both conversions: %s", a)
	}
	if cfg3.Config.Labels[labelMRENCLAVE] == cfg1.Config.Labels[labelMRENCLAVE] {
		t.Errorf("changed context kept MRENCLAVE %s", cfg1.Config.Labels[labelMRENCLAVE])
	} else {
		t.Logf("changed context: reconverted, MRENCLAVE %s", cfg3.Config.Labels[labelMRENCLAVE])
	}

	// 6. A new FS key (same context) reconverts although secrets are not part
	// of BuildKit's cache keys: the key fingerprint is.
	k2, err := fskey.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&fskey.File{Key: k2, Identity: fskey.Identity{MRSIGNER: &e.mrsigner}}).Write(e.fsKey, true); err != nil {
		t.Fatal(err)
	}
	arch4 := filepath.Join(e.work, "scone4.tar")
	prog4 := e.build("frontend, new fs key", "Dockerfile", opts, "type=docker,name=localhost/scone-e2e:4,dest="+arch4)
	if st := stepStates(prog4, frontend.StepConvert); !contains(st, "DONE") || contains(st, "CACHED") {
		t.Errorf("new FS key: conversion step states %v, want DONE (a stale cache hit would reuse the old key)", st)
	} else {
		t.Logf("new FS key: reconverted (%q %v)", frontend.StepConvert, st)
	}
	t.Logf("builds took %v", time.Since(start).Round(time.Second))
}

func setup(t *testing.T) *env {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"runc", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/setup.sh installs runc): %v", tool, err)
		}
	}
	work, err := os.MkdirTemp("", "scone-bk-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	// buildkitd's root holds overlay mounts until the daemon stops: remove it
	// after stopping the daemon, best effort, and never fail the test on it.
	t.Cleanup(func() { _ = os.RemoveAll(work) })
	e := &env{t: t, root: root, work: work}

	t0 := time.Now()
	out, err := e.run(15*time.Minute, filepath.Join(root, "scripts/buildkit.sh"), "build")
	if err != nil {
		t.Skipf("cannot build buildkitd/buildctl v0.33.1 with scripts/buildkit.sh: %v\n%s", err, out)
	}
	bin := lastLine(out)
	e.buildctl = filepath.Join(bin, "buildctl")
	t.Logf("buildkitd/buildctl ready in %v (%s)", time.Since(t0).Round(time.Millisecond), bin)

	// A local registry (go-containerregistry's) for the `# syntax=REGISTRY/...` form.
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	e.registry = "localhost:" + reg.URL[strings.LastIndex(reg.URL, ":")+1:]
	t.Setenv("BUILDKIT_REGISTRY_HTTP", e.registry) // read by scripts/buildkit.sh start

	e.tools()
	e.layouts()
	e.keys()
	e.context()

	bk := filepath.Join(work, "bk")
	out, err = e.run(time.Minute, filepath.Join(root, "scripts/buildkit.sh"), "start", bk)
	if err != nil {
		t.Skipf("cannot start buildkitd (runc worker, overlayfs): %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if _, err := e.run(time.Minute, filepath.Join(root, "scripts/buildkit.sh"), "stop", bk); err != nil {
			t.Logf("stopping buildkitd: %v", err)
		}
	})
	e.addr = lastLine(out)
	return e
}

// tools builds scone-build and scone-frontend and the frontend image (an OCI
// layout, with scripts/frontend-image.sh).
func (e *env) tools() {
	t := e.t
	bin := filepath.Join(e.work, "bin")
	sb := filepath.Join(bin, "scone-build")
	args := []string{"build", "-trimpath", "-o", sb}
	// The runtime binaries come from `make runtime`. Any that is absent is
	// replaced by a stand-in ELF (go build -overlay) so that everything up to
	// running the image is still tested; without scone-run the image is not run.
	rtDir := filepath.Join(e.root, "pkg/runtimebin/bin")
	replace := map[string]string{}
	for _, n := range []string{"scone-run", "scone-host"} {
		if _, err := os.Stat(filepath.Join(rtDir, n)); err != nil {
			replace[filepath.Join(rtDir, n)] = filepath.Join(bin, "rt")
		}
	}
	e.realRT = replace[filepath.Join(rtDir, "scone-run")] == ""
	if len(replace) > 0 {
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(bin, "rt.c")
		if err := os.WriteFile(src, []byte("void _start(void){ for(;;) __asm__ volatile(\"hlt\"); }\nint data = 42;\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := e.run(time.Minute, "gcc", "-static", "-nostdlib", "-no-pie", "-O2", "-o", filepath.Join(bin, "rt"), src); err != nil {
			t.Skipf("runtime not built (run `make runtime`) and no gcc for a stand-in: %v\n%s", err, out)
		}
		ov, _ := json.Marshal(map[string]map[string]string{"Replace": replace})
		ovf := filepath.Join(bin, "overlay.json")
		if err := os.WriteFile(ovf, ov, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-overlay", ovf)
		t.Logf("runtime binaries not built (run `make runtime`): scone-build embeds a stand-in for %d of them", len(replace))
	}
	if out, err := e.goCmd(append(args, "./cmd/scone-build")...); err != nil {
		t.Fatalf("building scone-build: %v\n%s", err, out)
	}
	e.sb = sb
	fe := filepath.Join(bin, "scone-frontend")
	if out, err := e.goCmd("build", "-trimpath", "-o", fe, "./cmd/scone-frontend"); err != nil {
		t.Fatalf("building scone-frontend: %v\n%s", err, out)
	}
	feDir := filepath.Join(e.work, "frontend-image")
	out, err := e.run(5*time.Minute, filepath.Join(e.root, "scripts/frontend-image.sh"),
		"--frontend", fe, "--scone-build", sb, "--out", feDir)
	if err != nil {
		t.Fatalf("scripts/frontend-image.sh: %v\n%s", err, out)
	}
	e.feDigest = lastLine(out)
	if !strings.HasPrefix(e.feDigest, "sha256:") {
		t.Fatalf("scripts/frontend-image.sh printed %q, want a digest", out)
	}
	// Deterministic: a second run gives the same digest; this one also pushes.
	out, err = e.run(5*time.Minute, filepath.Join(e.root, "scripts/frontend-image.sh"),
		"--frontend", fe, "--scone-build", sb, "--out", feDir+"2", "--push", e.registry+"/scone-frontend:e2e", "--insecure")
	if err != nil {
		t.Fatalf("scripts/frontend-image.sh --push: %v\n%s", err, out)
	}
	if lastLine(out) != e.feDigest {
		t.Errorf("frontend image not deterministic: %s then %s", e.feDigest, lastLine(out))
	}
}

func (e *env) goCmd(args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = e.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// layouts writes the base image (static busybox) as an OCI layout.
func (e *env) layouts() {
	img := podmantest.BusyboxImage(e.t, "/bin/busybox", "sh")
	e.baseDig = writeLayout(e.t, img, filepath.Join(e.work, "base-image"))
}

func writeLayout(t *testing.T, img v1.Image, dir string) string {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func (e *env) keys() {
	t := e.t
	k, err := enclave.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := enclave.MarshalPrivateKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	e.signer = filepath.Join(e.work, "signer.pem")
	if err := os.WriteFile(e.signer, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if e.mrsigner, err = enclave.MRSIGNER(&k.PublicKey); err != nil {
		t.Fatal(err)
	}
	fk, err := fskey.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.fsKeyHex = fk.String()
	e.fsKey = filepath.Join(e.work, "fs.key")
	if err := (&fskey.File{Key: fk, Identity: fskey.Identity{MRSIGNER: &e.mrsigner}}).Write(e.fsKey, true); err != nil {
		t.Fatal(err)
	}
}

// context copies testdata/frontend and adds Dockerfile.plain: the same
// Dockerfile without the syntax line (so the same LLB, built as usual).
func (e *env) context() {
	t := e.t
	e.ctxDir = filepath.Join(e.work, "context")
	if err := os.MkdirAll(e.ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"Dockerfile", "greeting.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata/frontend", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.ctxDir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if n == "Dockerfile" {
			first, rest, _ := strings.Cut(string(b), "\n")
			if first != "# syntax=scone-frontend" {
				t.Fatalf("testdata Dockerfile starts with %q", first)
			}
			if err := os.WriteFile(filepath.Join(e.ctxDir, "Dockerfile.plain"), []byte(rest), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (e *env) run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = e.root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %v: %w", name, timeout, err)
	}
	return out.String(), err
}

// build runs buildctl with the Dockerfile frontend (which follows the
// `# syntax=` line), the frontend image and the base image resolved from OCI
// layouts and the keys as secrets, and returns the plain progress output.
func (e *env) build(what, dockerfile string, extra []string, output string) string {
	e.t.Helper()
	return e.buildWith("dockerfile.v0", dockerfile, extra, output, true, what)
}

func (e *env) buildWith(fe, dockerfile string, extra []string, output string, secrets bool, what ...string) string {
	t := e.t
	t.Helper()
	if len(what) == 0 {
		what = []string{fe + " " + dockerfile}
	}
	t0 := time.Now()
	out, err := e.buildctlRun(fe, dockerfile, extra, output, secrets)
	if err != nil {
		t.Fatalf("buildctl build (%s): %v\n%s", what[0], err, tail(out, 60))
	}
	t.Logf("build (%s): %v", what[0], time.Since(t0).Round(time.Millisecond))
	return out
}

func (e *env) buildctlRun(fe, dockerfile string, extra []string, output string, secrets bool) (string, error) {
	args := []string{"--addr", e.addr, "build", "--progress", "plain",
		"--frontend", fe,
		"--local", "context=" + e.ctxDir, "--local", "dockerfile=" + e.ctxDir,
		"--opt", "filename=" + dockerfile,
		"--oci-layout", "fe=" + filepath.Join(e.work, "frontend-image"),
		"--oci-layout", "base=" + filepath.Join(e.work, "base-image"),
		"--opt", "context:scone-frontend=oci-layout://fe@" + e.feDigest,
		"--opt", "context:base=oci-layout://base@" + e.baseDig,
		"--output", output,
	}
	if secrets {
		args = append(args,
			"--secret", "id="+frontend.SignerSecretID+",src="+e.signer,
			"--secret", "id="+frontend.FSKeySecretID+",src="+e.fsKey)
	}
	args = append(args, extra...)
	return e.run(10*time.Minute, e.buildctl, args...)
}

// report holds the `scone-build convert --json` fields docs/ci.md relies on.
type report struct {
	MRENCLAVE string `json:"mrenclave"`
	MRSIGNER  string `json:"mrsigner"`
	Digest    string `json:"digest"`
}

func (e *env) cliConvert(src, dst string, extra ...string) report {
	t := e.t
	args := append([]string{"convert", src, dst, "--key", e.signer, "--fs-key", e.fsKey, "--json"}, extra...)
	cmd := exec.Command(e.sb, args...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=") // as in the frontend's build step
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scone-build %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var r report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil || r.MRENCLAVE == "" || r.MRSIGNER == "" || !strings.HasPrefix(r.Digest, "sha256:") {
		t.Fatalf("scone-build convert --json: %v: %s", err, stdout.String())
	}
	return r
}

func readArchive(t *testing.T, path string) v1.Image {
	t.Helper()
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatalf("reading docker archive %q: %v", path, err)
	}
	return img
}

func mustConfig(t *testing.T, img v1.Image) *v1.ConfigFile {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("reading image config: %v", err)
	}
	return cf
}

// checkConverted checks the converted image: entrypoint, labels, and exactly
// the SCONE files in two layers (runtime, enclave).
func checkConverted(t *testing.T, img v1.Image) *v1.ConfigFile {
	t.Helper()
	cf := mustConfig(t, img)
	if got := strings.Join(cf.Config.Entrypoint, " "); got != "/scone/bin/scone-run" {
		t.Errorf("entrypoint %q, want /scone/bin/scone-run", got)
	}
	for _, l := range []string{labelMRENCLAVE, labelMRSIGNER, "io.scone.fs-root"} {
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(cf.Config.Labels[l]) {
			t.Errorf("label %s = %q, want 64 hex digits", l, cf.Config.Labels[l])
		}
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"scone/", "scone/bin/", "scone/bin/scone-host", "scone/bin/scone-run"},
		{"scone/", "scone/enclave/", "scone/enclave/config.bin", "scone/enclave/fs.img", "scone/enclave/sigstruct.bin"},
	}
	if len(layers) != len(want) {
		t.Fatalf("%d layers, want %d (runtime, enclave)", len(layers), len(want))
	}
	for i, l := range layers {
		got := layerFiles(t, l)
		if strings.Join(got, " ") != strings.Join(want[i], " ") {
			t.Errorf("layer %d holds %q, want %q", i, got, want[i])
		}
	}
	if len(cf.History) != 2 {
		t.Errorf("history has %d entries, want 2", len(cf.History))
	}
	return cf
}

// checkSecretsAbsent checks that neither key appears in the output archive
// nor in the build log (secrets are mounted, never build args).
func checkSecretsAbsent(t *testing.T, e *env, archive, progress string) {
	t.Helper()
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	kf, err := fskey.Load(e.fsKey)
	if err != nil {
		t.Fatal(err)
	}
	fk := []byte(kf.Key.String())
	sk, _ := os.ReadFile(e.signer)
	block := bytes.Split(sk, []byte("\n"))[1] // a line of the PEM body
	for name, secret := range map[string][]byte{"FS key": fk, "signer key": block} {
		if bytes.Contains(b, secret) {
			t.Errorf("the %s appears in the output image", name)
		}
		if strings.Contains(progress, string(secret)) {
			t.Errorf("the %s appears in the build log", name)
		}
	}
}

func (e *env) podmanRun(t *testing.T, archive string, cfg *v1.ConfigFile) {
	p := podmantest.New(t)
	id := p.Load(t, archive)
	c := p.Inspect(t, id)
	if strings.Join(c.Entrypoint, " ") != "/scone/bin/scone-run" || c.Labels[labelMRENCLAVE] != cfg.Config.Labels[labelMRENCLAVE] {
		t.Fatalf("podman sees entrypoint %q mrenclave %q", c.Entrypoint, c.Labels[labelMRENCLAVE])
	}
	t.Logf("podman loaded %s: entrypoint %q, mrenclave %s", id[:12], c.Entrypoint, c.Labels[labelMRENCLAVE])
	if !e.realRT {
		t.Skip("not running the converted image: the runtime is not built (pkg/runtimebin/bin/scone-run absent; run `make runtime`), the image holds a stand-in")
	}
	stdout, stderr, code := p.Run(t, id, podmantest.RunOpts{Env: []string{"SCONE_FS_KEY=" + e.fsKeyHex,
		// the deployer names the signer it expects for the bare key
		"SCONE_EXPECTED_MRSIGNER=" + hex.EncodeToString(e.mrsigner[:])}, Timeout: 2 * time.Minute})
	if code != 0 || !strings.Contains(stdout, greeting) || !strings.Contains(stdout, "built-in-a-run-step") {
		t.Fatalf("running the converted image: exit %d\nstdout: %s\nstderr: %s", code, stdout, tail(stderr, 30))
	}
	t.Logf("the converted image ran under podman: %q", strings.TrimSpace(stdout))
}

// stepStates returns the final states (DONE, CACHED, ERROR) of the vertices
// named name in buildctl's plain progress output.
func stepStates(progress, name string) []string {
	ids := map[string]bool{}
	var states []string
	sc := bufio.NewScanner(strings.NewReader(progress))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		id, rest, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.HasPrefix(id, "#") {
			continue
		}
		if rest == name {
			ids[id] = true
			continue
		}
		if ids[id] {
			switch f := strings.Fields(rest); {
			case len(f) > 0 && (f[0] == "DONE" || f[0] == "CACHED" || f[0] == "ERROR" || f[0] == "CANCELED"):
				states = append(states, f[0])
			}
		}
	}
	return states
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// layerFiles lists a layer's entries, directories with a trailing slash.
func layerFiles(t *testing.T, l v1.Layer) []string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var names []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading layer: %v", err)
		}
		n := strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
		if h.Typeflag == tar.TypeDir && !strings.HasSuffix(n, "/") {
			n += "/"
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func layerDigest(t *testing.T, img v1.Image, i int) string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil || len(ls) <= i {
		t.Fatalf("reading layer %d: %v (%d layers)", i, err, len(ls))
	}
	d, err := ls[i].Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}
