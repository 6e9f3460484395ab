package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// Verification steps, as errors (*Error.Step) and docs/attestation.md name them.
const (
	StepQuote           = "quote"
	StepPCKChain        = "PCK chain"
	StepTCBInfoChain    = "TCB info issuer chain"
	StepQEIdentityChain = "QE identity issuer chain"
	StepPCKCRLChain     = "PCK CRL issuer chain"
	StepRootCRL         = "root CA CRL"
	StepPCKCRL          = "PCK CRL"
	StepTCBInfo         = "TCB info"
	StepQEIdentity      = "QE identity"
	StepValidity        = "validity"
	StepRevocation      = "revocation"
	StepQEReport        = "QE report signature"
	StepKeyBinding      = "attestation key binding"
	StepQuoteSignature  = "quote signature"
	StepQEMatch         = "QE identity match"
	StepTCBMatch        = "TCB level"
	StepTCBStatus       = "TCB status"
	StepSimulationKey   = "simulation key"
)

// Result is what a verified quote says.
type Result struct {
	// Simulation is true for a simulation quote (VerifySimulation): it was
	// signed by a simulation key, not by SGX hardware, and proves nothing
	// about the hardware or the memory protection of the enclave.
	Simulation bool
	// Enclave is the attested enclave's report body: MRENCLAVE, MRSIGNER,
	// ISVPRODID, ISVSVN, attributes, report data, CPUSVN, MISCSELECT.
	Enclave ReportBody
	// AttestationKey is the key that signed the quote (for a simulation
	// quote: the simulation key).
	AttestationKey *ecdsa.PublicKey

	// The rest is zero for a simulation quote.

	FMSPC [6]byte
	PCEID [2]byte
	// TCBStatus is the platform's TCB status combined with the quoting
	// enclave's (PlatformTCBStatus, QETCBStatus); Advisories are the Intel
	// security advisories of both TCB levels.
	TCBStatus               TCBStatus
	Advisories              []string
	PlatformTCBStatus       TCBStatus
	QETCBStatus             TCBStatus
	TCBDate                 time.Time // of the platform's TCB level
	TCBEvaluationDataNumber int
	QEISVSVN                uint16
	// The collateral (and certificates) are all valid from
	// CollateralNotBefore to CollateralNotAfter; VerifiedAt is the time
	// the quote was verified at.
	CollateralNotBefore time.Time
	CollateralNotAfter  time.Time
	VerifiedAt          time.Time
}

// String summarizes the result on one line (for logs); a simulation result
// begins with "SIMULATION (no hardware security)".
func (r *Result) String() string {
	id := fmt.Sprintf("MRENCLAVE %x MRSIGNER %x ISVPRODID %d ISVSVN %d", r.Enclave.MRENCLAVE[:], r.Enclave.MRSIGNER[:], r.Enclave.ISVProdID, r.Enclave.ISVSVN)
	if r.Enclave.Attributes.Debug() {
		id += " DEBUG"
	}
	if r.Simulation {
		return "SIMULATION (no hardware security): " + id
	}
	return fmt.Sprintf("SGX DCAP: %s FMSPC %x TCB %s %v", id, r.FMSPC[:], r.TCBStatus, r.Advisories)
}

// Option configures verification.
type Option func(*config)

type config struct {
	at       time.Time
	root     crypto.PublicKey
	accepted []TCBStatus
	setRoot  bool
	setAcc   bool
}

// WithTime verifies at t instead of the current time.
func WithTime(t time.Time) Option { return func(c *config) { c.at = t } }

// WithRootPublicKey trusts pub (an ECDSA P-256 *ecdsa.PublicKey) as the root
// of every certificate chain instead of the Intel SGX Root CA key. For tests
// with a test PKI; a production verifier keeps the default.
func WithRootPublicKey(pub crypto.PublicKey) Option {
	return func(c *config) { c.root, c.setRoot = pub, true }
}

// WithAcceptedTCBStatuses accepts only these TCB statuses; a genuine quote
// with another status fails with ErrTCBStatus (and its Result). Default:
// every status but Revoked, which is never accepted.
func WithAcceptedTCBStatuses(s ...TCBStatus) Option {
	return func(c *config) { c.accepted, c.setAcc = s, true }
}

// settings are validated options.
type settings struct {
	at       time.Time // zero: now
	root     *ecdsa.PublicKey
	accepted map[TCBStatus]bool
}

func newSettings(opts []Option) (*settings, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	s := &settings{at: c.at, root: intelRoot, accepted: map[TCBStatus]bool{}}
	if c.setRoot {
		k, ok := c.root.(*ecdsa.PublicKey)
		if !ok || k == nil || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("configuring quote verification: root public key %T: want an ECDSA P-256 *ecdsa.PublicKey", c.root)
		}
		s.root = k
	}
	if !c.setAcc {
		for _, t := range TCBStatuses {
			s.accepted[t] = t != TCBRevoked
		}
	} else {
		if len(c.accepted) == 0 {
			return nil, errors.New("configuring quote verification: no accepted TCB status")
		}
		for _, t := range c.accepted {
			if _, err := ParseTCBStatus(string(t)); err != nil {
				return nil, fmt.Errorf("configuring quote verification: %w", err)
			}
			if t == TCBRevoked {
				return nil, errors.New("configuring quote verification: the TCB status Revoked cannot be accepted")
			}
			s.accepted[t] = true
		}
	}
	return s, nil
}

// Verify verifies a hardware quote with its collateral (docs/attestation.md
// lists the steps in order). It returns the Result, or an error that wraps
// one of the sentinel errors of this package. For ErrTCBStatus (a genuine
// quote from a platform whose TCB status is not accepted), it returns the
// Result too. A simulation quote fails with ErrSimulation.
//
// Verify checks the collateral each time; a Verifier caches what does not
// depend on the quote.
func Verify(q *Quote, c *Collateral, opts ...Option) (*Result, error) {
	v, err := NewVerifier(opts...)
	if err != nil {
		return nil, err
	}
	return v.Verify(q, c)
}

// Verifier verifies quotes and caches the checks of collateral (by its
// digest) and of PCK certificate chains (by their bytes): signatures,
// parsing, chains to the root. What depends on the time (validity windows)
// and revocation is checked on every call. It is safe for concurrent use.
type Verifier struct {
	s *settings

	mu          sync.Mutex
	collaterals map[[32]byte]*checkedCollateral
	chains      map[[32]byte]*checkedPCK
}

// Cache bounds: a CAS sees one collateral per platform type (FMSPC) and one
// PCK chain per platform.
const (
	maxCachedCollaterals = 256
	maxCachedChains      = 8192
)

// NewVerifier returns a Verifier configured by opts.
func NewVerifier(opts ...Option) (*Verifier, error) {
	s, err := newSettings(opts)
	if err != nil {
		return nil, err
	}
	return &Verifier{s: s, collaterals: map[[32]byte]*checkedCollateral{}, chains: map[[32]byte]*checkedPCK{}}, nil
}

// checkedCollateral is a collateral whose signatures, chains and CRLs were
// checked against the root key (everything but time and the quote).
type checkedCollateral struct {
	c           *Collateral
	rootRevoked revokedSet
	pckRevoked  revokedSet
	pckCRLCA    *x509.Certificate // the CA that issued the PCK CRL
	items       []validityItem
}

// checkedPCK is a PCK chain checked against the root key.
type checkedPCK struct {
	leaf, ca *x509.Certificate
	leafKey  *ecdsa.PublicKey
	ext      *PCKExtensions
	items    []validityItem
}

func cacheGet[T any](v *Verifier, m map[[32]byte]*T, k [32]byte) *T {
	v.mu.Lock()
	defer v.mu.Unlock()
	return m[k]
}

func cachePut[T any](v *Verifier, m map[[32]byte]*T, k [32]byte, val *T, max int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(m) >= max {
		for old := range m { // drop any one
			delete(m, old)
			break
		}
	}
	m[k] = val
}

func (v *Verifier) collateral(c *Collateral) (*checkedCollateral, error) {
	if c == nil || c.raw == nil {
		return nil, errors.New("verifying quote: the collateral was not made by ParseCollateral")
	}
	if cc := cacheGet(v, v.collaterals, c.digest); cc != nil {
		return cc, nil
	}
	own, err := ParseCollateral(c.raw) // a copy no caller can change
	if err != nil {
		return nil, err
	}
	cc, err := checkCollateral(own, v.s.root)
	if err != nil {
		return nil, err
	}
	cachePut(v, v.collaterals, c.digest, cc, maxCachedCollaterals)
	return cc, nil
}

func checkCollateral(c *Collateral, root *ecdsa.PublicKey) (*checkedCollateral, error) {
	cc := &checkedCollateral{c: c}
	for _, ch := range []struct {
		step  string
		certs []*x509.Certificate
		rule  chainRule
	}{{StepTCBInfoChain, c.TCBInfoIssuerChain, signingChainRule},
		{StepQEIdentityChain, c.QEIdentityIssuerChain, signingChainRule},
		{StepPCKCRLChain, c.PCKCRLIssuerChain, pckCRLChainRule}} {
		items, err := checkChain(ch.step, ch.certs, root, ch.rule)
		if err != nil {
			return nil, err
		}
		cc.items = append(cc.items, items...)
	}
	rootCert := c.TCBInfoIssuerChain[len(c.TCBInfoIssuerChain)-1]
	if err := checkCRL(StepRootCRL, c.RootCACRL, rootCert, root); err != nil {
		return nil, err
	}
	ca := c.PCKCRLIssuerChain[0]
	caKey, _ := p256Key(ca) // checked by checkChain
	if err := checkCRL(StepPCKCRL, c.PCKCRL, ca, caKey); err != nil {
		return nil, err
	}
	cc.pckCRLCA = ca
	cc.rootRevoked = newRevokedSet(c.RootCACRL)
	cc.pckRevoked = newRevokedSet(c.PCKCRL)
	// The collateral's own certificates issued by the root.
	for _, cert := range []*x509.Certificate{c.TCBInfoIssuerChain[0], c.QEIdentityIssuerChain[0], ca} {
		if err := cc.rootRevoked.check(StepRevocation, "root CA CRL", cert); err != nil {
			return nil, err
		}
	}
	tcbKey, _ := p256Key(c.TCBInfoIssuerChain[0])
	if !verifyRaw(tcbKey, c.TCBInfoRaw, c.TCBInfoSignature[:]) {
		return nil, fail(ErrSignature, StepTCBInfo, "the TCB info's signature does not verify with the key of %q: the TCB info was modified (or the signature belongs to another one)",
			c.TCBInfoIssuerChain[0].Subject.CommonName)
	}
	qeKey, _ := p256Key(c.QEIdentityIssuerChain[0])
	if !verifyRaw(qeKey, c.QEIdentityRaw, c.QEIdentitySignature[:]) {
		return nil, fail(ErrSignature, StepQEIdentity, "the QE identity's signature does not verify with the key of %q: the QE identity was modified (or the signature belongs to another one)",
			c.QEIdentityIssuerChain[0].Subject.CommonName)
	}
	cc.items = append(cc.items,
		validityItem{"the TCB info", false, "issueDate", "nextUpdate", c.TCBInfo.IssueDate, c.TCBInfo.NextUpdate},
		validityItem{"the QE identity", false, "issueDate", "nextUpdate", c.QEIdentity.IssueDate, c.QEIdentity.NextUpdate},
		validityItem{"the root CA CRL", false, "thisUpdate", "nextUpdate", c.RootCACRL.ThisUpdate, c.RootCACRL.NextUpdate},
		validityItem{"the PCK CRL", false, "thisUpdate", "nextUpdate", c.PCKCRL.ThisUpdate, c.PCKCRL.NextUpdate})
	return cc, nil
}

func (v *Verifier) pckChain(certData []byte, off int) (*checkedPCK, error) {
	key := sha256.Sum256(certData)
	if p := cacheGet(v, v.chains, key); p != nil {
		return p, nil
	}
	certs, err := parsePEMChain(certData, 3)
	if err != nil {
		return nil, quoteErr(off, "certification data (PCK chain)", "%v", err)
	}
	items, err := checkChain(StepPCKChain, certs, v.s.root, pckChainRule)
	if err != nil {
		return nil, err
	}
	ext, err := ParsePCKExtensions(certs[0])
	if err != nil {
		return nil, fail(ErrChain, StepPCKChain, "PCK certificate: %v", err)
	}
	leafKey, _ := p256Key(certs[0])
	p := &checkedPCK{leaf: certs[0], ca: certs[1], leafKey: leafKey, ext: ext, items: items}
	cachePut(v, v.chains, key, p, maxCachedChains)
	return p, nil
}

// verifyRaw verifies a raw (r || s) ECDSA-P256 signature over SHA-256(msg).
func verifyRaw(pub *ecdsa.PublicKey, msg, sig []byte) bool {
	if pub == nil || len(sig) != 64 {
		return false
	}
	h := sha256.Sum256(msg)
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, h[:], r, s)
}

// checkWindow checks every item at t and returns the window they share.
func checkWindow(t time.Time, items ...[]validityItem) (time.Time, time.Time, error) {
	var nb, na time.Time
	var expired, early *ValidityError
	for _, list := range items {
		for _, it := range list {
			if nb.IsZero() || it.notBefore.After(nb) {
				nb = it.notBefore
			}
			if na.IsZero() || it.notAfter.Before(na) {
				na = it.notAfter
			}
			e := &ValidityError{Item: it.name, Certificate: it.cert, StartField: it.start, EndField: it.end,
				NotBefore: it.notBefore, NotAfter: it.notAfter, At: t}
			switch {
			case t.After(it.notAfter) && (expired == nil || it.notAfter.Before(expired.NotAfter)):
				expired = e
			case t.Before(it.notBefore) && (early == nil || it.notBefore.After(early.NotBefore)):
				early = e
			}
		}
	}
	if expired != nil { // the first item to expire
		return nb, na, expired
	}
	if early != nil {
		return nb, na, early
	}
	return nb, na, nil
}

// bindingOK checks that the QE report's REPORTDATA is SHA-256(attestation
// key || QE auth data) followed by 32 zero bytes.
func bindingOK(q *Quote) bool {
	h := sha256.New()
	h.Write(q.AttestationKey[:])
	h.Write(q.QEAuthData)
	var want [64]byte
	copy(want[:], h.Sum(nil))
	return q.QEReport.ReportData == want
}

func attestationKey(q *Quote) (*ecdsa.PublicKey, error) {
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, q.AttestationKey[:]...))
	if err != nil {
		return nil, fail(ErrSignature, StepQuoteSignature, "the attestation key is not a P-256 point")
	}
	return k, nil
}

// checkQuoteSignatures checks the quote's own signatures: the QE report by
// certKey, the binding of the attestation key, the quote by the attestation key.
func checkQuoteSignatures(q *Quote, certKey *ecdsa.PublicKey, certName string) (*ecdsa.PublicKey, error) {
	if !verifyRaw(certKey, q.qeReportRaw(), q.QEReportSignature[:]) {
		return nil, fail(ErrSignature, StepQEReport, "the QE report's signature does not verify with the key of %s: the QE report or its signature was modified", certName)
	}
	if !bindingOK(q) {
		return nil, fail(ErrSignature, StepKeyBinding, "the QE report's REPORTDATA is not SHA-256 of the attestation key and the QE auth data: the attestation key or the QE auth data was modified")
	}
	ak, err := attestationKey(q)
	if err != nil {
		return nil, err
	}
	if !verifyRaw(ak, q.signedPart(), q.Signature[:]) {
		return nil, fail(ErrSignature, StepQuoteSignature, "the quote's signature does not verify with the attestation key: the header or the report body was modified")
	}
	return ak, nil
}

// Verify verifies q with c (see the package-level Verify).
func (v *Verifier) Verify(q *Quote, c *Collateral) (*Result, error) {
	if q == nil || q.raw == nil {
		return nil, errors.New("verifying quote: the quote was not made by ParseQuote")
	}
	q, err := parseQuote(q.raw, false) // the bytes parsed, not the fields
	if err != nil {
		return nil, err
	}
	if q.IsSimulation() {
		return nil, fail(ErrSimulation, StepQuote, "a simulation quote (certification data type %#x) carries no hardware evidence: it verifies only against an accepted simulation key", CertTypeSimulation)
	}
	certOff := len(q.raw) - len(q.CertificationData) - 6
	if q.CertificationDataType != CertTypePCKChain {
		return nil, quoteErr(certOff, "certification data type", "type %d is not supported: want %d (the PCK certificate chain); configure the quote provider library to include the PCK chain", q.CertificationDataType, CertTypePCKChain)
	}
	if q.Header.QEVendorID != IntelQEVendorID {
		return nil, fail(ErrQEIdentity, StepQuote, "QE vendor ID %s is not Intel's (%s)", hexs(q.Header.QEVendorID[:]), hexs(IntelQEVendorID[:]))
	}
	at := v.s.at
	if at.IsZero() {
		at = time.Now()
	}
	cc, err := v.collateral(c)
	if err != nil {
		return nil, err
	}
	c = cc.c
	pck, err := v.pckChain(q.CertificationData, certOff+6)
	if err != nil {
		return nil, err
	}
	nb, na, err := checkWindow(at, cc.items, pck.items)
	if err != nil {
		return nil, err
	}
	// Revocation: the PCK CA by the root CA CRL, the PCK certificate by the
	// PCK CRL, which must be the CRL of the CA that issued it.
	if err := cc.rootRevoked.check(StepRevocation, "root CA CRL", pck.ca); err != nil {
		return nil, err
	}
	if string(cc.pckCRLCA.RawSubject) != string(pck.ca.RawSubject) || !bytes.Equal(cc.pckCRLCA.RawSubjectPublicKeyInfo, pck.ca.RawSubjectPublicKeyInfo) {
		ca := "processor"
		if pck.ca.Subject.CommonName == cnPCKPlatformCA {
			ca = "platform"
		}
		return nil, fail(ErrChain, StepPCKCRL, "the PCK CRL is issued by %q, the PCK certificate by %q: fetch the PCK CRL of ca=%s",
			cc.pckCRLCA.Subject.CommonName, pck.ca.Subject.CommonName, ca)
	}
	if err := cc.pckRevoked.check(StepRevocation, "PCK CRL", pck.leaf); err != nil {
		return nil, err
	}
	ak, err := checkQuoteSignatures(q, pck.leafKey, fmt.Sprintf("the PCK certificate %q", pck.leaf.Subject.CommonName))
	if err != nil {
		return nil, err
	}
	qeStatus, qeAdv, err := matchQE(&q.QEReport, c.QEIdentity)
	if err != nil {
		return nil, err
	}
	ti := c.TCBInfo
	if ti.FMSPC != pck.ext.FMSPC {
		return nil, fail(ErrTCB, StepTCBMatch, "the TCB info is for FMSPC %s, the PCK certificate's platform has FMSPC %s: fetch the TCB info of fmspc=%s",
			hexs(ti.FMSPC[:]), hexs(pck.ext.FMSPC[:]), hexs(pck.ext.FMSPC[:]))
	}
	if ti.PCEID != pck.ext.PCEID {
		return nil, fail(ErrTCB, StepTCBMatch, "the TCB info is for PCE ID %s, the PCK certificate's is %s", hexs(ti.PCEID[:]), hexs(pck.ext.PCEID[:]))
	}
	lv, ok := pickTCBLevel(ti.Levels, pck.ext.TCBComponents, pck.ext.PCESVN)
	if !ok {
		return nil, fail(ErrTCB, StepTCBMatch, "no TCB level of the TCB info matches the platform (SGX TCB components %v, PCESVN %d): its TCB is older than every level Intel lists (TCB not supported)",
			pck.ext.TCBComponents, pck.ext.PCESVN)
	}
	res := &Result{
		Enclave:                 q.Body,
		AttestationKey:          ak,
		FMSPC:                   pck.ext.FMSPC,
		PCEID:                   pck.ext.PCEID,
		PlatformTCBStatus:       lv.Status,
		QETCBStatus:             qeStatus,
		TCBStatus:               convergeTCB(lv.Status, qeStatus),
		Advisories:              mergeAdvisories(lv.Advisories, qeAdv),
		TCBDate:                 lv.Date,
		TCBEvaluationDataNumber: ti.TCBEvaluationDataNumber,
		QEISVSVN:                q.QEReport.ISVSVN,
		CollateralNotBefore:     nb,
		CollateralNotAfter:      na,
		VerifiedAt:              at,
	}
	if !v.s.accepted[res.TCBStatus] {
		return res, fail(ErrTCBStatus, StepTCBStatus, "TCB status %s is not accepted (%s)", res.TCBStatus, res.TCBStatus.Explain())
	}
	return res, nil
}

// matchQE checks the QE report against the QE identity and returns the QE's
// TCB status and advisories.
func matchQE(r *ReportBody, qi *QEIdentity) (TCBStatus, []string, error) {
	if r.MRSIGNER != qi.MRSIGNER {
		return "", nil, fail(ErrQEIdentity, StepQEMatch, "the QE's MRSIGNER %s is not the QE identity's %s", hexs(r.MRSIGNER[:]), hexs(qi.MRSIGNER[:]))
	}
	if r.ISVProdID != qi.ISVProdID {
		return "", nil, fail(ErrQEIdentity, StepQEMatch, "the QE's ISVPRODID %d is not the QE identity's %d", r.ISVProdID, qi.ISVProdID)
	}
	var misc [4]byte
	misc[0], misc[1], misc[2], misc[3] = byte(r.MiscSelect), byte(r.MiscSelect>>8), byte(r.MiscSelect>>16), byte(r.MiscSelect>>24)
	for i := range misc {
		if misc[i]&qi.MiscSelectMask[i] != qi.MiscSelect[i] {
			return "", nil, fail(ErrQEIdentity, StepQEMatch, "the QE's MISCSELECT %s masked with %s is not the QE identity's %s",
				hexs(misc[:]), hexs(qi.MiscSelectMask[:]), hexs(qi.MiscSelect[:]))
		}
	}
	var attr [16]byte
	for i := 0; i < 8; i++ {
		attr[i] = byte(r.Attributes.Flags >> (8 * i))
		attr[8+i] = byte(r.Attributes.XFRM >> (8 * i))
	}
	for i := range attr {
		if attr[i]&qi.AttributesMask[i] != qi.Attributes[i] {
			return "", nil, fail(ErrQEIdentity, StepQEMatch, "the QE's ATTRIBUTES %s masked with %s are not the QE identity's %s",
				hexs(attr[:]), hexs(qi.AttributesMask[:]), hexs(qi.Attributes[:]))
		}
	}
	lv, ok := pickQELevel(qi.Levels, r.ISVSVN)
	if !ok {
		// Below every level Intel lists: Intel's library reports the QE revoked.
		return TCBRevoked, nil, nil
	}
	return lv.Status, lv.Advisories, nil
}
