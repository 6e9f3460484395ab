package policy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const vectorDir = "../../testdata/policy"

func TestVectors(t *testing.T) {
	valid, _ := filepath.Glob(filepath.Join(vectorDir, "valid", "*.yaml"))
	invalid, _ := filepath.Glob(filepath.Join(vectorDir, "invalid", "*.yaml"))
	if len(valid) < 3 || len(invalid) < 20 {
		t.Fatalf("found %d valid and %d invalid policies in %s", len(valid), len(invalid), vectorDir)
	}
	for _, p := range valid {
		t.Run("valid/"+filepath.Base(p), func(t *testing.T) {
			b, _ := os.ReadFile(p)
			pol, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if pol.Hash() != HashOf(b) {
				t.Error("Hash is not the SHA-256 of the document")
			}
			if _, ok := pol.OwnerKey().(ed25519.PublicKey); !ok {
				t.Errorf("owner key %T", pol.OwnerKey())
			}
		})
	}
	for _, p := range invalid {
		t.Run("invalid/"+filepath.Base(p), func(t *testing.T) {
			b, _ := os.ReadFile(p)
			_, err := Parse(b)
			var pe *Error
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse = %v, want an *Error", err)
			}
			t.Logf("%v", err)
		})
	}
}

func load(t *testing.T, name string) *Policy {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, "valid", name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	p := load(t, "minimal.yaml")
	if strings.Join(p.Accept.TCBStatuses, ",") != "UpToDate,SWHardeningNeeded" || p.Accept.Debug || p.Accept.Simulation {
		t.Fatalf("defaults: %+v", p.Accept)
	}
}

func h32(t *testing.T, s string) [32]byte {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad hex %q", s)
	}
	return [32]byte(b)
}

func TestMatch(t *testing.T) {
	p := load(t, "full.yaml")
	m1 := h32(t, "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb")
	s1 := h32(t, "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6")
	other := h32(t, strings.Repeat("ab", 32))
	ok := Evidence{MRENCLAVE: m1, MRSIGNER: other, TCBStatus: TCBUpToDate}
	tests := []struct {
		name   string
		ev     Evidence
		reason string // "" = accepted
	}{
		{"listed MRENCLAVE", ok, ""},
		{"signer, product and version", Evidence{MRENCLAVE: other, MRSIGNER: s1, ISVProdID: 7, ISVSVN: 2, TCBStatus: TCBSWHardeningNeeded}, ""},
		{"signer, older version", Evidence{MRENCLAVE: other, MRSIGNER: s1, ISVProdID: 7, ISVSVN: 1, TCBStatus: TCBUpToDate}, "not one of the policy's enclaves"},
		{"signer, other product", Evidence{MRENCLAVE: other, MRSIGNER: s1, ISVProdID: 8, ISVSVN: 9, TCBStatus: TCBUpToDate}, "not one of"},
		{"unknown enclave", Evidence{MRENCLAVE: other, MRSIGNER: other, TCBStatus: TCBUpToDate}, "not one of"},
		{"debug", Evidence{MRENCLAVE: m1, Debug: true, TCBStatus: TCBUpToDate}, "DEBUG"},
		{"out-of-date platform", Evidence{MRENCLAVE: m1, TCBStatus: TCBOutOfDate}, "TCB status is OutOfDate"},
		{"accepted status", Evidence{MRENCLAVE: m1, TCBStatus: TCBConfigurationAndSWHardeningNeeded}, ""},
		{"simulation accepted here", Evidence{MRENCLAVE: m1, Simulation: true}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Match(tc.ev)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ne *NotAcceptedError
			if !errors.As(err, &ne) || !errors.Is(err, ErrNotAccepted) || !strings.Contains(ne.Reason, tc.reason) {
				t.Fatalf("Match = %v, want a refusal naming %q", err, tc.reason)
			}
		})
	}
	if err := load(t, "minimal.yaml").Match(Evidence{MRENCLAVE: m1, Simulation: true}); !errors.Is(err, ErrNotAccepted) ||
		!strings.Contains(err.Error(), "simulation") {
		t.Errorf("simulation against a policy without it: %v", err)
	}
}

func TestSignatures(t *testing.T) {
	doc, _ := os.ReadFile(filepath.Join(vectorDir, "valid", "full.yaml"))
	p, _ := Parse(doc)
	owner := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	sig, err := Sign(owner, PurposeApply, doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifySignature(p.OwnerKey(), PurposeApply, doc, sig); err != nil {
		t.Fatalf("owner's signature refused: %v", err)
	}
	if err := VerifySignature(p.OwnerKey(), PurposeDelete, doc, sig); !errors.Is(err, ErrSignature) {
		t.Errorf("a signature for another purpose passed: %v", err)
	}
	changed := bytes.Replace(doc, []byte("max_activations: 10"), []byte("max_activations: 99"), 1)
	if err := VerifySignature(p.OwnerKey(), PurposeApply, changed, sig); !errors.Is(err, ErrSignature) {
		t.Errorf("a changed document passed: %v", err)
	}
	stranger := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	s2, _ := Sign(stranger, PurposeApply, doc, nil)
	if err := VerifySignature(p.OwnerKey(), PurposeApply, doc, s2); !errors.Is(err, ErrSignature) {
		t.Errorf("a stranger's signature passed: %v", err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s3, err := Sign(ec, PurposeApply, doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifySignature(&ec.PublicKey, PurposeApply, doc, s3); err != nil {
		t.Errorf("ECDSA: %v", err)
	}
}

type mats map[string]Material

func (m mats) Secret(n string) (Material, error) { return m[n], nil }
func (m mats) CA() ([]byte, error)               { return []byte("<CA>"), nil }

func TestRender(t *testing.T) {
	p := load(t, "full.yaml")
	m := mats{
		"db_password": {Bytes: []byte("s3cr$t-pw")},
		"api_token":   {Bytes: []byte{0, 1, 2, 3}},
		"tls":         {Cert: []byte("<CERT>"), Key: []byte("<KEY>")},
	}
	for _, tc := range []struct{ tmpl, want string }{
		{p.Grants.Env["DB_PASSWORD"], "s3cr$t-pw"},
		{p.Grants.Env["API_TOKEN"], "00010203"},
		{p.Grants.Env["PRICE"], "$5"},
		{p.Grants.Files["/etc/app/app.conf"].Content, "password = s3cr$t-pw\ntoken = AAECAw==\n"},
		{p.Grants.Files["/etc/tls/cert.pem"].Content, "<CERT><CA>"},
		{p.Grants.Files["/etc/tls/key.pem"].Content, "<KEY>"},
	} {
		got, err := Render(tc.tmpl, m)
		if err != nil || string(got) != tc.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tc.tmpl, got, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		ps, _ := filepath.Glob(filepath.Join(vectorDir, dir, "*.yaml"))
		for _, p := range ps {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		// A valid policy's templates render with any materials.
		m := mats{}
		for n := range p.Secrets {
			m[n] = Material{Bytes: []byte("x"), Cert: []byte("c"), Key: []byte("k")}
		}
		for _, v := range p.Grants.Env {
			if _, err := Render(v, m); err != nil {
				t.Fatalf("a checked template does not render: %v", err)
			}
		}
	})
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"", "x", "$$", "${a}", "${a:hex}", "a${b}c$$d", "${", "$x", "${1}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pieces, err := parseTemplate(s)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, pc := range pieces {
			if pc.ref != nil && !secretRE.MatchString(pc.ref.name) {
				t.Fatalf("accepted reference name %q", pc.ref.name)
			}
			b.WriteString(pc.text)
		}
		if strings.Count(b.String(), "$") > strings.Count(s, "$") {
			t.Fatal("more dollars out than in")
		}
	})
}
