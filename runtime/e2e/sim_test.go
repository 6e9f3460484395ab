package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scone-build/scone-build/pkg/console"
	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
	"github.com/scone-build/scone-build/pkg/fsprotect"
)

var (
	signerOnce sync.Once
	signerKey  *rsa.PrivateKey
	signerErr  error
)

func signingKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	signerOnce.Do(func() { signerKey, signerErr = enclave.GenerateKey(rand.Reader) })
	if signerErr != nil {
		t.Fatal(signerErr)
	}
	return signerKey
}

// simEnclave is an enclave directory for one program, made the way
// scone-build makes it: protected FS image with the program, measured
// config, SIGSTRUCT over MRENCLAVE(scone-run, config.bin).
type simEnclave struct {
	dir      string
	keyHex   string
	mrsigner string
	keyFile  string // version 1 key file: the key, pinned to mrsigner (docs/keys.md)
	// mrenclave is what sim EINIT measures: the console shield binds its
	// sessions to it.
	mrenclave [32]byte
}

// makeEnclave: an enclave for the program at progPath (and the extra
// files), each in the image at its host path, so the test works with the
// real file-system shield (reads the image) and with the no-shield fallback
// (reads the host).
func makeEnclave(t testing.TB, rt, progPath string, mutate func(*enclave.Config), extra ...string) simEnclave {
	t.Helper()
	var entries []tarEntry
	for _, p := range append([]string{progPath}, extra...) {
		content, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, tarEntry{name: p, content: content})
	}
	return makeEnclaveFiles(t, rt, entries, func(cfg *enclave.Config) {
		cfg.Argv = []string{"prog", "from-config"}
		cfg.Env = []string{"E2E_VAR=from-config"}
		cfg.Entrypoint = progPath
		if mutate != nil {
			mutate(cfg)
		}
	})
}

type tarEntry struct {
	name, link string
	content    []byte
	dir        bool
	mtime      time.Time // zero: the epoch
}

// makeEnclaveFiles makes an enclave directory whose protected FS image
// holds entries (files, symlinks, directories); mutate adjusts the config
// (FSRoot already set) before it is measured and signed.
func makeEnclaveFiles(t testing.TB, rt string, entries []tarEntry, mutate func(*enclave.Config)) simEnclave {
	t.Helper()
	dir := t.TempDir()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, e := range entries {
		h := &tar.Header{Name: strings.TrimPrefix(e.name, "/"), Mode: 0o755, Size: int64(len(e.content)), Typeflag: tar.TypeReg,
			ModTime: e.mtime}
		if e.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		}
		if e.dir {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o1777, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.content)
	}
	tw.Close()
	var fsKey fsprotect.Key
	rand.Read(fsKey[:])
	var img bytes.Buffer
	sum, err := fsprotect.Pack(context.Background(), &img, &tb, fsKey, fsprotect.WithSaltSource([]byte("runtime/e2e tree")))
	if err != nil {
		t.Fatal(err)
	}
	cfg := enclave.DefaultConfig()
	cfg.FSRoot = sum.Root
	if mutate != nil {
		mutate(cfg)
	}
	config, err := cfg.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(rt)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := enclave.Measure(f, config)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := enclave.NewSigStruct(m.MRENCLAVE)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := enclave.NewKeySigner(signingKey(t))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := ss.Sign(context.Background(), signer)
	if err != nil {
		t.Fatal(err)
	}
	mrs, _ := enclave.MRSIGNER(signer.Public())
	for name, b := range map[string][]byte{"fs.img": img.Bytes(), "config.bin": config, "sigstruct.bin": sig} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	kf := filepath.Join(t.TempDir(), "fs.key")
	if err := (&fskey.File{Key: fsKey, Identity: fskey.Identity{MRSIGNER: &mrs}}).Write(kf, false); err != nil {
		t.Fatal(err)
	}
	return simEnclave{dir: dir, keyHex: hex.EncodeToString(fsKey[:]), mrsigner: hex.EncodeToString(mrs[:]), keyFile: kf,
		mrenclave: m.MRENCLAVE}
}

// resign does what someone without the signer key can do to e: take its
// FS image, write a config of their own (mutate), measure it and sign it
// with key, into a new enclave directory.
func resign(t testing.TB, rt string, e simEnclave, key *rsa.PrivateKey, mutate func(*enclave.Config)) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, "config.bin"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := enclave.ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	mutate(cfg)
	config, err := cfg.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(rt)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := enclave.Measure(f, config)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := enclave.NewSigStruct(m.MRENCLAVE)
	if err != nil {
		t.Fatal(err)
	}
	s, err := enclave.NewKeySigner(key)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := ss.Sign(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	img, _ := os.ReadFile(filepath.Join(e.dir, "fs.img"))
	for name, b := range map[string][]byte{"fs.img": img, "config.bin": config, "sigstruct.bin": sig} {
		if err := os.WriteFile(filepath.Join(d, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// key is the enclave's FS key as bytes.
func (e simEnclave) key() fskey.Key {
	var key fskey.Key
	kb, _ := hex.DecodeString(e.keyHex)
	copy(key[:], kb)
	return key
}

// consoleKey is the console key of the enclave's FS key (docs/console.md).
func (e simEnclave) consoleKey(t testing.TB) console.Key {
	t.Helper()
	ck, err := console.DeriveKey(e.key())
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

// env runs e as deployed: the key file that keygen would have written
// (the key and the signer it belongs to).
func (e simEnclave) env(extra ...string) []string {
	return append(append(baseEnv(), "SCONE_ENCLAVE_DIR="+e.dir, "SCONE_FS_KEY_FILE="+e.keyFile, "SCONE_SIM_EXIT_CYCLES=0"), extra...)
}

// bareEnv runs e with the key as 64 hex digits in SCONE_FS_KEY, which names
// no identity.
func (e simEnclave) bareEnv(extra ...string) []string {
	return append(append(baseEnv(), "SCONE_ENCLAVE_DIR="+e.dir, "SCONE_FS_KEY="+e.keyHex, "SCONE_SIM_EXIT_CYCLES=0"), extra...)
}

func TestSimModeRunsVerifiedEnclave(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "hello-glibc-static")
	e := makeEnclave(t, rt, bin, nil)

	got := run(t, e.env(), rt, "host-arg")
	if got.code != 3 {
		t.Fatalf("exit %d, stderr:\n%s\nstdout:\n%s", got.code, got.stderr, got.stdout)
	}
	for _, want := range []string{"argv[1]=from-config\n", "E2E_VAR=from-config\n", "SCONE_MODE=(stripped)\n", "malloc ok"} {
		if !strings.Contains(got.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, got.stdout)
		}
	}
	if strings.Contains(got.stdout, "host-arg") {
		t.Errorf("host argument reached the application although HostArgs is off")
	}

	// A bare key (64 hex digits, in a file or SCONE_FS_KEY) with the signer
	// named by the deployer.
	kf := filepath.Join(t.TempDir(), "fs.key")
	os.WriteFile(kf, []byte(e.keyHex+"\n"), 0o600)
	env := append(baseEnv(), "SCONE_ENCLAVE_DIR="+e.dir, "SCONE_FS_KEY_FILE="+kf, "SCONE_EXPECTED_MRSIGNER="+e.mrsigner)
	if got := run(t, env, rt); got.code != 3 {
		t.Fatalf("bare key file with SCONE_EXPECTED_MRSIGNER: exit %d, stderr:\n%s", got.code, got.stderr)
	}
	if got := run(t, e.bareEnv("SCONE_EXPECTED_MRSIGNER="+e.mrsigner), rt); got.code != 3 {
		t.Fatalf("SCONE_FS_KEY with SCONE_EXPECTED_MRSIGNER: exit %d, stderr:\n%s", got.code, got.stderr)
	}
}

// TestSimModeKeyIdentity: the FS key goes only to the enclave its owner
// expects (issue 11, finding 1). The attack: someone without the signer key
// writes a config of their own around the same FS image (console shield
// off, another program), measures and signs it with a fresh key; the
// unmodified runtime, given the deployer's key, must refuse.
func TestSimModeKeyIdentity(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "hello-glibc-static")
	e := makeEnclave(t, rt, bin, nil) // SIGSTRUCT ISVPRODID 0, ISVSVN 0
	attacker, err := enclave.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	forged := resign(t, rt, e, attacker, func(c *enclave.Config) { c.Argv = []string{"prog", "forged"} })
	mrs, _ := hex.DecodeString(e.mrsigner)
	pin := func(t *testing.T, id fskey.Identity) string {
		var k fskey.Key
		hb, _ := hex.DecodeString(e.keyHex)
		copy(k[:], hb)
		p := filepath.Join(t.TempDir(), "fs.key")
		if err := (&fskey.File{Key: k, Identity: id}).Write(p, false); err != nil {
			t.Fatal(err)
		}
		return p
	}
	signer := [32]byte(mrs)
	u16 := func(v uint16) *uint16 { return &v }
	raw := filepath.Join(t.TempDir(), "raw.key")
	os.WriteFile(raw, []byte("correct horse battery staple 123"), 0o600)
	withDir := func(env []string, dir string) []string { return append(env, "SCONE_ENCLAVE_DIR="+dir) }
	cases := []struct {
		name string
		env  []string
		code int
		msg  string // on stderr; "" for a run that succeeds
	}{
		{"key file of the signer", e.env(), 3, ""},
		{"re-signed by someone else, key file", withDir(e.env(), forged), 77, "MRSIGNER"},
		{"re-signed by someone else, bare key and SCONE_EXPECTED_MRSIGNER", withDir(e.bareEnv("SCONE_EXPECTED_MRSIGNER="+e.mrsigner), forged), 77, "MRSIGNER"},
		{"re-signed by someone else, bare key", withDir(e.bareEnv(), forged), 77, "names no enclave identity"},
		{"bare key without an identity", e.bareEnv(), 77, "names no enclave identity"},
		{"bare key, development switch", e.bareEnv("SCONE_ALLOW_ANY_SIGNER=1"), 3, ""},
		{"ISVSVN below the key's minimum", append(baseEnv(), "SCONE_ENCLAVE_DIR="+e.dir, "SCONE_FS_KEY_FILE="+pin(t, fskey.Identity{MRSIGNER: &signer, MinISVSVN: u16(1)})), 77, "ISVSVN"},
		{"ISVPRODID not the key's", append(baseEnv(), "SCONE_ENCLAVE_DIR="+e.dir, "SCONE_FS_KEY_FILE="+pin(t, fskey.Identity{MRSIGNER: &signer, ISVProdID: u16(9)})), 77, "ISVPRODID"},
		{"MRENCLAVE not listed", append(baseEnv(), "SCONE_ENCLAVE_DIR="+e.dir, "SCONE_FS_KEY_FILE="+pin(t, fskey.Identity{MRENCLAVE: [][32]byte{{1}}})), 77, "MRENCLAVE"},
		{"key file and SCONE_EXPECTED_MRSIGNER disagree", e.env("SCONE_EXPECTED_MRSIGNER=" + strings.Repeat("ab", 32)), 77, "SCONE_EXPECTED"},
		{"32-byte passphrase as key file", append(baseEnv(), "SCONE_ENCLAVE_DIR="+e.dir, "SCONE_FS_KEY_FILE="+raw), 77, "raw binary keys are not accepted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := run(t, c.env, rt)
			if got.code != c.code || (c.msg != "" && !strings.Contains(got.stderr, c.msg)) {
				t.Fatalf("want exit %d with %q; got exit %d\nstderr: %s\nstdout: %s", c.code, c.msg, got.code, got.stderr, got.stdout)
			}
			if c.msg != "" && strings.Contains(got.stdout, "argv[") {
				t.Fatalf("the application ran: %s", got.stdout)
			}
		})
	}
}

func TestSimModeHostPolicy(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "hello-glibc-static")
	e := makeEnclave(t, rt, bin, func(c *enclave.Config) {
		c.HostArgs = true
		c.HostEnv = []string{"E2E_VAR"}
	})
	got := run(t, e.env(), rt, "host-arg")
	if got.code != 3 || !strings.Contains(got.stdout, "argv[1]=host-arg\n") || !strings.Contains(got.stdout, "E2E_VAR=from-host\n") {
		t.Fatalf("host args/env not honoured: exit %d\n%s\n%s", got.code, got.stdout, got.stderr)
	}
}

func TestSimModeRefusesBadEnclaves(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "hello-glibc-static")
	e := makeEnclave(t, rt, bin, nil)
	other := makeEnclave(t, rt, bin, func(c *enclave.Config) { c.Env = []string{"E2E_VAR=other"} })

	copyDir := func(t *testing.T, src string) string {
		d := t.TempDir()
		for _, n := range []string{"fs.img", "config.bin", "sigstruct.bin"} {
			b, _ := os.ReadFile(filepath.Join(src, n))
			os.WriteFile(filepath.Join(d, n), b, 0o644)
		}
		return d
	}
	flip := func(path string, off int) {
		b, _ := os.ReadFile(path)
		if off < 0 {
			off += len(b)
		}
		b[off] ^= 1
		os.WriteFile(path, b, 0o644)
	}
	cases := []struct {
		name  string
		setup func(t *testing.T) []string
		code  int
		msg   string
	}{
		{"config from another enclave", func(t *testing.T) []string {
			d := copyDir(t, e.dir)
			b, _ := os.ReadFile(filepath.Join(other.dir, "config.bin"))
			os.WriteFile(filepath.Join(d, "config.bin"), b, 0o644)
			return e.env("SCONE_ENCLAVE_DIR=" + d)
		}, 78, "MRENCLAVE mismatch"},
		{"tampered config", func(t *testing.T) []string {
			d := copyDir(t, e.dir)
			flip(filepath.Join(d, "config.bin"), -3)
			return e.env("SCONE_ENCLAVE_DIR=" + d)
		}, 78, "sim EINIT failed"},
		{"tampered signature", func(t *testing.T) []string {
			d := copyDir(t, e.dir)
			flip(filepath.Join(d, "sigstruct.bin"), 600)
			return e.env("SCONE_ENCLAVE_DIR=" + d)
		}, 78, "SIGSTRUCT"},
		{"wrong signer", func(t *testing.T) []string {
			return e.bareEnv("SCONE_EXPECTED_MRSIGNER=" + strings.Repeat("ab", 32))
		}, 77, "MRSIGNER"},
		{"no key", func(t *testing.T) []string {
			return append(baseEnv(), "SCONE_ENCLAVE_DIR="+e.dir)
		}, 77, "no FS key"},
		{"malformed key", func(t *testing.T) []string {
			return append(baseEnv(), "SCONE_ENCLAVE_DIR="+e.dir, "SCONE_FS_KEY=1234")
		}, 77, "SCONE_FS_KEY"},
		{"wrong key", func(t *testing.T) []string {
			return append(baseEnv(), "SCONE_ENCLAVE_DIR="+e.dir, "SCONE_FS_KEY_FILE="+other.keyFile)
		}, 77, "wrong FS key"},
		{"fs image from another enclave", func(t *testing.T) []string {
			d := copyDir(t, e.dir)
			b, _ := os.ReadFile(filepath.Join(other.dir, "fs.img"))
			os.WriteFile(filepath.Join(d, "fs.img"), b, 0o644)
			return append(baseEnv(), "SCONE_ENCLAVE_DIR="+d, "SCONE_FS_KEY_FILE="+other.keyFile)
		}, 78, "rejected"},
		{"hw mode", func(t *testing.T) []string { return e.env("SCONE_MODE=hw") }, 78, "hardware mode is not supported yet"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := run(t, c.setup(t), rt)
			if got.code != c.code || !strings.Contains(got.stderr, c.msg) {
				t.Fatalf("want exit %d with %q; got exit %d\nstderr: %s\nstdout: %s", c.code, c.msg, got.code, got.stderr, got.stdout)
			}
			if strings.Contains(got.stdout, "argv[") {
				t.Fatalf("the application ran: %s", got.stdout)
			}
		})
	}
}

func TestSimModeThreadLimit(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "threads-glibc-static")
	ok := makeEnclave(t, rt, bin, func(c *enclave.Config) { c.MaxThreads = 9 })
	if got := run(t, ok.env(), rt); got.code != 0 || !strings.Contains(got.stdout, "sum=16000") {
		t.Fatalf("8 threads + main with max_threads 9: exit %d\n%s\n%s", got.code, got.stdout, got.stderr)
	}
	small := makeEnclave(t, rt, bin, func(c *enclave.Config) { c.MaxThreads = 4 })
	got := run(t, small.env(), rt)
	if got.code != 1 || !strings.Contains(got.stdout, "pthread_create failed") || !strings.Contains(got.stderr, "thread limit of the enclave reached") {
		t.Fatalf("thread limit not enforced: exit %d\n%s\n%s", got.code, got.stdout, got.stderr)
	}
}

// The config's heap bounds each process's memory as an enclave's size
// would (runtime/src/core/heap.h).
func TestSimModeHeapLimit(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "heap-static")
	for _, heapMiB := range []int{64, 200} {
		t.Run(fmt.Sprintf("%dMiB", heapMiB), func(t *testing.T) {
			e := makeEnclave(t, rt, bin, func(c *enclave.Config) { c.HeapSize = uint64(heapMiB) << 20 })
			got := run(t, e.env(), rt)
			if got.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", got.code, got.stdout, got.stderr)
			}
			kv := map[string]string{}
			for _, f := range strings.Fields(got.stdout) {
				if k, v, ok := strings.Cut(f, "="); ok {
					kv[k] = v
				}
			}
			num := func(k string) int {
				n, err := strconv.Atoi(kv[k])
				if err != nil {
					t.Fatalf("%s: %q not a number\n%s", k, kv[k], got.stdout)
				}
				return n
			}
			want := strconv.Itoa(heapMiB)
			if kv["rlimit_cur"] != want || kv["rlimit_max"] != want || kv["totalram"] != want {
				t.Errorf("RLIMIT_DATA and sysinfo should show the heap (%s MiB):\n%s", want, got.stdout)
			}
			// what libc allocates at start-up counts too: a few MiB
			if m := num("mapped"); m < heapMiB-8 || m > heapMiB || kv["err"] != "Cannot" {
				t.Errorf("mapped %d MiB before %q, want ENOMEM just under %d MiB\n%s", m, kv["err"], heapMiB, got.stdout)
			}
			if kv["reserve"] != "ok" || kv["commit"] != "Cannot" {
				t.Errorf("PROT_NONE reservations should not count, making them writable should:\n%s", got.stdout)
			}
			if kv["raise"] != "Operation" || kv["lower"] != "ok" {
				t.Errorf("RLIMIT_DATA: raising past the heap must fail with EPERM, lowering work:\n%s", got.stdout)
			}
			if r := num("lowered_ratio"); r < 40 || r > 55 {
				t.Errorf("half the limit gave %d%% of the memory\n%s", r, got.stdout)
			}
			if r := num("child_ratio"); r < 90 || r > 101 {
				t.Errorf("a forked child (holding its parent's copy) reached %d%% of the heap\n%s", r, got.stdout)
			}
			if !strings.Contains(got.stderr, "heap ("+want+" MiB) is used up") || !strings.Contains(got.stderr, "--heap") {
				t.Errorf("no message naming --heap:\n%s", got.stderr)
			}
			// the first ENOMEM (mprotect of an unmapped page) is not the heap's
			if kv["unmapped_mprotect"] != "Cannot" || !strings.Contains(got.stderr, "mmap failed with ENOMEM") {
				t.Errorf("the message must name the call that hit the heap, not an earlier ENOMEM:\n%s\n%s", got.stdout, got.stderr)
			}
		})
	}
}

func TestSimModeIdentityFromConfig(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "ids-static")
	root := makeEnclave(t, rt, bin, func(c *enclave.Config) { c.UID, c.GID = 0, 0 })
	got := run(t, root.env(), rt)
	want := "uid=0 euid=0 gid=0 egid=0\nsetgroups=0 getgroups=3: 10 20 30 count=3 small=22\nsetgid(4321)=0 gid=4321\nsetuid(1234)=0 uid=1234 euid=1234\nsetuid(0)=-1 Operation not permitted uid=1234\n"
	if got.code != 0 || got.stdout != want {
		t.Fatalf("root config: exit %d\n%s\nwant:\n%s\nstderr: %s", got.code, got.stdout, want, got.stderr)
	}
	user := makeEnclave(t, rt, bin, func(c *enclave.Config) { c.UID, c.GID = 123, 456 })
	got = run(t, user.env(), rt)
	want = "uid=123 euid=123 gid=456 egid=456\nsetgroups=-1 getgroups=0: count=0 small=0\nsetgid(4321)=-1 gid=456\nsetuid(1234)=-1 uid=123 euid=123\nsetuid(0)=-1 Operation not permitted uid=123\n"
	if got.code != 0 || got.stdout != want {
		t.Fatalf("user config: exit %d\n%s\nwant:\n%s\nstderr: %s", got.code, got.stdout, want, got.stderr)
	}
}

// TestSimModeScriptAndPath: the config's argv[0] is found like execvp does
// (PATH from the config env) and a "#!" script runs its interpreter.
func TestSimModeScriptAndPath(t *testing.T) {
	rt := runtimeBin(t)
	hello := prog(t, "hello-glibc-static")
	dir := t.TempDir()
	script := writeScript(t, dir, "entry.sh", "#!"+hello+" from-shebang\n")
	e := makeEnclave(t, rt, script, func(c *enclave.Config) {
		c.Argv = []string{"entry.sh", "arg1"}
		c.Env = []string{"PATH=/nonexistent:" + dir, "E2E_VAR=from-config"}
		c.Entrypoint = hello
	}, hello)
	got := run(t, e.env(), rt)
	want := "argv[0]=(prog)\nargv[1]=from-shebang\nargv[2]=" + script + "\nargv[3]=arg1\nE2E_VAR=from-config\n"
	if got.code != 3 || !strings.HasPrefix(got.stdout, want) {
		t.Fatalf("exit %d\nstdout:\n%s\nwant prefix:\n%s\nstderr: %s", got.code, got.stdout, want, got.stderr)
	}
}

// TestRefusedCallsAreNamed: a system call the enclave does not support gets
// its errno and, once per call, one line on stderr naming it and why.
func TestRefusedCallsAreNamed(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "refuse-static")
	e := makeEnclave(t, rt, bin, nil)
	got := run(t, e.env(), rt)
	want := strings.Repeat("io_uring_setup: -1 ENOSYS\nio_setup: -1 ENOSYS\ngetdents: -1 ENOSYS\n", 2)
	if got.code != 0 || got.stdout != want {
		t.Fatalf("exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", got.code, got.stdout, want, got.stderr)
	}
	for _, name := range []string{"io_uring_setup", "io_setup", "getdents"} {
		prefix := "scone-run: " + name + " refused with ENOSYS: "
		if n := strings.Count(got.stderr, prefix); n != 1 {
			t.Errorf("stderr names %s %d times, want once:\n%s", name, n, got.stderr)
		}
	}
}

// TestSimModeRemapsPristineCopies: a file of the protected FS mapped whole,
// then page by page MAP_FIXED over that mapping (as dynamic loaders map
// their segments), keeps the copy it has where nothing could have changed
// it (core/vma.c), and reads the file again after a write through
// mprotect, through a writable mapping, after madvise, at another offset
// and after munmap: as natively.
func TestSimModeRemapsPristineCopies(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "remap-static")
	native := run(t, baseEnv(), bin, bin)
	if native.code != 0 || strings.Count(native.stdout, "DIFFERS") != 0 || strings.Count(native.stdout, "file") != 12 {
		t.Fatalf("natively: exit %d\n%s%s", native.code, native.stdout, native.stderr)
	}
	e := makeEnclave(t, rt, bin, func(cfg *enclave.Config) { cfg.Argv = []string{"remap", bin} })
	for _, env := range [][]string{e.env(), e.env("SCONE_FASTPATH=0")} {
		got := run(t, env, rt)
		if got.code != native.code || got.stdout != native.stdout {
			t.Errorf("%v: exit %d\n%s%s\nnatively:\n%s", env[len(env)-1], got.code, got.stdout, got.stderr, native.stdout)
		}
	}
}
