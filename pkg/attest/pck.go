package attest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// Subject common names of Intel's DCAP certificates.
const (
	cnPCKCert        = "Intel SGX PCK Certificate"
	cnPCKProcessorCA = "Intel SGX PCK Processor CA"
	cnPCKPlatformCA  = "Intel SGX PCK Platform CA"
	cnTCBSigning     = "Intel SGX TCB Signing"
)

// PCKExtensions are the SGX extensions of a PCK certificate (OID
// 1.2.840.113741.1.13.1): what identifies the platform and its TCB.
type PCKExtensions struct {
	PPID          [16]byte
	TCBComponents [16]uint8 // SGX TCB components 1 to 16
	PCESVN        uint16
	CPUSVN        [16]byte
	PCEID         [2]byte
	FMSPC         [6]byte
	SGXType       int // 0 standard, 1 scalable, 2 scalable with integrity
}

var (
	oidSGXExtensions = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	oidPPID          = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 1}
	oidTCB           = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 2}
	oidPCEID         = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 3}
	oidFMSPC         = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 4}
	oidSGXType       = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 5}
)

type sgxExtItem struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

// ParsePCKExtensions reads the SGX extensions of a PCK certificate.
func ParsePCKExtensions(cert *x509.Certificate) (*PCKExtensions, error) {
	var val []byte
	for _, e := range cert.Extensions {
		if e.Id.Equal(oidSGXExtensions) {
			if val != nil {
				return nil, fmt.Errorf("SGX extensions given twice")
			}
			val = e.Value
		}
	}
	if val == nil {
		return nil, fmt.Errorf("no SGX extensions (OID %s): not a PCK certificate", oidSGXExtensions)
	}
	var items []sgxExtItem
	if rest, err := asn1.Unmarshal(val, &items); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("SGX extensions: not a SEQUENCE of (OID, value): %v", errOrTrailing(err))
	}
	x := &PCKExtensions{}
	seen := map[string]bool{}
	for _, it := range items {
		k := it.ID.String()
		if seen[k] {
			return nil, fmt.Errorf("SGX extension %s given twice", k)
		}
		seen[k] = true
		var err error
		switch {
		case it.ID.Equal(oidPPID):
			err = octets(it.Value, x.PPID[:])
		case it.ID.Equal(oidTCB):
			err = parseTCBExt(it.Value, x)
		case it.ID.Equal(oidPCEID):
			err = octets(it.Value, x.PCEID[:])
		case it.ID.Equal(oidFMSPC):
			err = octets(it.Value, x.FMSPC[:])
		case it.ID.Equal(oidSGXType):
			var e asn1.Enumerated
			if rest, uerr := asn1.Unmarshal(it.Value.FullBytes, &e); uerr != nil || len(rest) > 0 {
				err = fmt.Errorf("not an ENUMERATED: %v", errOrTrailing(uerr))
			}
			x.SGXType = int(e)
		}
		if err != nil {
			return nil, fmt.Errorf("SGX extension %s: %w", k, err)
		}
	}
	for _, o := range []asn1.ObjectIdentifier{oidPPID, oidTCB, oidPCEID, oidFMSPC, oidSGXType} {
		if !seen[o.String()] {
			return nil, fmt.Errorf("SGX extension %s missing", o)
		}
	}
	return x, nil
}

func errOrTrailing(err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("trailing bytes")
}

func octets(v asn1.RawValue, dst []byte) error {
	var b []byte
	if rest, err := asn1.Unmarshal(v.FullBytes, &b); err != nil || len(rest) > 0 {
		return fmt.Errorf("not an OCTET STRING: %v", errOrTrailing(err))
	}
	if len(b) != len(dst) {
		return fmt.Errorf("%d bytes, want %d", len(b), len(dst))
	}
	copy(dst, b)
	return nil
}

func parseTCBExt(v asn1.RawValue, x *PCKExtensions) error {
	var items []sgxExtItem
	if rest, err := asn1.Unmarshal(v.FullBytes, &items); err != nil || len(rest) > 0 {
		return fmt.Errorf("not a SEQUENCE of (OID, value): %v", errOrTrailing(err))
	}
	seen := map[int]bool{}
	for _, it := range items {
		n := len(it.ID)
		if n != len(oidTCB)+1 || !it.ID[:n-1].Equal(oidTCB) {
			continue
		}
		i := it.ID[n-1]
		if seen[i] {
			return fmt.Errorf("TCB item %d given twice", i)
		}
		seen[i] = true
		switch {
		case i >= 1 && i <= 16 || i == 17:
			var svn int
			if rest, err := asn1.Unmarshal(it.Value.FullBytes, &svn); err != nil || len(rest) > 0 {
				return fmt.Errorf("TCB item %d: not an INTEGER: %v", i, errOrTrailing(err))
			}
			max := 255
			if i == 17 {
				max = 65535
			}
			if svn < 0 || svn > max {
				return fmt.Errorf("TCB item %d: %d out of range 0 to %d", i, svn, max)
			}
			if i == 17 {
				x.PCESVN = uint16(svn)
			} else {
				x.TCBComponents[i-1] = uint8(svn)
			}
		case i == 18:
			if err := octets(it.Value, x.CPUSVN[:]); err != nil {
				return fmt.Errorf("TCB item 18 (CPUSVN): %w", err)
			}
		}
	}
	for i := 1; i <= 18; i++ {
		if !seen[i] {
			return fmt.Errorf("TCB item %d missing", i)
		}
	}
	return nil
}

// validityItem is something valid from NotBefore to NotAfter (both included).
type validityItem struct {
	name                string
	cert                bool
	start, end          string // the names of the item's own fields
	notBefore, notAfter time.Time
}

func certItem(c *x509.Certificate, chain string) validityItem {
	return validityItem{fmt.Sprintf("certificate %q (%s)", c.Subject.CommonName, chain), true, "notBefore", "notAfter", c.NotBefore, c.NotAfter}
}

// p256Key returns the certificate's key if it is an ECDSA P-256 key.
func p256Key(c *x509.Certificate) (*ecdsa.PublicKey, bool) {
	k, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, false
	}
	return k, true
}

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// checkIssued checks that issuerKey (the key of issuer) signed child and
// that issuer may issue certificates.
func checkIssued(step string, child, issuer *x509.Certificate, issuerKey *ecdsa.PublicKey) error {
	if string(child.RawIssuer) != string(issuer.RawSubject) {
		return fail(ErrChain, step, "certificate %q names issuer %q, but the next certificate of the chain is %q",
			child.Subject.CommonName, child.Issuer.CommonName, issuer.Subject.CommonName)
	}
	if !issuer.BasicConstraintsValid || !issuer.IsCA || (issuer.KeyUsage != 0 && issuer.KeyUsage&x509.KeyUsageCertSign == 0) {
		return fail(ErrChain, step, "certificate %q is not a CA certificate, it cannot issue %q",
			issuer.Subject.CommonName, child.Subject.CommonName)
	}
	if child.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		return fail(ErrChain, step, "certificate %q is signed with %v, want ECDSA with SHA-256", child.Subject.CommonName, child.SignatureAlgorithm)
	}
	if !ecdsa.VerifyASN1(issuerKey, sha256Sum(child.RawTBSCertificate), child.Signature) {
		return fail(ErrSignature, step, "the signature of certificate %q does not verify with the key of %q",
			child.Subject.CommonName, issuer.Subject.CommonName)
	}
	return nil
}

// chainRule says what the certificates of a chain must be: the names of
// the first certificate (and whether it is a CA), and of the intermediate CA
// of a three-certificate chain.
type chainRule struct {
	leafCNs  []string
	leafIsCA bool
	caCNs    []string
}

var (
	pckChainRule     = chainRule{leafCNs: []string{cnPCKCert}, caCNs: []string{cnPCKProcessorCA, cnPCKPlatformCA}}
	signingChainRule = chainRule{leafCNs: []string{cnTCBSigning}}
	pckCRLChainRule  = chainRule{leafCNs: []string{cnPCKProcessorCA, cnPCKPlatformCA}, leafIsCA: true}
)

// checkChain checks that certs (first certificate first, root certificate
// last) lead to root: the last certificate must carry the root key (it is
// not trusted for itself), each other one must be issued by the next, all
// with ECDSA P-256 keys, named as rule says. It returns the chain's
// validity items.
func checkChain(step string, certs []*x509.Certificate, root *ecdsa.PublicKey, rule chainRule) ([]validityItem, error) {
	last := certs[len(certs)-1]
	lastKey, ok := p256Key(last)
	if !ok || !lastKey.Equal(root) {
		fp := "not an ECDSA P-256 key"
		if ok {
			fp = "key SHA-256 " + KeyFingerprint(lastKey)
		}
		return nil, fail(ErrChain, step, "the chain ends in root certificate %q (%s), not in the trusted root key (SHA-256 %s): the chain was not issued by the trusted root (the Intel SGX Root CA unless another root is configured)",
			last.Subject.CommonName, fp, KeyFingerprint(root))
	}
	if cn := certs[0].Subject.CommonName; !slices.Contains(rule.leafCNs, cn) {
		return nil, fail(ErrChain, step, "the first certificate is %q, want %q", cn, rule.leafCNs)
	}
	if len(certs) == 3 {
		if cn := certs[1].Subject.CommonName; !slices.Contains(rule.caCNs, cn) {
			return nil, fail(ErrChain, step, "the intermediate certificate is %q, want one of %q", cn, rule.caCNs)
		}
	}
	for i := len(certs) - 2; i >= 0; i-- {
		issuerKey := root
		if i+1 != len(certs)-1 {
			k, ok := p256Key(certs[i+1])
			if !ok {
				return nil, fail(ErrChain, step, "certificate %q has no ECDSA P-256 key", certs[i+1].Subject.CommonName)
			}
			issuerKey = k
		}
		if err := checkIssued(step, certs[i], certs[i+1], issuerKey); err != nil {
			return nil, err
		}
	}
	first := certs[0]
	if _, ok := p256Key(first); !ok {
		return nil, fail(ErrChain, step, "certificate %q has no ECDSA P-256 key", first.Subject.CommonName)
	}
	if isCA := first.BasicConstraintsValid && first.IsCA; isCA != rule.leafIsCA {
		if isCA {
			return nil, fail(ErrChain, step, "certificate %q is a CA certificate, want an end-entity certificate", first.Subject.CommonName)
		}
		return nil, fail(ErrChain, step, "certificate %q is not a CA certificate, it cannot issue CRLs", first.Subject.CommonName)
	}
	var items []validityItem
	for _, c := range certs {
		items = append(items, certItem(c, step))
	}
	return items, nil
}

// checkCRL checks that issuerKey (the key of issuer) signed crl.
func checkCRL(step string, crl *x509.RevocationList, issuer *x509.Certificate, issuerKey *ecdsa.PublicKey) error {
	if string(crl.RawIssuer) != string(issuer.RawSubject) {
		return fail(ErrChain, step, "the CRL is issued by %q, want %q", crl.Issuer.CommonName, issuer.Subject.CommonName)
	}
	if crl.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		return fail(ErrChain, step, "the CRL is signed with %v, want ECDSA with SHA-256", crl.SignatureAlgorithm)
	}
	if !ecdsa.VerifyASN1(issuerKey, sha256Sum(crl.RawTBSRevocationList), crl.Signature) {
		return fail(ErrSignature, step, "the CRL's signature does not verify with the key of %q", issuer.Subject.CommonName)
	}
	if crl.NextUpdate.IsZero() {
		return fail(ErrChain, step, "the CRL has no nextUpdate")
	}
	return nil
}

// revokedSet maps the serial numbers a CRL revokes to when.
type revokedSet map[string]time.Time

func newRevokedSet(crl *x509.RevocationList) revokedSet {
	s := revokedSet{}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber != nil {
			s[string(e.SerialNumber.Bytes())+sign(e.SerialNumber.Sign())] = e.RevocationTime
		}
	}
	return s
}

func sign(s int) string {
	if s < 0 {
		return "-"
	}
	return ""
}

func (s revokedSet) check(step, crlName string, c *x509.Certificate) error {
	if c.SerialNumber == nil {
		return fail(ErrChain, step, "certificate %q has no serial number", c.Subject.CommonName)
	}
	if at, ok := s[string(c.SerialNumber.Bytes())+sign(c.SerialNumber.Sign())]; ok {
		return fail(ErrRevoked, step, "certificate %q (serial %s) was revoked by the %s at %s",
			c.Subject.CommonName, hex.EncodeToString(c.SerialNumber.Bytes()), crlName, at.UTC().Format(time.RFC3339))
	}
	return nil
}
