package console

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/fskey"
)

// The console key file of the vectors (written by the C test) is what
// MarshalFile writes for the derived key, and parses back to it.
func TestKeyFileVector(t *testing.T) {
	key := fixtureKey(t)
	b := fixture(t, "console.key")
	if !bytes.Equal(key.MarshalFile(), b) {
		t.Fatalf("MarshalFile:\n%s\nthe C writer's console.key:\n%s", key.MarshalFile(), b)
	}
	got, err := ParseKeyFile(b)
	if err != nil || got != key {
		t.Fatalf("ParseKeyFile(console.key) = %x, %v", got, err)
	}
}

func TestParseKeyFile(t *testing.T) {
	const hexKey = "4a9a2645e1dcd02762f45b08eaef7f28f0a6080dedadf156a7736420e79445a6"
	fsFile, err := (&fskey.File{Key: fskey.Key{1}, Identity: fskey.Identity{MRSIGNER: &[32]byte{2}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, in string
		err      string // "" when valid
	}{
		{"minimal", "scone-console-key v1\nkey " + hexKey + "\n", ""},
		{"comments, blank lines, CRLF, upper case", "# c\r\n\r\nscone-console-key v1\r\n# k\r\nkey " + strings.ToUpper(hexKey) + "\r\n\n", ""},
		{"empty", "", "empty file"},
		{"no newline at the end", "scone-console-key v1\nkey " + hexKey, "newline"},
		{"NUL byte", "scone-console-key v1\nkey " + hexKey + "\n\x00\n", "NUL"},
		{"too large", "scone-console-key v1\nkey " + hexKey + "\n" + strings.Repeat("#\n", 600), "more than"},
		{"version 2", "scone-console-key v2\nkey " + hexKey + "\n", `version "v2" is not supported`},
		{"no magic", "key " + hexKey + "\n", `want "scone-console-key v1"`},
		{"only comments", "# nothing\n", `want "scone-console-key v1"`},
		{"no key", "scone-console-key v1\n", "no key line"},
		{"key twice", "scone-console-key v1\nkey " + hexKey + "\nkey " + hexKey + "\n", "twice"},
		{"short key", "scone-console-key v1\nkey " + hexKey[2:] + "\n", "64 hex digits"},
		{"non-hex key", "scone-console-key v1\nkey " + strings.Repeat("zz", 32) + "\n", "64 hex digits"},
		{"two blanks", "scone-console-key v1\nkey  " + hexKey + "\n", "64 hex digits"},
		{"unknown field", "scone-console-key v1\nkey " + hexKey + "\nmrenclave " + hexKey + "\n", "nothing else"},
		{"an FS key file", string(fsFile), "this is an FS key file"},
		{"a bare FS key", hexKey + "\n", "this is an FS key file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKeyFile([]byte(tt.in))
			if tt.err == "" {
				if err != nil || hex.EncodeToString(k[:]) != hexKey {
					t.Fatalf("got %x, %v", k, err)
				}
				return
			}
			if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want ErrKeyFile with %q", err, tt.err)
			}
		})
	}
}

func TestKeyWriteLoad(t *testing.T) {
	key := fixtureKey(t)
	p := filepath.Join(t.TempDir(), "console.key")
	if err := key.WriteFile(p, false); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", st.Mode(), err)
	}
	if err := key.WriteFile(p, false); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("overwrote without asking: %v", err)
	}
	got, err := LoadKey(p)
	if err != nil || got != key {
		t.Fatalf("LoadKey = %x, %v", got, err)
	}
	if _, err := LoadKey(filepath.Join(vectorDir, "key.hex")); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("LoadKey(FS key) = %v", err)
	}
	if _, err := LoadKey(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadKey(missing) = %v", err)
	}
}

func FuzzParseKeyFile(f *testing.F) {
	f.Add(fixture(f, "console.key"))
	f.Add(fixture(f, "key.hex"))
	f.Add([]byte("scone-console-key v1\r\nkey 00\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKeyFile(b)
		if err != nil {
			if !errors.Is(err, ErrKeyFile) {
				t.Fatalf("error %v does not wrap ErrKeyFile", err)
			}
			return
		}
		// A valid file's key survives a round trip through the canonical form.
		if k2, err := ParseKeyFile(k.MarshalFile()); err != nil || k2 != k {
			t.Fatalf("round trip: %x, %v", k2, err)
		}
	})
}
