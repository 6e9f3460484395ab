package convert

import (
	"errors"
	"log/slog"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fsprotect"
	"github.com/scone-build/scone-build/pkg/runtimebin"
	"github.com/scone-build/scone-build/pkg/sconeimage"
)

// Progress is one progress event.
type Progress struct {
	// Stage is one of "flatten", "analyse", "encrypt", "measure", "sign".
	Stage string
	// Done and Total count bytes (Total 0 when unknown).
	Done, Total int64
}

// Option configures a conversion.
type Option func(*options)

type options struct {
	signer     enclave.Signer
	fsKey      *fsprotect.Key
	heap       uint64
	stack      uint64
	threads    uint32
	console    bool
	hostEnv    []string
	hostArgs   bool
	transport  enclave.Transport
	scheduler  enclave.Scheduler
	exitCycles *uint64
	volumes    []string
	pvolumes   []string
	debug      bool
	prodID     uint16
	svn        uint16
	date       *time.Time
	force      bool
	log        *slog.Logger
	progress   func(Progress)
	runtimeRun []byte
	runtimeHst []byte
	// runtimeLayer: the prebuilt layer of the embedded binaries, or nil
	runtimeLayer v1.Layer
	fsChunk      int
	fsComp       fsprotect.Compression
	fsNoDict     bool
	fsSalt       []byte // salt source of the FS image (when fsSaltSet)
	fsSaltSet    bool
	fsTreeSalt   bool // Convert: salt from the flattened tree, not the layers
	unsigned     bool
	cas          *casTarget
	noRewrite    bool
	tls          tlsOptions // tls.go
}

// WithRewrite turns the rewrite of the programs' system call sites for the
// runtime's fast path (pkg/rewrite, docs/rewrite.md) on (the default) or
// off.
func WithRewrite(on bool) Option { return func(o *options) { o.noRewrite = !on } }

// WithSigner sets the enclave signer (a key file or an external command). Required.
func WithSigner(s enclave.Signer) Option { return func(o *options) { o.signer = s } }

// WithFSKey sets the key that protects the file system. Required.
func WithFSKey(k fsprotect.Key) Option { return func(o *options) { o.fsKey = &k } }

// WithHeapSize sets the enclave heap size in bytes.
func WithHeapSize(n uint64) Option { return func(o *options) { o.heap = n } }

// WithStackSize sets the per-thread stack size in bytes.
func WithStackSize(n uint64) Option { return func(o *options) { o.stack = n } }

// WithMaxThreads sets the number of enclave threads.
func WithMaxThreads(n uint32) Option { return func(o *options) { o.threads = n } }

// WithConsoleShield encrypts stdout and stderr into authenticated records.
func WithConsoleShield(on bool) Option { return func(o *options) { o.console = on } }

// WithHostEnv lets the host set these environment variables at run time.
func WithHostEnv(names ...string) Option {
	return func(o *options) { o.hostEnv = append(o.hostEnv, names...) }
}

// WithHostArgs lets the host replace the arguments (argv[1:]) at run time.
func WithHostArgs(on bool) Option { return func(o *options) { o.hostArgs = on } }

// WithTransport selects the syscall transport and the simulated exit cost in
// cycles (sim mode).
func WithTransport(t enclave.Transport, exitCycles uint64) Option {
	return func(o *options) { o.transport = t; o.exitCycles = &exitCycles }
}

// WithScheduler selects how application threads map onto enclave threads
// (enclave.SchedulerMN: user-level threads, docs/runtime.md).
func WithScheduler(s enclave.Scheduler) Option {
	return func(o *options) { o.scheduler = s }
}

// WithVolumes passes these host paths through to the application
// (unprotected; see docs/security.md).
func WithVolumes(paths ...string) Option {
	return func(o *options) { o.volumes = append(o.volumes, paths...) }
}

// WithProtectedVolumes makes these paths protected volumes
// (docs/volume.md): what the application writes there reaches the host
// encrypted and authenticated.
func WithProtectedVolumes(paths ...string) Option {
	return func(o *options) { o.pvolumes = append(o.pvolumes, paths...) }
}

// WithDebug sets the SIGSTRUCT DEBUG attribute (a debug enclave can be
// inspected by the host; never use it in production).
func WithDebug(on bool) Option { return func(o *options) { o.debug = on } }

// WithISV sets ISVPRODID and ISVSVN in the SIGSTRUCT.
func WithISV(prodID, svn uint16) Option { return func(o *options) { o.prodID, o.svn = prodID, svn } }

// WithDate fixes the timestamps (image created time, SIGSTRUCT DATE). The
// default is the Unix epoch; binaries pass SOURCE_DATE_EPOCH here
// (internal/buildenv), the library never reads the environment.
func WithDate(t time.Time) Option { return func(o *options) { o.date = &t } }

// WithForce converts even when the entrypoint is unsupported.
func WithForce(on bool) Option { return func(o *options) { o.force = on } }

// WithLogger sets the logger for debug information.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithProgress receives progress events. It is called from one goroutine at
// a time.
func WithProgress(f func(Progress)) Option { return func(o *options) { o.progress = f } }

// WithRuntime replaces the embedded runtime binaries (tests, development).
func WithRuntime(run, host []byte) Option {
	return func(o *options) { o.runtimeRun, o.runtimeHst = run, host }
}

// WithFSChunkSize overrides the protected FS content chunk size.
func WithFSChunkSize(n int) Option { return func(o *options) { o.fsChunk = n } }

// WithFSCompression sets how the protected FS image stores chunks
// (docs/fsprotect.md, "Per-chunk compression"). Default
// fsprotect.CompressionLZ4: chunks are compressed before they are
// encrypted, a chunk that does not shrink is stored as it is.
// fsprotect.CompressionNone keeps the exposure of an uncompressed image.
func WithFSCompression(c fsprotect.Compression) Option { return func(o *options) { o.fsComp = c } }

// WithFSDictionary sets whether chunks are compressed against a
// dictionary trained from the image's own contents and carried in the FS
// image (docs/fsprotect.md, "Image dictionary"). Default on with
// compression: images about 10% smaller, read as fast, for a training
// pass and no encrypting ahead while the layers are read.
func WithFSDictionary(on bool) Option { return func(o *options) { o.fsNoDict = !on } }

// WithFSSaltSource sets the source of the protected FS image's salt
// (docs/fsprotect.md): bytes that identify the packed tree. Convert uses
// the source image's layers (ImageSaltSource) unless given one; ConvertTree
// and ConvertDir derive it from the tree (fsprotect.TreeSaltSource, a pass
// over the contents) unless given one.
func WithFSSaltSource(src []byte) Option {
	return func(o *options) { o.fsSalt, o.fsSaltSet = append([]byte(nil), src...), true }
}

// WithFSTreeSalt makes Convert derive the FS salt from the flattened tree,
// as ConvertDir and the BuildKit frontend do, instead of from the source
// layers: the FS image (and MRENCLAVE) is then the one ConvertDir makes of
// the same tree, whatever layers carried it. It costs the pre-encryption:
// contents are encrypted only once the tree is known.
func WithFSTreeSalt() Option { return func(o *options) { o.fsTreeSalt = true } }

// WithUnsigned leaves the SIGSTRUCT unsigned, for detached signing: get the
// bytes to sign with `scone-build sign-data`, sign them elsewhere (KMS, HSM)
// and attach the signature with `scone-build attach-signature`.
func WithUnsigned() Option { return func(o *options) { o.unsigned = true } }

// casTarget is what WithCAS measures into the config.
type casTarget struct {
	addr   string
	id     [32]byte
	policy string
}

// WithCAS names the CAS the enclave obtains its secrets from at start-up
// (address HOST:PORT, CAS ID: SHA-256 of its DER public key, policy name;
// docs/cas.md). They are measured: the host cannot redirect the enclave to
// another CAS or policy. The FS key (WithFSKey) must then be the policy's
// fs_key grant.
func WithCAS(addr string, id [32]byte, policy string) Option {
	return func(o *options) { o.cas = &casTarget{addr, id, policy} }
}

// Errors callers act on.
var (
	// ErrNoSigner: no signer key or command was given.
	ErrNoSigner = errors.New("no enclave signer given")
	// ErrNoFSKey: no FS key was given.
	ErrNoFSKey = errors.New("no file-system key given")
	// ErrNoEntrypoint: the image has neither Entrypoint nor Cmd.
	ErrNoEntrypoint = errors.New("image has no entrypoint or cmd")
	// ErrUser: the image's user cannot be resolved to numeric ids.
	ErrUser = errors.New("cannot resolve image user")
)

func makeOptions(opts []Option) (*options, error) {
	o := &options{log: slog.New(slog.DiscardHandler), progress: func(Progress) {}, fsComp: fsprotect.CompressionLZ4}
	for _, f := range opts {
		f(o)
	}
	o.progress = progressOnce(o.progress)
	if o.signer == nil && !o.unsigned {
		return nil, ErrNoSigner
	}
	if o.signer != nil && o.unsigned {
		return nil, errors.New("checking options: a signer and WithUnsigned exclude each other")
	}
	if o.fsKey == nil {
		return nil, ErrNoFSKey
	}
	if o.fsSaltSet && len(o.fsSalt) == 0 {
		return nil, errors.New("checking options: empty FS salt source: give bytes that identify the tree (or no WithFSSaltSource)")
	}
	if o.fsSaltSet && o.fsTreeSalt {
		return nil, errors.New("checking options: WithFSSaltSource and WithFSTreeSalt exclude each other")
	}
	if o.date == nil {
		t := time.Unix(0, 0).UTC()
		o.date = &t
	}
	if o.runtimeRun == nil {
		b, err := runtimebin.Binary(runtimebin.Run)
		if err != nil {
			return nil, err
		}
		h, err := runtimebin.Binary(runtimebin.Host)
		if err != nil {
			return nil, err
		}
		o.runtimeRun, o.runtimeHst = b, h
		// The embedded binaries come with their layer built at build
		// time; without it (a stale or missing one) Build makes it.
		if comp, m, err := runtimebin.Layer(b, h); err == nil {
			if o.runtimeLayer, err = sconeimage.PrebuiltRuntimeLayer(comp, m.Digest, m.DiffID); err != nil {
				return nil, err
			}
		}
	}
	return o, nil
}

// wantDict says whether the FS image gets a dictionary trained from its
// tree.
func (o *options) wantDict() bool { return !o.fsNoDict && o.fsComp != fsprotect.CompressionNone }
