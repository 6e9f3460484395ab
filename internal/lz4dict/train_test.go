package lz4dict

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
)

// trainTestVocab returns n random lowercase words of 4 to 24 letters.
func trainTestVocab(rng *rand.Rand, n int) [][]byte {
	words := make([][]byte, n)
	for i := range words {
		w := make([]byte, 4+rng.IntN(21))
		for j := range w {
			w[j] = 'a' + byte(rng.IntN(26))
		}
		words[i] = w
	}
	return words
}

// trainTestCorpus returns n samples of size bytes that look like text: words
// from vocab drawn with a Zipf distribution, so that some are common to
// most samples and most are rare, plus one word in ten of random noise that
// no other sample shares.
func trainTestCorpus(seed uint64, vocab [][]byte, n, size int) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(vocab)-1))
	samples := make([][]byte, n)
	for i := range samples {
		var b []byte
		for len(b) < size {
			if rng.IntN(10) == 0 {
				for range 4 + rng.IntN(12) {
					b = append(b, byte(rng.Uint32()))
				}
			} else {
				b = append(b, vocab[zipf.Uint64()]...)
			}
			b = append(b, ' ')
		}
		samples[i] = b[:size]
	}
	return samples
}

// trainTestSamples is a corpus big enough to train any dictionary size.
func trainTestSamples(seed uint64, n int) [][]byte {
	vocab := trainTestVocab(rand.New(rand.NewPCG(7, 7)), 5000)
	return trainTestCorpus(seed, vocab, n, 4096)
}

// trainTestZeros returns n samples of size zero bytes.
func trainTestZeros(n, size int) [][]byte {
	samples := make([][]byte, n)
	for i := range samples {
		samples[i] = make([]byte, size)
	}
	return samples
}

func TestTrainDeterministic(t *testing.T) {
	corpus := trainTestSamples(1, 128)
	reversed := make([][]byte, len(corpus))
	for i, s := range corpus {
		reversed[len(corpus)-1-i] = s
	}
	tests := []struct {
		name    string
		samples [][]byte
		size    int
	}{
		{"text", corpus, 16 << 10},
		{"text reversed", reversed, 16 << 10},
		{"text small dictionary", corpus, 256},
		{"zeros", trainTestZeros(16, 4096), 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, err := Train(tt.samples, tt.size)
			if err != nil {
				t.Fatal(err)
			}
			// Copies of the samples, so that equal output cannot come from
			// sharing memory with the first run.
			copies := make([][]byte, len(tt.samples))
			for i, s := range tt.samples {
				copies[i] = bytes.Clone(s)
			}
			second, err := Train(copies, tt.size)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, second) {
				t.Errorf("two runs differ: %d and %d bytes", len(first), len(second))
			}
		})
	}
}

func TestTrainSizeBound(t *testing.T) {
	samples := trainTestSamples(2, 256)
	for _, size := range []int{256, 257, 1000, 4096, 10000, 32 << 10, 64 << 10} {
		t.Run("", func(t *testing.T) {
			dict, err := Train(samples, size)
			if err != nil {
				t.Fatal(err)
			}
			// The samples hold far more distinct content than any of these
			// sizes, so the dictionary should be full, or nearly so.
			if len(dict) > size || len(dict) < size*9/10 {
				t.Errorf("size %d: got %d bytes", size, len(dict))
			}
		})
	}
}

func TestTrainTooLittle(t *testing.T) {
	short := make([][]byte, 1000)
	for i := range short {
		short[i] = []byte("1234567")
	}
	tests := []struct {
		name    string
		samples [][]byte
		size    int
	}{
		{"nil", nil, 1024},
		{"no samples", [][]byte{}, 1024},
		{"empty samples", make([][]byte, 1<<20), 1024},
		{"samples shorter than a d-mer", short, 256},
		{"seven samples", trainTestSamples(3, 7), 1024},
		{"less than four times size", trainTestSamples(3, 63), 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dict, err := Train(tt.samples, tt.size)
			if err != nil || dict != nil {
				t.Errorf("got %d bytes, %v; want nil, nil", len(dict), err)
			}
		})
	}
}

func TestTrainSizeOutOfRange(t *testing.T) {
	samples := trainTestSamples(4, 64)
	for _, size := range []int{-1, 0, 255, 64<<10 + 1, 1 << 40} {
		t.Run("", func(t *testing.T) {
			dict, err := Train(samples, size)
			if err == nil || dict != nil {
				t.Fatalf("size %d: got %d bytes, %v; want an error", size, len(dict), err)
			}
			if !strings.HasPrefix(err.Error(), "train dictionary: ") {
				t.Errorf("size %d: error %q lacks the prefix", size, err)
			}
		})
	}
}

func TestTrainCommonSubstrings(t *testing.T) {
	common := []string{
		"the quick brown fox jumps over the lazy dog",
		"/usr/lib/x86_64-linux-gnu/libc.so.6",
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`,
	}
	rng := rand.New(rand.NewPCG(5, 5))
	samples := make([][]byte, 64)
	for i := range samples {
		// Random noise with each common string at a random place.
		var b []byte
		for _, c := range rng.Perm(len(common)) {
			for range 20 + rng.IntN(100) {
				b = append(b, byte(rng.Uint32()))
			}
			b = append(b, common[c]...)
		}
		samples[i] = b
	}
	dict, err := Train(samples, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range common {
		t.Run(c[:10], func(t *testing.T) {
			if !bytes.Contains(dict, []byte(c)) {
				t.Errorf("dictionary lacks %q", c)
			}
		})
	}
}

// trainTestCoverage returns the fraction of the 8-byte strings of samples
// that occur in dict: the share of the data an LZ4 match into the
// dictionary could cover, roughly.
func trainTestCoverage(dict []byte, samples [][]byte) float64 {
	in := make(map[uint64]bool)
	for p := 0; p+8 <= len(dict); p++ {
		in[binary.LittleEndian.Uint64(dict[p:])] = true
	}
	found, all := 0, 0
	for _, s := range samples {
		for p := 0; p+8 <= len(s); p++ {
			all++
			if in[binary.LittleEndian.Uint64(s[p:])] {
				found++
			}
		}
	}
	return float64(found) / float64(all)
}

// trainTestSnippets returns n samples of 4 KiB that look like chunks of
// binaries: half random bytes no other sample shares, half snippets of 32
// to 256 bytes from a common set of 2000 (about 290 KB), drawn with a
// popularity that falls off slowly, so that which snippets a dictionary
// holds matters at every size.
func trainTestSnippets(seed uint64, n int) [][]byte {
	snippets := make([][]byte, 2000)
	srng := rand.New(rand.NewPCG(10, 10))
	for i := range snippets {
		snippets[i] = make([]byte, 32+srng.IntN(225))
		for j := range snippets[i] {
			snippets[i][j] = byte(srng.Uint32())
		}
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	zipf := rand.NewZipf(rng, 1.1, 20, uint64(len(snippets)-1))
	samples := make([][]byte, n)
	for i := range samples {
		var b []byte
		for len(b) < 4096 {
			if rng.IntN(2) == 0 {
				b = append(b, snippets[zipf.Uint64()]...)
				continue
			}
			for range 32 + rng.IntN(225) {
				b = append(b, byte(rng.Uint32()))
			}
		}
		samples[i] = b[:4096]
	}
	return samples
}

// TestTrainCoverage checks that training finds the content that recurs:
// on samples it has not seen, far more 8-byte strings occur in the trained
// dictionary than in one of the same size cut from the samples' start
// (when written: 3.3, 2.6 and 1.7 times as many at 4, 16 and 64 KiB).
func TestTrainCoverage(t *testing.T) {
	train := trainTestSnippets(1, 256)
	heldOut := trainTestSnippets(2, 64)
	for _, size := range []int{4 << 10, 16 << 10, 64 << 10} {
		t.Run("", func(t *testing.T) {
			dict, err := Train(train, size)
			if err != nil {
				t.Fatal(err)
			}
			naive := bytes.Join(train, nil)[:size]
			got, base := trainTestCoverage(dict, heldOut), trainTestCoverage(naive, heldOut)
			t.Logf("size %d: trained %.3f, first bytes %.3f", size, got, base)
			if got < 1.5*base {
				t.Errorf("size %d: trained dictionary covers %.3f of held-out 8-byte strings, the samples' first bytes %.3f", size, got, base)
			}
		})
	}
}

func TestTrainSubset(t *testing.T) {
	samples := make([][]byte, 100)
	for i := range samples {
		samples[i] = []byte{byte(i), 0, 0, 0, 0, 0, 0, 0, 0, 0}
	}
	tests := []struct {
		name  string
		limit int
		want  []byte // first byte of each sample kept
	}{
		{"everything fits", 1000, nil},
		{"half", 500, []byte{0, 2, 4, 6}},
		{"a third", 334, []byte{0, 3, 6, 9}},
		{"two thirds", 667, []byte{0, 2, 3, 5, 6, 8}},
		{"one", 10, []byte{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := trainSubset(samples, tt.limit)
			if tt.want == nil {
				if len(got) != len(samples) {
					t.Fatalf("got %d samples, want all %d", len(got), len(samples))
				}
				return
			}
			total := 0
			for _, s := range got {
				total += len(s)
			}
			// Evenly spaced at a fractional stride, the selection fills the
			// limit to within a sample or two.
			if total > tt.limit || total < tt.limit-20 {
				t.Errorf("kept %d bytes, limit %d", total, tt.limit)
			}
			for i, w := range tt.want {
				if got[i][0] != w {
					t.Errorf("sample %d is input %d, want %d", i, got[i][0], w)
				}
			}
		})
	}
}

// TestTrainLargeInput checks that more than trainMaxBytes of samples is cut
// down rather than refused, and still gives a full dictionary.
func TestTrainLargeInput(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on 20 MiB")
	}
	base := trainTestSamples(8, 64)
	samples := make([][]byte, 20<<20/4096)
	for i := range samples {
		samples[i] = base[i%len(base)]
	}
	dict, err := Train(samples, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dict) > 64<<10 || len(dict) == 0 {
		t.Errorf("got %d bytes", len(dict))
	}
}

// trainFuzzSamples cuts data into parts+1 pieces and repeats the set of
// pieces repeat+1 times, each copy of a piece followed by its copy number,
// so that small inputs still reach enough samples and bytes to train from,
// with content that recurs across samples but not all of it alike.
func trainFuzzSamples(data []byte, parts, repeat uint8) [][]byte {
	n := int(parts) + 1
	var samples [][]byte
	for c := range int(repeat) + 1 {
		for i := range n {
			piece := data[i*len(data)/n : (i+1)*len(data)/n]
			samples = append(samples, append(bytes.Clone(piece), byte(c), byte(c>>8)))
		}
	}
	return samples
}

func FuzzTrain(f *testing.F) {
	// Seeds are small because the fuzzer minimizes each new interesting
	// input byte by byte; repeat makes them large enough to train from.
	f.Add([]byte("hello, world"), uint8(0), uint8(0), 256)
	f.Add([]byte("abcdefghijklmnopabcdefghijklmnop"), uint8(1), uint8(255), 1024)
	f.Add(trainTestSamples(9, 1)[0][:64], uint8(3), uint8(200), 4096)
	f.Add(make([]byte, 64), uint8(200), uint8(63), 300)
	f.Add([]byte("x"), uint8(1), uint8(1), -5)
	f.Fuzz(func(t *testing.T, data []byte, parts, repeat uint8, size int) {
		dict, err := Train(trainFuzzSamples(data, parts, repeat), size)
		if size < trainMinSize || size > trainMaxSize {
			if err == nil {
				t.Fatalf("size %d: no error", size)
			}
			return
		}
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if len(dict) > size {
			t.Fatalf("size %d: got %d bytes", size, len(dict))
		}
	})
}

// BenchmarkTrain trains a 64 KiB dictionary from benchInput cut into 4 KiB
// samples (what convert samples from an image's largest layer), and
// reports what the chunks stored with it over the input.
func BenchmarkTrain(b *testing.B) {
	in := benchInput(b)
	var samples [][]byte
	for i := 0; i < len(in); i += 4096 {
		samples = append(samples, in[i:min(i+4096, len(in))])
	}
	b.SetBytes(int64(len(in)))
	var dict []byte
	for b.Loop() {
		var err error
		if dict, err = Train(samples, MaxDictSize); err != nil {
			b.Fatal(err)
		}
	}
	e, err := NewEncoder(NewDict(dict), LevelFast)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]byte, CompressBound(4096))
	stored := 0
	for _, s := range samples {
		n := e.Encode(out, s)
		if n <= 0 || n >= len(s) {
			n = len(s)
		}
		stored += n
	}
	b.ReportMetric(float64(stored)/float64(len(in)), "stored/in")
}
