package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/fskey"
	"github.com/scone-build/scone-build/pkg/volume"
)

func TestVolumeCommands(t *testing.T) {
	dir := t.TempDir()
	fk := fskey.Key{1, 2, 3}
	keyFile := filepath.Join(dir, "fs.key")
	if err := os.WriteFile(keyFile, []byte(fk.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vk, err := volume.DeriveKey(fk, "/var/lib/app")
	if err != nil {
		t.Fatal(err)
	}
	vdir := filepath.Join(dir, "vol")
	v, err := volume.Create(vdir, vk, volume.WithMountPath("/var/lib/app"))
	if err != nil {
		t.Fatal(err)
	}
	v.Mkdir("db", 0o755)
	v.WriteFile("db/data.txt", []byte("hello from the volume\n"), 0o600)
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	otherKey := filepath.Join(dir, "other.key")
	os.WriteFile(otherKey, []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	out := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"ls", []string{"volume", "ls", vdir, "--fs-key", keyFile}, 0, "db/data.txt"},
		{"cat", []string{"volume", "cat", vdir, "db/data.txt", "--fs-key", keyFile}, 0, "hello from the volume"},
		{"cat by container path", []string{"volume", "cat", vdir, "/var/lib/app/db/data.txt", "--fs-key", keyFile}, 0, "hello from the volume"},
		{"cat with the volume key", []string{"volume", "cat", vdir, "db/data.txt", "--volume-key", hex.EncodeToString(vk[:])}, 0, "hello"},
		{"verify", []string{"volume", "verify", vdir, "--fs-key", keyFile}, 0, "ok: every page"},
		{"export", []string{"volume", "export", vdir, out, "--fs-key", keyFile}, 0, "exported"},
		{"wrong key", []string{"volume", "ls", vdir, "--fs-key", otherKey}, exitKey, "another key"},
		{"wrong path", []string{"volume", "ls", vdir, "--fs-key", keyFile, "--path", "/data"}, exitKey, "another key"},
		{"no key", []string{"volume", "ls", vdir}, exitUsage, "--fs-key or --volume-key"},
		{"missing file", []string{"volume", "cat", vdir, "nope", "--fs-key", keyFile}, exitUsage, "no such file"},
		{"not a volume", []string{"volume", "ls", dir, "--fs-key", keyFile}, exitBadInput, "not a protected volume"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(out, "db", "data.txt")); err != nil || string(b) != "hello from the volume\n" {
		t.Fatalf("exported file: %q %v", b, err)
	}
	// A modified page: verify exits 4.
	pages, _ := filepath.Glob(filepath.Join(vdir, "f", "*"))
	b, _ := os.ReadFile(pages[0])
	b[len(b)-1] ^= 1
	os.WriteFile(pages[0], b, 0o600)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"volume", "verify", vdir, "--fs-key", keyFile}, strings.NewReader(""), &stdout, &stderr); code != exitVerification {
		t.Fatalf("verify of a modified volume: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "db/data.txt") {
		t.Fatalf("the error does not name the file: %s", stderr.String())
	}
}
