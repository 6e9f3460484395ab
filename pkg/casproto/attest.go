package casproto

import (
	"bytes"
	"crypto/ecdh"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Sizes of the fixed-size values.
const (
	NonceSize      = 32 // challenge nonce
	PointSize      = 65 // uncompressed P-256 point: 04 || X || Y
	HashSize       = 32 // policy hash
	GCMTagSize     = 16
	MaxPolicyName  = 63
	MaxClientSize  = 256
	MaxReasonSize  = 1024
	ReportDataSize = 64
)

// Attest request records.
const (
	TagRequestPolicy  uint16 = 1
	TagRequestNonce   uint16 = 2
	TagRequestSession uint16 = 3
	TagRequestQuote   uint16 = 4
	TagRequestClient  uint16 = 5
)

var requestSchema = &schema{typ: TypeAttestRequest, what: "attest request", fields: []field{
	{tag: TagRequestPolicy, name: "policy name", required: true, min: 1, max: MaxPolicyName},
	{tag: TagRequestNonce, name: "nonce", required: true, min: NonceSize, max: NonceSize},
	{tag: TagRequestSession, name: "session public key", required: true, min: PointSize, max: PointSize},
	{tag: TagRequestQuote, name: "quote", required: true, min: 1, max: MaxMessageSize},
	{tag: TagRequestClient, name: "client description", min: 1, max: MaxClientSize},
}}

// AttestRequest is message type 1: an enclave asks for the secrets of a
// policy, presenting a quote whose REPORTDATA is ReportData(Nonce,
// SessionKey).
type AttestRequest struct {
	Policy     string          // the policy's name
	Nonce      [NonceSize]byte // from the challenge
	SessionKey [PointSize]byte // the enclave's fresh P-256 public key, uncompressed
	Quote      []byte          // DCAP quote v3, hardware or simulation
	Client     string          // optional: the runtime's description (version)
}

// validPolicyName: 1-63 of a-z 0-9 . _ -, starting with a letter or digit
// (the policy name rule of docs/cas.md).
func validPolicyName(b []byte) bool {
	if len(b) == 0 || len(b) > MaxPolicyName {
		return false
	}
	for i, c := range b {
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// text reports whether b is UTF-8 without NUL.
func text(b []byte) bool { return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 }

// point checks an uncompressed P-256 point.
func point(b []byte) (*ecdh.PublicKey, error) {
	if len(b) != PointSize || b[0] != 4 {
		return nil, fmt.Errorf("not an uncompressed P-256 point (04 || X || Y)")
	}
	k, err := ecdh.P256().NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("not a point on P-256")
	}
	return k, nil
}

// ParseAttestRequest decodes an attest request; it checks that the policy
// name is a valid name, the session key a point on P-256 and the client
// description UTF-8 text without NUL (the quote is checked by the CAS).
func ParseAttestRequest(b []byte) (*AttestRequest, error) {
	s := requestSchema
	recs, err := s.decode(b)
	if err != nil {
		return nil, err
	}
	r := &AttestRequest{}
	for _, rec := range recs {
		switch rec.tag {
		case TagRequestPolicy:
			if !validPolicyName(rec.val) {
				return nil, s.errf(rec.valOff(), rec.tag, "%q is not a policy name (1-63 of a-z 0-9 . _ -, starting with a letter or digit)", rec.val)
			}
			r.Policy = string(rec.val)
		case TagRequestNonce:
			copy(r.Nonce[:], rec.val)
		case TagRequestSession:
			if _, err := point(rec.val); err != nil {
				return nil, s.errf(rec.valOff(), rec.tag, "%v", err)
			}
			copy(r.SessionKey[:], rec.val)
		case TagRequestQuote:
			r.Quote = bytes.Clone(rec.val)
		case TagRequestClient:
			if !text(rec.val) {
				return nil, s.errf(rec.valOff(), rec.tag, "not UTF-8 text without NUL")
			}
			r.Client = string(rec.val)
		}
	}
	return r, nil
}

// MarshalBinary encodes the request; it refuses what ParseAttestRequest
// would refuse.
func (r *AttestRequest) MarshalBinary() ([]byte, error) {
	w := newWriter(TypeAttestRequest, len(r.Policy)+len(r.Quote)+len(r.Client)+NonceSize+PointSize+5*RecordHeaderSize)
	w.record(TagRequestPolicy, []byte(r.Policy))
	w.record(TagRequestNonce, r.Nonce[:])
	w.record(TagRequestSession, r.SessionKey[:])
	w.record(TagRequestQuote, r.Quote)
	if r.Client != "" {
		w.record(TagRequestClient, []byte(r.Client))
	}
	return w.finish(requestSchema, func(b []byte) error { _, err := ParseAttestRequest(b); return err })
}

// SessionPublicKey returns the session key as an ECDH key.
func (r *AttestRequest) SessionPublicKey() (*ecdh.PublicKey, error) {
	k, err := point(r.SessionKey[:])
	if err != nil {
		return nil, fmt.Errorf("session public key: %v", err)
	}
	return k, nil
}

// Status is the outcome of an attest request.
type Status uint32

// Statuses of an attest response.
const (
	StatusReleased Status = 0 // the secrets are in the response, sealed
	StatusRefused  Status = 1 // the CAS refuses; Reason says why
	StatusRetry    Status = 2 // try again later (the CAS is busy or its store unavailable)
)

func (s Status) String() string {
	switch s {
	case StatusReleased:
		return "released"
	case StatusRefused:
		return "refused"
	case StatusRetry:
		return "try again later"
	}
	return fmt.Sprintf("status %d", uint32(s))
}

// Attest response records.
const (
	TagResponseStatus     uint16 = 1
	TagResponseReason     uint16 = 2
	TagResponseSimulation uint16 = 3
	TagResponsePolicyHash uint16 = 4
	TagResponseEphemeral  uint16 = 5
	TagResponseSealed     uint16 = 6
)

var responseSchema = &schema{typ: TypeAttestResponse, what: "attest response", fields: []field{
	{tag: TagResponseStatus, name: "status", required: true, min: 4, max: 4},
	{tag: TagResponseReason, name: "reason", min: 1, max: MaxReasonSize},
	{tag: TagResponseSimulation, name: "simulation", required: true, min: 4, max: 4},
	{tag: TagResponsePolicyHash, name: "policy hash", min: HashSize, max: HashSize},
	{tag: TagResponseEphemeral, name: "CAS ephemeral public key", min: PointSize, max: PointSize},
	{tag: TagResponseSealed, name: "sealed secrets", min: GCMTagSize, max: MaxMessageSize},
}}

// AttestResponse is message type 2. When Status is StatusReleased it
// carries PolicyHash, Ephemeral and Sealed and no Reason; otherwise a
// Reason and none of the three.
type AttestResponse struct {
	Status     Status
	Reason     string // UTF-8, at most MaxReasonSize bytes
	Simulation bool   // the quote was a simulation quote
	PolicyHash [HashSize]byte
	Ephemeral  [PointSize]byte // the CAS's ephemeral public key E
	Sealed     []byte          // AES-256-GCM ciphertext of a Secrets message, and the tag
}

// ParseAttestResponse decodes an attest response and checks that the
// records present fit the status.
func ParseAttestResponse(b []byte) (*AttestResponse, error) {
	s := responseSchema
	recs, err := s.decode(b)
	if err != nil {
		return nil, err
	}
	r := &AttestResponse{}
	for _, rec := range recs {
		switch rec.tag {
		case TagResponseStatus:
			v := binary.LittleEndian.Uint32(rec.val)
			if v > uint32(StatusRetry) {
				return nil, s.errf(rec.valOff(), rec.tag, "status %d is not 0 (released), 1 (refused) or 2 (try again later)", v)
			}
			r.Status = Status(v)
		case TagResponseReason:
			if !text(rec.val) {
				return nil, s.errf(rec.valOff(), rec.tag, "not UTF-8 text without NUL")
			}
			r.Reason = string(rec.val)
		case TagResponseSimulation:
			v := binary.LittleEndian.Uint32(rec.val)
			if v > 1 {
				return nil, s.errf(rec.valOff(), rec.tag, "%d is not 0 or 1", v)
			}
			r.Simulation = v == 1
		case TagResponsePolicyHash:
			copy(r.PolicyHash[:], rec.val)
		case TagResponseEphemeral:
			if _, err := point(rec.val); err != nil {
				return nil, s.errf(rec.valOff(), rec.tag, "%v", err)
			}
			copy(r.Ephemeral[:], rec.val)
		case TagResponseSealed:
			r.Sealed = bytes.Clone(rec.val)
		}
	}
	released := r.Status == StatusReleased
	for _, tag := range []uint16{TagResponsePolicyHash, TagResponseEphemeral, TagResponseSealed} {
		if released && !has(recs, tag) {
			return nil, s.errf(len(b), tag, "missing: a released response carries the policy hash, the CAS ephemeral key and the sealed secrets")
		}
		if !released && has(recs, tag) {
			return nil, s.errf(recordOff(recs, tag), tag, "a response with status %d (%s) carries no secrets", r.Status, r.Status)
		}
	}
	if released && has(recs, TagResponseReason) {
		return nil, s.errf(recordOff(recs, TagResponseReason), TagResponseReason, "a released response carries no reason")
	}
	if !released && !has(recs, TagResponseReason) {
		return nil, s.errf(len(b), TagResponseReason, "missing: a response with status %d (%s) says why", r.Status, r.Status)
	}
	return r, nil
}

func recordOff(recs []record, tag uint16) int {
	for _, r := range recs {
		if r.tag == tag {
			return r.off
		}
	}
	return -1
}

// MarshalBinary encodes the response; it refuses what ParseAttestResponse
// would refuse.
func (r *AttestResponse) MarshalBinary() ([]byte, error) {
	w := newWriter(TypeAttestResponse, len(r.Reason)+len(r.Sealed)+HashSize+PointSize+6*RecordHeaderSize+8)
	w.u32(TagResponseStatus, uint32(r.Status))
	if r.Status != StatusReleased {
		w.record(TagResponseReason, []byte(r.Reason))
	}
	sim := uint32(0)
	if r.Simulation {
		sim = 1
	}
	w.u32(TagResponseSimulation, sim)
	if r.Status == StatusReleased {
		w.record(TagResponsePolicyHash, r.PolicyHash[:])
		w.record(TagResponseEphemeral, r.Ephemeral[:])
		w.record(TagResponseSealed, r.Sealed)
	}
	return w.finish(responseSchema, func(b []byte) error { _, err := ParseAttestResponse(b); return err })
}

// EphemeralKey returns E as an ECDH key.
func (r *AttestResponse) EphemeralKey() (*ecdh.PublicKey, error) {
	k, err := point(r.Ephemeral[:])
	if err != nil {
		return nil, fmt.Errorf("CAS ephemeral public key: %v", err)
	}
	return k, nil
}
