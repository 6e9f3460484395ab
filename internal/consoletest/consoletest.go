package consoletest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/scone-build/scone-build/pkg/console"
)

// Origin is what a session header names besides its stream.
type Origin struct {
	MRENCLAVE   [32]byte
	Run         [console.NonceLen]byte
	Nonce       [console.NonceLen]byte
	Parent      [console.NonceLen]byte
	ForkCounter uint64
}

// Root is the origin of a run's first process: its nonce is the run nonce.
func Root(mrenclave [32]byte, run [console.NonceLen]byte) Origin {
	return Origin{MRENCLAVE: mrenclave, Run: run, Nonce: run}
}

// Child is the origin of o's n-th fork, with its own nonce.
func (o Origin) Child(nonce [console.NonceLen]byte, n uint64) Origin {
	return Origin{MRENCLAVE: o.MRENCLAVE, Run: o.Run, Nonce: nonce, Parent: o.Nonce, ForkCounter: n}
}

// Session writes one session's bytes.
type Session struct {
	header []byte
	sent   bool
	gcm    cipher.AEAD
	seq    uint64
}

// Open starts a session on stream under key with o's header.
func Open(key console.Key, stream console.Stream, o Origin) (*Session, error) {
	h := make([]byte, console.HeaderLen)
	copy(h, console.Magic)
	h[4] = console.Version
	h[5] = byte(stream)
	copy(h[8:], o.MRENCLAVE[:])
	copy(h[40:], o.Run[:])
	copy(h[56:], o.Nonce[:])
	copy(h[72:], o.Parent[:])
	binary.BigEndian.PutUint64(h[88:], o.ForkCounter)
	mk, err := hkdf.Key(sha256.New, key[:], nil, console.LabelHeaderMAC, 32)
	if err != nil {
		return nil, fmt.Errorf("derive console header key: %w", err)
	}
	m := hmac.New(sha256.New, mk)
	m.Write(h[:console.HeaderMACed])
	copy(h[console.HeaderMACed:], m.Sum(nil))
	sk, err := hkdf.Key(sha256.New, key[:], h[:console.HeaderMACed], console.LabelSession, 32)
	if err != nil {
		return nil, fmt.Errorf("derive console session key: %w", err)
	}
	b, err := aes.NewCipher(sk)
	if err != nil {
		return nil, fmt.Errorf("create console cipher: %w", err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("create console cipher: %w", err)
	}
	return &Session{header: h, gcm: g}, nil
}

// Start returns the header alone (as the runtime writes a root session's
// header at start), or nothing once it was returned.
func (s *Session) Start() []byte {
	if s.sent {
		return nil
	}
	s.sent = true
	return append([]byte(nil), s.header...)
}

// Record returns one record of p (the header first if it was not
// returned yet); final makes it the session's last.
func (s *Session) Record(p []byte, final bool) []byte {
	out := s.Start()
	rh := make([]byte, console.RecHeaderLen)
	binary.BigEndian.PutUint64(rh, s.seq)
	if final {
		rh[8] = console.FlagFinal
	}
	binary.BigEndian.PutUint32(rh[9:], uint32(len(p)))
	nonce := make([]byte, 12)
	binary.BigEndian.PutUint64(nonce[4:], s.seq)
	s.seq++
	out = append(out, rh...)
	return s.gcm.Seal(out, nonce, p, rh)
}

// Whole returns a complete session: header, one record per string, final.
func Whole(key console.Key, stream console.Stream, o Origin, records ...string) ([]byte, error) {
	s, err := Open(key, stream, o)
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, r := range records {
		out = append(out, s.Record([]byte(r), false)...)
	}
	return append(out, s.Record(nil, true)...), nil
}
