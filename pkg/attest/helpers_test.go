package attest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vectorDir is where the real quote and its collateral are: read in place
// from the shared test vectors (SCONE_DCAP_TESTVECTORS overrides).
func vectorDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SCONE_DCAP_TESTVECTORS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "testvectors", "dcap")
	}
	if _, err := os.Stat(filepath.Join(dir, "sgx_quote_v3.bin")); err != nil {
		t.Skipf("SKIP: the DCAP test vector is absent (%v): it lives in /work/shared/testvectors/dcap; set SCONE_DCAP_TESTVECTORS to its directory", err)
	}
	return dir
}

func readVector(t testing.TB) (quote, collateral []byte) {
	dir := vectorDir(t)
	q, err := os.ReadFile(filepath.Join(dir, "sgx_quote_v3.bin"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := os.ReadFile(filepath.Join(dir, "sgx_quote_v3_collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	return q, c
}

// vectorTime is inside the vector's collateral window.
var vectorTime = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)

func mustParse(t testing.TB, q, c []byte) (*Quote, *Collateral) {
	t.Helper()
	pq, err := ParseQuote(q)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := ParseCollateral(c)
	if err != nil {
		t.Fatal(err)
	}
	return pq, pc
}

// wantErr fails unless err wraps want (nil: err must be nil).
func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one wrapping %q", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %q does not wrap %q", err, want)
	}
}

// editCollateral changes fields of a collateral JSON.
func editCollateral(t testing.TB, c []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(c, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func genKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testPKI is a stand-in for Intel's PKI: a test root, a PCK Processor CA, a
// PCK certificate with SGX extensions and a TCB signing certificate, with the
// names Intel uses. It makes quotes and collateral the way Intel's services
// and a quoting enclave do, so that every rule can be tested, including the
// ones the real vector cannot reach (revocation, other FMSPCs, TCB levels).
type testPKI struct {
	now                                    time.Time
	rootKey, caKey, pckKey, tcbKey, attKey *ecdsa.PrivateKey
	root, ca, pck, tcb                     *x509.Certificate
	ext                                    PCKExtensions
}

var testFMSPC = [6]byte{0x00, 0x90, 0x6e, 0xa1, 0x00, 0x00}

func intelName(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"Intel Corporation"}, Locality: []string{"Santa Clara"},
		Province: []string{"CA"}, Country: []string{"US"}}
}

func mkCert(t testing.TB, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sgxExtension encodes the SGX extensions of a PCK certificate.
func sgxExtension(t testing.TB, x PCKExtensions) []byte {
	t.Helper()
	type item struct {
		ID    asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	raw := func(v any) asn1.RawValue {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return asn1.RawValue{FullBytes: b}
	}
	var tcb []item
	for i := 1; i <= 18; i++ {
		id := append(append(asn1.ObjectIdentifier{}, oidTCB...), i)
		switch {
		case i <= 16:
			tcb = append(tcb, item{id, raw(int(x.TCBComponents[i-1]))})
		case i == 17:
			tcb = append(tcb, item{id, raw(int(x.PCESVN))})
		default:
			tcb = append(tcb, item{id, raw(x.CPUSVN[:])})
		}
	}
	items := []item{{oidPPID, raw(x.PPID[:])}, {oidTCB, raw(tcb)}, {oidPCEID, raw(x.PCEID[:])},
		{oidFMSPC, raw(x.FMSPC[:])}, {oidSGXType, raw(asn1.Enumerated(x.SGXType))}}
	b, err := asn1.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	p := &testPKI{now: vectorTime, rootKey: genKey(t), caKey: genKey(t), pckKey: genKey(t), tcbKey: genKey(t), attKey: genKey(t)}
	p.ext = PCKExtensions{FMSPC: testFMSPC, PCEID: [2]byte{0, 0}, PCESVN: 13, SGXType: 0,
		TCBComponents: [16]uint8{11, 11, 2, 2, 255, 1, 12}}
	nb, na := p.now.AddDate(-1, 0, 0), p.now.AddDate(5, 0, 0)
	ca := func(cn string, serial int64) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: intelName(cn), NotBefore: nb, NotAfter: na,
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	}
	rt := ca("Intel SGX Root CA", 1)
	p.root = mkCert(t, rt, rt, &p.rootKey.PublicKey, p.rootKey)
	p.ca = mkCert(t, ca(cnPCKProcessorCA, 2), p.root, &p.caKey.PublicKey, p.rootKey)
	p.tcb = mkCert(t, &x509.Certificate{SerialNumber: big.NewInt(3), Subject: intelName(cnTCBSigning), NotBefore: nb, NotAfter: na,
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}, p.root, &p.tcbKey.PublicKey, p.rootKey)
	p.pck = p.pckCert(t, p.ext, nb, na)
	return p
}

func (p *testPKI) pckCert(t testing.TB, ext PCKExtensions, nb, na time.Time) *x509.Certificate {
	return mkCert(t, &x509.Certificate{SerialNumber: big.NewInt(4), Subject: intelName(cnPCKCert), NotBefore: nb, NotAfter: na,
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
		ExtraExtensions: []pkix.Extension{{Id: oidSGXExtensions, Value: sgxExtension(t, ext)}}}, p.ca, &p.pckKey.PublicKey, p.caKey)
}

func pemChain(certs ...*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

func signJSON(t testing.TB, k *ecdsa.PrivateKey, msg []byte) string {
	t.Helper()
	sig, err := signRaw(k, msg)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(sig[:])
}

// collSpec is what the test PKI's collateral says; tests change it.
type collSpec struct {
	tcbInfo, qeIdentity      map[string]any
	rootRevoked, pckRevoked  []*big.Int
	pckCRLKey                *ecdsa.PrivateKey // signs the PCK CRL (default: the PCK CA's key)
	pckCRLIssuer             *x509.Certificate // issues the PCK CRL (default: the PCK CA)
	tcbSigner                *ecdsa.PrivateKey // signs TCB info and QE identity (default: the TCB signing key)
	pckCRLChain, signerChain string
}

func (p *testPKI) defaultSpec() *collSpec {
	levels := []any{}
	for _, l := range []struct {
		comps  [16]int
		pcesvn int
		status string
		adv    []string
	}{
		{[16]int{12, 12, 2, 2, 255, 1, 12}, 13, "UpToDate", nil},
		{[16]int{11, 11, 2, 2, 255, 1, 12}, 13, "SWHardeningNeeded", []string{"INTEL-SA-00615"}},
		{[16]int{11, 11, 2, 2, 255, 1, 0}, 13, "ConfigurationAndSWHardeningNeeded", []string{"INTEL-SA-00289", "INTEL-SA-00615"}},
		{[16]int{10, 10, 2, 2, 255, 1, 0}, 13, "OutOfDate", []string{"INTEL-SA-00828"}},
		{[16]int{5, 5, 2, 2, 255, 1, 0}, 5, "Revoked", []string{"INTEL-SA-00106"}},
	} {
		comps := []any{}
		for _, c := range l.comps {
			comps = append(comps, map[string]any{"svn": c})
		}
		m := map[string]any{"tcb": map[string]any{"sgxtcbcomponents": comps, "pcesvn": l.pcesvn},
			"tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": l.status}
		if l.adv != nil {
			m["advisoryIDs"] = l.adv
		}
		levels = append(levels, m)
	}
	issue, next := p.now.Add(-24*time.Hour).Format(time.RFC3339), p.now.AddDate(0, 0, 29).Format(time.RFC3339)
	return &collSpec{
		tcbInfo: map[string]any{"id": "SGX", "version": 3, "issueDate": issue, "nextUpdate": next,
			"fmspc": strings.ToUpper(hex.EncodeToString(testFMSPC[:])), "pceId": "0000", "tcbType": 0, "tcbEvaluationDataNumber": 17,
			"tcbLevels": levels},
		qeIdentity: map[string]any{"id": "QE", "version": 2, "issueDate": issue, "nextUpdate": next, "tcbEvaluationDataNumber": 17,
			"miscselect": "00000000", "miscselectMask": "FFFFFFFF",
			"attributes": "11000000000000000000000000000000", "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
			"mrsigner": strings.ToUpper(hex.EncodeToString(testQEMRSIGNER[:])), "isvprodid": 1,
			"tcbLevels": []any{
				map[string]any{"tcb": map[string]any{"isvsvn": 8}, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": "UpToDate"},
				map[string]any{"tcb": map[string]any{"isvsvn": 6}, "tcbDate": "2021-11-10T00:00:00Z", "tcbStatus": "OutOfDate", "advisoryIDs": []string{"INTEL-SA-00615"}},
			}},
	}
}

var testQEMRSIGNER = [32]byte{0x8c, 0x4f, 0x57, 0x75}

func (p *testPKI) crl(t testing.TB, issuer *x509.Certificate, key *ecdsa.PrivateKey, revoked []*big.Int) string {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: p.now.Add(-time.Hour), NextUpdate: p.now.AddDate(0, 0, 30)}
	for _, s := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: p.now.Add(-2 * time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(der)
}

// collateral returns the collateral JSON of spec (nil: defaults, changed by edit).
func (p *testPKI) collateral(t testing.TB, edit func(*collSpec)) []byte {
	t.Helper()
	s := p.defaultSpec()
	if edit != nil {
		edit(s)
	}
	if s.pckCRLKey == nil {
		s.pckCRLKey = p.caKey
	}
	if s.pckCRLIssuer == nil {
		s.pckCRLIssuer = p.ca
	}
	if s.tcbSigner == nil {
		s.tcbSigner = p.tcbKey
	}
	if s.pckCRLChain == "" {
		s.pckCRLChain = pemChain(p.ca, p.root)
	}
	if s.signerChain == "" {
		s.signerChain = pemChain(p.tcb, p.root)
	}
	ti, _ := json.Marshal(s.tcbInfo)
	qi, _ := json.Marshal(s.qeIdentity)
	b, err := json.Marshal(map[string]string{
		"pck_crl_issuer_chain":     s.pckCRLChain,
		"root_ca_crl":              p.crl(t, p.root, p.rootKey, s.rootRevoked),
		"pck_crl":                  p.crl(t, s.pckCRLIssuer, s.pckCRLKey, s.pckRevoked),
		"tcb_info_issuer_chain":    s.signerChain,
		"tcb_info":                 string(ti),
		"tcb_info_signature":       signJSON(t, s.tcbSigner, ti),
		"qe_identity_issuer_chain": s.signerChain,
		"qe_identity":              string(qi),
		"qe_identity_signature":    signJSON(t, s.tcbSigner, qi),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testEnclave is the report body of the test quotes.
var testEnclave = ReportBody{MRENCLAVE: [32]byte{0x33, 0xd8}, MRSIGNER: [32]byte{0x81, 0x5f}, ISVProdID: 7, ISVSVN: 3,
	Attributes: Attributes{Flags: FlagInit | FlagMode64Bit, XFRM: 0xe7}}

// quote returns a hardware-style quote: edit may change the quote's fields
// (and the PCK certificate it carries) before it is signed.
func (p *testPKI) quote(t testing.TB, edit func(q *Quote, pck **x509.Certificate)) []byte {
	t.Helper()
	q := &Quote{
		Header:                Header{Version: 3, AttestationKeyType: 2, QESVN: 10, PCESVN: 13, QEVendorID: IntelQEVendorID},
		Body:                  testEnclave,
		QEReport:              ReportBody{MRSIGNER: testQEMRSIGNER, ISVProdID: 1, ISVSVN: 10, Attributes: Attributes{Flags: 0x15, XFRM: 0xe7}},
		QEAuthData:            []byte("0123456789abcdef0123456789abcdef"),
		CertificationDataType: CertTypePCKChain,
	}
	copy(q.Body.ReportData[:], "test report data")
	pck := p.pck
	if edit != nil {
		edit(q, &pck)
	}
	pt, _ := p.attKey.PublicKey.Bytes()
	copy(q.AttestationKey[:], pt[1:])
	q.CertificationData = []byte(pemChain(pck, p.ca, p.root) + "\x00")
	var err error
	h := append(q.AttestationKey[:], q.QEAuthData...)
	sum := sha256Sum(h)
	copy(q.QEReport.ReportData[:32], sum)
	qe, _ := q.QEReport.MarshalBinary()
	if q.QEReportSignature, err = signRaw(p.pckKey, qe); err != nil {
		t.Fatal(err)
	}
	signed := q.Body.appendTo(q.Header.appendTo(nil))
	if q.Signature, err = signRaw(p.attKey, signed); err != nil {
		t.Fatal(err)
	}
	b, err := q.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// randReader is crypto/rand's reader (a type, for calls that want one).
type randReader struct{}

func (randReader) Read(b []byte) (int, error) { return rand.Read(b) }
