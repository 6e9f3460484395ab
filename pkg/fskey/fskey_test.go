package fskey

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .want files of testdata/fskey/valid")

const vectorDir = "../../testdata/fskey"

// dump is the canonical form of a parsed file that the Go and the C
// (runtime/tests/test_fskey.c) readers both print for the vectors.
func dump(f *File) string {
	var b strings.Builder
	fmt.Fprintf(&b, "key %s\n", f.Key)
	if f.Identity.MRSIGNER != nil {
		fmt.Fprintf(&b, "mrsigner %x\n", f.Identity.MRSIGNER[:])
	} else {
		b.WriteString("mrsigner -\n")
	}
	for _, m := range f.Identity.MRENCLAVE {
		fmt.Fprintf(&b, "mrenclave %x\n", m[:])
	}
	for _, p := range []struct {
		name string
		v    *uint16
	}{{"isvprodid", f.Identity.ISVProdID}, {"min-isvsvn", f.Identity.MinISVSVN}} {
		if p.v != nil {
			fmt.Fprintf(&b, "%s %d\n", p.name, *p.v)
		} else {
			fmt.Fprintf(&b, "%s -\n", p.name)
		}
	}
	return b.String()
}

func TestVectors(t *testing.T) {
	valid, _ := filepath.Glob(filepath.Join(vectorDir, "valid", "*.key"))
	invalid, _ := filepath.Glob(filepath.Join(vectorDir, "invalid", "*.key"))
	if len(valid) < 5 || len(invalid) < 10 {
		t.Fatalf("found %d valid and %d invalid vectors in %s", len(valid), len(invalid), vectorDir)
	}
	for _, p := range valid {
		t.Run("valid/"+filepath.Base(p), func(t *testing.T) {
			f, err := Load(p)
			if err != nil {
				t.Fatal(err)
			}
			got := dump(f)
			want := strings.TrimSuffix(p, ".key") + ".want"
			if *update {
				if err := os.WriteFile(want, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(w) {
				t.Errorf("parsed\n%s\nwant\n%s", got, w)
			}
			// Marshal round trip: the same key and identity.
			b, err := f.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			g, err := Parse(b)
			if err != nil {
				t.Fatalf("parsing the marshalled file: %v\n%s", err, b)
			}
			if dump(g) != got {
				t.Errorf("round trip changed the file:\n%s\nvs\n%s", dump(g), got)
			}
		})
	}
	for _, p := range invalid {
		t.Run("invalid/"+filepath.Base(p), func(t *testing.T) {
			_, err := Load(p)
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrFormat) {
				t.Fatalf("Load = %v, want a *ParseError", err)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestRaw32IsRefusedWithAFix(t *testing.T) {
	_, err := Parse([]byte("correct horse battery staple 123"))
	if err == nil || !strings.Contains(err.Error(), "64 hex digits") {
		t.Fatalf("Parse(32-byte passphrase) = %v, want a refusal that names the fix", err)
	}
}

func mustHex32(t *testing.T, s string) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad hex %q", s)
	}
	return [32]byte(b)
}

func TestCheck(t *testing.T) {
	signer := mustHex32(t, strings.Repeat("9a", 32))
	other := mustHex32(t, strings.Repeat("9b", 32))
	mre := mustHex32(t, strings.Repeat("11", 32))
	u := func(v uint16) *uint16 { return &v }
	enc := Enclave{MRENCLAVE: mre, MRSIGNER: signer, ISVProdID: 7, ISVSVN: 3}
	tests := []struct {
		name  string
		id    Identity
		field string // "" = accepted
	}{
		{"signer", Identity{MRSIGNER: &signer}, ""},
		{"other signer", Identity{MRSIGNER: &other}, "mrsigner"},
		{"mrenclave listed", Identity{MRENCLAVE: [][32]byte{other, mre}}, ""},
		{"mrenclave not listed", Identity{MRENCLAVE: [][32]byte{other}}, "mrenclave"},
		{"prodid", Identity{MRSIGNER: &signer, ISVProdID: u(7)}, ""},
		{"other prodid", Identity{MRSIGNER: &signer, ISVProdID: u(8)}, "isvprodid"},
		{"svn equal to the minimum", Identity{MRSIGNER: &signer, MinISVSVN: u(3)}, ""},
		{"svn below the minimum", Identity{MRSIGNER: &signer, MinISVSVN: u(4)}, "isvsvn"},
		{"signer and mrenclave both checked", Identity{MRSIGNER: &signer, MRENCLAVE: [][32]byte{other}}, "mrenclave"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.id.Check(enc)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Check = %v, want accepted", err)
				}
				return
			}
			var ie *IdentityError
			if !errors.As(err, &ie) || ie.Field != tc.field || !errors.Is(err, ErrIdentity) {
				t.Fatalf("Check = %v, want an *IdentityError for %s", err, tc.field)
			}
		})
	}
	if err := (Identity{}).Check(enc); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("zero identity: Check = %v, want ErrNoIdentity", err)
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "fs.key")
	k, err := Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer := mustHex32(t, strings.Repeat("9a", 32))
	f := &File{Key: k, Identity: Identity{MRSIGNER: &signer}}
	if err := f.Write(p, false); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("stat = %v, %v; want mode 0600", st, err)
	}
	if err := f.Write(p, false); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Write without overwrite = %v, want fs.ErrExist", err)
	}
	g, err := Load(p)
	if err != nil || g.Key != k || *g.Identity.MRSIGNER != signer {
		t.Fatalf("Load = %+v, %v", g, err)
	}
	if err := (&File{Key: k}).Write(p, true); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if !bytes.Equal(b, []byte(k.String()+"\n")) {
		t.Errorf("bare key file = %q", b)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		ps, _ := filepath.Glob(filepath.Join(vectorDir, dir, "*.key"))
		for _, p := range ps {
			b, err := os.ReadFile(p)
			if err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v is not ErrFormat", err)
			}
			return
		}
		out, err := k.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed file: %v", err)
		}
		k2, err := Parse(out)
		if err != nil || dump(k2) != dump(k) {
			t.Fatalf("round trip: %v\n%s\nvs\n%s", err, dump(k), out)
		}
	})
}
