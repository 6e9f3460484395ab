package convert

import (
	"archive/tar"
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
	"github.com/scone-build/scone-build/pkg/version"
)

// Paths inside the output image (docs/contracts.md).
const (
	RunPath       = "/scone/bin/scone-run"
	HostPath      = "/scone/bin/scone-host"
	FSImagePath   = "/scone/enclave/fs.img"
	ConfigPath    = "/scone/enclave/config.bin"
	SigStructPath = "/scone/enclave/sigstruct.bin"
)

// Labels (image config) and annotations (manifest) on every output image.
const (
	LabelMRENCLAVE    = "io.scone.mrenclave"
	LabelMRSIGNER     = "io.scone.mrsigner"
	LabelFSRoot       = "io.scone.fs-root"
	LabelSourceDigest = "io.scone.source-digest"
	LabelVersion      = "io.scone.version"
)

// File is one file of the output root file system.
type File struct {
	Path string // absolute
	Mode int64
	Data []byte
}

// Output is what ConvertTree produces.
type Output struct {
	// RuntimeFiles go into the runtime base layer.
	RuntimeFiles []File
	// EnclaveFiles go into the enclave layer.
	EnclaveFiles []File
	// Config is the output image config.
	Config *v1.ConfigFile
	// Enclave is the measured config (also encoded in EnclaveFiles).
	Enclave   *enclave.Config
	SigStruct *enclave.SigStruct
	Report    *Report

	// fsParts is the FS image (FSImagePath, whose Data is then nil) as
	// slices, for Convert.
	fsParts [][]byte
}

func joinParts(parts [][]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// ConvertTree converts a flattened root file system whose image config is
// src. It is the filesystem-level core shared by the CLI and the BuildKit
// frontend.
func ConvertTree(ctx context.Context, tree *rootfs.Tree, src *v1.ConfigFile, opts ...Option) (*Output, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	return convertTree(ctx, tree, src, o)
}

func convertTree(ctx context.Context, tree *rootfs.Tree, src *v1.ConfigFile, o *options) (*Output, error) {
	rep := &Report{Version: version.String(), Source: o.sourceName, Timings: map[string]float64{}, Notes: tree.Notes()}
	stage := func(name string, start time.Time) { rep.Timings[name] += time.Since(start).Seconds() }
	if src == nil {
		src = &v1.ConfigFile{}
	}
	cfg := src.Config
	argv := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	if len(argv) == 0 || argv[0] == "" {
		return nil, ErrNoEntrypoint
	}
	rep.Argv = argv
	env := withDefaultPath(cfg.Env)

	// Progress events come from two goroutines below (analysis and packing
	// overlap); WithProgress promises one call at a time.
	var progMu sync.Mutex
	userProgress := o.progress
	progress := func(p Progress) {
		progMu.Lock()
		defer progMu.Unlock()
		userProgress(p)
	}

	// Protected FS image, packed straight from the tree (no tar round
	// trip), with the contents pre-encrypted during flattening if any. It
	// does not depend on the analysis: both run at once (the analysis is
	// single-threaded, packing pre-encrypted contents mostly too).
	packCtx, cancelPack := context.WithCancel(ctx)
	defer cancelPack()
	var fsParts [][]byte
	var sum *fsprotect.Summary
	var packErr error
	var packSecs float64
	packDone := make(chan struct{})
	go func() {
		defer close(packDone)
		t0 := time.Now()
		defer func() { packSecs = time.Since(t0).Seconds() }()
		fsOpts := fsOptions(o)
		if !o.fsSaltSet {
			// A tree without layers (a directory, the BuildKit
			// frontend): the salt source is a hash of the tree.
			ss, err := fsprotect.TreeSaltSource(packCtx, &treeSource{tree: tree})
			if err != nil {
				packErr = err
				return
			}
			fsOpts = append(fsOpts, fsprotect.WithSaltSource(ss))
		}
		if cache := o.preEnc.wait(); cache != nil {
			fsOpts = append(fsOpts, fsprotect.WithContentCache(cache))
		}
		total := tree.TotalSize()
		progress(Progress{Stage: "encrypt", Total: total})
		// The image as slices: the pre-encrypted ciphertext is referenced,
		// not copied into a fresh buffer (for 100 MB of content, allocating
		// and page-faulting that buffer cost about as much as encrypting).
		fsParts, sum, packErr = fsprotect.PackTreeParts(packCtx, &treeSource{tree: tree, total: total, f: progress}, *o.fsKey, fsOpts...)
		o.preEnc.release() // drops the contents the image does not use
	}()
	waitPack := func() {
		<-packDone
		rep.Timings["encrypt"] += packSecs
	}

	// Compatibility analysis: refuse an unsupported entrypoint unless forced.
	t0 := time.Now()
	progress(Progress{Stage: "analyse"})
	ar, err := link.Analyze(ctx, tree, link.Entry{Argv: argv, Env: env, WorkingDir: cfg.WorkingDir})
	stage("analyse", t0)
	if err == nil {
		rep.Compatibility = ar
		if aerr := ar.Err(); aerr != nil {
			if !o.force {
				err = aerr
			} else {
				rep.Forced = true
				o.log.Warn("converting an unsupported entrypoint because of --force", "error", aerr)
			}
		}
	} else {
		err = fmt.Errorf("analysing entrypoint %q: %w", argv[0], err)
	}
	var uid, gid uint32
	if err == nil {
		uid, gid, err = resolveUser(tree, cfg.User)
	}
	if err != nil {
		cancelPack()
		<-packDone
		return nil, err
	}
	rep.Entrypoint = ar.Entry.Program
	rep.UID, rep.GID = uid, gid

	waitPack()
	if packErr != nil {
		return nil, fmt.Errorf("building protected FS image: %w", packErr)
	}
	rep.FSRoot = hex.EncodeToString(sum.Root[:])
	rep.Files, rep.Dirs, rep.Symlinks = sum.Files, sum.Dirs, sum.Symlinks
	rep.BytesIn, rep.FSImageBytes, rep.fsCached = sum.BytesIn, sum.BytesOut, sum.BytesCached
	rep.Skipped = sum.Skipped

	// Measured enclave config.
	ec := &enclave.Config{
		Argv:          argv,
		Env:           env,
		HostEnv:       sortedUnique(o.hostEnv),
		HostArgs:      o.hostArgs,
		Cwd:           cfg.WorkingDir,
		UID:           uid,
		GID:           gid,
		HeapSize:      o.heap,
		StackSize:     o.stack,
		MaxThreads:    o.threads,
		FSRoot:        sum.Root,
		ConsoleShield: o.console,
		Transport:     o.transport,
		Entrypoint:    ar.Entry.Program,
		Volumes:       sortedUnique(o.volumes),
	}
	if o.exitCycles != nil {
		ec.ExitCycles = *o.exitCycles
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
	configBin, err := ec.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encoding enclave config: %w", err)
	}

	// Measurement and signature.
	t0 = time.Now()
	progress(Progress{Stage: "measure"})
	m, err := enclave.Measure(bytes.NewReader(o.runtimeRun), configBin)
	stage("measure", t0)
	if err != nil {
		return nil, err
	}
	t0 = time.Now()
	progress(Progress{Stage: "sign"})
	ssOpts := []enclave.SigStructOption{enclave.WithDate(*o.date), enclave.WithDebug(o.debug), enclave.WithISVProdID(o.prodID), enclave.WithISVSVN(o.svn)}
	ss, err := enclave.NewSigStruct(m.MRENCLAVE, ssOpts...)
	if err != nil {
		return nil, err
	}
	var sigstruct []byte
	if o.unsigned {
		sigstruct, err = ss.MarshalBinary()
	} else {
		sigstruct, err = ss.Sign(ctx, o.signer)
	}
	stage("sign", t0)
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

	out := &Output{
		RuntimeFiles: runtimeFiles(o),
		EnclaveFiles: []File{
			{Path: FSImagePath, Mode: 0o444},
			{Path: ConfigPath, Mode: 0o444, Data: configBin},
			{Path: SigStructPath, Mode: 0o444, Data: sigstruct},
		},
		Enclave:   ec,
		SigStruct: signed,
		Report:    rep,
	}
	if o.fsParts {
		out.fsParts = fsParts // assemble writes them into the layer as they are
	} else {
		out.EnclaveFiles[0].Data = joinParts(fsParts)
	}
	out.Config = outputConfig(src, ec, rep, *o.date)
	rep.Dropped = droppedConfig(src)
	return out, nil
}

// runtimeFiles are the files of the runtime base layer.
func runtimeFiles(o *options) []File {
	return []File{
		{Path: RunPath, Mode: 0o755, Data: o.runtimeRun},
		{Path: HostPath, Mode: 0o755, Data: o.runtimeHst},
	}
}

// outputConfig is the image config of the converted image: the runtime is
// the entrypoint; what the application needs is in the measured config.
func outputConfig(src *v1.ConfigFile, ec *enclave.Config, rep *Report, date time.Time) *v1.ConfigFile {
	c := src.Config
	labels := map[string]string{}
	for k, v := range c.Labels {
		labels[k] = v
	}
	labels[LabelMRENCLAVE] = rep.MRENCLAVE
	if rep.MRSIGNER != "" {
		labels[LabelMRSIGNER] = rep.MRSIGNER
	}
	labels[LabelFSRoot] = rep.FSRoot
	labels[LabelVersion] = rep.Version
	if rep.SourceDigest != "" {
		labels[LabelSourceDigest] = rep.SourceDigest
	}
	user := ""
	if ec.UID != 0 || ec.GID != 0 {
		user = fmt.Sprintf("%d:%d", ec.UID, ec.GID)
	}
	return &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      v1.Time{Time: date},
		Author:       src.Author,
		Config: v1.Config{
			Entrypoint:   []string{RunPath},
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

// treeSource presents a tree to fsprotect.PackTree exactly as Tree.WriteTar
// writes it and fsprotect.Pack reads that tar stream back (same order, hard
// links, mtime rounding), so that the image is the one Pack would make.
type treeSource struct {
	tree  *rootfs.Tree
	total int64
	f     func(Progress) // nil: no progress events
}

func (s *treeSource) Entries(yield func(*fsprotect.TreeEntry) error) error {
	var done, last int64
	var te fsprotect.TreeEntry
	err := s.tree.Walk(func(name string, e *rootfs.Entry, linkTo string) error {
		te = fsprotect.TreeEntry{
			Path: name, Type: e.Type, Mode: e.Mode, UID: e.UID, GID: e.GID, ModTime: e.ModTime,
			Linkname: e.Linkname, Xattrs: e.Xattrs, Devmajor: e.Devmajor, Devminor: e.Devminor,
		}
		if len(e.Xattrs) == 0 {
			// WriteTar leaves the tar format to archive/tar, which then
			// rounds mtimes to seconds; with xattrs it writes PAX, exact.
			te.ModTime = e.ModTime.Round(time.Second)
		}
		switch {
		case linkTo != "":
			te.Type, te.Linkname = tar.TypeLink, linkTo
		case e.Type == tar.TypeReg:
			te.Content = e.Data()
			done += int64(len(te.Content))
		}
		if done-last >= 4<<20 && s.f != nil {
			last = done
			s.f(Progress{Stage: "encrypt", Done: done, Total: s.total})
		}
		return yield(&te)
	})
	if err == nil && s.f != nil {
		s.f(Progress{Stage: "encrypt", Done: s.total, Total: s.total})
	}
	return err
}
