package casproto

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzSeeds are every message of the vectors (valid and must-fail).
func fuzzSeeds(f *testing.F) {
	sk := [65]byte(newSession(f).PublicKey().Bytes())
	for _, c := range mustFailCases(bytes.Repeat([]byte{0x51}, 64), sk, fixed32("nonce")) {
		f.Add(c.msg)
	}
	if b, err := validRequest(f).MarshalBinary(); err == nil {
		f.Add(b)
	}
	for _, m := range vectorSecrets() {
		if b, err := m.MarshalBinary(); err == nil {
			f.Add(b)
		}
	}
	r := &AttestResponse{Status: StatusReleased, PolicyHash: fixed32("h"), Ephemeral: sk, Sealed: make([]byte, 40)}
	if b, err := r.MarshalBinary(); err == nil {
		f.Add(b)
	}
	if b, err := (&AttestResponse{Status: StatusRefused, Reason: "no"}).MarshalBinary(); err == nil {
		f.Add(b)
	}
}

// checkDecode: no panic; a decoded message re-encodes to the same bytes;
// a refusal is a *FormatError with an offset inside (or at the end of)
// the message.
func checkDecode[T interface{ MarshalBinary() ([]byte, error) }](t *testing.T, b []byte, parse func([]byte) (T, error)) {
	m, err := parse(b)
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) {
			t.Fatalf("error %T %v is not a *FormatError", err, err)
		}
		if fe.Offset < 0 || fe.Offset > len(b) && fe.Offset != MaxMessageSize {
			t.Fatalf("offset %d outside the message of %d bytes: %v", fe.Offset, len(b), err)
		}
		return
	}
	out, err := m.MarshalBinary()
	if err != nil {
		t.Fatalf("decoded, but does not encode: %v", err)
	}
	if !bytes.Equal(out, b) {
		t.Fatalf("re-encoding differs:\n%x\n%x", out, b)
	}
}

func FuzzParseAttestRequest(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { checkDecode(t, b, ParseAttestRequest) })
}

func FuzzParseAttestResponse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { checkDecode(t, b, ParseAttestResponse) })
}

func FuzzParseSecrets(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { checkDecode(t, b, ParseSecrets) })
}

// FuzzOpen: arbitrary sealed bytes never open (nor panic) for a fixed key.
func FuzzOpen(f *testing.F) {
	session, eph := newSession(f), newSession(f)
	nonce, hash := fixed32("n"), fixed32("h")
	sealed, _ := Seal(eph, session.PublicKey(), nonce, hash, []byte("x"))
	f.Add(sealed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := Open(session, eph.PublicKey(), nonce, hash, b)
		if err == nil && !bytes.Equal(b, sealed) {
			t.Fatalf("forged sealed secrets opened: %q", pt)
		}
	})
}
