package enclave

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// SIGSTRUCT constants (Intel SDM vol. 3D, "SIGSTRUCT").
const (
	SigStructSize = 1808
	KeyBytes      = 384 // RSA-3072 modulus, signature, Q1, Q2
	KeyBits       = 3072
	KeyExponent   = 3
	// SigningDataSize is the length of SIGSTRUCT[0:128] ++ SIGSTRUCT[900:1028].
	SigningDataSize = 256
)

// SIGSTRUCT field offsets.
const (
	offHeader        = 0
	offVendor        = 16
	offDate          = 20
	offHeader2       = 24
	offSWDefined     = 40
	offModulus       = 128
	offExponent      = 512
	offSignature     = 516
	offMiscSelect    = 900
	offMiscMask      = 904
	offAttributes    = 928
	offAttributeMask = 944
	offEnclaveHash   = 960
	offISVProdID     = 1024
	offISVSVN        = 1026
	offQ1            = 1040
	offQ2            = 1424
)

var (
	sigHeader  = []byte{0x06, 0, 0, 0, 0xe1, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0}
	sigHeader2 = []byte{0x01, 0x01, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0, 0x01, 0, 0, 0}
	// reserved ranges that must be zero: [start, end)
	sigReserved = [][2]int{{44, 128}, {908, 928}, {992, 1024}, {1028, 1040}}
)

// Attribute flags.
const (
	AttrInit      = 0x1
	AttrDebug     = 0x2
	AttrMode64Bit = 0x4
)

// Defaults of NewSigStruct.
const (
	DefaultXFRM     = 0x3 // x87 + SSE
	DefaultMiscMask = 0xffffffff
)

// ErrMalformedSigStruct is returned (wrapped) for bytes that are not a SIGSTRUCT.
var ErrMalformedSigStruct = errors.New("malformed SIGSTRUCT")

// ErrSignature is returned (wrapped) when a signature, Q1 or Q2 does not verify.
var ErrSignature = errors.New("SIGSTRUCT signature does not verify")

// Attributes is the SGX ATTRIBUTES (or ATTRIBUTEMASK) pair.
type Attributes struct {
	Flags uint64
	XFRM  uint64
}

// SigStruct is a parsed SIGSTRUCT. Modulus, Signature, Q1 and Q2 are
// little-endian as stored. Reserved bytes are always zero.
type SigStruct struct {
	Vendor        uint32
	Date          uint32 // BCD 0xYYYYMMDD
	SWDefined     uint32
	Modulus       [KeyBytes]byte
	Exponent      uint32
	Signature     [KeyBytes]byte
	MiscSelect    uint32
	MiscMask      uint32
	Attributes    Attributes
	AttributeMask Attributes
	EnclaveHash   [32]byte
	ISVProdID     uint16
	ISVSVN        uint16
	Q1, Q2        [KeyBytes]byte
}

// SigStructOption configures NewSigStruct.
type SigStructOption func(*sigOpts)

type sigOpts struct {
	date       *time.Time
	debug      bool
	xfrm       uint64
	xfrmMask   uint64
	miscSelect uint32
	miscMask   uint32
	prodID     uint16
	svn        uint16
	vendor     uint32
}

// WithDate sets DATE (its UTC calendar day). Without it, DATE is today's:
// pass WithDate for reproducible output (binaries read SOURCE_DATE_EPOCH
// once and pass it here).
func WithDate(t time.Time) SigStructOption { return func(o *sigOpts) { o.date = &t } }

// WithDebug sets ATTRIBUTES.DEBUG (a debug enclave). The DEBUG bit is always
// in ATTRIBUTEMASK, so a debug SIGSTRUCT does not launch a production
// enclave or vice versa.
func WithDebug(debug bool) SigStructOption { return func(o *sigOpts) { o.debug = debug } }

// WithXFRM sets ATTRIBUTES.XFRM and its mask (defaults 0x3 and ^0).
func WithXFRM(xfrm, mask uint64) SigStructOption {
	return func(o *sigOpts) { o.xfrm, o.xfrmMask = xfrm, mask }
}

// WithMiscSelect sets MISCSELECT and MISCMASK (defaults 0 and 0xffffffff).
func WithMiscSelect(sel, mask uint32) SigStructOption {
	return func(o *sigOpts) { o.miscSelect, o.miscMask = sel, mask }
}

// WithISVProdID sets ISVPRODID (default 0).
func WithISVProdID(id uint16) SigStructOption { return func(o *sigOpts) { o.prodID = id } }

// WithISVSVN sets ISVSVN (default 0).
func WithISVSVN(svn uint16) SigStructOption { return func(o *sigOpts) { o.svn = svn } }

// WithVendor sets VENDOR: 0 (default) or 0x8086.
func WithVendor(v uint32) SigStructOption { return func(o *sigOpts) { o.vendor = v } }

// withGetenv replaces os.Getenv (tests).

// BCDDate encodes t's UTC date as SIGSTRUCT DATE (0xYYYYMMDD in BCD).
func BCDDate(t time.Time) (uint32, error) {
	t = t.UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return 0, fmt.Errorf("encoding SIGSTRUCT date %v: year out of range", t)
	}
	bcd := func(v, digits int) uint32 {
		var r uint32
		for i := 0; i < digits; i++ {
			r |= uint32(v%10) << (4 * i)
			v /= 10
		}
		return r
	}
	return bcd(t.Year(), 4)<<16 | bcd(int(t.Month()), 2)<<8 | bcd(t.Day(), 2), nil
}

// NewSigStruct returns an unsigned SIGSTRUCT for the enclave hash: MODE64BIT
// set, DEBUG per WithDebug, modulus, signature, Q1 and Q2 zero.
func NewSigStruct(mrenclave [32]byte, opts ...SigStructOption) (*SigStruct, error) {
	o := sigOpts{xfrm: DefaultXFRM, xfrmMask: ^uint64(0), miscMask: DefaultMiscMask}
	for _, f := range opts {
		f(&o)
	}
	// the one validation step
	if o.vendor != 0 && o.vendor != 0x8086 {
		return nil, fmt.Errorf("building SIGSTRUCT: vendor %#x is not 0 or 0x8086", o.vendor)
	}
	if o.xfrm&0x3 != 0x3 {
		return nil, fmt.Errorf("building SIGSTRUCT: XFRM %#x lacks x87/SSE (bits 0 and 1)", o.xfrm)
	}
	date := time.Now()
	if o.date != nil {
		date = *o.date
	}
	bcd, err := BCDDate(date)
	if err != nil {
		return nil, fmt.Errorf("building SIGSTRUCT: %w", err)
	}
	s := &SigStruct{
		Vendor:        o.vendor,
		Date:          bcd,
		MiscSelect:    o.miscSelect,
		MiscMask:      o.miscMask,
		Attributes:    Attributes{Flags: AttrMode64Bit, XFRM: o.xfrm},
		AttributeMask: Attributes{Flags: ^uint64(0) &^ AttrInit, XFRM: o.xfrmMask},
		EnclaveHash:   mrenclave,
		ISVProdID:     o.prodID,
		ISVSVN:        o.svn,
	}
	if o.debug {
		s.Attributes.Flags |= AttrDebug
	}
	return s, nil
}

// MarshalBinary returns the 1808-byte SIGSTRUCT.
func (s *SigStruct) MarshalBinary() ([]byte, error) {
	b := make([]byte, SigStructSize)
	le := binary.LittleEndian
	copy(b[offHeader:], sigHeader)
	le.PutUint32(b[offVendor:], s.Vendor)
	le.PutUint32(b[offDate:], s.Date)
	copy(b[offHeader2:], sigHeader2)
	le.PutUint32(b[offSWDefined:], s.SWDefined)
	copy(b[offModulus:], s.Modulus[:])
	le.PutUint32(b[offExponent:], s.Exponent)
	copy(b[offSignature:], s.Signature[:])
	le.PutUint32(b[offMiscSelect:], s.MiscSelect)
	le.PutUint32(b[offMiscMask:], s.MiscMask)
	le.PutUint64(b[offAttributes:], s.Attributes.Flags)
	le.PutUint64(b[offAttributes+8:], s.Attributes.XFRM)
	le.PutUint64(b[offAttributeMask:], s.AttributeMask.Flags)
	le.PutUint64(b[offAttributeMask+8:], s.AttributeMask.XFRM)
	copy(b[offEnclaveHash:], s.EnclaveHash[:])
	le.PutUint16(b[offISVProdID:], s.ISVProdID)
	le.PutUint16(b[offISVSVN:], s.ISVSVN)
	copy(b[offQ1:], s.Q1[:])
	copy(b[offQ2:], s.Q2[:])
	return b, nil
}

// ParseSigStruct parses a 1808-byte SIGSTRUCT. It checks the fixed headers
// and reserved bytes, not the signature (see Verify).
func ParseSigStruct(b []byte) (*SigStruct, error) {
	if len(b) != SigStructSize {
		return nil, fmt.Errorf("parsing SIGSTRUCT of %d bytes: %w", len(b), ErrMalformedSigStruct)
	}
	if !bytes.Equal(b[offHeader:offHeader+16], sigHeader) || !bytes.Equal(b[offHeader2:offHeader2+16], sigHeader2) {
		return nil, fmt.Errorf("parsing SIGSTRUCT header: %w", ErrMalformedSigStruct)
	}
	for _, r := range sigReserved {
		for _, c := range b[r[0]:r[1]] {
			if c != 0 {
				return nil, fmt.Errorf("parsing SIGSTRUCT: reserved bytes %d..%d not zero: %w", r[0], r[1], ErrMalformedSigStruct)
			}
		}
	}
	le := binary.LittleEndian
	s := &SigStruct{
		Vendor:        le.Uint32(b[offVendor:]),
		Date:          le.Uint32(b[offDate:]),
		SWDefined:     le.Uint32(b[offSWDefined:]),
		Exponent:      le.Uint32(b[offExponent:]),
		MiscSelect:    le.Uint32(b[offMiscSelect:]),
		MiscMask:      le.Uint32(b[offMiscMask:]),
		Attributes:    Attributes{le.Uint64(b[offAttributes:]), le.Uint64(b[offAttributes+8:])},
		AttributeMask: Attributes{le.Uint64(b[offAttributeMask:]), le.Uint64(b[offAttributeMask+8:])},
		ISVProdID:     le.Uint16(b[offISVProdID:]),
		ISVSVN:        le.Uint16(b[offISVSVN:]),
	}
	copy(s.Modulus[:], b[offModulus:])
	copy(s.Signature[:], b[offSignature:])
	copy(s.EnclaveHash[:], b[offEnclaveHash:])
	copy(s.Q1[:], b[offQ1:])
	copy(s.Q2[:], b[offQ2:])
	return s, nil
}

// SigningData returns the 256 bytes the signature covers:
// SIGSTRUCT[0:128] ++ SIGSTRUCT[900:1028]. Modulus, signature, Q1 and Q2 are
// not part of them, so they can be computed from an unsigned SIGSTRUCT.
func (s *SigStruct) SigningData() []byte {
	b, _ := s.MarshalBinary()
	return signingData(b)
}

func signingData(b []byte) []byte {
	d := make([]byte, 0, SigningDataSize)
	d = append(d, b[0:128]...)
	return append(d, b[900:1028]...)
}

// SigningData returns the bytes to sign of an unsigned (or signed) SIGSTRUCT
// file, for detached signing (`scone-build sign-data`).
func SigningData(unsigned []byte) ([]byte, error) {
	if _, err := ParseSigStruct(unsigned); err != nil {
		return nil, err
	}
	return signingData(unsigned), nil
}

// reverse returns b reversed (big-endian <-> little-endian).
func reverse(b []byte) []byte {
	r := make([]byte, len(b))
	for i, c := range b {
		r[len(b)-1-i] = c
	}
	return r
}

func leInt(b []byte) *big.Int { return new(big.Int).SetBytes(reverse(b)) }

func putLE(dst []byte, v *big.Int) error {
	be := v.Bytes()
	if len(be) > len(dst) {
		return fmt.Errorf("value of %d bytes does not fit in %d", len(be), len(dst))
	}
	clear(dst)
	for i, c := range be {
		dst[len(be)-1-i] = c
	}
	return nil
}

// computeQ returns Q1 = floor(S^2 / N) and Q2 = floor((S^3 - Q1*S*N) / N).
func computeQ(s, n *big.Int) (q1, q2 *big.Int) {
	s2 := new(big.Int).Mul(s, s)
	q1, r := new(big.Int).QuoRem(s2, n, new(big.Int))
	// S^3 - Q1*S*N = S*(S^2 - Q1*N) = S*r
	q2 = new(big.Int).Quo(new(big.Int).Mul(s, r), n)
	return q1, q2
}

// attach fills modulus, exponent, signature (big-endian input), Q1 and Q2
// after checking the key and the signature.
func (s *SigStruct) attach(sigBE []byte, pub *rsa.PublicKey) error {
	if err := CheckPublicKey(pub); err != nil {
		return err
	}
	if len(sigBE) != KeyBytes {
		return fmt.Errorf("attaching signature of %d bytes (want %d): %w", len(sigBE), KeyBytes, ErrSignature)
	}
	digest := sha256.Sum256(s.SigningData())
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sigBE); err != nil {
		return fmt.Errorf("attaching signature: %w", ErrSignature)
	}
	if err := putLE(s.Modulus[:], pub.N); err != nil {
		return fmt.Errorf("attaching signature: modulus: %w", err)
	}
	s.Exponent = uint32(pub.E)
	sig := new(big.Int).SetBytes(sigBE)
	if err := putLE(s.Signature[:], sig); err != nil {
		return fmt.Errorf("attaching signature: %w", err)
	}
	q1, q2 := computeQ(sig, pub.N)
	if err := putLE(s.Q1[:], q1); err != nil {
		return fmt.Errorf("attaching signature: Q1: %w", err)
	}
	if err := putLE(s.Q2[:], q2); err != nil {
		return fmt.Errorf("attaching signature: Q2: %w", err)
	}
	return nil
}

// Sign signs s with signer and returns the signed 1808-byte SIGSTRUCT. s is
// updated in place. The signature is verified before it is accepted.
func (s *SigStruct) Sign(ctx context.Context, signer Signer) ([]byte, error) {
	pub := signer.Public()
	if err := CheckPublicKey(pub); err != nil {
		return nil, fmt.Errorf("signing SIGSTRUCT: %w", err)
	}
	sig, err := signer.Sign(ctx, s.SigningData())
	if err != nil {
		return nil, fmt.Errorf("signing SIGSTRUCT: %w", err)
	}
	if err := s.attach(sig, pub); err != nil {
		return nil, fmt.Errorf("signing SIGSTRUCT: %w", err)
	}
	return s.MarshalBinary()
}

// Attach verifies sig (a raw 384-byte big-endian RSASSA-PKCS1-v1_5 SHA-256
// signature over SigningData(unsigned)) with pub and returns the signed
// SIGSTRUCT (`scone-build attach-signature`).
func Attach(unsigned, sig []byte, pub *rsa.PublicKey) ([]byte, error) {
	s, err := ParseSigStruct(unsigned)
	if err != nil {
		return nil, err
	}
	if err := s.attach(sig, pub); err != nil {
		return nil, err
	}
	return s.MarshalBinary()
}

// PublicKey returns the signer's public key from MODULUS and EXPONENT.
func (s *SigStruct) PublicKey() *rsa.PublicKey {
	return &rsa.PublicKey{N: leInt(s.Modulus[:]), E: int(s.Exponent)}
}

// MRSIGNER returns SHA-256 of the little-endian modulus.
func (s *SigStruct) MRSIGNER() [32]byte { return sha256.Sum256(s.Modulus[:]) }

// MRSIGNER returns the MRSIGNER of a public key: SHA-256 of its 384-byte
// little-endian modulus.
func MRSIGNER(pub *rsa.PublicKey) ([32]byte, error) {
	var m [KeyBytes]byte
	if err := CheckPublicKey(pub); err != nil {
		return [32]byte{}, err
	}
	if err := putLE(m[:], pub.N); err != nil {
		return [32]byte{}, fmt.Errorf("computing MRSIGNER: %w", err)
	}
	return sha256.Sum256(m[:]), nil
}

// Verify checks what EINIT checks of the signature: exponent 3, a 3072-bit
// modulus, the RSA signature over SigningData, and Q1/Q2. Failures wrap
// ErrSignature (or ErrKey for an unusable modulus/exponent).
func (s *SigStruct) Verify() error {
	pub := s.PublicKey()
	if err := CheckPublicKey(pub); err != nil {
		return fmt.Errorf("verifying SIGSTRUCT: %w", err)
	}
	sig := leInt(s.Signature[:])
	digest := sha256.Sum256(s.SigningData())
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig.FillBytes(make([]byte, KeyBytes))); err != nil {
		return fmt.Errorf("verifying SIGSTRUCT: %w", ErrSignature)
	}
	q1, q2 := computeQ(sig, pub.N)
	if q1.Cmp(leInt(s.Q1[:])) != 0 {
		return fmt.Errorf("verifying SIGSTRUCT: Q1: %w", ErrSignature)
	}
	if q2.Cmp(leInt(s.Q2[:])) != 0 {
		return fmt.Errorf("verifying SIGSTRUCT: Q2: %w", ErrSignature)
	}
	return nil
}
