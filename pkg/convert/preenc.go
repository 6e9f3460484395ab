package convert

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/scone-build/scone-build/pkg/fsprotect"
)

// preEncryptor encrypts file contents into an fsprotect.ContentCache while
// the layers are still being decompressed: a chunk's ciphertext depends only
// on the key, the image salt (from the layer digests, known before
// flattening), the file's path and its content, so the packer can use it
// whatever the final tree turns out to be (a file removed by a later layer
// is simply not used). Decompressing a layer is single-threaded; the
// workers use the other cores. Flatten's hook only offers the content to a
// bounded queue and never waits: what the workers cannot take is encrypted
// by the packer later, in parallel as always.
//
// Memory: the cache holds the ciphertext of every file it encrypted (about
// the uncompressed image size, files deleted by later layers included) until
// the FS image is packed; release frees it.
//
// With an image dictionary (WithFSDictionary) chunks are compressed
// against it, so nothing can be encrypted before it exists. It is trained
// from the image's largest layer (by compressed size, known before
// reading; the first of equals): every n-th 4 KiB chunk of its files, in
// the layer's order, until the layer ends or 4 MiB are sampled, with n
// chosen from the layer's compressed size (dictStrideFor). That is
// deterministic and known early: while the rest is read the workers
// already encrypt, and what was offered before waits in a list (the
// contents are the tree's: only references are kept).
type preEncryptor struct {
	o      *options
	fsOpts []fsprotect.Option
	queue  chan offered
	wg     sync.WaitGroup
	once   sync.Once
	procs  int
	// workers is the number of workers while layers are read (procs-1:
	// one core decompresses); close adds the rest.
	workers int
	// active counts the layers being decompressed. While they keep every
	// core busy, encrypting ahead only competes with them (and costs the
	// cache's memory traffic): the workers then leave contents to the packer.
	active atomic.Int32

	// ready is closed once cache (and dict) are set: at once without a
	// dictionary, after training with one. err: the cache could not be
	// made (the packer then encrypts everything and reports it).
	ready chan struct{}
	cache *fsprotect.ContentCache
	dict  []byte
	err   error

	// The dictionary phase (dictLayer >= 0), under mu: samples of
	// dictLayer, contents offered before ready, and whether training
	// started.
	dictLayer int
	stride    int // dictStrideFor the layer
	mu        sync.Mutex
	samples   [][]byte
	sampled   int
	chunks    int
	pending   []offered
	training  bool
}

// Dictionary sampling from the largest layer (see preEncryptor).
const (
	dictMaxStride = 8
	dictBudget    = 4 << 20
	dictPiece     = 4 << 10
	// dictExpansion estimates a layer's uncompressed size from its
	// compressed one (gzip on the real images: 2.3-3x).
	dictExpansion = 3
)

// dictStrideFor is the sampling stride for a layer of compressed size n:
// the power of two, at most dictMaxStride, with which the layer's
// estimated contents fill the budget. A large layer is sampled sparsely
// over its first 32 MiB, so that the dictionary exists early: nginx's
// largest layer (51 MB compressed) at stride 8 and 4 MiB stored 0.13%
// more than at stride 4 and 8 MiB, in half the training time
// (docs/benchmarks.md). A small one is sampled densely: busybox's 1 MB
// layer at stride 8 gave too few samples to train from.
func dictStrideFor(n int64) int {
	s := 1
	for s < dictMaxStride && n*dictExpansion > int64(s)*dictBudget {
		s *= 2
	}
	return s
}

// preEncryptMin is the smallest file worth encrypting ahead. Measured with
// 20,000 files of 64 bytes: packing them cost 45 ms without the cache and
// 39.5 ms with it, and filling the cache 10.6 ms on an otherwise idle core;
// the hook's channel send costs ~0.1 us per file. Even tiny files win a
// little, so every non-empty file is offered.
const preEncryptMin = 1

// offered is a file's content offered by Flatten's observer, with its path.
type offered struct {
	name    string
	content []byte
}

// newPreEncryptor starts the workers; fsOpts must name the salt source
// (the FS image's, known before flattening). dictLayer is the layer to
// train the image dictionary from, or -1 for none; dictSize its compressed
// size.
func newPreEncryptor(o *options, fsOpts []fsprotect.Option, dictLayer int, dictSize int64) (*preEncryptor, error) {
	p := &preEncryptor{o: o, fsOpts: fsOpts, queue: make(chan offered, 4096), procs: runtime.GOMAXPROCS(0),
		ready: make(chan struct{}), dictLayer: dictLayer, stride: dictStrideFor(dictSize)}
	if dictLayer < 0 {
		if err := p.makeCache(nil); err != nil {
			return nil, err
		}
	}
	p.workers = max(1, p.procs-1)
	for range p.workers {
		p.wg.Add(1)
		go p.work()
	}
	return p, nil
}

// makeCache creates the cache for dict and releases the workers.
func (p *preEncryptor) makeCache(dict []byte) error {
	defer close(p.ready)
	opts := append(append([]fsprotect.Option{}, p.fsOpts...), fsprotect.WithDictionary(dict))
	c, err := fsprotect.NewContentCache(*p.o.fsKey, opts...)
	if err != nil {
		p.err = fmt.Errorf("preparing content encryption: %w", err)
		return p.err
	}
	p.cache, p.dict = c, dict
	return nil
}

func (p *preEncryptor) work() {
	defer p.wg.Done()
	<-p.ready
	encrypt := func(f offered) {
		if p.cache == nil || int(p.active.Load()) >= p.procs {
			return
		}
		// An error (a path the packer refuses) leaves the content to the
		// packer, which reports it.
		_ = p.cache.Encrypt(f.name, f.content)
	}
	for {
		p.mu.Lock()
		if len(p.pending) == 0 {
			p.pending = nil
			p.mu.Unlock()
			break
		}
		f := p.pending[len(p.pending)-1]
		p.pending = p.pending[:len(p.pending)-1]
		p.mu.Unlock()
		encrypt(f)
	}
	for f := range p.queue {
		encrypt(f)
	}
}

// layerTracker returns a Flatten progress function that keeps p.active up
// to date from the compressed bytes read per layer (sizes: compressed sizes).
func (p *preEncryptor) layerTracker(sizes []int64) func(layer int, n int64) {
	var mu sync.Mutex
	state := make([]byte, len(sizes)) // 0 not started, 1 reading, 2 read
	return func(layer int, n int64) {
		if layer < 0 || layer >= len(sizes) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if state[layer] == 0 {
			state[layer] = 1
			p.active.Add(1)
		}
		if state[layer] == 1 && n >= sizes[layer] && sizes[layer] > 0 {
			state[layer] = 2
			p.active.Add(-1)
		}
	}
}

// File is Flatten's file observer: it queues content without waiting
// (before the dictionary exists: in the pending list) and samples the
// dictionary layer.
func (p *preEncryptor) File(layer int, name string, b []byte) {
	if len(b) < preEncryptMin {
		return
	}
	if p.dictLayer >= 0 {
		p.mu.Lock()
		if !p.training {
			if layer == p.dictLayer {
				p.sample(b)
			}
			p.pending = append(p.pending, offered{name, b})
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	select {
	case p.queue <- offered{name, b}:
	default:
	}
}

// sample takes every stride-th 4 KiB piece of the dictionary layer;
// at the budget the dictionary is trained. Called with mu held.
func (p *preEncryptor) sample(b []byte) {
	for off := 0; off < len(b) && !p.training; off += dictPiece {
		if p.chunks%p.stride == 0 {
			s := b[off:min(off+dictPiece, len(b))]
			p.samples = append(p.samples, s)
			p.sampled += len(s)
			if p.sampled >= dictBudget {
				p.train()
			}
		}
		p.chunks++
	}
}

// LayerDone trains the dictionary at the end of its layer.
func (p *preEncryptor) LayerDone(layer int) {
	if layer != p.dictLayer {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.training {
		p.train()
	}
}

// train trains the dictionary from the samples in the background; called
// with mu held, once.
func (p *preEncryptor) train() {
	p.training = true
	samples := p.samples
	p.samples = nil
	go func() {
		d, err := fsprotect.TrainDictionaryFromSamples(samples)
		if err != nil {
			p.err = err
			close(p.ready)
			return
		}
		_ = p.makeCache(d) // an error is kept in p.err
	}()
}

// dictionary returns the dictionary the cache compresses against (nil for
// none), once it is known; with an error the image cannot get one that
// matches the cache.
func (p *preEncryptor) dictionary() ([]byte, error) {
	p.close()
	<-p.ready
	return p.dict, p.err
}

// close ends the queue; the workers finish what is in it. A dictionary
// layer that was never completed (a failed read) is trained from what
// was sampled, so that no worker waits forever.
func (p *preEncryptor) close() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		if p.dictLayer >= 0 {
			p.mu.Lock()
			if !p.training {
				p.train()
			}
			p.mu.Unlock()
		}
		close(p.queue)
		// The layers are read: the cores that decompressed them join
		// the workers on what is queued. The tree's rewrite and
		// analysis run meanwhile, and the packer waits for the queue:
		// with one worker, a core went idle once the analysis ended.
		for range p.procs - p.workers {
			p.wg.Add(1)
			go p.work()
		}
	})
}

// wait returns the cache once the workers are done (nil without one).
func (p *preEncryptor) wait() *fsprotect.ContentCache {
	if p == nil {
		return nil
	}
	p.close()
	p.wg.Wait()
	return p.cache
}

// release frees the cache.
func (p *preEncryptor) release() {
	if p != nil {
		p.close()
		p.wg.Wait()
		if p.cache != nil {
			p.cache.Reset()
		}
	}
}

// progressFlatten adapts per-layer byte counts to Progress events. Flatten
// calls it from several goroutines.
func progressFlatten(o *options, done map[int]int64, total int64) func(int, int64) {
	var mu sync.Mutex
	var last int64
	return func(layer int, n int64) {
		mu.Lock()
		defer mu.Unlock()
		done[layer] = n
		var sum int64
		for _, v := range done {
			sum += v
		}
		if sum-last >= 4<<20 || sum == total {
			last = sum
			o.progress(Progress{Stage: "flatten", Done: sum, Total: total})
		}
	}
}
