package testimages_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/internal/testimages"
)

// TestBuildScriptCachesAndRebuilds runs images/build.sh for the cheapest image
// into an empty cache: it builds, then is up to date, then rebuilds when an
// input (the epoch) changes, and a forced rebuild gives the same image.
func TestBuildScriptCachesAndRebuilds(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("go not in PATH: %v", err)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skipf("busybox-static not installed: %v", err)
	}
	script := filepath.Join(repoRoot(t), "images", "build.sh")
	cache := t.TempDir()
	build := func(epoch string, force bool) (string, string) {
		t.Helper()
		args := []string{"busybox"}
		if force {
			args = append([]string{"-f"}, args...)
		}
		cmd := exec.Command(script, args...)
		cmd.Env = append(os.Environ(), "SCONE_IMAGE_CACHE="+cache, "SCONE_IMAGE_EPOCH="+epoch, "IMAGES=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("images/build.sh busybox: %v\n%s", err, out)
		}
		t.Setenv("SCONE_IMAGE_CACHE", cache)
		img, err := testimages.Load(filepath.Join(cache, "busybox"))
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return string(out), d.String()
	}
	tests := []struct {
		epoch      string
		force      bool
		wantLog    string
		sameAsPrev bool
	}{
		{"1704067200", false, "busybox: built", false},
		{"1704067200", false, "busybox: up to date", true},
		{"1704067201", false, "busybox: built", false},
		{"1704067201", true, "busybox: built", true}, // rebuilt bit for bit
	}
	prev := ""
	for i, tc := range tests {
		out, digest := build(tc.epoch, tc.force)
		if !strings.Contains(out, tc.wantLog) {
			t.Errorf("run %d: log lacks %q:\n%s", i, tc.wantLog, out)
		}
		if i > 0 && (digest == prev) != tc.sameAsPrev {
			t.Errorf("run %d: digest %s, previous %s, want same: %v", i, digest, prev, tc.sameAsPrev)
		}
		prev = digest
	}
	if _, err := testimages.Path("busybox"); err != nil {
		t.Errorf("Path after build: %v", err)
	}
}
