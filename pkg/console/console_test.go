package console

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/fskey"
	"github.com/scone-build/scone-build/pkg/fsprotect"
)

// The vectors are written by the C writer: see testdata/console/README.md.
const vectorDir = "../../testdata/console"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fsKey is the FS key of the vectors (testdata/console/key.hex).
func fsKey(t testing.TB) fskey.Key {
	t.Helper()
	f, err := fskey.Parse(fixture(t, "key.hex"))
	if err != nil {
		t.Fatal(err)
	}
	return f.Key
}

func fixtureKey(t testing.TB) Key {
	t.Helper()
	k, err := DeriveKey(fsKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// outcomes of vectors.txt and the errors they stand for.
var outcomes = map[string]error{
	"ok": nil, "tampered": ErrTampered, "reordered": ErrReordered, "truncated": ErrTruncated, "format": ErrFormat,
	"version": ErrVersion, "spliced": ErrSpliced, "stream": ErrWrongStream, "enclave": ErrWrongEnclave,
}

// TestVectors runs every line of testdata/console/vectors.txt (written by
// runtime/tests/test_console.c) against the Go decoder and key derivation.
func TestVectors(t *testing.T) {
	sc := bufio.NewScanner(bytes.NewReader(fixture(t, "vectors.txt")))
	fs := fsKey(t)
	key := fixtureKey(t)
	logs := map[string]*Log{}
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		n++
		switch {
		case f[0] == "fskey" && len(f) == 2:
			if got := hex.EncodeToString(fs[:]); got != f[1] {
				t.Errorf("key.hex is %s, vectors.txt says %s", got, f[1])
			}
		case f[0] == "consolekey" && len(f) == 2:
			if got := hex.EncodeToString(key[:]); got != f[1] {
				t.Errorf("DeriveKey = %s, the C writer derived %s", got, f[1])
			}
		case f[0] == "decode" && len(f) == 6:
			t.Run(strings.Join(f[1:5], " "), func(t *testing.T) {
				stream, err := ParseStream(f[2])
				if err != nil {
					t.Fatal(err)
				}
				var opts []Option
				if f[3] != "-" {
					mr, err := hex.DecodeString(f[3])
					if err != nil || len(mr) != 32 {
						t.Fatalf("bad MRENCLAVE %q", f[3])
					}
					opts = append(opts, WithMRENCLAVE([32]byte(mr)))
				}
				want, ok := outcomes[f[4]]
				if !ok {
					t.Fatalf("unknown outcome %q", f[4])
				}
				var out bytes.Buffer
				log, err := Decrypt(&out, bytes.NewReader(fixture(t, f[1])), key, stream, opts...)
				if want == nil && err != nil || want != nil && !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
				var se *StreamError
				if err != nil && !errors.As(err, &se) {
					t.Fatalf("err %T is not a *StreamError", err)
				}
				var plain []byte
				if f[5] != "-" {
					plain = fixture(t, f[5])
				}
				if !bytes.Equal(out.Bytes(), plain) {
					t.Fatalf("plaintext written: %q, want %q", out.String(), plain)
				}
				if want == nil {
					logs[f[1]] = log
				}
			})
		case f[0] == "tree" && len(f) >= 2:
			log := logs[f[1]]
			if log == nil {
				t.Errorf("tree %s: no decoded log before this line", f[1])
				continue
			}
			if len(log.Sessions) != len(f)-2 {
				t.Errorf("tree %s: %d sessions, want %d", f[1], len(log.Sessions), len(f)-2)
				continue
			}
			for i, p := range f[2:] {
				want := -1
				if p != "-" {
					want, _ = strconv.Atoi(p)
				}
				if s := log.Sessions[i]; s.ParentIndex != want || (i == 0) != s.Root() || !s.Final || s.Run != log.Run {
					t.Errorf("tree %s: session %d = %+v, want parent %d", f[1], i, s, want)
				}
			}
		default:
			t.Errorf("vectors.txt: bad line %q", line)
		}
	}
	if n < 10 {
		t.Fatalf("only %d vectors", n)
	}
}

// TestSplicingAttacks: the attacks of security finding 7, with sessions the
// C writer made under the same key. Each used to decode with exit 0; each
// must fail before a byte of the spliced session is written.
func TestSplicingAttacks(t *testing.T) {
	key := fixtureKey(t)
	a := [32]byte(bytes.Repeat([]byte{0xaa}, 32))
	for _, tt := range []struct {
		name, file string
		stream     Stream
		opts       []Option
		want       error
	}{
		{"result=GRANTED session of another image appended to a result=DENIED log", "splice-other-image.bin", Stdout, nil, ErrWrongEnclave},
		{"same, the expected MRENCLAVE given", "splice-other-image.bin", Stdout, []Option{WithMRENCLAVE(a)}, ErrWrongEnclave},
		{"another image's session claiming this run, inside the log", "splice-other-image-child.bin", Stdout, nil, ErrWrongEnclave},
		{"session of another run of the same image appended", "splice-other-run.bin", Stdout, []Option{WithMRENCLAVE(a)}, ErrSpliced},
		{"child session of another run of the same image inside the log", "splice-other-run-child.bin", Stdout, nil, ErrSpliced},
		{"stderr of the same run appended to the stdout log", "stream-swap.bin", Stdout, nil, ErrWrongStream},
		{"stderr of another image appended to the stdout log", "stream-swap-other-image.bin", Stdout, nil, ErrWrongStream},
		{"stderr log passed off as stdout", "stderr.bin", Stdout, nil, ErrWrongStream},
		{"stdout log passed off as stderr", "stdout.bin", Stderr, nil, ErrWrongStream},
		{"a child's complete session replayed", "replayed-session.bin", Stdout, nil, ErrSpliced},
		{"one child's session passed off as the whole log", "child-first.bin", Stdout, nil, ErrTruncated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := Decrypt(&out, bytes.NewReader(fixture(t, tt.file)), key, tt.stream, tt.opts...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if strings.Contains(out.String(), "GRANTED") || strings.Contains(out.String(), "access denied") {
				t.Fatalf("spliced plaintext was written: %q", out.String())
			}
		})
	}
}

// TestConsoleKeyCannotOpenFS: the console key decrypts the logs, but it is
// not the FS key: it does not open a protected FS image made with that key
// (testdata/fsprotect/ok.img uses the same FS key as the console vectors),
// and the FS key itself does not decrypt the logs.
func TestConsoleKeyCannotOpenFS(t *testing.T) {
	fs := fsKey(t)
	ck := fixtureKey(t)
	if ck == Key(fs) {
		t.Fatal("the console key is the FS key")
	}
	img, err := os.ReadFile("../../testdata/fsprotect/ok.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fsprotect.Open(bytes.NewReader(img), int64(len(img)), fs); err != nil {
		t.Fatalf("the FS key does not open its image: %v", err)
	}
	if _, err := fsprotect.Open(bytes.NewReader(img), int64(len(img)), fsprotect.Key(ck)); !errors.Is(err, fsprotect.ErrWrongKey) {
		t.Fatalf("fsprotect.Open with the console key: err = %v, want ErrWrongKey", err)
	}
	if _, err := Decrypt(&bytes.Buffer{}, bytes.NewReader(fixture(t, "denied.bin")), ck, Stdout); err != nil {
		t.Fatalf("the console key does not decrypt: %v", err)
	}
	if _, err := Decrypt(&bytes.Buffer{}, bytes.NewReader(fixture(t, "denied.bin")), Key(fs), Stdout); !errors.Is(err, ErrTampered) {
		t.Fatalf("the FS key used as console key: err = %v, want ErrTampered", err)
	}
}

// layout splits a vector into its headers and records (trusting lengths):
// the offsets of every record, and of every header.
func layout(t testing.TB, b []byte) (recs, hdrs []int) {
	t.Helper()
	for off := 0; off+4 <= len(b); {
		if string(b[off:off+4]) == Magic {
			hdrs = append(hdrs, off)
			off += HeaderLen
			continue
		}
		if off+RecHeaderLen > len(b) {
			break
		}
		recs = append(recs, off)
		off += RecHeaderLen + int(binary.BigEndian.Uint32(b[off+9:])) + TagLen
	}
	return recs, hdrs
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

func TestDecryptRejects(t *testing.T) {
	key := fixtureKey(t)
	good := fixture(t, "denied.bin") // root header | record 0 "result=DENIED\n" | final
	recs, _ := layout(t, good)
	r0, r1 := recs[0], recs[1]
	std := fixture(t, "stdout.bin")
	srecs, shdrs := layout(t, std)
	wrongKey := key
	wrongKey[31] ^= 1
	tests := []struct {
		name string
		in   []byte
		key  Key
		want error
	}{
		{"empty", nil, key, ErrTruncated},
		{"bad magic", cat([]byte("XXXX"), good[4:]), key, ErrFormat},
		{"version 3", cat(good[:4], []byte{3}, good[5:]), key, ErrVersion},
		{"version 1 header", fixture(t, "v1.bin"), key, ErrVersion},
		{"bad stream id", cat(good[:5], []byte{9}, good[6:]), key, ErrTampered},
		{"wrong key", good, wrongKey, ErrTampered},
		{"flipped MRENCLAVE", flip(good, 9), key, ErrTampered},
		{"flipped run nonce", flip(good, 41), key, ErrTampered},
		{"flipped fork counter", flip(good, 95), key, ErrTampered},
		{"flipped header MAC", flip(good, 100), key, ErrTampered},
		{"flipped ciphertext", flip(good, r0+RecHeaderLen+1), key, ErrTampered},
		{"flipped tag", flip(good, r1-1), key, ErrTampered},
		{"flipped seq", flip(good, r0+7), key, ErrTampered},
		{"records swapped", cat(good[:r0], good[r1:], good[r0:r1]), key, ErrReordered},
		{"record dropped", cat(good[:r0], good[r1:]), key, ErrReordered},
		{"record duplicated", cat(good[:r1], good[r0:]), key, ErrReordered},
		{"no final record", good[:r1], key, ErrTruncated},
		{"header only", good[:HeaderLen], key, ErrTruncated},
		{"cut inside record", good[:r0+5], key, ErrTruncated},
		{"cut inside header", good[:10], key, ErrTruncated},
		{"garbage after the log", cat(good, []byte("this is plain text, not console records\n")), key, ErrFormat},
		{"oversized record", cat(good[:r0+9], []byte{0xff, 0xff, 0xff, 0xff}, good[r0+13:]), key, ErrFormat},
		{"unknown flag", cat(good[:r0+8], []byte{0x80}, good[r0+9:]), key, ErrFormat},
		{"the log twice", cat(good, good), key, ErrSpliced},
		{"root header twice", cat(good[:HeaderLen], good), key, ErrSpliced},
		// stdout.bin: root, child 1 (interleaved), grandchild, child of a silent child
		{"child's header removed", cat(std[:shdrs[1]], std[shdrs[1]+HeaderLen:]), key, ErrTampered},
		{"root's records swapped around a child", cat(std[:srecs[0]], std[srecs[2]:shdrs[2]], std[shdrs[1]:srecs[2]], std[srecs[0]:shdrs[1]], std[shdrs[2]:]), key, ErrReordered},
		{"root record replayed while the root is open", cat(std[:shdrs[2]], std[srecs[0]:shdrs[1]], std[shdrs[2]:]), key, ErrReordered},
		{"child record replayed after the child's final", cat(std[:shdrs[3]], std[shdrs[1]+HeaderLen:srecs[2]], std[shdrs[3]:]), key, ErrTampered},
		{"root record replayed after the log's end", cat(std, std[srecs[0]:shdrs[1]]), key, ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decrypt(&bytes.Buffer{}, bytes.NewReader(tt.in), tt.key, Stdout)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var se *StreamError
			if !errors.As(err, &se) {
				t.Fatalf("err %T is not a *StreamError", err)
			}
		})
	}
	if _, err := Decrypt(&bytes.Buffer{}, bytes.NewReader(good), key, 3); err == nil {
		t.Fatal("stream 3 accepted as the expected stream")
	}
}

// A version 1 error says why such logs are refused.
func TestVersion1Refused(t *testing.T) {
	_, err := Decrypt(&bytes.Buffer{}, bytes.NewReader(fixture(t, "v1.bin")), fixtureKey(t), Stdout)
	if !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "version 1") || !strings.Contains(err.Error(), "spliced") {
		t.Fatalf("err = %v", err)
	}
}

// Every truncation of a valid log is reported, except at its end.
func TestDecryptEveryTruncation(t *testing.T) {
	key := fixtureKey(t)
	for _, name := range []string{"stdout.bin", "denied.bin"} {
		good := fixture(t, name)
		for cut := 0; cut < len(good); cut++ {
			_, err := Decrypt(&bytes.Buffer{}, bytes.NewReader(good[:cut]), key, Stdout)
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("%s cut at %d: err = %v, want ErrTruncated", name, cut, err)
			}
		}
	}
}

// Every single-bit modification is detected.
func TestDecryptEveryFlip(t *testing.T) {
	key := fixtureKey(t)
	good := fixture(t, "stdout.bin")
	for i := range good {
		for _, bit := range []byte{0x01, 0x80} {
			c := bytes.Clone(good)
			c[i] ^= bit
			if _, err := Decrypt(&bytes.Buffer{}, bytes.NewReader(c), key, Stdout); err == nil {
				t.Fatalf("flip %#x at %d not detected", bit, i)
			}
		}
	}
}

// Interleaving: sessions of processes may end in any order; the tree of
// stdout.bin is root <- child 1 <- grandchild, and a grandchild whose
// parent wrote nothing.
func TestDecryptInterleavings(t *testing.T) {
	key := fixtureKey(t)
	std := fixture(t, "stdout.bin")
	recs, hdrs := layout(t, std)
	log, err := Decrypt(&bytes.Buffer{}, bytes.NewReader(std), key, Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if len(log.Sessions) != 4 || log.Sessions[1].ParentIndex != 0 || log.Sessions[2].ParentIndex != 1 || log.Sessions[3].ParentIndex != -1 {
		t.Fatalf("sessions %+v", log.Sessions)
	}
	if log.Sessions[1].ForkCounter != 1 || log.Sessions[3].ForkCounter != 1 || log.Sessions[3].Parent == log.Run {
		t.Fatalf("fork positions %+v", log.Sessions)
	}
	// The root's final record before the children's sessions end (a child
	// outliving its parent) still decodes.
	last := recs[len(recs)-1]
	earlyFinal := cat(std[:hdrs[2]], std[last:], std[hdrs[2]:last])
	var out bytes.Buffer
	if _, err := Decrypt(&out, bytes.NewReader(earlyFinal), key, Stdout); err != nil {
		t.Fatalf("children ending after the root: %v", err)
	}
	if out.String() != string(fixture(t, "stdout.txt")) {
		t.Fatalf("plaintext %q", out.String())
	}
}

// FuzzDecrypt: any input decodes without panicking, every error is a
// *StreamError, and only the vectors' authentic sessions are ever accepted.
func FuzzDecrypt(f *testing.F) {
	key := fixtureKey(f)
	names, _ := filepath.Glob(filepath.Join(vectorDir, "*.bin"))
	genuine := map[string]bool{}
	for _, p := range names {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(1))
		f.Add(b[:len(b)/2], uint8(2))
		_, hdrs := layout(f, b)
		for _, h := range hdrs {
			if h+HeaderLen <= len(b) && b[h+4] == Version {
				genuine[string(b[h:h+HeaderLen])] = true
			}
		}
	}
	f.Add([]byte("SCNC\x02\x01\x00\x00"), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, stream uint8) {
		var out bytes.Buffer
		log, err := Decrypt(&out, bytes.NewReader(in), key, Stream(stream%2+1))
		if err != nil {
			var se *StreamError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *StreamError", err)
			}
		}
		if log == nil {
			t.Fatal("no log returned")
		}
		// Forging a header without the key is infeasible: every session
		// the decoder accepted is one the C writer made.
		for _, s := range log.Sessions {
			h := in[s.Offset : s.Offset+HeaderLen]
			if !genuine[string(h)] {
				t.Fatalf("accepted a forged session header at %d", s.Offset)
			}
		}
	})
}
