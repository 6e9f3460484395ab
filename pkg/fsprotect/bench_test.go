package fsprotect

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

const benchFileSize = 8 << 20 // per file; 4 files

func benchTar(b *testing.B) []byte {
	var ents []tentry
	for i := range 4 {
		ents = append(ents, tentry{name: "f" + itoa(i), typ: tar.TypeReg, mode: 0o644, body: pseudoRandom(uint64(i), benchFileSize)})
	}
	return makeTar(b, ents)
}

// benchTextTar is benchTar with compressible contents: words of a small
// vocabulary (LZ4 stores them in ~0.4 of their size at 4 KiB chunks).
func benchTextTar(b *testing.B) []byte {
	words := []string{"enclave", "shield", "chunk", "nonce", "salt", "root", "header", "index", "tweak", "codec", "block", "the", "of", "a"}
	var ents []tentry
	for i := range 4 {
		r := rand.New(rand.NewPCG(uint64(i), 7))
		body := make([]byte, 0, benchFileSize+16)
		for len(body) < benchFileSize {
			body = append(append(body, words[r.IntN(len(words))]...), ' ')
		}
		ents = append(ents, tentry{name: "f" + itoa(i), typ: tar.TypeReg, mode: 0o644, body: body[:benchFileSize]})
	}
	return makeTar(b, ents)
}

// rawGCMSHA runs, on one core, what Pack must do at least once per byte:
// AES-256-GCM and SHA-256, over data. GCM runs over 64 KiB pieces (per-call
// overhead negligible), so the baseline is conservative for small chunks.
func rawGCMSHA(data []byte) {
	const piece = 64 << 10
	aead, _ := newGCM(make([]byte, 32))
	out := make([]byte, piece+tagSize)
	nonce := make([]byte, nonceSize)
	h := sha256.New()
	for off := 0; off < len(data); off += piece {
		c := data[off:min(off+piece, len(data))]
		h.Write(c)
		aead.Seal(out[:0], nonce, c, nil)
	}
	h.Sum(nil)
}

// BenchmarkPack reports pack throughput (MB/s, 32 MiB of file content in 4
// files) and its ratio to raw single-core AES-256-GCM + SHA-256 over the
// same bytes. Each iteration times both, back to back, so that load from
// other processes hits both alike. "-v1" writes format version 1 (no
// tweak), for comparison; "-lz4" compresses chunks, of random contents
// (every chunk fails to shrink: the cost of trying) and of text ("-text").
func BenchmarkPack(b *testing.B) {
	random, text := benchTar(b), benchTextTar(b)
	salt, lz4 := WithSaltSource([]byte("bench")), WithCompression(CompressionLZ4)
	for _, c := range []struct {
		name string
		cs   int
		opts []Option
		text bool
	}{
		{"chunk4KiB", 4 << 10, []Option{salt}, false},
		{"chunk16KiB", 16 << 10, []Option{salt}, false},
		{"chunk64KiB", 64 << 10, []Option{salt}, false},
		{"chunk4KiB-v1", 4 << 10, []Option{withVersion(1)}, false},
		{"chunk4KiB-lz4", 4 << 10, []Option{salt, lz4}, false},
		{"chunk4KiB-text", 4 << 10, []Option{salt}, true},
		{"chunk4KiB-lz4-text", 4 << 10, []Option{salt, lz4}, true},
	} {
		cs := c.cs
		data := random
		if c.text {
			data = text
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var base, pack, baseCPU, packCPU time.Duration
			for b.Loop() {
				t0, c0 := time.Now(), cpuTime()
				rawGCMSHA(data)
				t1, c1 := time.Now(), cpuTime()
				if _, err := Pack(context.Background(), io.Discard, bytes.NewReader(data), testKey, append(c.opts, WithChunkSize(cs))...); err != nil {
					b.Fatal(err)
				}
				base, pack = base+t1.Sub(t0), pack+time.Since(t1)
				baseCPU, packCPU = baseCPU+c1-c0, packCPU+cpuTime()-c1
			}
			n := float64(len(data)) * float64(b.N)
			b.ReportMetric(n/base.Seconds()/1e6, "raw-gcm+sha-MB/s")
			b.ReportMetric(n/pack.Seconds()/1e6, "pack-MB/s")
			b.ReportMetric(base.Seconds()/pack.Seconds(), "ratio")
			// CPU seconds per byte: how much work Pack does per byte
			// compared with the raw baseline (independent of how many
			// cores other processes leave us).
			b.ReportMetric(baseCPU.Seconds()/packCPU.Seconds(), "cpu-efficiency")
		})
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchImage(b *testing.B, cs int, opts ...Option) (*Reader, uint32) {
	data := benchTar(b)
	if len(opts) > 0 { // compressed: text, so that chunks do compress
		data = benchTextTar(b)
	}
	img, _ := packBytes(b, data, testKey, append(opts, WithChunkSize(cs))...)
	rd := openBytes(b, img, testKey)
	return rd, mustIno(b, rd, "f0")
}

// BenchmarkSequentialRead reads a whole 8 MiB file with 1 MiB reads (whole
// chunks are decrypted by all cores) and with 32 KiB reads (io.Copy's
// buffer size: one core).
func BenchmarkSequentialRead(b *testing.B) {
	for _, rs := range []int{1 << 20, 32 << 10} {
		for _, cs := range []int{4 << 10, 16 << 10, 32 << 10, 64 << 10, 256 << 10} {
			b.Run("read"+itoa(rs>>10)+"KiB/chunk"+itoa(cs>>10)+"KiB", func(b *testing.B) {
				rd, _ := benchImage(b, cs)
				buf := make([]byte, rs)
				b.SetBytes(benchFileSize)
				for b.Loop() {
					f, _ := rd.Open("f0")
					for {
						if _, err := f.Read(buf); err != nil {
							break
						}
					}
					f.Close()
				}
			})
		}
	}
}

// BenchmarkCompressedRead reads text packed with and without LZ4 (4 KiB
// chunks), and with LZ4 against a dictionary trained on it (codec 2, which
// the Go reader decodes with pierrec/lz4's dictionary path):
// sequentially with 1 MiB and 32 KiB reads, and 4 KiB at random.
func BenchmarkCompressedRead(b *testing.B) {
	ents, err := readTarEntries(context.Background(), bytes.NewReader(benchTextTar(b)))
	if err != nil {
		b.Fatal(err)
	}
	dict, err := TrainDictionary(context.Background(), ents)
	if err != nil || len(dict) == 0 {
		b.Fatalf("train dictionary: %d bytes, %v", len(dict), err)
	}
	for _, v := range []struct {
		name string
		opts []Option
	}{
		{"none", []Option{WithCompression(CompressionNone)}},
		{"lz4", []Option{WithCompression(CompressionLZ4)}},
		{"lz4-dict", []Option{WithCompression(CompressionLZ4), WithDictionary(dict)}},
	} {
		rd, ino := benchImage(b, 4<<10, v.opts...)
		if want := map[string]int{"lz4-dict": len(dict)}[v.name]; rd.DictionarySize() != want {
			b.Fatalf("%s: a %d-byte dictionary, want %d", v.name, rd.DictionarySize(), want)
		}
		for _, rs := range []int{1 << 20, 32 << 10} {
			b.Run(v.name+"/seq"+itoa(rs>>10)+"KiB", func(b *testing.B) {
				buf := make([]byte, rs)
				b.SetBytes(benchFileSize)
				for b.Loop() {
					for off := int64(0); off < benchFileSize; off += int64(rs) {
						if _, err := rd.readAt(ino, buf, off); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
		b.Run(v.name+"/random4KiB", func(b *testing.B) {
			buf := make([]byte, 4096)
			r := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				if _, err := rd.readAt(ino, buf, int64(r.IntN(benchFileSize/4096))*4096); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRandomRead4K reads 4 KiB at random 4 KiB-aligned offsets.
func BenchmarkRandomRead4K(b *testing.B) {
	for _, cs := range []int{4 << 10, 16 << 10, 32 << 10, 64 << 10, 256 << 10} {
		b.Run(itoa(cs>>10)+"KiB", func(b *testing.B) {
			rd, ino := benchImage(b, cs)
			buf := make([]byte, 4096)
			r := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				off := int64(r.IntN(benchFileSize/4096)) * 4096
				if _, err := rd.readAt(ino, buf, off); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTreeSaltSource reports what deriving the salt source from a tree
// in memory costs (the converter does it for directories, the BuildKit
// frontend's input): a SHA-256 of every content on all cores, as a
// throughput and as a fraction of the time PackTree then takes on the same
// tree (both timed back to back in each iteration).
func BenchmarkTreeSaltSource(b *testing.B) {
	var src sliceEntries
	for i := range 4 {
		src = append(src, TreeEntry{Path: "f" + itoa(i), Type: tar.TypeReg, Mode: 0o644, Content: pseudoRandom(uint64(i), benchFileSize)})
	}
	b.SetBytes(4 * benchFileSize)
	var salt, pack time.Duration
	for b.Loop() {
		t0 := time.Now()
		ss, err := TreeSaltSource(context.Background(), src)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := PackTree(context.Background(), io.Discard, src, testKey, WithSaltSource(ss)); err != nil {
			b.Fatal(err)
		}
		salt, pack = salt+t1.Sub(t0), pack+time.Since(t1)
	}
	b.ReportMetric(salt.Seconds()/pack.Seconds(), "salt/pack")
}
