package fsprotect

import (
	"archive/tar"
	"context"
	"fmt"

	"github.com/scone-build/scone-build/internal/lz4dict"
)

// Dictionary training budget: the samples are chunks of the contents,
// evenly spaced, up to dictSampleBytes in all. Measured on the real images
// (docs/benchmarks.md): 8 MiB of samples give the dictionary all of what
// the whole tree would, in a fraction of the time.
const (
	dictSampleBytes = 8 << 20
	dictSampleChunk = 4 << 10
)

// TrainDictionary returns an LZ4 dictionary (at most MaxDictionarySize
// bytes) for the regular files of src, for WithDictionary: the segments
// of their contents whose substrings recur most (lz4dict.Train), from 4
// KiB samples evenly spaced over the contents in entry order. It is
// deterministic, and returns nil when the tree holds too little content to
// train from (an image without a dictionary is then as good).
func TrainDictionary(ctx context.Context, src EntrySource) ([]byte, error) {
	var contents [][]byte
	var total int64
	err := src.Entries(func(e *TreeEntry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.Type == tar.TypeReg && len(e.Content) > 0 {
			contents = append(contents, e.Content)
			total += int64(len(e.Content))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("train dictionary: %w", err)
	}
	return TrainDictionaryFromSamples(dictSamples(contents, total))
}

// TrainDictionaryFromSamples returns an LZ4 dictionary (at most
// MaxDictionarySize bytes) trained from samples, pieces of the contents
// to compress (4 KiB each works best: what a chunk holds), or nil when
// they are too few. The same samples in the same order give the same
// dictionary.
func TrainDictionaryFromSamples(samples [][]byte) ([]byte, error) {
	d, err := lz4dict.Train(samples, MaxDictionarySize)
	if err != nil {
		return nil, fmt.Errorf("train dictionary: %w", err)
	}
	return d, nil
}

// dictSamples cuts every content into 4 KiB chunks (as the image stores
// them) and keeps every stride-th chunk of the whole sequence, so that the
// samples come to about dictSampleBytes.
func dictSamples(contents [][]byte, total int64) [][]byte {
	stride := max(int64(1), total/dictSampleBytes)
	var samples [][]byte
	var k int64
	for _, c := range contents {
		for off := 0; off < len(c); off += dictSampleChunk {
			if k%stride == 0 {
				samples = append(samples, c[off:min(off+dictSampleChunk, len(c))])
			}
			k++
		}
	}
	return samples
}
