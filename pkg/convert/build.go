package convert

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fsprotect"
	"github.com/scone-build/scone-build/pkg/link"
	"github.com/scone-build/scone-build/pkg/rootfs"
	"github.com/scone-build/scone-build/pkg/sconeimage"
	"github.com/scone-build/scone-build/pkg/version"
)

// Result is what Build produces.
type Result struct {
	// Image is the converted image: write it with Image.Image() (an OCI
	// image) or Image.WriteDir.
	Image *sconeimage.Contents
	// Enclave is the measured config (Image.ConfigBin encodes it) and
	// SigStruct the parsed SIGSTRUCT (Image.SigStruct).
	Enclave   *enclave.Config
	SigStruct *enclave.SigStruct
	Report    *Report
}

// OCIImage returns the converted image as an OCI image (Image.Image) and
// records its manifest digest in the report.
func (r *Result) OCIImage() (v1.Image, error) {
	img, err := r.Image.Image()
	if err != nil {
		return nil, err
	}
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("computing output digest: %w", err)
	}
	r.Report.Digest = d.String()
	return img, nil
}

// Build converts src: it flattens the source, packs its file system into a
// protected FS image while it analyses the entrypoint, builds the measured
// config, measures and signs the enclave, and makes the output image
// config. Nothing is written anywhere: the caller publishes Result.Image.
func Build(ctx context.Context, src *Source, opts ...Option) (*Result, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	cfg := src.ConfigFile().Config
	entry := link.Entry{Argv: append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...), Env: withDefaultPath(cfg.Env), WorkingDir: cfg.WorkingDir}
	if len(entry.Argv) == 0 || entry.Argv[0] == "" {
		return nil, ErrNoEntrypoint
	}
	rep := &Report{Version: version.String(), Source: src.Name(), SourceDigest: src.Digest(), Argv: entry.Argv, Timings: map[string]float64{}}

	// The runtime base layer depends only on the runtime binaries: it is
	// built while the source is read.
	var base v1.Layer
	var baseErr error
	baseDone := make(chan struct{})
	go func() {
		defer close(baseDone)
		if o.runtimeLayer != nil {
			base = o.runtimeLayer
			return
		}
		base, baseErr = sconeimage.RuntimeLayer(o.runtimeRun, o.runtimeHst)
	}()
	defer func() { <-baseDone }()

	fsOpts, err := fsOptions(src, o)
	if err != nil {
		return nil, err
	}
	tree, pre, err := flatten(ctx, src, o, fsOpts, rep)
	defer pre.release()
	if err != nil {
		return nil, err
	}
	rep.Notes = tree.Notes()
	if !o.noRewrite {
		if err := rewriteTree(ctx, tree, rep); err != nil {
			return nil, err
		}
	}

	// The protected FS image does not depend on the analysis: both run at
	// once (the analysis is single-threaded, packing pre-encrypted
	// contents mostly too).
	pack := startPack(ctx, tree, o, fsOpts, pre, !hasSalt(o, src))
	ar, uid, gid, err := analyse(ctx, tree, entry, src.ConfigFile().Config.User, o, rep)
	if err != nil {
		pack.cancel()
		pack.wait(rep)
		return nil, err
	}
	fsImage, sum, err := pack.wait(rep)
	if err != nil {
		return nil, fmt.Errorf("building protected FS image: %w", err)
	}
	rep.FSRoot = hex.EncodeToString(sum.Root[:])
	rep.Files, rep.Dirs, rep.Symlinks = sum.Files, sum.Dirs, sum.Symlinks
	rep.BytesIn, rep.FSImageBytes, rep.fsCached = sum.BytesIn, sum.BytesOut, sum.BytesCached
	rep.FSCompression = sum.Compression.String()
	rep.FSDictionary = sum.Dictionary
	rep.Skipped = sum.Skipped

	ec, err := enclaveConfig(entry, ar, uid, gid, sum.Root, o)
	if err != nil {
		return nil, err
	}
	if err := checkTLSFiles(tree, ec); err != nil {
		return nil, err
	}
	if o.cas != nil {
		rep.CAS = &CASReport{Address: o.cas.addr, ID: hex.EncodeToString(o.cas.id[:]), Policy: o.cas.policy}
	}
	id, err := identity(ctx, ec, o, rep)
	if err != nil {
		return nil, err
	}
	<-baseDone
	if baseErr != nil {
		return nil, baseErr
	}
	return &Result{
		Image: &sconeimage.Contents{
			Run:          o.runtimeRun,
			Host:         o.runtimeHst,
			FSImage:      fsImage,
			ConfigBin:    id.configBin,
			SigStruct:    id.sigStruct,
			Config:       imageConfig(src.ConfigFile(), ec, rep, *o.date),
			SourceName:   src.Name(),
			RuntimeLayer: base,
		},
		Enclave:   ec,
		SigStruct: id.parsed,
		Report:    rep,
	}, nil
}

// fsOptions are the options of the protected FS image: the compression, the
// chunk size, and
// the salt source when it is known before the tree (given, or an image's
// layers); without one, startPack derives it from the tree.
func fsOptions(src *Source, o *options) ([]fsprotect.Option, error) {
	opts := []fsprotect.Option{fsprotect.WithCompression(o.fsComp)}
	if o.fsChunk != 0 {
		opts = append(opts, fsprotect.WithChunkSize(o.fsChunk))
	}
	salt, ok := o.fsSalt, o.fsSaltSet
	if !ok && !o.fsTreeSalt {
		var err error
		if salt, ok, err = src.saltSource(); err != nil {
			return nil, err
		}
	}
	if ok {
		opts = append(opts, fsprotect.WithSaltSource(salt))
	}
	return opts, nil
}

// hasSalt says whether fsOptions named the salt source.
func hasSalt(o *options, src *Source) bool {
	return o.fsSaltSet || (!o.fsTreeSalt && src.image != nil)
}

// flatten reads the source's file system. For an image whose salt is known
// (its layers), the contents are encrypted ahead (preEncryptor) while the
// layers are decompressed.
func flatten(ctx context.Context, src *Source, o *options, fsOpts []fsprotect.Option, rep *Report) (*rootfs.Tree, *preEncryptor, error) {
	t0 := time.Now()
	defer func() { rep.Timings["flatten"] = time.Since(t0).Seconds() }()
	total, sizes := src.layerSizes()
	if src.image == nil || !hasSalt(o, src) {
		t, err := src.flatten(ctx, nil, progressFlatten(o, map[int]int64{}, total))
		return t, nil, err
	}
	dictLayer, dictSize := -1, int64(0)
	if o.wantDict() {
		dictLayer = largest(sizes)
		if dictLayer < len(sizes) {
			dictSize = sizes[dictLayer]
		}
	}
	pre, err := newPreEncryptor(o, fsOpts, dictLayer, dictSize)
	if err != nil {
		return nil, nil, err
	}
	progress := progressFlatten(o, map[int]int64{}, total)
	track := pre.layerTracker(sizes)
	tree, err := src.flatten(ctx, pre, func(layer int, n int64) {
		track(layer, n)
		progress(layer, n)
	})
	pre.close() // the workers finish their queue while the tree is analysed
	return tree, pre, err
}

// largest is the index of the largest of sizes (the first of equals).
func largest(sizes []int64) int {
	best := 0
	for i, n := range sizes {
		if n > sizes[best] {
			best = i
		}
	}
	return best
}

// packJob packs the protected FS image in the background.
type packJob struct {
	cancel context.CancelFunc
	done   chan struct{}
	parts  [][]byte
	sum    *fsprotect.Summary
	err    error
	secs   float64
	// dictSecs is the part of secs spent training the dictionary.
	dictSecs float64
}

// startPack packs the FS image in the background; treeSalt: the salt
// source is not known yet and comes from the tree.
func startPack(ctx context.Context, tree *rootfs.Tree, o *options, fsOpts []fsprotect.Option, pre *preEncryptor, treeSalt bool) *packJob {
	ctx, cancel := context.WithCancel(ctx)
	j := &packJob{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(j.done)
		t0 := time.Now()
		defer func() { j.secs = time.Since(t0).Seconds() }()
		fsOpts := append([]fsprotect.Option{}, fsOpts...)
		if treeSalt {
			// A tree without layers (a directory, the BuildKit
			// frontend, or --fs-salt tree): the salt source is a hash of
			// the tree.
			ss, err := fsprotect.TreeSaltSource(ctx, tree.Entries(nil))
			if err != nil {
				j.err = err
				return
			}
			fsOpts = append(fsOpts, fsprotect.WithSaltSource(ss))
		}
		switch {
		case pre != nil && o.wantDict():
			// The dictionary the pre-encryptor compressed with.
			t0 := time.Now()
			d, err := pre.dictionary()
			if err != nil {
				j.err = err
				return
			}
			j.dictSecs = time.Since(t0).Seconds()
			fsOpts = append(fsOpts, fsprotect.WithDictionary(d))
		case o.wantDict():
			t0 := time.Now()
			d, err := fsprotect.TrainDictionary(ctx, tree.Entries(nil))
			if err != nil {
				j.err = err
				return
			}
			j.dictSecs = time.Since(t0).Seconds()
			fsOpts = append(fsOpts, fsprotect.WithDictionary(d))
		}
		if cache := pre.wait(); cache != nil {
			fsOpts = append(fsOpts, fsprotect.WithContentCache(cache))
		}
		total := tree.TotalSize()
		o.progress(Progress{Stage: "encrypt", Total: total})
		// The image as slices: the pre-encrypted ciphertext is referenced,
		// not copied into a fresh buffer (for 100 MB of content, allocating
		// and page-faulting that buffer cost about as much as encrypting).
		progress := func(done, total int64) { o.progress(Progress{Stage: "encrypt", Done: done, Total: total}) }
		j.parts, j.sum, j.err = fsprotect.PackTreeParts(ctx, tree.Entries(progress), *o.fsKey, fsOpts...)
		pre.release() // drops the contents the image does not use
	}()
	return j
}

func (j *packJob) wait(rep *Report) (sconeimage.Blob, *fsprotect.Summary, error) {
	<-j.done
	j.cancel()
	rep.Timings["encrypt"] += j.secs - j.dictSecs
	if j.dictSecs > 0 {
		rep.Timings["dictionary"] += j.dictSecs
	}
	return sconeimage.NewBlob(j.parts...), j.sum, j.err
}

// analyse checks the entrypoint (refused when unsupported, unless forced)
// and resolves the image's user to numeric ids.
func analyse(ctx context.Context, tree *rootfs.Tree, entry link.Entry, user string, o *options, rep *Report) (*link.Report, uint32, uint32, error) {
	t0 := time.Now()
	o.progress(Progress{Stage: "analyse"})
	ar, err := link.Analyze(ctx, tree, entry)
	rep.Timings["analyse"] += time.Since(t0).Seconds()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("analysing entrypoint %q: %w", entry.Argv[0], err)
	}
	rep.Compatibility = ar
	rep.Rewrite.annotate(ar)
	if aerr := ar.Err(); aerr != nil {
		if !o.force {
			return nil, 0, 0, aerr
		}
		rep.Forced = true
		o.log.Warn("converting an unsupported entrypoint because of --force", "error", aerr)
	}
	uid, gid, err := resolveUser(tree, user)
	if err != nil {
		return nil, 0, 0, err
	}
	rep.Entrypoint = ar.Entry.Program
	rep.UID, rep.GID = uid, gid
	return ar, uid, gid, nil
}

// enclaveConfig is the measured config.
func enclaveConfig(entry link.Entry, ar *link.Report, uid, gid uint32, fsRoot [32]byte, o *options) (*enclave.Config, error) {
	ec := &enclave.Config{
		Argv:          entry.Argv,
		Env:           entry.Env,
		HostEnv:       sortedUnique(o.hostEnv),
		HostArgs:      o.hostArgs,
		Cwd:           entry.WorkingDir,
		UID:           uid,
		GID:           gid,
		HeapSize:      o.heap,
		StackSize:     o.stack,
		MaxThreads:    o.threads,
		FSRoot:        fsRoot,
		ConsoleShield: o.console,
		Transport:     o.transport,
		Scheduler:     o.scheduler,
		Entrypoint:    ar.Entry.Program,
		Volumes:       sortedUnique(o.volumes),
	}
	if len(o.pvolumes) > 0 {
		ec.ProtectedVolumes = sortedUnique(o.pvolumes)
	}
	if o.exitCycles != nil {
		ec.ExitCycles = *o.exitCycles
	}
	applyTLS(ec, o)
	if o.cas != nil {
		ec.CASAddress, ec.CASID, ec.CASPolicy = o.cas.addr, o.cas.id, o.cas.policy
	}
	if ar.Entrypoint != nil && ar.Entrypoint.LoadPlan != nil {
		ec.Interpreter = ar.Entrypoint.LoadPlan.Interpreter
		for _, l := range ar.Entrypoint.LoadPlan.Libraries {
			if l.Path != "" {
				ec.Libraries = append(ec.Libraries, l.Path)
			}
		}
	}
	ec.ApplyDefaults()
	if err := ec.Validate(); err != nil {
		return nil, fmt.Errorf("building enclave config: %w", err)
	}
	return ec, nil
}

// enclaveIdentity is the measured and signed enclave.
type enclaveIdentity struct {
	configBin, sigStruct []byte
	parsed               *enclave.SigStruct
}

// identity encodes the config, measures the enclave (runtime + config) and
// signs its SIGSTRUCT (or leaves it unsigned for detached signing).
func identity(ctx context.Context, ec *enclave.Config, o *options, rep *Report) (*enclaveIdentity, error) {
	configBin, err := ec.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encoding enclave config: %w", err)
	}
	t0 := time.Now()
	o.progress(Progress{Stage: "measure"})
	m, err := enclave.Measure(bytes.NewReader(o.runtimeRun), configBin)
	rep.Timings["measure"] += time.Since(t0).Seconds()
	if err != nil {
		return nil, err
	}
	t0 = time.Now()
	o.progress(Progress{Stage: "sign"})
	ss, err := enclave.NewSigStruct(m.MRENCLAVE, enclave.WithDate(*o.date), enclave.WithDebug(o.debug),
		enclave.WithISVProdID(o.prodID), enclave.WithISVSVN(o.svn))
	if err != nil {
		return nil, err
	}
	var sigstruct []byte
	if o.unsigned {
		sigstruct, err = ss.MarshalBinary()
	} else {
		sigstruct, err = ss.Sign(ctx, o.signer)
	}
	rep.Timings["sign"] += time.Since(t0).Seconds()
	if err != nil {
		return nil, fmt.Errorf("signing enclave: %w", err)
	}
	signed, err := enclave.ParseSigStruct(sigstruct)
	if err != nil {
		return nil, fmt.Errorf("reading back the SIGSTRUCT: %w", err)
	}
	rep.MRENCLAVE = hex.EncodeToString(m.MRENCLAVE[:])
	if !o.unsigned {
		mrsigner := signed.MRSIGNER()
		rep.MRSIGNER = hex.EncodeToString(mrsigner[:])
	}
	return &enclaveIdentity{configBin: configBin, sigStruct: sigstruct, parsed: signed}, nil
}

// imageConfig is the image config of the converted image: the runtime is
// the entrypoint; what the application needs is in the measured config.
// It records what of the source config the output cannot honour in
// rep.Dropped.
func imageConfig(src *v1.ConfigFile, ec *enclave.Config, rep *Report, date time.Time) *v1.ConfigFile {
	c := src.Config
	labels := map[string]string{}
	for k, v := range c.Labels {
		labels[k] = v
	}
	labels[sconeimage.LabelMRENCLAVE] = rep.MRENCLAVE
	if rep.MRSIGNER != "" {
		labels[sconeimage.LabelMRSIGNER] = rep.MRSIGNER
	}
	labels[sconeimage.LabelFSRoot] = rep.FSRoot
	labels[sconeimage.LabelVersion] = rep.Version
	if rep.SourceDigest != "" {
		labels[sconeimage.LabelSourceDigest] = rep.SourceDigest
	}
	user := ""
	if ec.UID != 0 || ec.GID != 0 {
		user = fmt.Sprintf("%d:%d", ec.UID, ec.GID)
	}
	rep.Dropped = droppedConfig(src)
	return &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      v1.Time{Time: date},
		Author:       src.Author,
		Config: v1.Config{
			Entrypoint:   []string{sconeimage.RunPath},
			Env:          []string{"SCONE_MODE=sim"},
			WorkingDir:   "/",
			User:         user,
			ExposedPorts: c.ExposedPorts,
			Volumes:      c.Volumes,
			StopSignal:   c.StopSignal,
			Labels:       labels,
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
}

// droppedConfig lists source config fields the output cannot honour.
func droppedConfig(src *v1.ConfigFile) []string {
	var d []string
	if src.Config.Healthcheck != nil {
		d = append(d, "Healthcheck: a health check runs outside the enclave and cannot see its files; probe the service instead")
	}
	if len(src.Config.OnBuild) > 0 {
		d = append(d, "OnBuild: build triggers do not apply to a converted image")
	}
	if len(src.Config.Shell) > 0 {
		d = append(d, "Shell: there is no shell outside the enclave")
	}
	return d
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// withDefaultPath adds the PATH container engines set when an image has none.
func withDefaultPath(env []string) []string {
	out := append([]string{}, env...)
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			return out
		}
	}
	return append(out, defaultPath)
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	m := map[string]bool{}
	var out []string
	for _, v := range s {
		if !m[v] {
			m[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// progressOnce serializes a progress callback (the stages report from
// several goroutines; WithProgress promises one call at a time).
func progressOnce(f func(Progress)) func(Progress) {
	var mu sync.Mutex
	return func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		f(p)
	}
}
