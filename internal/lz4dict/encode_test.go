package lz4dict

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/pierrec/lz4/v4"
)

func textBlock(r *rand.Rand, n int) []byte {
	words := []string{"enclave", "shield", "runtime", "syscall", "chunk", "image", "layer", " ", "\n", "the", "of", "protected"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

func randBlock(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// roundTrip encodes src and checks that pierrec's decoder restores it.
func roundTrip(t *testing.T, e *Encoder, dict, src []byte) int {
	t.Helper()
	dst := make([]byte, CompressBound(len(src)))
	n := e.Encode(dst, src)
	if len(src) == 0 {
		if n != 0 {
			t.Fatalf("empty input encoded to %d bytes", n)
		}
		return 0
	}
	if n <= 0 || n > len(dst) {
		t.Fatalf("Encode(%d bytes) = %d", len(src), n)
	}
	out := make([]byte, len(src))
	got, err := lz4.UncompressBlockWithDict(dst[:n], out, dict)
	if err != nil {
		t.Fatalf("decode %d-byte block of %d: %v", n, len(src), err)
	}
	if got != len(src) || !bytes.Equal(out, src) {
		t.Fatalf("round trip of %d bytes: decoded %d bytes, equal=%v", len(src), got, bytes.Equal(out[:got], src))
	}
	return n
}

func TestEncodeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	text := textBlock(r, 64<<10)
	dicts := map[string][]byte{
		"none":     nil,
		"tiny":     []byte("ab"),
		"text":     text,
		"random":   randBlock(r, 32<<10),
		"oversize": append(randBlock(r, 10), textBlock(r, 70<<10)...),
	}
	srcs := map[string][]byte{
		"empty":      nil,
		"one":        {7},
		"12":         []byte("abcabcabcabc"),
		"13":         []byte("abcabcabcabca"),
		"zeros-4k":   make([]byte, 4096),
		"text-4k":    textBlock(r, 4096),
		"dictcopy":   append([]byte(nil), text[1000:5096]...),
		"random-4k":  randBlock(r, 4096),
		"mixed-64k":  append(textBlock(r, 30000), randBlock(r, 35536)...),
		"long-run":   bytes.Repeat([]byte{'x'}, 300000),
		"text-1m":    textBlock(r, MaxBlockSize),
		"periodic-3": bytes.Repeat([]byte("xyz"), 1000),
	}
	for dn, dict := range dicts {
		d := NewDict(dict)
		for _, level := range []int{LevelFast, LevelHC} {
			e, err := NewEncoder(d, level)
			if err != nil {
				t.Fatal(err)
			}
			for sn, src := range srcs {
				t.Run(fmt.Sprintf("%s/%d/%s", dn, level, sn), func(t *testing.T) {
					roundTrip(t, e, d.Bytes(), src)
				})
			}
		}
	}
}

func TestDictionaryHelps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	dict := randBlock(r, 64<<10)
	src := append([]byte(nil), dict[20000:24096]...)
	for _, level := range []int{LevelFast, LevelHC} {
		plain, _ := NewEncoder(nil, level)
		d := NewDict(dict)
		withDict, _ := NewEncoder(d, level)
		a := roundTrip(t, plain, nil, src)
		b := roundTrip(t, withDict, d.Bytes(), src)
		// A chunk copied from the dictionary is one long match.
		if b > 40 || b >= a {
			t.Errorf("level %d: %d bytes with the dictionary, %d without", level, b, a)
		}
	}
}

func TestHCBeatsFast(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var fastTotal, hcTotal int
	fast, _ := NewEncoder(nil, LevelFast)
	hc, _ := NewEncoder(nil, LevelHC)
	for range 50 {
		src := textBlock(r, 4096)
		fastTotal += roundTrip(t, fast, nil, src)
		hcTotal += roundTrip(t, hc, nil, src)
	}
	if hcTotal >= fastTotal {
		t.Errorf("hc %d bytes, fast %d: deeper search found nothing", hcTotal, fastTotal)
	}
}

// TestDeterministic: a block encodes to the same bytes whatever the
// encoder compressed before (its tables are never cleared between blocks).
func TestDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	d := NewDict(textBlock(r, 16<<10))
	blocks := [][]byte{textBlock(r, 4096), randBlock(r, 4096), textBlock(r, 100), textBlock(r, 70000), textBlock(r, 4096)}
	for _, level := range []int{LevelFast, LevelHC} {
		used, _ := NewEncoder(d, level)
		for i, b := range blocks {
			fresh, _ := NewEncoder(d, level)
			want := make([]byte, CompressBound(len(b)))
			want = want[:fresh.Encode(want, b)]
			got := make([]byte, CompressBound(len(b)))
			got = got[:used.Encode(got, b)]
			if !bytes.Equal(got, want) {
				t.Errorf("level %d block %d: output depends on earlier blocks", level, i)
			}
		}
	}
}

func TestGenerationWrap(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	e, _ := NewEncoder(nil, LevelHC)
	e.gen = 1<<31 - 1 - 5000
	for range 3 {
		roundTrip(t, e, nil, textBlock(r, 4096))
	}
	if e.gen > 20000 {
		t.Errorf("generation %d was not reset near overflow", e.gen)
	}
}

func TestEncodeRefuses(t *testing.T) {
	e, _ := NewEncoder(nil, LevelFast)
	if n := e.Encode(make([]byte, 10), make([]byte, 100)); n != 0 {
		t.Errorf("short dst: %d", n)
	}
	big := make([]byte, MaxBlockSize+1)
	if n := e.Encode(make([]byte, CompressBound(len(big))), big); n != 0 {
		t.Errorf("oversize block: %d", n)
	}
	if _, err := NewEncoder(nil, 9); !errors.Is(err, ErrLevel) {
		t.Errorf("level 9: %v", err)
	}
}

func FuzzEncode(f *testing.F) {
	f.Add([]byte("hello hello hello hello"), []byte("hello"), true)
	f.Add(make([]byte, 100), []byte{}, false)
	f.Fuzz(func(t *testing.T, src, dict []byte, hc bool) {
		if len(src) > 1<<16 {
			src = src[:1<<16]
		}
		level := LevelFast
		if hc {
			level = LevelHC
		}
		d := NewDict(dict)
		e, err := NewEncoder(d, level)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, e, d.Bytes(), src)
	})
}

// benchInput is ~4 MiB of this machine's executables (what converted
// images are made of), or text when they cannot be read.
func benchInput(b *testing.B) []byte {
	var in []byte
	for _, p := range []string{"/usr/bin/bash", "/usr/bin/perl", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/tar", "/usr/bin/gpg"} {
		if d, err := os.ReadFile(p); err == nil {
			in = append(in, d...)
		}
	}
	if len(in) < 1<<20 {
		in = textBlock(rand.New(rand.NewPCG(1, 1)), 4<<20)
	}
	return in[:min(len(in), 4<<20)]
}

// BenchmarkEncode compresses 4 KiB chunks (the protected FS's) without and
// with a 64 KiB dictionary taken from the input, per level; pierrec/lz4's
// fast compressor is the baseline. stored/in is reported.
func BenchmarkEncode(b *testing.B) {
	in := benchInput(b)
	dict := NewDict(in[len(in)/2 : len(in)/2+MaxDictSize])
	out := make([]byte, CompressBound(4096))
	run := func(b *testing.B, enc func(dst, src []byte) int) {
		b.SetBytes(int64(len(in)))
		stored := 0
		for b.Loop() {
			stored = 0
			for i := 0; i < len(in); i += 4096 {
				src := in[i:min(i+4096, len(in))]
				n := enc(out, src)
				if n <= 0 || n >= len(src) {
					n = len(src)
				}
				stored += n
			}
		}
		b.ReportMetric(float64(stored)/float64(len(in)), "stored/in")
	}
	b.Run("pierrec-fast", func(b *testing.B) {
		var c lz4.Compressor
		run(b, func(dst, src []byte) int { n, _ := c.CompressBlock(src, dst); return n })
	})
	for _, d := range []struct {
		name string
		d    *Dict
	}{{"nodict", nil}, {"dict", dict}} {
		for _, l := range []struct {
			name  string
			level int
		}{{"fast", LevelFast}, {"hc", LevelHC}} {
			b.Run(d.name+"-"+l.name, func(b *testing.B) {
				e, _ := NewEncoder(d.d, l.level)
				run(b, e.Encode)
			})
		}
	}
}
