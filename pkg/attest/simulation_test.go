package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"strings"
	"testing"
)

func simQuote(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	b, err := NewSimulationQuote(testEnclave, []byte("simulated report data"), k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSimulationRoundTrip(t *testing.T) {
	k := genKey(t)
	b := simQuote(t, k)
	q, err := ParseQuote(b)
	if err != nil {
		t.Fatal(err)
	}
	if !q.IsSimulation() || q.CertificationDataType != 0x5C0E || string(q.CertificationData) != SimulationMarker ||
		q.Header.QEVendorID != SimulationVendorID || len(b) != MinQuoteSize+len(SimulationMarker) {
		t.Fatalf("simulation quote: type %#x, data %q, vendor %q, %d bytes", q.CertificationDataType, q.CertificationData, q.Header.QEVendorID, len(b))
	}
	r, err := VerifySimulation(q, &k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	want := testEnclave
	want.ReportData = [64]byte{}
	copy(want.ReportData[:], "simulated report data")
	if !r.Simulation || r.Enclave != want || r.TCBStatus != "" || !r.AttestationKey.Equal(&k.PublicKey) {
		t.Errorf("result %+v", r)
	}
	if s := r.String(); !strings.HasPrefix(s, "SIMULATION (no hardware security): MRENCLAVE 33d8") {
		t.Errorf("String() = %q", s)
	}
}

func TestSimulationRefusals(t *testing.T) {
	k, other := genKey(t), genKey(t)
	b := simQuote(t, k)
	q, _ := ParseQuote(b)
	t.Run("another simulation key", func(t *testing.T) {
		_, err := VerifySimulation(q, &other.PublicKey)
		wantErr(t, err, ErrChain)
		if !strings.Contains(err.Error(), KeyFingerprint(&k.PublicKey)) || !strings.Contains(err.Error(), KeyFingerprint(&other.PublicKey)) {
			t.Errorf("error %q does not name both keys", err)
		}
	})
	t.Run("as a hardware quote", func(t *testing.T) {
		p := newTestPKI(t)
		_, c := mustParse(t, p.quote(t, nil), p.collateral(t, nil))
		_, err := Verify(q, c, WithRootPublicKey(&p.rootKey.PublicKey), WithTime(p.now))
		wantErr(t, err, ErrSimulation)
	})
	t.Run("a hardware quote as a simulation quote", func(t *testing.T) {
		p := newTestPKI(t)
		hq, _ := mustParse(t, p.quote(t, nil), p.collateral(t, nil))
		_, err := VerifySimulation(hq, &p.attKey.PublicKey)
		wantErr(t, err, ErrFormat)
	})
	t.Run("not an ECDSA key", func(t *testing.T) {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := VerifySimulation(q, pub); err == nil {
			t.Error("an Ed25519 key was accepted")
		}
	})
	for _, tc := range []struct {
		name string
		edit func(q *Quote)
	}{
		{"certification data", func(q *Quote) { q.CertificationData = []byte("SCONE simulation quote") }},
		{"vendor ID", func(q *Quote) { q.Header.QEVendorID = IntelQEVendorID }},
		{"QE auth data", func(q *Quote) { q.QEAuthData = []byte{1} }},
		{"QE report", func(q *Quote) { q.QEReport.ISVSVN = 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := ParseQuote(b)
			tc.edit(m)
			mb, _ := m.MarshalBinary()
			m, err := ParseQuote(mb)
			if err != nil {
				t.Fatal(err)
			}
			_, err = VerifySimulation(m, &k.PublicKey)
			wantErr(t, err, ErrFormat)
		})
	}
}

// Every bit flipped in a simulation quote is refused.
func TestSimulationEveryByteMatters(t *testing.T) {
	k := genKey(t)
	b := simQuote(t, k)
	for off := range b {
		q, err := ParseQuote(flip(b, off))
		if err == nil {
			_, err = VerifySimulation(q, &k.PublicKey)
		}
		if err == nil {
			t.Fatalf("byte %d flipped: the simulation quote still verifies", off)
		}
	}
}

type badSigner struct{ pub crypto.PublicKey }

func (s badSigner) Public() crypto.PublicKey { return s.pub }
func (s badSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return []byte{0x30, 0x00}, nil
}

func TestNewSimulationQuoteRefuses(t *testing.T) {
	k := genKey(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name   string
		data   []byte
		signer crypto.Signer
	}{
		{"report data too long", bytes.Repeat([]byte{1}, 65), k},
		{"no signer", nil, nil},
		{"P-384 key", nil, p384},
		{"Ed25519 key", nil, edk},
		{"signer returns garbage", nil, badSigner{&k.PublicKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewSimulationQuote(testEnclave, tc.data, tc.signer); err == nil {
				t.Fatal("made a quote")
			}
		})
	}
	t.Run("64 bytes of report data", func(t *testing.T) {
		b, err := NewSimulationQuote(testEnclave, bytes.Repeat([]byte{7}, 64), k)
		if err != nil {
			t.Fatal(err)
		}
		q, _ := ParseQuote(b)
		if q.Body.ReportData != [64]byte(bytes.Repeat([]byte{7}, 64)) {
			t.Error("report data not in the quote")
		}
	})
}
