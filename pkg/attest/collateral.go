package attest

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MaxCollateralSize bounds what ParseCollateral reads (the vector's is 14 KB).
const MaxCollateralSize = 4 << 20

// Collateral is what verifying a quote needs besides the quote, as a PCCS
// hands it out (docs/attestation.md): the root CA and PCK CRLs, the signed
// TCB info and QE identity, and the issuer chains of all three.
//
// The fields are a decoded copy for reading: verification uses its own copy
// of the bytes ParseCollateral read (a Verifier caches its checks by their
// digest), so changing the fields changes nothing.
type Collateral struct {
	RootCACRL         *x509.RevocationList
	PCKCRL            *x509.RevocationList
	PCKCRLIssuerChain []*x509.Certificate // PCK CA, root CA

	TCBInfo            *TCBInfo
	TCBInfoRaw         []byte   // the signed bytes: the JSON of the "tcbInfo" value
	TCBInfoSignature   [64]byte // ECDSA-P256 r || s over TCBInfoRaw
	TCBInfoIssuerChain []*x509.Certificate

	QEIdentity            *QEIdentity
	QEIdentityRaw         []byte
	QEIdentitySignature   [64]byte
	QEIdentityIssuerChain []*x509.Certificate

	raw    []byte   // the JSON parsed
	digest [32]byte // its SHA-256
}

// TCBInfo is a TCB info, version 3, id "SGX": the TCB levels of one platform
// type (FMSPC) and their statuses.
type TCBInfo struct {
	ID                      string
	Version                 int
	IssueDate, NextUpdate   time.Time
	FMSPC                   [6]byte
	PCEID                   [2]byte
	TCBType                 int
	TCBEvaluationDataNumber int
	Levels                  []TCBLevel
}

// TCBLevel is one TCB level of a TCB info.
type TCBLevel struct {
	SGXComponents [16]uint8
	PCESVN        uint16
	Date          time.Time
	Status        TCBStatus
	Advisories    []string
}

// QEIdentity is a QE identity, version 2, id "QE": what Intel's quoting
// enclave is and its TCB levels.
type QEIdentity struct {
	ID                      string
	Version                 int
	IssueDate, NextUpdate   time.Time
	TCBEvaluationDataNumber int
	MiscSelect              [4]byte // in report byte order
	MiscSelectMask          [4]byte
	Attributes              [16]byte // flags || xfrm, in report byte order
	AttributesMask          [16]byte
	MRSIGNER                [32]byte
	ISVProdID               uint16
	Levels                  []QELevel
}

// QELevel is one TCB level of a QE identity.
type QELevel struct {
	ISVSVN     uint16
	Date       time.Time
	Status     TCBStatus
	Advisories []string
}

// collateralFields are the fields of the collateral JSON, all strings.
var collateralFields = []string{"pck_crl_issuer_chain", "root_ca_crl", "pck_crl", "tcb_info_issuer_chain", "tcb_info",
	"tcb_info_signature", "qe_identity_issuer_chain", "qe_identity", "qe_identity_signature"}

func collErr(off int, field, format string, a ...any) error {
	return &FormatError{What: "DCAP collateral", Offset: off, Part: field, Reason: fmt.Sprintf(format, a...)}
}

// ParseCollateral reads the collateral JSON (docs/attestation.md): an object
// with exactly the nine string fields a PCCS returns. It parses every field
// (certificates, CRLs, TCB info, QE identity) and checks no signature
// (Verify does).
func ParseCollateral(b []byte) (*Collateral, error) {
	if len(b) > MaxCollateralSize {
		return nil, collErr(-1, "", "%d bytes, more than %d", len(b), MaxCollateralSize)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			off := int(se.Offset) - 1 // the offset after the byte at fault
			if off < 0 {
				off = 0
			}
			return nil, collErr(off, "", "not JSON: %v", se)
		case errors.As(err, &te):
			return nil, collErr(-1, "", "want a JSON object with the fields %s", strings.Join(collateralFields, ", "))
		}
		return nil, collErr(-1, "", "not JSON: %v", err)
	}
	if raw == nil {
		return nil, collErr(-1, "", "want a JSON object, got null")
	}
	s := map[string]string{}
	for k, v := range raw {
		if !slices.Contains(collateralFields, k) {
			return nil, collErr(-1, k, "unknown field (the collateral has exactly the fields %s)", strings.Join(collateralFields, ", "))
		}
		var str string
		if err := json.Unmarshal(v, &str); err != nil {
			return nil, collErr(-1, k, "want a JSON string")
		}
		s[k] = str
	}
	for _, k := range collateralFields {
		if _, ok := s[k]; !ok {
			return nil, collErr(-1, k, "missing")
		}
	}
	c := &Collateral{raw: bytes.Clone(b), digest: sha256.Sum256(b)}
	var err error
	if c.PCKCRLIssuerChain, err = parseChain("pck_crl_issuer_chain", s["pck_crl_issuer_chain"], 2); err != nil {
		return nil, err
	}
	if c.TCBInfoIssuerChain, err = parseChain("tcb_info_issuer_chain", s["tcb_info_issuer_chain"], 2); err != nil {
		return nil, err
	}
	if c.QEIdentityIssuerChain, err = parseChain("qe_identity_issuer_chain", s["qe_identity_issuer_chain"], 2); err != nil {
		return nil, err
	}
	if c.RootCACRL, err = parseCRL("root_ca_crl", s["root_ca_crl"]); err != nil {
		return nil, err
	}
	if c.PCKCRL, err = parseCRL("pck_crl", s["pck_crl"]); err != nil {
		return nil, err
	}
	if c.TCBInfoSignature, err = parseSig("tcb_info_signature", s["tcb_info_signature"]); err != nil {
		return nil, err
	}
	if c.QEIdentitySignature, err = parseSig("qe_identity_signature", s["qe_identity_signature"]); err != nil {
		return nil, err
	}
	c.TCBInfoRaw = []byte(s["tcb_info"])
	if c.TCBInfo, err = parseTCBInfo(c.TCBInfoRaw); err != nil {
		return nil, err
	}
	c.QEIdentityRaw = []byte(s["qe_identity"])
	if c.QEIdentity, err = parseQEIdentity(c.QEIdentityRaw); err != nil {
		return nil, err
	}
	return c, nil
}

// Digest returns the SHA-256 of the JSON the collateral was parsed from.
func (c *Collateral) Digest() [32]byte { return c.digest }

// parseChain reads the want certificates of a collateral field.
func parseChain(field, s string, want int) ([]*x509.Certificate, error) {
	certs, err := parsePEMChain([]byte(s), want)
	if err != nil {
		return nil, collErr(-1, field, "%v", err)
	}
	return certs, nil
}

// parsePEMChain reads want concatenated PEM certificates. Blanks and NUL
// bytes around them are ignored (quotes carry a NUL-terminated chain); any
// other byte is refused.
func parsePEMChain(b []byte, want int) ([]*x509.Certificate, error) {
	rest := b
	var certs []*x509.Certificate
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n\x00")
		if len(rest) == 0 {
			break
		}
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return nil, fmt.Errorf("text that is not a PEM certificate after certificate %d", len(certs))
		}
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, fmt.Errorf("PEM block %d does not decode (truncated or corrupt base64)", len(certs)+1)
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %q, want CERTIFICATE", len(certs)+1, blk.Type)
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(certs)+1, err)
		}
		certs = append(certs, cert)
		if len(certs) > want {
			break
		}
	}
	if len(certs) != want {
		return nil, fmt.Errorf("%d certificates, want %d (%s)", len(certs), want, chainShape(want))
	}
	return certs, nil
}

func chainShape(n int) string {
	if n == 3 {
		return "PCK certificate, PCK CA, root CA"
	}
	return "signing certificate, root CA"
}

// parseCRL reads a CRL as hex-encoded DER (what a PCCS returns) or PEM.
func parseCRL(field, s string) (*x509.RevocationList, error) {
	t := strings.TrimSpace(s)
	var der []byte
	if strings.HasPrefix(t, "-----BEGIN") {
		blk, rest := pem.Decode([]byte(t))
		if blk == nil || blk.Type != "X509 CRL" || len(bytes.TrimSpace(rest)) > 0 {
			return nil, collErr(-1, field, "unparsable CRL: not one PEM \"X509 CRL\" block")
		}
		der = blk.Bytes
	} else {
		var err error
		if der, err = hex.DecodeString(t); err != nil || len(der) == 0 {
			return nil, collErr(-1, field, "unparsable CRL: neither hex-encoded DER nor PEM")
		}
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, collErr(-1, field, "unparsable CRL: %v", err)
	}
	return crl, nil
}

// parseSig reads a raw ECDSA-P256 signature (r || s) in hex.
func parseSig(field, s string) ([64]byte, error) {
	var sig [64]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 64 {
		return sig, collErr(-1, field, "want 128 hex digits (an ECDSA-P256 signature, r || s)")
	}
	copy(sig[:], b)
	return sig, nil
}

func parseTime(field, what, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, collErr(-1, field, "%s %q: want an RFC 3339 time", what, s)
	}
	return t, nil
}

func parseHexN(field, what, s string, dst []byte) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return collErr(-1, field, "%s %q: want %d hex digits", what, s, 2*len(dst))
	}
	copy(dst, b)
	return nil
}

func uintField(field, what string, v *int, max int) (int, error) {
	if v == nil {
		return 0, collErr(-1, field, "%s missing", what)
	}
	if *v < 0 || *v > max {
		return 0, collErr(-1, field, "%s %d out of range 0 to %d", what, *v, max)
	}
	return *v, nil
}

func parseStatus(field, what, s string) (TCBStatus, error) {
	st, err := ParseTCBStatus(s)
	if err != nil {
		return "", collErr(-1, field, "%s: %v", what, err)
	}
	return st, nil
}

type tcbInfoJSON struct {
	ID                      string `json:"id"`
	Version                 *int   `json:"version"`
	IssueDate               string `json:"issueDate"`
	NextUpdate              string `json:"nextUpdate"`
	FMSPC                   string `json:"fmspc"`
	PCEID                   string `json:"pceId"`
	TCBType                 *int   `json:"tcbType"`
	TCBEvaluationDataNumber *int   `json:"tcbEvaluationDataNumber"`
	TCBLevels               []struct {
		TCB *struct {
			SGXTCBComponents []struct {
				SVN *int `json:"svn"`
			} `json:"sgxtcbcomponents"`
			PCESVN *int `json:"pcesvn"`
		} `json:"tcb"`
		TCBDate     string   `json:"tcbDate"`
		TCBStatus   string   `json:"tcbStatus"`
		AdvisoryIDs []string `json:"advisoryIDs"`
	} `json:"tcbLevels"`
}

const maxInt = int(^uint(0) >> 1)

func parseTCBInfo(b []byte) (*TCBInfo, error) {
	const f = "tcb_info"
	var j tcbInfoJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, collErr(-1, f, "not the JSON of a TCB info: %v", err)
	}
	if j.ID != "SGX" {
		return nil, collErr(-1, f, "id %q: want \"SGX\" (fetch the SGX TCB info, /sgx/certification/v4/tcb)", j.ID)
	}
	ti := &TCBInfo{ID: j.ID}
	var err error
	if ti.Version, err = uintField(f, "version", j.Version, maxInt); err != nil {
		return nil, err
	}
	if ti.Version != 3 {
		return nil, collErr(-1, f, "version %d is not supported: want version 3 (PCS API v4)", ti.Version)
	}
	if ti.IssueDate, err = parseTime(f, "issueDate", j.IssueDate); err != nil {
		return nil, err
	}
	if ti.NextUpdate, err = parseTime(f, "nextUpdate", j.NextUpdate); err != nil {
		return nil, err
	}
	if err := parseHexN(f, "fmspc", j.FMSPC, ti.FMSPC[:]); err != nil {
		return nil, err
	}
	if err := parseHexN(f, "pceId", j.PCEID, ti.PCEID[:]); err != nil {
		return nil, err
	}
	if ti.TCBType, err = uintField(f, "tcbType", j.TCBType, maxInt); err != nil {
		return nil, err
	}
	if ti.TCBType != 0 {
		return nil, collErr(-1, f, "tcbType %d is not supported (want 0)", ti.TCBType)
	}
	if ti.TCBEvaluationDataNumber, err = uintField(f, "tcbEvaluationDataNumber", j.TCBEvaluationDataNumber, maxInt); err != nil {
		return nil, err
	}
	if len(j.TCBLevels) == 0 {
		return nil, collErr(-1, f, "no tcbLevels")
	}
	for i, l := range j.TCBLevels {
		what := fmt.Sprintf("tcbLevels[%d]", i)
		if l.TCB == nil {
			return nil, collErr(-1, f, "%s: tcb missing", what)
		}
		if len(l.TCB.SGXTCBComponents) != 16 {
			return nil, collErr(-1, f, "%s: %d sgxtcbcomponents, want 16", what, len(l.TCB.SGXTCBComponents))
		}
		var lv TCBLevel
		for k, c := range l.TCB.SGXTCBComponents {
			v, err := uintField(f, fmt.Sprintf("%s.sgxtcbcomponents[%d].svn", what, k), c.SVN, 255)
			if err != nil {
				return nil, err
			}
			lv.SGXComponents[k] = uint8(v)
		}
		p, err := uintField(f, what+".pcesvn", l.TCB.PCESVN, 65535)
		if err != nil {
			return nil, err
		}
		lv.PCESVN = uint16(p)
		if lv.Date, err = parseTime(f, what+".tcbDate", l.TCBDate); err != nil {
			return nil, err
		}
		if lv.Status, err = parseStatus(f, what+".tcbStatus", l.TCBStatus); err != nil {
			return nil, err
		}
		lv.Advisories = l.AdvisoryIDs
		ti.Levels = append(ti.Levels, lv)
	}
	return ti, nil
}

type qeIdentityJSON struct {
	ID                      string `json:"id"`
	Version                 *int   `json:"version"`
	IssueDate               string `json:"issueDate"`
	NextUpdate              string `json:"nextUpdate"`
	TCBEvaluationDataNumber *int   `json:"tcbEvaluationDataNumber"`
	MiscSelect              string `json:"miscselect"`
	MiscSelectMask          string `json:"miscselectMask"`
	Attributes              string `json:"attributes"`
	AttributesMask          string `json:"attributesMask"`
	MRSIGNER                string `json:"mrsigner"`
	ISVProdID               *int   `json:"isvprodid"`
	TCBLevels               []struct {
		TCB *struct {
			ISVSVN *int `json:"isvsvn"`
		} `json:"tcb"`
		TCBDate     string   `json:"tcbDate"`
		TCBStatus   string   `json:"tcbStatus"`
		AdvisoryIDs []string `json:"advisoryIDs"`
	} `json:"tcbLevels"`
}

func parseQEIdentity(b []byte) (*QEIdentity, error) {
	const f = "qe_identity"
	var j qeIdentityJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, collErr(-1, f, "not the JSON of a QE identity: %v", err)
	}
	if j.ID != "QE" {
		return nil, collErr(-1, f, "id %q: want \"QE\" (fetch the SGX QE identity, /sgx/certification/v4/qe/identity)", j.ID)
	}
	qi := &QEIdentity{ID: j.ID}
	var err error
	if qi.Version, err = uintField(f, "version", j.Version, maxInt); err != nil {
		return nil, err
	}
	if qi.Version != 2 {
		return nil, collErr(-1, f, "version %d is not supported: want version 2 (PCS API v4)", qi.Version)
	}
	if qi.IssueDate, err = parseTime(f, "issueDate", j.IssueDate); err != nil {
		return nil, err
	}
	if qi.NextUpdate, err = parseTime(f, "nextUpdate", j.NextUpdate); err != nil {
		return nil, err
	}
	if qi.TCBEvaluationDataNumber, err = uintField(f, "tcbEvaluationDataNumber", j.TCBEvaluationDataNumber, maxInt); err != nil {
		return nil, err
	}
	for _, h := range []struct {
		what, s string
		dst     []byte
	}{{"miscselect", j.MiscSelect, qi.MiscSelect[:]}, {"miscselectMask", j.MiscSelectMask, qi.MiscSelectMask[:]},
		{"attributes", j.Attributes, qi.Attributes[:]}, {"attributesMask", j.AttributesMask, qi.AttributesMask[:]},
		{"mrsigner", j.MRSIGNER, qi.MRSIGNER[:]}} {
		if err := parseHexN(f, h.what, h.s, h.dst); err != nil {
			return nil, err
		}
	}
	p, err := uintField(f, "isvprodid", j.ISVProdID, 65535)
	if err != nil {
		return nil, err
	}
	qi.ISVProdID = uint16(p)
	if len(j.TCBLevels) == 0 {
		return nil, collErr(-1, f, "no tcbLevels")
	}
	for i, l := range j.TCBLevels {
		what := fmt.Sprintf("tcbLevels[%d]", i)
		if l.TCB == nil {
			return nil, collErr(-1, f, "%s: tcb missing", what)
		}
		v, err := uintField(f, what+".isvsvn", l.TCB.ISVSVN, 65535)
		if err != nil {
			return nil, err
		}
		lv := QELevel{ISVSVN: uint16(v), Advisories: l.AdvisoryIDs}
		if lv.Date, err = parseTime(f, what+".tcbDate", l.TCBDate); err != nil {
			return nil, err
		}
		if lv.Status, err = parseStatus(f, what+".tcbStatus", l.TCBStatus); err != nil {
			return nil, err
		}
		qi.Levels = append(qi.Levels, lv)
	}
	return qi, nil
}
