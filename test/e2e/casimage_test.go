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
// casImage is a CAS image built by scripts/cas-image.sh and its state
// directory, run under podman.
type casImage struct {
	t     testing.TB
	w     *casWorld
	sb    string // scone-build
	work  string // keys/, the layout
	state string
	img   string
	mre   string
}

// newCASImage builds the CAS image with the script's extra arguments.
func newCASImage(t testing.TB, w *casWorld, extra ...string) *casImage {
	t.Helper()
	ci := &casImage{t: t, w: w, sb: buildCmd(t, "scone-build"), work: t.TempDir(), state: t.TempDir()}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	ci.sh(ci.work, ci.sb, "keygen", "--out-dir", "keys")
	layout := filepath.Join(ci.work, "layout")
	ci.mre = ci.sh(root, filepath.Join(root, "scripts", "cas-image.sh"), append([]string{"--key", filepath.Join(ci.work, "keys", "signer.pem"),
		"--fs-key", filepath.Join(ci.work, "keys", "fs.key"), "--out", layout, "--scone-build", ci.sb}, extra...)...)
	if len(ci.mre) != 64 {
		t.Fatalf("cas-image.sh printed %q, want an MRENCLAVE", ci.mre)
	}
	ci.img = w.p.PullOCI(t, layout, "scone-cas")
	return ci
}

func (ci *casImage) sh(dir, name string, args ...string) string {
	ci.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		ci.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// start runs the image with the simulation quote key simKeyFile (the
// platform: scone-run derives the sealing keys from it).
func (ci *casImage) start(simKeyFile string) (*podmantest.Container, string) {
	ci.t.Helper()
	port := podmantest.FreePort(ci.t)
	c := ci.w.p.Start(ci.t, ci.img, podmantest.RunOpts{
		Ports: []string{fmt.Sprintf("127.0.0.1:%d:8443", port)},
		Volumes: []string{ci.state + ":/var/lib/scone-cas", filepath.Join(ci.work, "keys", "fs.key") + ":/run/secrets/fs.key:ro",
			simKeyFile + ":/run/secrets/sim-quote.pem:ro"},
		Env:   []string{"SCONE_FS_KEY_FILE=/run/secrets/fs.key", "SCONE_SIM_QUOTE_KEY_FILE=/run/secrets/sim-quote.pem"},
		Extra: []string{"--network", ci.w.net},
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c.WaitTCP(ci.t, addr, 60*time.Second)
	return c, addr
}

// cli runs scone-build args once the CAS answers (the port accepts before
// the CAS does: podman's forwarder): stdout, stderr, error.
func (ci *casImage) cli(c *podmantest.Container, args ...string) (string, string, error) {
	ci.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		cmd := exec.Command(ci.sb, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err == nil || strings.Contains(stderr.String(), "quote") || strings.Contains(stderr.String(), "recovery") || time.Now().After(deadline) {
			return strings.TrimSpace(string(out)), stderr.String(), err
		}
		if !c.Running(ci.t) {
			ci.t.Fatalf("the CAS exited:\n%s", c.Logs(ci.t))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// identify is `scone-build cas id` with the quote verified by simPub.
func (ci *casImage) identify(c *podmantest.Container, addr, mrenclave, simPub string) (string, string, error) {
	ci.t.Helper()
	return ci.cli(c, "cas", "id", "--cas", addr, "--simulation-key", simPub, "--mrenclave", mrenclave)
}

func TestCASImagePodman(t *testing.T) {
	w := newCASWorld(t)
	ci := newCASImage(t, w)
	mre, state, simPub := ci.mre, ci.state, filepath.Join(w.secrets, "sim.pub")
	start := func() (*podmantest.Container, string) { return ci.start(w.simKeyFile) }
	identify := func(c *podmantest.Container, addr, mrenclave string) (string, string, error) {
		return ci.identify(c, addr, mrenclave, simPub)
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

// TestCASImageRecovery: the CAS image built with two owners' recovery
// keys (placed in the image, named in its measured command) runs on one
// platform (a simulation quote key), keeps a policy, and is moved to
// another platform (another simulation quote key: other sealing keys),
// where it cannot open its sealed state and waits in recovery mode. Each
// owner runs `scone-build cas recover`, which attests the new enclave
// before its share leaves; after the second share the CAS serves the
// same CAS ID and the policy, and keeps doing so after a restart there.
func TestCASImageRecovery(t *testing.T) {
	w := newCASWorld(t)
	keys := t.TempDir()
	var owners []string
	for i := 1; i <= 2; i++ {
		priv := filepath.Join(keys, fmt.Sprintf("owner%d.pem", i))
		if out, err := exec.Command("openssl", "genpkey", "-algorithm", "x25519", "-out", priv).CombinedOutput(); err != nil {
			t.Skipf("SKIP: openssl cannot make an X25519 key: %v\n%s", err, out)
		}
		pub := priv + ".pub"
		if out, err := exec.Command("openssl", "pkey", "-in", priv, "-pubout", "-out", pub).CombinedOutput(); err != nil {
			t.Fatalf("openssl pkey -pubout: %v\n%s", err, out)
		}
		owners = append(owners, priv)
	}
	ci := newCASImage(t, w, "--recovery-key", owners[0]+".pub", "--recovery-key", owners[1]+".pub")
	simA, pubA := w.simKeyFile, filepath.Join(w.secrets, "sim.pub")
	simB, pubB := newSimKeyFiles(t)

	c, addr := ci.start(simA)
	idHex, stderr, err := ci.identify(c, addr, ci.mre, pubA)
	if err != nil {
		t.Fatalf("cas id: %v\n%s\nlogs:\n%s", err, stderr, c.Logs(t))
	}
	id, _ := cas.ParseID(idHex)
	client, _ := cas.NewClient(addr, cas.WithPin(id), cas.WithTimeout(20*time.Second))
	doc := w.policyDoc("moved", []string{strings.Repeat("cd", 32)}, true, fsprotect.Key{4, 5, 6}, "", "")
	if _, err := client.Apply(context.Background(), "moved", []byte(doc), w.owner); err != nil {
		t.Fatalf("apply: %v\nlogs:\n%s", err, c.Logs(t))
	}
	c.Stop(t, 10*time.Second)
	c.Remove(t)
	if b, err := os.ReadFile(filepath.Join(ci.state, cas.RecoveryFileName)); err != nil || !strings.Contains(string(b), `"threshold": 2`) {
		t.Fatalf("recovery data: %v\n%s", err, b)
	}

	// another platform: recovery mode
	c, addr = ci.start(simB)
	recover := func(owner string) string {
		t.Helper()
		out, stderr, err := ci.cli(c, "cas", "recover", "--cas", addr, "--cas-id", idHex, "--recovery-key", owner,
			"--simulation-key", pubB, "--mrenclave", ci.mre)
		if err != nil {
			t.Fatalf("cas recover %s: %v\n%s\nlogs:\n%s", filepath.Base(owner), err, stderr, c.Logs(t))
		}
		return out
	}
	// the old platform's simulation key does not verify the new enclave's quote: no share leaves
	if _, stderr, err := ci.cli(c, "cas", "recover", "--cas", addr, "--recovery-key", owners[0], "--simulation-key", pubA, "--mrenclave", ci.mre); err == nil {
		t.Fatalf("a share went to an enclave the owner's simulation key does not verify\n%s", stderr)
	}
	if out := recover(owners[0]); !strings.Contains(out, "share accepted: 1 of 2") {
		t.Fatalf("first owner: %q", out)
	}
	if out := recover(owners[1]); !strings.Contains(out, "recovered") {
		t.Fatalf("second owner: %q", out)
	}
	again, stderr, err := ci.identify(c, addr, ci.mre, pubB)
	if err != nil || again != idHex {
		t.Fatalf("after the recovery: CAS ID %q (%v), was %s\n%s\nlogs:\n%s", again, err, idHex, stderr, c.Logs(t))
	}
	client, _ = cas.NewClient(addr, cas.WithPin(id), cas.WithTimeout(20*time.Second))
	if _, err := client.Read(context.Background(), "moved", w.owner); err != nil {
		t.Fatalf("the policy after the recovery: %v\nlogs:\n%s", err, c.Logs(t))
	}
	c.Stop(t, 10*time.Second)
	c.Remove(t)

	c, addr = ci.start(simB)
	if again, stderr, err := ci.identify(c, addr, ci.mre, pubB); err != nil || again != idHex {
		t.Fatalf("restart on the new platform: CAS ID %q (%v)\n%s\nlogs:\n%s", again, err, stderr, c.Logs(t))
	}
}
