package casproto

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Volume state messages (docs/cas.md, "Volume state"): an attested
// enclave reads and records the state (version V, root tag R_V) of its
// protected volumes, authenticated by the record key both sides derive
// from the attestation's ECDH exchange.
const (
	TypeVolumeRequest  uint16 = 4
	TypeVolumeResponse uint16 = 5
	PathVolume                = "/v1/enclave/volume"
	RecordInfo                = "scone-cas volume record v1" // HKDF info of the record key
	MACSize                   = 32
)

// Volume request and response records.
const (
	TagVolumeSession uint16 = 1 // request: SessionID (32 bytes)
	TagVolumePath    uint16 = 2 // request: the volume's path
	TagVolumeOp      uint16 = 3 // request: u32 VolumeOp
	TagVolumeVersion uint16 = 4 // both: u64 V
	TagVolumeRoot    uint16 = 5 // both: R_V (32 bytes)
	TagVolumeMAC     uint16 = 6 // both: HMAC-SHA256 under the record key
	TagVolumeStatus  uint16 = 7 // response: u32 VolumeStatus
	TagVolumeReason  uint16 = 8 // response: text
)

// VolumeOp says what a volume request asks.
type VolumeOp uint32

// Volume operations.
const (
	VolumeGet    VolumeOp = 1 // the recorded state
	VolumeRecord VolumeOp = 2 // record (V, R_V), monotonic
	// VolumeReinit records (V, R_V) even below the recorded state: an
	// emptied volume starting anew, only where the policy allows reinit.
	VolumeReinit VolumeOp = 3
)

// VolumeStatus is a volume response's outcome.
type VolumeStatus uint32

// Volume statuses.
const (
	VolumeOK       VolumeStatus = 1 // recorded (or, for get, the state; V 0: none)
	VolumeRollback VolumeStatus = 2 // V below the recorded one, or equal with another root
	VolumeRefused  VolumeStatus = 3 // unknown session, bad MAC, volume not in the policy
	VolumeRetry    VolumeStatus = 4 // the CAS cannot answer now
)

// ErrMAC: a volume message's MAC does not verify under the record key.
var ErrMAC = errors.New("volume message MAC does not verify")

var volumeRequestSchema = &schema{typ: TypeVolumeRequest, what: "volume request", fields: []field{
	{tag: TagVolumeSession, name: "session ID", required: true, min: HashSize, max: HashSize},
	{tag: TagVolumePath, name: "volume path", required: true, min: 2, max: 4096},
	{tag: TagVolumeOp, name: "operation", required: true, min: 4, max: 4},
	{tag: TagVolumeVersion, name: "version", required: true, min: 8, max: 8},
	{tag: TagVolumeRoot, name: "root", required: true, min: HashSize, max: HashSize},
	{tag: TagVolumeMAC, name: "MAC", required: true, min: MACSize, max: MACSize},
}}

var volumeResponseSchema = &schema{typ: TypeVolumeResponse, what: "volume response", fields: []field{
	{tag: TagVolumeVersion, name: "version", required: true, min: 8, max: 8},
	{tag: TagVolumeRoot, name: "root", required: true, min: HashSize, max: HashSize},
	{tag: TagVolumeMAC, name: "MAC", required: true, min: MACSize, max: MACSize},
	{tag: TagVolumeStatus, name: "status", required: true, min: 4, max: 4},
	{tag: TagVolumeReason, name: "reason", min: 1, max: MaxReasonSize},
}}

// SessionID names an attested session in volume requests:
// SHA-256 of its 65-byte session public key.
func SessionID(sessionKey [PointSize]byte) [HashSize]byte { return sha256.Sum256(sessionKey[:]) }

// RecordKey derives the key that authenticates volume messages:
// HKDF-SHA256(IKM = x-coordinate of ECDH(own, peer), salt = nonce,
// info = RecordInfo). Like SecretsKey, the CAS computes it with its
// ephemeral key, the enclave with its session key; only the attested
// enclave and the CAS know it.
func RecordKey(own *ecdh.PrivateKey, peer *ecdh.PublicKey, nonce [NonceSize]byte) ([]byte, error) {
	if own == nil || peer == nil || own.Curve() != ecdh.P256() || peer.Curve() != ecdh.P256() {
		return nil, errors.New("deriving record key: want P-256 keys")
	}
	x, err := own.ECDH(peer)
	if err != nil {
		return nil, fmt.Errorf("deriving record key: %w", err)
	}
	return hkdf.Key(sha256.New, x, nonce[:], RecordInfo, 32)
}

// VolumeRequest is message type 4.
type VolumeRequest struct {
	Session [HashSize]byte
	Path    string
	Op      VolumeOp
	Version uint64         // VolumeRecord: V; VolumeGet: 0
	Root    [HashSize]byte // VolumeRecord: R_V; VolumeGet: zero
	MAC     [MACSize]byte  // HMAC-SHA256(record key, the message up to the MAC record)
}

// VolumeResponse is message type 5. Its MAC covers the request's MAC, so
// that a response answers one request.
type VolumeResponse struct {
	Version uint64 // the recorded V after the request (0: none)
	Root    [HashSize]byte
	MAC     [MACSize]byte // HMAC-SHA256(record key, request MAC || the message up to the MAC record)
	Status  VolumeStatus
	Reason  string
}

// ParseVolumeRequest decodes a volume request (the MAC is checked by
// the CAS, which knows the key).
func ParseVolumeRequest(b []byte) (*VolumeRequest, error) {
	s := volumeRequestSchema
	recs, err := s.decode(b)
	if err != nil {
		return nil, err
	}
	r := &VolumeRequest{}
	for _, rec := range recs {
		switch rec.tag {
		case TagVolumeSession:
			copy(r.Session[:], rec.val)
		case TagVolumePath:
			if !validPath(rec.val) {
				return nil, s.errf(rec.valOff(), rec.tag, "%q is not a clean absolute path other than /", rec.val)
			}
			r.Path = string(rec.val)
		case TagVolumeOp:
			r.Op = VolumeOp(binary.LittleEndian.Uint32(rec.val))
			if r.Op != VolumeGet && r.Op != VolumeRecord && r.Op != VolumeReinit {
				return nil, s.errf(rec.valOff(), rec.tag, "operation %d: want 1 (get), 2 (record) or 3 (reinit)", r.Op)
			}
		case TagVolumeVersion:
			r.Version = binary.LittleEndian.Uint64(rec.val)
		case TagVolumeRoot:
			copy(r.Root[:], rec.val)
		case TagVolumeMAC:
			copy(r.MAC[:], rec.val)
		}
	}
	return r, nil
}

func (r *VolumeRequest) body() []byte {
	w := newWriter(TypeVolumeRequest, 128+len(r.Path))
	w.record(TagVolumeSession, r.Session[:])
	w.record(TagVolumePath, []byte(r.Path))
	w.u32(TagVolumeOp, uint32(r.Op))
	w.record(TagVolumeVersion, binary.LittleEndian.AppendUint64(nil, r.Version))
	w.record(TagVolumeRoot, r.Root[:])
	return w.b
}

func mac(key []byte, parts ...[]byte) [MACSize]byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	var out [MACSize]byte
	h.Sum(out[:0])
	return out
}

// Sign sets the request's MAC under the record key.
func (r *VolumeRequest) Sign(key []byte) { r.MAC = mac(key, r.body()) }

// Verify checks the request's MAC under the record key.
func (r *VolumeRequest) Verify(key []byte) error {
	want := mac(key, r.body())
	if !hmac.Equal(want[:], r.MAC[:]) {
		return ErrMAC
	}
	return nil
}

// MarshalBinary encodes the request (sign it first).
func (r *VolumeRequest) MarshalBinary() ([]byte, error) {
	w := &writer{b: r.body()}
	w.record(TagVolumeMAC, r.MAC[:])
	return w.finish(volumeRequestSchema, func(b []byte) error { _, err := ParseVolumeRequest(b); return err })
}

func (r *VolumeResponse) body() []byte {
	w := newWriter(TypeVolumeResponse, 128+len(r.Reason))
	w.record(TagVolumeVersion, binary.LittleEndian.AppendUint64(nil, r.Version))
	w.record(TagVolumeRoot, r.Root[:])
	return w.b
}

func (r *VolumeResponse) tail() []byte {
	w := &writer{}
	w.u32(TagVolumeStatus, uint32(r.Status))
	if r.Reason != "" {
		w.record(TagVolumeReason, []byte(r.Reason))
	}
	return w.b
}

// Sign sets the response's MAC: it answers the request whose MAC is reqMAC.
func (r *VolumeResponse) Sign(key []byte, reqMAC [MACSize]byte) {
	r.MAC = mac(key, reqMAC[:], r.body(), r.tail())
}

// Verify checks that the response answers the request whose MAC is reqMAC.
func (r *VolumeResponse) Verify(key []byte, reqMAC [MACSize]byte) error {
	want := mac(key, reqMAC[:], r.body(), r.tail())
	if !hmac.Equal(want[:], r.MAC[:]) {
		return ErrMAC
	}
	return nil
}

// MarshalBinary encodes the response.
func (r *VolumeResponse) MarshalBinary() ([]byte, error) {
	w := &writer{b: r.body()}
	w.record(TagVolumeMAC, r.MAC[:])
	w.b = append(w.b, r.tail()...)
	return w.finish(volumeResponseSchema, func(b []byte) error { _, err := ParseVolumeResponse(b); return err })
}

// ParseVolumeResponse decodes a volume response (the enclave checks the
// MAC with Verify).
func ParseVolumeResponse(b []byte) (*VolumeResponse, error) {
	s := volumeResponseSchema
	recs, err := s.decode(b)
	if err != nil {
		return nil, err
	}
	r := &VolumeResponse{}
	for _, rec := range recs {
		switch rec.tag {
		case TagVolumeVersion:
			r.Version = binary.LittleEndian.Uint64(rec.val)
		case TagVolumeRoot:
			copy(r.Root[:], rec.val)
		case TagVolumeMAC:
			copy(r.MAC[:], rec.val)
		case TagVolumeStatus:
			r.Status = VolumeStatus(binary.LittleEndian.Uint32(rec.val))
			if r.Status < VolumeOK || r.Status > VolumeRetry {
				return nil, s.errf(rec.valOff(), rec.tag, "status %d: want 1-4", r.Status)
			}
		case TagVolumeReason:
			if !text(rec.val) {
				return nil, s.errf(rec.valOff(), rec.tag, "not UTF-8 text without NUL")
			}
			r.Reason = string(rec.val)
		}
	}
	return r, nil
}
