package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConsoleDecryptCLI(t *testing.T) {
	fx := func(n string) string { return filepath.Join("..", "..", "testdata", "console", n) }
	want, err := os.ReadFile(fx("stdout.txt"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(fx("stdout.bin"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.key")
	os.WriteFile(badKey, []byte("not a key"), 0o600)
	otherKey := filepath.Join(dir, "other.key")
	os.WriteFile(otherKey, bytes.Repeat([]byte("ab"), 32), 0o600)
	tampered := filepath.Join(dir, "tampered.bin")
	tb := bytes.Clone(good)
	tb[40] ^= 1
	os.WriteFile(tampered, tb, 0o600)
	truncated := filepath.Join(dir, "truncated.bin")
	os.WriteFile(truncated, good[:len(good)-3], 0o600)

	tests := []struct {
		name     string
		args     []string
		stdin    []byte
		code     int
		stdout   string
		errMatch string
	}{
		{"file", []string{"console", "decrypt", "--fs-key", fx("key.hex"), fx("stdout.bin")}, nil, exitOK, string(want), ""},
		{"stdin", []string{"console", "decrypt", "--fs-key", fx("key.hex")}, good, exitOK, string(want), ""},
		{"dash", []string{"console", "decrypt", "--fs-key", fx("key.hex"), "-"}, good, exitOK, string(want), ""},
		{"no key", []string{"console", "decrypt", fx("stdout.bin")}, nil, exitUsage, "", "--fs-key is required"},
		{"bad key", []string{"console", "decrypt", "--fs-key", badKey, fx("stdout.bin")}, nil, exitKey, "", "not an FS key file"},
		{"missing key", []string{"console", "decrypt", "--fs-key", filepath.Join(dir, "nope"), fx("stdout.bin")}, nil, exitKey, "", "reading FS key file"},
		{"wrong key", []string{"console", "decrypt", "--fs-key", otherKey, fx("stdout.bin")}, nil, exitVerification, "", "authentication"},
		{"tampered", []string{"console", "decrypt", "--fs-key", fx("key.hex"), tampered}, nil, exitVerification, "", "authentication"},
		{"truncated", []string{"console", "decrypt", "--fs-key", fx("key.hex"), truncated}, nil, exitVerification, string(want), "truncated"},
		{"not a stream", []string{"console", "decrypt", "--fs-key", fx("key.hex"), fx("stdout.txt")}, nil, exitBadInput, "", "not a console"},
		{"missing input", []string{"console", "decrypt", "--fs-key", fx("key.hex"), filepath.Join(dir, "nope")}, nil, exitIO, "", "open console stream"},
		{"two inputs", []string{"console", "decrypt", "--fs-key", fx("key.hex"), "a", "b"}, nil, exitUsage, "", ""},
	}
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
		})
	}
}
