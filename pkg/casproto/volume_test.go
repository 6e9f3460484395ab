package casproto

import (
	"bytes"
	"crypto/ecdh"
	"errors"
	"fmt"
	"testing"
)

func volumeSeeds(f *testing.F) {
	key := bytes.Repeat([]byte{5}, 32)
	req := &VolumeRequest{Session: fixed32("s"), Path: "/data", Op: VolumeRecord, Version: 9, Root: fixed32("r")}
	req.Sign(key)
	if b, err := req.MarshalBinary(); err == nil {
		f.Add(b)
	}
	resp := &VolumeResponse{Version: 9, Root: fixed32("r"), Status: VolumeRollback, Reason: "rollback"}
	resp.Sign(key, req.MAC)
	if b, err := resp.MarshalBinary(); err == nil {
		f.Add(b)
	}
	fuzzSeeds(f)
}

func FuzzParseVolumeRequest(f *testing.F) {
	volumeSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { checkDecode(t, b, ParseVolumeRequest) })
}

func FuzzParseVolumeResponse(f *testing.F) {
	volumeSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { checkDecode(t, b, ParseVolumeResponse) })
}

// TestVolumeMessages: both sides derive one record key; a signed request
// and response round-trip and verify; any change of a field, another key,
// or a response to another request does not verify; malformed messages
// are refused with a FormatError.
func TestVolumeMessages(t *testing.T) {
	session, eph := newSession(t), newSession(t)
	nonce := fixed32("n")
	kCAS, err := RecordKey(eph, session.PublicKey(), nonce)
	if err != nil {
		t.Fatal(err)
	}
	kEnc, err := RecordKey(session, eph.PublicKey(), nonce)
	if err != nil || !bytes.Equal(kCAS, kEnc) {
		t.Fatalf("record keys differ: %x %x %v", kCAS, kEnc, err)
	}
	sk, _ := SecretsKey(session, eph.PublicKey(), nonce)
	if bytes.Equal(sk, kEnc) {
		t.Fatal("record key equals the secrets key")
	}
	req := &VolumeRequest{Session: SessionID([65]byte(session.PublicKey().Bytes())), Path: "/data", Op: VolumeRecord, Version: 7, Root: fixed32("root")}
	req.Sign(kEnc)
	b, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseVolumeRequest(b)
	if err != nil || *got != *req || got.Verify(kCAS) != nil {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, c := range []struct {
		name   string
		change func(r *VolumeRequest)
	}{
		{"version", func(r *VolumeRequest) { r.Version++ }},
		{"root", func(r *VolumeRequest) { r.Root[31] ^= 1 }},
		{"path", func(r *VolumeRequest) { r.Path = "/date" }},
		{"op", func(r *VolumeRequest) { r.Op = VolumeGet }},
		{"session", func(r *VolumeRequest) { r.Session[0] ^= 1 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := *got
			c.change(&m)
			if err := m.Verify(kCAS); !errors.Is(err, ErrMAC) {
				t.Errorf("changed %s verifies: %v", c.name, err)
			}
		})
	}
	if got.Verify(bytes.Repeat([]byte{1}, 32)) == nil {
		t.Error("verifies under another key")
	}
	resp := &VolumeResponse{Version: 7, Root: req.Root, Status: VolumeOK}
	resp.Sign(kCAS, req.MAC)
	rb, err := resp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := ParseVolumeResponse(rb)
	if err != nil || *r2 != *resp || r2.Verify(kEnc, req.MAC) != nil {
		t.Fatalf("response round trip: %+v %v", r2, err)
	}
	if r2.Verify(kEnc, fixed32("other request")) == nil {
		t.Error("a response verifies for another request")
	}
	r2.Status = VolumeRollback
	if r2.Verify(kEnc, req.MAC) == nil {
		t.Error("a response with another status verifies")
	}
	bad := map[string][]byte{
		"relative path": func() []byte { m := *req; m.Path = "data"; return mustBody(&m) }(),
		"op 4":          func() []byte { m := *req; m.Op = 4; return mustBody(&m) }(),
		"truncated":     b[:len(b)-1],
		"attest type":   append(append([]byte{}, b[:6]...), append([]byte{1, 0}, b[8:]...)...),
	}
	for name, m := range bad {
		if _, err := ParseVolumeRequest(m); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want a format error", name, err)
		}
	}
}

// mustBody encodes a request without the encoder's check (for must-fail
// messages).
func mustBody(r *VolumeRequest) []byte {
	w := &writer{b: r.body()}
	w.record(TagVolumeMAC, r.MAC[:])
	return w.b
}

// TestVolumeVectors: testdata/casproto/volume.txt, the record key and
// signed volume messages from fixed keys, for the runtime's C client
// (-update rewrites it).
func TestVolumeVectors(t *testing.T) {
	if *update {
		generateVolumeVectors(t)
	}
	for _, e := range readVectors(t, "volume.txt") {
		d, err := ecdh.P256().NewPrivateKey(e.bin(t, "session_private"))
		if err != nil {
			t.Fatal(err)
		}
		E, err := ecdh.P256().NewPublicKey(e.bin(t, "cas_ephemeral_public"))
		if err != nil {
			t.Fatal(err)
		}
		k, err := RecordKey(d, E, [32]byte(e.bin(t, "nonce")))
		if err != nil || !bytes.Equal(k, e.bin(t, "record_key")) {
			t.Fatalf("%s: record key %x (%v), vector %x", e.name(), k, err, e.bin(t, "record_key"))
		}
		if id := SessionID([65]byte(d.PublicKey().Bytes())); !bytes.Equal(id[:], e.bin(t, "session_id")) {
			t.Errorf("%s: session ID %x", e.name(), id)
		}
		req, err := ParseVolumeRequest(e.bin(t, "request"))
		if err != nil {
			t.Fatalf("%s: %v", e.name(), err)
		}
		if req.Path != e.str(t, "path") || int(req.Op) != e.num(t, "op") || int(req.Version) != e.num(t, "version") ||
			!bytes.Equal(req.Root[:], e.bin(t, "root")) || req.Verify(k) != nil {
			t.Errorf("%s: request %+v does not match or verify", e.name(), req)
		}
		resp, err := ParseVolumeResponse(e.bin(t, "response"))
		if err != nil {
			t.Fatalf("%s: %v", e.name(), err)
		}
		if int(resp.Status) != e.num(t, "status") || int(resp.Version) != e.num(t, "recorded_version") ||
			resp.Reason != e.str(t, "reason") || resp.Verify(k, req.MAC) != nil {
			t.Errorf("%s: response %+v does not match or verify", e.name(), resp)
		}
	}
}

func generateVolumeVectors(t *testing.T) {
	session, eph := fixedECDH(t, "session key"), fixedECDH(t, "cas ephemeral key")
	nonce := fixed32("nonce")
	k, err := RecordKey(eph, session.PublicKey(), nonce)
	if err != nil {
		t.Fatal(err)
	}
	sid := SessionID([65]byte(session.PublicKey().Bytes()))
	cases := []struct {
		name   string
		op     VolumeOp
		v      uint64
		root   [32]byte
		status VolumeStatus
		recV   uint64
		recR   [32]byte
		reason string
	}{
		{"get, nothing recorded", VolumeGet, 0, [32]byte{}, VolumeOK, 0, [32]byte{}, ""},
		{"get, version 9 recorded", VolumeGet, 0, [32]byte{}, VolumeOK, 9, fixed32("root 9"), ""},
		{"record 10", VolumeRecord, 10, fixed32("root 10"), VolumeOK, 10, fixed32("root 10"), ""},
		{"record 7 below 9: rollback", VolumeRecord, 7, fixed32("root 7"), VolumeRollback, 9, fixed32("root 9"), "volume /data: version 7 is older than the recorded version 9: rollback"},
	}
	var es []*entry
	for _, c := range cases {
		req := &VolumeRequest{Session: sid, Path: "/data", Op: c.op, Version: c.v, Root: c.root}
		req.Sign(k)
		rb, err := req.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		resp := &VolumeResponse{Version: c.recV, Root: c.recR, Status: c.status, Reason: c.reason}
		resp.Sign(k, req.MAC)
		pb, err := resp.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		e := &entry{}
		e.add("name", c.name)
		e.hex("session_private", fixedScalar("session key"))
		e.hex("session_public", session.PublicKey().Bytes())
		e.hex("cas_ephemeral_public", eph.PublicKey().Bytes())
		e.hex("nonce", nonce[:])
		e.hex("record_key", k)
		e.hex("session_id", sid[:])
		e.add("path", req.Path)
		e.add("op", fmt.Sprint(int(c.op)))
		e.add("version", fmt.Sprint(c.v))
		e.hex("root", c.root[:])
		e.hex("request", rb)
		e.add("status", fmt.Sprint(int(c.status)))
		e.add("recorded_version", fmt.Sprint(c.recV))
		e.hex("recorded_root", c.recR[:])
		e.add("reason", c.reason)
		e.hex("response", pb)
		es = append(es, e)
	}
	writeVectors(t, "volume.txt", `
Volume state messages (docs/cas.md, "Volume state"): record_key = HKDF-SHA256(x of ECDH(session, CAS ephemeral),
salt nonce, info "scone-cas volume record v1"); session_id = SHA-256(session_public); request: a signed volume
request (type 4) with path, op (1 get, 2 record), version, root; response: the CAS's signed answer (type 5) with
status (1 ok, 2 rollback), recorded_version, recorded_root, reason; its MAC covers the request's MAC.`, es)
}
