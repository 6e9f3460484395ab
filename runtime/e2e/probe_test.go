package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFSShieldProbe runs runtime/tests/test_fs_shield.sh: a static probe
// program (runtime/tests/fs_probe.c: some 200 checks of the FS shield's answers,
// open/read/write/copy-up/rename/symlinks/times/mmap/passthrough/magic
// links) converted with the CLI from a dir: source and run in sim mode,
// with and without the console shield, plus a tampered image and the
// threads mode.
func TestFSShieldProbe(t *testing.T) {
	runtimeBin(t)
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skipf("gcc not installed: %v", err)
	}
	root := repoRootDir(t)
	cli := filepath.Join(t.TempDir(), "scone-build")
	build := exec.Command("go", "build", "-trimpath", "-o", cli, "./cmd/scone-build")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the CLI: %v\n%s", err, out)
	}
	cmd := exec.Command("sh", "runtime/tests/test_fs_shield.sh", cli)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("test_fs_shield.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"fs shield: ", "console shield: stdout decrypted", "integrity: tampered chunk -> EIO", "threads: ok"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("test_fs_shield.sh output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("%s", out)
}

// repoRootDir is the repository root (the tests run in runtime/e2e).
func repoRootDir(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	return root
}
