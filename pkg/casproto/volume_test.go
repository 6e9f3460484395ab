package casproto

import (
	"bytes"
	"errors"
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
		"op 3":          func() []byte { m := *req; m.Op = 3; return mustBody(&m) }(),
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
