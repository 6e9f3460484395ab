package fsprotect

import (
	"archive/tar"
	"context"
	"fmt"

	"github.com/scone-build/scone-build/internal/lz4dict"
)

// Dictionary training budget: the samples are 4 KiB pieces of the contents
// (as the image stores them), evenly spaced, up to dictSampleBytes in all.
// On the real images 4 MiB of samples give the dictionary what the whole
// tree would, in a fraction of the time: 8 MiB stored 0.13% less of
// nginx, python3 and debian and took twice as long to train (0.3 s of
// nginx's conversion, on its critical path: docs/benchmarks.md).
const (
	dictSampleBytes = 4 << 20
	dictSampleChunk = 4 << 10
)

// TrainDictionary returns an LZ4 dictionary (at most MaxDictionarySize
// bytes) for the regular files of src, for WithDictionary: the segments
// of their contents whose substrings recur most (lz4dict.Train), from 4
// KiB samples evenly spaced over the contents in entry order. It is
// deterministic, and returns nil when the tree holds too little content to
// train from (an image without a dictionary is then as good).
func TrainDictionary(ctx context.Context, src EntrySource) ([]byte, error) {
	var s dictSampler
	err := src.Entries(func(e *TreeEntry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.Type == tar.TypeReg {
			for off := 0; off < len(e.Content); off += dictSampleChunk {
				s.add(e.Content[off:min(off+dictSampleChunk, len(e.Content))])
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("train dictionary: %w", err)
	}
	return TrainDictionaryFromSamples(s.samples())
}

// TrainDictionaryFromSamples returns an LZ4 dictionary (at most
// MaxDictionarySize bytes) trained from samples, pieces of the contents
// to compress (4 KiB each works best: what a chunk holds), or nil when
// they are too few. The same samples in the same order give the same
// dictionary.
func TrainDictionaryFromSamples(samples [][]byte) ([]byte, error) {
	// lz4dict's only error, a size out of range, names what it was
	// doing already ("train dictionary: ...").
	return lz4dict.Train(samples, MaxDictionarySize)
}

// dictSampler keeps every stride-th piece it is given, in one pass over
// contents of unknown total size: when the kept pieces exceed
// dictSampleBytes the stride doubles and every other kept piece is
// dropped. What it keeps depends only on the sequence of pieces.
type dictSampler struct {
	stride int // 0 means 1
	n      int // pieces seen
	kept   []sampledPiece
	bytes  int
}

type sampledPiece struct {
	i int
	b []byte
}

// wants says whether the next piece would be kept (streams copy only
// those).
func (s *dictSampler) wants() bool { return s.n%max(s.stride, 1) == 0 }

// add offers the next piece; a kept piece is referenced, not copied.
func (s *dictSampler) add(b []byte) {
	if s.wants() {
		s.kept = append(s.kept, sampledPiece{s.n, b})
		s.bytes += len(b)
		for s.bytes > dictSampleBytes {
			s.stride = 2 * max(s.stride, 1)
			kept := s.kept[:0]
			s.bytes = 0
			for _, p := range s.kept {
				if p.i%s.stride == 0 {
					kept = append(kept, p)
					s.bytes += len(p.b)
				}
			}
			clear(s.kept[len(kept):])
			s.kept = kept
		}
	}
	s.n++
}

func (s *dictSampler) samples() [][]byte {
	out := make([][]byte, len(s.kept))
	for i, p := range s.kept {
		out[i] = p.b
	}
	return out
}

// sampleWriter offers the content written to it (one file) to s in 4
// KiB pieces, copying the pieces s keeps; flush ends the file.
type sampleWriter struct {
	s   *dictSampler
	buf []byte
}

func (w *sampleWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(dictSampleChunk-len(w.buf), len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == dictSampleChunk {
			w.flush()
		}
	}
	return n, nil
}

func (w *sampleWriter) flush() {
	if len(w.buf) == 0 {
		return
	}
	if w.s.wants() {
		w.s.add(append([]byte(nil), w.buf...))
	} else {
		w.s.add(nil)
	}
	w.buf = w.buf[:0]
}

// withTrained sets the dictionary trained for WithTrainedDictionary.
func withTrained(d []byte) Option {
	return func(o *options) { o.dict, o.trainDict = d, false }
}
