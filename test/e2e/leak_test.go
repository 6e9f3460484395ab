package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/scone-build/scone-build/internal/podmantest"
	"github.com/scone-build/scone-build/pkg/convert"
	"github.com/scone-build/scone-build/pkg/enclave"
)

// withFiles is img with one more layer holding files (path -> content).
func withFiles(t testing.TB, img v1.Image, files map[string]string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for p, c := range files {
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg,
			ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(c))
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	out, err := mutate.AppendLayers(img, l)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKeyNotReadableThroughProc (security finding 2): the application
// cannot read the FS key, the key file or its path through /proc: its
// environ is its own, /proc/self/root, cwd and mem are refused, and another
// process's environ too. A file-read bug of the application (path
// traversal) must not hand out the key.
func TestKeyNotReadableThroughProc(t *testing.T) {
	e := setup(t)
	script := `cat /proc/self/environ | tr '\0' '\n'; echo ---
cat /proc/self/cmdline | tr '\0' ' '; echo; echo ---
for p in /proc/self/root/run/secrets/scone-fs-key /proc/1/root/run/secrets/scone-fs-key /proc/self/cwd/run/secrets/scone-fs-key \
         /proc/1/environ /proc/self/mem /proc/self/map_files /proc/thread-self/root/etc/hostname; do
  if cat "$p" >/dev/null 2>/tmp/err; then echo "READ $p"; else echo "refused $p: $(cat /tmp/err)"; fi
done
grep -c '^Name:' /proc/self/status; head -c 0 /proc/self/maps && echo maps-ok`
	img := withCommand(t, e.image(t, "busybox"), []string{"/bin/sh", "-c", script})
	conv, _ := e.convert(t, img)
	id := e.load(t, conv, "procleak")
	key, err := os.ReadFile(e.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	keyHex := hex.EncodeToString(e.fx.FSKey[:])
	mrs, _ := enclave.MRSIGNER(&e.fx.Key.PublicKey)
	for _, run := range []struct {
		name string
		opts podmantest.RunOpts
	}{
		{"key file", podmantest.RunOpts{Network: "none", Volumes: []string{e.keyFile + ":/run/secrets/scone-fs-key:ro"},
			Env: []string{"SCONE_FS_KEY_FILE=/run/secrets/scone-fs-key"}}},
		{"key in the environment", podmantest.RunOpts{Network: "none",
			Env: []string{"SCONE_FS_KEY=" + keyHex, "SCONE_EXPECTED_MRSIGNER=" + hex.EncodeToString(mrs[:])}}},
	} {
		t.Run(run.name, func(t *testing.T) {
			out, stderr, code := e.p.Run(t, id, run.opts)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
			}
			for _, secret := range []string{keyHex, strings.ToUpper(keyHex), string(bytes.TrimSpace(key)), "SCONE_FS_KEY", "/run/secrets/scone-fs-key\n"} {
				if secret != "" && strings.Contains(out, secret) {
					t.Errorf("the application read %q:\n%s", secret, out)
				}
			}
			if strings.Contains(out, "READ ") {
				t.Errorf("a refused /proc path was readable:\n%s", out)
			}
			for _, want := range []string{"PATH=/usr/local/sbin:", "cat /proc/self/cmdline \n", "refused /proc/self/root/run/secrets/scone-fs-key: cat: can't open",
				"Permission denied", "maps-ok"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestMagicLinksStayInside (security finding 3): /dev/stdin, /dev/stdout,
// /dev/fd/N and /proc/{self,thread-self}/fd/N of a protected file are that
// file, never a host path: with a file of the host bind-mounted over
// /dev/null (the container engine controls /dev), reading /dev/stdin
// redirected from a protected file gives the protected file, and writing a
// protected file to /dev/stdout redirected into the enclave's file system
// leaves the host file untouched.
func TestMagicLinksStayInside(t *testing.T) {
	e := setup(t)
	const secret = "SECRET-7f3a: the vault code is 4711"
	// The output goes to a volume: with a file bind-mounted over /dev/null,
	// podman loses the container's stdout, natively too.
	script := `{ for n in /dev/stdin /dev/fd/0 /proc/self/fd/0 /proc/thread-self/fd/0; do echo "$n: $(cat $n < /app/secret.txt)"; done
( cat /app/secret.txt > /dev/stdout ) > /tmp/out1.txt; echo "stdout: $(cat /tmp/out1.txt)"
( cat /app/secret.txt > /proc/self/fd/1 ) > /tmp/out2.txt; echo "fd1: $(cat /tmp/out2.txt)"
( cat /app/secret.txt > /dev/stderr ) 2> /tmp/out3.txt; echo "stderr: $(cat /tmp/out3.txt)"; } > /out/result 2>&1`
	img := withFiles(t, withCommand(t, e.image(t, "busybox"), []string{"/bin/sh", "-c", script}),
		map[string]string{"app/secret.txt": secret + "\n"})
	native := e.p.PullOCI(t, podmantest.WriteLayout(t, img, "native"), "native")
	conv, _ := e.convert(t, img, convert.WithVolumes("/out"))
	id := e.load(t, conv, "magiclinks")
	dir := t.TempDir()
	hostNull := filepath.Join(dir, "null")
	outDir := filepath.Join(dir, "out")
	if err := os.Mkdir(outDir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(outDir, 0o777)
	const hostContent = "HOST-CONTENT-behind-dev-null\n"
	run := func(image string, vols []string, env []string) string {
		if err := os.WriteFile(hostNull, []byte(hostContent), 0o666); err != nil {
			t.Fatal(err)
		}
		os.Chmod(hostNull, 0o666)
		os.Remove(filepath.Join(outDir, "result"))
		vols = append(vols, hostNull+":/dev/null", outDir+":/out")
		_, stderr, code := e.p.Run(t, image, podmantest.RunOpts{Network: "none", Volumes: vols, Env: env})
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		b, err := os.ReadFile(filepath.Join(outDir, "result"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	want := run(native, nil, nil)
	if strings.Count(want, secret) != 7 {
		t.Fatalf("native output does not show the secret 7 times:\n%s", want)
	}
	got := run(id, []string{e.keyFile + ":/run/secrets/scone-fs-key:ro"}, []string{"SCONE_FS_KEY_FILE=/run/secrets/scone-fs-key"})
	if got != want {
		t.Fatalf("converted run with a host file over /dev/null differs\n--- native\n%s\n--- converted\n%s", want, got)
	}
	b, _ := os.ReadFile(hostNull)
	if string(b) != hostContent {
		t.Fatalf("the host file over /dev/null changed: %q", b)
	}
}
