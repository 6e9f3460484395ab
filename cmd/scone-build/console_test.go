package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/internal/consoletest"
	"github.com/scone-build/scone-build/pkg/console"
	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
	"github.com/scone-build/scone-build/pkg/imageref"
	"github.com/scone-build/scone-build/pkg/inspect"
	"github.com/scone-build/scone-build/pkg/runtimebin"
)

func fx(n string) string { return filepath.Join("..", "..", "testdata", "console", n) }

func readFx(t *testing.T, n string) []byte {
	t.Helper()
	b, err := os.ReadFile(fx(n))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type cliCase struct {
	name     string
	args     []string
	stdin    []byte
	code     int
	stdout   string
	errMatch string
}

// runCLICases runs each case and checks its exit code, stdout, a piece of
// stderr, and that an error names a fix.
func runCLICases(t *testing.T, tests []cliCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, bytes.NewReader(tt.stdin), &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, errb.String())
			}
			if out.String() != tt.stdout {
				t.Fatalf("stdout = %q, want %q", out.String(), tt.stdout)
			}
			if !strings.Contains(errb.String(), tt.errMatch) {
				t.Fatalf("stderr %q does not contain %q", errb.String(), tt.errMatch)
			}
			if code != exitOK && code != exitUsage && !strings.Contains(errb.String(), "hint: ") {
				t.Fatalf("error without a fix-it hint:\n%s", errb.String())
			}
		})
	}
}

func TestConsoleDecryptCLI(t *testing.T) {
	want := string(readFx(t, "stdout.txt"))
	good := readFx(t, "stdout.bin")
	denied := string(readFx(t, "denied.txt"))
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.key")
	os.WriteFile(badKey, []byte("not a key"), 0o600)
	otherKey := filepath.Join(dir, "other.key")
	os.WriteFile(otherKey, bytes.Repeat([]byte("ab"), 32), 0o600)
	tampered := filepath.Join(dir, "tampered.bin")
	tb := bytes.Clone(good)
	tb[140] ^= 1
	os.WriteFile(tampered, tb, 0o600)
	truncated := filepath.Join(dir, "truncated.bin")
	os.WriteFile(truncated, good[:len(good)-3], 0o600)
	a := strings.Repeat("aa", 32)
	fk, ck := fx("key.hex"), fx("console.key")
	dec := func(args ...string) []string { return append([]string{"console", "decrypt"}, args...) }

	runCLICases(t, []cliCase{
		{"file, FS key", dec("--fs-key", fk, fx("stdout.bin")), nil, exitOK, want, "written by MRENCLAVE " + a},
		{"file, console key", dec("--console-key", ck, fx("stdout.bin")), nil, exitOK, want, "pass --mrenclave or --image"},
		{"stdin", dec("--console-key", ck), good, exitOK, want, ""},
		{"dash", dec("--console-key", ck, "-"), good, exitOK, want, ""},
		{"expected enclave", dec("--console-key", ck, "--mrenclave", a, fx("denied.bin")), nil, exitOK, denied, ""},
		{"stderr log", dec("--console-key", ck, "--stream", "stderr", "--mrenclave", a, fx("stderr.bin")), nil, exitOK, string(readFx(t, "stderr.txt")), ""},
		// security finding 7: each of these decoded with exit 0 before
		{"another image's GRANTED session spliced in", dec("--console-key", ck, fx("splice-other-image.bin")), nil, exitVerification, denied, "another enclave"},
		{"another run's session spliced in", dec("--console-key", ck, "--mrenclave", a, fx("splice-other-run.bin")), nil, exitVerification, denied, "another run"},
		{"stderr appended to stdout", dec("--console-key", ck, fx("stream-swap.bin")), nil, exitVerification, denied, "--stream stderr"},
		{"stderr log as stdout", dec("--console-key", ck, fx("stderr.bin")), nil, exitVerification, "", "a stderr session in a log expected to hold stdout"},
		{"stdout log as stderr", dec("--console-key", ck, "--stream", "stderr", fx("stdout.bin")), nil, exitVerification, "", "a stdout session"},
		{"another enclave expected", dec("--console-key", ck, "--mrenclave", strings.Repeat("bb", 32), fx("denied.bin")), nil, exitVerification, "", "expected " + strings.Repeat("bb", 32)},
		{"replayed session", dec("--console-key", ck, fx("replayed-session.bin")), nil, exitVerification, want, "appears twice"},
		{"log without its start", dec("--console-key", ck, fx("child-first.bin")), nil, exitVerification, "", "beginning is missing"},
		{"version 1 log", dec("--fs-key", fk, fx("v1.bin")), nil, exitBadInput, "", "version 1 logs are refused"},
		{"no key", dec(fx("stdout.bin")), nil, exitUsage, "", "--console-key or --fs-key is required"},
		{"both keys", dec("--console-key", ck, "--fs-key", fk, fx("stdout.bin")), nil, exitUsage, "", "exclude each other"},
		{"bad stream", dec("--console-key", ck, "--stream", "both", fx("stdout.bin")), nil, exitUsage, "", "want stdout or stderr"},
		{"bad mrenclave", dec("--console-key", ck, "--mrenclave", "abc", fx("stdout.bin")), nil, exitUsage, "", "64 hex digits"},
		{"mrenclave and image", dec("--console-key", ck, "--mrenclave", a, "--image", "oci:x", fx("stdout.bin")), nil, exitUsage, "", "exclude each other"},
		{"FS key as console key", dec("--console-key", fk, fx("stdout.bin")), nil, exitKey, "", "this is an FS key file"},
		{"console key as FS key", dec("--fs-key", ck, fx("stdout.bin")), nil, exitKey, "", "not an FS key file"},
		{"bad key", dec("--fs-key", badKey, fx("stdout.bin")), nil, exitKey, "", "not an FS key file"},
		{"bad console key", dec("--console-key", badKey, fx("stdout.bin")), nil, exitKey, "", "not a console key file"},
		{"missing key", dec("--fs-key", filepath.Join(dir, "nope"), fx("stdout.bin")), nil, exitKey, "", "reading FS key file"},
		{"missing console key", dec("--console-key", filepath.Join(dir, "nope"), fx("stdout.bin")), nil, exitKey, "", "read console key file"},
		{"wrong key", dec("--fs-key", otherKey, fx("stdout.bin")), nil, exitVerification, "", "authentication"},
		{"tampered", dec("--console-key", ck, tampered), nil, exitVerification, "", "authentication"},
		{"truncated", dec("--console-key", ck, truncated), nil, exitVerification, want, "truncated"},
		{"not a stream", dec("--console-key", ck, fx("stdout.txt")), nil, exitBadInput, "", "not a console"},
		{"missing input", dec("--console-key", ck, filepath.Join(dir, "nope")), nil, exitIO, "", "open console stream"},
		{"two inputs", dec("--console-key", ck, "a", "b"), nil, exitUsage, "", ""},
	})
}

// TestConsoleKeyCLI: 'console key' writes the console key file of the
// vectors' FS key; the file decrypts the logs and does not open the FS.
func TestConsoleKeyCLI(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "console.key")
	ckFile := string(readFx(t, "console.key"))
	runCLICases(t, []cliCase{
		{"to stdout", []string{"console", "key", "--fs-key", fx("key.hex")}, nil, exitOK, ckFile, ""},
		{"to a file", []string{"console", "key", "--fs-key", fx("key.hex"), "--out", out}, nil, exitOK, "console key  " + out + "\n", ""},
		{"existing file", []string{"console", "key", "--fs-key", fx("key.hex"), "--out", out}, nil, exitIO, "", "--force"},
		{"existing file, --force", []string{"console", "key", "--fs-key", fx("key.hex"), "--out", out, "--force"}, nil, exitOK, "console key  " + out + "\n", ""},
		{"decrypts", []string{"console", "decrypt", "--console-key", out, fx("denied.bin")}, nil, exitOK, "result=DENIED\n", ""},
		{"no FS key", []string{"console", "key"}, nil, exitUsage, "", "--fs-key is required"},
		{"a console key is no FS key", []string{"console", "key", "--fs-key", out}, nil, exitKey, "", "not an FS key file"},
	})
	got, err := os.ReadFile(out)
	if err != nil || string(got) != ckFile {
		t.Fatalf("written key file %q, %v", got, err)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	// testdata/fsprotect/ok.img is made with the vectors' FS key: the FS
	// key opens it, the console key (as its file, or as a bare key) not.
	ck, err := console.ParseKeyFile(got)
	if err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(dir, "bare.key")
	os.WriteFile(bare, []byte(fskey.Key(ck).String()+"\n"), 0o600)
	img := filepath.Join("..", "..", "testdata", "fsprotect", "ok.img")
	for _, tt := range []cliCase{
		{"the FS key opens the FS", []string{"fs", "ls", img, "--fs-key", fx("key.hex")}, nil, exitOK, "", ""},
		{"the console key file does not open the FS", []string{"fs", "ls", img, "--fs-key", out}, nil, exitKey, "", "not an FS key file"},
		{"nor does the console key as a bare key", []string{"fs", "ls", img, "--fs-key", bare}, nil, exitKey, "", "wrong FS key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var o, e bytes.Buffer
			if code := run(context.Background(), tt.args, nil, &o, &e); code != tt.code || !strings.Contains(e.String(), tt.errMatch) {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, e.String())
			}
		})
	}
}

// TestConsoleDecryptImage: --image takes the expected MRENCLAVE from a
// converted image, measured from its runtime and config.
func TestConsoleDecryptImage(t *testing.T) {
	if _, err := runtimebin.Binary(runtimebin.Run); err != nil {
		t.Skip("runtime not embedded: run `make runtime` first (make test does)")
	}
	keys := cliKeys(t)
	tmp := t.TempDir()
	in := prepareInput(t, filepath.Join("testdata", "cli", "convert"), tmp)
	conv := "oci:" + filepath.Join(tmp, "out") + ":v1"
	var o, e bytes.Buffer
	if code := run(context.Background(), []string{"convert", in, conv, "--key", keys.key, "--fs-key", keys.fs, "--console-shield"},
		nil, &o, &e); code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, e.String())
	}
	r, err := imageref.Parse(conv, false)
	if err != nil {
		t.Fatal(err)
	}
	img, err := imageref.Open(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	im, err := inspect.Load(img)
	if err != nil {
		t.Fatal(err)
	}
	m, err := enclave.Measure(bytes.NewReader(im.Run), im.ConfigBin)
	if err != nil {
		t.Fatal(err)
	}
	kf, err := fskey.Load(keys.fs)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := console.DeriveKey(kf.Key)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := consoletest.Whole(ck, console.Stdout, consoletest.Root(m.MRENCLAVE, [16]byte{1}), "from this image\n")
	if err != nil {
		t.Fatal(err)
	}
	other, err := consoletest.Whole(ck, console.Stdout, consoletest.Root([32]byte{9}, [16]byte{2}), "from another\n")
	if err != nil {
		t.Fatal(err)
	}
	dec := []string{"console", "decrypt", "--fs-key", keys.fs, "--image", conv}
	runCLICases(t, []cliCase{
		{"this image's log", dec, ours, exitOK, "from this image\n", ""},
		{"another image's log", dec, other, exitVerification, "", "another enclave"},
		{"not a converted image", []string{"console", "decrypt", "--fs-key", keys.fs, "--image", in}, ours, exitBadInput, "", "not a scone-build image"},
	})
}
