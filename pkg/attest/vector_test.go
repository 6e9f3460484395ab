package attest

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIntelRootKey(t *testing.T) {
	k := IntelRootPublicKey()
	if got := KeyFingerprint(k); got != IntelSGXRootCAKeySHA256 {
		t.Fatalf("fingerprint of the pinned key %s, want %s", got, IntelSGXRootCAKeySHA256)
	}
}

// The pinned key is the key of the certificate that ends every chain of the
// real vector, and that certificate is Intel's (its published fingerprint).
func TestIntelRootKeyMatchesVectorChains(t *testing.T) {
	qb, cb := readVector(t)
	q, c := mustParse(t, qb, cb)
	pck, err := parsePEMChain(q.CertificationData, 3)
	if err != nil {
		t.Fatal(err)
	}
	for name, chain := range map[string][]*x509.Certificate{
		"PCK chain": pck, "pck_crl_issuer_chain": c.PCKCRLIssuerChain,
		"tcb_info_issuer_chain": c.TCBInfoIssuerChain, "qe_identity_issuer_chain": c.QEIdentityIssuerChain} {
		root := chain[len(chain)-1]
		k, ok := p256Key(root)
		if !ok || !k.Equal(IntelRootPublicKey()) {
			t.Errorf("%s: the last certificate does not carry the pinned key", name)
		}
		if sum := sha256.Sum256(root.Raw); hex.EncodeToString(sum[:]) != IntelSGXRootCACertSHA256 {
			t.Errorf("%s: the root certificate's SHA-256 is %x, want %s", name, sum, IntelSGXRootCACertSHA256)
		}
		if root.Subject.CommonName != "Intel SGX Root CA" {
			t.Errorf("%s: root %q", name, root.Subject.CommonName)
		}
	}
}

func TestVectorParses(t *testing.T) {
	qb, cb := readVector(t)
	q, c := mustParse(t, qb, cb)
	b := q.Body
	if got := hex.EncodeToString(b.MRENCLAVE[:]); got != "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb" {
		t.Errorf("MRENCLAVE %s", got)
	}
	if got := hex.EncodeToString(b.MRSIGNER[:]); got != "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6" {
		t.Errorf("MRSIGNER %s", got)
	}
	if b.ISVProdID != 0 || b.ISVSVN != 0 || b.Attributes.Flags != FlagInit|FlagMode64Bit || b.Attributes.Debug() {
		t.Errorf("ISVPRODID %d ISVSVN %d attributes %#x", b.ISVProdID, b.ISVSVN, b.Attributes.Flags)
	}
	want := make([]byte, 64)
	copy(want, "Hello, world!")
	if !bytes.Equal(b.ReportData[:], want) {
		t.Errorf("report data %q", b.ReportData)
	}
	if q.CertificationDataType != CertTypePCKChain || len(qb) != 4600 || len(q.QEAuthData) != 32 {
		t.Errorf("certification data type %d, size %d, QE auth data %d bytes", q.CertificationDataType, len(qb), len(q.QEAuthData))
	}
	if c.TCBInfo.FMSPC != [6]byte{0x00, 0xa0, 0x67, 0x11, 0x00, 0x00} || len(c.TCBInfo.Levels) != 11 || c.QEIdentity.ISVProdID != 1 {
		t.Errorf("TCB info FMSPC %x, %d levels; QE identity ISVPRODID %d", c.TCBInfo.FMSPC, len(c.TCBInfo.Levels), c.QEIdentity.ISVProdID)
	}
	// Every byte has a field: re-encoding gives the bytes parsed.
	m, err := q.MarshalBinary()
	if err != nil || !bytes.Equal(m, qb) {
		t.Errorf("MarshalBinary does not give the parsed bytes back (err %v)", err)
	}
}

func TestVectorVerifies(t *testing.T) {
	qb, cb := readVector(t)
	q, c := mustParse(t, qb, cb)
	r, err := Verify(q, c, WithTime(vectorTime))
	if err != nil {
		t.Fatal(err)
	}
	if r.Simulation {
		t.Error("Simulation set for a hardware quote")
	}
	if r.TCBStatus != TCBConfigurationAndSWHardeningNeeded || !slices.Equal(r.Advisories, []string{"INTEL-SA-00289", "INTEL-SA-00615"}) {
		t.Errorf("TCB status %s, advisories %v", r.TCBStatus, r.Advisories)
	}
	if r.PlatformTCBStatus != TCBConfigurationAndSWHardeningNeeded || r.QETCBStatus != TCBUpToDate || r.QEISVSVN != 10 {
		t.Errorf("platform %s, QE %s (ISVSVN %d)", r.PlatformTCBStatus, r.QETCBStatus, r.QEISVSVN)
	}
	if s := r.String(); !strings.HasPrefix(s, "SGX DCAP: MRENCLAVE 33d8736d") || !strings.Contains(s, "TCB ConfigurationAndSWHardeningNeeded [INTEL-SA-00289 INTEL-SA-00615]") {
		t.Errorf("String() = %q", s)
	}
	if hex.EncodeToString(r.FMSPC[:]) != "00a067110000" || r.Enclave.MRENCLAVE != q.Body.MRENCLAVE {
		t.Errorf("FMSPC %x", r.FMSPC)
	}
	nb, _ := time.Parse(time.RFC3339, "2025-06-19T10:56:11Z")
	na, _ := time.Parse(time.RFC3339, "2025-07-19T10:01:18Z")
	if !r.CollateralNotBefore.Equal(nb) || !r.CollateralNotAfter.Equal(na) {
		t.Errorf("collateral window %s to %s, want %s to %s", r.CollateralNotBefore, r.CollateralNotAfter, nb, na)
	}
}

func TestVectorValidityWindow(t *testing.T) {
	qb, cb := readVector(t)
	q, c := mustParse(t, qb, cb)
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for _, tc := range []struct {
		at       time.Time
		want     error
		itemLike string // in the error: the item that is out of its window
	}{
		{at("2025-06-19T10:56:11Z"), nil, ""}, // the window includes both ends
		{at("2025-07-19T10:01:18Z"), nil, ""},
		{at("2025-07-19T10:01:19Z"), ErrExpired, "nextUpdate of the QE identity"},
		{at("2025-07-19T10:30:00Z"), ErrExpired, "nextUpdate of the QE identity"}, // the PCK CRL too: the first to expire is named
		{at("2026-12-04T00:00:00Z"), ErrExpired, "collateral expired at 2025-07-19T10:01:18Z"},
		{at("2025-06-19T10:56:10Z"), ErrNotYetValid, "issueDate of the TCB info"},
		{at("2018-01-01T00:00:00Z"), ErrNotYetValid, "collateral not valid before 2025-06-19T10:56:11Z"},
		{at("2051-01-01T00:00:00Z"), ErrExpired, "nextUpdate of the QE identity"},
	} {
		t.Run(tc.at.Format(time.RFC3339), func(t *testing.T) {
			_, err := Verify(q, c, WithTime(tc.at))
			wantErr(t, err, tc.want)
			if err != nil && !strings.Contains(err.Error(), tc.itemLike) {
				t.Errorf("error %q does not say %q", err, tc.itemLike)
			}
			var ve *ValidityError
			if err != nil && !errors.As(err, &ve) {
				t.Errorf("error %T is not a *ValidityError", err)
			}
		})
	}
}

// flip returns b with bit (off % 8) of byte off inverted.
func flip(b []byte, off int) []byte {
	c := bytes.Clone(b)
	c[off] ^= 1 << (off % 8)
	return c
}

func TestVectorMutations(t *testing.T) {
	qb, cb := readVector(t)
	_, c := mustParse(t, qb, cb)
	v, err := NewVerifier(WithTime(vectorTime))
	if err != nil {
		t.Fatal(err)
	}
	authEnd := offQEAuthSize + 2 + 32
	for _, tc := range []struct {
		name string
		off  int
		want error
		step string
	}{
		{"header QESVN", 8, ErrSignature, StepQuoteSignature},
		{"header PCESVN", 10, ErrSignature, StepQuoteSignature},
		{"header QE vendor ID", 12, ErrQEIdentity, StepQuote},
		{"header user data", 40, ErrSignature, StepQuoteSignature},
		{"header version", 0, ErrFormat, ""},
		{"header attestation key type", 2, ErrFormat, ""},
		{"report body CPUSVN", HeaderSize + 0, ErrSignature, StepQuoteSignature},
		{"report body attributes (DEBUG)", HeaderSize + 48, ErrSignature, StepQuoteSignature},
		{"report body MRENCLAVE", HeaderSize + 64, ErrSignature, StepQuoteSignature},
		{"report body MRSIGNER", HeaderSize + 130, ErrSignature, StepQuoteSignature},
		{"report body ISVPRODID", HeaderSize + 256, ErrSignature, StepQuoteSignature},
		{"report body ISVSVN", HeaderSize + 258, ErrSignature, StepQuoteSignature},
		{"report body report data", HeaderSize + 320, ErrSignature, StepQuoteSignature},
		{"report body last byte", SignedSize - 1, ErrSignature, StepQuoteSignature},
		{"signature data length", offSigDataLen, ErrFormat, ""},
		{"ISV signature r", offSignature + 3, ErrSignature, StepQuoteSignature},
		{"ISV signature s", offSignature + 40, ErrSignature, StepQuoteSignature},
		{"attestation key", offAttestKey + 5, ErrSignature, StepKeyBinding},
		{"QE report MRSIGNER", offQEReport + 128, ErrSignature, StepQEReport},
		{"QE report ISVSVN", offQEReport + 258, ErrSignature, StepQEReport},
		{"QE report report data", offQEReport + 320, ErrSignature, StepQEReport},
		{"QE report signature", offQEReportSig + 1, ErrSignature, StepQEReport},
		{"QE auth data size", offQEAuthSize, ErrFormat, ""},
		{"QE auth data", offQEAuthSize + 2 + 7, ErrSignature, StepKeyBinding},
		{"certification data type", authEnd, ErrFormat, ""},
		{"certification data size", authEnd + 2, ErrFormat, ""},
		{"PCK certificate base64", authEnd + 6 + 400, nil, StepPCKChain}, // ErrFormat or ErrSignature/ErrChain
	} {
		t.Run(tc.name, func(t *testing.T) {
			mb := flip(qb, tc.off)
			q, err := ParseQuote(mb)
			if err == nil {
				_, err = v.Verify(q, c)
			}
			if tc.want == nil {
				if err == nil {
					t.Fatal("verified")
				}
				if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrSignature) && !errors.Is(err, ErrChain) {
					t.Fatalf("error %q: want a format, chain or signature error", err)
				}
				return
			}
			wantErr(t, err, tc.want)
			var e *Error
			if tc.step != "" && (!errors.As(err, &e) || e.Step != tc.step) {
				t.Errorf("error %q: want step %q", err, tc.step)
			}
		})
	}
}

// Every bit flipped anywhere in the signed parts of the quote (header,
// report body, signature data up to the end of the QE auth data) is refused.
func TestVectorEveryByteOfTheSignedPartsMatters(t *testing.T) {
	qb, cb := readVector(t)
	_, c := mustParse(t, qb, cb)
	v, _ := NewVerifier(WithTime(vectorTime))
	end := offQEAuthSize + 2 + 32
	for off := 0; off < end; off++ {
		for _, bit := range []int{off % 8, 7 - off%8} {
			mb := bytes.Clone(qb)
			mb[off] ^= 1 << bit
			q, err := ParseQuote(mb)
			if err == nil {
				_, err = v.Verify(q, c)
			}
			if err == nil {
				t.Fatalf("bit %d of byte %d flipped: the quote still verifies", bit, off)
			}
		}
	}
}

func TestVectorTruncations(t *testing.T) {
	qb, _ := readVector(t)
	for _, n := range []int{0, 1, HeaderSize - 1, HeaderSize, SignedSize, offSignature - 1, offSignature, offQEReport + 100,
		offQEAuthSize, offQEAuthSize + 1, offQEAuthSize + 2 + 31, offQEAuthSize + 2 + 32 + 5, len(qb) - 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			_, err := ParseQuote(qb[:n])
			wantErr(t, err, ErrFormat)
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Offset < 0 || fe.Offset > n {
				t.Errorf("error %q: want a *FormatError with an offset within the %d bytes", err, n)
			}
		})
	}
	t.Run("trailing byte", func(t *testing.T) {
		_, err := ParseQuote(append(bytes.Clone(qb), 0))
		wantErr(t, err, ErrFormat)
	})
}

func TestVectorWrongRoot(t *testing.T) {
	qb, cb := readVector(t)
	q, c := mustParse(t, qb, cb)
	other := genKey(t)
	_, err := Verify(q, c, WithTime(vectorTime), WithRootPublicKey(&other.PublicKey))
	wantErr(t, err, ErrChain)
	if !strings.Contains(err.Error(), KeyFingerprint(&other.PublicKey)) {
		t.Errorf("error %q does not name the trusted key", err)
	}
}

func TestVectorCollateralMutations(t *testing.T) {
	qb, cb := readVector(t)
	q, _ := mustParse(t, qb, cb)
	str := func(m map[string]any, k string) string { return m[k].(string) }
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
		want error
		say  string
	}{
		{"TCB info status upgraded", func(m map[string]any) {
			m["tcb_info"] = strings.Replace(str(m, "tcb_info"), `"tcbStatus":"SWHardeningNeeded"`, `"tcbStatus":"UpToDate"`, 1)
		}, ErrSignature, "TCB info"},
		{"TCB info blank added", func(m map[string]any) { m["tcb_info"] = str(m, "tcb_info") + " " }, ErrSignature, "TCB info"},
		{"TCB info signature", func(m map[string]any) {
			s := []byte(str(m, "tcb_info_signature"))
			s[10] ^= 1
			m["tcb_info_signature"] = string(s)
		}, ErrSignature, "TCB info"},
		{"QE identity level lowered", func(m map[string]any) {
			m["qe_identity"] = strings.Replace(str(m, "qe_identity"), `"isvsvn":8`, `"isvsvn":2`, 1)
		}, ErrSignature, "QE identity"},
		{"QE identity signature of the TCB info", func(m map[string]any) { m["qe_identity_signature"] = m["tcb_info_signature"] }, ErrSignature, "QE identity"},
		{"root CA CRL unparsable", func(m map[string]any) { m["root_ca_crl"] = "30" + str(m, "root_ca_crl")[2:40] }, ErrFormat, "unparsable CRL"},
		{"PCK CRL not hex", func(m map[string]any) { m["pck_crl"] = "not a CRL" }, ErrFormat, "pck_crl"},
		{"PCK CRL as root CA CRL", func(m map[string]any) { m["root_ca_crl"] = m["pck_crl"] }, ErrChain, "issued by"},
		{"PCK CRL bit flipped", func(m map[string]any) {
			s := []byte(str(m, "pck_crl"))
			s[len(s)-10] ^= 1
			m["pck_crl"] = string(s)
		}, ErrSignature, "PCK CRL"},
		{"TCB info chain is the PCK CRL chain", func(m map[string]any) { m["tcb_info_issuer_chain"] = m["pck_crl_issuer_chain"] }, ErrChain, "Intel SGX TCB Signing"},
		{"TCB info chain without its root", func(m map[string]any) {
			s := str(m, "tcb_info_issuer_chain")
			m["tcb_info_issuer_chain"] = s[:strings.Index(s, "-----END CERTIFICATE-----")+25]
		}, ErrFormat, "want 2"},
		{"field missing", func(m map[string]any) { delete(m, "qe_identity_signature") }, ErrFormat, "missing"},
		{"unknown field", func(m map[string]any) { m["tcb_info_sig"] = "00" }, ErrFormat, "unknown field"},
		{"field not a string", func(m map[string]any) { m["tcb_info"] = map[string]any{"id": "SGX"} }, ErrFormat, "want a JSON string"},
		{"TCB info version 2", func(m map[string]any) {
			m["tcb_info"] = strings.Replace(str(m, "tcb_info"), `"version":3`, `"version":2`, 1)
		}, ErrFormat, "version 2 is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCollateral(editCollateral(t, cb, tc.edit))
			if err == nil {
				_, err = Verify(q, c, WithTime(vectorTime))
			}
			wantErr(t, err, tc.want)
			if !strings.Contains(err.Error(), tc.say) {
				t.Errorf("error %q does not say %q", err, tc.say)
			}
		})
	}
}

func TestParseCollateralRejects(t *testing.T) {
	for _, tc := range []struct {
		name, in, say string
	}{
		{"empty", "", "not JSON"},
		{"null", "null", "null"},
		{"array", "[]", "want a JSON object"},
		{"truncated", `{"root_ca_crl": "30`, "not JSON"},
		{"empty object", "{}", "missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCollateral([]byte(tc.in))
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.say) {
				t.Fatalf("error %v: want a format error saying %q", err, tc.say)
			}
		})
	}
}

// Verification uses the bytes parsed: changing the decoded fields changes
// nothing (a caller cannot upgrade a TCB status or swap an MRENCLAVE).
func TestVerifyUsesTheBytesParsed(t *testing.T) {
	qb, cb := readVector(t)
	q, c := mustParse(t, qb, cb)
	for i := range c.TCBInfo.Levels {
		c.TCBInfo.Levels[i].Status = TCBUpToDate
	}
	c.QEIdentity.MRSIGNER = [32]byte{}
	q.Body.MRENCLAVE = [32]byte{1}
	q.QEReport.MRSIGNER = [32]byte{}
	r, err := Verify(q, c, WithTime(vectorTime))
	if err != nil {
		t.Fatal(err)
	}
	if r.TCBStatus != TCBConfigurationAndSWHardeningNeeded || hex.EncodeToString(r.Enclave.MRENCLAVE[:4]) != "33d8736d" {
		t.Errorf("status %s, MRENCLAVE %x: the changed fields were used", r.TCBStatus, r.Enclave.MRENCLAVE)
	}
}
