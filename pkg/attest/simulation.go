package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// A simulation quote has the layout of a hardware quote (version 3,
// attestation key type 2) but is signed by a simulation key, an ECDSA P-256
// key of the operator's, not by SGX hardware (docs/attestation.md):
//
//   - header: QE vendor ID SimulationVendorID, QESVN, PCESVN, user data 0;
//   - the attestation key is the simulation public key; it signs the header
//     and the report body, as in a hardware quote;
//   - QE report: zero but for REPORTDATA, SHA-256(attestation key || QE
//     auth data) and 32 zero bytes, signed by the simulation key;
//   - QE auth data: empty;
//   - certification data: type CertTypeSimulation (0x5C0E), SimulationMarker.
//
// It proves only that the holder of the simulation key vouched for the
// report body: nothing about hardware or memory protection.

// SimulationVendorID is the QE vendor ID of a simulation quote.
var SimulationVendorID = [16]byte([]byte("SCONE-SIMULATION"))

// SimulationMarker is the certification data of a simulation quote.
const SimulationMarker = "SCONE simulation quote: no hardware security"

// NewSimulationQuote returns a simulation quote for the enclave body
// describes, with reportData (at most 64 bytes, zero-padded) as its
// REPORTDATA (it replaces body.ReportData), signed by signer, an ECDSA P-256
// key (an *ecdsa.PrivateKey or a KMS/HSM signer).
func NewSimulationQuote(body ReportBody, reportData []byte, signer crypto.Signer) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("making simulation quote: no signer")
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("making simulation quote: signer key %T: want ECDSA P-256", signer.Public())
	}
	if len(reportData) > 64 {
		return nil, fmt.Errorf("making simulation quote: report data of %d bytes, at most 64", len(reportData))
	}
	pt, err := pub.Bytes()
	if err != nil {
		return nil, fmt.Errorf("making simulation quote: %w", err)
	}
	q := &Quote{
		Header:                Header{Version: QuoteVersion, AttestationKeyType: AttestationKeyECDSAP256, QEVendorID: SimulationVendorID},
		Body:                  body,
		CertificationDataType: CertTypeSimulation,
		CertificationData:     []byte(SimulationMarker),
	}
	q.Body.ReportData = [64]byte{}
	copy(q.Body.ReportData[:], reportData)
	copy(q.AttestationKey[:], pt[1:])
	binding := sha256.Sum256(q.AttestationKey[:]) // || empty QE auth data
	copy(q.QEReport.ReportData[:], binding[:])
	qeReport, _ := q.QEReport.MarshalBinary()
	if q.QEReportSignature, err = signRaw(signer, qeReport); err != nil {
		return nil, err
	}
	signed := q.Header.appendTo(nil)
	signed = q.Body.appendTo(signed)
	if q.Signature, err = signRaw(signer, signed); err != nil {
		return nil, err
	}
	return q.MarshalBinary()
}

// signRaw signs SHA-256(msg) and returns the signature as r || s.
func signRaw(signer crypto.Signer, msg []byte) ([64]byte, error) {
	var out [64]byte
	h := sha256.Sum256(msg)
	der, err := signer.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return out, fmt.Errorf("making simulation quote: signing: %w", err)
	}
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) > 0 || sig.R == nil || sig.S == nil ||
		sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 256 || sig.S.BitLen() > 256 {
		return out, errors.New("making simulation quote: the signer returned no ECDSA P-256 signature")
	}
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return out, nil
}

// VerifySimulation verifies a simulation quote signed by key, the simulation
// key the caller accepts (an ECDSA P-256 *ecdsa.PublicKey). The Result has
// Simulation set and no TCB status: accept it only where a policy allows
// simulation. A hardware quote is refused (verify it with Verify). Of the
// options, only WithTime matters: it sets Result.VerifiedAt (a simulation
// quote has no collateral and nothing that expires).
func VerifySimulation(q *Quote, key crypto.PublicKey, opts ...Option) (*Result, error) {
	if q == nil || q.raw == nil {
		return nil, errors.New("verifying simulation quote: the quote was not made by ParseQuote")
	}
	set, err := newSettings(opts)
	if err != nil {
		return nil, err
	}
	at := set.at
	if at.IsZero() {
		at = time.Now()
	}
	q, err = parseQuote(q.raw, false) // the bytes parsed, not the fields
	if err != nil {
		return nil, err
	}
	k, ok := key.(*ecdsa.PublicKey)
	if !ok || k == nil || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("verifying simulation quote: simulation key %T: want an ECDSA P-256 *ecdsa.PublicKey", key)
	}
	certOff := len(q.raw) - len(q.CertificationData) - 6
	if !q.IsSimulation() {
		return nil, quoteErr(certOff, "certification data type", "type %d: not a simulation quote (type %#x); verify a hardware quote with its collateral", q.CertificationDataType, CertTypeSimulation)
	}
	if string(q.CertificationData) != SimulationMarker {
		return nil, quoteErr(certOff+6, "simulation certification data", "want %q", SimulationMarker)
	}
	if q.Header.QEVendorID != SimulationVendorID {
		return nil, quoteErr(12, "header QE vendor ID", "%s: a simulation quote has %q", hexs(q.Header.QEVendorID[:]), SimulationVendorID[:])
	}
	if len(q.QEAuthData) != 0 {
		return nil, quoteErr(offQEAuthSize, "QE auth data", "%d bytes: a simulation quote has none", len(q.QEAuthData))
	}
	var zeroQE ReportBody
	zeroQE.ReportData = q.QEReport.ReportData
	if q.QEReport != zeroQE {
		return nil, quoteErr(offQEReport, "QE report", "a simulation quote's QE report is zero but for REPORTDATA")
	}
	pt, err := k.Bytes()
	if err != nil {
		return nil, fmt.Errorf("verifying simulation quote: %w", err)
	}
	if !bytes.Equal(pt[1:], q.AttestationKey[:]) {
		signedBy := "an invalid key"
		if ak, err := attestationKey(q); err == nil {
			signedBy = "the key with SHA-256 " + KeyFingerprint(ak)
		}
		return nil, fail(ErrChain, StepSimulationKey, "the simulation quote is signed by %s, not by the accepted simulation key (SHA-256 %s)",
			signedBy, KeyFingerprint(k))
	}
	if _, err := checkQuoteSignatures(q, k, "the simulation key"); err != nil {
		return nil, err
	}
	return &Result{Simulation: true, Enclave: q.Body, AttestationKey: k, VerifiedAt: at}, nil
}
