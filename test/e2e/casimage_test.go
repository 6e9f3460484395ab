package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/scone-build/scone-build/internal/podmantest"
	"github.com/scone-build/scone-build/pkg/cas"
	"github.com/scone-build/scone-build/pkg/fsprotect"
)

// TestCASImagePodman: the CAS as a confidential image (scripts/cas-image.sh,
// `make cas-image`) runs under podman in sim mode. `scone-build cas id`
// verifies the quote the CAS serves against the simulation key and the
// MRENCLAVE the script printed (and refuses another MRENCLAVE); its state
// directory on the host holds only sealed keys; a restart keeps the CAS ID
// and the policies.
func TestCASImagePodman(t *testing.T) {
	w := newCASWorld(t)
	sb := buildCmd(t, "scone-build")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	work := t.TempDir()
	sh := func(dir, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	sh(work, sb, "keygen", "--out-dir", "keys")
	layout := filepath.Join(work, "layout")
	mre := sh(root, filepath.Join(root, "scripts", "cas-image.sh"), "--key", filepath.Join(work, "keys", "signer.pem"),
		"--fs-key", filepath.Join(work, "keys", "fs.key"), "--out", layout, "--scone-build", sb)
	if len(mre) != 64 {
		t.Fatalf("cas-image.sh printed %q, want an MRENCLAVE", mre)
	}
	img := w.p.PullOCI(t, layout, "scone-cas")
	state := t.TempDir()

	start := func() (*podmantest.Container, string) {
		t.Helper()
		port := podmantest.FreePort(t)
		c := w.p.Start(t, img, podmantest.RunOpts{
			Ports: []string{fmt.Sprintf("127.0.0.1:%d:8443", port)},
			Volumes: []string{state + ":/var/lib/scone-cas", filepath.Join(work, "keys", "fs.key") + ":/run/secrets/fs.key:ro",
				w.simKeyFile + ":/run/secrets/sim-quote.pem:ro"},
			Env:   []string{"SCONE_FS_KEY_FILE=/run/secrets/fs.key", "SCONE_SIM_QUOTE_KEY_FILE=/run/secrets/sim-quote.pem"},
			Extra: []string{"--network", w.net},
		})
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		c.WaitTCP(t, addr, 60*time.Second)
		return c, addr
	}
	// identify: `scone-build cas id` with the quote verified, once the CAS
	// answers (the port accepts before the CAS does: podman's forwarder).
	identify := func(c *podmantest.Container, addr, mrenclave string) (string, string, error) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			cmd := exec.Command(sb, "cas", "id", "--cas", addr, "--simulation-key", filepath.Join(w.secrets, "sim.pub"), "--mrenclave", mrenclave)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err == nil || strings.Contains(stderr.String(), "quote") || time.Now().After(deadline) {
				return strings.TrimSpace(string(out)), stderr.String(), err
			}
			if !c.Running(t) {
				t.Fatalf("the CAS exited:\n%s", c.Logs(t))
			}
			time.Sleep(300 * time.Millisecond)
		}
	}

	c, addr := start()
	idHex, stderr, err := identify(c, addr, mre)
	if err != nil {
		t.Fatalf("cas id with the quote verified: %v\n%s\nlogs:\n%s", err, stderr, c.Logs(t))
	}
	id, err := cas.ParseID(idHex)
	if err != nil {
		t.Fatalf("cas id printed %q: %v", idHex, err)
	}
	other := strings.Repeat("0", 63) + "1"
	if _, stderr, err := identify(c, addr, other); err == nil {
		t.Fatalf("cas id accepted MRENCLAVE %s for the CAS's enclave %s\n%s", other, mre, stderr)
	}

	client, err := cas.NewClient(addr, cas.WithPin(id), cas.WithTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	doc := w.policyDoc("kept", []string{strings.Repeat("ab", 32)}, true, fsprotect.Key{1, 2, 3}, "", "")
	if _, err := client.Apply(context.Background(), "kept", []byte(doc), w.owner); err != nil {
		t.Fatalf("apply: %v\nlogs:\n%s", err, c.Logs(t))
	}
	c.Stop(t, 10*time.Second)
	c.Remove(t)

	// On the host: sealed keys only, never a plain identity key or store key.
	ents, err := os.ReadDir(state)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if e.Name() == "identity.pem" || e.Name() == "store.key" {
			t.Errorf("the CAS in an enclave left a plain %s on the host", e.Name())
		}
	}
	if b, err := os.ReadFile(filepath.Join(state, "identity.sealed")); err != nil || !strings.Contains(string(b), "SCONE-CAS SEALED PRIVATE KEY") {
		t.Fatalf("state %v: identity.sealed: %v", names, err)
	}

	c, addr = start()
	again, stderr, err := identify(c, addr, mre)
	if err != nil || again != idHex {
		t.Fatalf("after a restart: CAS ID %q (%v), was %s\n%s\nlogs:\n%s", again, err, idHex, stderr, c.Logs(t))
	}
	client, _ = cas.NewClient(addr, cas.WithPin(id), cas.WithTimeout(20*time.Second))
	if _, err := client.Read(context.Background(), "kept", w.owner); err != nil {
		t.Fatalf("the policy did not survive the restart: %v", err)
	}
}
