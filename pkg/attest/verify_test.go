package attest

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
)

// verify verifies a quote of p with p's collateral (as edited) and p's root.
func (p *testPKI) verify(t *testing.T, q, c []byte, opts ...Option) (*Result, error) {
	t.Helper()
	pq, pc := mustParse(t, q, c)
	return Verify(pq, pc, append([]Option{WithTime(p.now), WithRootPublicKey(&p.rootKey.PublicKey)}, opts...)...)
}

func TestSyntheticVerifies(t *testing.T) {
	p := newTestPKI(t)
	r, err := p.verify(t, p.quote(t, nil), p.collateral(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if r.TCBStatus != TCBSWHardeningNeeded || !slices.Equal(r.Advisories, []string{"INTEL-SA-00615"}) || r.FMSPC != testFMSPC {
		t.Errorf("status %s, advisories %v, FMSPC %x", r.TCBStatus, r.Advisories, r.FMSPC)
	}
	if r.Enclave.MRENCLAVE != testEnclave.MRENCLAVE || r.Enclave.ISVProdID != 7 || r.Enclave.ISVSVN != 3 {
		t.Errorf("enclave %+v", r.Enclave)
	}
}

// A chain of another root is refused by the default (Intel) root.
func TestSyntheticChainOfAnotherRoot(t *testing.T) {
	p := newTestPKI(t)
	q, c := mustParse(t, p.quote(t, nil), p.collateral(t, nil))
	_, err := Verify(q, c, WithTime(p.now))
	wantErr(t, err, ErrChain)
	if !strings.Contains(err.Error(), IntelSGXRootCAKeySHA256) {
		t.Errorf("error %q does not name the Intel root key", err)
	}
}

func TestRevocation(t *testing.T) {
	p := newTestPKI(t)
	other := genKey(t)
	platformCA := mkCert(t, &x509.Certificate{SerialNumber: big.NewInt(9), Subject: intelName(cnPCKPlatformCA),
		NotBefore: p.root.NotBefore, NotAfter: p.root.NotAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, p.root, &other.PublicKey, p.rootKey)
	for _, tc := range []struct {
		name string
		edit func(*collSpec)
		want error
		say  string
	}{
		{"nothing revoked", func(s *collSpec) { s.pckRevoked = []*big.Int{big.NewInt(99)} }, nil, ""},
		{"PCK certificate revoked", func(s *collSpec) { s.pckRevoked = []*big.Int{big.NewInt(99), p.pck.SerialNumber} }, ErrRevoked, `"Intel SGX PCK Certificate"`},
		{"PCK CA revoked", func(s *collSpec) { s.rootRevoked = []*big.Int{p.ca.SerialNumber} }, ErrRevoked, `"Intel SGX PCK Processor CA"`},
		{"TCB signing certificate revoked", func(s *collSpec) { s.rootRevoked = []*big.Int{p.tcb.SerialNumber} }, ErrRevoked, `"Intel SGX TCB Signing"`},
		{"PCK CRL signed by another key", func(s *collSpec) { s.pckCRLKey = other }, ErrSignature, "PCK CRL"},
		{"PCK CRL of another CA", func(s *collSpec) {
			s.pckCRLChain = pemChain(platformCA, p.root)
			s.pckCRLKey, s.pckCRLIssuer = other, platformCA
		}, ErrChain, "ca=processor"},
		{"TCB info signed by another key", func(s *collSpec) { s.tcbSigner = other }, ErrSignature, "TCB info"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.verify(t, p.quote(t, nil), p.collateral(t, tc.edit))
			wantErr(t, err, tc.want)
			if err != nil && !strings.Contains(err.Error(), tc.say) {
				t.Errorf("error %q does not say %q", err, tc.say)
			}
		})
	}
}

// The cache of a Verifier keeps the checked PCK chain, never its revocation
// or validity: a new CRL and a later time apply at once.
func TestVerifierCacheRechecksRevocationAndTime(t *testing.T) {
	p := newTestPKI(t)
	qb := p.quote(t, nil)
	q, good := mustParse(t, qb, p.collateral(t, nil))
	_, revoking := mustParse(t, qb, p.collateral(t, func(s *collSpec) { s.pckRevoked = []*big.Int{p.pck.SerialNumber} }))
	v, err := NewVerifier(WithTime(p.now), WithRootPublicKey(&p.rootKey.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := v.Verify(q, good); err != nil {
			t.Fatal(err)
		}
	}
	_, err = v.Verify(q, revoking)
	wantErr(t, err, ErrRevoked)
	if _, err := v.Verify(q, good); err != nil {
		t.Fatal(err)
	}
	later, _ := NewVerifier(WithTime(p.now.AddDate(0, 2, 0)), WithRootPublicKey(&p.rootKey.PublicKey))
	later.chains, later.collaterals = v.chains, v.collaterals // the same cache, a later time
	_, err = later.Verify(q, good)
	wantErr(t, err, ErrExpired)
}

func TestTCBLevels(t *testing.T) {
	p := newTestPKI(t)
	for _, tc := range []struct {
		name   string
		comps  [16]uint8
		pcesvn uint16
		opts   []Option
		status TCBStatus
		want   error
	}{
		{"up to date", [16]uint8{12, 12, 2, 2, 255, 1, 12}, 13, nil, TCBUpToDate, nil},
		{"above every level", [16]uint8{200, 200, 200, 200, 255, 200, 200, 1, 1}, 200, nil, TCBUpToDate, nil},
		{"SW hardening", [16]uint8{11, 11, 2, 2, 255, 1, 12}, 13, nil, TCBSWHardeningNeeded, nil},
		{"component 7 low", [16]uint8{12, 12, 2, 2, 255, 1, 11}, 13, nil, TCBConfigurationAndSWHardeningNeeded, nil},
		{"PCESVN low", [16]uint8{12, 12, 2, 2, 255, 1, 12}, 12, nil, TCBRevoked, ErrTCBStatus},
		{"out of date", [16]uint8{10, 11, 2, 2, 255, 1, 12}, 13, nil, TCBOutOfDate, nil},
		{"revoked level", [16]uint8{5, 5, 2, 2, 255, 1}, 5, nil, TCBRevoked, ErrTCBStatus},
		{"below every level", [16]uint8{4, 5, 2, 2, 255, 1}, 13, nil, "", ErrTCB},
		{"not accepted", [16]uint8{11, 11, 2, 2, 255, 1, 12}, 13, []Option{WithAcceptedTCBStatuses(TCBUpToDate)}, TCBSWHardeningNeeded, ErrTCBStatus},
		{"accepted", [16]uint8{11, 11, 2, 2, 255, 1, 12}, 13, []Option{WithAcceptedTCBStatuses(TCBUpToDate, TCBSWHardeningNeeded)}, TCBSWHardeningNeeded, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ext := p.ext
			ext.TCBComponents, ext.PCESVN = tc.comps, tc.pcesvn
			pck := p.pckCert(t, ext, p.pck.NotBefore, p.pck.NotAfter)
			qb := p.quote(t, func(q *Quote, c **x509.Certificate) { *c = pck })
			r, err := p.verify(t, qb, p.collateral(t, nil), tc.opts...)
			wantErr(t, err, tc.want)
			if tc.status != "" && (r == nil || r.TCBStatus != tc.status) {
				t.Errorf("result %+v, want status %s", r, tc.status)
			}
		})
	}
}

func TestUnknownFMSPC(t *testing.T) {
	p := newTestPKI(t)
	for _, tc := range []struct {
		name, field, value, say string
	}{
		{"FMSPC", "fmspc", "00A067110000", "fmspc=00906ea10000"},
		{"PCE ID", "pceId", "0100", "PCE ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.verify(t, p.quote(t, nil), p.collateral(t, func(s *collSpec) { s.tcbInfo[tc.field] = tc.value }))
			wantErr(t, err, ErrTCB)
			if !strings.Contains(err.Error(), tc.say) {
				t.Errorf("error %q does not say %q", err, tc.say)
			}
		})
	}
}

func TestQEIdentityMatch(t *testing.T) {
	p := newTestPKI(t)
	for _, tc := range []struct {
		name   string
		qe     func(r *ReportBody)
		id     func(m map[string]any)
		status TCBStatus
		want   error
	}{
		{"matches", nil, nil, TCBSWHardeningNeeded, nil},
		{"MRSIGNER", func(r *ReportBody) { r.MRSIGNER[31] ^= 1 }, nil, "", ErrQEIdentity},
		{"ISVPRODID", func(r *ReportBody) { r.ISVProdID = 2 }, nil, "", ErrQEIdentity},
		{"MISCSELECT", nil, func(m map[string]any) { m["miscselect"] = "01000000" }, "", ErrQEIdentity},
		{"MISCSELECT outside the mask", func(r *ReportBody) { r.MiscSelect = 1 }, func(m map[string]any) { m["miscselectMask"] = "FEFFFFFF" }, TCBSWHardeningNeeded, nil},
		{"ATTRIBUTES DEBUG", func(r *ReportBody) { r.Attributes.Flags |= FlagDebug }, nil, "", ErrQEIdentity},
		{"ATTRIBUTES outside the mask", func(r *ReportBody) { r.Attributes.Flags |= FlagKSS }, func(m map[string]any) {
			m["attributesMask"] = "7BFFFFFFFFFFFFFF0000000000000000"
		}, TCBSWHardeningNeeded, nil},
		{"QE out of date", func(r *ReportBody) { r.ISVSVN = 7 }, nil, TCBOutOfDate, nil},
		{"QE below every level", func(r *ReportBody) { r.ISVSVN = 5 }, nil, TCBRevoked, ErrTCBStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			qb := p.quote(t, func(q *Quote, _ **x509.Certificate) {
				if tc.qe != nil {
					tc.qe(&q.QEReport)
				}
			})
			cb := p.collateral(t, func(s *collSpec) {
				if tc.id != nil {
					tc.id(s.qeIdentity)
				}
			})
			r, err := p.verify(t, qb, cb)
			wantErr(t, err, tc.want)
			if tc.status != "" && (r == nil || r.TCBStatus != tc.status) {
				t.Errorf("result %+v, want status %s", r, tc.status)
			}
			if tc.status == TCBOutOfDate && !slices.Contains(r.Advisories, "INTEL-SA-00615") {
				t.Errorf("advisories %v lack the QE level's", r.Advisories)
			}
		})
	}
}

func TestExpiredPCKCertificate(t *testing.T) {
	p := newTestPKI(t)
	pck := p.pckCert(t, p.ext, p.now.AddDate(-3, 0, 0), p.now.AddDate(0, 0, -1))
	_, err := p.verify(t, p.quote(t, func(_ *Quote, c **x509.Certificate) { *c = pck }), p.collateral(t, nil))
	wantErr(t, err, ErrExpired)
	var ve *ValidityError
	if !errors.As(err, &ve) || !ve.Certificate || !strings.Contains(err.Error(), `certificate "Intel SGX PCK Certificate" (PCK chain)`) {
		t.Errorf("error %q: want the PCK certificate named", err)
	}
}

func TestPCKChainShape(t *testing.T) {
	p := newTestPKI(t)
	cb := p.collateral(t, nil)
	for _, tc := range []struct {
		name  string
		chain string
		want  error
	}{
		{"leaf and root only", pemChain(p.pck, p.root), ErrFormat},
		{"order swapped", pemChain(p.ca, p.pck, p.root), ErrChain},
		{"TCB signing certificate as leaf", pemChain(p.tcb, p.ca, p.root), ErrChain},
		{"four certificates", pemChain(p.pck, p.ca, p.root, p.root), ErrFormat},
		{"garbage after the chain", pemChain(p.pck, p.ca, p.root) + "garbage", ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			qb := p.quote(t, nil)
			q, c := mustParse(t, qb, cb)
			q.CertificationData = []byte(tc.chain)
			b, _ := q.MarshalBinary()
			q, err := ParseQuote(b)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Verify(q, c, WithTime(p.now), WithRootPublicKey(&p.rootKey.PublicKey))
			wantErr(t, err, tc.want)
		})
	}
}

func TestOptions(t *testing.T) {
	rk, err := rsa.GenerateKey(randReader{}, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts []Option
		ok   bool
	}{
		{"defaults", nil, true},
		{"RSA root", []Option{WithRootPublicKey(&rk.PublicKey)}, false},
		{"nil root", []Option{WithRootPublicKey(nil)}, false},
		{"no status", []Option{WithAcceptedTCBStatuses()}, false},
		{"Revoked", []Option{WithAcceptedTCBStatuses(TCBUpToDate, TCBRevoked)}, false},
		{"unknown status", []Option{WithAcceptedTCBStatuses("Fine")}, false},
		{"statuses", []Option{WithAcceptedTCBStatuses(TCBUpToDate, TCBSWHardeningNeeded)}, true},
		{"time", []Option{WithTime(time.Unix(0, 0))}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewVerifier(tc.opts...)
			if (err == nil) != tc.ok {
				t.Fatalf("error %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestParseTCBStatus(t *testing.T) {
	for _, s := range TCBStatuses {
		if got, err := ParseTCBStatus(string(s)); err != nil || got != s {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	if _, err := ParseTCBStatus("uptodate"); err == nil {
		t.Error("a wrongly spelled status parsed")
	}
}

func TestVerifyNeedsParsedInputs(t *testing.T) {
	if _, err := Verify(&Quote{}, &Collateral{}); err == nil {
		t.Error("a Quote not made by ParseQuote verified")
	}
	p := newTestPKI(t)
	q, _ := mustParse(t, p.quote(t, nil), p.collateral(t, nil))
	if _, err := Verify(q, &Collateral{}, WithRootPublicKey(&p.rootKey.PublicKey)); err == nil {
		t.Error("a Collateral not made by ParseCollateral verified")
	}
}
