package attest

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// Layout of an ECDSA quote version 3 (Intel SGXDataCenterAttestationPrimitives,
// sgx_quote_3.h); docs/attestation.md draws it. All integers are little-endian.
const (
	HeaderSize     = 48
	ReportBodySize = 384
	// SignedSize is the size of what the attestation key signs: header and
	// report body.
	SignedSize = HeaderSize + ReportBodySize // 432
	// MinQuoteSize is a quote with empty QE auth data and certification data.
	MinQuoteSize = SignedSize + 4 + 64 + 64 + ReportBodySize + 64 + 2 + 2 + 4 // 1020
	// MaxQuoteSize bounds what ParseQuote reads (a quote with a PCK chain is
	// about 4.6 KB).
	MaxQuoteSize = 1 << 20

	offSigDataLen  = SignedSize     // 432
	offSignature   = SignedSize + 4 // 436
	offAttestKey   = offSignature + 64
	offQEReport    = offAttestKey + 64
	offQEReportSig = offQEReport + ReportBodySize
	offQEAuthSize  = offQEReportSig + 64 // 1012
)

// QuoteVersion is the only quote version this package reads.
const QuoteVersion = 3

// AttestationKeyECDSAP256 is the attestation key type of ECDSA-256-with-P-256 quotes.
const AttestationKeyECDSAP256 = 2

// Certification data types (sgx_ql_certification_data_t.cert_key_type).
const (
	// CertTypePCKChain: the PCK leaf certificate, the PCK CA and the root CA,
	// concatenated PEM: what a hardware quote carries.
	CertTypePCKChain uint16 = 5
	// CertTypeSimulation marks a simulation quote (this package's own type;
	// Intel defines 1 to 7). Its certification data is SimulationMarker.
	CertTypeSimulation uint16 = 0x5C0E
)

// IntelQEVendorID is the QE vendor ID of Intel's quoting enclave.
var IntelQEVendorID = [16]byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}

// Attribute flags of an enclave (SECS.ATTRIBUTES.FLAGS).
const (
	FlagInit          uint64 = 1 << 0
	FlagDebug         uint64 = 1 << 1
	FlagMode64Bit     uint64 = 1 << 2
	FlagProvisionKey  uint64 = 1 << 4
	FlagEInitTokenKey uint64 = 1 << 5
	FlagKSS           uint64 = 1 << 7
)

// Header is the 48-byte quote header.
type Header struct {
	Version            uint16
	AttestationKeyType uint16
	// TEEType is att_key_data_0 in sgx_quote_3.h (tee_type in version 4):
	// 0 for SGX.
	TEEType    uint32
	QESVN      uint16
	PCESVN     uint16
	QEVendorID [16]byte
	UserData   [20]byte
}

// Attributes are an enclave's attributes: flags and XFRM.
type Attributes struct {
	Flags uint64
	XFRM  uint64
}

// Debug reports whether the enclave is a debug enclave: its memory can be
// read by the host, so it protects nothing.
func (a Attributes) Debug() bool { return a.Flags&FlagDebug != 0 }

// String lists the flags by name, e.g. "INIT, MODE64BIT; not DEBUG".
func (a Attributes) String() string {
	var names []string
	for _, f := range []struct {
		bit  uint64
		name string
	}{{FlagInit, "INIT"}, {FlagDebug, "DEBUG"}, {FlagMode64Bit, "MODE64BIT"}, {FlagProvisionKey, "PROVISIONKEY"},
		{FlagEInitTokenKey, "EINITTOKENKEY"}, {FlagKSS, "KSS"}} {
		if a.Flags&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	s := "none"
	if len(names) > 0 {
		s = names[0]
		for _, n := range names[1:] {
			s += ", " + n
		}
	}
	if !a.Debug() {
		s += "; not DEBUG"
	}
	return s
}

// ReportBody is an SGX report body (sgx_report_body_t, 384 bytes): the
// enclave's identity and the data it reports. The quote's report body
// describes the attested enclave; the QE report the quoting enclave.
type ReportBody struct {
	CPUSVN       [16]byte
	MiscSelect   uint32
	Reserved1    [12]byte
	ISVExtProdID [16]byte
	Attributes   Attributes
	MRENCLAVE    [32]byte
	Reserved2    [32]byte
	MRSIGNER     [32]byte
	Reserved3    [32]byte
	ConfigID     [64]byte
	ISVProdID    uint16
	ISVSVN       uint16
	ConfigSVN    uint16
	Reserved4    [42]byte
	ISVFamilyID  [16]byte
	ReportData   [64]byte
}

// Quote is a parsed ECDSA quote version 3. The fields are a decoded copy for
// reading: verification decodes the bytes ParseQuote read again, so
// changing the fields changes nothing.
type Quote struct {
	Header Header
	Body   ReportBody
	// Signature is the attestation key's ECDSA-P256 signature (r || s) over
	// the header and the report body.
	Signature [64]byte
	// AttestationKey is the attestation public key (x || y).
	AttestationKey [64]byte
	// QEReport is the quoting enclave's report; its REPORTDATA binds the
	// attestation key. QEReportSignature is the PCK key's signature over it.
	QEReport          ReportBody
	QEReportSignature [64]byte
	QEAuthData        []byte
	// CertificationDataType is CertTypePCKChain for hardware quotes and
	// CertTypeSimulation for simulation quotes.
	CertificationDataType uint16
	CertificationData     []byte

	raw []byte // the quote as parsed
}

// Raw returns the bytes the quote was parsed from (nil for a Quote not made
// by ParseQuote).
func (q *Quote) Raw() []byte { return q.raw }

// IsSimulation reports whether q is a simulation quote (certification data
// type CertTypeSimulation): signed by a simulation key, not by SGX hardware.
func (q *Quote) IsSimulation() bool { return q.CertificationDataType == CertTypeSimulation }

// ErrFormat is wrapped by every *FormatError.
var ErrFormat = errors.New("malformed input")

// FormatError says why bytes are not a quote (or JSON not collateral).
type FormatError struct {
	What   string // "DCAP quote v3" or "DCAP collateral"
	Offset int    // byte offset of the problem; -1 when it is not one place
	Part   string // the part of the quote or the collateral field, e.g. "QE auth data", "pck_crl"
	Reason string
}

func (e *FormatError) Error() string {
	where := e.Part
	if e.Offset >= 0 {
		if where != "" {
			where = fmt.Sprintf("offset %d (%s)", e.Offset, e.Part)
		} else {
			where = fmt.Sprintf("offset %d", e.Offset)
		}
	}
	if where == "" {
		return fmt.Sprintf("not a %s: %s", e.What, e.Reason)
	}
	return fmt.Sprintf("not a %s: %s: %s", e.What, where, e.Reason)
}

func (e *FormatError) Is(target error) bool { return target == ErrFormat }

func quoteErr(off int, part, format string, a ...any) error {
	return &FormatError{What: "DCAP quote v3", Offset: off, Part: part, Reason: fmt.Sprintf(format, a...)}
}

// ParseQuote reads an ECDSA-P256 quote version 3. It checks the layout (every
// length, no trailing bytes), the version, the attestation key type and the
// TEE type; it checks no signature (Verify and VerifySimulation do).
func ParseQuote(b []byte) (*Quote, error) { return parseQuote(b, true) }

// parseQuote parses b, a copy of it when clone is set (else b is kept).
func parseQuote(b []byte, clone bool) (*Quote, error) {
	if len(b) > MaxQuoteSize {
		return nil, quoteErr(-1, "", "%d bytes, more than %d", len(b), MaxQuoteSize)
	}
	if len(b) < HeaderSize {
		return nil, quoteErr(len(b), "header", "truncated: %d bytes, a header alone is %d", len(b), HeaderSize)
	}
	if clone {
		b = bytes.Clone(b)
	}
	q := &Quote{raw: b}
	b = q.raw
	h := &q.Header
	h.Version = binary.LittleEndian.Uint16(b[0:])
	h.AttestationKeyType = binary.LittleEndian.Uint16(b[2:])
	h.TEEType = binary.LittleEndian.Uint32(b[4:])
	h.QESVN = binary.LittleEndian.Uint16(b[8:])
	h.PCESVN = binary.LittleEndian.Uint16(b[10:])
	copy(h.QEVendorID[:], b[12:28])
	copy(h.UserData[:], b[28:48])
	switch {
	case h.Version != QuoteVersion && isText(b[:8]):
		return nil, quoteErr(0, "header version", "begins with text (%q), a quote is binary: decode base64 or hex first (or is this another file?)", b[:8])
	case h.Version != QuoteVersion:
		return nil, quoteErr(0, "header version", "version %d is not supported (this verifier reads version %d, SGX ECDSA quotes)", h.Version, QuoteVersion)
	case h.AttestationKeyType != AttestationKeyECDSAP256:
		return nil, quoteErr(2, "header attestation key type", "attestation key type %d is not supported (want %d, ECDSA-256-with-P-256)", h.AttestationKeyType, AttestationKeyECDSAP256)
	case h.TEEType != 0:
		return nil, quoteErr(4, "header TEE type", "TEE type %#x is not SGX (0)", h.TEEType)
	}
	if len(b) < offSignature {
		return nil, quoteErr(len(b), "report body", "truncated: %d bytes, the header, report body and signature data length need %d", len(b), offSignature)
	}
	q.Body = parseReportBody(b[HeaderSize:SignedSize])
	sigLen := binary.LittleEndian.Uint32(b[offSigDataLen:])
	if uint64(sigLen) != uint64(len(b)-offSignature) {
		if uint64(sigLen) > uint64(len(b)-offSignature) {
			return nil, quoteErr(offSigDataLen, "signature data length", "truncated: says %d bytes of signature data, %d follow", sigLen, len(b)-offSignature)
		}
		return nil, quoteErr(offSignature+int(sigLen), "end of signature data", "%d trailing bytes after the signature data", len(b)-offSignature-int(sigLen))
	}
	if len(b) < offQEAuthSize+2 {
		return nil, quoteErr(len(b), "signature data", "truncated: %d bytes, need at least %d before the QE auth data", len(b), offQEAuthSize+2)
	}
	copy(q.Signature[:], b[offSignature:offAttestKey])
	copy(q.AttestationKey[:], b[offAttestKey:offQEReport])
	q.QEReport = parseReportBody(b[offQEReport:offQEReportSig])
	copy(q.QEReportSignature[:], b[offQEReportSig:offQEAuthSize])
	authLen := int(binary.LittleEndian.Uint16(b[offQEAuthSize:]))
	off := offQEAuthSize + 2
	if len(b)-off < authLen {
		return nil, quoteErr(offQEAuthSize, "QE auth data size", "truncated: says %d bytes of QE auth data, %d follow", authLen, len(b)-off)
	}
	q.QEAuthData = b[off : off+authLen]
	off += authLen
	if len(b)-off < 6 {
		return nil, quoteErr(off, "certification data header", "truncated: need 6 bytes (type and size), %d follow", len(b)-off)
	}
	q.CertificationDataType = binary.LittleEndian.Uint16(b[off:])
	certLen := binary.LittleEndian.Uint32(b[off+2:])
	if uint64(certLen) != uint64(len(b)-off-6) {
		if uint64(certLen) > uint64(len(b)-off-6) {
			return nil, quoteErr(off+2, "certification data size", "truncated: says %d bytes of certification data, %d follow", certLen, len(b)-off-6)
		}
		return nil, quoteErr(off+6+int(certLen), "end of certification data", "%d bytes after the certification data that the signature data length covers", len(b)-off-6-int(certLen))
	}
	q.CertificationData = b[off+6:]
	return q, nil
}

// isText reports whether b is printable ASCII or blanks.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}

func parseReportBody(b []byte) ReportBody {
	var r ReportBody
	copy(r.CPUSVN[:], b[0:16])
	r.MiscSelect = binary.LittleEndian.Uint32(b[16:])
	copy(r.Reserved1[:], b[20:32])
	copy(r.ISVExtProdID[:], b[32:48])
	r.Attributes.Flags = binary.LittleEndian.Uint64(b[48:])
	r.Attributes.XFRM = binary.LittleEndian.Uint64(b[56:])
	copy(r.MRENCLAVE[:], b[64:96])
	copy(r.Reserved2[:], b[96:128])
	copy(r.MRSIGNER[:], b[128:160])
	copy(r.Reserved3[:], b[160:192])
	copy(r.ConfigID[:], b[192:256])
	r.ISVProdID = binary.LittleEndian.Uint16(b[256:])
	r.ISVSVN = binary.LittleEndian.Uint16(b[258:])
	r.ConfigSVN = binary.LittleEndian.Uint16(b[260:])
	copy(r.Reserved4[:], b[262:304])
	copy(r.ISVFamilyID[:], b[304:320])
	copy(r.ReportData[:], b[320:384])
	return r
}

// MarshalBinary returns the 384 bytes of the report body.
func (r *ReportBody) MarshalBinary() ([]byte, error) { return r.appendTo(nil), nil }

func (r *ReportBody) appendTo(b []byte) []byte {
	b = append(b, r.CPUSVN[:]...)
	b = binary.LittleEndian.AppendUint32(b, r.MiscSelect)
	b = append(b, r.Reserved1[:]...)
	b = append(b, r.ISVExtProdID[:]...)
	b = binary.LittleEndian.AppendUint64(b, r.Attributes.Flags)
	b = binary.LittleEndian.AppendUint64(b, r.Attributes.XFRM)
	b = append(b, r.MRENCLAVE[:]...)
	b = append(b, r.Reserved2[:]...)
	b = append(b, r.MRSIGNER[:]...)
	b = append(b, r.Reserved3[:]...)
	b = append(b, r.ConfigID[:]...)
	b = binary.LittleEndian.AppendUint16(b, r.ISVProdID)
	b = binary.LittleEndian.AppendUint16(b, r.ISVSVN)
	b = binary.LittleEndian.AppendUint16(b, r.ConfigSVN)
	b = append(b, r.Reserved4[:]...)
	b = append(b, r.ISVFamilyID[:]...)
	b = append(b, r.ReportData[:]...)
	return b
}

func (h *Header) appendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, h.Version)
	b = binary.LittleEndian.AppendUint16(b, h.AttestationKeyType)
	b = binary.LittleEndian.AppendUint32(b, h.TEEType)
	b = binary.LittleEndian.AppendUint16(b, h.QESVN)
	b = binary.LittleEndian.AppendUint16(b, h.PCESVN)
	b = append(b, h.QEVendorID[:]...)
	b = append(b, h.UserData[:]...)
	return b
}

// MarshalBinary encodes the quote's fields in the version 3 layout. For a
// quote from ParseQuote it returns the bytes parsed (the fields decode every
// byte, so re-encoding them gives the same bytes).
func (q *Quote) MarshalBinary() ([]byte, error) {
	if len(q.QEAuthData) > 0xffff {
		return nil, fmt.Errorf("encoding quote: QE auth data of %d bytes, at most 65535", len(q.QEAuthData))
	}
	if len(q.CertificationData) > MaxQuoteSize {
		return nil, fmt.Errorf("encoding quote: certification data of %d bytes, at most %d", len(q.CertificationData), MaxQuoteSize)
	}
	b := make([]byte, 0, MinQuoteSize+len(q.QEAuthData)+len(q.CertificationData))
	b = q.Header.appendTo(b)
	b = q.Body.appendTo(b)
	sigLen := 64 + 64 + ReportBodySize + 64 + 2 + len(q.QEAuthData) + 6 + len(q.CertificationData)
	b = binary.LittleEndian.AppendUint32(b, uint32(sigLen))
	b = append(b, q.Signature[:]...)
	b = append(b, q.AttestationKey[:]...)
	b = q.QEReport.appendTo(b)
	b = append(b, q.QEReportSignature[:]...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(q.QEAuthData)))
	b = append(b, q.QEAuthData...)
	b = binary.LittleEndian.AppendUint16(b, q.CertificationDataType)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(q.CertificationData)))
	b = append(b, q.CertificationData...)
	return b, nil
}

// signedPart returns the header and report body as parsed.
func (q *Quote) signedPart() []byte { return q.raw[:SignedSize] }

// qeReportRaw returns the QE report as parsed.
func (q *Quote) qeReportRaw() []byte { return q.raw[offQEReport:offQEReportSig] }

func hexs(b []byte) string { return hex.EncodeToString(b) }
