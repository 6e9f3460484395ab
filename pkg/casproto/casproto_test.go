package casproto

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func newSession(t testing.TB) *ecdh.PrivateKey {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func validRequest(t testing.TB) *AttestRequest {
	return &AttestRequest{Policy: "web-prod", Nonce: fixed32("nonce"), SessionKey: [65]byte(newSession(t).PublicKey().Bytes()),
		Quote: []byte("quote bytes"), Client: "scone-run test"}
}

// TestRequestRoundTrip: encode, decode, same fields; the encoding refuses
// what the decoder would.
func TestRequestRoundTrip(t *testing.T) {
	r := validRequest(t)
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseAttestRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip: %+v, want %+v", got, r)
	}
	if _, err := got.SessionPublicKey(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*AttestRequest)
	}{
		{"empty policy", func(r *AttestRequest) { r.Policy = "" }},
		{"policy with capitals", func(r *AttestRequest) { r.Policy = "Web" }},
		{"policy of 64 bytes", func(r *AttestRequest) { r.Policy = strings.Repeat("a", 64) }},
		{"session key zero", func(r *AttestRequest) { r.SessionKey = [65]byte{} }},
		{"no quote", func(r *AttestRequest) { r.Quote = nil }},
		{"client of 257 bytes", func(r *AttestRequest) { r.Client = strings.Repeat("c", 257) }},
		{"client with NUL", func(r *AttestRequest) { r.Client = "a\x00" }},
		{"message over 1 MiB", func(r *AttestRequest) { r.Quote = make([]byte, MaxMessageSize) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := validRequest(t)
			c.edit(r)
			if b, err := r.MarshalBinary(); err == nil {
				t.Fatalf("encoded %d bytes", len(b))
			}
		})
	}
}

func TestResponseRoundTrip(t *testing.T) {
	for _, r := range []*AttestResponse{
		{Status: StatusReleased, Simulation: true, PolicyHash: fixed32("h"), Ephemeral: [65]byte(newSession(t).PublicKey().Bytes()), Sealed: make([]byte, 16)},
		{Status: StatusRefused, Reason: "no"},
		{Status: StatusRetry, Reason: "later", Simulation: true},
	} {
		t.Run(r.Status.String(), func(t *testing.T) {
			b, err := r.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseAttestResponse(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Fatalf("round trip: %+v, want %+v", got, r)
			}
		})
	}
	for _, c := range []struct {
		name string
		r    AttestResponse
	}{
		{"refused without reason", AttestResponse{Status: StatusRefused}},
		{"status 7", AttestResponse{Status: 7, Reason: "x"}},
		{"released without a key", AttestResponse{Status: StatusReleased, Sealed: make([]byte, 16)}},
		{"released, sealed shorter than the tag", AttestResponse{Status: StatusReleased, Ephemeral: [65]byte(newSession(t).PublicKey().Bytes()), Sealed: make([]byte, 15)}},
		{"reason too long", AttestResponse{Status: StatusRefused, Reason: strings.Repeat("r", MaxReasonSize+1)}},
		{"reason not UTF-8", AttestResponse{Status: StatusRefused, Reason: "\xff"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.r.MarshalBinary(); err == nil {
				t.Fatal("encoded")
			}
		})
	}
}

// TestSecretsSorted: the encoder sorts volume keys, variables and files;
// it refuses duplicates, bad paths and names, oversize.
func TestSecretsSorted(t *testing.T) {
	m := &Secrets{
		VolumeKeys: []VolumeKey{{"/z", seq(0, 32)}, {"/a", seq(1, 32)}},
		Env:        []EnvVar{{"B", "1"}, {"A1", "2"}, {"A", "3"}},
		Args:       []string{"x"},
		Files:      []File{{Path: "/y", Mode: 0o600}, {Path: "/x", Mode: 0o400, Content: []byte("c")}},
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseSecrets(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.VolumeKeys[0].Path != "/a" || got.Env[0].Name != "A" || got.Env[1].Name != "A1" || got.Files[0].Path != "/x" || !got.ArgsSet {
		t.Fatalf("not sorted: %+v", got)
	}
	for _, c := range []struct {
		name string
		m    Secrets
	}{
		{"FS key of 16 bytes", Secrets{FSKey: make([]byte, 16)}},
		{"volume key twice", Secrets{VolumeKeys: []VolumeKey{{"/a", seq(0, 32)}, {"/a", seq(0, 32)}}}},
		{"volume key of 31 bytes", Secrets{VolumeKeys: []VolumeKey{{"/a", seq(0, 31)}}}},
		{"volume path relative", Secrets{VolumeKeys: []VolumeKey{{"a", seq(0, 32)}}}},
		{"variable twice", Secrets{Env: []EnvVar{{"A", "1"}, {"A", "2"}}}},
		{"variable name with =", Secrets{Env: []EnvVar{{"A=B", "1"}}}},
		{"variable with NUL", Secrets{Env: []EnvVar{{"A", "\x00"}}}},
		{"argument with NUL", Secrets{Args: []string{"\x00"}}},
		{"file mode 04755", Secrets{Files: []File{{Path: "/a", Mode: 0o4755}}}},
		{"file /", Secrets{Files: []File{{Path: "/", Mode: 0o400}}}},
		{"file path with NUL", Secrets{Files: []File{{Path: "/a\x00b", Mode: 0o400}}}},
		{"too large", Secrets{Files: []File{{Path: "/a", Content: make([]byte, MaxSecretsSize)}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.m.MarshalBinary(); err == nil {
				t.Fatal("encoded")
			}
		})
	}
	_, err = (&Secrets{Files: []File{{Path: "/a", Content: make([]byte, MaxSecretsSize)}}}).MarshalBinary()
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversize secrets: %v, want ErrTooLarge", err)
	}
}

// TestSealOpen: only the session key opens; every input is bound.
func TestSealOpen(t *testing.T) {
	session, eph, other := newSession(t), newSession(t), newSession(t)
	nonce, hash := fixed32("n"), fixed32("h")
	pt := []byte("secrets")
	sealed, err := Seal(eph, session.PublicKey(), nonce, hash, pt)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != len(pt)+GCMTagSize {
		t.Fatalf("sealed %d bytes", len(sealed))
	}
	got, err := Open(session, eph.PublicKey(), nonce, hash, sealed)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	n2, h2 := nonce, hash
	n2[0] ^= 1
	h2[0] ^= 1
	for _, c := range []struct {
		name    string
		key     *ecdh.PrivateKey
		e       *ecdh.PublicKey
		n, h    [32]byte
		payload []byte
	}{
		{"other session key", other, eph.PublicKey(), nonce, hash, sealed},
		{"other ephemeral key", session, other.PublicKey(), nonce, hash, sealed},
		{"other nonce", session, eph.PublicKey(), n2, hash, sealed},
		{"other policy hash", session, eph.PublicKey(), nonce, h2, sealed},
		{"truncated", session, eph.PublicKey(), nonce, hash, sealed[:10]},
		{"modified", session, eph.PublicKey(), nonce, hash, append([]byte{sealed[0] ^ 0x80}, sealed[1:]...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Open(c.key, c.e, c.n, c.h, c.payload); !errors.Is(err, ErrOpen) {
				t.Fatalf("Open = %v, want ErrOpen", err)
			}
		})
	}
	if _, err := Seal(nil, session.PublicKey(), nonce, hash, pt); err == nil {
		t.Error("Seal with no key")
	}
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	if _, err := SecretsKey(session, x.PublicKey(), nonce); err == nil {
		t.Error("SecretsKey across curves")
	}
}

// TestFormatErrorText: the error names the message, offset, record and reason.
func TestFormatErrorText(t *testing.T) {
	b := rawMsg(1, rawRec{1, []byte("web")}, rawRec{2, make([]byte, 31)})
	_, err := ParseAttestRequest(b)
	want := "not a SCAS attest request: offset 17 (record 2, nonce): 31 bytes, want 32"
	if err == nil || err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	_, err = ParseSecrets(rawMsg(1))
	if err == nil || !strings.Contains(err.Error(), "offset 6 (type): type 1, want 3 (secrets message)") {
		t.Fatalf("error %q", err)
	}
	big := make([]byte, MaxMessageSize+1)
	copy(big, rawMsg(3))
	if _, err := ParseSecrets(big); err == nil || !strings.Contains(err.Error(), "more than 1048576") {
		t.Fatalf("oversize: %v", err)
	}
}

// TestReportDataLayout: the hash fills the first half, zeros the second.
func TestReportDataLayout(t *testing.T) {
	rd := ReportData(fixed32("n"), [65]byte{4})
	if rd == ([64]byte{}) || [32]byte(rd[32:]) != [32]byte{} {
		t.Fatalf("REPORTDATA %x", rd)
	}
	rd2 := ReportData(fixed32("n"), [65]byte{4, 1})
	if rd2 == rd {
		t.Fatal("REPORTDATA does not depend on the session key")
	}
}
