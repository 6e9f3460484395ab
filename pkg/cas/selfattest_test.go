package cas

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/attest"
)

// simPlatform is a Platform that makes simulation quotes of body with key
// (what scone-run's /dev/attestation does in simulation mode).
type simPlatform struct {
	key  *ecdsa.PrivateKey
	body attest.ReportBody
	seal []byte
	// reportData, when set, replaces the REPORTDATA asked for.
	reportData []byte
}

func (p *simPlatform) Quote(rd [64]byte) ([]byte, error) {
	if p.reportData != nil {
		return attest.NewSimulationQuote(p.body, p.reportData, p.key)
	}
	return attest.NewSimulationQuote(p.body, rd[:], p.key)
}

func (p *simPlatform) SealKey() ([]byte, error) { return bytes.Clone(p.seal), nil }

type failingPlatform struct{}

func (failingPlatform) Quote([64]byte) ([]byte, error) { return nil, os.ErrNotExist }
func (failingPlatform) SealKey() ([]byte, error)       { return nil, os.ErrNotExist }

type garbagePlatform struct{}

func (garbagePlatform) Quote([64]byte) ([]byte, error) { return []byte("not a quote"), nil }
func (garbagePlatform) SealKey() ([]byte, error)       { return nil, nil }

func testPlatform(t testing.TB) *simPlatform {
	p := &simPlatform{key: genP256(t), seal: bytes.Repeat([]byte{0x5e}, 16)}
	p.body.MRENCLAVE, p.body.MRSIGNER = testMRENCLAVE, testMRSIGNER
	p.body.Attributes.Flags = attest.FlagInit | attest.FlagMode64Bit
	return p
}

func TestSelfQuote(t *testing.T) {
	id := ID{1, 2, 3}
	good := testPlatform(t)
	other := testPlatform(t)
	other.reportData = []byte("something else")
	for _, tc := range []struct {
		name    string
		p       Platform
		wantErr string
	}{
		{"a quote binding the CAS ID", good, ""},
		{"the platform fails", failingPlatform{}, "file does not exist"},
		{"not a quote", garbagePlatform{}, "quote"},
		{"another REPORTDATA", other, "does not carry the REPORTDATA written"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := SelfQuote(tc.p, id)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrSelfQuote) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want ErrSelfQuote with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := VerifySelfQuote(q, id, func(q *attest.Quote) (*attest.Result, error) { return attest.VerifySimulation(q, &good.key.PublicKey) })
			if err != nil || res.Enclave.MRENCLAVE != testMRENCLAVE || !res.Simulation {
				t.Fatalf("verify: %v %+v", err, res)
			}
		})
	}
}

func TestVerifySelfQuote(t *testing.T) {
	id := ID{7}
	p := testPlatform(t)
	q, err := SelfQuote(p, id)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := genP256(t)
	relayed, err := SelfQuote(p, ID{8}) // another CAS's quote, relayed
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(q)
	flipped[48+10] ^= 1 // in the report body's CPUSVN...MRENCLAVE: the signature breaks
	sim := func(k *ecdsa.PrivateKey) func(*attest.Quote) (*attest.Result, error) {
		return func(q *attest.Quote) (*attest.Result, error) { return attest.VerifySimulation(q, &k.PublicKey) }
	}
	for _, tc := range []struct {
		name    string
		quote   []byte
		verify  func(*attest.Quote) (*attest.Result, error)
		wantErr string
	}{
		{"valid", q, sim(p.key), ""},
		{"no quote", nil, sim(p.key), "serves no quote"},
		{"garbled", q[:100], sim(p.key), "quote"},
		{"modified", flipped, sim(p.key), "signature"},
		{"another simulation key", q, sim(otherKey), "simulation key"},
		{"another CAS's quote", relayed, sim(p.key), "does not bind CAS ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := VerifySelfQuote(tc.quote, id, tc.verify)
			if tc.wantErr == "" {
				if err != nil || res.Enclave.ReportData != IDReportData(id) {
					t.Fatalf("got %v, %+v", err, res)
				}
				return
			}
			if !errors.Is(err, ErrSelfAttestation) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want ErrSelfAttestation with %q", err, tc.wantErr)
			}
		})
	}
}

// TestIDReportData pins the REPORTDATA layout of docs/cas.md.
func TestIDReportData(t *testing.T) {
	var id ID
	for i := range id {
		id[i] = byte(i)
	}
	rd := IDReportData(id)
	h := sha256.Sum256(append(append([]byte("scone-cas id v1"), 0), id[:]...))
	if !bytes.Equal(rd[:32], h[:]) {
		t.Fatalf("REPORTDATA %x, want SHA-256 %x", rd[:32], h)
	}
	if !bytes.Equal(rd[32:], make([]byte, 32)) {
		t.Fatalf("REPORTDATA's second half %x, want zeros", rd[32:])
	}
}

func TestDevAttestation(t *testing.T) {
	dir := t.TempDir()
	d := DevAttestation{Dir: dir}
	if d.Available() {
		t.Fatal("an empty directory is available")
	}
	if _, err := d.Quote([64]byte{}); err == nil || !strings.Contains(err.Error(), "user_report_data") && !strings.Contains(err.Error(), "quote") {
		t.Fatalf("no files: %v", err)
	}
	p := testPlatform(t)
	stale, _ := p.Quote([64]byte{9})
	os.MkdirAll(filepath.Join(dir, "keys"), 0o755)
	os.WriteFile(filepath.Join(dir, "quote"), stale, 0o644)
	os.WriteFile(filepath.Join(dir, "keys", "_sgx_mrenclave"), bytes.Repeat([]byte{1}, 16), 0o644)
	if !d.Available() {
		t.Fatal("not available with a quote file")
	}
	// A plain file is no enclave: the quote does not follow the REPORTDATA written.
	if _, err := SelfQuote(d, ID{1}); !errors.Is(err, ErrSelfQuote) || !strings.Contains(err.Error(), "does not carry") {
		t.Fatalf("a stale quote: %v", err)
	}
	rd := IDReportData(ID{1})
	if b, _ := os.ReadFile(filepath.Join(dir, "user_report_data")); !bytes.Equal(b, rd[:]) {
		t.Fatalf("user_report_data %x, want %x", b, rd)
	}
	if k, err := d.SealKey(); err != nil || !bytes.Equal(k, bytes.Repeat([]byte{1}, 16)) {
		t.Fatalf("seal key %x, %v", k, err)
	}
	if (DevAttestation{}).path("quote") != "/dev/attestation/quote" {
		t.Fatal("the default directory is not /dev/attestation")
	}
}

func TestDeriveSealedKeys(t *testing.T) {
	a, err := DeriveSealedKeys(bytes.Repeat([]byte{1}, 16))
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := DeriveSealedKeys(bytes.Repeat([]byte{1}, 16))
	b, _ := DeriveSealedKeys(bytes.Repeat([]byte{2}, 16))
	for _, tc := range []struct {
		name  string
		x, y  []byte
		equal bool
	}{
		{"the same sealing key: the same store key", a.Store, a2.Store, true},
		{"the same sealing key: the same identity key", a.Identity, a2.Identity, true},
		{"store and identity keys differ", a.Store, a.Identity, false},
		{"another sealing key: another store key", a.Store, b.Store, false},
		{"another sealing key: another identity key", a.Identity, b.Identity, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.x) != 32 || bytes.Equal(tc.x, tc.y) != tc.equal {
				t.Fatalf("%x %x: want equal %v, 32 bytes", tc.x, tc.y, tc.equal)
			}
		})
	}
	if _, err := DeriveSealedKeys(make([]byte, 15)); err == nil {
		t.Error("a 15-byte sealing key is accepted")
	}
	b.Wipe()
	if !bytes.Equal(b.Store, make([]byte, 32)) || !bytes.Equal(b.Identity, make([]byte, 32)) {
		t.Error("Wipe left the keys")
	}
}

func TestSealedIdentityKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "identity.sealed")
	key := bytes.Repeat([]byte{0xa5}, 32)
	k, created, err := LoadOrCreateSealedIdentityKey(path, key)
	if err != nil || !created {
		t.Fatalf("create: %v %v", err, created)
	}
	fi, _ := os.Stat(path)
	raw, _ := os.ReadFile(path)
	if fi.Mode().Perm() != 0o600 || !strings.HasPrefix(string(raw), "-----BEGIN SCONE-CAS SEALED PRIVATE KEY-----") {
		t.Fatalf("file mode %v, contents %q", fi.Mode(), raw)
	}
	if _, err := ParseIdentityKey(raw); err == nil {
		t.Fatal("the sealed file reads as a plain key")
	}
	again, created, err := LoadOrCreateSealedIdentityKey(path, key)
	if err != nil || created || !again.Equal(k) {
		t.Fatalf("reopen: %v created %v same %v", err, created, again != nil && again.Equal(k))
	}
	mutate := func(f func([]byte) []byte) string {
		p := filepath.Join(t.TempDir(), "identity.sealed")
		os.WriteFile(p, f(bytes.Clone(raw)), 0o600)
		return p
	}
	plain := filepath.Join(dir, "identity.pem")
	if _, _, err := LoadOrCreateIdentityKey(plain); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		key  []byte
		want string
	}{
		{"another sealing key", path, bytes.Repeat([]byte{0xa6}, 32), "does not open"},
		{"a modified byte", mutate(func(b []byte) []byte { // a base64 digit of the ciphertext
			if b[60] == 'A' {
				b[60] = 'B'
			} else {
				b[60] = 'A'
			}
			return b
		}), key, "does not open"},
		{"truncated", mutate(func(b []byte) []byte { return b[:30] }), key, "not a SCONE-CAS SEALED PRIVATE KEY block"},
		{"a plain identity key", plain, key, "not a SCONE-CAS SEALED PRIVATE KEY block"},
		{"a short key", path, key[:16], "of 16 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := LoadOrCreateSealedIdentityKey(tc.path, tc.key)
			if !errors.Is(err, ErrIdentityKey) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrIdentityKey with %q", err, tc.want)
			}
		})
	}
	if _, _, err := LoadOrCreateSealedIdentityKey(filepath.Join(dir, "missing", "identity.sealed"), key); err == nil || errors.Is(err, ErrIdentityKey) {
		t.Fatalf("an unwritable path: %v, want an I/O error", err)
	}
}

// TestServerSelfQuote: GET /v1/id serves the quote WithSelfQuote gave and
// its MRENCLAVE; a client verifies it against the TLS key; New refuses a
// quote that does not bind the CAS ID.
func TestServerSelfQuote(t *testing.T) {
	key := genP256(t)
	id, _ := KeyID(&key.PublicKey)
	p := testPlatform(t)
	q, err := SelfQuote(p, id)
	if err != nil {
		t.Fatal(err)
	}
	tc := newTestCAS(t, WithIdentityKey(key), WithSelfQuote(q))
	got, info, err := tc.owner.Identify(context.Background())
	if err != nil || got != id {
		t.Fatal(err)
	}
	if info.MRENCLAVE != hex.EncodeToString(testMRENCLAVE[:]) || !bytes.Equal(info.Quote, q) {
		t.Fatalf("GET /v1/id: MRENCLAVE %q, quote of %d bytes", info.MRENCLAVE, len(info.Quote))
	}
	if _, err := VerifySelfQuote(info.Quote, got, func(q *attest.Quote) (*attest.Result, error) { return attest.VerifySimulation(q, &p.key.PublicKey) }); err != nil {
		t.Fatal(err)
	}
	plain := newTestCAS(t)
	if _, info, err := plain.owner.Identify(context.Background()); err != nil || info.Quote != nil || info.MRENCLAVE != "" {
		t.Fatalf("a CAS without WithSelfQuote: %v %+v", err, info)
	}
	other, _ := SelfQuote(p, ID{9})
	for name, q := range map[string][]byte{"a quote of another CAS ID": other, "not a quote": []byte("junk")} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(WithIdentityKey(key), WithSelfQuote(q)); !errors.Is(err, ErrConfig) {
				t.Fatalf("New: %v, want ErrConfig", err)
			}
		})
	}
}
