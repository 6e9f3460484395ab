package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/enclave"
)

func init() {
	recipes["volfresh-static"] = recipe{"volfresh.c", cc("gcc", "-static")}
}

// replaceDir replaces dst's contents by src's (regular files and
// directories: what a volume's host directory holds).
func replaceDir(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", src, dst, err, out)
	}
}

// TestVolumeFreshness: with a CAS policy that tracks a protected volume
// (the real pkg/cas server), the runtime records each state and refuses
// to start on an older copy of the host directory (exit 81), on an
// emptied one (unless the policy allows reinit), and starts on the
// current one. every-fsync records before fsync returns; interval records
// from the runtime's recorder thread while the program runs: the program
// kills itself after writing, and the copy from before is still refused.
// The forked cases write from forked children: one the program leaves
// behind when it exits, which takes the recorder thread over from the
// parent that took it along, and one that writes and records while its
// parent does, each over its own connection to the CAS.
func TestVolumeFreshness(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "volfresh-static")
	sk, skf := simQuoteKey(t)
	addr, id, ownerPub, apply := realCAS(t, &sk.PublicKey)

	for _, c := range []struct {
		name, setting string
		kill          string // the program's MS argument: it dies without exiting
		reinit        bool
		async         bool   // the async transport carries the host calls (the recorder's too)
		verb          string // the second writer: "add", "forkadd" (a child outliving its parent), "twoadd" (parent and child)
		n             string // its lines (twoadd: each process's)
	}{
		{"every-fsync", "{freshness: every-fsync}", "", false, false, "add", "2"},
		{"interval", "{freshness: interval, interval_ms: 100}", "1500", false, false, "add", "2"},
		{"interval-async", "{freshness: interval, interval_ms: 100}", "1500", false, true, "add", "2"},
		{"allow-reinit", "{freshness: every-fsync, allow_reinit: true}", "", true, false, "add", "2"},
		{"every-fsync-two-processes", "{freshness: every-fsync}", "", false, false, "twoadd", "1"},
		{"interval-forked", "{freshness: interval, interval_ms: 100}", "1500", false, false, "forkadd", "2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			vol := filepath.Join(dir, "data")
			policyName := "fresh-" + c.name
			e, mre := casEnclave(t, rt, bin, addr, id, policyName, func(cfg *enclave.Config) {
				cfg.HostArgs = true
				cfg.ProtectedVolumes = []string{vol}
				if c.async {
					asyncConfig(cfg)
				}
			})
			apply(casPolicyOf(ownerPub, policyName, mre, true, e.keyHex, "", "") + "volumes:\n  " + vol + ": " + c.setting + "\n")
			verb := "add"
			add := func(n string, extra ...string) result {
				t.Helper()
				return run(t, casEnv(e, skf), append([]string{rt, verb, vol, n}, extra...)...)
			}
			mustAdd := func(n, want string, extra ...string) {
				t.Helper()
				got := add(n, extra...)
				if got.code != 0 && (len(extra) == 0 || got.code != -1 && got.code != 137) || !strings.Contains(got.stdout, want) {
					t.Fatalf("add %s: exit %d, want %q\nstdout:\n%s\nstderr:\n%s", n, got.code, want, got.stdout, got.stderr)
				}
			}
			mustAdd("3", "synced 3")
			old := filepath.Join(dir, "old")
			replaceDir(t, vol, old)
			verb = c.verb
			if c.kill != "" {
				mustAdd(c.n, "synced 5", c.kill) // killed: only the recorder thread recorded
			} else {
				mustAdd(c.n, "synced 5")
			}
			verb = "add"
			current := filepath.Join(dir, "current")
			replaceDir(t, vol, current)

			// an older copy of the directory
			replaceDir(t, old, vol)
			got := add("1")
			if got.code != 81 || !strings.Contains(got.stderr, "protected volume "+vol+" is older than its recorded state") ||
				!strings.Contains(got.stderr, "rollback") || strings.Contains(got.stdout, "have") {
				t.Fatalf("old copy: exit %d, want 81 with the rollback message and the program not started\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
			}

			// the current copy starts and goes on
			replaceDir(t, current, vol)
			mustAdd("1", "have 5")

			// an emptied directory
			if err := os.RemoveAll(vol); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(vol, 0o700); err != nil {
				t.Fatal(err)
			}
			got = add("1")
			if !c.reinit {
				if got.code != 81 || !strings.Contains(got.stderr, "emptied") || !strings.Contains(got.stderr, "allow_reinit") {
					t.Fatalf("emptied: exit %d, want 81 naming allow_reinit\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
				}
				return
			}
			if got.code != 0 || !strings.Contains(got.stdout, "have 0") || !strings.Contains(got.stderr, "started anew") {
				t.Fatalf("emptied with allow_reinit: exit %d, want a new volume\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
			}
			// after the reinit the former volume is another volume, whatever its version
			replaceDir(t, current, vol)
			if got := add("1"); got.code != 81 || !strings.Contains(got.stderr, "is another volume than the one the CAS recorded") {
				t.Fatalf("the former volume after a reinit: exit %d, want 81 (another volume)\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
			}
		})
	}
}
