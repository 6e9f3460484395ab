package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
	"github.com/scone-build/scone-build/pkg/runtimebin"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/cli")

// The CLI golden tests: each directory of testdata/cli (and of
// testdata/cli/fail, the inputs that must fail) holds
//
//	args        one command a line; placeholders {{IN}} (the input image),
//	            {{TMP}} (a per-case temporary dir), {{REGISTRY}} (an in-memory
//	            registry, go-containerregistry's pkg/registry), {{KEY}}, {{PUB}},
//	            {{FSKEY}}, {{WRONGFSKEY}} (another key, same signer), {{BAREFSKEY}}
//	            (64 hex digits, no identity), {{OTHERFSKEY}} (pinned to another signer),
//	            {{PASSPHRASEKEY}} (32 ASCII bytes that are not a key file),
//	            {{DCAP}} (the directory of the real DCAP quote and its collateral,
//	            /work/shared/testvectors/dcap: the case is skipped when it is absent),
//	            {{SIMQUOTE}} (a simulation quote signed by {{SIMKEY}}), {{SIMKEY}},
//	            {{OTHERSIMKEY}} (ECDSA P-256 public keys, PEM), {{CAS}} (the address
//	            of a CAS started in-process for the case, pkg/cas), {{CASID}} (its
//	            CAS ID), {{CASENCLAVE}} (a CAS that serves a simulation quote
//	            of its enclave, signed by {{SIMKEY}}'s key), {{OWNERKEY}},
//	            {{OTHEROWNERKEY}} (policy owner private keys), {{CASRECOVER}} (a
//	            CAS in recovery mode, MRENCLAVE 5c.., for the recovery vector in
//	            {{RECOVERYDIR}}: owner1-3.pem, threshold 2)
//	            and lines that make inputs instead of running a command:
//	            !sign IN OUT, !flip IN OFFSET OUT (flips one bit of byte OFFSET),
//	            !truncate IN SIZE OUT, !replace IN OLD NEW OUT (the first OLD),
//	            !policy TEMPLATE OUT [PREVIOUS] (a policy from the case's file
//	            TEMPLATE, see writePolicy)
//	image.json  optional recipe of the input image (see imageRecipe)
//	input.bin   optional raw input, passed as docker-archive:{{IN}}
//	golden      exit codes and normalized stdout/stderr of every command
//
// Run `go test ./cmd/scone-build -run TestCLI -update` to rewrite goldens.
func TestCLI(t *testing.T) {
	if _, err := runtimebin.Binary(runtimebin.Run); err != nil {
		t.Skip("runtime not embedded: run `make runtime` first (make test does)")
	}
	keys := cliKeys(t)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	regHost := strings.TrimPrefix(reg.URL, "http://")
	for _, dir := range append(caseDirs(t, "testdata/cli"), caseDirs(t, "testdata/cli/fail")...) {
		t.Run(strings.TrimPrefix(dir, "testdata/cli/"), func(t *testing.T) {
			tmp := t.TempDir()
			in := prepareInput(t, dir, tmp)
			raw, err := os.ReadFile(filepath.Join(dir, "args"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(raw), "{{DCAP}}") {
				if _, err := os.Stat(filepath.Join(dcapDir(), "sgx_quote_v3.bin")); err != nil {
					t.Skipf("SKIP: the DCAP test vector is absent (%v): it lives in /work/shared/testvectors/dcap; set SCONE_DCAP_TESTVECTORS to its directory", err)
				}
			}
			casAddr, casID := casForCase(t, string(raw))
			casEnclave := casEnclaveForCase(t, string(raw))
			casRecover := casRecoverForCase(t, string(raw))
			ownerKey, otherOwnerKey := casOwnerKeys(t, keys)
			repl := strings.NewReplacer("{{CAS}}", casAddr, "{{CASID}}", casID, "{{CASENCLAVE}}", casEnclave, "{{OWNERKEY}}", ownerKey, "{{OTHEROWNERKEY}}", otherOwnerKey,
				"{{REGISTRY}}", regHost, "{{IN}}", in, "{{TMP}}", tmp, "{{KEY}}", keys.key, "{{PUB}}", keys.pub,
				"{{FSKEY}}", keys.fs, "{{WRONGFSKEY}}", keys.wrongFS, "{{BAREFSKEY}}", keys.bareFS, "{{OTHERFSKEY}}", keys.otherFS,
				"{{PASSPHRASEKEY}}", keys.passphrase, "{{DCAP}}", dcapDir(), "{{SIMQUOTE}}", keys.simQuote, "{{SIMKEY}}", keys.simPub,
				"{{OTHERSIMKEY}}", keys.otherSimPub, "{{CASRECOVER}}", casRecover, "{{RECOVERYDIR}}", recoveryDir)
			var got strings.Builder
			failing := strings.HasPrefix(dir, "testdata/cli/fail")
			var lastCode int
			for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				args := strings.Fields(repl.Replace(line))
				if args[0] == "!sign" { // stands in for a KMS/HSM: sign a file with the test key
					externalSign(t, keys.key, args[1], args[2])
					fmt.Fprintf(&got, "$ %s\n", line)
					continue
				}
				if args[0] == "!policy" {
					writePolicy(t, dir, args)
					fmt.Fprintf(&got, "$ %s\n", line)
					continue
				}
				if strings.HasPrefix(args[0], "!") {
					editFile(t, args)
					fmt.Fprintf(&got, "$ %s\n", line)
					continue
				}
				var stdout, stderr bytes.Buffer
				code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
				lastCode = code
				fmt.Fprintf(&got, "$ scone-build %s\nexit %d\n--- stdout\n%s--- stderr\n%s", line, code,
					strings.ReplaceAll(normalize(stdout.String(), tmp, keys), dcapDir(), "<DCAP>"),
					strings.ReplaceAll(normalize(stderr.String(), tmp, keys), dcapDir(), "<DCAP>"))
			}
			if failing && lastCode == 0 {
				t.Errorf("the last command of a must-fail case exited 0")
			}
			if failing {
				// Nothing half-written: the output of a failed command does not exist.
				if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
					for _, e := range ents {
						if strings.HasPrefix(e.Name(), "out") || strings.HasPrefix(e.Name(), ".") {
							t.Errorf("failed command left %s behind", e.Name())
						}
					}
				}
			}
			golden := filepath.Join(dir, "golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("output differs from %s (rerun with -update if intended)\n--- got\n%s\n--- want\n%s", golden, got.String(), want)
			}
		})
	}
}

func caseDirs(t *testing.T, root string) []string {
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && e.Name() != "fail" {
			out = append(out, filepath.Join(root, e.Name()))
		}
	}
	return out
}

type keyFiles struct {
	key, pub, fs, wrongFS, bareFS, otherFS, passphrase string
	simQuote, simPub, otherSimPub                      string
}

var (
	keysOnce sync.Once
	keysDir  string
	keysErr  error
)

func cliKeys(t *testing.T) keyFiles {
	keysOnce.Do(func() {
		keysDir, keysErr = os.MkdirTemp("", "scone-cli-keys")
		if keysErr != nil {
			return
		}
		k, err := enclave.GenerateKey(rand.Reader)
		if err != nil {
			keysErr = err
			return
		}
		pem, _ := enclave.MarshalPrivateKeyPEM(k)
		pub, _ := enclave.MarshalPublicKeyPEM(&k.PublicKey)
		os.WriteFile(filepath.Join(keysDir, "signer.pem"), pem, 0o600)
		os.WriteFile(filepath.Join(keysDir, "signer.pub"), pub, 0o644)
		mrs, _ := enclave.MRSIGNER(&k.PublicKey)
		other := mrs
		other[0] ^= 1
		for _, f := range []struct {
			name string
			id   fskey.Identity
		}{{"fs.key", fskey.Identity{MRSIGNER: &mrs}}, {"wrong.key", fskey.Identity{MRSIGNER: &mrs}},
			{"bare.key", fskey.Identity{}}, {"other.key", fskey.Identity{MRSIGNER: &other}}} {
			fk, _ := fskey.Generate(rand.Reader)
			if keysErr = (&fskey.File{Key: fk, Identity: f.id}).Write(filepath.Join(keysDir, f.name), true); keysErr != nil {
				return
			}
		}
		if keysErr = os.WriteFile(filepath.Join(keysDir, "passphrase.key"), []byte("correct horse battery staple 123"), 0o600); keysErr != nil {
			return
		}
		keysErr = writeSimulationInputs(keysDir)
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	j := func(n string) string { return filepath.Join(keysDir, n) }
	return keyFiles{j("signer.pem"), j("signer.pub"), j("fs.key"), j("wrong.key"), j("bare.key"), j("other.key"), j("passphrase.key"),
		j("sim-quote.bin"), j("sim.pub"), j("other-sim.pub")}
}

var (
	hexRE    = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	longHex  = regexp.MustCompile(`\b[0-9a-f]{128,}\b`)
	sizeRE   = regexp.MustCompile(`\d+(\.\d+)? (B|KiB|MiB|GiB)\b`)
	portRE   = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	dateRE   = regexp.MustCompile(`date \d{4}-\d{2}-\d{2}`)
	secondRE = regexp.MustCompile(`"[a-z_]+": \d+\.\d+(e-\d+)?`)
)

// normalize removes what varies between runs: temporary paths, key-dependent
// hashes, sizes that depend on the host's busybox.
func normalize(s, tmp string, k keyFiles) string {
	s = strings.ReplaceAll(s, tmp, "<TMP>")
	s = strings.ReplaceAll(s, filepath.Dir(k.key), "<KEYS>")
	s = longHex.ReplaceAllString(s, "<HEXDATA>")
	s = hexRE.ReplaceAllString(s, "<HASH>")
	s = sizeRE.ReplaceAllString(s, "<SIZE>")
	s = portRE.ReplaceAllString(s, "<REGISTRY>")
	s = dateRE.ReplaceAllString(s, "date <DATE>")
	s = secondRE.ReplaceAllString(s, "<SECONDS>")
	return s
}

func externalSign(t *testing.T, keyFile, in, out string) {
	t.Helper()
	k, err := enclave.LoadPrivateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, sig, 0o644); err != nil {
		t.Fatal(err)
	}
}

// imageRecipe describes a small input image.
type imageRecipe struct {
	Arch   string    `json:"arch"`
	Config v1.Config `json:"config"`
	Files  []struct {
		Path    string `json:"path"`
		Content string `json:"content"`
		From    string `json:"from"` // a host file, e.g. /bin/busybox
		Link    string `json:"link"` // symlink target
		Mode    int64  `json:"mode"`
	} `json:"files"`
}

func prepareInput(t *testing.T, dir, tmp string) string {
	if b, err := os.ReadFile(filepath.Join(dir, "input.bin")); err == nil {
		p := filepath.Join(tmp, "input.tar")
		os.WriteFile(p, b, 0o644)
		return "docker-archive:" + p
	}
	b, err := os.ReadFile(filepath.Join(dir, "image.json"))
	if err != nil {
		return "oci:" + filepath.Join(tmp, "no-input")
	}
	var r imageRecipe
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("image.json: %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range r.Files {
		h := &tar.Header{Name: f.Path, Mode: f.Mode, ModTime: time.Unix(1600000000, 0), Typeflag: tar.TypeReg}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		body := []byte(f.Content)
		if f.From != "" {
			if body, err = os.ReadFile(f.From); err != nil {
				t.Skipf("input needs %s: %v", f.From, err)
			}
		}
		if f.Link != "" {
			h.Typeflag, h.Linkname, body = tar.TypeSymlink, f.Link, nil
		}
		h.Size = int64(len(body))
		tw.WriteHeader(h)
		tw.Write(body)
	}
	tw.Close()
	lb := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(lb)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config = r.Config
	cf.OS, cf.Architecture = "linux", "amd64"
	if r.Arch != "" {
		cf.Architecture = r.Arch
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(tmp, "input")
	lp, err := layout.Write(p, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return "oci:" + p
}
