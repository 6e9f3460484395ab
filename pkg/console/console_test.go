package console

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Fixtures written by the C writer: see testdata/console/README.md.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "console", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureKey(t testing.TB) [32]byte {
	t.Helper()
	var k [32]byte
	b, err := hex.DecodeString(strings.TrimSpace(string(fixture(t, "key.hex"))))
	if err != nil || len(b) != 32 {
		t.Fatalf("bad fixture key: %v", err)
	}
	copy(k[:], b)
	return k
}

// records splits a stream into session headers and records (offsets), trusting lengths.
func records(t testing.TB, b []byte) (starts []int) {
	t.Helper()
	off := 0
	for off < len(b) {
		off += HeaderLen
		for {
			n := int(binary.BigEndian.Uint32(b[off+9:]))
			final := b[off+8]&FlagFinal != 0
			starts = append(starts, off)
			off += RecHeaderLen + n + TagLen
			if final {
				break
			}
		}
	}
	return starts
}

func TestDecryptFixtures(t *testing.T) {
	key := fixtureKey(t)
	for _, name := range []string{"stdout", "stderr"} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			sess, err := DecryptSessions(&out, bytes.NewReader(fixture(t, name+".bin")), key)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), fixture(t, name+".txt")) {
				t.Fatalf("plaintext mismatch: got %d bytes", out.Len())
			}
			want := byte(StreamStdout)
			if name == "stderr" {
				want = StreamStderr
			}
			if len(sess) == 0 || sess[0].Stream != want {
				t.Fatalf("sessions = %+v", sess)
			}
		})
	}
}

func TestDecryptRejects(t *testing.T) {
	key := fixtureKey(t)
	good := fixture(t, "stdout.bin")
	recs := records(t, good) // session 0: rec 0 "hello", rec 1 "second", rec 2 final; session 1: ...
	r0, r1, r2 := recs[0], recs[1], recs[2]
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	wrongKey := key
	wrongKey[31] ^= 1
	tests := []struct {
		name string
		in   []byte
		key  [32]byte
		want error
	}{
		{"empty", nil, key, ErrTruncated},
		{"bad magic", cat([]byte("XXXX"), good[4:]), key, ErrFormat},
		{"bad version", cat(good[:4], []byte{2}, good[5:]), key, ErrVersion},
		{"bad stream id", cat(good[:5], []byte{9}, good[6:]), key, ErrFormat},
		{"wrong key", good, wrongKey, ErrTampered},
		{"flipped ciphertext", flip(good, r0+RecHeaderLen+1), key, ErrTampered},
		{"flipped tag", flip(good, r1-1), key, ErrTampered},
		{"flipped seq", flip(good, r0+7), key, ErrTampered},
		{"flipped nonce", flip(good, 10), key, ErrTampered},
		{"swapped records", cat(good[:r0], good[r1:r2], good[r0:r1], good[r2:]), key, ErrReordered},
		{"dropped record", cat(good[:r0], good[r1:]), key, ErrReordered},
		{"duplicated record", cat(good[:r1], good[r0:]), key, ErrReordered},
		{"no final record", good[:r2], key, ErrTruncated},
		{"cut inside record", good[:r1+5], key, ErrTruncated},
		{"cut inside header", good[:10], key, ErrTruncated},
		{"garbage after session", cat(good[:recs[3]-HeaderLen], []byte("this is plain text, not console records\n")), key, ErrFormat},
		{"oversized record", cat(good[:r0+9], []byte{0xff, 0xff, 0xff, 0xff}, good[r0+13:]), key, ErrFormat},
		{"unknown flag", cat(good[:r0+8], []byte{0x80}, good[r0+9:]), key, ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Decrypt(&out, bytes.NewReader(tt.in), tt.key)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var se *StreamError
			if !errors.As(err, &se) {
				t.Fatalf("err %T is not a *StreamError", err)
			}
		})
	}
}

// Every truncation of a valid stream is reported, except at session ends.
func TestDecryptEveryTruncation(t *testing.T) {
	key := fixtureKey(t)
	good := fixture(t, "stdout.bin")
	recs := records(t, good)
	ends := map[int]bool{}
	for i, r := range recs {
		n := int(binary.BigEndian.Uint32(good[r+9:]))
		if good[r+8]&FlagFinal != 0 {
			ends[r+RecHeaderLen+n+TagLen] = true
		}
		_ = i
	}
	for cut := 0; cut < len(good); cut++ {
		err := Decrypt(&bytes.Buffer{}, bytes.NewReader(good[:cut]), key)
		if ends[cut] {
			if err != nil {
				t.Fatalf("cut at session end %d: %v", cut, err)
			}
			continue
		}
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d: err = %v, want ErrTruncated", cut, err)
		}
	}
}

// Every single-bit modification is detected.
func TestDecryptEveryFlip(t *testing.T) {
	key := fixtureKey(t)
	good := fixture(t, "stdout.bin")
	for i := range good {
		if err := Decrypt(&bytes.Buffer{}, bytes.NewReader(flip(good, i)), key); err == nil {
			t.Fatalf("flip at %d not detected", i)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

func FuzzDecrypt(f *testing.F) {
	key := fixtureKey(f)
	good := fixture(f, "stdout.bin")
	f.Add(good)
	f.Add(good[:40])
	f.Add([]byte("SCNC\x01\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		err := Decrypt(&out, bytes.NewReader(in), key)
		if err == nil && !bytes.HasPrefix(in, good[:HeaderLen]) && len(in) > 0 {
			// Forging a valid stream without the key is infeasible; any
			// accepted input must be (a prefix-aligned copy of) the fixture
			// or contain its authentic records.
			if !bytes.Contains(good, in[:HeaderLen]) {
				t.Fatalf("accepted a forged stream")
			}
		}
		if err != nil {
			var se *StreamError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *StreamError", err)
			}
		}
	})
}

// TestDecryptInterleavedSessions: a forked child's session interleaved with
// its parent's at record boundaries decodes in stream order; order inside a
// session is still enforced.
func TestDecryptInterleavedSessions(t *testing.T) {
	key := fixtureKey(t)
	good := fixture(t, "stdout.bin")
	recs := records(t, good)
	s1 := recs[3] - HeaderLen // second session's header
	r0, r1, r2 := recs[0], recs[1], recs[2]
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	var seq0, seq1 bytes.Buffer
	if err := Decrypt(&seq0, bytes.NewReader(good[:s1]), key); err != nil {
		t.Fatal(err)
	}
	if err := Decrypt(&seq1, bytes.NewReader(good[s1:]), key); err != nil {
		t.Fatal(err)
	}
	// parent header + record 0, the whole child session, parent's rest.
	mixed := cat(good[:r1], good[s1:], good[r1:s1])
	var out bytes.Buffer
	ss, err := DecryptSessions(&out, bytes.NewReader(mixed), key)
	if err != nil || len(ss) != 2 {
		t.Fatalf("interleaved: %v (%d sessions)", err, len(ss))
	}
	first := make([]byte, 0)
	{
		var b bytes.Buffer
		Decrypt(&b, bytes.NewReader(cat(good[:r1], good[r2:s1])), key) // record 0 only (then reordered error)
		first = b.Bytes()
	}
	if want := string(first) + seq1.String() + strings.TrimPrefix(seq0.String(), string(first)); out.String() != want {
		t.Fatalf("plaintext %q, want %q", out.String(), want)
	}
	// the child's header and first record between parent records, child ends last
	c0 := recs[3]
	mixed2 := cat(good[:r1], good[s1:c0], good[r1:s1], good[c0:])
	out.Reset()
	if err := Decrypt(&out, bytes.NewReader(mixed2), key); err != nil {
		t.Fatalf("interleaved (child last): %v", err)
	}
	for _, tt := range []struct {
		name string
		in   []byte
		want error
	}{
		{"parent record replayed after its final", cat(good[:s1], good[s1:c0], good[r0:r1], good[c0:]), ErrTampered},
		{"parent records swapped around the child", cat(good[:r0], good[r1:r2], good[s1:], good[r0:r1], good[r2:s1]), ErrReordered},
		{"child without final", cat(good[:r1], good[s1:len(good)-RecHeaderLen-TagLen], good[r1:s1]), ErrTruncated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := Decrypt(&bytes.Buffer{}, bytes.NewReader(tt.in), key); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
